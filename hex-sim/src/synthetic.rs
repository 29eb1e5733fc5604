//! A deterministic, realistic synthetic workspace.
//!
//! Demos, tests and benchmarks need many projects that look like a real Hex workspace, including
//! the awkward parts a connector must survive (null descriptions and statuses, missing owners,
//! archived, trashed and component items, unicode titles, unknown fields). The same seed always
//! gives the same workspace, byte for byte: the generator uses its own PRNG and a fixed reference
//! instant instead of `rand` and the wall clock.

pub(crate) mod content;

use serde_json::{Map, json};

use crate::model::{
    Access, Analytics, AppViews, Category, CollectionAccess, Field, GroupAccess, Named, Person,
    Project, Reviews, Schedule, Sharing, UserAccess, Workspace,
};
use crate::timestamp::{DAY_MILLIS, REFERENCE_MILLIS, format_millis};

pub use content::EditSummary;

/// The SplitMix64 generator: tiny, fast, and good enough to make test data look varied.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift; the tiny bias does not matter here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..high` (`low < high`).
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below(high.abs_diff(low)) as i64
    }

    /// True with the given probability in percent.
    pub(crate) fn percent(&mut self, chance: u64) -> bool {
        self.below(100) < chance
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `count` distinct items, in the order they were drawn.
    pub(crate) fn pick_distinct<'a, T>(&mut self, items: &'a [T], count: usize) -> Vec<&'a T> {
        let mut indices: Vec<usize> = Vec::with_capacity(count);
        while indices.len() < count.min(items.len()) {
            let index = self.below(items.len() as u64) as usize;
            if !indices.contains(&index) {
                indices.push(index);
            }
        }
        indices.into_iter().map(|index| &items[index]).collect()
    }

    /// A random (version 4) uuid.
    fn uuid(&mut self) -> String {
        let high = (self.next_u64() & !0xF000) | 0x4000;
        let low = (self.next_u64() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFFF,
            low >> 48,
            low & 0xFFFF_FFFF_FFFF
        )
    }
}

const PROJECT_TITLES: &[&str] = &[
    "Revenue dashboard",
    "Weekly active users",
    "Churn analysis",
    "Marketing funnel 🚀",
    "Ventes trimestrielles — Q3",
    "売上ダッシュボード",
    "📈 Growth metrics",
    "Análisis de cohortes",
    "Клиентская аналитика",
    "Données clients — Europe",
    "Inventory forecast",
    "Support ticket triage",
    "A/B test readout",
    "Pricing experiments",
    "Board deck metrics",
    "Ad spend attribution",
    "Data quality checks",
    "Onboarding funnel",
    "Retention by cohort",
    "Umsatz nach Region",
    "고객 세분화",
    "NPS survey results 😊",
    "Finance close checklist",
    "SQL scratchpad",
    "Warehouse cost monitor ❄️",
];

const COMPONENT_TITLES: &[&str] = &[
    "Date range filter",
    "Shared metric definitions",
    "Brand colour palette 🎨",
    "Standard revenue CTE",
    "Customer dimension",
    "Fiscal calendar",
];

const TITLE_SUFFIXES: &[&str] = &[
    " v2",
    " (copy)",
    " — EMEA",
    " — APAC",
    " 2025",
    " [draft]",
    " (old)",
    " Q1",
    " for leadership",
    " 🧪",
];

const DESCRIPTIONS: &[&str] = &[
    "Source of truth for the metric; refreshed every morning.",
    "Ad-hoc exploration, not for production use.",
    "Quarterly business review. Ask in #analytics before changing the queries.",
    "Used by the leadership team every Monday.",
    "Contains customer-level data: restricted access.\nSee the data handling policy.",
    "Suivi hebdomadaire des indicateurs clés — équipe commerciale.",
    "毎日更新される売上レポート",
    "Forked from the original analysis to try a new attribution model 🤞",
    "Reads from the warehouse `analytics.fct_orders` table.",
    "Deprecated: use the v2 project instead.",
];

