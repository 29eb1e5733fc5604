//! `spec`: what a connector says about itself.

use serde::Serialize;

use super::args::SpecArgs;
use super::context::Context;
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::{kind_name, spec_text};
use crate::connectors::{self, BUNDLED_ID, ConnectorRef};
use crate::contract::{ConnectorSpec, CredentialScheme, FieldKind, SettingValue};
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
    /// Kept for scripts written against contract 0.1: the bearer scheme's secret.
    bearer_credential_field: Option<&'a str>,
    credential: Option<serde_json::Value>,
    external_namespaces: &'a [String],
    contract: &'static str,
    fields: Vec<FieldView<'a>>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    label: &'a str,
    description: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<&'a [String]>,
    required: bool,
    secret: bool,
    default: Option<serde_json::Value>,
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
            bearer_credential_field: match &spec.credential {
                Some(CredentialScheme::Bearer(name)) => Some(name.as_str()),
                _ => None,
            },
            credential: spec.credential.as_ref().map(credential_json),
            external_namespaces: &spec.external_namespaces,
            contract: connector.contract_version().as_str(),
            fields: spec
                .fields
                .iter()
                .map(|f| FieldView {
                    name: &f.name,
                    label: &f.label,
                    description: &f.description,
                    kind: kind_name(&f.kind),
                    choices: match &f.kind {
                        FieldKind::Choice(choices) => Some(choices.as_slice()),
                        _ => None,
                    },
                    required: f.required,
                    secret: f.secret,
                    default: f.default_value.as_ref().map(setting_json),
                })
                .collect(),
        }
    }
}

/// A credential scheme as `spec --json` shows it: `{"scheme": "header", "header": …}`.
fn credential_json(scheme: &CredentialScheme) -> serde_json::Value {
    match scheme {
        CredentialScheme::Bearer(secret) => {
            serde_json::json!({ "scheme": "bearer", "secret": secret })
        }
        CredentialScheme::Header {
            header,
            prefix,
            secret,
        } => serde_json::json!({
            "scheme": "header", "header": header, "prefix": prefix, "secret": secret
        }),
        CredentialScheme::Basic { username, password } => {
            serde_json::json!({ "scheme": "basic", "username": username, "password": password })
        }
        CredentialScheme::Query { parameter, secret } => {
            serde_json::json!({ "scheme": "query", "parameter": parameter, "secret": secret })
        }
    }
}

/// A setting's value as JSON: text, number, boolean or a list of strings.
fn setting_json(value: &SettingValue) -> serde_json::Value {
    match value {
        SettingValue::Text(text) => text.as_str().into(),
        SettingValue::Integer(i) => (*i).into(),
        SettingValue::Boolean(b) => (*b).into(),
        SettingValue::TextList(items) => items.as_slice().into(),
    }
}
