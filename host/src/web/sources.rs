//! Where the Sources page keeps source definitions, and the one model the page and the API edit.
//!
//! A definition is the text of a source file, the one model `sources apply` stores too.
//! [`SourceStore`] is the one seam between the page and where definitions live, the same place
//! `serve` schedules from: [`FileStore`] keeps them as `*.toml` files in `serve`'s sources
//! directory (which the scheduler watches), [`DatabaseStore`] as definitions in a shared
//! PostgreSQL inventory (`--database`), which every worker of the pool reads on every tick.
//!
//! [`SourceBody`] is a source file as JSON (`name`, `connector`, `settings`, `secrets`,
//! `schedule`, `cleanup`): [`SourceBody::to_text`] writes it over an existing definition's text
//! (so that the tables the page does not edit, `[network]` and `[limits]`, stay), with each
//! secret typed anew written sealed (see `vault`), never in clear.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::connectors::BUNDLED_ID;
use crate::contract::{ConnectorSpec, CredentialScheme};
use crate::fsutil::write_atomically;
use crate::inventory::{Database, Inventory, InventoryError, SourceDefinition};
use crate::scheduler::schedule::ScheduleError;
use crate::source::{SourceError, SourceProblem};

/// A stored source definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The source's name.
    pub name: String,
    /// The source file's text.
    pub text: String,
    /// Where it lives (the file).
    pub location: PathBuf,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The database of definitions failed.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

/// Where source definitions live.
pub trait SourceStore: Send + Sync {
    /// Every definition that parses, by name.
    fn list(&self) -> Result<Vec<Definition>, StoreError>;

    /// The definition named `name`.
    fn get(&self, name: &str) -> Result<Option<Definition>, StoreError> {
        Ok(self.list()?.into_iter().find(|d| d.name == name))
    }

    /// Stores a new definition of `name`; returns where.
    fn create(&self, name: &str, text: &str) -> Result<PathBuf, StoreError>;

    /// Replaces `old` with `text`.
    fn replace(&self, old: &Definition, text: &str) -> Result<(), StoreError>;

    /// Removes `old`.
    fn remove(&self, old: &Definition) -> Result<(), StoreError>;

    /// The directory `serve` watches, for `status`; none when definitions live in a database.
    fn dir(&self) -> Option<&Path>;
}

/// Source files in a directory, one per source.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// The store of `dir` (made when first written).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// A file name for a new source: its name in lowercase letters, digits and dashes.
    fn new_path(&self, name: &str) -> PathBuf {
        let mut slug = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_matches('-').chars().take(60).collect();
        let slug = if slug.is_empty() {
            "source".to_owned()
        } else {
            slug
        };
        let mut candidate = self.dir.join(format!("{slug}.toml"));
        let mut n = 2;
        while candidate.exists() {
            candidate = self.dir.join(format!("{slug}-{n}.toml"));
            n += 1;
        }
        candidate
    }
}

impl SourceStore for FileStore {
    fn list(&self) -> Result<Vec<Definition>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        let mut list: Vec<Definition> = Vec::new();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(table) = text.parse::<toml::Table>() else {
                continue;
            };
            let Some(name) = table.get("name").and_then(toml::Value::as_str) else {
                continue;
            };
            let name = name.trim().to_owned();
            // The first file in path order owns a name, as for `serve`.
            if !name.is_empty() && !list.iter().any(|d| d.name == name) {
                list.push(Definition {
                    name,
                    text,
                    location: path,
                });
            }
        }
        Ok(list)
    }

    fn create(&self, name: &str, text: &str) -> Result<PathBuf, StoreError> {
        let path = self.new_path(name);
        write_atomically(&path, text.as_bytes()).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    fn replace(&self, old: &Definition, text: &str) -> Result<(), StoreError> {
        write_atomically(&old.location, text.as_bytes()).map_err(|source| StoreError::Io {
            path: old.location.clone(),
            source,
        })
    }

    fn remove(&self, old: &Definition) -> Result<(), StoreError> {
        std::fs::remove_file(&old.location).map_err(|source| StoreError::Io {
            path: old.location.clone(),
            source,
        })
    }

    fn dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

/// Where `sources apply` puts what the page stores.
const APPLIED_FROM_PAGE: &str = "the Sources page";

/// Source definitions in a shared inventory, as `sources apply` stores them.
#[derive(Debug)]
pub struct DatabaseStore {
    db: Database,
}

impl DatabaseStore {
    /// The definitions of `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    fn put(&self, name: &str, text: &str) -> Result<(), StoreError> {
        Inventory::open(&self.db)?.apply_source(
            &SourceDefinition {
                name: name.to_owned(),
                text: text.to_owned(),
                applied_from: APPLIED_FROM_PAGE.to_owned(),
            },
            jiff::Timestamp::now(),
        )?;
        Ok(())
    }
}

