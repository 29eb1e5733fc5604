//! What the Sources page and its API do, once: the same library calls the command line makes
//! (`SourceFile::parse` and `resolve`, `Schedule::from_table`, `run::run_source`, the
//! connector's `check`, the inventory's queries), so that both speak with one voice and the
//! handlers stay thin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::sources::{
    Definition, FieldError, SourceBody, SourceStore, StoreError, field_of_schedule_error,
    field_of_source_error, view_of, written_secrets,
};
use crate::connectors::{self, ConnectorRef, ConnectorSet, Registry, is_id};
use crate::contract::{ConfigField, ConnectorSpec, FieldKind, SettingValue};
use crate::inventory::{Database, Inventory, InventoryError, RunId, RunRecord, StoredResource};
use crate::run::{self, RunError, RunEvents, RunOptions};
use crate::sandbox::{Connector, Runtime};
use crate::scheduler::schedule::Schedule;
use crate::scheduler::{SourceStatus, status};
use crate::secret::Secret;
use crate::source::SourceFile;
use crate::text::inert;
use crate::vault::{Vault, VaultError, is_sealed};

/// Why a request could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No such source, run or resource.
    #[error("{0}")]
    NotFound(String),
    /// The source is invalid; nothing was changed.
    #[error("invalid source")]
    Invalid(Vec<FieldError>),
    /// It clashes with what is there (a duplicate name, a run in progress).
    #[error("{}", .0.message)]
    Conflict(FieldError),
    /// The inventory failed.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sealed secrets failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Anything else (a run task that did not report).
    #[error("{0}")]
    Internal(String),
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

/// A source checked and ready to store: its text and the secrets to seal.
pub struct Prepared {
    /// The name.
    pub name: String,
    /// The source file's text.
    pub text: String,
    /// The secrets typed anew (or kept from a connection test), in clear: for a draft only.
    pub typed: BTreeMap<String, Secret>,
    /// The file, with every secret it will have.
    pub file: SourceFile,
    /// Its connector.
    pub connector: Arc<Connector>,
}

/// One source on the Sources list.
#[derive(Debug, Serialize)]
pub struct SourceLine {
    /// The status `euno-host status` shows for it.
    #[serde(flatten)]
    pub status: SourceStatus,
    /// Its connector's id, when the file is valid.
    pub connector: Option<String>,
}

/// A page of resources.
#[derive(Debug, Serialize)]
pub struct ResourcePage {
    /// The resources, by URI.
    pub items: Vec<StoredResource>,
    /// The `after` of the next page, if there is one.
    pub next: Option<String>,
    /// How many match, over every page.
    pub total: usize,
    /// The types among every resource of the source asked for, for a filter.
    pub types: Vec<String>,
}

/// What a resources query asks for.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ResourceQuery {
    /// Only those this source sponsors.
    pub source: Option<String>,
    /// Only this type.
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    /// Only those whose name or URI contains this, ignoring case.
    pub q: Option<String>,
    /// Only the children of this resource.
    pub parent: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
    /// Only those whose URI sorts after this (the previous page's `next`).
    pub after: Option<String>,
}

/// One resource with what the page shows beside it.
#[derive(Debug, Serialize)]
pub struct ResourceDetail {
    /// The resource.
    #[serde(flatten)]
    pub resource: StoredResource,
    /// How many resources it contains.
    pub children: usize,
}

/// A run, with its log.
#[derive(Debug, Serialize)]
pub struct RunDetail {
    /// The run as the history records it.
    #[serde(flatten)]
    pub run: RunRecord,
    /// What the connector logged at warn or error during the run, as kept with it.
    pub log: Vec<String>,
}

/// The page's and the API's shared state and operations.
pub struct Service {
    runtime: Runtime,
    db: Database,
    registry: tokio::sync::Mutex<Registry>,
    store: Arc<dyn SourceStore>,
    vault: Vault,
    /// Turns true on shutdown: runs started here are cancelled.
    cancel: watch::Receiver<bool>,
    runs: Mutex<JoinSet<()>>,
}

/// Tells the caller of [`Service::run_now`] the run's id as soon as it is recorded.
struct Started(Mutex<Option<oneshot::Sender<Result<i64, RunError>>>>);

