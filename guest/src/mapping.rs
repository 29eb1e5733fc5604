//! Hex projects and the workspace as Euno resources.
//!
//! The property names and their value types are a contract with Euno's catalog, so they live in
//! one place. Mapping is pure: time-relative properties are computed against the run's
//! `started-at`, never the clock, and a missing or null object upstream yields null properties
//! (or empty lists), never a failure ([`crate::model`] has already warned about odd fields).

use euno_connector_sdk::prelude::*;
use euno_connector_sdk::types::Property;

use crate::model::{Grant, Project, Stamp};
use crate::settings::Settings;

/// The resource type of the workspace.
pub const WORKSPACE_TYPE: &str = "hex_workspace";
/// The resource type of a project.
pub const PROJECT_TYPE: &str = "hex_project";
/// The resource type of a component (a project of type `COMPONENT`).
pub const COMPONENT_TYPE: &str = "hex_component";

/// How recent a view or an edit must be for a project to count as active.
const ACTIVE_WINDOW_MS: i64 = 30 * 86_400_000;

/// What the mapping needs to know besides the project: the workspace and the run's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingContext {
    /// `hex.<workspace key>`, lowercase.
    pub workspace_uri: String,
    /// The workspace id for links: the configured one, or the one `GET /users/me` reported.
    pub workspace_id: Option<String>,
    /// The workspace's friendly name.
    pub workspace_name: String,
    /// The Hex web app's origin, e.g. `https://app.hex.tech`.
    pub app_origin: String,
    /// The run's `started-at`, epoch milliseconds.
    pub started_at: i64,
}

impl MappingContext {
    /// The context of a run with `settings` that started at `started_at` (epoch milliseconds).
    pub fn new(settings: &Settings, started_at: i64) -> Self {
        Self {
            workspace_uri: uri(["hex", &settings.workspace_key()]),
            workspace_id: settings.workspace_id.clone(),
            workspace_name: settings.workspace_name.clone(),
            app_origin: settings.app_origin().to_owned(),
            started_at,
        }
    }

    /// The URI of the project, component or data connection with id `id`: one segment under
    /// the workspace.
    pub fn project_uri(&self, id: &str) -> String {
        format!("{}.{}", self.workspace_uri, uri_segment(id))
    }
}

/// What a project's latest run says (`GET /projects/{id}/runs?limit=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastRun {
    /// `COMPLETED`, `ERRORED`, `PENDING`, ... as Hex reports it.
    pub status: Option<String>,
    /// When it started; none while pending.
    pub at: Option<i64>,
    /// How long it took, in whole seconds; none until it ended.
    pub duration_seconds: Option<i64>,
}

