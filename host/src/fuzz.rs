//! Property-based fuzzing of the two parsers that read what a user (or a careless edit) writes:
//! source files and their `[schedule]` tables. Whatever the text, parsing and resolving never
//! panic, and what they accept holds together: no secret among the settings a connector gets nor
//! copied into one, a credential that fits in a header, no origin granted to a component beyond
//! what the file grants, a schedule whose next run is never in the past and which never panics
//! at the far ends of the time range.
//!
//! Runs with `cargo test` (256 cases per property); `just fuzz` runs many more. A failing case is
//! kept by proptest under `proptest-regressions/` and, once understood, as a plain test below.

use std::path::Path;

use jiff::Timestamp;
use proptest::prelude::*;

use crate::contract::{ConnectorSpec, FieldKind};
use crate::sandbox::Trust;
use crate::scheduler::Schedule;
use crate::source::SourceFile;
use crate::source::tests::field;

fn spec() -> ConnectorSpec {
    ConnectorSpec {
        id: "hex".to_owned(),
        display_name: "Hex".to_owned(),
        version: "0.1.0".to_owned(),
        description: String::new(),
        fields: vec![
            field("api_token", FieldKind::Text, true, true, None),
            field(
                "other_secret",
                FieldKind::Text,
                false,
                true,
                Some("default"),
            ),
            field(
                "base_url",
                FieldKind::Url,
                false,
                false,
                Some("https://app.hex.tech/api/v1"),
            ),
            field("workspace_id", FieldKind::Text, false, false, None),
            field("page_size", FieldKind::Integer, false, false, Some("100")),
            field(
                "include_archived",
                FieldKind::Boolean,
                false,
                false,
                Some("false"),
            ),
        ],
        resource_types: vec!["hex_project".to_owned()],
        external_namespaces: vec![],
        base_url_field: Some("base_url".to_owned()),
        credential: Some(crate::contract::CredentialScheme::Bearer(
            "api_token".to_owned(),
        )),
    }
}

/// A TOML value written out: well-formed or not, of any type, with `${VAR}` references.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\"[^\"\\\\\n]{0,16}\"",
        "\"\\$\\{[A-Z_]{0,6}\\}[a-z]{0,4}\"",
        "\"\\$\\{[^}]{0,6}\"",
        "'[^'\n]{0,12}'",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("true".to_owned()),
        Just("nan".to_owned()),
        Just("inf".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("09:00".to_owned()),
        "\\[[0-9, \"a-z]{0,12}\\]",
        "\\{ ?[a-z_]{1,8} = [0-9]{1,3} ?\\}",
        "\"(http|https|ftp)://[a-z0-9.@:\\[\\]]{0,16}/?[a-z]{0,4}\"",
        "\\[\"(http|https|ftp)://[a-z0-9.]{1,8}(:[0-9]{1,5})?/?[a-z]{0,3}\"\\]",
        "[^\n]{0,10}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "name", "connector", "api_token", "other_secret", "base_url", "workspace_id",
            "page_size", "include_archived", "strategy", "after_days", "max_removal_ratio",
            "memory_mib", "deadline_seconds", "max_request_seconds", "max_request_total_seconds",
            "max_response_bytes", "max_resources", "max_batch", "max_string_bytes", "max_log_bytes", "enabled",
            "hourly", "weekly",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_\"]{1,8}",
    ]
}

