//! The command line as a user meets it: `spec`, bad source files, exit codes.

use crate::support::{Host, TEST_GUEST, hex_source, token_env};

#[test]
fn spec_describes_the_product_page_fields() {
    let host = Host::new();
    let output = host.run(&["spec", "--json"]);
    assert_eq!(output.code, 0, "{output:#?}");
    let spec = output.json();
    assert_eq!(spec["id"], "hex");
    assert_eq!(spec["base_url_field"], "base_url");
    assert_eq!(spec["bearer_credential_field"], "api_token");
    let fields = spec["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no field {name} in {spec:#}"))
    };
    assert_eq!(field("api_token")["required"], true);
    assert_eq!(field("api_token")["secret"], true);
    assert_eq!(field("base_url")["default"], "https://app.hex.tech/api/v1");
    assert_eq!(field("workspace_id")["required"], false);
    assert_eq!(field("workspace_name")["default"], "hex_workspace");
    let types: Vec<&str> = spec["resource_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"hex_workspace") && types.contains(&"hex_project"),
        "{types:?}"
    );

    let text = host.run(&["spec"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("API Token") && text.stdout.contains("secret"),
        "{}",
        text.stdout
    );
}

#[test]
fn spec_of_another_component_comes_from_that_component() {
    let host = Host::new();
    let output = host.run(&["spec", "--connector", TEST_GUEST, "--json"]);
    assert_eq!(output.code, 0, "{output:#?}");
    assert_eq!(output.json()["id"], "test-guest");
}

#[test]
fn a_file_that_is_not_a_component_is_a_configuration_error() {
    let host = Host::new();
    let bogus = host.source_file("bogus.wasm", "not wasm");
    let output = host.run(&["spec", "--connector", bogus.to_str().unwrap()]);
    assert_eq!(output.code, 2, "{output:#?}");
    assert!(output.stderr.contains("bogus.wasm"), "{}", output.stderr);
}

#[test]
fn source_file_errors_name_the_file_and_the_field_and_exit_2() {
    let host = Host::new();
    let cases = [
        (
            "unknown-key.toml",
            format!(
                "{}colour = \"red\"\n",
                hex_source("S", "http://127.0.0.1:1/api/v1", "")
            ),
            "settings.colour",
        ),
        (
            "no-token.toml",
            "name = \"S\"\n[settings]\nbase_url = \"http://127.0.0.1:1/api/v1\"\n".to_owned(),
            "secrets.api_token",
        ),
        (
            "bad-url.toml",
            "name = \"S\"\n[settings]\napi_token = \"x\"\nbase_url = \"not a url\"\n".to_owned(),
            "settings.base_url",
        ),
        (
            "top-level.toml",
            "name = \"S\"\nschedul = 3\n".to_owned(),
            "schedul",
        ),
        (
            "bad-page.toml",
            hex_source("S", "http://127.0.0.1:1/api/v1", "page_size = 500"),
            "page_size",
        ),
    ];
    for (file_name, text, field) in cases {
        let path = host.source_file(file_name, &text);
        let output = host.run_with_env(&["run", "--source", path.to_str().unwrap()], &token_env());
        assert_eq!(output.code, 2, "{file_name}: {output:#?}");
        assert!(
            output.stderr.contains(file_name) || output.stderr.contains(field),
            "{file_name}: {}",
            output.stderr
        );
        assert!(
            output.stderr.contains(field),
            "{file_name}: {}",
            output.stderr
        );
        assert_eq!(
            output.stderr.trim().lines().count(),
            1,
            "one line: {}",
            output.stderr
        );
    }
}

#[test]
fn every_command_has_help() {
    let host = Host::new();
    for command in [
        "demo",
        "spec",
        "check",
        "run",
        "resources",
        "runs",
        "sources",
    ] {
        let output = host.run(&[command, "--help"]);
        assert_eq!(output.code, 0, "{command}: {output:#?}");
        assert!(
            output.stdout.contains("Usage"),
            "{command}: {}",
            output.stdout
        );
    }
}