const PEOPLE: &[&str] = &[
    "ada.lovelace",
    "grace.hopper",
    "alan.turing",
    "katherine.johnson",
    "dennis.ritchie",
    "barbara.liskov",
    "ken.thompson",
    "frances.allen",
    "edsger.dijkstra",
    "radia.perlman",
    "guido.vanrossum",
    "sophie.wilson",
    "jean.bartik",
    "hedy.lamarr",
    "yukihiro.matsumoto",
    "chloe.dubois",
    "jose.garcia",
    "ngozi.okafor",
    "wei.zhang",
    "priya.raman",
];

const EMAIL_DOMAIN: &str = "acme-analytics.example";

const STATUSES: &[(&str, &str)] = &[
    ("In development", "#8a8a8a"),
    ("Published", "#12a150"),
    ("Approved", "#1f6feb"),
    ("Needs review", "#d29922"),
    ("Deprecated", "#cf222e"),
    ("Experimental", "#8250df"),
];

const CATEGORIES: &[(&str, Option<&str>)] = &[
    ("Finance", Some("Revenue, costs and forecasting")),
    ("Marketing", Some("Campaigns and acquisition")),
    ("Product", Some("Usage and feature adoption")),
    ("Operations", None),
    ("Executive", Some("Reviewed by leadership")),
    ("Data quality", Some("Checks on the warehouse")),
    ("Sales", None),
    ("Customer success", Some("Support and retention")),
    ("Expérimentation", Some("Tests A/B")),
];

const COLLECTIONS: &[&str] = &[
    "Company KPIs",
    "Finance",
    "Growth team",
    "Executive reporting",
    "Sandbox",
    "Customer insights 🔍",
    "Data platform",
];

const GROUPS: &[&str] = &["analytics-team", "finance", "leadership", "everyone-emea"];

