//! Cleanup: which resources a source stops vouching for after a successful run.
//!
//! Cleanup only ever drops *this* source's sponsorships; a resource leaves the inventory when no
//! source sponsors it any more. It runs inside the run's merge transaction, so a run and its
//! cleanup land together or not at all. A guard, on by default, refuses a cleanup that would
//! remove more than a share of the source's resources (see [`DEFAULT_MAX_REMOVAL_RATIO`]).

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

/// The removal guard of a source that sets no `max_removal_ratio`: a cleanup may remove at most
/// half of what the source sponsored before the run. A connector whose upstream answers "200, no
/// results" (an expired permission, a wrong workspace, a bug) must not empty the inventory; a
/// source that really shrinks by more than half says so with `max_removal_ratio = 1.0` or one
/// `run --allow-mass-removal`.
pub const DEFAULT_MAX_REMOVAL_RATIO: f64 = 0.5;

/// Whether `ratio` can be a `max_removal_ratio`: above 0 (a guard of 0 would refuse every
/// cleanup, which `strategy = "none"` says plainly) and at most 1 (which turns the guard off).
/// The one rule, for source files and the inventory alike.
pub fn is_removal_ratio(ratio: f64) -> bool {
    ratio > 0.0 && ratio <= 1.0
}

/// A source's cleanup settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CleanupPolicy {
    /// When unreported resources are let go.
    pub strategy: CleanupStrategy,
    /// The guard (see [`is_removal_ratio`]): refuse a cleanup that would remove more than this
    /// share of the resources the source sponsored before the run. `None` means
    /// [`DEFAULT_MAX_REMOVAL_RATIO`]; `1.0` turns the guard off. Whatever the ratio below 1, a
    /// cleanup that would remove all of a non-empty source's resources is refused. A refused
    /// cleanup removes nothing and says why.
    pub max_removal_ratio: Option<f64>,
}

impl CleanupPolicy {
    /// This policy with the guard off, for one run the user has confirmed
    /// (`run --allow-mass-removal`).
    pub fn allowing_mass_removal(self) -> Self {
        Self {
            max_removal_ratio: Some(1.0),
            ..self
        }
    }

    pub(super) fn check(&self, source: &str) -> Result<(), InventoryError> {
        match self.max_removal_ratio {
            Some(ratio) if !is_removal_ratio(ratio) => Err(InventoryError::InvalidRemovalRatio {
                source_name: source.to_owned(),
                ratio,
            }),
            _ => Ok(()),
        }
    }

    /// Why removing `stale` of the `before` resources `source` sponsored is refused, if it is.
    pub(super) fn refusal(&self, source: &str, stale: u64, before: u64) -> Option<String> {
        let ratio = self.max_removal_ratio.unwrap_or(DEFAULT_MAX_REMOVAL_RATIO);
        if ratio >= 1.0 || stale == 0 || stale as f64 <= ratio * before as f64 {
            return None;
        }
        const OPT_OUT: &str = "if the source really lost them, set `max_removal_ratio = 1.0` in \
            its [cleanup] table, or run it once with `euno-host run --allow-mass-removal`";
        Some(if stale >= before {
            format!(
                "cleanup would remove all {stale} resources source '{source}' sponsored, so nothing \
                 was removed: a source that suddenly reports none of what it had is more likely \
                 broken than empty; {OPT_OUT}"
            )
        } else {
            let limit = match self.max_removal_ratio {
                Some(ratio) => format!("its max_removal_ratio of {ratio}"),
                None => format!(
                    "the default max_removal_ratio of {DEFAULT_MAX_REMOVAL_RATIO} (it sets none)"
                ),
            };
            format!(
                "cleanup would remove {stale} of the {before} resources source '{source}' \
                 sponsored ({:.0}%), more than {limit} allows, so nothing was removed; {OPT_OUT}",
                stale as f64 * 100.0 / before as f64
            )
        })
    }
}

/// What cleanup did, or would do.
#[derive(Debug, Default)]
pub(super) struct Cleanup {
    /// Sponsorships dropped.
    pub removed: u64,
    /// Filled only when asked (dry runs): what cleanup removes or, when it is refused, would
    /// have removed.
    pub removed_uris: Vec<String>,
    pub refused: Option<String>,
}

const MS_PER_DAY: i64 = 86_400_000;

// The sponsorships cleanup drops: those of ?1 that run ?2 did not renew and last seen before ?3.
const STALE: &str = "source = ?1 AND last_run_id <> ?2 AND last_seen < ?3";

/// The sponsorships `policy` lets go after a run that started at `seen`: those last seen before
/// the returned instant (and not renewed by the run); `None` when it lets go of nothing.
pub(super) fn cutoff(policy: &CleanupPolicy, seen: i64) -> Option<i64> {
    match policy.strategy {
        CleanupStrategy::None => None,
        // Every sponsorship this run renewed has `last_run_id = run`; everything else goes.
        CleanupStrategy::Immediate => Some(i64::MAX),
        CleanupStrategy::AfterDays(days) => Some(seen.saturating_sub(i64::from(days) * MS_PER_DAY)),
    }
}

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
    let Some(cutoff) = cutoff(policy, seen) else {
        return Ok(Cleanup::default());
    };
    let params = (source, run.0, cutoff);
    let stale: u64 = conn.query_row(
        &format!("SELECT count(*) FROM sponsorships WHERE {STALE}"),
        params,
        |row| row.get(0),
    )?;
    let mut removed_uris = Vec::new();
    if list_uris {
        let mut stmt = conn.prepare(&format!(
            "SELECT uri FROM sponsorships WHERE {STALE} ORDER BY uri"
        ))?;
        removed_uris = stmt
            .query_map(params, |row| row.get(0))?
            .collect::<Result<_, _>>()?;
    }
    if let Some(reason) = policy.refusal(source, stale, sponsored_before) {
        // A dry run still lists what the refused cleanup would have removed.
        return Ok(Cleanup {
            refused: Some(reason),
            removed_uris,
            ..Cleanup::default()
        });
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
