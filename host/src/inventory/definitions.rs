//! Source definitions kept in the inventory: what `sources apply` stores and `serve --database`
//! schedules, so that every worker sharing a database runs the same sources.
//!
//! A definition is the source file's text exactly as applied: a `${VAR}` stays a reference, which
//! each worker resolves from its own environment when it runs the source, so no secret value is
//! ever stored. `sources apply` refuses a file that holds one in clear (see the CLI); a later
//! issue may add encrypted stored secrets beside the text.

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{InventoryError, SqliteInventory, failed, rfc3339};
use crate::fsutil::hex_digest;

/// A source definition to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDefinition {
    /// The source's name (from its text).
    pub name: String,
    /// The source file's text, `${VAR}` references unexpanded.
    pub text: String,
    /// Where it was applied from (the file's path), for `sources list` and for `serve
    /// --sources`, which un-applies a definition whose file is removed.
    pub applied_from: String,
}

impl SourceDefinition {
    /// The digest of the text: `sha256:<hex>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex_digest(self.text.as_bytes()))
    }
}

/// A stored source definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredSource {
    /// The source's name.
    pub name: String,
    /// The text as applied.
    pub text: String,
    /// `sha256:<hex>` of the text.
    pub digest: String,
    /// When it was last applied with a change.
    #[serde(serialize_with = "rfc3339")]
    pub applied_at: Timestamp,
    /// Where it was applied from.
    pub applied_from: String,
}

/// What applying a definition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// No source of this name was stored.
    New,
    /// The stored text differed, and was replaced.
    Changed,
    /// The stored text is the same; nothing was written.
    Unchanged,
}

impl Applied {
    /// The word `sources apply` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
        }
    }
}

impl SqliteInventory {
    /// Stores `definition` as of `at`, replacing a stored one of the same name.
    pub fn apply_source(
        &self,
        definition: &SourceDefinition,
        at: Timestamp,
    ) -> Result<Applied, InventoryError> {
        let err = failed(&self.path, format!("applying source '{}'", definition.name));
        let digest = definition.digest();
        let tx = self.write().map_err(&err)?;
        let stored: Option<String> = tx
            .query_row(
                "SELECT digest FROM sources WHERE name = ?1",
                [&definition.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(&err)?;
        let applied = match stored {
            None => Applied::New,
            Some(stored) if stored == digest => return Ok(Applied::Unchanged),
            Some(_) => Applied::Changed,
        };
        tx.execute(
            "INSERT INTO sources (name, text, digest, applied_at, applied_from)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET
                 (text, digest, applied_at, applied_from) =
                     (excluded.text, excluded.digest, excluded.applied_at, excluded.applied_from)",
            (
                &definition.name,
                &definition.text,
                &digest,
                at.as_millisecond(),
                &definition.applied_from,
            ),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(applied)
    }

    /// The stored source definitions, by name.
    pub fn source_definitions(&self) -> Result<Vec<StoredSource>, InventoryError> {
        let err = failed(&self.path, "listing the source definitions".into());
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, text, digest, applied_at, applied_from FROM sources ORDER BY name",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(StoredSource {
                    name: row.get(0)?,
                    text: row.get(1)?,
                    digest: row.get(2)?,
                    applied_at: super::timestamp(row, 3)?,
                    applied_from: row.get(4)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Forgets the definition of `name`; `false` when there was none.
    pub fn remove_source_definition(&self, name: &str) -> Result<bool, InventoryError> {
        let removed = self
            .conn
            .execute("DELETE FROM sources WHERE name = ?1", [name])
            .map_err(failed(
                &self.path,
                format!("removing the definition of source '{name}'"),
            ))?;
        Ok(removed > 0)
    }
}
