//! What a run carries besides its resources: their relations, and the checkpoint the source's
//! next run receives. Kept apart from the resources' merge so that each backend ports it as one
//! piece (SQLite migration 7 holds its tables).
//!
//! While a run streams, each resource's relations go into its staging file next to it
//! (`staged_relations`, or `kept_relations` for a resource whose relations are unchanged), and
//! the checkpoint and the spec's external namespaces are staged when the connector returns. The
//! merge of a successful run then, in the same transaction as the resources':
//! - drops the emitted relations that break the contract (a kind other than lowercase letters,
//!   digits and `-`; a target that is neither a resource of this run nor in an external
//!   namespace), counting them for the run's warnings;
//! - replaces the stored relations of every resource emitted with a set, writing only the
//!   difference; keeps those of a resource emitted as unchanged, less the ones whose target is
//!   gone; leaves those of resources the run did not emit (cleanup decides about those);
//! - replaces the source's checkpoint with the one the run saved (none: none).
//!
//! Relations belong to a sponsorship (source, URI): removing it, in cleanup or with the
//! resource, removes them (a foreign key cascades).

use rusqlite::{Connection, OptionalExtension};

use super::{RelationsUpdate, RunId};

/// Creates the run's staging tables for relations, checkpoint and namespaces, if missing.
pub(super) fn create_staging(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS staging.staged_relations (
             uri    TEXT NOT NULL,
             kind   TEXT NOT NULL,
             target TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS staging.kept_relations (uri TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS staging.external_namespaces (namespace TEXT PRIMARY KEY);
         CREATE TABLE IF NOT EXISTS staging.pending_checkpoint (checkpoint BLOB NOT NULL);",
    )
}

/// Stages one resource's relations.
pub(super) fn stage(
    conn: &Connection,
    uri: &str,
    relations: &RelationsUpdate,
) -> rusqlite::Result<()> {
    match relations {
        RelationsUpdate::Unchanged => {
            conn.prepare_cached("INSERT INTO staging.kept_relations (uri) VALUES (?1)")?
                .execute([uri])?;
        }
        RelationsUpdate::Set(list) if list.is_empty() => {}
        RelationsUpdate::Set(list) => {
            let mut insert = conn.prepare_cached(
                "INSERT INTO staging.staged_relations (uri, kind, target) VALUES (?1, ?2, ?3)",
            )?;
            for relation in list {
                insert.execute((uri, &relation.kind, &relation.target))?;
            }
        }
    }
    Ok(())
}

/// Stages what the run ends with: the checkpoint it saved (replacing any staged before) and the
/// spec's external namespaces.
pub(super) fn stage_end(
    conn: &Connection,
    checkpoint: Option<&[u8]>,
    external_namespaces: &[String],
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM staging.pending_checkpoint", [])?;
    if let Some(bytes) = checkpoint {
        conn.execute(
            "INSERT INTO staging.pending_checkpoint (checkpoint) VALUES (?1)",
            [bytes],
        )?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO staging.external_namespaces (namespace) VALUES (?1)",
    )?;
    for namespace in external_namespaces {
        insert.execute([namespace])?;
    }
    Ok(())
}

/// Indexes the staged relations for the merge. Idempotent; outside the write transaction.
pub(super) fn index_for_merge(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS staging.staged_relations_by_uri
             ON staged_relations (uri, kind, target);
         CREATE INDEX IF NOT EXISTS staging.kept_relations_by_uri ON kept_relations (uri);",
    )
}

/// Whether a relation's kind follows the contract: lowercase ASCII letters, digits and `-`.
const VALID_KIND: &str = "(n.kind <> '' AND n.kind NOT GLOB '*[^a-z0-9-]*')";

/// Whether `{t}` (a target column) is a resource of this run or in an external namespace.
fn valid_target(t: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM staging.staged_resources s WHERE s.uri = {t})
          OR substr({t}, 1, instr({t} || '.', '.') - 1)
             IN (SELECT namespace FROM staging.external_namespaces))"
    )
}

/// The relations a merge dropped because they break the contract, for the run's warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DroppedRelations {
    /// Relations whose kind is not lowercase letters, digits and `-`.
    pub bad_kind: u64,
    /// Relations whose target is neither a resource of the run nor in an external namespace.
    pub unknown_target: u64,
    /// A few of them, `uri -kind-> target`, sorted.
    pub examples: Vec<String>,
}

