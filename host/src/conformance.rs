//! The conformance test of a connector (`euno-host connectors test FILE.wasm --source FILE`):
//! every promise of the contract, checked on a real component against a real source.
//!
//! It asks `spec` twice, resolves the source file against it, calls `check`, then runs
//! `discover` twice through the host's own run ([`run_source`]) into a scratch inventory in a
//! temporary directory (never the operator's), the second run handed the first one's checkpoint.
//! Each promise becomes one [`Check`]: passed or failed, with a line saying why. The sandbox
//! enforces the rules during a call (a broken one ends it); this module names which promise a
//! failure broke, and checks what only a whole run shows: the summary's counts, the relations'
//! targets, the checkpoint round trip, and that a run with a checkpoint still emits every
//! resource and keeps its relations. It prints nothing: the caller renders the [`Report`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::connectors::is_id;
use crate::contract::{ConnectorSpec, CredentialScheme, FieldKind, SettingValue};
use crate::inventory::{CleanupPolicy, CleanupStrategy, Database, Inventory, StoredRelation};
use crate::run::{self, RunError, RunFailure, RunOptions, RunReport, Unwatched};
use crate::sandbox::{CallError, Connector, Runtime};
use crate::source::SourceFile;

/// One promise of the contract, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The promise, e.g. `spec: resource types`.
    pub promise: &'static str,
    /// Whether the connector keeps it.
    pub passed: bool,
    /// What was found, in a line.
    pub detail: String,
}

/// Every check of one conformance test, in the order made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    fn check(&mut self, promise: &'static str, result: Result<String, String>) {
        let (passed, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        self.checks.push(Check {
            promise,
            passed,
            detail,
        });
    }
}

/// A directory under the system's temporary directory, deleted when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("euno-conformance-{name}"));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Tests `connector` against the source `file`; see the module's documentation.
pub async fn test(runtime: &Runtime, connector: &Connector, file: &SourceFile) -> Report {
    let mut report = Report::default();
    let spec = &connector.spec;
    report.check(
        "spec answers",
        Ok(format!(
            "{} {} (contract {})",
            spec.id,
            spec.version,
            connector.contract_version().as_str()
        )),
    );
    report.check(
        "spec: the same on every call",
        match runtime.spec(connector).await {
            Ok(again) if again == *spec => Ok("asked twice, answered the same".to_owned()),
            Ok(_) => Err("a second call to spec() answered differently".to_owned()),
            Err(error) => Err(format!("a second call to spec() failed: {error}")),
        },
    );
    report.check("spec: id", check_id(spec));
    report.check("spec: resource types", check_types(spec));
    report.check("spec: fields and defaults", check_fields(spec));
    report.check("spec: credential", check_credential(spec));
    report.check("spec: external namespaces", check_namespaces(spec));

    let source = match run::resolve(file, connector) {
        Ok(source) => {
            report.check(
                "source: resolves against the spec",
                Ok(format!("{} settings", source.config.len())),
            );
            source
        }
        Err(error) => {
            report.check("source: resolves against the spec", Err(error.to_string()));
            return report;
        }
    };
    report.check(
        "check: succeeds without emitting",
        runtime
            .check(
                connector,
                run::sandbox_for(file, &source),
                &source.name,
                source.config.clone(),
            )
            .await
            .map_err(|error| error.to_string()),
    );

    let scratch = match Scratch::new() {
        Ok(scratch) => scratch,
        Err(error) => {
            report.check(
                "discover: a scratch inventory",
                Err(format!("cannot create a temporary directory: {error}")),
            );
            return report;
        }
    };
    let db = scratch.0.join("inventory.sqlite3");
    // Immediate cleanup, guard off: a second run that emits less shows as removals.
    let mut file = file.clone();
    file.cleanup = CleanupPolicy {
        strategy: CleanupStrategy::Immediate,
        max_removal_ratio: None,
    }
    .allowing_mass_removal();
    let first = match discover(runtime, &db, &file, connector, &mut report, "first").await {
        Some(first) => first,
        None => return report,
    };
    let relations_after_first = stored_relations(&db);
    let second = match discover(runtime, &db, &file, connector, &mut report, "second").await {
        Some(second) => second,
        None => return report,
    };
    report.check(
        "checkpoint: round trip",
        match (first.checkpoint_saved, second.checkpoint_received) {
            (None, None) => Ok("the connector saves no checkpoint".to_owned()),
            (Some(saved), Some(received)) if saved == received => Ok(format!(
                "the second run was handed the {saved} bytes the first saved"
            )),
            (saved, received) => Err(format!(
                "the first run saved {saved:?} bytes, the second was handed {received:?}"
            )),
        },
    );
    report.check(
        "discover: a run with a checkpoint emits every resource",
        if second.summary.removed == 0 && second.summary.added == 0 {
            Ok(format!(
                "both runs emitted the same {} resources (requests: {} then {})",
                second.emitted, first.requests, second.requests
            ))
        } else {
            Err(format!(
                "the second run added {} and dropped {} of the first run's resources: a \
                 checkpoint saves requests, never resources",
                second.summary.added, second.summary.removed
            ))
        },
    );
    let relations_after_second = stored_relations(&db);
    report.check(
        "relations: kept across runs",
        match (relations_after_first, relations_after_second) {
            (Ok(before), Ok(after)) if before == after => Ok(format!(
                "{} relations stored, the same after the second run",
                before.len()
            )),
            (Ok(before), Ok(after)) => Err(format!(
                "{} relations after the first run, {} after the second, of an unchanged source \
                 (e.g. {})",
                before.len(),
                after.len(),
                before.symmetric_difference(&after).next().map_or(
                    String::new(),
                    |(uri, r)| format!("{uri} -{}-> {}", r.kind, r.target)
                )
            )),
            (Err(error), _) | (_, Err(error)) => Err(error),
        },
    );
    report
}