impl RunEvents for Started {
    fn started(&self, _source: &str, run: RunId) {
        if let Some(tx) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(Ok(run.0));
        }
    }
}

/// Runs `f` on a blocking thread (inventory queries block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("a query task failed: {e}")))?
}

impl Service {
    /// The service over `db`, the connectors of `connectors_dir` and the definitions of `store`.
    pub async fn new(
        runtime: Runtime,
        db: Database,
        connectors_dir: Option<&Path>,
        store: Arc<dyn SourceStore>,
        vault: Vault,
        cancel: watch::Receiver<bool>,
    ) -> Result<Self, crate::sandbox::LoadError> {
        let registry = Registry::open(&runtime, connectors_dir).await?;
        Ok(Self {
            runtime,
            db,
            registry: tokio::sync::Mutex::new(registry),
            store,
            vault,
            cancel,
            runs: Mutex::new(JoinSet::new()),
        })
    }

    /// The connectors usable now (the directory rescanned).
    pub async fn connectors(&self) -> ConnectorSet {
        let mut registry = self.registry.lock().await;
        let changes = registry.rescan().await;
        for (path, reason) in &changes.rejected {
            tracing::error!(file = %path.display(), "rejected connector component: {}", inert(&reason.to_string()));
        }
        registry.current()
    }

    /// The connector of id `id`.
    pub async fn connector(&self, id: &str) -> Result<Arc<Connector>, FieldError> {
        if !is_id(id) {
            return Err(FieldError::new(
                "connector",
                format!(
                    "`{}` is not a connector id: the Sources page runs installed connectors only (see `euno-host connectors list`)",
                    inert(id)
                ),
            ));
        }
        let set = self.connectors().await;
        connectors::resolve(&self.runtime, &set, &ConnectorRef::Id(id.to_owned()))
            .await
            .map_err(|e| FieldError::new("connector", e.to_string()))
    }

    /// The Sources list: every source file, valid or not, with its schedule and last run.
    pub async fn sources(&self) -> Result<Vec<SourceLine>, ServiceError> {
        let dir = self.store.dir().map(Path::to_owned);
        let db = self.db.clone();
        let store = Arc::clone(&self.store);
        blocking(move || {
            let definitions = store.list()?;
            let list = status(dir.as_deref(), &db, Timestamp::now())?;
            Ok(list
                .into_iter()
                .map(|status| {
                    let connector = status.name.as_ref().and_then(|name| {
                        definitions
                            .iter()
                            .find(|d| &d.name == name)
                            .and_then(|d| d.text.parse::<toml::Table>().ok())
                            .map(|t| {
                                t.get("connector")
                                    .and_then(toml::Value::as_str)
                                    .unwrap_or(connectors::BUNDLED_ID)
                                    .to_owned()
                            })
                    });
                    SourceLine { status, connector }
                })
                .collect())
        })
        .await
    }

    /// The definition of `name`.
    pub fn definition(&self, name: &str) -> Result<Definition, ServiceError> {
        self.store
            .get(name)?
            .ok_or_else(|| ServiceError::NotFound(format!("no source named \"{}\"", inert(name))))
    }

    /// One source as the API shows it: its model without any secret value, the names of its
    /// secrets, and its status.
    pub async fn source_view(&self, name: &str) -> Result<serde_json::Value, ServiceError> {
        let definition = self.definition(name)?;
        let table: toml::Table = definition.text.parse().unwrap_or_default();
        let id = table
            .get("connector")
            .and_then(toml::Value::as_str)
            .unwrap_or(connectors::BUNDLED_ID);
        let connector = self.connector(id).await.ok();
        let mut view = view_of(&definition.text, connector.as_deref().map(|c| &c.spec));
        let secrets = written_secrets(&definition.text);
        view["secrets"] = serde_json::json!(secrets);
        view["file"] = serde_json::json!(definition.location.display().to_string());
        let status = self
            .sources()
            .await?
            .into_iter()
            .find(|line| line.status.name.as_deref() == Some(name));
        if let Some(line) = status {
            view["schedule_text"] = serde_json::json!(line.status.schedule);
            view["enabled"] = serde_json::json!(line.status.enabled);
            view["next_run"] = serde_json::json!(line.status.next_run);
            view["running"] = serde_json::json!(line.status.running);
            view["last_run"] = serde_json::to_value(&line.status.last_run).unwrap_or_default();
        }
        Ok(view)
    }

