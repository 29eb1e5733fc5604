//! Lineage on PostgreSQL: the relations and checkpoints of `inventory::lineage` (whose
//! documentation gives the rules), in PostgreSQL's dialect.
//!
//! Where the SQLite backend stages a run's relations in tables of their own, this one carries
//! them in the run's staging table, as two parallel arrays on each resource's row (`NULL` for
//! "unchanged since the last run"): the `COPY` that stages a resource stages its relations, and
//! the merge's de-duplication of a URI staged twice keeps the relations of its last copy. The
//! checkpoint and the spec's external namespaces a run ends with wait on its row in `runs`.

use tokio_postgres::Transaction;

use super::super::lineage::{DroppedRelations, EXAMPLES};
use super::super::{RelationsUpdate, RunId};
use super::{Fail, staging};

/// Migration 5: what SQLite's migration 7 holds, and the columns a run's end waits in.
pub(super) const MIGRATION: &str = r"
    CREATE TABLE relations (
        source TEXT NOT NULL,
        uri    TEXT NOT NULL,
        kind   TEXT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (source, uri, kind, target),
        FOREIGN KEY (source, uri) REFERENCES sponsorships (source, uri) ON DELETE CASCADE
    );
    CREATE TABLE checkpoints (
        source       TEXT   PRIMARY KEY,
        connector_id TEXT   NOT NULL,
        checkpoint   BYTEA  NOT NULL,
        run_id       BIGINT NOT NULL REFERENCES runs (id),
        saved_at     BIGINT NOT NULL
    );
    ALTER TABLE runs ADD COLUMN pending_checkpoint BYTEA;
    ALTER TABLE runs ADD COLUMN external_namespaces TEXT[];
";

/// The columns of a staging table that hold its resources' relations.
pub(super) const STAGING_COLUMNS: &str = "relation_kinds TEXT[], relation_targets TEXT[]";

/// A resource's relations as the two array columns of its staged row.
pub(super) fn staging_values(relations: &RelationsUpdate) -> [Option<Vec<&str>>; 2] {
    match relations {
        RelationsUpdate::Unchanged => [None, None],
        RelationsUpdate::Set(list) => [
            Some(list.iter().map(|r| r.kind.as_str()).collect()),
            Some(list.iter().map(|r| r.target.as_str()).collect()),
        ],
    }
}

/// Records what `run` ended with: the checkpoint it saved (or none) and the spec's external
/// namespaces.
pub(super) async fn stage_end(
    tx: &Transaction<'_>,
    run: RunId,
    checkpoint: Option<&[u8]>,
    external_namespaces: &[String],
) -> Result<(), Fail> {
    tx.execute(
        "UPDATE runs SET pending_checkpoint = $2, external_namespaces = $3
         WHERE id = $1 AND outcome = 'running'",
        &[&run.0, &checkpoint, &external_namespaces],
    )
    .await?;
    Ok(())
}

/// Whether a relation's kind follows the contract: lowercase ASCII letters, digits and `-`.
const VALID_KIND: &str = "(n.kind ~ '^[a-z0-9-]+$')";

/// Whether `{t}` (a target column) is a resource staged in `table` or in one of the external
/// namespaces bound to `{namespaces}` (a parameter).
fn valid_target(table: &str, t: &str, namespaces: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM {table} s WHERE s.uri = {t})
          OR split_part({t}, '.', 1) = ANY({namespaces}::text[]))"
    )
}