impl SourceStore for DatabaseStore {
    fn list(&self) -> Result<Vec<Definition>, StoreError> {
        Ok(Inventory::open(&self.db)?
            .source_definitions()?
            .into_iter()
            .map(|stored| Definition {
                name: stored.name,
                text: stored.text,
                location: PathBuf::from(stored.applied_from),
            })
            .collect())
    }

    fn create(&self, name: &str, text: &str) -> Result<PathBuf, StoreError> {
        self.put(name, text)?;
        Ok(PathBuf::from(APPLIED_FROM_PAGE))
    }

    fn replace(&self, old: &Definition, text: &str) -> Result<(), StoreError> {
        let table: toml::Table = text.parse().unwrap_or_default();
        let name = table
            .get("name")
            .and_then(toml::Value::as_str)
            .unwrap_or(&old.name)
            .trim()
            .to_owned();
        self.put(&name, text)?;
        if name != old.name {
            Inventory::open(&self.db)?.remove_source_definition(&old.name)?;
        }
        Ok(())
    }

    fn remove(&self, old: &Definition) -> Result<(), StoreError> {
        Inventory::open(&self.db)?.remove_source_definition(&old.name)?;
        Ok(())
    }

    fn dir(&self) -> Option<&Path> {
        None
    }
}

/// A source as the API takes it: the same model as a source file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    /// The source's name.
    #[serde(default)]
    pub name: String,
    /// The connector's id.
    #[serde(default = "bundled")]
    pub connector: String,
    /// The settings, as in `[settings]`.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Secrets typed anew, by name; a secret left out keeps its stored value.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The `[schedule]` table, or none (run only when asked).
    #[serde(default)]
    pub schedule: Option<serde_json::Value>,
    /// The `[cleanup]` table, or none (immediate).
    #[serde(default)]
    pub cleanup: Option<serde_json::Value>,
}

fn bundled() -> String {
    BUNDLED_ID.to_owned()
}

/// One problem with a source, naming its field as the CLI does (`settings.page_size`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's path in the source file.
    pub field: String,
    /// What is wrong, as one line.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl SourceBody {
    /// The source file's text for this body, written over `base` (an existing file's text, or
    /// empty): the keys the body models are replaced, every other table kept. `sealed` holds
    /// the secrets typed anew, sealed: each replaces the `[secrets]` entry of its name.
    pub fn to_text(
        &self,
        base: &str,
        sealed: &BTreeMap<String, String>,
    ) -> Result<String, FieldError> {
        let mut table: toml::Table = base.parse().unwrap_or_default();
        table.insert("name".into(), toml::Value::String(self.name.trim().into()));
        table.insert(
            "connector".into(),
            toml::Value::String(self.connector.clone()),
        );
        let mut settings = toml::Table::new();
        for (key, value) in &self.settings {
            let field = format!("settings.{key}");
            if let Some(value) = to_toml(&field, value)? {
                settings.insert(key.clone(), value);
            }
        }
        table.remove("settings");
        if !settings.is_empty() {
            table.insert("settings".into(), toml::Value::Table(settings));
        }
        if !sealed.is_empty() {
            let secrets = table
                .entry("secrets")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(secrets) = secrets {
                for (name, value) in sealed {
                    secrets.insert(name.clone(), toml::Value::String(value.clone()));
                }
            }
        }
        for (key, value) in [("schedule", &self.schedule), ("cleanup", &self.cleanup)] {
            table.remove(key);
            if let Some(value) = value
                && let Some(value) = to_toml(key, value)?
            {
                table.insert(key.into(), value);
            }
        }
        toml::to_string(&table).map_err(|e| FieldError::new("body", e.to_string()))
    }
}