    /// Checks `body` as a new source (`existing` = `None`) or as the new version of source
    /// `existing`, with the typed secrets over those kept (`kept`, e.g. from a connection test).
    pub async fn prepare(
        &self,
        body: &SourceBody,
        existing: Option<&Definition>,
        kept: BTreeMap<String, Secret>,
    ) -> Result<Prepared, ServiceError> {
        let name = body.name.trim().to_owned();
        let mut errors = Vec::new();
        if name.is_empty() {
            errors.push(FieldError::new("name", "field `name` must not be empty"));
        }
        let connector = match self.connector(&body.connector).await {
            Ok(connector) => Some(connector),
            Err(error) => {
                errors.push(error);
                None
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let Some(connector) = connector else {
            return Err(ServiceError::Invalid(errors));
        };
        let taken = self.store.get(&name)?;
        let clash = match (existing, &taken) {
            (_, None) => false,
            (Some(old), Some(other)) => old.location != other.location,
            (None, Some(_)) => true,
        };
        if clash {
            return Err(ServiceError::Conflict(FieldError::new(
                "name",
                format!("a source named \"{}\" exists already", inert(&name)),
            )));
        }
        // Kept from a connection test, then typed now: each is sealed into the text.
        let mut typed = kept;
        typed.extend(
            body.secrets
                .iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.clone(), Secret::new(value.clone()))),
        );
        let mut sealed = BTreeMap::new();
        for (secret, value) in &typed {
            sealed.insert(secret.clone(), self.vault.seal(&name, secret, value)?);
        }
        let base = existing.map_or("", |d| d.text.as_str());
        // A renamed source's sealed secrets are bound to its old name: seal them anew.
        if let Some(old) = existing
            && old.name != name
        {
            let table: toml::Table = old.text.parse().unwrap_or_default();
            if let Some(toml::Value::Table(secrets)) = table.get("secrets") {
                for (secret, value) in secrets {
                    if let Some(text) = value.as_str()
                        && is_sealed(text)
                        && !sealed.contains_key(secret)
                    {
                        let opened = self.vault.open(&old.name, secret, text)?;
                        sealed.insert(secret.clone(), self.vault.seal(&name, secret, &opened)?);
                    }
                }
            }
        }
        let text = body.to_text(base, &sealed)?;
        let location = existing.map_or_else(
            || {
                self.store
                    .dir()
                    .map_or_else(|| PathBuf::from(&name), |dir| dir.join("new-source.toml"))
            },
            |d| d.location.clone(),
        );
        let file = SourceFile::parse(&location, &text).map_err(|e| field_of_source_error(&e))?;
        Schedule::from_table(file.schedule.as_ref()).map_err(|e| field_of_schedule_error(&e))?;
        let file = file.open_sealed(&self.vault)?;
        run::resolve(&file, &connector).map_err(|e| field_of_source_error(&e))?;
        Ok(Prepared {
            name,
            text,
            typed,
            file,
            connector,
        })
    }

    /// Stores a prepared source (its typed secrets sealed in its text).
    pub fn save(
        &self,
        prepared: &Prepared,
        existing: Option<&Definition>,
    ) -> Result<(), ServiceError> {
        match existing {
            Some(old) => self.store.replace(old, &prepared.text)?,
            None => {
                self.store.create(&prepared.name, &prepared.text)?;
            }
        }
        Ok(())
    }

    /// Deletes source `name`, as `sources remove` does: its definition (its sealed secrets with
    /// it), and its sponsorships (with the resources no other source sponsors). Returns how many
    /// resources went.
    pub async fn delete(&self, name: &str) -> Result<u64, ServiceError> {
        let definition = self.definition(name)?;
        self.store.remove(&definition)?;
        let db = self.db.clone();
        let name = name.to_owned();
        blocking(move || {
            let mut inventory = Inventory::open(&db)?;
            Ok(inventory.remove_source(&name, Timestamp::now())?)
        })
        .await
    }