/// Maps one project (or component) to a resource under the workspace; `last_run` is its latest
/// run, when lineage is on and it has one. Relations are the caller's.
pub fn map_project(
    project: &Project,
    context: &MappingContext,
    last_run: Option<&LastRun>,
) -> Resource {
    let id = project.id.as_str();
    let name = project.title.clone().unwrap_or_else(|| id.to_owned());
    let edited = project.last_edited_at.at();
    let viewed = project.last_viewed_at.at();
    // Hex set the field, readable or not: an unreadable `archivedAt` is still an archived project.
    let activity_status = if project.trashed_at.is_set() {
        "trashed"
    } else if project.archived_at.is_set() {
        "archived"
    } else if [viewed, edited]
        .into_iter()
        .flatten()
        .any(|at| at >= context.started_at - ACTIVE_WINDOW_MS)
    {
        "active"
    } else {
        "inactive"
    };

    let owners = project.owner.iter().chain(&project.creator);
    let native_owners = distinct_case_insensitive(owners.map(String::as_str));
    let categories: Vec<String> = project.categories.iter().map(|c| c.name.clone()).collect();
    let collections: Vec<String> = project.collections.iter().map(|c| c.who.clone()).collect();
    let tags = distinct(categories.iter().chain(&collections).cloned());
    let category_descriptions = project
        .categories
        .iter()
        .filter_map(|c| Some(format!("{}: {}", c.name, c.description.as_deref()?)))
        .collect();

    let schedules = project.schedules.as_deref();
    let cadences = distinct(
        schedules
            .into_iter()
            .flatten()
            .filter_map(|s| s.cadence.clone()),
    );
    let has_enabled_schedule = schedules.map(|s| s.iter().any(|s| s.enabled == Some(true)));
    let schedule_details = schedules
        .into_iter()
        .flatten()
        .map(|s| {
            let mut words = vec![s.cadence.as_deref().unwrap_or("UNKNOWN").to_owned()];
            if !s.when.is_empty() {
                words.push(s.when.clone());
            }
            if s.enabled == Some(false) {
                words.push("(disabled)".to_owned());
            }
            words.join(" ")
        })
        .collect();

    let is_published = project.last_published_at.is_set();
    // Hex's own spelling of the id, as its app's URLs have it.
    let external_links = match &context.workspace_id {
        Some(workspace_id) => {
            let view = if is_published { "app" } else { "hex" };
            vec![format!("{}/{workspace_id}/{view}/{id}", context.app_origin)]
        }
        None => Vec::new(),
    };
    // Hex's enum is upper case; anything else is not a component as Hex's own filter sees it.
    let resource_type = match project.project_type.as_deref() {
        Some("COMPONENT") => COMPONENT_TYPE,
        _ => PROJECT_TYPE,
    };
    let views = project.views;
    let last_run = last_run.cloned().unwrap_or_default();

    let properties = vec![
        property("name", PropertyValue::Text(name.clone())),
        property("native_id", PropertyValue::Text(id.to_owned())),
        property("description", text(project.description.as_deref())),
        property("project_type", text(project.project_type.as_deref())),
        property("created_at", stamp(project.created_at)),
        property("updated_at", stamp(project.last_edited_at)),
        property("published_at", stamp(project.last_published_at)),
        property("archived_at", stamp(project.archived_at)),
        property("trashed_at", stamp(project.trashed_at)),
        property(
            "published_results_updated_at",
            stamp(project.published_results_updated_at),
        ),
        property("owner", text(project.owner.as_deref())),
        property("creator", text(project.creator.as_deref())),
        property("native_owners", PropertyValue::TextList(native_owners)),
        property("status", text(project.status.as_deref())),
        property("is_published", PropertyValue::Boolean(is_published)),
        property("reviews_required", project.reviews_required.into()),
        property(
            "activity_status",
            PropertyValue::Text(activity_status.to_owned()),
        ),
        property("categories", PropertyValue::TextList(categories)),
        property("collections", PropertyValue::TextList(collections)),
        property("tags", PropertyValue::TextList(tags)),
        property("impressions_7d", views.last_7_days.into()),
        property("impressions_14d", views.last_14_days.into()),
        property("impressions_30d", views.last_30_days.into()),
        property("impressions_all_time", views.all_time.into()),
        property("last_viewed_at", stamp(project.last_viewed_at)),
        property("schedule_cadences", PropertyValue::TextList(cadences)),
        property("has_enabled_schedule", has_enabled_schedule.into()),
        property(
            "workspace_access",
            text(project.workspace_access.as_deref()),
        ),
        property(
            "public_web_access",
            text(project.public_web_access.as_deref()),
        ),
        property("external_links", PropertyValue::TextList(external_links)),
        property(
            "category_descriptions",
            PropertyValue::TextList(category_descriptions),
        ),
        property(
            "collection_access",
            PropertyValue::TextList(grants(&project.collections)),
        ),
        property(
            "user_access",
            PropertyValue::TextList(grants(&project.users)),
        ),
        property(
            "group_access",
            PropertyValue::TextList(grants(&project.groups)),
        ),
        property("schedules", PropertyValue::TextList(schedule_details)),
        property("last_run_status", text(last_run.status.as_deref())),
        property(
            "last_run_at",
            last_run
                .at
                .map_or(PropertyValue::Null, PropertyValue::Timestamp),
        ),
        property(
            "last_run_duration_seconds",
            last_run.duration_seconds.into(),
        ),
    ];

    let mut resource = Resource::new(context.project_uri(id), resource_type, name)
        .parent(&context.workspace_uri)
        .native_id(id);
    resource.properties = properties;
    resource
}