/// A JSON value as TOML; `null` is "not set".
fn to_toml(field: &str, value: &serde_json::Value) -> Result<Option<toml::Value>, FieldError> {
    use serde_json::Value as J;
    Ok(Some(match value {
        J::Null => return Ok(None),
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => toml::Value::Integer(i),
            (None, Some(f)) => toml::Value::Float(f),
            (None, None) => return Err(FieldError::new(field, "a number out of range")),
        },
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(items) => toml::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    to_toml(&format!("{field}[{i}]"), item)?
                        .ok_or_else(|| FieldError::new(format!("{field}[{i}]"), "must not be null"))
                })
                .collect::<Result<_, _>>()?,
        ),
        J::Object(map) => {
            let mut table = toml::Table::new();
            for (key, item) in map {
                if let Some(item) = to_toml(&format!("{field}.{key}"), item)? {
                    table.insert(key.clone(), item);
                }
            }
            toml::Value::Table(table)
        }
    }))
}

/// A source file's text as the API shows it: its model, with no secret value in it (secrets by
/// name only; a credential written under `[settings]` left out).
pub fn view_of(text: &str, spec: Option<&ConnectorSpec>) -> serde_json::Value {
    let table: toml::Table = text.parse().unwrap_or_default();
    let json = |key: &str| {
        table
            .get(key)
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let secret_fields = |spec: &ConnectorSpec| -> Vec<String> {
        let mut names: Vec<String> = spec
            .fields
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.clone())
            .collect();
        if let Some(scheme) = &spec.credential {
            names.extend(
                CredentialScheme::secret_names(scheme)
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        names
    };
    let mut settings = serde_json::Map::new();
    // Without the connector's spec nothing says which setting is a credential: show none.
    if let (Some(spec), Some(toml::Value::Table(written))) = (spec, table.get("settings")) {
        let hidden = secret_fields(spec);
        for (key, value) in written {
            if !hidden.contains(key)
                && let Ok(value) = serde_json::to_value(value)
            {
                settings.insert(key.clone(), value);
            }
        }
    }
    serde_json::json!({
        "name": table.get("name").and_then(toml::Value::as_str).unwrap_or_default().trim(),
        "connector": table.get("connector").and_then(toml::Value::as_str).unwrap_or(BUNDLED_ID),
        "settings": settings,
        "schedule": json("schedule"),
        "cleanup": json("cleanup"),
        "network": json("network"),
        "limits": json("limits"),
    })
}

/// The names of the secrets written in a source file's `[secrets]` table.
pub fn written_secrets(text: &str) -> Vec<String> {
    let table: toml::Table = text.parse().unwrap_or_default();
    match table.get("secrets") {
        Some(toml::Value::Table(secrets)) => secrets.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The field a source file's problem is about, as the CLI names it.
pub fn field_of_source_error(error: &SourceError) -> FieldError {
    let message = error.problem.to_string();
    let field = match &*error.problem {
        SourceProblem::EmptyName => "name".to_owned(),
        SourceProblem::Connector(_) => "connector".to_owned(),
        SourceProblem::Grant { index, .. } => format!("network.allow[{index}]"),
        SourceProblem::Cleanup(_) => backticked(&message).unwrap_or_else(|| "cleanup".to_owned()),
        SourceProblem::Limits(_) => backticked(&message).unwrap_or_else(|| "limits".to_owned()),
        SourceProblem::UnknownSetting { key, .. } => format!("settings.{key}"),
        SourceProblem::SettingAndSecret(name) => format!("secrets.{name}"),
        SourceProblem::UnknownSecret { key, .. }
        | SourceProblem::SecretType { key, .. }
        | SourceProblem::CredentialInSettings { key, .. }
        | SourceProblem::SettingType { key, .. }
        | SourceProblem::CarriesSecret { key, .. }
        | SourceProblem::MissingSetting { key, .. }
        | SourceProblem::Credential { key, .. } => key.clone(),
        SourceProblem::EmptySecret(key) => key.clone(),
        SourceProblem::MissingSecret { name, .. } => format!("secrets.{name}"),
        SourceProblem::BaseUrl { field, .. } => format!("settings.{field}"),
        SourceProblem::BasicWithoutUser { username, .. } => format!("settings.{username}"),
        // The rest quote their field in backticks: env references, kinds, bearer values, syntax.
        _ => backticked(&message).unwrap_or_else(|| "body".to_owned()),
    };
    FieldError { field, message }
}

/// The field a schedule's problem is about.
pub fn field_of_schedule_error(error: &ScheduleError) -> FieldError {
    let field = match error {
        ScheduleError::Invalid { field, .. }
        | ScheduleError::UnknownKey { field, .. }
        | ScheduleError::UnknownTimeZone { field, .. } => field.clone(),
    };
    FieldError::new(field, error.to_string())
}

/// The first `` `…` `` in a message, without a `settings.`/`secrets.` prefix lost.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let quoted = &message[start..end];
    (!quoted.is_empty() && !quoted.contains(' ')).then(|| quoted.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_keeps_the_tables_it_does_not_model_and_drops_typed_secrets_from_the_file() {
        let base = "name = \"Old\"\nconnector = \"hex\"\n[secrets]\napi_token = \"${HEX}\"\nother = \"x\"\n[limits]\nmemory_mib = 64\n";
        let body = SourceBody {
            name: " New ".into(),
            connector: "hex".into(),
            settings: serde_json::from_str(r#"{"page_size": 10, "base_url": null}"#).unwrap(),
            secrets: BTreeMap::from([("api_token".into(), "typed".into())]),
            schedule: Some(serde_json::json!({"hourly": {"every_hours": 6}})),
            cleanup: None,
        };
        let sealed = BTreeMap::from([("api_token".to_owned(), "euno-sealed:x".to_owned())]);
        let text = body.to_text(base, &sealed).unwrap();
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["name"].as_str(), Some("New"));
        assert_eq!(table["settings"]["page_size"].as_integer(), Some(10));
        assert!(table["settings"].get("base_url").is_none());
        assert_eq!(table["limits"]["memory_mib"].as_integer(), Some(64));
        assert_eq!(
            table["secrets"]["api_token"].as_str(),
            Some("euno-sealed:x")
        );
        assert_eq!(table["secrets"]["other"].as_str(), Some("x"));
        assert!(!text.contains("typed"));
        assert_eq!(
            table["schedule"]["hourly"]["every_hours"].as_integer(),
            Some(6)
        );
    }

    #[test]
    fn a_file_store_names_files_after_sources_and_finds_them_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let path = store
            .create("Hex - Analytics", "name = \"Hex - Analytics\"\n")
            .unwrap();
        assert_eq!(path.file_name().unwrap(), "hex-analytics.toml");
        let second = store
            .create("hex analytics", "name = \"hex analytics\"\n")
            .unwrap();
        assert_eq!(second.file_name().unwrap(), "hex-analytics-2.toml");
        let found = store.get("Hex - Analytics").unwrap().unwrap();
        assert_eq!(found.location, path);
        store.remove(&found).unwrap();
        assert!(store.get("Hex - Analytics").unwrap().is_none());
    }
}