    /// The stored source `name`, with its sealed secrets, and its connector.
    pub async fn load(&self, name: &str) -> Result<(SourceFile, Arc<Connector>), ServiceError> {
        let definition = self.definition(name)?;
        let file = SourceFile::parse(&definition.location, &definition.text)
            .map_err(|e| field_of_source_error(&e))?
            .open_sealed(&self.vault)?;
        let set = self.connectors().await;
        let connector = connectors::resolve(&self.runtime, &set, &file.connector)
            .await
            .map_err(|e| FieldError::new("connector", e.to_string()))?;
        Ok((file, connector))
    }

    /// The connector's `check` of `file`: `Ok` with its answer, `Err` with why it failed.
    pub async fn check(
        &self,
        file: &SourceFile,
        connector: &Connector,
    ) -> Result<Result<String, String>, ServiceError> {
        let source = run::resolve(file, connector).map_err(|e| field_of_source_error(&e))?;
        let sandbox = run::sandbox_for(file, &source);
        Ok(self
            .runtime
            .check(connector, sandbox, &source.name, source.config.clone())
            .await
            .map_err(|e| inert(&e.to_string()).into_owned()))
    }

    /// Starts a run of source `name` now; its id as soon as it is recorded.
    pub async fn run_now(&self, name: &str) -> Result<i64, ServiceError> {
        let (file, connector) = self.load(name).await?;
        run::resolve(&file, &connector).map_err(|e| field_of_source_error(&e))?;
        let (tx, rx) = oneshot::channel();
        let started = Arc::new(Started(Mutex::new(Some(tx))));
        let runtime = self.runtime.clone();
        let db = self.db.clone();
        let cancel = self.cancel.clone();
        let events: Arc<dyn RunEvents> = started.clone();
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(async move {
                let outcome = run::run_source(
                    &runtime,
                    &db,
                    &file,
                    &connector,
                    RunOptions::default(),
                    events,
                    Some(cancel),
                )
                .await;
                let source = file.name.clone();
                match outcome {
                    Ok(report) => tracing::info!(source = %source, run = report.summary.run_id, "run (started on the Sources page) succeeded"),
                    Err(error) => {
                        tracing::warn!(source = %source, "run (started on the Sources page): {}", inert(&error.to_string()));
                        if let Some(tx) = started.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
                            let _ = tx.send(Err(error));
                        }
                    }
                }
            });
        match rx.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(RunError::Busy(error))) => Err(ServiceError::Conflict(FieldError::new(
                "name",
                inert(&error.to_string()),
            ))),
            Ok(Err(error)) => Err(ServiceError::Internal(
                inert(&error.to_string()).into_owned(),
            )),
            Err(_) => Err(ServiceError::Internal(
                "the run ended without saying so".to_owned(),
            )),
        }
    }

    /// Cancels the runs started here and waits for them to be recorded.
    pub async fn finish_runs(&self) {
        let mut runs = std::mem::take(&mut *self.runs.lock().unwrap_or_else(|e| e.into_inner()));
        while runs.join_next().await.is_some() {}
    }

    /// The run history, newest first.
    pub async fn runs(
        &self,
        source: Option<String>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, ServiceError> {
        let db = self.db.clone();
        blocking(move || Ok(Inventory::open(&db)?.runs(source.as_deref(), Some(limit))?)).await
    }

    /// Run `id`, with its log.
    pub async fn run(&self, id: i64) -> Result<RunDetail, ServiceError> {
        let db = self.db.clone();
        blocking(move || {
            let run = Inventory::open(&db)?
                .runs(None, None)?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or_else(|| ServiceError::NotFound(format!("no run {id}")))?;
            Ok(RunDetail {
                log: run.warnings.clone(),
                run,
            })
        })
        .await
    }

    /// A page of resources.
    pub async fn resources(&self, query: ResourceQuery) -> Result<ResourcePage, ServiceError> {
        // A form's empty field (`source=`) means "any", as a missing one does.
        let query = ResourceQuery {
            source: query.source.filter(|s| !s.is_empty()),
            ..query
        };
        let db = self.db.clone();
        blocking(move || {
            let all = Inventory::open(&db)?.resources(query.source.as_deref())?;
            let mut types: Vec<String> = all.iter().map(|r| r.resource_type.clone()).collect();
            types.sort();
            types.dedup();
            let needle = query.q.as_deref().map(str::to_lowercase);
            let mut matching: Vec<StoredResource> = all
                .into_iter()
                .filter(|r| {
                    query
                        .resource_type
                        .as_deref()
                        .is_none_or(|t| t.is_empty() || r.resource_type == t)
                })
                .filter(|r| {
                    query
                        .parent
                        .as_deref()
                        .is_none_or(|p| p.is_empty() || r.parent_uri.as_deref() == Some(p))
                })
                .filter(|r| {
                    needle.as_deref().is_none_or(|n| {
                        r.name.to_lowercase().contains(n) || r.uri.to_lowercase().contains(n)
                    })
                })
                .collect();
            matching.sort_by(|a, b| a.uri.cmp(&b.uri));
            let total = matching.len();
            let limit = query.limit.unwrap_or(50).clamp(1, 500);
            let after = query.after.unwrap_or_default();
            let mut items: Vec<StoredResource> = matching
                .into_iter()
                .filter(|r| after.is_empty() || r.uri.as_str() > after.as_str())
                .take(limit + 1)
                .collect();
            let next = (items.len() > limit).then(|| {
                items.truncate(limit);
                items.last().map(|r| r.uri.clone()).unwrap_or_default()
            });
            Ok(ResourcePage {
                items,
                next,
                total,
                types,
            })
        })
        .await
    }

    /// One resource, with its count of children.
    pub async fn resource(&self, uri: &str) -> Result<ResourceDetail, ServiceError> {
        let db = self.db.clone();
        let uri = uri.to_owned();
        blocking(move || {
            let all = Inventory::open(&db)?.resources(None)?;
            let children = all
                .iter()
                .filter(|r| r.parent_uri.as_deref() == Some(uri.as_str()))
                .count();
            let resource = all
                .into_iter()
                .find(|r| r.uri == uri)
                .ok_or_else(|| ServiceError::NotFound(format!("no resource {}", inert(&uri))))?;
            Ok(ResourceDetail { resource, children })
        })
        .await
    }
}

