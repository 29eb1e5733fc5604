//! The Hex API's project JSON, read leniently into [`Project`].
//!
//! Hex warns that any field may be null or absent and that new fields appear without notice, and
//! recorded responses show worse: an epoch number where a timestamp belongs, a count sent as
//! `"16"`, `"false"` for a boolean, an owner given as a bare string. One such field must not fail
//! the run (a failed run keeps nothing), and a project a page listed must never be dropped for it
//! (a project missing from a successful run is gone as far as cleanup knows). So a page is read
//! as JSON values and each project field by field: what is unambiguous is coerced, and anything
//! else becomes null with a warning naming the project and the field.

use euno_connector_sdk::timestamp::parse_rfc3339;
use serde::Deserialize;
use serde_json::Value;

/// One page of `GET /projects`: the projects as raw JSON, read one by one with
/// [`Project::read`], and the cursor of the next page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProjectList {
    /// The page's projects; `None` when the response has no `values` list at all.
    pub values: Option<Vec<Value>>,
    /// The cursors around this page.
    pub pagination: Option<Pagination>,
}

/// Cursors for the neighbouring pages. Typed strictly: a cursor that is not text cannot be
/// followed, and ending the listing early would lose projects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Pagination {
    /// The cursor of the next page; null on the last page.
    pub after: Option<String>,
}

/// An instant field: absent (or null), present but unreadable, or an instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stamp {
    /// Missing or null: Hex says there is none.
    #[default]
    Absent,
    /// Present, but not a timestamp the connector can read (reported as a warning).
    Unreadable,
    /// Epoch milliseconds.
    At(i64),
}

impl Stamp {
    /// The instant, when readable.
    pub fn at(self) -> Option<i64> {
        match self {
            Stamp::At(at) => Some(at),
            Stamp::Absent | Stamp::Unreadable => None,
        }
    }

    /// Whether Hex set the field at all: an unreadable `archivedAt` still means archived.
    pub fn is_set(self) -> bool {
        self != Stamp::Absent
    }
}

/// A project category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Category {
    /// Its name.
    pub name: String,
    /// What it means, when the workspace says.
    pub description: Option<String>,
}

/// Someone or something granted access to a project, and the level (`CAN_VIEW`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// A user's email, a group's or a collection's name.
    pub who: String,
    /// The access level, when given.
    pub access: Option<String>,
}

/// A scheduled run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY` or `CUSTOM`.
    pub cadence: Option<String>,
    /// Whether it runs.
    pub enabled: Option<bool>,
    /// Its day, time and time zone in words, e.g. `on MONDAY at 09:00 Europe/Paris`.
    pub when: String,
}

/// App view counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Views {
    /// Since the app was first published.
    pub all_time: Option<i64>,
    /// Over the last 7 days.
    pub last_7_days: Option<i64>,
    /// Over the last 14 days.
    pub last_14_days: Option<i64>,
    /// Over the last 30 days.
    pub last_30_days: Option<i64>,
}

/// A Hex project or component, as the mapping needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// The project's id (a UUID), as Hex spells it.
    pub id: String,
    /// Its title.
    pub title: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// `PROJECT` or `COMPONENT`, as Hex sends it.
    pub project_type: Option<String>,
    /// The creator's email.
    pub creator: Option<String>,
    /// The owner's email.
    pub owner: Option<String>,
    /// The workflow status's name, e.g. `In development`.
    pub status: Option<String>,
    /// The categories it is filed under.
    pub categories: Vec<Category>,
    /// Whether publishing needs a review.
    pub reviews_required: Option<bool>,
    /// App views.
    pub views: Views,
    /// The last view of the app.
    pub last_viewed_at: Stamp,
    /// The last refresh of the published results.
    pub published_results_updated_at: Stamp,
    /// `createdAt`.
    pub created_at: Stamp,
    /// `lastEditedAt`.
    pub last_edited_at: Stamp,
    /// `lastPublishedAt`.
    pub last_published_at: Stamp,
    /// `archivedAt`.
    pub archived_at: Stamp,
    /// `trashedAt`.
    pub trashed_at: Stamp,
    /// Its schedules; `None` when Hex sent none at all.
    pub schedules: Option<Vec<Schedule>>,
    /// The collections it is in, with the access each grants.
    pub collections: Vec<Grant>,
    /// Users with explicit access.
    pub users: Vec<Grant>,
    /// Groups with explicit access.
    pub groups: Vec<Grant>,
    /// The access of everyone in the workspace.
    pub workspace_access: Option<String>,
    /// The access of anyone on the web.
    pub public_web_access: Option<String>,
}