const CADENCES: &[&str] = &["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "CUSTOM"];

const TIMEZONES: &[&str] = &["UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo"];

const WEEKDAYS: &[&str] = &["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"];

const ICONS: &[Option<&str>] = &[Some("📊"), Some("📈"), Some("🧪"), None];

/// How far back synthetic creation dates go.
const HISTORY_MILLIS: i64 = 730 * DAY_MILLIS;

/// The window "recently viewed" projects fall in.
const RECENT_MILLIS: i64 = 30 * DAY_MILLIS;

impl Workspace {
    /// The name a synthetic workspace gets.
    pub const SYNTHETIC_NAME: &str = "Acme Analytics";

    /// A deterministic workspace of `size` projects: the same `seed` and `size` always give the
    /// same workspace, and a smaller `size` gives a prefix of a larger one.
    ///
    /// The mix mirrors a real workspace: about 10% of descriptions and 25% of statuses are null,
    /// a few owners are null or missing, about 8% of items are components, 5% archived and 3%
    /// trashed, about 30% published, some scheduled, with unicode titles and unknown extra fields.
    /// Every timestamp lies in the two years before [`crate::REFERENCE_TIMESTAMP`], and about half
    /// the projects were last viewed in the thirty days before it.
    ///
    /// Its [`crate::Lineage`] has eight data connections (Snowflake, BigQuery, Postgres,
    /// Redshift, Databricks, a schema-less Snowflake, and short forms of MotherDuck and BigQuery)
    /// and gives every project cells (SQL on a connection, dataframe SQL, Python, markdown,
    /// component imports), every published project runs and queried tables, and every cell the
    /// tables it really reads. The workspace is not Enterprise: set `lineage.enterprise` for that.
    pub fn synthetic(seed: u64, size: usize) -> Workspace {
        let mut rng = SplitMix64::new(seed);
        let id = rng.uuid();
        // Each project draws from its own stream, so project `i` does not depend on `size`.
        let base = rng.next_u64();
        let mut lineage = content::Builder::new(seed, &id);
        let projects = (0..size as u64)
            .map(|index| {
                let stream = SplitMix64::new(base ^ index).next_u64();
                let project = synthetic_project(&mut SplitMix64::new(stream));
                // The lineage draws from a stream of its own, so the projects stay as they were
                // before lineage existed.
                lineage.add(stream, &project);
                project
            })
            .collect();
        Workspace {
            id,
            name: Self::SYNTHETIC_NAME.to_owned(),
            projects,
            lineage: lineage.finish(),
        }
    }
}

fn email(rng: &mut SplitMix64) -> String {
    format!("{}@{EMAIL_DOMAIN}", rng.pick(PEOPLE))
}

fn person(email: String) -> Person {
    Person {
        email: email.into(),
        extra: Map::new(),
    }
}

fn named(name: &str) -> Named {
    Named {
        name: name.to_owned().into(),
        extra: Map::new(),
    }
}

fn access(level: &str) -> Access {
    Access {
        access: level.to_owned().into(),
        extra: Map::new(),
    }
}

fn synthetic_project(rng: &mut SplitMix64) -> Project {
    let id = rng.uuid();
    let is_component = rng.percent(8);

    let created = REFERENCE_MILLIS - rng.between(DAY_MILLIS / 24, HISTORY_MILLIS);
    let edited = rng.between(created, REFERENCE_MILLIS);
    let published =
        (!is_component && rng.percent(30)).then(|| rng.between(created, REFERENCE_MILLIS));

    let title = if is_component {
        (*rng.pick(COMPONENT_TITLES)).to_owned()
    } else if rng.percent(35) {
        format!("{}{}", rng.pick(PROJECT_TITLES), rng.pick(TITLE_SUFFIXES))
    } else {
        (*rng.pick(PROJECT_TITLES)).to_owned()
    };
    let description = match rng.below(100) {
        0..10 => Field::Null,
        10..13 => Field::Present(String::new()),
        _ => Field::Present((*rng.pick(DESCRIPTIONS)).to_owned()),
    };

    let creator = email(rng);
    let owner = match rng.below(100) {
        0..2 => Field::Null,
        2..4 => Field::Absent,
        4..74 => Field::Present(person(creator.clone())),
        _ => Field::Present(person(email(rng))),
    };

    let status = if rng.percent(25) {
        Field::Null
    } else {
        let (name, color) = if published.is_some() && rng.percent(60) {
            STATUSES[1]
        } else {
            *rng.pick(STATUSES)
        };
        let mut status = named(name);
        // Hex adds fields over time; a connector must ignore the ones it does not know.
        if rng.percent(30) {
            status.extra.insert("color".to_owned(), json!(color));
        }
        Field::Present(status)
    };

    let category_count = match rng.below(100) {
        0..35 => 0,
        35..70 => 1,
        70..90 => 2,
        _ => 3,
    };
    let categories = rng
        .pick_distinct(CATEGORIES, category_count)
        .into_iter()
        .map(|(name, description)| Category {
            name: (*name).to_owned().into(),
            description: Field::nullable(description.map(str::to_owned)),
            extra: Map::new(),
        })
        .collect();

    let analytics = synthetic_analytics(rng, created, published);
    let schedules = synthetic_schedules(rng);
    let sharing = synthetic_sharing(rng);

    let mut extra = Map::new();
    if rng.percent(30) {
        extra.insert("icon".to_owned(), json!(rng.pick(ICONS)));
    }
    if rng.percent(20) {
        let connections = if rng.percent(50) {
            json!([])
        } else {
            json!([{ "id": rng.uuid(), "name": "Snowflake (prod)" }])
        };
        extra.insert("dataConnections".to_owned(), connections);
    }

    let after_edit = |rng: &mut SplitMix64, chance| {
        if rng.percent(chance) {
            Field::Present(format_millis(rng.between(edited, REFERENCE_MILLIS)))
        } else {
            Field::Null
        }
    };
    let archived_at = after_edit(rng, 5);
    let trashed_at = after_edit(rng, 3);

    Project {
        id,
        title: title.into(),
        description,
        kind: (if is_component { "COMPONENT" } else { "PROJECT" })
            .to_owned()
            .into(),
        creator: person(creator).into(),
        owner,
        status,
        categories: Field::Present(categories),
        reviews: Reviews {
            required: rng.percent(15).into(),
            extra: Map::new(),
        }
        .into(),
        analytics,
        created_at: format_millis(created).into(),
        last_edited_at: format_millis(edited).into(),
        last_published_at: Field::nullable(published.map(format_millis)),
        archived_at,
        trashed_at,
        schedules: Field::Present(schedules),
        sharing: sharing.into(),
        extra,
    }
}

fn synthetic_analytics(
    rng: &mut SplitMix64,
    created: i64,
    published: Option<i64>,
) -> Field<Analytics> {
    match rng.below(100) {
        0..5 => return Field::Null,
        5..7 => return Field::Absent,
        _ => {}
    }
    let (all_time, thirty) = if published.is_some() {
        // Skewed towards small counts, like real usage: a few apps get most of the views.
        let ceiling = rng.below(5000) + 1;
        let all_time = rng.below(ceiling);
        (all_time, all_time.min(rng.below(400)))
    } else {
        (0, 0)
    };
    let fourteen = rng.below(thirty + 1);
    let seven = rng.below(fourteen + 1);
    let recent_start = created.max(REFERENCE_MILLIS - RECENT_MILLIS);
    let last_viewed_at = match rng.below(100) {
        0..50 => Field::Present(format_millis(rng.between(recent_start, REFERENCE_MILLIS))),
        50..80 if created < REFERENCE_MILLIS - RECENT_MILLIS => Field::Present(format_millis(
            rng.between(created, REFERENCE_MILLIS - RECENT_MILLIS),
        )),
        _ => Field::Null,
    };
    let published_results_updated_at =
        Field::nullable(published.map(|at| format_millis(rng.between(at, REFERENCE_MILLIS))));
    Field::Present(Analytics {
        app_views: Field::Present(AppViews {
            all_time: all_time.into(),
            last_seven_days: seven.into(),
            last_fourteen_days: fourteen.into(),
            last_thirty_days: thirty.into(),
            extra: Map::new(),
        }),
        last_viewed_at,
        published_results_updated_at,
        extra: Map::new(),
    })
}

fn synthetic_schedules(rng: &mut SplitMix64) -> Vec<Schedule> {
    let count = match rng.below(100) {
        0..75 => 0,
        75..95 => 1,
        _ => 2,
    };
    (0..count)
        .map(|_| {
            let cadence = *rng.pick(CADENCES);
            let timezone = *rng.pick(TIMEZONES);
            let (hour, minute) = (rng.below(24), rng.below(4) * 15);
            let settings = match cadence {
                "HOURLY" => json!({ "minute": minute, "timezone": timezone }),
                "DAILY" => json!({ "hour": hour, "minute": minute, "timezone": timezone }),
                "WEEKLY" => json!({
                    "dayOfWeek": rng.pick(WEEKDAYS), "hour": hour, "minute": minute, "timezone": timezone
                }),
                "MONTHLY" => json!({
                    "day": rng.below(28) + 1, "hour": hour, "minute": minute, "timezone": timezone
                }),
                _ => json!({ "cron": format!("{minute} */6 * * *"), "timezone": timezone }),
            };
            let mut extra = Map::new();
            extra.insert(cadence.to_lowercase(), settings);
            Schedule { cadence: cadence.to_owned().into(), enabled: rng.percent(70).into(), extra }
        })
        .collect()
}

fn synthetic_sharing(rng: &mut SplitMix64) -> Sharing {
    let user_count = rng.below(4) as usize;
    let users = rng
        .pick_distinct(PEOPLE, user_count)
        .into_iter()
        .map(|name| UserAccess {
            user: person(format!("{name}@{EMAIL_DOMAIN}")).into(),
            access: (*rng.pick(&["CAN_VIEW", "CAN_EDIT", "FULL_ACCESS"]))
                .to_owned()
                .into(),
            extra: Map::new(),
        })
        .collect();
    let collection_count = match rng.below(100) {
        0..50 => 0,
        50..85 => 1,
        _ => 2,
    };
    let collections = rng
        .pick_distinct(COLLECTIONS, collection_count)
        .into_iter()
        .map(|name| CollectionAccess {
            collection: named(name).into(),
            access: (*rng.pick(&["APP_ONLY", "CAN_VIEW", "CAN_EDIT"]))
                .to_owned()
                .into(),
            extra: Map::new(),
        })
        .collect();
    let group_count = rng.below(3) as usize;
    let groups = rng
        .pick_distinct(GROUPS, group_count)
        .into_iter()
        .map(|name| GroupAccess {
            group: named(name).into(),
            access: (*rng.pick(&["APP_ONLY", "CAN_VIEW", "CAN_EDIT"]))
                .to_owned()
                .into(),
            extra: Map::new(),
        })
        .collect();
    let workspace = *rng.pick(&["NONE", "APP_ONLY", "CAN_VIEW", "CAN_VIEW", "CAN_EDIT"]);
    let public_web = if rng.percent(5) { "APP_ONLY" } else { "NONE" };
    let support = if rng.percent(10) { "CAN_VIEW" } else { "NONE" };
    Sharing {
        users: Field::Present(users),
        collections: Field::Present(collections),
        groups: Field::Present(groups),
        workspace: access(workspace).into(),
        public_web: access(public_web).into(),
        support: access(support).into(),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(workspace: &Workspace, predicate: impl Fn(&Project) -> bool) -> f64 {
        let hits = workspace
            .projects
            .iter()
            .filter(|project| predicate(project))
            .count();
        hits as f64 / workspace.projects.len() as f64
    }

    #[test]
    fn same_seed_same_workspace_and_prefix_stable() {
        let big = Workspace::synthetic(7, 300);
        assert_eq!(big, Workspace::synthetic(7, 300));
        assert_eq!(
            Workspace::synthetic(7, 100).projects[..],
            big.projects[..100]
        );
        assert_ne!(Workspace::synthetic(8, 300), big);
    }

    #[test]
    fn uuids_are_version_4_and_unique() {
        let workspace = Workspace::synthetic(1, 2000);
        let mut ids: Vec<&str> = workspace
            .projects
            .iter()
            .map(|project| project.id.as_str())
            .collect();
        for id in &ids {
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4", "{id}");
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2000);
    }

    #[test]
    fn mix_resembles_a_real_workspace() {
        let workspace = Workspace::synthetic(42, 5000);
        let within =
            |value: f64, low: f64, high: f64| assert!((low..high).contains(&value), "{value}");
        within(
            share(&workspace, |p| p.description == Field::Null),
            0.07,
            0.13,
        );
        within(share(&workspace, |p| p.status == Field::Null), 0.21, 0.29);
        within(share(&workspace, Project::is_component), 0.06, 0.10);
        within(share(&workspace, Project::is_archived), 0.035, 0.065);
        within(share(&workspace, Project::is_trashed), 0.02, 0.04);
        within(share(&workspace, |p| p.owner == Field::Absent), 0.01, 0.03);
        within(share(&workspace, |p| p.owner == Field::Null), 0.01, 0.03);
        within(
            share(&workspace, |p| p.last_published_at.get().is_some()),
            0.2,
            0.35,
        );
        within(share(&workspace, |p| !p.extra.is_empty()), 0.3, 0.6);
        let recent = format_millis(REFERENCE_MILLIS - RECENT_MILLIS);
        let viewed_recently = |p: &Project| {
            p.analytics
                .get()
                .and_then(|a| a.last_viewed_at.get())
                .is_some_and(|at| *at >= recent)
        };
        within(share(&workspace, viewed_recently), 0.4, 0.55);
    }

    #[test]
    fn timestamps_lie_in_the_two_years_before_the_reference() {
        let earliest = format_millis(REFERENCE_MILLIS - HISTORY_MILLIS);
        for project in Workspace::synthetic(3, 1000).projects {
            let created = project.created_at.get().unwrap();
            assert!(*created >= earliest && created.as_str() < crate::REFERENCE_TIMESTAMP);
            assert!(project.last_edited_at.get().unwrap() >= created);
        }
    }
}