/// A setting's value as JSON: text, number, boolean or a list of strings.
pub fn setting_json(value: &SettingValue) -> serde_json::Value {
    match value {
        SettingValue::Text(text) => text.as_str().into(),
        SettingValue::Integer(i) => (*i).into(),
        SettingValue::Boolean(b) => (*b).into(),
        SettingValue::TextList(items) => items.as_slice().into(),
    }
}

/// The name of a setting's kind, as `spec --json` says it.
pub fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Integer => "integer",
        FieldKind::Boolean => "boolean",
        FieldKind::Url => "url",
        FieldKind::Choice(_) => "choice",
        FieldKind::TextList => "list",
    }
}

/// Whether a setting of `spec` is a credential: its spec marks it secret, or its credential
/// scheme reads it.
pub fn is_secret_field(spec: &ConnectorSpec, field: &ConfigField) -> bool {
    field.secret
        || spec
            .credential
            .as_ref()
            .is_some_and(|scheme| scheme.secret_names().contains(&field.name.as_str()))
}

/// A connector as `GET /connectors` lists it: id, version and spec (the fields a form has).
pub fn spec_json(connector: &Connector) -> serde_json::Value {
    let spec = &connector.spec;
    let fields: Vec<serde_json::Value> = spec
        .fields
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name,
                "label": f.label,
                "description": f.description,
                "kind": kind_name(&f.kind),
                "choices": match &f.kind {
                    FieldKind::Choice(choices) => Some(choices),
                    _ => None,
                },
                "required": f.required,
                "secret": is_secret_field(spec, f),
                "default": f.default_value.as_ref().map(setting_json),
            })
        })
        .collect();
    serde_json::json!({
        "id": spec.id,
        "display_name": spec.display_name,
        "version": spec.version,
        "description": spec.description,
        "digest": connector.digest,
        "contract": connector.contract_version().as_str(),
        "resource_types": spec.resource_types,
        "spec": { "fields": fields },
    })
}
