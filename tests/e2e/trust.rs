//! The operator decides, not the component: which values are secret, where requests may go, and
//! which component answers to an id. Values read from the environment are never shown and cannot
//! be smuggled into a setting. Each test first replays the attack as it worked against a host that
//! believed the component's spec (a source file written the way every file was then), then shows
//! the way that works now.

use std::path::Path;

use hex_sim::{Faults, Workspace};
use serde_json::Value;

use crate::redaction::{contains, files_under};
use crate::serve::Daemon;
use crate::stub::{Reply, Stub};
use crate::support::{
    Host, Output, TEST_GUEST, TOKEN, component_source, network_allow, simulator,
    test_guest_exfiltrating_to, test_guest_reporting, test_guest_source, token_env,
};

/// The credential the test guest's sources get through `${GUEST_TOKEN}`.
const GUEST_TOKEN: &str = "tok_trust_secret_4417";

fn guest_env() -> [(&'static str, &'static str); 1] {
    [("GUEST_TOKEN", GUEST_TOKEN)]
}

/// `euno-host --log info COMMAND --source FILE` with `env`.
fn on_source(host: &Host, command: &str, source: &Path, env: &[(&str, &str)]) -> Output {
    host.run_with_env(
        &[
            "--log",
            "info",
            command,
            "--source",
            source.to_str().unwrap(),
        ],
        env,
    )
}

/// `secret` is in no output of `outputs` and no file under the data directory.
fn assert_unseen(host: &Host, secret: &str, outputs: &[&Output]) {
    for output in outputs {
        assert!(!output.stdout.contains(secret), "stdout: {output:#?}");
        assert!(!output.stderr.contains(secret), "stderr: {output:#?}");
    }
    for path in files_under(&host.data_dir()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, secret), "{} has it", path.display());
    }
}

/// The origin of a stub, as a `[network]` entry: `http://127.0.0.1:PORT`.
fn origin_of(stub: &Stub) -> String {
    stub.url().trim_end_matches('/').to_owned()
}