/// A value that is usually right for `key`, and anything at all otherwise.
fn value_for(key: &'static str) -> BoxedStrategy<String> {
    let right: BoxedStrategy<String> = match key {
        "api_token" | "other_secret" => prop_oneof![
            Just("\"${HEX_API_TOKEN}\"".to_owned()),
            "\"hxtp_[a-z0-9]{4,12}\"",
        ]
        .boxed(),
        "base_url" => "\"(http|https)://[a-z0-9.]{1,12}(:[0-9]{1,5})?/[a-z/]{0,8}\"".boxed(),
        "allow" => "\\[(\"(http|https)://[a-z0-9.]{1,12}(:[0-9]{1,5})?/?\", ?){0,3}\\]".boxed(),
        // Now and then a setting that copies the secret.
        "workspace_id" => prop_oneof![
            4 => "\"[a-z0-9 -]{0,12}\"",
            1 => Just("\"${HEX_API_TOKEN}\"".to_owned()),
            1 => Just("\"ws-${HEX_API_TOKEN}\"".to_owned()),
        ]
        .boxed(),
        "page_size"
        | "after_days"
        | "memory_mib"
        | "deadline_seconds"
        | "max_request_seconds"
        | "max_request_total_seconds"
        | "max_response_bytes"
        | "max_resources"
        | "max_batch"
        | "max_string_bytes"
        | "max_log_bytes" => prop_oneof![
            3 => (1i64..100_000).prop_map(|n| n.to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "include_archived" => Just("true".to_owned()).boxed(),
        "strategy" => prop::sample::select(vec![
            "\"immediate\"",
            "\"none\"",
            "\"after_days\"",
            "\"weekly\"",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        "max_removal_ratio" => any::<f64>().prop_map(|f| format!("{f:?}")).boxed(),
        _ => "\"[a-z0-9 -]{0,12}\"".boxed(),
    };
    prop_oneof![12 => right, 1 => toml_value().boxed()].boxed()
}

/// A table of a source file: some of its real keys, each once, with mostly sensible values, and
/// now and then a typo.
fn table(header: &'static str, keys: &'static [&'static str]) -> BoxedStrategy<String> {
    let lines = prop::sample::subsequence(keys, 0..=keys.len()).prop_flat_map(|chosen| {
        chosen
            .into_iter()
            .map(|k| value_for(k).prop_map(move |v| format!("{k} = {v}")))
            .collect::<Vec<_>>()
    });
    let typo = prop::option::weighted(
        0.1,
        (key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
    );
    (lines, typo)
        .prop_map(move |(mut lines, typo)| {
            lines.extend(typo);
            format!("{header}\n{}\n", lines.join("\n"))
        })
        .boxed()
}

/// A source file: the real tables and keys with mostly sensible values, and garbage lines.
fn source_text() -> impl Strategy<Value = String> {
    let connector = prop::sample::select(vec![
        "\"hex\"",
        "\"other.wasm\"",
        "\"/abs/x.wasm\"",
        "\"Bad Name\"",
        "\"\"",
    ]);
    let top = prop_oneof![
        4 => Just("name = \"Hex\"\nconnector = \"hex\"\n".to_owned()),
        1 => (toml_value(), connector)
            .prop_map(|(n, c)| format!("name = {n}\nconnector = {c}\n")),
        1 => Just(String::new()),
    ];
    let settings = table(
        "[settings]",
        &[
            "api_token",
            "base_url",
            "workspace_id",
            "page_size",
            "include_archived",
            "other_secret",
        ],
    );
    let secrets = table("[secrets]", &["api_token", "other_secret"]);
    let network = table("[network]", &["allow"]);
    let cleanup = table(
        "[cleanup]",
        &["strategy", "after_days", "max_removal_ratio"],
    );
    let limits = table(
        "[limits]",
        &[
            "memory_mib",
            "deadline_seconds",
            "max_request_seconds",
            "max_request_total_seconds",
            "max_response_bytes",
            "max_resources",
            "max_batch",
            "max_string_bytes",
            "max_log_bytes",
        ],
    );
    let schedule = schedule_text().prop_map(|t| format!("[schedule]\n{t}"));
    let garbage = prop_oneof![8 => Just(String::new()), 1 => "[^\n]{0,20}\n"];
    (
        top,
        prop::option::weighted(0.9, settings),
        prop::option::of(secrets),
        prop::option::of(network),
        prop::option::of(cleanup),
        prop::option::of(limits),
        prop::option::of(schedule),
        garbage,
    )
        .prop_map(
            |(top, settings, secrets, network, cleanup, limits, schedule, garbage)| {
                let mut text = top;
                for part in [settings, secrets, network, cleanup, limits, schedule]
                    .into_iter()
                    .flatten()
                {
                    text.push_str(&part);
                }
                text + &garbage
            },
        )
}

fn env_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("hxtp_fuzzed_token".to_owned())),
        "\\PC{0,12}".prop_map(Some),
        "[\\x00-\\x20a-z]{0,6}".prop_map(Some),
    ]
}

fn resolves_consistently(text: &str, env: Option<String>) -> Result<(), TestCaseError> {
    let Ok(file) = SourceFile::parse(Path::new("/fuzz/source.toml"), text) else {
        return Ok(());
    };
    let spec = spec();
    let component = Trust::Component {
        installed_origins: Vec::new(),
    };
    for trust in [Trust::Bundled, component] {
        let Ok(resolved) = file.resolve(&spec, &trust, |_| env.clone()) else {
            continue;
        };
        for entry in &resolved.config {
            let field = spec.fields.iter().find(|f| f.name == entry.name);
            prop_assert!(
                field.is_some_and(|f| !f.secret),
                "{} reached the connector",
                entry.name
            );
            if let Some(credential) = &resolved.credential {
                let bearer = credential.secrets()[0].expose();
                let value = entry.value.to_string();
                prop_assert!(
                    value != bearer
                        && (bearer.len() < crate::sandbox::egress::MIN_MASKED_SECRET_BYTES
                            || !value.contains(bearer)),
                    "{} carries the credential",
                    entry.name
                );
            }
        }
        if let Some(credential) = &resolved.credential {
            prop_assert!(
                http::HeaderValue::from_str(&format!(
                    "Bearer {}",
                    credential.secrets()[0].expose()
                ))
                .is_ok(),
                "a bearer that cannot be a header was accepted"
            );
        }
        if trust != Trust::Bundled {
            prop_assert_eq!(&resolved.allowed, &file.network, "a component's grants");
            prop_assert!(resolved.notes.is_empty());
        }
        for origin in &resolved.allowed {
            let origin = origin.to_string();
            prop_assert!(
                origin.starts_with("http://") || origin.starts_with("https://"),
                "{origin}"
            );
        }
    }
    let _ = Schedule::from_table(file.schedule.as_ref());
    Ok(())
}

/// A `[schedule]` table: the real keys with mostly sensible values, values of every type, and
/// typos.
fn schedule_text() -> impl Strategy<Value = String> {
    let day = prop_oneof![
        12 => prop::sample::select(vec!["mon", "tue", "Wednesday", "THU", "fri", "sat", "sun"])
            .prop_map(|d| format!("\"{d}\"")),
        1 => prop::sample::select(vec!["someday", ""]).prop_map(|d| format!("\"{d}\"")),
        1 => toml_value(),
    ];
    let time = prop_oneof![
        6 => "\"([01][0-9]|2[0-3]):[0-5][0-9]\"",
        2 => prop::sample::select(vec![
            "\"02:30\"", "\"01:30\"", "\"1:00\"", "\"00:00\"", "\"23:59\"", "03:00",
        ])
        .prop_map(str::to_owned),
        1 => "\"[0-9]{1,2}:[0-9]{2}\"",
        1 => toml_value(),
    ];
    let zone = prop_oneof![
        8 => prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Kiritimati",
            "America/Santiago",
            "Asia/Kathmandu",
            "Antarctica/Troll",
            "europe/berlin",
            "Mars/Olympus",
        ])
        .prop_map(|z| format!("\"{z}\"")),
        1 => toml_value(),
    ];
    let weekly = (
        prop::collection::vec(day, 1..9),
        prop::collection::vec(time, 1..5),
        prop::option::of(zone),
    )
        .prop_map(|(days, times, zone)| {
            let zone = zone
                .map(|z| format!(", timezone = {z}"))
                .unwrap_or_default();
            format!(
                "weekly = {{ days = [{}], times = [{}]{zone} }}",
                days.join(", "),
                times.join(", ")
            )
        });
    let hourly = prop_oneof![
        6 => (0i64..200).prop_map(|n| format!("hourly = {{ every_hours = {n} }}")),
        1 => toml_value().prop_map(|v| format!("hourly = {{ every_hours = {v} }}")),
        1 => toml_value().prop_map(|v| format!("hourly = {v}")),
    ];
    let enabled = prop_oneof![
        2 => Just(String::new()),
        2 => Just("enabled = true\n".to_owned()),
        1 => Just("enabled = false\n".to_owned()),
        1 => toml_value().prop_map(|v| format!("enabled = {v}\n")),
    ];
    let cadence = prop_oneof![
        4 => hourly.prop_map(|h| (Some(h), None)),
        4 => weekly.clone().prop_map(|w| (None, Some(w))),
        1 => Just((None, None)),
        1 => weekly.prop_map(|w| (Some("hourly = { every_hours = 2 }".to_owned()), Some(w))),
    ];
    (enabled, cadence, prop::option::weighted(0.1, key())).prop_map(
        |(enabled, (hourly, weekly), extra)| {
            let mut text = enabled;
            let extra = extra.map(|k| format!("{k} = 1"));
            for line in [hourly, weekly, extra].into_iter().flatten() {
                text.push_str(&line);
                text.push('\n');
            }
            text
        },
    )
}

/// Any instant jiff can represent, with extra weight on the present and on the ends.
fn instant() -> impl Strategy<Value = Timestamp> {
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    prop_oneof![
        3 => (1_700_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        2 => (min..=max).prop_map(|s| Timestamp::from_second(s).unwrap()),
        1 => (0i64..1_000_000).prop_map(move |s| Timestamp::from_second(max - s).unwrap()),
        1 => (0i64..1_000_000).prop_map(move |s| Timestamp::from_second(min + s).unwrap()),
    ]
}

fn schedule_holds(
    schedule: &Schedule,
    last: Option<Timestamp>,
    now: Timestamp,
    after: Timestamp,
) -> Result<(), TestCaseError> {
    let _ = schedule.describe();
    if let Some(next) = schedule.next_after(after) {
        prop_assert!(next > after, "next_after({after}) = {next}");
    }
    if let Some(due) = schedule.due(last, now) {
        prop_assert!(due.run_at >= now, "due {due:?} before now {now}");
        prop_assert!(due.slot <= due.run_at, "{due:?}");
    }
    prop_assert_eq!(
        schedule.due_at(last, now),
        schedule.due(last, now).map(|d| d.run_at)
    );
    Ok(())
}

proptest! {
    #[test]
    fn any_text_as_a_source_file_never_panics(text in "\\PC{0,200}", env in env_value()) {
        resolves_consistently(&text, env)?;
    }

    #[test]
    fn source_shaped_text_parses_and_resolves_consistently(text in source_text(), env in env_value()) {
        resolves_consistently(&text, env)?;
    }

    #[test]
    fn schedules_parse_and_never_panic_or_run_in_the_past(
        text in schedule_text(),
        last in prop::option::of(instant()),
        now in instant(),
        after in instant(),
    ) {
        let Ok(table) = text.parse::<toml::Table>() else {
            return Ok(());
        };
        if let Ok(schedule) = Schedule::from_table(Some(&table)) {
            schedule_holds(&schedule, last, now, after)?;
        }
    }
}