/// Merges the staged relations of run `run` of `source` (whose sponsorships the resources' merge
/// has written), and stores its checkpoint: the same steps as SQLite's `lineage::merge`.
pub(super) async fn merge(
    tx: &Transaction<'_>,
    run: RunId,
    source: &str,
    connector_id: &str,
    saved_at: i64,
) -> Result<DroppedRelations, Fail> {
    let table = staging(run);
    let namespaces: Vec<String> = tx
        .query_one(
            "SELECT coalesce(external_namespaces, '{}') FROM runs WHERE id = $1",
            &[&run.0],
        )
        .await?
        .get(0);
    let staged = format!(
        "(SELECT t.uri, n.kind, n.target FROM {table} t
          CROSS JOIN LATERAL unnest(t.relation_kinds, t.relation_targets) AS n (kind, target))"
    );
    let valid_new = valid_target(&table, "n.target", "$1");
    let row = tx
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE NOT {VALID_KIND}),
                        count(*) FILTER (WHERE {VALID_KIND} AND NOT {valid_new})
                 FROM {staged} n"
            ),
            &[&namespaces],
        )
        .await?;
    let (bad_kind, unknown_target): (i64, i64) = (row.get(0), row.get(1));
    let mut examples = Vec::new();
    if bad_kind + unknown_target > 0 {
        // Sorted bytewise, as SQLite sorts them, whatever the database's collation.
        examples = tx
            .query(
                &format!(
                    "SELECT e FROM (
                         SELECT n.uri || ' -' || n.kind || '-> ' || n.target AS e FROM {staged} n
                         WHERE NOT ({VALID_KIND} AND {valid_new})) x
                     ORDER BY e COLLATE \"C\" LIMIT {EXAMPLES}"
                ),
                &[&namespaces],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
    }
    tx.execute(
        &format!(
            "DELETE FROM relations r USING {table} s
             WHERE r.source = $1 AND s.uri = r.uri
               AND (NOT {}
                    OR (s.relation_kinds IS NOT NULL AND NOT EXISTS (
                            SELECT 1 FROM unnest(s.relation_kinds, s.relation_targets)
                                          AS n (kind, target)
                            WHERE n.kind = r.kind AND n.target = r.target)))",
            valid_target(&table, "r.target", "$2")
        ),
        &[&source, &namespaces],
    )
    .await?;
    tx.execute(
        &format!(
            "INSERT INTO relations (source, uri, kind, target)
             SELECT DISTINCT $2::text, n.uri, n.kind, n.target FROM {staged} n
             WHERE {VALID_KIND} AND {valid_new}
             ON CONFLICT DO NOTHING"
        ),
        &[&namespaces, &source],
    )
    .await?;
    tx.execute("DELETE FROM checkpoints WHERE source = $1", &[&source])
        .await?;
    tx.execute(
        "INSERT INTO checkpoints (source, connector_id, checkpoint, run_id, saved_at)
         SELECT $1, $2, pending_checkpoint, id, $4 FROM runs
         WHERE id = $3 AND pending_checkpoint IS NOT NULL",
        &[&source, &connector_id, &run.0, &saved_at],
    )
    .await?;
    Ok(DroppedRelations {
        bad_kind: bad_kind as u64,
        unknown_target: unknown_target as u64,
        examples,
    })
}

/// The checkpoint the last successful run of `source` saved, if it ran `connector_id`.
pub(super) async fn checkpoint(
    tx: &Transaction<'_>,
    source: &str,
    connector_id: &str,
) -> Result<Option<Vec<u8>>, Fail> {
    Ok(tx
        .query_opt(
            "SELECT checkpoint FROM checkpoints WHERE source = $1 AND connector_id = $2",
            &[&source, &connector_id],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Forgets the checkpoint of `source`.
pub(super) async fn forget(tx: &Transaction<'_>, source: &str) -> Result<(), Fail> {
    tx.execute("DELETE FROM checkpoints WHERE source = $1", &[&source])
        .await?;
    Ok(())
}

/// The relations of `r.uri` as `resources` lists them, a JSON array of `{"kind", "target"}`
/// sorted bytewise and without duplicates: those `$1` stored, or with `NULL` those of every
/// sponsor.
pub(super) const RELATIONS_JSON: &str = "
    (SELECT coalesce(json_agg(json_build_object('kind', d.kind, 'target', d.target)
                              ORDER BY d.kind COLLATE \"C\", d.target COLLATE \"C\"), '[]')::text
     FROM (SELECT DISTINCT l.kind, l.target
           FROM sponsorships sp JOIN relations l ON l.source = sp.source AND l.uri = sp.uri
           WHERE sp.uri = r.uri AND ($1::text IS NULL OR sp.source = $1)) d)";
