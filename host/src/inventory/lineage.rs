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
const EXAMPLES: usize = 3;

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

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::super::{
        CleanupPolicy, ConnectorIdentity, Inventory, NewResource, RelationsUpdate, StoredRelation,
    };

    fn identity(id: &str) -> ConnectorIdentity {
        ConnectorIdentity {
            id: id.into(),
            version: "1".into(),
            digest: String::new(),
        }
    }

    fn resource(uri: &str, relations: RelationsUpdate) -> NewResource {
        NewResource {
            uri: uri.into(),
            resource_type: "t".into(),
            name: uri.into(),
            parent_uri: None,
            native_id: None,
            properties: serde_json::Map::new().into(),
            relations,
        }
    }

    fn set(relations: &[(&str, &str)]) -> RelationsUpdate {
        RelationsUpdate::Set(
            relations
                .iter()
                .map(|(kind, target)| StoredRelation {
                    kind: (*kind).into(),
                    target: (*target).into(),
                })
                .collect(),
        )
    }

    /// One run of source `S` with connector `id`; its checkpoint and summary's drops.
    fn run(
        inventory: &mut Inventory,
        id: &str,
        at: i64,
        resources: &[NewResource],
        checkpoint: Option<&[u8]>,
    ) -> super::DroppedRelations {
        let at = Timestamp::from_second(at).unwrap();
        let run = inventory.begin_run("S", &identity(id), at).unwrap();
        inventory.stage(run, resources).unwrap();
        inventory
            .stage_end(run, checkpoint, &["snowflake".to_owned()])
            .unwrap();
        inventory
            .complete_run(
                run,
                at,
                &CleanupPolicy::default().allowing_mass_removal(),
                false,
            )
            .unwrap()
            .dropped_relations
    }

    fn relations(inventory: &Inventory, uri: &str) -> Vec<(String, String)> {
        inventory
            .resources(Some("S"))
            .unwrap()
            .into_iter()
            .find(|r| r.uri == uri)
            .unwrap()
            .relations
            .into_iter()
            .map(|r| (r.kind, r.target))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn relations_are_stored_replaced_kept_and_dropped_by_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut inventory = Inventory::open(&dir.path().join("i.db")).unwrap();
        let dropped = run(
            &mut inventory,
            "c",
            1,
            &[
                resource(
                    "a",
                    set(&[
                        ("reads", "b"),
                        ("reads", "snowflake.db.s.t"),
                        ("reads", "gone.x"),
                        ("Bad Kind", "b"),
                    ]),
                ),
                resource("b", set(&[("uses", "a")])),
            ],
            Some(b"one"),
        );
        assert_eq!((dropped.bad_kind, dropped.unknown_target), (1, 1));
        assert_eq!(dropped.examples, ["a -Bad Kind-> b", "a -reads-> gone.x"]);
        assert_eq!(
            relations(&inventory, "a"),
            pairs(&[("reads", "b"), ("reads", "snowflake.db.s.t")])
        );
        assert_eq!(
            inventory.checkpoint("S", "c").unwrap().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(inventory.checkpoint("S", "other").unwrap(), None);

        // `a` unchanged: kept, less the relation to `b`, which this run no longer has; `c` new
        // with a set replacing nothing. No checkpoint saved: none handed to the next run.
        let dropped = run(
            &mut inventory,
            "c",
            2,
            &[
                resource("a", RelationsUpdate::Unchanged),
                resource("c", set(&[("reads", "a")])),
            ],
            None,
        );
        assert_eq!(dropped, super::DroppedRelations::default());
        assert_eq!(
            relations(&inventory, "a"),
            pairs(&[("reads", "snowflake.db.s.t")])
        );
        assert_eq!(relations(&inventory, "c"), pairs(&[("reads", "a")]));
        assert_eq!(inventory.checkpoint("S", "c").unwrap(), None);

        // A set replaces; cleanup removes `c` and its relations with it.
        run(
            &mut inventory,
            "c",
            3,
            &[resource("a", set(&[("uses", "snowflake.x")]))],
            Some(b"two"),
        );
        assert_eq!(
            relations(&inventory, "a"),
            pairs(&[("uses", "snowflake.x")])
        );
        let count: i64 = inventory
            .conn
            .query_row("SELECT count(*) FROM relations", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 1, "the removed resource's relations went with it");

        inventory
            .remove_source("S", Timestamp::from_second(4).unwrap())
            .unwrap();
        assert_eq!(inventory.checkpoint("S", "c").unwrap(), None);
    }

    #[test]
    fn a_failed_run_keeps_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut inventory = Inventory::open(&dir.path().join("i.db")).unwrap();
        run(
            &mut inventory,
            "c",
            1,
            &[resource("a", set(&[]))],
            Some(b"kept"),
        );
        let at = Timestamp::from_second(2).unwrap();
        let failed = inventory.begin_run("S", &identity("c"), at).unwrap();
        inventory.stage_end(failed, Some(b"lost"), &[]).unwrap();
        inventory.fail_run(failed, at, "it failed").unwrap();
        assert_eq!(
            inventory.checkpoint("S", "c").unwrap().as_deref(),
            Some(&b"kept"[..])
        );
        assert_eq!(
            inventory.last_success_at("S").unwrap(),
            Some(Timestamp::from_second(1).unwrap())
        );
    }
}
