//! The Minidash workspace: its datasets and dashboards, a deterministic synthetic one, edits
//! between runs, and the ground truth a connector's output is compared with.
//!
//! The items are kept exactly as the API serves them (the server only sorts them by id), so a
//! fixture can hold anything the API allows: nulls, ids with any characters, dashboards naming
//! datasets that do not exist.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::synthetic::SplitMix64;
use crate::timestamp::{DAY_MILLIS, REFERENCE_MILLIS, format_millis, parse_millis};

/// A Minidash dataset, as `GET /datasets` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Unique in the workspace; any characters.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Free text, or null.
    #[serde(default)]
    pub description: Option<String>,
    /// The warehouse table behind the dataset, or null.
    #[serde(default)]
    pub source_table: Option<String>,
    /// How many rows it holds, or null.
    #[serde(default)]
    pub row_count: Option<i64>,
    /// When it last changed (RFC 3339), or null.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A Minidash dashboard: `GET /dashboards` serves all but `dataset_ids`, and
/// `GET /dashboards/{id}` serves all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Unique in the workspace; any characters.
    pub id: String,
    /// The display name.
    pub title: String,
    /// An email address, or null.
    #[serde(default)]
    pub owner: Option<String>,
    /// Always present, possibly empty.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it last changed (RFC 3339), or null. Minidash moves it on every change, including a
    /// change of `dataset_ids`: [`MinidashWorkspace::edited`] and
    /// [`MinidashWorkspace::edit_dashboard`] keep that rule, a test that changes the field by
    /// hand may break it on purpose.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The datasets the dashboard's charts read, existing or not.
    #[serde(default)]
    pub dataset_ids: Vec<String>,
}

/// What a Minidash simulator serves: `{"datasets": [...], "dashboards": [...]}` as JSON.
///
/// Items may be in any order (the server sorts them by id), but ids must be unique within each
/// listing, or the paging could not be stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinidashWorkspace {
    /// Every dataset.
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    /// Every dashboard.
    #[serde(default)]
    pub dashboards: Vec<Dashboard>,
}

/// Dataset ids with characters a connector must escape, in URIs and in paths. They go to every
/// sixth dataset (index 1, 7, 13, …) until the list runs out; no two differ only by case, since
/// connectors lowercase ids in URIs.
const ODD_DATASET_IDS: &[&str] = &["Sales.EU", "x/1", "50% margin", "Ümsatz EU", "a+b?c#d"];

/// Dashboard ids like [`ODD_DATASET_IDS`], at index 2, 8, 14, …; each must survive
/// `GET /dashboards/{id}` percent-encoded as one segment.
const ODD_DASHBOARD_IDS: &[&str] = &[
    "x/1",
    "Q3.Review",
    "ops/daily 100%",
    "a?b=c&d#e",
    "Café+Board",
];

/// Every sixth dashboard (index 4, 10, …) reads one of the odd-id datasets, so relations to them
/// are always exercised; every sixth (index 5, 11, …) names a dataset that does not exist.
const READS_ODD_DATASET: usize = 4;
const NAMES_MISSING_DATASET: usize = 5;

/// The most existing datasets a synthetic dashboard reads.
const MAX_READS: u64 = 5;

const DATASET_NAMES: &[&str] = &[
    "Orders",
    "Customers",
    "Revenue by day",
    "Web sessions",
    "Support tickets",
    "Inventory snapshot",
    "Ad spend",
    "Subscriptions",
    "Churned accounts",
    "Ventes — Europe",
    "売上 (daily)",
    "Product events 🚀",
];

const DESCRIPTIONS: &[&str] = &[
    "Every order since 2019",
    "One row per customer, refreshed nightly.",
    "Joined from the billing and CRM exports; see #data-eng before changing.",
    "Données agrégées par jour.",
    "Deprecated: use the v2 dataset.",
];

const TABLES: &[&str] = &[
    "snowflake.sales.public.orders",
    "snowflake.sales.public.customers",
    "bigquery.analytics.web.sessions",
    "postgres.app.public.tickets",
    "snowflake.finance.marts.revenue_daily",
    "databricks.main.events.product_events",
];

const DASHBOARD_TITLES: &[&str] = &[
    "Revenue",
    "Weekly active users",
    "Churn watch",
    "Marketing funnel 📈",
    "Board metrics",
    "Support backlog",
    "Tableau de bord — ventes",
    "在庫ダッシュボード",
    "Pricing experiments",
    "Ops daily",
];

const OWNERS: &[&str] = &[
    "ann@acme.example",
    "bob@acme.example",
    "chloé.dubois@acme.example",
    "wei.zhang@acme.example",
    "ngozi.okafor@acme.example",
];

