//! What the connector declares about itself in `spec`: its identity, fields and resource types.

use crate::bindings::ConnectorSpec;
use crate::config::config_fields;
use crate::mapping::{COMPONENT_TYPE, PROJECT_TYPE, WORKSPACE_TYPE};

/// The connector's spec. Touches no network.
pub fn connector_spec() -> ConnectorSpec {
    ConnectorSpec {
        id: "hex".to_owned(),
        display_name: "Hex Technologies".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: "Discovers a Hex workspace and its projects (and optionally components, \
                      archived and trashed projects) through the Hex public API: names, \
                      descriptions, owners and creators, status and activity, usage \
                      (impressions and last view), categories, collections and schedules, and a \
                      direct link to each project when a workspace ID is set."
            .to_owned(),
        fields: config_fields(),
        resource_types: [WORKSPACE_TYPE, PROJECT_TYPE, COMPONENT_TYPE]
            .map(str::to_owned)
            .to_vec(),
        base_url_field: Some("base_url".to_owned()),
        bearer_credential_field: Some("api_token".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::FieldKind;

    #[test]
    fn the_spec_names_its_url_and_credential_fields() {
        let spec = connector_spec();
        assert_eq!(spec.id, "hex");
        assert_eq!(spec.display_name, "Hex Technologies");
        assert_eq!(spec.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            spec.resource_types,
            ["hex_workspace", "hex_project", "hex_component"]
        );
        let field = |name: &str| {
            spec.fields
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("no field {name}"))
        };
        let base = field(spec.base_url_field.as_deref().expect("a base URL field"));
        assert_eq!(base.kind, FieldKind::Url);
        assert_eq!(
            base.default_value.as_deref(),
            Some("https://app.hex.tech/api/v1")
        );
        let token = field(
            spec.bearer_credential_field
                .as_deref()
                .expect("a credential field"),
        );
        assert!(token.secret && token.required);
    }
}
