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
        "status",
        "completions",
        "man",
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

/// The bash script loads in a real bash and completes subcommands and flags from the CLI's own
/// definition.
#[test]
fn the_bash_completion_script_loads_and_completes() {
    let host = Host::new();
    let output = host.run(&["completions", "bash"]);
    assert_eq!(output.code, 0, "{output:#?}");
    let script = host.source_file("euno-host.bash", &output.stdout);
    // What bash does on `euno-host sta<TAB>` and `euno-host status --<TAB>`.
    let probe = format!(
        "source {}\n\
         complete -p euno-host\n\
         f=$(complete -p euno-host | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
         COMP_WORDS=(euno-host sta); COMP_CWORD=1; COMP_LINE='euno-host sta'; COMP_POINT=13\n\
         $f euno-host sta euno-host; echo \"words: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(euno-host status --); COMP_CWORD=2; COMP_LINE='euno-host status --'\n\
         COMP_POINT=18; $f euno-host -- status; echo \"flags: ${{COMPREPLY[*]}}\"\n",
        script.display()
    );
    let bash = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("running bash");
    let stdout = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success(), "{bash:#?}");
    assert!(stdout.contains(" -F _euno__host euno-host"), "{stdout}");
    let words = stdout.lines().find(|l| l.starts_with("words:")).unwrap();
    assert!(words.contains("status"), "{stdout}");
    assert!(
        !words.contains("resources"),
        "only what starts with sta: {stdout}"
    );
    let flags = stdout.lines().find(|l| l.starts_with("flags:")).unwrap();
    assert!(
        flags.contains("--json") && flags.contains("--sources"),
        "{stdout}"
    );

    for shell in ["zsh", "fish", "powershell"] {
        let output = host.run(&["completions", shell]);
        assert_eq!(output.code, 0, "{shell}: {output:#?}");
        assert!(
            output.stdout.contains("euno-host"),
            "{shell}: {}",
            output.stdout
        );
    }
    let unknown = host.run(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{unknown:#?}");
}

#[test]
fn the_manual_page_documents_every_command() {
    let host = Host::new();
    let output = host.run(&["man"]);
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output.stdout.starts_with(".ie"),
        "roff: {}",
        &output.stdout[..80]
    );
    assert!(
        output.stdout.contains(".TH euno-host 1"),
        "{}",
        output.stdout
    );
    for command in ["run", "status", "resources", "completions"] {
        assert!(
            output.stdout.contains(&format!("euno\\-host\\-{command}")),
            "{command}: {}",
            output.stdout
        );
    }
}

/// `status` needs no flag: the inventory knows every source that ran, its schedule as last
/// applied and its last run; `--sources` adds the files not yet run and flags changed ones.
#[test]
fn status_without_flags_lists_every_source_the_inventory_knows() {
    let host = Host::new();
    let sim = crate::support::simulator(
        hex_sim::Workspace::synthetic(7, 20),
        hex_sim::Faults::default(),
    );
    let scheduled = |name: &str, base: &str, schedule: &str| {
        format!(
            "{}\n[schedule]\n{schedule}\n",
            hex_source(name, base, "max_retries = 0")
        )
    };
    let files = [
        (
            "daily.toml",
            scheduled(
                "Hex daily",
                &sim.base_url(),
                "hourly = { every_hours = 24 }",
            ),
            0,
        ),
        (
            "broken.toml",
            scheduled(
                "Hex broken",
                "http://127.0.0.1:1/api/v1",
                "weekly = { days = [\"mon\"], times = [\"09:00\"] }",
            ),
            3,
        ),
        (
            "manual.toml",
            hex_source("Hex manual", &sim.base_url(), ""),
            0,
        ),
    ];
    for (file_name, text, code) in &files {
        let path = host.source_file(file_name, text);
        let output = host.run_with_env(&["run", "--source", path.to_str().unwrap()], &token_env());
        assert_eq!(output.code, *code, "{file_name}: {output:#?}");
    }

    let text = host.run(&["status"]);
    assert_eq!(text.code, 0, "{text:#?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SOURCE") && lines[0].contains("LAST RUN"),
        "{}",
        text.stdout
    );
    let row = |name: &str| {
        *lines
            .iter()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {}", text.stdout))
    };
    assert!(
        row("Hex daily").contains("every 24 hours"),
        "{}",
        text.stdout
    );
    assert!(row("Hex daily").contains("#1 succeeded"), "{}", text.stdout);
    assert!(
        row("Hex broken").contains("mon at 09:00 (UTC)"),
        "{}",
        text.stdout
    );
    assert!(row("Hex broken").contains("#2 failed"), "{}", text.stdout);
    assert!(
        row("Hex manual").contains("not scheduled"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("  error: "), "{}", text.stdout);

    let json = host.run(&["status", "--json"]).json();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 3, "{json:#}");
    let entry = |name: &str| list.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(entry("Hex daily")["schedule"], "every 24 hours", "{json:#}");
    assert_eq!(entry("Hex daily")["enabled"], true, "{json:#}");
    assert!(entry("Hex daily")["next_run"].is_string(), "{json:#}");
    assert!(entry("Hex daily")["file"].is_null(), "{json:#}");
    assert_eq!(entry("Hex daily")["last_run"]["outcome"], "succeeded");
    assert!(entry("Hex manual")["next_run"].is_null(), "{json:#}");
    assert_eq!(entry("Hex broken")["last_run"]["outcome"], "failed");
    assert_eq!(entry("Hex broken")["last_error"]["run_id"], 2, "{json:#}");

    // A sources directory: one file changed since its run, one never run.
    let dir = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("daily.toml"),
        scheduled(
            "Hex daily",
            &sim.base_url(),
            "hourly = { every_hours = 12 }",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("new.toml"),
        hex_source("Hex new", &sim.base_url(), ""),
    )
    .unwrap();
    let json = host
        .run(&["status", "--json", "--sources", dir.to_str().unwrap()])
        .json();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 4, "{json:#}");
    let entry = |name: &str| list.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(
        entry("Hex daily")["changed_since_last_run"],
        true,
        "{json:#}"
    );
    assert_eq!(
        entry("Hex daily")["schedule"],
        "every 12 hours",
        "the file's: {json:#}"
    );
    assert!(entry("Hex new")["last_run"].is_null(), "{json:#}");
    assert!(entry("Hex new")["file"].is_string(), "{json:#}");
    assert!(entry("Hex manual")["file"].is_null(), "{json:#}");
    let text = host.run(&["status", "--sources", dir.to_str().unwrap()]);
    assert!(
        text.stdout.contains("(changed since its last run)"),
        "{}",
        text.stdout
    );
}