const TAGS: &[&str] = &["finance", "ops", "marketing", "sales", "exec", "product"];

/// Salts, so that datasets, dashboards and edits draw from unrelated streams of one seed.
const DATASET_SALT: u64 = 0x6d64_6473_0000_0001;
const DASHBOARD_SALT: u64 = 0x6d64_6462_0000_0002;
const EDIT_SALT: u64 = 0x6d64_6564_0000_0003;

const MINUTE_MILLIS: i64 = 60_000;

impl MinidashWorkspace {
    /// A deterministic workspace of `datasets` datasets and `dashboards` dashboards: the same
    /// arguments always give the same workspace.
    ///
    /// Dataset ids are `ds_1`, `ds_2`, … and dashboard ids `db_1`, `db_2`, …, except a few with
    /// odd characters (`Sales.EU`, `x/1`, `50% margin`, …; dashboards `x/1`, `Q3.Review`,
    /// `ops/daily 100%`, …), and they are not generated in id order, so the server's sorting
    /// shows. Each dashboard reads 0 to 5 distinct existing datasets; every sixth one reads an
    /// odd-id dataset and every sixth (from the sixth) also names a dataset that does not exist
    /// (`gone_<n>`). About a fifth of descriptions and a tenth of owners, tables and row counts
    /// are null, a twentieth of dataset `updated_at`s too; every dashboard has an `updated_at`
    /// (set on creation, as Minidash does). Timestamps lie in the year before
    /// [`crate::REFERENCE_TIMESTAMP`], to the second (`2026-05-04T10:11:12Z`).
    pub fn synthetic(seed: u64, datasets: usize, dashboards: usize) -> MinidashWorkspace {
        let datasets: Vec<Dataset> = (0..datasets)
            .map(|index| synthetic_dataset(seed, index))
            .collect();
        let ids: Vec<&str> = datasets.iter().map(|dataset| dataset.id.as_str()).collect();
        let odd: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| ODD_DATASET_IDS.contains(id))
            .collect();
        let dashboards = (0..dashboards)
            .map(|index| synthetic_dashboard(seed, index, &ids, &odd))
            .collect();
        MinidashWorkspace {
            datasets,
            dashboards,
        }
    }

    /// Loads a workspace from a JSON file, `{"datasets": [...], "dashboards": [...]}`, with the
    /// fields of the API (a dashboard with its `dataset_ids`); optional fields may be left out.
    /// A field the API does not have, or an id twice in one listing, is an error naming the file.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<MinidashWorkspace, SimError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| SimError::ReadMinidashFixture {
                path: path.to_path_buf(),
                source,
            })?;
        let workspace =
            Self::from_json_str(&text).map_err(|source| SimError::ParseMinidashFixture {
                path: path.to_path_buf(),
                source,
            })?;
        workspace.duplicate_id().map_or(Ok(workspace), |reason| {
            Err(SimError::InvalidMinidashWorkspace {
                fixture: Some(path.to_path_buf()),
                reason,
            })
        })
    }

    /// Parses the form of [`Self::from_json_file`] from a string (ids are checked when served).
    pub fn from_json_str(text: &str) -> Result<MinidashWorkspace, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The workspace as the JSON [`Self::from_json_file`] reads.
    pub fn to_json(&self) -> String {
        // Strings, numbers and nulls only: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The ground truth of relations: for every dashboard (by id), the ids of the existing
    /// datasets it reads. A connector should relate each dashboard to exactly these.
    pub fn expected_reads(&self) -> BTreeMap<String, BTreeSet<String>> {
        let existing = self.dataset_ids();
        self.dashboards
            .iter()
            .map(|board| {
                let reads = board
                    .dataset_ids
                    .iter()
                    .filter(|id| existing.contains(id.as_str()))
                    .cloned()
                    .collect();
                (board.id.clone(), reads)
            })
            .collect()
    }

    /// The dashboards that name datasets the workspace does not have, with those ids: what a
    /// connector should warn about rather than relate.
    pub fn missing_reads(&self) -> BTreeMap<String, BTreeSet<String>> {
        let existing = self.dataset_ids();
        self.dashboards
            .iter()
            .filter_map(|board| {
                let missing: BTreeSet<String> = board
                    .dataset_ids
                    .iter()
                    .filter(|id| !existing.contains(id.as_str()))
                    .cloned()
                    .collect();
                (!missing.is_empty()).then(|| (board.id.clone(), missing))
            })
            .collect()
    }

    /// A copy of this workspace after `count` dashboards (fewer if it has fewer) changed the
    /// datasets they read, and the ids of those dashboards, sorted.
    ///
    /// Each picked dashboard reads one more existing dataset or one fewer (or, in a workspace
    /// without datasets, names one more missing one), so its `dataset_ids` always change, and
    /// its `updated_at` moves past every timestamp in the workspace, as a change made after the
    /// last run would. The same seed picks the same dashboards and makes the same changes.
    pub fn edited(&self, seed: u64, count: usize) -> (MinidashWorkspace, Vec<String>) {
        let mut workspace = self.clone();
        let mut rng = SplitMix64::new(seed ^ EDIT_SALT);
        let indices: Vec<usize> = (0..workspace.dashboards.len()).collect();
        let picked: Vec<usize> = rng
            .pick_distinct(&indices, count)
            .into_iter()
            .copied()
            .collect();
        let dataset_ids: Vec<String> = workspace
            .datasets
            .iter()
            .map(|dataset| dataset.id.clone())
            .collect();
        let mut changed = Vec::with_capacity(picked.len());
        for (order, index) in picked.into_iter().enumerate() {
            let board = &workspace.dashboards[index];
            let reads = changed_reads(&mut rng, board, &dataset_ids, order);
            let id = board.id.clone();
            workspace.edit_dashboard(&id, reads);
            changed.push(id);
        }
        changed.sort();
        (workspace, changed)
    }

    /// Sets the datasets dashboard `id` reads and moves its `updated_at` a minute past every
    /// timestamp in the workspace, as Minidash does on any change. False when there is no such
    /// dashboard.
    pub fn edit_dashboard(&mut self, id: &str, dataset_ids: Vec<String>) -> bool {
        let now = self.newest_millis() + MINUTE_MILLIS;
        let Some(board) = self.dashboards.iter_mut().find(|board| board.id == id) else {
            return false;
        };
        board.dataset_ids = dataset_ids;
        board.updated_at = Some(rfc3339(now));
        true
    }

    /// The first id that appears twice in one listing, as an error reason.
    pub(crate) fn duplicate_id(&self) -> Option<String> {
        fn twice<'a>(mut ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
            let mut seen = HashSet::new();
            ids.find(|id| !seen.insert(*id))
        }
        if let Some(id) = twice(self.datasets.iter().map(|item| item.id.as_str())) {
            return Some(format!("two datasets have the id `{id}`"));
        }
        twice(self.dashboards.iter().map(|item| item.id.as_str()))
            .map(|id| format!("two dashboards have the id `{id}`"))
    }

    fn dataset_ids(&self) -> HashSet<&str> {
        self.datasets
            .iter()
            .map(|dataset| dataset.id.as_str())
            .collect()
    }

    /// The newest timestamp in the workspace that the simulator can read, and never before
    /// [`REFERENCE_MILLIS`]: edits happen after the synthetic workspace was made.
    fn newest_millis(&self) -> i64 {
        let datasets = self.datasets.iter().map(|item| &item.updated_at);
        let dashboards = self.dashboards.iter().map(|item| &item.updated_at);
        datasets
            .chain(dashboards)
            .filter_map(|at| at.as_deref().and_then(parse_rfc3339_utc))
            .fold(REFERENCE_MILLIS, i64::max)
    }
}

