//! Merging a successful run's staged resources into the inventory, and telling what changed.
//!
//! Everything is set-based SQL over the run's staging file (attached as `staging`), so a run of 100 000 resources merges
//! in a few passes inside SQLite instead of 100 000 round trips through Rust.

use rusqlite::Connection;

use super::RunId;

/// How the staged resources of a run compare with the inventory before the merge.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Filled only when asked (dry runs): a real run of 100k resources must not hold them.
    pub added_uris: Vec<String>,
    pub updated_uris: Vec<String>,
}

// A resource has changed when anything a user sees differs: its content hash (see
// `schema::content_hash`) covers its type, name, parent, native id and properties, hashed as
// their canonical JSON text (`PropertiesJson`), so equal properties give equal hashes. The staged
// rows are read through their index on (uri, content_hash), in URI order.
const CLASSIFIED: &str = "
    SELECT s.uri,
           CASE WHEN r.uri IS NULL THEN 'added'
                WHEN r.content_hash <> s.content_hash THEN 'updated'
                ELSE 'unchanged' END AS change
    FROM staging.staged_resources s INDEXED BY staged_by_uri
    LEFT JOIN resources r ON r.uri = s.uri";

/// Writes the run's staged resources into the inventory (see [`upsert`]) and tells how they
/// compare with what it held: added, updated or unchanged.
///
/// With `list_uris` (dry runs) every staged resource is classified first, URIs included.
/// Otherwise only the new URIs are counted up front, from the two URI indexes alone, and the
/// updated ones are those the upsert wrote.
pub(super) fn merge(
    conn: &Connection,
    run: RunId,
    source: &str,
    seen: i64,
    list_uris: bool,
) -> rusqlite::Result<Changes> {
    if list_uris {
        let changes = classify(conn)?;
        upsert(conn, run, source, seen)?;
        return Ok(changes);
    }
    let (staged, added): (u64, u64) = conn.query_row(
        "SELECT count(*),
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.uri = s.uri))
         FROM staging.staged_resources s INDEXED BY staged_by_uri",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let written = upsert(conn, run, source, seen)?;
    Ok(Changes {
        added,
        updated: written.saturating_sub(added),
        unchanged: staged.saturating_sub(written),
        ..Changes::default()
    })
}

/// Classifies the run's staged resources as added, updated or unchanged, with their URIs.
fn classify(conn: &Connection) -> rusqlite::Result<Changes> {
    let mut changes = conn.query_row(
        &format!(
            "SELECT count(*) FILTER (WHERE change = 'added'),
                    count(*) FILTER (WHERE change = 'updated'),
                    count(*) FILTER (WHERE change = 'unchanged')
             FROM ({CLASSIFIED})"
        ),
        [],
        |row| {
            Ok(Changes {
                added: row.get(0)?,
                updated: row.get(1)?,
                unchanged: row.get(2)?,
                ..Changes::default()
            })
        },
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT uri, change FROM ({CLASSIFIED}) WHERE change <> 'unchanged' ORDER BY uri"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let list = match row.get_ref(1)?.as_str()? {
            "added" => &mut changes.added_uris,
            _ => &mut changes.updated_uris,
        };
        list.push(row.get(0)?);
    }
    Ok(changes)
}

/// Writes the run's staged resources into `resources` and records that `source` sponsors them.
///
/// `seen` (the run's start) becomes `first_seen` of new resources, `last_changed` of new and
/// changed ones, and `last_seen` of the sponsorships. Unchanged resources are not rewritten, nor
/// are their staged rows even read (a resource's `last_seen` is the latest of its
/// sponsorships'), which keeps a run that changes little cheap however many resources it
/// reports. Returns how many resources were inserted or rewritten.
fn upsert(conn: &Connection, run: RunId, source: &str, seen: i64) -> rusqlite::Result<u64> {
    // The staged rows to write, in URI order, listed first: an INSERT whose SELECT reads the
    // table it writes would copy every selected row aside before writing any.
    conn.execute_batch(
        "DROP TABLE IF EXISTS staging.to_write;
         CREATE TABLE staging.to_write AS
         SELECT s.rowid AS staged FROM staging.staged_resources s INDEXED BY staged_by_uri
         WHERE NOT EXISTS (
             SELECT 1 FROM resources r WHERE r.uri = s.uri AND r.content_hash = s.content_hash)
         ORDER BY s.uri;",
    )?;
    let written = conn.execute(
        "INSERT INTO resources
             (uri, resource_type, name, parent_uri, native_id, properties, content_hash,
              first_seen, last_changed)
         SELECT uri, resource_type, name, parent_uri, native_id, properties, content_hash, ?1, ?1
         FROM staging.to_write w CROSS JOIN staging.staged_resources s ON s.rowid = w.staged
         ORDER BY w.rowid
         ON CONFLICT (uri) DO UPDATE SET
             (resource_type, name, parent_uri, native_id, properties, content_hash,
              last_changed) =
                 (excluded.resource_type, excluded.name, excluded.parent_uri,
                  excluded.native_id, excluded.properties, excluded.content_hash,
                  excluded.last_changed)",
        [seen],
    )?;
    conn.execute(
        "INSERT INTO sponsorships (source, uri, last_seen, last_run_id)
         SELECT ?2, uri, ?3, ?1
         FROM staging.staged_resources INDEXED BY staged_by_uri WHERE true ORDER BY uri
         ON CONFLICT (source, uri) DO UPDATE SET
             last_seen = max(last_seen, excluded.last_seen),
             last_run_id = excluded.last_run_id",
        (run.0, source, seen),
    )?;
    Ok(written as u64)
}