/// How many examples [`DroppedRelations`] keeps.
pub(super) const EXAMPLES: usize = 3;

/// Merges the staged relations of run `run` of `source` (whose sponsorships the resources' merge
/// has written), and stores its checkpoint; see the module's documentation.
pub(super) fn merge(
    conn: &Connection,
    run: RunId,
    source: &str,
    connector_id: &str,
    saved_at: i64,
) -> rusqlite::Result<DroppedRelations> {
    let valid_new = valid_target("n.target");
    let (bad_kind, unknown_target): (u64, u64) = conn.query_row(
        &format!(
            "SELECT count(*) FILTER (WHERE NOT {VALID_KIND}),
                    count(*) FILTER (WHERE {VALID_KIND} AND NOT {valid_new})
             FROM staging.staged_relations n"
        ),
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let mut examples = Vec::new();
    if bad_kind + unknown_target > 0 {
        let mut stmt = conn.prepare(&format!(
            "SELECT n.uri || ' -' || n.kind || '-> ' || n.target FROM staging.staged_relations n
             WHERE NOT ({VALID_KIND} AND {valid_new}) ORDER BY 1 LIMIT {EXAMPLES}"
        ))?;
        examples = stmt
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
    }
    // Stored relations of the resources this run emitted: gone from the set the run gave, or
    // (kept or not) pointing at a target that is gone. Only the source's own are read.
    conn.execute(
        &format!(
            "DELETE FROM relations AS r
             WHERE r.source = ?1
               AND EXISTS (SELECT 1 FROM staging.staged_resources s WHERE s.uri = r.uri)
               AND (NOT {}
                    OR (NOT EXISTS (SELECT 1 FROM staging.kept_relations k WHERE k.uri = r.uri)
                        AND NOT EXISTS (
                            SELECT 1 FROM staging.staged_relations n
                            WHERE n.uri = r.uri AND n.kind = r.kind AND n.target = r.target)))",
            valid_target("r.target")
        ),
        [source],
    )?;
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO relations (source, uri, kind, target)
             SELECT ?1, n.uri, n.kind, n.target
             FROM staging.staged_relations n INDEXED BY staged_relations_by_uri
             WHERE {VALID_KIND} AND {valid_new}
             ORDER BY n.uri, n.kind, n.target"
        ),
        [source],
    )?;
    conn.execute("DELETE FROM checkpoints WHERE source = ?1", [source])?;
    conn.execute(
        "INSERT INTO checkpoints (source, connector_id, checkpoint, run_id, saved_at)
         SELECT ?1, ?2, checkpoint, ?3, ?4 FROM staging.pending_checkpoint",
        (source, connector_id, run.0, saved_at),
    )?;
    Ok(DroppedRelations {
        bad_kind,
        unknown_target,
        examples,
    })
}

/// The checkpoint the last successful run of `source` saved, if it ran the connector
/// `connector_id` (a checkpoint is the connector's own bytes: another connector cannot read it).
pub(super) fn checkpoint(
    conn: &Connection,
    source: &str,
    connector_id: &str,
) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT checkpoint FROM checkpoints WHERE source = ?1 AND connector_id = ?2",
        (source, connector_id),
        |row| row.get(0),
    )
    .optional()
}

/// Forgets the checkpoint of `source`.
pub(super) fn forget(conn: &Connection, source: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM checkpoints WHERE source = ?1", [source])?;
    Ok(())
}

/// The relations of `uri` as `resources` lists them, as a JSON array of `{"kind", "target"}`
/// sorted and without duplicates: those `source` stored, or with `None` those of every sponsor.
pub(super) const RELATIONS_JSON: &str = "
    (SELECT json_group_array(json_object('kind', kind, 'target', target))
     FROM (SELECT DISTINCT l.kind, l.target
           FROM sponsorships sp JOIN relations l ON l.source = sp.source AND l.uri = sp.uri
           WHERE sp.uri = r.uri AND (?1 IS NULL OR sp.source = ?1)
           ORDER BY l.kind, l.target))";