fn synthetic_dataset(seed: u64, index: usize) -> Dataset {
    let mut rng = SplitMix64::new(SplitMix64::new(seed ^ DATASET_SALT ^ index as u64).next_u64());
    let id = odd_id(ODD_DATASET_IDS, index, 1)
        .map_or_else(|| format!("ds_{}", index + 1), str::to_owned);
    let mut name = (*rng.pick(DATASET_NAMES)).to_owned();
    if rng.percent(30) {
        name.push_str(&format!(" ({})", index + 1));
    }
    Dataset {
        id,
        name,
        description: rng
            .percent(80)
            .then(|| (*rng.pick(DESCRIPTIONS)).to_owned()),
        source_table: rng.percent(90).then(|| (*rng.pick(TABLES)).to_owned()),
        row_count: rng.percent(90).then(|| rng.below(5_000_000) as i64),
        updated_at: rng.percent(95).then(|| synthetic_time(&mut rng)),
    }
}

fn synthetic_dashboard(seed: u64, index: usize, datasets: &[&str], odd: &[&str]) -> Dashboard {
    let mut rng = SplitMix64::new(SplitMix64::new(seed ^ DASHBOARD_SALT ^ index as u64).next_u64());
    let id = odd_id(ODD_DASHBOARD_IDS, index, 2)
        .map_or_else(|| format!("db_{}", index + 1), str::to_owned);
    let mut title = (*rng.pick(DASHBOARD_TITLES)).to_owned();
    if rng.percent(40) {
        title.push_str(&format!(" #{}", index + 1));
    }
    let owner = rng.percent(90).then(|| (*rng.pick(OWNERS)).to_owned());
    let tag_count = rng.below(4) as usize;
    let tags = rng
        .pick_distinct(TAGS, tag_count)
        .into_iter()
        .map(|tag| (*tag).to_owned())
        .collect();
    let read_count = rng.below(MAX_READS + 1) as usize;
    let mut dataset_ids: Vec<String> = rng
        .pick_distinct(datasets, read_count)
        .into_iter()
        .map(|id| (*id).to_owned())
        .collect();
    if index % 6 == READS_ODD_DATASET && !odd.is_empty() {
        let id = odd[index / 6 % odd.len()].to_owned();
        if !dataset_ids.contains(&id) {
            if dataset_ids.len() as u64 == MAX_READS {
                dataset_ids.pop();
            }
            dataset_ids.push(id);
        }
    }
    if index % 6 == NAMES_MISSING_DATASET {
        let at = rng.below(dataset_ids.len() as u64 + 1) as usize;
        dataset_ids.insert(at, format!("gone_{}", index + 1));
    }
    Dashboard {
        id,
        title,
        owner,
        tags,
        updated_at: Some(synthetic_time(&mut rng)),
        dataset_ids,
    }
}