impl Project {
    /// Reads one element of a page's `values`, pushing a warning for each field it had to set to
    /// null. `None` only for an element with no usable id (nothing could name it).
    pub fn read(value: &Value, warnings: &mut Vec<String>) -> Option<Project> {
        let id = match value.get("id")? {
            Value::String(id) if !id.is_empty() => id.clone(),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        let mut reader = Reader { id: &id, warnings };
        let at = |key: &str| field(value, key);
        let analytics = reader.object(at("analytics"), "analytics");
        let app_views = reader.object(field_of(analytics, "appViews"), "analytics.appViews");
        let sharing = reader.object(at("sharing"), "sharing");
        let reviews = reader.object(at("reviews"), "reviews");
        let views = Views {
            all_time: reader.count(field_of(app_views, "allTime"), "analytics.appViews.allTime"),
            last_7_days: reader.count(
                field_of(app_views, "lastSevenDays"),
                "analytics.appViews.lastSevenDays",
            ),
            last_14_days: reader.count(
                field_of(app_views, "lastFourteenDays"),
                "analytics.appViews.lastFourteenDays",
            ),
            last_30_days: reader.count(
                field_of(app_views, "lastThirtyDays"),
                "analytics.appViews.lastThirtyDays",
            ),
        };
        let categories = reader
            .list(at("categories"), "categories")
            .iter()
            .enumerate()
            .filter_map(|(n, category)| {
                let path = format!("categories[{n}]");
                let name = reader.named(Some(category), &path)?;
                let description = match category {
                    Value::Object(_) => reader.text(
                        field(category, "description"),
                        &format!("{path}.description"),
                    ),
                    _ => None,
                };
                Some(Category { name, description })
            })
            .collect();
        let schedules = at("schedules").map(|schedules| {
            reader
                .list(Some(schedules), "schedules")
                .iter()
                .enumerate()
                .map(|(n, schedule)| reader.schedule(schedule, &format!("schedules[{n}]")))
                .collect()
        });
        let project = Project {
            title: reader.text(at("title"), "title"),
            description: reader.text(at("description"), "description"),
            project_type: reader.text(at("type"), "type"),
            creator: reader.person(at("creator"), "creator"),
            owner: reader.person(at("owner"), "owner"),
            status: reader.named(at("status"), "status"),
            categories,
            reviews_required: reader.flag(field_of(reviews, "required"), "reviews.required"),
            views,
            last_viewed_at: reader.stamp(
                field_of(analytics, "lastViewedAt"),
                "analytics.lastViewedAt",
            ),
            published_results_updated_at: reader.stamp(
                field_of(analytics, "publishedResultsUpdatedAt"),
                "analytics.publishedResultsUpdatedAt",
            ),
            created_at: reader.stamp(at("createdAt"), "createdAt"),
            last_edited_at: reader.stamp(at("lastEditedAt"), "lastEditedAt"),
            last_published_at: reader.stamp(at("lastPublishedAt"), "lastPublishedAt"),
            archived_at: reader.stamp(at("archivedAt"), "archivedAt"),
            trashed_at: reader.stamp(at("trashedAt"), "trashedAt"),
            schedules,
            collections: reader.grants(sharing, "collections", "collection"),
            users: reader.grants(sharing, "users", "user"),
            groups: reader.grants(sharing, "groups", "group"),
            workspace_access: reader.access(field_of(sharing, "workspace"), "sharing.workspace"),
            public_web_access: reader.access(field_of(sharing, "publicWeb"), "sharing.publicWeb"),
            id: String::new(),
        };
        Some(Project { id, ..project })
    }
}

/// `value[key]`, `None` when absent or null.
fn field<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.get(key).filter(|v| !v.is_null())
}

/// `field` of an optional object.
fn field_of<'v>(value: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    value.and_then(|value| field(value, key))
}

/// The smallest epoch value read as milliseconds (2001-09-09): below it, one that is also below
/// [`MAX_EPOCH_SECONDS`] is seconds, and one in between is ambiguous.
const MIN_EPOCH_MILLIS: f64 = 1e12;
/// The largest epoch value read as seconds (5138-11-16).
const MAX_EPOCH_SECONDS: f64 = 1e11;