/// One discovery into the scratch inventory, with its checks; `None` when it failed.
async fn discover(
    runtime: &Runtime,
    db: &Path,
    file: &SourceFile,
    connector: &Connector,
    report: &mut Report,
    which: &str,
) -> Option<RunReport> {
    let outcome = run::run_source(
        runtime,
        &Database::Sqlite(db.to_owned()),
        file,
        connector,
        RunOptions::default(),
        Arc::new(Unwatched),
        None,
    )
    .await;
    let run = match outcome {
        Ok(run) => run,
        Err(error) => {
            let (promise, detail) = failure(&error);
            report.check(promise, Err(format!("{which} run: {detail}")));
            return None;
        }
    };
    let (promise_ok, detail_ok) = if which == "first" {
        (
            "discover: succeeds",
            format!("{} resources, {} requests", run.emitted, run.requests),
        )
    } else {
        (
            "discover: succeeds with its checkpoint",
            format!("{} resources, {} requests", run.emitted, run.requests),
        )
    };
    report.check(promise_ok, Ok(detail_ok));
    if which == "first" {
        report.check(
            "rules: URIs, types and budgets",
            Ok("every batch admitted".to_owned()),
        );
        report.check(
            "summary: emitted equals the resources emitted",
            Ok(format!("{} = {}", run.emitted, run.emitted)),
        );
        let counted: u64 = run.request_counts.iter().map(|c| u64::from(c.count)).sum();
        report.check(
            "summary: request counts add up",
            if run.request_counts.is_empty() || counted == u64::from(run.requests) {
                Ok(format!(
                    "{} requests in {} kinds",
                    run.requests,
                    run.request_counts.len()
                ))
            } else {
                Err(format!(
                    "the request counts add up to {counted}, the summary says {}",
                    run.requests
                ))
            },
        );
    }
    let dropped = &run.summary.dropped_relations;
    report.check(
        if which == "first" {
            "relations: kinds and targets"
        } else {
            "relations: kinds and targets, with a checkpoint"
        },
        if dropped.bad_kind + dropped.unknown_target == 0 {
            Ok("every relation targets a resource of the run or an external namespace".to_owned())
        } else {
            Err(format!(
                "{} with a kind that is not lowercase letters, digits and `-`, {} whose target is \
                 neither a resource of the run nor in an external namespace (e.g. {})",
                dropped.bad_kind,
                dropped.unknown_target,
                dropped.examples.join(", ")
            ))
        },
    );
    Some(run)
}

/// Which promise a failed run broke, and the run's error.
fn failure(error: &RunError) -> (&'static str, String) {
    let promise = match error {
        RunError::Source(_) => "source: resolves against the spec",
        RunError::InvalidSetting { .. } => "discover: succeeds",
        RunError::Failed { failure, .. } => match failure {
            RunFailure::Count { .. } => "summary: emitted equals the resources emitted",
            RunFailure::Call(CallError::Stopped(reason)) if reason.contains("checkpoint") => {
                "checkpoint: within the budget, during discover only"
            }
            RunFailure::Call(CallError::Stopped(_)) => "rules: URIs, types and budgets",
            RunFailure::Call(CallError::Trap { .. }) => "discover: never traps",
            _ => "discover: succeeds",
        },
        _ => "discover: succeeds",
    };
    (promise, error.to_string())
}