/// The odd id item `index` gets, if it is one of the every-sixth items from `offset`.
fn odd_id(ids: &'static [&'static str], index: usize, offset: usize) -> Option<&'static str> {
    (index % 6 == offset)
        .then(|| ids.get(index / 6))
        .flatten()
        .copied()
}

/// The dataset ids `board` reads after an edit: one existing dataset more or fewer.
fn changed_reads(
    rng: &mut SplitMix64,
    board: &Dashboard,
    datasets: &[String],
    order: usize,
) -> Vec<String> {
    let mut reads = board.dataset_ids.clone();
    let unread: Vec<&String> = datasets.iter().filter(|id| !reads.contains(id)).collect();
    let read: Vec<usize> = (0..reads.len())
        .filter(|at| datasets.contains(&reads[*at]))
        .collect();
    if !unread.is_empty() && (read.is_empty() || rng.percent(50)) {
        reads.push((*rng.pick(&unread)).clone());
    } else if !read.is_empty() {
        reads.remove(*rng.pick(&read));
    } else {
        // No datasets at all: the only change left is naming another missing one.
        reads.push(format!("gone_edit_{}", order + 1));
    }
    reads
}

/// A time in the year before the reference instant, to the second.
fn synthetic_time(rng: &mut SplitMix64) -> String {
    let seconds = rng.between(60, 365 * DAY_MILLIS / 1000);
    rfc3339(REFERENCE_MILLIS - seconds * 1000)
}

/// RFC 3339 in UTC to the second, the shape Minidash documents: `2025-01-02T00:00:00Z`.
fn rfc3339(millis: i64) -> String {
    let text = format_millis(millis.div_euclid(1000) * 1000);
    format!("{}Z", &text[..19])
}

/// Reads `YYYY-MM-DDTHH:MM:SSZ`, optionally with milliseconds; `None` for any other shape
/// (such a timestamp is then not considered when finding the newest one).
fn parse_rfc3339_utc(text: &str) -> Option<i64> {
    match text.len() {
        20 if text.ends_with('Z') => parse_millis(&format!("{}.000Z", &text[..19])),
        _ => parse_millis(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_to_the_second() {
        let text = rfc3339(REFERENCE_MILLIS - 1500);
        assert_eq!(text, "2026-10-31T23:59:58Z");
        assert_eq!(parse_rfc3339_utc(&text), Some(REFERENCE_MILLIS - 2000));
        assert_eq!(
            parse_rfc3339_utc("2026-10-31T23:59:58.250Z"),
            Some(REFERENCE_MILLIS - 1750)
        );
        assert_eq!(parse_rfc3339_utc("2026-10-31T23:59:58+00:00"), None);
    }

    #[test]
    fn odd_ids_go_to_every_sixth_item_until_they_run_out() {
        assert_eq!(odd_id(ODD_DATASET_IDS, 1, 1), Some("Sales.EU"));
        assert_eq!(odd_id(ODD_DATASET_IDS, 7, 1), Some("x/1"));
        assert_eq!(odd_id(ODD_DATASET_IDS, 2, 1), None);
        assert_eq!(
            odd_id(ODD_DATASET_IDS, 6 * ODD_DATASET_IDS.len() + 1, 1),
            None
        );
        let lowered: HashSet<String> = ODD_DATASET_IDS.iter().map(|id| id.to_lowercase()).collect();
        assert_eq!(lowered.len(), ODD_DATASET_IDS.len());
    }
}