/// Reads one project's fields, collecting a warning for each one set to null.
struct Reader<'a> {
    id: &'a str,
    warnings: &'a mut Vec<String>,
}

impl Reader<'_> {
    fn odd(&mut self, path: &str, value: &Value, expected: &str) {
        let mut shown = value.to_string();
        if shown.chars().count() > 80 {
            shown = format!("{}…", shown.chars().take(80).collect::<String>());
        }
        self.warnings.push(format!(
            "Hex project {}: `{path}` is {shown}, not {expected}; recorded as null",
            self.id
        ));
    }

    fn object<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Option<&'v Value> {
        match value? {
            object @ Value::Object(_) => Some(object),
            other => {
                self.odd(path, other, "an object");
                None
            }
        }
    }

    fn list<'v>(&mut self, value: Option<&'v Value>, path: &str) -> &'v [Value] {
        match value {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.odd(path, other, "a list");
                &[]
            }
        }
    }

    /// Text; a number or a boolean is taken as its text.
    fn text(&mut self, value: Option<&Value>, path: &str) -> Option<String> {
        match value? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            other => {
                self.odd(path, other, "text");
                None
            }
        }
    }

    /// A name: `{"name": ...}`, or the name itself as text.
    fn named(&mut self, value: Option<&Value>, path: &str) -> Option<String> {
        match value? {
            object @ Value::Object(_) => self.text(field(object, "name"), &format!("{path}.name")),
            Value::String(name) => Some(name.clone()),
            other => {
                self.odd(path, other, "an object with a name");
                None
            }
        }
    }

    /// An email: `{"email": ...}`, or the email itself as text.
    fn person(&mut self, value: Option<&Value>, path: &str) -> Option<String> {
        let email = match value? {
            object @ Value::Object(_) => {
                self.text(field(object, "email"), &format!("{path}.email"))
            }
            Value::String(email) => Some(email.clone()),
            other => {
                self.odd(path, other, "a user");
                None
            }
        };
        email.filter(|email| !email.is_empty())
    }

    /// An access level: `{"access": ...}`, or the level itself as text.
    fn access(&mut self, value: Option<&Value>, path: &str) -> Option<String> {
        match value? {
            object @ Value::Object(_) => {
                self.text(field(object, "access"), &format!("{path}.access"))
            }
            Value::String(level) => Some(level.clone()),
            other => {
                self.odd(path, other, "an access level");
                None
            }
        }
    }

    /// A count: a whole number, a number that rounds to one, or either as text.
    fn count(&mut self, value: Option<&Value>, path: &str) -> Option<i64> {
        let value = value?;
        let number = match value {
            Value::Number(number) => number.as_i64().or_else(|| number.as_f64().and_then(round)),
            Value::String(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .or_else(|| text.trim().parse::<f64>().ok().and_then(round)),
            _ => None,
        };
        if number.is_none() {
            self.odd(path, value, "a count");
        }
        number
    }

    /// A boolean, or `"true"`/`"false"` in any case.
    fn flag(&mut self, value: Option<&Value>, path: &str) -> Option<bool> {
        let value = value?;
        let flag = match value {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        if flag.is_none() {
            self.odd(path, value, "true or false");
        }
        flag
    }

    /// An instant: RFC 3339 text, or an epoch number (milliseconds from 2001 on, seconds below
    /// 10^11, ambiguous in between).
    fn stamp(&mut self, value: Option<&Value>, path: &str) -> Stamp {
        let Some(value) = value else {
            return Stamp::Absent;
        };
        let at = match value {
            Value::String(text) => parse_rfc3339(text),
            Value::Number(number) => number.as_f64().and_then(|n| {
                let millis = if n.abs() >= MIN_EPOCH_MILLIS {
                    n
                } else if n.abs() < MAX_EPOCH_SECONDS {
                    n * 1_000.0
                } else {
                    return None;
                };
                round(millis)
            }),
            _ => None,
        };
        match at {
            Some(at) => Stamp::At(at),
            None => {
                let expected = match value {
                    Value::Number(_) => "an epoch time in seconds or milliseconds",
                    _ => "an RFC 3339 timestamp",
                };
                self.odd(path, value, expected);
                Stamp::Unreadable
            }
        }
    }

    /// `sharing[key]`: a list of `{"<item>": {"name"|"email"}, "access"}`.
    fn grants(&mut self, sharing: Option<&Value>, key: &str, item: &str) -> Vec<Grant> {
        let path = format!("sharing.{key}");
        let list = self.list(field_of(sharing, key), &path);
        list.iter()
            .enumerate()
            .filter_map(|(n, grant)| {
                let path = format!("{path}[{n}]");
                let grant = self.object(Some(grant), &path)?;
                let of = field(grant, item);
                let who = if item == "user" {
                    self.person(of, &format!("{path}.{item}"))
                } else {
                    self.named(of, &format!("{path}.{item}"))
                }?;
                let access = self.text(field(grant, "access"), &format!("{path}.access"));
                Some(Grant { who, access })
            })
            .collect()
    }

    /// A schedule: its cadence, whether it runs, and the details under the cadence's key.
    fn schedule(&mut self, value: &Value, path: &str) -> Schedule {
        let Some(schedule) = self.object(Some(value), path) else {
            return Schedule::default();
        };
        let cadence = self.text(field(schedule, "cadence"), &format!("{path}.cadence"));
        let enabled = self.flag(field(schedule, "enabled"), &format!("{path}.enabled"));
        let details = cadence
            .as_deref()
            .and_then(|cadence| field(schedule, &cadence.to_ascii_lowercase()));
        Schedule {
            cadence,
            enabled,
            when: details.map(when).unwrap_or_default(),
        }
    }
}

/// A schedule's details in words: `on MONDAY`, `on day 5`, `at 06:30` or `at minute 15`,
/// `cron 0 */6 * * *`, then the time zone.
fn when(details: &Value) -> String {
    let number = |key: &str| field(details, key).and_then(Value::as_i64);
    let text = |key: &str| {
        field(details, key).and_then(|v| v.as_str().map(str::to_owned).or(Some(v.to_string())))
    };
    let mut parts = Vec::new();
    if let Some(day) = text("dayOfWeek") {
        parts.push(format!("on {day}"));
    }
    if let Some(day) = number("day") {
        parts.push(format!("on day {day}"));
    }
    match (number("hour"), number("minute")) {
        (Some(hour), minute) => parts.push(format!("at {hour:02}:{:02}", minute.unwrap_or(0))),
        (None, Some(minute)) => parts.push(format!("at minute {minute}")),
        (None, None) => {}
    }
    if let Some(cron) = text("cron") {
        parts.push(format!("cron {cron}"));
    }
    if let Some(zone) = text("timezone").or_else(|| text("timezoneString")) {
        parts.push(zone);
    }
    parts.join(" ")
}

/// A finite number rounded to a whole one (saturating: a count past `i64` is not worth failing
/// a run over).
fn round(number: f64) -> Option<i64> {
    number.is_finite().then(|| number.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> (Project, Vec<String>) {
        let mut warnings = Vec::new();
        let project = Project::read(&value, &mut warnings).expect("an id");
        (project, warnings)
    }

    #[test]
    fn nulls_absent_fields_and_unknown_fields_all_read_without_a_warning() {
        let (project, warnings) = read(json!({
            "id": "p1", "status": null, "sharing": {"workspace": null},
            "brandNewField": {"x": 1}, "analytics": {"appViews": {"allTime": 12.0}}
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(project.status, None);
        assert_eq!(project.workspace_access, None);
        assert_eq!(project.views.all_time, Some(12));
        assert_eq!(project.schedules, None);
    }

    #[test]
    fn what_is_unambiguous_is_coerced_quietly() {
        let (project, warnings) = read(json!({
            "id": 42,
            "createdAt": 1_700_000_000_000_i64,
            "lastEditedAt": 1_700_000_000,
            "analytics": {"appViews": {"allTime": "16", "lastSevenDays": " 7.0 "}},
            "reviews": {"required": "false"},
            "owner": "ada@acme.example",
            "status": "Published",
            "title": 7,
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(project.id, "42");
        assert_eq!(project.created_at, Stamp::At(1_700_000_000_000));
        assert_eq!(project.last_edited_at, Stamp::At(1_700_000_000_000));
        assert_eq!(project.views.all_time, Some(16));
        assert_eq!(project.views.last_7_days, Some(7));
        assert_eq!(project.reviews_required, Some(false));
        assert_eq!(project.owner.as_deref(), Some("ada@acme.example"));
        assert_eq!(project.status.as_deref(), Some("Published"));
        assert_eq!(project.title.as_deref(), Some("7"));
    }

    #[test]
    fn what_is_not_becomes_null_with_a_warning_naming_project_and_field() {
        let (project, warnings) = read(json!({
            "id": "p9",
            "createdAt": 500_000_000_000_i64,
            "archivedAt": "last tuesday",
            "analytics": {"appViews": {"allTime": {"n": 1}}},
            "reviews": {"required": "maybe"},
            "owner": ["x"],
            "categories": "Finance",
            "sharing": {"users": [{"user": {"email": "a@x"}, "access": "CAN_EDIT"}, 3]},
        }));
        assert_eq!(project.created_at, Stamp::Unreadable);
        assert_eq!(project.archived_at, Stamp::Unreadable);
        assert!(project.archived_at.is_set(), "still archived");
        assert_eq!(project.views.all_time, None);
        assert_eq!(project.reviews_required, None);
        assert_eq!(project.owner, None);
        assert!(project.categories.is_empty());
        assert_eq!(
            project.users,
            [Grant {
                who: "a@x".to_owned(),
                access: Some("CAN_EDIT".to_owned())
            }]
        );
        assert_eq!(
            warnings,
            [
                "Hex project p9: `analytics.appViews.allTime` is {\"n\":1}, not a count; \
                 recorded as null",
                "Hex project p9: `categories` is \"Finance\", not a list; recorded as null",
                "Hex project p9: `owner` is [\"x\"], not a user; recorded as null",
                "Hex project p9: `reviews.required` is \"maybe\", not true or false; recorded \
                 as null",
                "Hex project p9: `createdAt` is 500000000000, not an epoch time in seconds or \
                 milliseconds; recorded as null",
                "Hex project p9: `archivedAt` is \"last tuesday\", not an RFC 3339 timestamp; \
                 recorded as null",
                "Hex project p9: `sharing.users[1]` is 3, not an object; recorded as null",
            ]
        );
    }

    #[test]
    fn an_element_without_an_id_cannot_be_read() {
        for value in [
            json!({"title": "x"}),
            json!({"id": ""}),
            json!({"id": null}),
            json!(3),
        ] {
            assert_eq!(Project::read(&value, &mut Vec::new()), None, "{value}");
        }
    }

    #[test]
    fn schedules_read_their_details() {
        let (project, _) = read(json!({"id": "p", "schedules": [
            {"cadence": "HOURLY", "enabled": true, "hourly": {"minute": 15, "timezone": "UTC"}},
            {"cadence": "DAILY", "enabled": true,
             "daily": {"hour": 6, "minute": 0, "timezone": "Europe/Paris"}},
            {"cadence": "WEEKLY", "enabled": false,
             "weekly": {"dayOfWeek": "MONDAY", "hour": 9, "minute": 30}},
            {"cadence": "MONTHLY", "monthly": {"day": 5, "hour": 23, "minute": 45,
                                               "timezone": "Asia/Tokyo"}},
            {"cadence": "CUSTOM", "custom": {"cron": "15 */6 * * *", "timezone": "UTC"}},
            {"cadence": null, "enabled": null},
        ]}));
        let when: Vec<&str> = project
            .schedules
            .iter()
            .flatten()
            .map(|s| s.when.as_str())
            .collect();
        assert_eq!(
            when,
            [
                "at minute 15 UTC",
                "at 06:00 Europe/Paris",
                "on MONDAY at 09:30",
                "on day 5 at 23:45 Asia/Tokyo",
                "cron 15 */6 * * * UTC",
                "",
            ]
        );
    }

    #[test]
    fn a_response_without_values_is_told_apart_from_an_empty_page() {
        let missing: ProjectList = serde_json::from_str("{}").expect("reads");
        assert_eq!(missing.values, None);
        let empty: ProjectList = serde_json::from_str(r#"{"values": []}"#).expect("reads");
        assert_eq!(empty.values, Some(vec![]));
        let odd: Result<ProjectList, _> =
            serde_json::from_str(r#"{"values": [], "pagination": {"after": 3}}"#);
        assert!(odd.is_err(), "a cursor that is not text cannot be followed");
    }
}