/// Every stored relation of the scratch inventory, with its resource's URI.
fn stored_relations(db: &Path) -> Result<BTreeSet<(String, StoredRelation)>, String> {
    let inventory = Inventory::open(&Database::Sqlite(db.to_owned())).map_err(|e| e.to_string())?;
    let resources = inventory.resources(None).map_err(|e| e.to_string())?;
    Ok(resources
        .into_iter()
        .flat_map(|r| {
            let uri = r.uri;
            r.relations.into_iter().map(move |rel| (uri.clone(), rel))
        })
        .collect())
}

fn check_id(spec: &ConnectorSpec) -> Result<String, String> {
    if is_id(&spec.id) {
        Ok(format!("`{}`", spec.id))
    } else {
        Err(format!(
            "`{}` is not lowercase letters, digits, `-` and `_`",
            spec.id
        ))
    }
}

fn check_types(spec: &ConnectorSpec) -> Result<String, String> {
    let unique: BTreeSet<&String> = spec.resource_types.iter().collect();
    if spec.resource_types.is_empty() {
        Err("the spec declares no resource type".to_owned())
    } else if unique.len() != spec.resource_types.len() {
        Err("a resource type is declared twice".to_owned())
    } else {
        Ok(spec.resource_types.join(", "))
    }
}

fn check_fields(spec: &ConnectorSpec) -> Result<String, String> {
    let mut names = BTreeSet::new();
    for field in &spec.fields {
        let snake = !field.name.is_empty()
            && field
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            return Err(format!("field `{}` is not snake_case", field.name));
        }
        if !names.insert(field.name.as_str()) {
            return Err(format!("field `{}` is declared twice", field.name));
        }
        if let FieldKind::Choice(choices) = &field.kind
            && choices.is_empty()
        {
            return Err(format!("field `{}` is a choice among nothing", field.name));
        }
        if let Some(default) = &field.default_value {
            let fits = match (&field.kind, default) {
                (FieldKind::Integer, SettingValue::Integer(_))
                | (FieldKind::Boolean, SettingValue::Boolean(_))
                | (FieldKind::TextList, SettingValue::TextList(_)) => true,
                (FieldKind::Text, SettingValue::Text(t)) => !t.trim().is_empty(),
                (FieldKind::Url, SettingValue::Text(t)) => {
                    crate::sandbox::Origin::of_url(t).is_ok()
                }
                (FieldKind::Choice(choices), SettingValue::Text(t)) => choices.contains(t),
                _ => false,
            };
            if !fits {
                return Err(format!(
                    "field `{}`: its default `{default}` does not fit its kind",
                    field.name
                ));
            }
        }
    }
    if let Some(base) = &spec.base_url_field
        && !spec
            .fields
            .iter()
            .any(|f| &f.name == base && f.kind == FieldKind::Url)
    {
        return Err(format!("base-url-field `{base}` names no url field"));
    }
    Ok(format!("{} fields", spec.fields.len()))
}

fn check_credential(spec: &ConnectorSpec) -> Result<String, String> {
    let Some(scheme) = &spec.credential else {
        return Ok("none".to_owned());
    };
    for name in scheme.secret_names() {
        if let Some(field) = spec.fields.iter().find(|f| f.name == name)
            && !field.secret
        {
            return Err(format!(
                "the credential's secret `{name}` is a field not marked secret"
            ));
        }
    }
    Ok(match scheme {
        CredentialScheme::Bearer(name) => format!("bearer `{name}`"),
        CredentialScheme::Header { header, secret, .. } => {
            format!("header `{header}` from `{secret}`")
        }
        CredentialScheme::Basic { username, password } => {
            format!("basic `{username}` / `{password}`")
        }
        CredentialScheme::Query { parameter, secret } => {
            format!("query parameter `{parameter}` from `{secret}`")
        }
    })
}

fn check_namespaces(spec: &ConnectorSpec) -> Result<String, String> {
    for namespace in &spec.external_namespaces {
        let valid = !namespace.is_empty()
            && !namespace.contains('.')
            && namespace
                .chars()
                .all(|c| !c.is_uppercase() && !c.is_whitespace() && !c.is_control());
        if !valid {
            return Err(format!(
                "`{namespace}` is not one lowercase URI segment without dots"
            ));
        }
    }
    if spec.external_namespaces.is_empty() {
        Ok("none".to_owned())
    } else {
        Ok(spec.external_namespaces.join(", "))
    }
}
