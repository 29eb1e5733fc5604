//! `spec`: what a connector says about itself.

use serde::Serialize;

use super::args::SpecArgs;
use super::context::Context;
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::{kind_name, spec_text};
use crate::connectors::{self, BUNDLED_ID, ConnectorRef};
use crate::contract::ConnectorSpec;
use crate::sandbox::Connector;

/// `spec`: the bundled connector's, or that of the component `--connector` names.
pub async fn spec(context: &Context, args: SpecArgs) -> Outcome {
    let reference = args
        .connector
        .map_or(ConnectorRef::Id(BUNDLED_ID.to_owned()), ConnectorRef::File);
    let connector =
        match connectors::lookup(&context.runtime, context.connectors.as_deref(), &reference).await
        {
            Ok(connector) => connector,
            Err(e) => return e.into(),
        };
    if args.json {
        show_json(&SpecView::of(&connector))
    } else {
        show(&spec_text(&connector), Outcome::Ok)
    }
}

#[derive(Serialize)]
struct SpecView<'a> {
    id: &'a str,
    display_name: &'a str,
    version: &'a str,
    description: &'a str,
    digest: &'a str,
    resource_types: &'a [String],
    base_url_field: Option<&'a str>,
    bearer_credential_field: Option<&'a str>,
    fields: Vec<FieldView<'a>>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    label: &'a str,
    description: &'a str,
    kind: &'static str,
    required: bool,
    secret: bool,
    default: Option<&'a str>,
}

impl<'a> SpecView<'a> {
    fn of(connector: &'a Connector) -> Self {
        let spec: &'a ConnectorSpec = &connector.spec;
        Self {
            id: &spec.id,
            display_name: &spec.display_name,
            version: &spec.version,
            description: &spec.description,
            digest: &connector.digest,
            resource_types: &spec.resource_types,
            base_url_field: spec.base_url_field.as_deref(),
            bearer_credential_field: spec.bearer_credential_field.as_deref(),
            fields: spec
                .fields
                .iter()
                .map(|f| FieldView {
                    name: &f.name,
                    label: &f.label,
                    description: &f.description,
                    kind: kind_name(f.kind),
                    required: f.required,
                    secret: f.secret,
                    default: f.default_value.as_deref(),
                })
                .collect(),
        }
    }
}