#[test]
fn a_component_that_declares_the_token_non_secret_never_receives_it() {
    let host = Host::new();
    // The attack: the test guest's spec says its bearer credential `api_token` is not secret, and
    // the token is written under [settings] as every source file did.
    let attack = host.source_file(
        "attack.toml",
        &test_guest_source("Guest", "config", "api_token = \"${GUEST_TOKEN}\"", ""),
    );
    let output = on_source(&host, "run", &attack, &guest_env());
    assert!(
        !output.stderr.contains(GUEST_TOKEN),
        "the guest received the token and logged it: {}",
        output.stderr
    );
    assert_eq!(output.code, 2, "{output:#?}");
    assert!(
        output.stderr.contains("settings.api_token") && output.stderr.contains("[secrets]"),
        "{}",
        output.stderr
    );
    assert!(host.resources(None).is_empty(), "the guest ran");

    // A field the spec does mark secret is refused under [settings] too: the operator put a
    // credential where the component reads it.
    let password = host.source_file(
        "password.toml",
        &test_guest_source("Guest", "config", "password = \"${GUEST_TOKEN}\"", ""),
    );
    let refused = on_source(&host, "run", &password, &guest_env());
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(
        refused.stderr.contains("settings.password") && refused.stderr.contains("[secrets]"),
        "{}",
        refused.stderr
    );
    // A secret the connector does not mention is a typo, not a silent no-op.
    let unknown = host.source_file(
        "unknown.toml",
        &test_guest_source(
            "Guest",
            "config",
            "",
            "[secrets]\napi_tokn = \"${GUEST_TOKEN}\"\n",
        ),
    );
    let typo = on_source(&host, "run", &unknown, &guest_env());
    assert_eq!(typo.code, 2, "{typo:#?}");
    assert!(
        typo.stderr.contains("secrets.api_tokn") && typo.stderr.contains("api_token"),
        "{}",
        typo.stderr
    );

    // The operator's way: the token under [secrets]. The guest lists every entry it received.
    let source = host.source_file(
        "guest.toml",
        &test_guest_source(
            "Guest",
            "config",
            "",
            "[secrets]\napi_token = \"${GUEST_TOKEN}\"\npassword = \"${GUEST_TOKEN}\"\n",
        ),
    );
    let ran = on_source(&host, "run", &source, &guest_env());
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert!(ran.stderr.contains("mode=config"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("api_token="), "{}", ran.stderr);
    assert!(!ran.stderr.contains("password="), "{}", ran.stderr);
    let resources = host.resources(None);
    let entries = resources[0]["properties"]["entries"].to_string();
    assert!(entries.contains("mode=config"), "{entries}");
    assert!(
        !entries.contains("api_token") && !entries.contains("password"),
        "{entries}"
    );
    assert_unseen(&host, GUEST_TOKEN, &[&output, &refused, &typo, &ran]);
}

#[test]
fn a_component_cannot_aim_the_bearer_at_its_own_default_origin() {
    // The component's author runs a server; the component's spec marks its credential `password`
    // secret, as it should, but names `exfil_url` as its base-URL field, defaulting to that
    // server, and offers `base_url` as a decoy the operator sets.
    let author = Stub::start(|_| Reply::ok("thanks"));
    let granted = Stub::start(|_| Reply::ok("{}"));
    let host = Host::new();
    let component = host.file("hostile.wasm", &test_guest_exfiltrating_to(author.port()));
    let decoy = format!("base_url = \"{}\"", granted.url());

    let attack = host.source_file(
        "attack.toml",
        &component_source(
            &component,
            "Hostile",
            "exfil",
            &format!("{decoy}\npassword = \"${{GUEST_TOKEN}}\""),
            "",
        ),
    );
    let output = on_source(&host, "run", &attack, &guest_env());
    assert!(
        author.requests().is_empty(),
        "the author's server received {:?}",
        author.requests()
    );
    assert_eq!(output.code, 2, "{output:#?}");

    // The operator's way: the token under [secrets], the decoy's origin granted in [network]. The
    // bearer goes to the granted origin and nowhere else; the author's default is refused.
    let source = host.source_file(
        "hostile.toml",
        &component_source(
            &component,
            "Hostile",
            "exfil",
            &decoy,
            &format!(
                "[secrets]\npassword = \"${{GUEST_TOKEN}}\"\n{}",
                network_allow(&[&origin_of(&granted)])
            ),
        ),
    );
    let ran = on_source(&host, "run", &source, &guest_env());
    assert_eq!(ran.code, 3, "{ran:#?}");
    assert!(
        ran.stderr.contains("refused an outgoing request")
            && ran
                .stderr
                .contains(&format!("127.0.0.1:{}/exfil", author.port())),
        "{}",
        ran.stderr
    );
    let seen = granted.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {GUEST_TOKEN}").as_str())
    );
    assert!(author.requests().is_empty(), "{:?}", author.requests());

    // Without a grant there is no network at all, whatever the spec's base-URL field says.
    let ungranted = host.source_file(
        "ungranted.toml",
        &component_source(
            &component,
            "Hostile",
            "exfil",
            &decoy,
            "[secrets]\npassword = \"${GUEST_TOKEN}\"\n",
        ),
    );
    let denied = on_source(&host, "run", &ungranted, &guest_env());
    assert_eq!(denied.code, 3, "{denied:#?}");
    assert!(
        denied.stderr.contains("may not make requests"),
        "{}",
        denied.stderr
    );
    assert_eq!(granted.requests().len(), 1, "{:?}", granted.requests());
    assert!(author.requests().is_empty(), "{:?}", author.requests());
    assert_unseen(&host, GUEST_TOKEN, &[&output, &ran, &denied]);
}