/// The workspace resource, which parents every project; `project_count` is the number of
/// project and component resources emitted under it.
pub fn workspace_resource(context: &MappingContext, project_count: u64) -> Resource {
    let external_links = context
        .workspace_id
        .iter()
        .map(|id| format!("{}/{id}", context.app_origin))
        .collect();
    let mut resource = Resource::new(
        &context.workspace_uri,
        WORKSPACE_TYPE,
        &context.workspace_name,
    );
    resource.native_id = context.workspace_id.clone();
    resource.properties = vec![
        property("name", PropertyValue::Text(context.workspace_name.clone())),
        property("native_id", text(context.workspace_id.as_deref())),
        property(
            "project_count",
            PropertyValue::Integer(i64::try_from(project_count).unwrap_or(i64::MAX)),
        ),
        property("external_links", PropertyValue::TextList(external_links)),
    ];
    resource
}

fn property(name: &str, value: PropertyValue) -> Property {
    Property {
        name: name.to_owned(),
        value,
    }
}

fn text(value: Option<&str>) -> PropertyValue {
    value.map_or(PropertyValue::Null, |value| {
        PropertyValue::Text(value.to_owned())
    })
}

fn stamp(value: Stamp) -> PropertyValue {
    value
        .at()
        .map_or(PropertyValue::Null, PropertyValue::Timestamp)
}

/// Grants as `who: ACCESS` (just `who` when Hex gives no level).
fn grants(grants: &[Grant]) -> Vec<String> {
    grants
        .iter()
        .map(|grant| match &grant.access {
            Some(access) => format!("{}: {access}", grant.who),
            None => grant.who.clone(),
        })
        .collect()
}

