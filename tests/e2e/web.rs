//! The Sources page and its JSON API (`serve --http`): every route over real HTTP against the
//! real daemon, the simulator behind it; access control, CSRF, limits and headers; the token
//! never in any response; and one real headless Chromium adding a source through the form.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use hex_sim::{Faults, Workspace};
use serde_json::{Value, json};

use crate::serve::wait_until;
use crate::support::{Host, TOKEN, simulator};

/// The admin token of the tests that set one.
const ADMIN: &str = "admin-token-for-the-e2e-tests-0123";

/// A running `serve --http 127.0.0.1:0`.
struct Server {
    child: Child,
    addr: String,
    log: PathBuf,
    sources: PathBuf,
}

impl Server {
    fn start(host: &Host, extra: &[&str]) -> Self {
        Self::start_at(host, "127.0.0.1:0", extra).expect("serve --http started")
    }

    /// Starts it; `Err` with its stderr when it exits instead of printing the page's URL.
    fn start_at(host: &Host, addr: &str, extra: &[&str]) -> Result<Self, (i32, String)> {
        Self::start_with(host, addr, extra, true, &[])
    }

    /// Starts it, with a sources directory or not (a PostgreSQL inventory needs none), and
    /// `env`.
    fn start_with(
        host: &Host,
        addr: &str,
        extra: &[&str],
        with_sources: bool,
        env: &[(&str, &str)],
    ) -> Result<Self, (i32, String)> {
        std::fs::create_dir_all(host.data_dir()).unwrap();
        let sources = host.data_dir().with_file_name("sources");
        let log = host.data_dir().with_file_name("web.log");
        let mut command = host.command();
        command.args([
            "--log",
            "info",
            "serve",
            "--poll-ms",
            "100",
            "--settle-ms",
            "100",
        ]);
        if with_sources {
            command.arg("--sources").arg(&sources);
        }
        let mut child = command
            .args(["--http", addr])
            .env_remove("EUNO_SECRET_KEY")
            .envs(env.iter().copied())
            .args(extra)
            .env_remove("EUNO_ADMIN_TOKEN")
            .env_remove("EUNO_HTTP")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting euno-host serve --http");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(url) = line.trim().strip_prefix("The Sources page: http://") else {
            let code = child.wait().unwrap().code().unwrap_or(-1);
            return Err((code, std::fs::read_to_string(&log).unwrap()));
        };
        Ok(Self {
            child,
            addr: url.trim_end_matches('/').to_owned(),
            log,
            sources,
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One request; `headers` besides `Host`, `Connection` and `Content-Length`.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            head += &format!("Host: {}\r\n", self.addr);
        }
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        head += "\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        // A server refusing an oversized body may close before reading it all.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Reply::parse(&raw)
    }

    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    fn json(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.request(
            method,
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Self {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    fn fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out += &tail[..size];
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// The source the tests add, on the simulator at `base_url`.
fn hex_body(name: &str, base_url: &str) -> Value {
    json!({
        "name": name,
        "connector": "hex",
        "settings": {"base_url": base_url, "workspace_name": "web_ws", "requests_per_minute": 0},
        "secrets": {"api_token": TOKEN},
        "schedule": {"enabled": true, "weekly": {"days": ["mon", "thu"], "times": ["09:00"], "timezone": "Europe/Berlin"}},
        "cleanup": {"strategy": "immediate"},
    })
}

/// Every file under `dir`, as text.
fn all_text_under(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                text += &String::from_utf8_lossy(&bytes);
            }
        }
    }
    text
}

fn finished(server: &Server, id: i64) -> Value {
    wait_until(
        &format!("run {id} to finish"),
        || {
            let run = server.get(&format!("/api/v1/runs/{id}")).json();
            (run["outcome"] != "running").then_some(run)
        },
        || server.log(),
    )
}

#[test]
fn every_api_route_adds_checks_runs_pages_and_deletes_a_source_and_never_shows_its_token() {
    let sim = simulator(Workspace::synthetic(7, 12), Faults::default());
    let host = Host::new();
    let server = Server::start(&host, &[]);
    let mut replies = Vec::new();
    let mut keep = |reply: Reply| {
        replies.push(format!("{reply:?}"));
        reply
    };

    let connectors = keep(server.get("/api/v1/connectors")).json();
    let hex = &connectors.as_array().unwrap()[0];
    assert_eq!(hex["id"], "hex");
    let token_field = hex["spec"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "api_token")
        .unwrap()
        .clone();
    assert_eq!(token_field["secret"], true);
    assert_eq!(token_field["required"], true);
    let openapi = keep(server.get("/api/v1/openapi.json")).json();
    assert!(openapi["paths"]["/sources/{name}/runs"].is_object());

    // Bad input: a 4xx naming the field as the CLI does, and nothing stored.
    let mut bad = hex_body("Bad", &sim.base_url());
    bad["settings"]["page_size"] = json!("x");
    let reply = keep(server.json("POST", "/api/v1/sources", &bad));
    assert_eq!(reply.status, 422, "{reply:?}");
    assert_eq!(reply.fields(), ["settings.page_size"]);
    let mut bad = hex_body("Bad", &sim.base_url());
    bad["connector"] = json!("nope");
    let reply = keep(server.json("POST", "/api/v1/sources", &bad));
    assert_eq!(
        (reply.status, reply.fields()),
        (422, vec!["connector".to_owned()])
    );
    let mut bad = hex_body("Bad", &sim.base_url());
    bad["schedule"] = json!({"hourly": {"every_hours": 0}});
    let reply = keep(server.json("POST", "/api/v1/sources", &bad));
    assert_eq!(reply.status, 422, "{reply:?}");
    assert_eq!(reply.fields(), ["schedule.hourly.every_hours"]);
    let mut bad = hex_body("Bad", &sim.base_url());
    bad["secrets"] = json!({});
    let reply = keep(server.json("POST", "/api/v1/sources", &bad));
    assert_eq!(reply.fields(), ["secrets.api_token"], "{reply:?}");
    let reply = keep(server.request(
        "POST",
        "/api/v1/sources",
        &[("Content-Type", "application/json")],
        b"{not json",
    ));
    assert_eq!(reply.status, 400, "{reply:?}");
    let reply = keep(server.json("POST", "/api/v1/sources", &json!({"name": "x", "typo": 1})));
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        keep(server.get("/api/v1/sources"))
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Add, then a duplicate.
    let body = hex_body("Hex - Web", &sim.base_url());
    let reply = keep(server.json("POST", "/api/v1/sources", &body));
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(
        reply.header("location"),
        Some("/api/v1/sources/Hex%20-%20Web")
    );
    assert_eq!(reply.json()["secrets"], json!(["api_token"]));
    let reply = keep(server.json("POST", "/api/v1/sources", &body));
    assert_eq!(
        (reply.status, reply.fields()),
        (409, vec!["name".to_owned()])
    );

    let list = keep(server.get("/api/v1/sources")).json();
    assert_eq!(list[0]["name"], "Hex - Web");
    assert_eq!(list[0]["connector"], "hex");
    assert!(
        list[0]["schedule"]
            .as_str()
            .unwrap()
            .contains("Europe/Berlin")
    );
    assert!(list[0]["next_run"].is_string());
    let one = keep(server.get("/api/v1/sources/Hex%20-%20Web")).json();
    assert_eq!(one["settings"]["workspace_name"], "web_ws");
    assert_eq!(keep(server.get("/api/v1/sources/nope")).status, 404);

    let check =
        keep(server.request("POST", "/api/v1/sources/Hex%20-%20Web/check", &[], b"")).json();
    assert_eq!(check["ok"], true, "{check}");

    let reply = keep(server.request("POST", "/api/v1/sources/Hex%20-%20Web/runs", &[], b""));
    assert_eq!(reply.status, 202, "{reply:?}");
    let id = reply.json()["run_id"].as_i64().unwrap();
    let run = finished(&server, id);
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let added = run["added"].as_u64().unwrap();
    assert!(added > 12, "{run}");
    assert!(run["log"].is_array());
    let runs = keep(server.get("/api/v1/runs?source=Hex%20-%20Web")).json();
    assert_eq!(runs[0]["id"], id);
    assert_eq!(keep(server.get("/api/v1/runs/999999")).status, 404);

    // Paged resources, by type, by name, by parent.
    let page =
        keep(server.get("/api/v1/resources?source=Hex%20-%20Web&type=hex_project&limit=5")).json();
    let projects = page["total"].as_u64().unwrap();
    assert!(projects > 5, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let next = page["next"].as_str().unwrap().to_owned();
    let page2 = keep(server.get(&format!(
        "/api/v1/resources?source=Hex%20-%20Web&type=hex_project&limit=5&after={next}"
    )))
    .json();
    assert!(page2["items"][0]["uri"].as_str().unwrap() > next.as_str());
    let workspace = keep(server.get("/api/v1/resources?type=hex_workspace")).json();
    let ws_uri = workspace["items"][0]["uri"].as_str().unwrap().to_owned();
    let detail = keep(server.get(&format!("/api/v1/resources/{ws_uri}"))).json();
    assert!(detail["children"].as_u64().unwrap() >= projects, "{detail}");
    assert_eq!(detail["sponsors"], json!(["Hex - Web"]));
    let name = page["items"][0]["name"].as_str().unwrap().to_owned();
    let found =
        keep(server.get(&format!("/api/v1/resources?q={}", name.replace(' ', "%20")))).json();
    assert!(found["total"].as_u64().unwrap() >= 1);
    assert_eq!(keep(server.get("/api/v1/resources/hex.nope")).status, 404);
    let any = keep(server.get("/api/v1/resources?source=&type=&q=")).json();
    assert_eq!(any["total"], added, "empty filters mean any");
    let status = keep(server.get("/api/v1/status")).json();
    assert_eq!(status["sources"][0]["last_run"]["id"], id);

    // Edit without typing the token: the stored one stays in force.
    let mut edited = hex_body("Hex - Web", &sim.base_url());
    edited["secrets"] = json!({});
    edited["settings"]["page_size"] = json!(3);
    let reply = keep(server.json("PUT", "/api/v1/sources/Hex%20-%20Web", &edited));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["settings"]["page_size"], 3);
    let check =
        keep(server.request("POST", "/api/v1/sources/Hex%20-%20Web/check", &[], b"")).json();
    assert_eq!(check["ok"], true, "{check}");
    let mut invalid = edited.clone();
    invalid["cleanup"] = json!({"strategy": "sometimes"});
    let reply = keep(server.json("PUT", "/api/v1/sources/Hex%20-%20Web", &invalid));
    assert_eq!(
        (reply.status, reply.fields()),
        (422, vec!["cleanup.strategy".to_owned()])
    );
    assert_eq!(
        keep(server.get("/api/v1/sources/Hex%20-%20Web")).json()["settings"]["page_size"],
        3,
        "a refused edit changes nothing"
    );

    // The token is nowhere: no answer, no page, no source file, no sealed file, no log.
    for path in [
        "/",
        "/sources/Hex%20-%20Web",
        "/sources/Hex%20-%20Web/edit",
        "/resources",
        &format!("/runs/{id}"),
    ] {
        let reply = keep(server.get(path));
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
    for reply in &replies {
        assert!(!reply.contains(TOKEN), "the token in a response: {reply}");
    }
    assert!(!all_text_under(&server.sources).contains(TOKEN));
    assert!(!all_text_under(&host.data_dir()).contains(TOKEN));
    assert!(!server.log().contains(TOKEN));

    // Delete behaves as `sources remove`.
    let reply = server.request("DELETE", "/api/v1/sources/Hex%20-%20Web", &[], b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["resources_removed"], added);
    assert_eq!(server.get("/api/v1/sources/Hex%20-%20Web").status, 404);
    assert_eq!(server.get("/api/v1/resources").json()["total"], 0);
    assert_eq!(
        server
            .request("DELETE", "/api/v1/sources/Hex%20-%20Web", &[], b"")
            .status,
        404
    );
}

#[test]
fn run_now_answers_409_while_the_source_runs() {
    // Every answer of this simulator takes seconds: the first run is still going when the
    // second request comes.
    let faults = Faults {
        delay_ms: 3_000,
        ..Faults::default()
    };
    let sim = simulator(Workspace::synthetic(3, 2), faults);
    let host = Host::new();
    let server = Server::start(&host, &[]);
    let reply = server.json(
        "POST",
        "/api/v1/sources",
        &hex_body("Slow", &sim.base_url()),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let first = server.request("POST", "/api/v1/sources/Slow/runs", &[], b"");
    assert_eq!(first.status, 202, "{first:?}");
    let second = server.request("POST", "/api/v1/sources/Slow/runs", &[], b"");
    assert_eq!(second.status, 409, "{second:?}");
    let run = finished(&server, first.json()["run_id"].as_i64().unwrap());
    assert_eq!(run["outcome"], "succeeded", "{run}");
}

#[test]
fn access_is_loopback_or_token_with_csrf_headers_and_limits() {
    let host = Host::new();
    // Another address without a token: refused at start.
    let (code, log) = Server::start_at(&host, "0.0.0.0:0", &[]).err().unwrap();
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("needs an admin token"), "{log}");

    let open = Server::start(&host, &[]);
    let reply = open.get("/");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert!(reply.header("access-control-allow-origin").is_none());
    assert!(!reply.body.contains("<script"));
    let cookie = reply.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // DNS rebinding: a foreign Host is not answered without a token.
    let reply = open.request("GET", "/api/v1/sources", &[("Host", "evil.example")], b"");
    assert_ne!(reply.status, 200, "{reply:?}");
    // A browser's cross-origin write is refused, before any parsing.
    let reply = open.request(
        "POST",
        "/api/v1/sources",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(reply.status, 403, "{reply:?}");
    let preflight = open.request(
        "OPTIONS",
        "/api/v1/sources",
        &[("Origin", "http://evil.example")],
        b"",
    );
    assert!(preflight.header("access-control-allow-origin").is_none());
    // Oversized bodies.
    let big = vec![b'a'; 200 * 1024];
    let reply = open.request(
        "POST",
        "/api/v1/sources",
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(reply.status, 413, "{reply:?}");
    // A form without its CSRF token changes nothing.
    let session = cookie.split(';').next().unwrap().to_owned();
    let reply = open.request(
        "POST",
        "/sources/new",
        &[
            ("Cookie", &session),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"name=x&connector=hex&action=save&secret.api_token=abc",
    );
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(
        open.get("/api/v1/sources")
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    drop(open);

    // With a token: Bearer for the API, a login form for the pages.
    let host = Host::new();
    let guarded = Server::start(&host, &["--admin-token", ADMIN]);
    assert_eq!(guarded.get("/api/v1/sources").status, 401);
    let wrong = guarded.request(
        "GET",
        "/api/v1/sources",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {ADMIN}");
    let right = guarded.request("GET", "/api/v1/sources", &[("Authorization", &bearer)], b"");
    assert_eq!(right.status, 200, "{right:?}");
    let reply = guarded.get("/");
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/login"));
    let cookie = reply
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let login = guarded.request("GET", "/login", &[("Cookie", &cookie)], b"");
    let csrf = login
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = |token: &str| format!("csrf={csrf}&token={token}");
    let headers = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let refused = guarded.request("POST", "/login", &headers, form("wrong").as_bytes());
    assert_eq!(refused.status, 401);
    let no_csrf = guarded.request(
        "POST",
        "/login",
        &headers,
        format!("token={ADMIN}").as_bytes(),
    );
    assert_eq!(no_csrf.status, 403);
    let accepted = guarded.request("POST", "/login", &headers, form(ADMIN).as_bytes());
    assert_eq!(accepted.status, 303, "{accepted:?}");
    let fresh = accepted
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, cookie, "the session id changes at login");
    assert_eq!(
        guarded
            .request("GET", "/", &[("Cookie", &fresh)], b"")
            .status,
        200
    );
    assert_eq!(
        guarded
            .request("GET", "/", &[("Cookie", &cookie)], b"")
            .status,
        303
    );
    assert!(!guarded.log().contains(ADMIN));
}

#[test]
fn the_add_form_is_generated_from_the_spec_and_saves_through_the_page() {
    let sim = simulator(Workspace::synthetic(5, 3), Faults::default());
    let host = Host::new();
    let server = Server::start(&host, &[]);
    let first = server.get("/sources/new");
    assert!(first.body.contains("Hex Technologies"), "{first:?}");
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let form = server.request(
        "GET",
        "/sources/new?connector=hex",
        &[("Cookie", &cookie)],
        b"",
    );
    for needle in [
        "type=\"password\" name=\"secret.api_token\"",
        "value=\"https://app.hex.tech/api/v1\"",
        "value=\"hex_workspace\"",
        "Workspace ID",
        "name=\"schedule_enabled\"",
        "value=\"hourly\"",
        "value=\"none\"",
        "Test connection",
    ] {
        assert!(
            form.body.contains(needle),
            "{needle} not in the form: {}",
            form.body
        );
    }
    let csrf = form
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let post = |fields: &str| {
        server.request(
            "POST",
            "/sources/new",
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("csrf={csrf}&connector=hex&{fields}").as_bytes(),
        )
    };
    let base = format!(
        "name=Paged&setting.base_url={}&setting.requests_per_minute=0&secret.api_token={TOKEN}&cleanup=none",
        encode(&sim.base_url())
    );
    // A malformed schedule: 422, the field named, the token not sent back.
    let reply = post(&format!(
        "{base}&schedule_enabled=on&schedule_kind=weekly&days=mon&times=25:00&timezone=UTC&action=save"
    ));
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        reply.body.contains("schedule.weekly.times[0]"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(TOKEN));
    // Test connection, then Save with the token left empty: the draft keeps it server-side.
    let reply = post(&format!("{base}&action=test"));
    assert!(reply.body.contains("Connection OK"), "{}", reply.body);
    assert!(!reply.body.contains(TOKEN));
    let draft = reply
        .body
        .split("name=\"draft\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let without_token = base.replace(&format!("secret.api_token={TOKEN}"), "secret.api_token=");
    let reply = post(&format!(
        "{without_token}&draft={draft}&schedule_enabled=on&schedule_kind=hourly&every_hours=6&action=save"
    ));
    assert_eq!(reply.status, 303, "{reply:?}");
    assert_eq!(reply.header("location"), Some("/sources/Paged"));
    let saved = server.get("/api/v1/sources/Paged").json();
    assert_eq!(saved["schedule_text"], "every 6 hours");
    assert_eq!(saved["cleanup"]["strategy"], "none");
    assert_eq!(saved["secrets"], json!(["api_token"]));
    let check = server
        .request("POST", "/api/v1/sources/Paged/check", &[], b"")
        .json();
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn a_pool_sharing_a_postgresql_inventory_sees_the_pages_edits_and_opens_their_secrets() {
    let Some(first) = Host::on_postgres() else {
        return;
    };
    let second = Host::with_database(first.database_url().unwrap().to_owned());
    // Every worker of the pool has the same key, each its own data directory.
    let key = "5e".repeat(32);
    let env = [("EUNO_SECRET_KEY", key.as_str())];
    let sim = simulator(Workspace::synthetic(9, 4), Faults::default());
    let a = Server::start_with(&first, "127.0.0.1:0", &[], false, &env).unwrap();
    let mut body = hex_body("Pooled", &sim.base_url());
    body["schedule"] = Value::Null;
    let reply = a.json("POST", "/api/v1/sources", &body);
    assert_eq!(reply.status, 201, "{reply:?}\n{}", a.log());

    // Another worker's page lists it, and runs it with the token it opens with the shared key.
    let b = Server::start_with(&second, "127.0.0.1:0", &[], false, &env).unwrap();
    let listed = b.get("/api/v1/sources").json();
    assert_eq!(listed[0]["name"], "Pooled", "{listed}");
    let listed = second.run(&["sources", "list", "--json"]);
    assert!(listed.stdout.contains("Pooled"), "{listed:?}");
    assert!(!listed.stdout.contains(TOKEN));
    let reply = b.request("POST", "/api/v1/sources/Pooled/runs", &[], b"");
    assert_eq!(reply.status, 202, "{reply:?}\n{}", b.log());
    let run = finished(&b, reply.json()["run_id"].as_i64().unwrap());
    assert_eq!(run["outcome"], "succeeded", "{run}");

    // An edit on one page is what the other sees.
    let mut edited = hex_body("Pooled", &sim.base_url());
    edited["schedule"] = Value::Null;
    edited["secrets"] = json!({});
    edited["settings"]["workspace_name"] = json!("renamed_ws");
    assert_eq!(b.json("PUT", "/api/v1/sources/Pooled", &edited).status, 200);
    let seen = a.get("/api/v1/sources/Pooled").json();
    assert_eq!(seen["settings"]["workspace_name"], "renamed_ws");
}

/// Adds a Hex source through the form in a real Chromium, tests the connection, saves, runs it
/// and finds its projects in the Resources browser; saves the README's screenshots.
#[test]
fn a_person_adds_a_hex_source_runs_it_and_browses_its_projects_in_chromium() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(browser) = testkit::browser::Browser::launch()
            .await
            .expect("launching Chromium")
        else {
            return;
        };
        let sim = simulator(Workspace::synthetic(11, 8), Faults::default());
        let host = Host::new();
        let server = Server::start(&host, &[]);
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");

        let page = browser.open(&server.url("/")).await.unwrap();
        page.wait_for_text("Add New Source").await.unwrap();
        page.click("a.button.primary").await.unwrap();
        page.wait_for_text("Hex Technologies").await.unwrap();
        page.click("a.choice").await.unwrap();
        page.wait_for("#f-api_token").await.unwrap();
        page.fill("#f-name", "Hex - Analytics Projects")
            .await
            .unwrap();
        page.fill("#f-api_token", TOKEN).await.unwrap();
        // The prefilled Base URL is Hex's; point it at the simulator.
        page.fill("#f-base_url", &sim.base_url()).await.unwrap();
        page.fill("#f-workspace_id", "analytics").await.unwrap();
        page.click("#f-schedule").await.unwrap();
        page.click("input[name=days][value=mon]").await.unwrap();
        page.click("input[name=days][value=thu]").await.unwrap();
        page.screenshot(&docs.join("add-source.png")).await.unwrap();
        page.click("#test").await.unwrap();
        page.wait_for(".tested").await.unwrap();
        let tested = page.text(".tested").await.unwrap();
        let shown = page.body_text().await.unwrap();
        assert!(tested.contains("Connection OK"), "{tested}\n{shown}");
        page.click("#save").await.unwrap();
        page.wait_for_text("Runs").await.unwrap();
        page.click("form[action$='/run'] button").await.unwrap();
        page.wait_for("#outcome").await.unwrap();
        // A running run's page shows its outcome as of its load: reload until it is over.
        let run_url = page.url().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = page.body_text().await.unwrap();
            if text.contains("succeeded") {
                break;
            }
            assert!(!text.contains("failed"), "the run failed: {text}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "the run did not finish: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            page.goto(&run_url).await.unwrap();
        }
        page.goto(&server.url("/")).await.unwrap();
        page.wait_for_text("Hex - Analytics Projects")
            .await
            .unwrap();
        page.screenshot(&docs.join("sources.png")).await.unwrap();
        page.goto(&server.url("/resources")).await.unwrap();
        page.select("#r-type", "hex_project").await.unwrap();
        page.click(".filters button").await.unwrap();
        // The filter's option names the type already: wait for the filtered page itself.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !page.url().await.unwrap().contains("type=hex_project") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the filter did not apply"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Load the filtered page through the DevTools connection: after a form's navigation
        // its element lookups can point at the old document, so the checks read the text.
        let filtered = page.url().await.unwrap();
        page.goto(&filtered).await.unwrap();
        page.wait_for_text("hex_project").await.unwrap();
        let shown = page.body_text().await.unwrap();
        assert!(!shown.contains("\n0 resources"), "{shown}");
        assert!(!shown.contains("hex_workspace\t"), "only projects: {shown}");
        page.screenshot(&docs.join("resources.png")).await.unwrap();
        let body = page.body_text().await.unwrap();
        assert!(!body.contains(TOKEN));
        browser.close().await.unwrap();
    });
}