#[test]
fn egress_is_granted_by_the_source_file_or_at_install_and_nowhere_else() {
    let in_source = Stub::start(|_| Reply::ok("{}"));
    let at_install = Stub::start(|_| Reply::ok("{}"));
    let elsewhere = Stub::start(|_| Reply::ok("{}"));
    let host = Host::new();
    let connectors = host.data_dir().with_file_name("connectors");
    let dir = connectors.to_str().unwrap();
    let installed = host.run(&[
        "--connectors",
        dir,
        "connectors",
        "install",
        TEST_GUEST,
        "--allow-origin",
        &origin_of(&at_install),
    ]);
    assert_eq!(installed.code, 0, "{installed:#?}");
    let list = host.run(&["--connectors", dir, "connectors", "list", "--json"]);
    assert_eq!(list.code, 0, "{list:#?}");
    let list = list.json();
    let guest = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "test-guest")
        .unwrap_or_else(|| panic!("{list:#}"));
    assert_eq!(
        guest["allow"],
        serde_json::json!([format!("http://127.0.0.1:{}", at_install.port())]),
        "{list:#}"
    );
    let table = host.run(&["--connectors", dir, "connectors", "list"]);
    assert!(
        table.stdout.contains(&origin_of(&at_install)),
        "{}",
        table.stdout
    );

    let fetch = |target: &Stub, network: &str| {
        let text = format!(
            "name = \"Guest\"\nconnector = \"test-guest\"\n\n[settings]\nmode = \"egress\"\ntarget_url = \"{}x\"\n\n[secrets]\napi_token = \"${{GUEST_TOKEN}}\"\n{network}",
            target.url()
        );
        let source = host.source_file("guest.toml", &text);
        host.run_with_env(
            &[
                "--connectors",
                dir,
                "--log",
                "info",
                "run",
                "--source",
                source.to_str().unwrap(),
            ],
            &guest_env(),
        )
    };
    let network = network_allow(&[&origin_of(&in_source)]);
    let granted_here = fetch(&in_source, &network);
    assert_eq!(granted_here.code, 0, "{granted_here:#?}");
    let granted_there = fetch(&at_install, &network);
    assert_eq!(granted_there.code, 0, "{granted_there:#?}");
    let refused = fetch(&elsewhere, &network);
    assert_eq!(refused.code, 3, "{refused:#?}");
    assert!(
        refused.stderr.contains("refused an outgoing request")
            && refused.stderr.contains("none of the allowed origins"),
        "{}",
        refused.stderr
    );
    let not_here = fetch(&in_source, "");
    assert_eq!(not_here.code, 3, "{not_here:#?}");
    for stub in [&in_source, &at_install] {
        let seen = stub.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(
            seen[0].header("authorization"),
            Some(format!("Bearer {GUEST_TOKEN}").as_str())
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

/// The digest `spec --json` reports for the bundled connector.
fn bundled_digest(host: &Host) -> String {
    let spec = host.run(&["spec", "--json"]);
    assert_eq!(spec.code, 0, "{spec:#?}");
    spec.json()["digest"].as_str().unwrap().to_owned()
}

/// The `connectors list --json` rows.
fn connector_rows(host: &Host, dir: &Path) -> Vec<Value> {
    let list = host.run(&[
        "--connectors",
        dir.to_str().unwrap(),
        "connectors",
        "list",
        "--json",
    ]);
    assert_eq!(list.code, 0, "{list:#?}");
    list.json().as_array().unwrap().clone()
}

/// The row of `file` in `rows`.
fn row_of<'a>(rows: &'a [Value], file: &Path) -> &'a Value {
    rows.iter()
        .find(|r| r["file"].as_str() == Some(file.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no row for {} in {rows:#?}", file.display()))
}

#[test]
fn a_component_reporting_the_bundled_id_does_not_replace_it() {
    let sim = simulator(Workspace::synthetic(3, 7), Faults::default());
    let host = Host::new();
    let connectors = host.data_dir().with_file_name("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    let impostor = test_guest_reporting("hex");
    let dropped = connectors.join("evil.wasm");
    std::fs::write(&dropped, &impostor).unwrap();
    let named = connectors.join("hex.wasm");
    std::fs::write(&named, &impostor).unwrap();
    let dir = connectors.to_str().unwrap();
    // A Hex source as every one was written.
    let source = host.source_file(
        "hex.toml",
        &format!(
            "name = \"Hex\"\nconnector = \"hex\"\n\n[settings]\napi_token = \"${{HEX_API_TOKEN}}\"\nbase_url = \"{}\"\n",
            sim.base_url()
        ),
    );
    let source = source.to_str().unwrap();
    let output = host.run_with_env(
        &["--connectors", dir, "run", "--source", source],
        &token_env(),
    );
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(
        runs[0]["connector_digest"].as_str(),
        Some(bundled_digest(&host).as_str()),
        "the run did not use the bundled connector: {runs:#}"
    );
    assert_eq!(output.code, 0, "{output:#?}");
    let hex = host.resources(Some("Hex"));
    assert!(hex.iter().any(|r| r["type"] == "hex_workspace"), "{hex:#?}");

    // Both files are shown rejected, with the conflict.
    let rows = connector_rows(&host, &connectors);
    for file in [&dropped, &named] {
        let row = row_of(&rows, file);
        let error = row["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("`hex`") && error.contains("bundled") && error.contains("--replace"),
            "{row:#}"
        );
    }
    let bundled = rows.iter().find(|r| r["file"].is_null()).unwrap();
    assert_eq!(bundled["id"], "hex", "{rows:#?}");
    let table = host.run(&["--connectors", dir, "connectors", "list"]);
    assert!(
        table
            .stdout
            .contains(&format!("REJECTED {}", dropped.display())),
        "{}",
        table.stdout
    );

    // ... and in serve's log.
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let daemon = Daemon::start(&host, &sources, &connectors);
    daemon.wait_for_log("evil.wasm");
    let log = daemon.log();
    assert!(
        log.contains("rejected connector component") && log.contains("bundled"),
        "{log}"
    );
    assert_eq!(daemon.terminate(), 0);

    // Installing it is refused, naming the bundled connector; --replace is the explicit way.
    let impostor_file = host.file("impostor.wasm", &impostor);
    let impostor_file = impostor_file.to_str().unwrap();
    let refused = host.run(&["--connectors", dir, "connectors", "install", impostor_file]);
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(
        refused.stderr.contains("bundled") && refused.stderr.contains("--replace"),
        "{}",
        refused.stderr
    );
    let replaced = host.run(&[
        "--connectors",
        dir,
        "connectors",
        "install",
        impostor_file,
        "--replace",
    ]);
    assert_eq!(replaced.code, 0, "{replaced:#?}");
    let rows = connector_rows(&host, &connectors);
    let row = row_of(&rows, &named);
    assert_eq!(row["id"], "hex", "{rows:#?}");
    assert_eq!(row["replaces_bundled"], true, "{rows:#?}");
    assert!(row["error"].is_null(), "{rows:#?}");
    assert!(row_of(&rows, &dropped)["error"].is_string(), "{rows:#?}");
    // The replacement is a component like any other: its spec is not trusted, so the token
    // written under [settings] is refused rather than handed to it.
    let untrusted = host.run_with_env(
        &["--connectors", dir, "run", "--source", source],
        &token_env(),
    );
    assert_eq!(untrusted.code, 2, "{untrusted:#?}");
    assert!(
        untrusted.stderr.contains("settings.api_token"),
        "{}",
        untrusted.stderr
    );
    assert_unseen(&host, TOKEN, &[&output, &refused, &replaced, &untrusted]);
}

#[test]
fn two_files_reporting_one_id_conflict_and_install_needs_replace() {
    let host = Host::new();
    let connectors = host.data_dir().with_file_name("connectors");
    let dir = connectors.to_str().unwrap();
    let installed = host.run(&["--connectors", dir, "connectors", "install", TEST_GUEST]);
    assert_eq!(installed.code, 0, "{installed:#?}");
    let owner = connectors.join("test-guest.wasm");
    // Another file reporting the installed id, ahead of it in path order.
    let mut copy = std::fs::read(TEST_GUEST).unwrap();
    copy.extend_from_slice(b"\0\x05\x04copy");
    let rival = connectors.join("a-copy.wasm");
    std::fs::write(&rival, &copy).unwrap();
    // Two files reporting one id, neither named after it: the first in path order wins.
    let other = test_guest_reporting("other");
    let (first, second) = (connectors.join("b-one.wasm"), connectors.join("c-two.wasm"));
    std::fs::write(&first, &other).unwrap();
    std::fs::write(&second, &other).unwrap();

    let rows = connector_rows(&host, &connectors);
    let error = row_of(&rows, &rival)["error"]
        .as_str()
        .unwrap_or_else(|| panic!("the copy is not rejected: {rows:#?}"))
        .to_owned();
    assert!(
        error.contains("test-guest")
            && error.contains("a-copy.wasm")
            && error.contains("test-guest.wasm"),
        "{error}"
    );
    assert!(row_of(&rows, &owner)["error"].is_null(), "{rows:#?}");
    assert!(row_of(&rows, &first)["error"].is_null(), "{rows:#?}");
    let error = row_of(&rows, &second)["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("b-one.wasm") && error.contains("c-two.wasm"),
        "{rows:#?}"
    );

    // Installing the id again is refused, naming the file that has it; --replace replaces it.
    let again = host.run(&["--connectors", dir, "connectors", "install", TEST_GUEST]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again.stderr.contains("test-guest.wasm") && again.stderr.contains("--replace"),
        "{}",
        again.stderr
    );
    let replaced = host.run(&[
        "--connectors",
        dir,
        "connectors",
        "install",
        TEST_GUEST,
        "--replace",
    ]);
    assert_eq!(replaced.code, 0, "{replaced:#?}");
    let owner_digest = row_of(&connector_rows(&host, &connectors), &owner)["digest"].clone();
    let source = host.source_file(
        "guest.toml",
        "name = \"Guest\"\nconnector = \"test-guest\"\n",
    );
    let ran = host.run(&[
        "--connectors",
        dir,
        "run",
        "--source",
        source.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:#?}");
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["connector_digest"], owner_digest, "{runs:#}");
}

#[test]
fn values_from_the_environment_are_never_shown_nor_smuggled_into_settings() {
    let host = Host::new();
    let env = [
        ("HEX_API_TOKEN", TOKEN),
        ("HEX_BASE", "hxtp_not_a_url_but_secretish"),
    ];
    // As every Hex source file was written: the token under [settings].
    let old_style = |extra: &str| {
        format!(
            "name = \"Hex\"\n[settings]\napi_token = \"${{HEX_API_TOKEN}}\"\nbase_url = \"http://127.0.0.1:9/api/v1\"\n{extra}\n"
        )
    };
    let new_style = |extra: &str| {
        format!(
            "name = \"Hex\"\n[secrets]\napi_token = \"${{HEX_API_TOKEN}}\"\n[settings]\nbase_url = \"http://127.0.0.1:9/api/v1\"\n{extra}\n"
        )
    };
    let cases = [
        (
            old_style("page_size = \"${HEX_API_TOKEN}\""),
            "settings.page_size",
        ),
        (
            new_style("page_size = \"${HEX_API_TOKEN}\""),
            "settings.page_size",
        ),
        (
            old_style("workspace_id = \"${HEX_API_TOKEN}\""),
            "settings.workspace_id",
        ),
        (
            new_style("workspace_name = \"ws-${HEX_API_TOKEN}\""),
            "settings.workspace_name",
        ),
        (
            new_style("").replace("http://127.0.0.1:9/api/v1", "${HEX_API_TOKEN}"),
            "settings.base_url",
        ),
    ];
    let mut outputs = Vec::new();
    for (text, field) in &cases {
        let source = host.source_file("hex.toml", text);
        for command in ["check", "run"] {
            let output = on_source(&host, command, &source, &env);
            assert!(
                !output.stderr.contains(TOKEN),
                "{command} {field} showed the token: {}",
                output.stderr
            );
            assert_eq!(output.code, 2, "{command} {field}: {output:#?}");
            assert!(
                output.stderr.contains(field) && output.stderr.contains("`api_token`"),
                "{command} {field}: {}",
                output.stderr
            );
            outputs.push(output);
        }
    }
    // A value that is not a secret but came from the environment is not shown either: the
    // reference is, as written.
    for (text, field) in [
        (
            new_style("").replace("http://127.0.0.1:9/api/v1", "${HEX_BASE}"),
            "settings.base_url",
        ),
        (
            new_style("page_size = \"${HEX_BASE}\""),
            "settings.page_size",
        ),
    ] {
        let source = host.source_file("hex.toml", &text);
        let output = on_source(&host, "check", &source, &env);
        assert!(
            !output.stderr.contains("hxtp_"),
            "{field}: the value was shown: {}",
            output.stderr
        );
        assert_eq!(output.code, 2, "{field}: {output:#?}");
        assert!(
            output.stderr.contains(field) && output.stderr.contains("`${"),
            "{field}: {}",
            output.stderr
        );
        outputs.push(output);
    }
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_unseen(&host, TOKEN, &refs);
}

#[test]
fn only_http_and_https_origins_are_accepted() {
    let host = Host::new();
    // A component's URL setting: the host refuses it before the component is even asked.
    let guest_ftp = host.source_file(
        "guest-ftp.toml",
        &test_guest_source("Guest", "ok", "base_url = \"ftp://127.0.0.1:21/\"", ""),
    );
    let output = on_source(&host, "run", &guest_ftp, &[]);
    assert_eq!(output.code, 2, "{output:#?}");
    assert!(
        output.stderr.contains("settings.base_url") && output.stderr.contains("http"),
        "{}",
        output.stderr
    );
    assert!(host.resources(None).is_empty(), "the guest ran");
    // The bundled connector's base URL, refused by the host itself.
    let ftp = host.source_file(
        "ftp.toml",
        "name = \"Hex\"\n[settings]\napi_token = \"${HEX_API_TOKEN}\"\nbase_url = \"ftp://127.0.0.1:21/api/v1\"\n",
    );
    let output = on_source(&host, "check", &ftp, &token_env());
    assert_eq!(output.code, 2, "{output:#?}");
    assert!(
        output.stderr.contains("settings.base_url") && output.stderr.contains("http"),
        "{}",
        output.stderr
    );
    for (grant, field) in [
        ("ftp://127.0.0.1:21", "network.allow[1]"),
        ("https://api.example.com/v1", "network.allow[1]"),
        ("api.example.com", "network.allow[1]"),
    ] {
        let source = host.source_file(
            "guest.toml",
            &test_guest_source(
                "Guest",
                "ok",
                "",
                &network_allow(&["https://api.example.com", grant]),
            ),
        );
        let output = on_source(&host, "run", &source, &[]);
        assert_eq!(output.code, 2, "{grant}: {output:#?}");
        assert!(output.stderr.contains(field), "{grant}: {}", output.stderr);
    }
    let connectors = host.data_dir().with_file_name("connectors");
    let refused = host.run(&[
        "--connectors",
        connectors.to_str().unwrap(),
        "connectors",
        "install",
        TEST_GUEST,
        "--allow-origin",
        "ftp://127.0.0.1:21",
    ]);
    assert_eq!(refused.code, 2, "{refused:#?}");
    assert!(
        refused.stderr.contains("--allow-origin"),
        "{}",
        refused.stderr
    );
    assert!(!connectors.join("test-guest.wasm").exists());
}

#[test]
fn a_token_under_settings_keeps_working_for_the_bundled_connector_with_a_note() {
    let sim = simulator(Workspace::synthetic(2, 5), Faults::default());
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &format!(
            "name = \"Hex\"\n[settings]\napi_token = \"${{HEX_API_TOKEN}}\"\nbase_url = \"{}\"\nrequests_per_minute = 0\n",
            sim.base_url()
        ),
    );
    let mut outputs = Vec::new();
    for command in ["check", "run"] {
        let output = host.run_with_env(
            &[command, "--source", source.to_str().unwrap()],
            &token_env(),
        );
        assert_eq!(output.code, 0, "{command}: {output:#?}");
        let notes: Vec<&str> = output
            .stderr
            .lines()
            .filter(|l| l.contains("settings.api_token: move it to [secrets]"))
            .collect();
        assert_eq!(notes.len(), 1, "{command}: {}", output.stderr);
        outputs.push(output);
    }
    assert!(!host.resources(Some("Hex")).is_empty());
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_unseen(&host, TOKEN, &refs);
}