/// The values in order, each kept at its first occurrence.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// Like [`distinct`], but `A@x.com` and `a@x.com` are one address (emails are compared without
/// case in practice); the first spelling wins, as Hex wrote it.
fn distinct_case_insensitive<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if !out.iter().any(|seen| seen.eq_ignore_ascii_case(value)) {
            out.push(value.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use euno_connector_sdk::types::{ConfigEntry, Relations, SettingValue};
    use serde_json::json;

    /// A project from its JSON, and the warnings reading it gave.
    fn read(json: &serde_json::Value) -> (Project, Vec<String>) {
        let mut warnings = Vec::new();
        let project = Project::read(json, &mut warnings).expect("an id");
        (project, warnings)
    }

    /// A project from its JSON.
    fn project(json: serde_json::Value) -> Project {
        read(&json).0
    }

    /// A project with every field the connector reads, set.
    fn full_project_json() -> serde_json::Value {
        json!({
            "id": "0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB",
            "title": "Revenue Dashboard",
            "description": "Weekly revenue by region",
            "type": "PROJECT",
            "creator": {"email": "creator@acme.com"},
            "owner": {"email": "owner@acme.com"},
            "status": {"name": "Published"},
            "categories": [{"name": "Finance", "description": "Money"}, {"name": "Sales"}],
            "reviews": {"required": true},
            "analytics": {
                "appViews": {"allTime": 1234, "lastSevenDays": 7, "lastFourteenDays": 14, "lastThirtyDays": 30},
                "lastViewedAt": "2024-08-30T12:00:00Z",
                "publishedResultsUpdatedAt": "2024-08-22T08:00:00+02:00"
            },
            "createdAt": "2024-01-02T03:04:05.678Z",
            "lastEditedAt": "2024-08-21T17:16:09.567Z",
            "lastPublishedAt": "2024-08-20T10:00:00Z",
            "archivedAt": null,
            "trashedAt": null,
            "schedules": [
                {"cadence": "HOURLY", "enabled": true, "hourly": {"minute": 5}},
                {"cadence": "DAILY", "enabled": false},
                {"cadence": "HOURLY", "enabled": false}
            ],
            "sharing": {
                "users": [{"user": {"email": "someone@acme.com"}, "access": "CAN_EDIT"}],
                "collections": [
                    {"collection": {"name": "Exec"}, "access": "CAN_VIEW"},
                    {"collection": {"name": "Finance"}, "access": "CAN_VIEW"}
                ],
                "groups": [],
                "workspace": {"access": "CAN_VIEW"},
                "publicWeb": {"access": "NONE"},
                "support": {"access": "NONE"}
            }
        })
    }

    const DAY_MS: i64 = 86_400_000;
    /// 2024-09-01T00:00:00Z.
    const STARTED_AT: i64 = 1_725_148_800_000;

    fn context(settings: &[(&str, &str)]) -> MappingContext {
        let entries = settings
            .iter()
            .map(|(name, value)| ConfigEntry {
                name: (*name).to_owned(),
                value: SettingValue::Text((*value).to_owned()),
            })
            .collect();
        let config = Config::new(entries, &crate::Hex::spec());
        MappingContext::new(&Settings::read(&config).expect("valid config"), STARTED_AT)
    }

    fn value<'r>(resource: &'r Resource, name: &str) -> &'r PropertyValue {
        let mut matches = resource.properties.iter().filter(|p| p.name == name);
        let found = matches
            .next()
            .unwrap_or_else(|| panic!("no property {name}"));
        assert!(matches.next().is_none(), "property {name} appears twice");
        &found.value
    }

    fn texts(values: &[&str]) -> PropertyValue {
        PropertyValue::TextList(values.iter().map(|v| (*v).to_owned()).collect())
    }

    fn ts(text: &str) -> PropertyValue {
        PropertyValue::Timestamp(parse_rfc3339(text).expect("valid timestamp"))
    }

    fn text_value(text: &str) -> PropertyValue {
        PropertyValue::Text(text.to_owned())
    }

    fn map(project: &Project, context: &MappingContext) -> Resource {
        map_project(project, context, None)
    }

    #[test]
    fn a_full_project_maps_every_property() {
        let context = context(&[("workspace_id", "WS-1"), ("workspace_name", "Acme")]);
        let (full, warnings) = read(&full_project_json());
        assert!(warnings.is_empty(), "{warnings:?}");
        let resource = map(&full, &context);
        assert_eq!(
            resource.uri,
            "hex.ws-1.0b7e3d4a-aaaa-4bbb-8ccc-0123456789ab"
        );
        assert_eq!(resource.resource_type, "hex_project");
        assert_eq!(resource.name, "Revenue Dashboard");
        assert_eq!(resource.parent_uri.as_deref(), Some("hex.ws-1"));
        assert_eq!(
            resource.native_id.as_deref(),
            Some("0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB")
        );
        let expected = [
            ("name", text_value("Revenue Dashboard")),
            (
                "native_id",
                text_value("0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB"),
            ),
            ("description", text_value("Weekly revenue by region")),
            ("project_type", text_value("PROJECT")),
            ("created_at", ts("2024-01-02T03:04:05.678Z")),
            ("updated_at", ts("2024-08-21T17:16:09.567Z")),
            ("published_at", ts("2024-08-20T10:00:00Z")),
            ("archived_at", PropertyValue::Null),
            ("trashed_at", PropertyValue::Null),
            (
                "published_results_updated_at",
                ts("2024-08-22T08:00:00+02:00"),
            ),
            ("owner", text_value("owner@acme.com")),
            ("creator", text_value("creator@acme.com")),
            (
                "native_owners",
                texts(&["owner@acme.com", "creator@acme.com"]),
            ),
            ("status", text_value("Published")),
            ("is_published", PropertyValue::Boolean(true)),
            ("reviews_required", PropertyValue::Boolean(true)),
            ("activity_status", text_value("active")),
            ("categories", texts(&["Finance", "Sales"])),
            ("collections", texts(&["Exec", "Finance"])),
            ("tags", texts(&["Finance", "Sales", "Exec"])),
            ("impressions_7d", PropertyValue::Integer(7)),
            ("impressions_14d", PropertyValue::Integer(14)),
            ("impressions_30d", PropertyValue::Integer(30)),
            ("impressions_all_time", PropertyValue::Integer(1234)),
            ("last_viewed_at", ts("2024-08-30T12:00:00Z")),
            ("schedule_cadences", texts(&["HOURLY", "DAILY"])),
            ("has_enabled_schedule", PropertyValue::Boolean(true)),
            ("workspace_access", text_value("CAN_VIEW")),
            ("public_web_access", text_value("NONE")),
            (
                "external_links",
                texts(&["https://app.hex.tech/WS-1/app/0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB"]),
            ),
            ("category_descriptions", texts(&["Finance: Money"])),
            (
                "collection_access",
                texts(&["Exec: CAN_VIEW", "Finance: CAN_VIEW"]),
            ),
            ("user_access", texts(&["someone@acme.com: CAN_EDIT"])),
            ("group_access", texts(&[])),
            (
                "schedules",
                texts(&[
                    "HOURLY at minute 5",
                    "DAILY (disabled)",
                    "HOURLY (disabled)",
                ]),
            ),
            ("last_run_status", PropertyValue::Null),
            ("last_run_at", PropertyValue::Null),
            ("last_run_duration_seconds", PropertyValue::Null),
        ];
        let names: Vec<&str> = resource
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let expected_names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected_names);
        for (name, expected) in &expected {
            assert_eq!(value(&resource, name), expected, "property {name}");
        }
    }

    #[test]
    fn a_project_with_every_object_null_or_absent_maps_to_nulls() {
        let context = context(&[]);
        for json in [
            json!({"id": "p1"}),
            json!({
                "id": "p1", "title": null, "description": null, "type": null, "creator": null,
                "owner": null, "status": null, "categories": null, "reviews": null,
                "analytics": null, "createdAt": null, "lastEditedAt": null,
                "lastPublishedAt": null, "archivedAt": null, "trashedAt": null,
                "schedules": null, "sharing": null
            }),
            json!({
                "id": "p1", "creator": {"email": null}, "owner": {}, "status": {"name": null},
                "reviews": {}, "analytics": {"appViews": null, "lastViewedAt": null},
                "sharing": {"collections": null, "workspace": null, "publicWeb": {"access": null}}
            }),
        ] {
            let (project, warnings) = read(&json);
            assert!(warnings.is_empty(), "{warnings:?}");
            let resource = map(&project, &context);
            assert_eq!(resource.uri, "hex.hex_workspace.p1");
            assert_eq!(resource.name, "p1", "the id stands in for a missing title");
            assert_eq!(resource.resource_type, "hex_project");
            for name in [
                "description",
                "project_type",
                "created_at",
                "updated_at",
                "published_at",
                "archived_at",
                "trashed_at",
                "published_results_updated_at",
                "owner",
                "creator",
                "status",
                "reviews_required",
                "impressions_7d",
                "impressions_14d",
                "impressions_30d",
                "impressions_all_time",
                "last_viewed_at",
                "has_enabled_schedule",
                "workspace_access",
                "public_web_access",
                "last_run_status",
                "last_run_at",
                "last_run_duration_seconds",
            ] {
                assert_eq!(
                    value(&resource, name),
                    &PropertyValue::Null,
                    "{name} in {json}"
                );
            }
            for name in [
                "native_owners",
                "categories",
                "collections",
                "tags",
                "schedule_cadences",
                "external_links",
                "category_descriptions",
                "collection_access",
                "user_access",
                "group_access",
                "schedules",
            ] {
                assert_eq!(value(&resource, name), &texts(&[]), "{name} in {json}");
            }
            assert_eq!(
                value(&resource, "is_published"),
                &PropertyValue::Boolean(false)
            );
            assert_eq!(value(&resource, "activity_status"), &text_value("inactive"));
        }
    }

    #[test]
    fn components_are_typed_hex_component() {
        let resource = map(
            &project(json!({"id": "c1", "title": "Shared Filters", "type": "COMPONENT"})),
            &context(&[]),
        );
        assert_eq!(resource.resource_type, "hex_component");
        assert_eq!(value(&resource, "project_type"), &text_value("COMPONENT"));
        let resource = map(
            &project(json!({"id": "p", "type": "PROJECT"})),
            &context(&[]),
        );
        assert_eq!(resource.resource_type, "hex_project");
        // Hex's enum is upper case, and so is its `includeComponents` filter: a lower-case
        // `component` is listed like any project, and is one.
        let resource = map(
            &project(json!({"id": "c2", "type": "component"})),
            &context(&[]),
        );
        assert_eq!(resource.resource_type, "hex_project");
        assert_eq!(value(&resource, "project_type"), &text_value("component"));
    }

    #[test]
    fn external_links_follow_publication_and_the_workspace_id() {
        let published = project(json!({"id": "P1", "lastPublishedAt": "2024-08-20T10:00:00Z"}));
        let draft = project(json!({"id": "P2"}));
        let with_id = context(&[("workspace_id", "ws")]);
        let link = |project: &Project, context: &MappingContext| {
            value(&map(project, context), "external_links").clone()
        };
        assert_eq!(
            link(&published, &with_id),
            texts(&["https://app.hex.tech/ws/app/P1"])
        );
        assert_eq!(
            link(&draft, &with_id),
            texts(&["https://app.hex.tech/ws/hex/P2"])
        );
        assert_eq!(link(&published, &context(&[])), texts(&[]));
        // Hex's spelling of the id, a space included (the URI escapes it; the link does not).
        assert_eq!(
            link(&project(json!({"id": "a b"})), &with_id),
            texts(&["https://app.hex.tech/ws/hex/a b"])
        );
        for base in [
            "https://hex.acme.com/api/v1/",
            "https://hex.acme.com/api/v1",
            "https://hex.acme.com/",
        ] {
            let context = context(&[("workspace_id", "ws"), ("base_url", base)]);
            assert_eq!(
                link(&draft, &context),
                texts(&["https://hex.acme.com/ws/hex/P2"]),
                "{base}"
            );
        }
    }

    #[test]
    fn uris_are_lowercase_and_keyed_by_workspace_id_else_name() {
        let p = project(json!({"id": "AbC"}));
        let resource = map(&p, &context(&[("workspace_name", "Acme Co")]));
        // The host refuses a URI with a space, so the name's space is encoded (found by fuzzing:
        // "hex.acme co.abc" failed every run of such a workspace).
        assert_eq!(resource.uri, "hex.acme%20co.abc");
        assert_eq!(resource.parent_uri.as_deref(), Some("hex.acme%20co"));
        let resource = map(
            &p,
            &context(&[("workspace_name", "Acme"), ("workspace_id", "W9")]),
        );
        assert_eq!(resource.uri, "hex.w9.abc");
    }

    #[test]
    fn activity_status_uses_the_run_start_and_its_boundaries() {
        let context = context(&[]);
        let status = |json: serde_json::Value| {
            let resource = map(&project(json), &context);
            value(&resource, "activity_status").clone()
        };
        let boundary = "2024-08-02T00:00:00Z"; // exactly 30 days before the start
        let just_outside = "2024-08-01T23:59:59.999Z";
        assert_eq!(parse_rfc3339(boundary), Some(STARTED_AT - 30 * DAY_MS));
        assert_eq!(
            status(json!({"id": "p", "lastEditedAt": boundary})),
            text_value("active")
        );
        assert_eq!(
            status(json!({"id": "p", "lastEditedAt": just_outside})),
            text_value("inactive")
        );
        assert_eq!(
            status(json!({"id": "p", "lastEditedAt": just_outside,
                          "analytics": {"lastViewedAt": boundary}})),
            text_value("active")
        );
        assert_eq!(
            status(json!({"id": "p", "analytics": {"lastViewedAt": "2024-08-31T23:59:00Z"}})),
            text_value("active")
        );
        // Later than the start (clock skew upstream) still counts as recent.
        assert_eq!(
            status(json!({"id": "p", "lastEditedAt": "2024-09-01T00:30:00Z"})),
            text_value("active")
        );
        assert_eq!(
            status(json!({"id": "p", "lastEditedAt": boundary, "archivedAt": boundary})),
            text_value("archived")
        );
        assert_eq!(
            status(
                json!({"id": "p", "lastEditedAt": boundary, "archivedAt": boundary,
                          "trashedAt": boundary})
            ),
            text_value("trashed")
        );
    }

    #[test]
    fn bad_timestamps_become_null_with_a_warning() {
        let (project, warnings) = read(&json!({
            "id": "p1", "createdAt": "last tuesday", "lastEditedAt": "2024-08-21T17:16:09.567Z",
            "archivedAt": "someday"
        }));
        let resource = map(&project, &context(&[]));
        assert_eq!(value(&resource, "created_at"), &PropertyValue::Null);
        assert_eq!(
            value(&resource, "updated_at"),
            &ts("2024-08-21T17:16:09.567Z")
        );
        // Hex archived it, even if it cannot say when in a form the connector reads.
        assert_eq!(value(&resource, "archived_at"), &PropertyValue::Null);
        assert_eq!(value(&resource, "activity_status"), &text_value("archived"));
        assert_eq!(
            warnings,
            [
                "Hex project p1: `createdAt` is \"last tuesday\", not an RFC 3339 timestamp; \
                 recorded as null",
                "Hex project p1: `archivedAt` is \"someday\", not an RFC 3339 timestamp; \
                 recorded as null"
            ]
        );
    }

    #[test]
    fn the_last_run_is_three_properties() {
        let run = LastRun {
            status: Some("ERRORED".to_owned()),
            at: Some(1_700_000_000_000),
            duration_seconds: Some(42),
        };
        let resource = map_project(&project(json!({"id": "p"})), &context(&[]), Some(&run));
        assert_eq!(value(&resource, "last_run_status"), &text_value("ERRORED"));
        assert_eq!(
            value(&resource, "last_run_at"),
            &PropertyValue::Timestamp(1_700_000_000_000)
        );
        assert_eq!(
            value(&resource, "last_run_duration_seconds"),
            &PropertyValue::Integer(42)
        );
    }

    #[test]
    fn owners_and_tags_are_distinct_in_order() {
        let resource = map(
            &project(json!({
                "id": "p", "owner": {"email": "Same@acme.com"}, "creator": {"email": "same@acme.com"},
                "categories": [{"name": "B"}, {"name": "A"}, {"name": null}],
                "sharing": {"collections": [{"collection": {"name": "A"}}, {"collection": null},
                                            {"collection": {"name": "C"}}]},
                "schedules": [{"cadence": "DAILY", "enabled": false},
                              {"cadence": "DAILY", "enabled": false}, {"cadence": "WEEKLY"}]
            })),
            &context(&[]),
        );
        assert_eq!(
            value(&resource, "native_owners"),
            &texts(&["Same@acme.com"])
        );
        assert_eq!(value(&resource, "tags"), &texts(&["B", "A", "C"]));
        assert_eq!(
            value(&resource, "schedule_cadences"),
            &texts(&["DAILY", "WEEKLY"])
        );
        assert_eq!(
            value(&resource, "has_enabled_schedule"),
            &PropertyValue::Boolean(false)
        );
    }

    #[test]
    fn the_workspace_resource_carries_the_project_count() {
        let with_id = workspace_resource(
            &context(&[("workspace_id", "WS-1"), ("workspace_name", "Acme")]),
            42,
        );
        assert_eq!(
            with_id,
            Resource {
                uri: "hex.ws-1".to_owned(),
                resource_type: "hex_workspace".to_owned(),
                name: "Acme".to_owned(),
                parent_uri: None,
                native_id: Some("WS-1".to_owned()),
                properties: vec![
                    property("name", text_value("Acme")),
                    property("native_id", text_value("WS-1")),
                    property("project_count", PropertyValue::Integer(42)),
                    property("external_links", texts(&["https://app.hex.tech/WS-1"])),
                ],
                relations: Relations::Set(Vec::new()),
            }
        );
        let without_id = workspace_resource(&context(&[]), 0);
        assert_eq!(without_id.uri, "hex.hex_workspace");
        assert_eq!(without_id.native_id, None);
        assert_eq!(value(&without_id, "native_id"), &PropertyValue::Null);
        assert_eq!(value(&without_id, "external_links"), &texts(&[]));
    }
}
