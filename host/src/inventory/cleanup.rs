//! Cleanup: which resources a source stops vouching for after a successful run.
//!
//! Cleanup only ever drops *this* source's sponsorships; a resource leaves the inventory when no
//! source sponsors it any more. It runs inside the run's merge transaction, so a run and its
//! cleanup land together or not at all.

use rusqlite::Connection;

use super::{InventoryError, RunId};

/// When a source's resources that a successful run did not report are let go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CleanupStrategy {
    /// Drop the source's sponsorship of everything this run did not report.
    #[default]
    Immediate,
    /// Keep everything the source ever reported.
    None,
    /// Drop the sponsorship of resources the source has not reported for more than this many
    /// days (24-hour periods), counted back from the run's start.
    AfterDays(u32),
}

/// A source's cleanup settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CleanupPolicy {
    /// When unreported resources are let go.
    pub strategy: CleanupStrategy,
    /// A guard between 0 and 1: refuse a cleanup that would remove more than this share of the
    /// resources the source sponsored before the run (a connector that suddenly sees nothing
    /// should not empty the inventory). A refused cleanup removes nothing and says why.
    pub max_removal_ratio: Option<f64>,
}

impl CleanupPolicy {
    pub(super) fn check(&self, source: &str) -> Result<(), InventoryError> {
        match self.max_removal_ratio {
            Some(ratio) if !(0.0..=1.0).contains(&ratio) => {
                Err(InventoryError::InvalidRemovalRatio {
                    source_name: source.to_owned(),
                    ratio,
                })
            }
            _ => Ok(()),
        }
    }
}

/// What cleanup did, or would do.
#[derive(Debug, Default)]
pub(super) struct Cleanup {
    /// Sponsorships dropped.
    pub removed: u64,
    /// Filled only when asked (dry runs).
    pub removed_uris: Vec<String>,
    pub refused: Option<String>,
}

const MS_PER_DAY: i64 = 86_400_000;

// The sponsorships cleanup drops: those of ?1 that run ?2 did not renew and last seen before ?3.
const STALE: &str = "source = ?1 AND last_run_id <> ?2 AND last_seen < ?3";

/// Applies `policy` for `source` after run `run` (started at `seen`) has been merged.
/// `sponsored_before` is how many resources the source sponsored before the merge: the base of
/// the removal ratio.
pub(super) fn apply(
    conn: &Connection,
    run: RunId,
    source: &str,
    seen: i64,
    sponsored_before: u64,
    policy: &CleanupPolicy,
    list_uris: bool,
) -> rusqlite::Result<Cleanup> {
    let cutoff = match policy.strategy {
        CleanupStrategy::None => return Ok(Cleanup::default()),
        // Every sponsorship this run renewed has `last_run_id = run`; everything else goes.
        CleanupStrategy::Immediate => i64::MAX,
        CleanupStrategy::AfterDays(days) => seen.saturating_sub(i64::from(days) * MS_PER_DAY),
    };
    let params = (source, run.0, cutoff);
    let stale: u64 = conn.query_row(
        &format!("SELECT count(*) FROM sponsorships WHERE {STALE}"),
        params,
        |row| row.get(0),
    )?;
    if let Some(ratio) = policy.max_removal_ratio
        && stale as f64 > ratio * sponsored_before as f64
    {
        return Ok(Cleanup {
            refused: Some(format!(
                "cleanup would remove {stale} of the {sponsored_before} resources source '{source}' \
                 sponsored ({:.0}%), more than its max_removal_ratio of {ratio} allows, so nothing \
                 was removed; if the source really lost them, raise max_removal_ratio",
                stale as f64 * 100.0 / sponsored_before as f64
            )),
            ..Cleanup::default()
        });
    }
    let mut removed_uris = Vec::new();
    if list_uris {
        let mut stmt = conn.prepare(&format!(
            "SELECT uri FROM sponsorships WHERE {STALE} ORDER BY uri"
        ))?;
        removed_uris = stmt
            .query_map(params, |row| row.get(0))?
            .collect::<Result<_, _>>()?;
    }
    // The source lets go of them; those no source sponsors any more leave the inventory. The
    // URIs are set aside first, in the run's staging file, so that each table is read once.
    conn.execute_batch("DROP TABLE IF EXISTS staging.dropped")?;
    conn.execute(
        &format!("CREATE TABLE staging.dropped AS SELECT uri FROM sponsorships WHERE {STALE}"),
        params,
    )?;
    conn.execute(&format!("DELETE FROM sponsorships WHERE {STALE}"), params)?;
    conn.execute(
        "DELETE FROM resources WHERE uri IN (
             SELECT uri FROM staging.dropped d
             WHERE NOT EXISTS (SELECT 1 FROM sponsorships other WHERE other.uri = d.uri))",
        [],
    )?;
    Ok(Cleanup {
        removed: stale,
        removed_uris,
        refused: None,
    })
}
