//! Hex projects and the workspace as Euno resources.
//!
//! The property names and their value types are a contract with Euno's catalog, so they live in
//! one place. Mapping is pure: time-relative properties are computed against the run's
//! `started-at`, never the clock, and a missing or null object upstream yields null properties
//! (or empty lists), never a failure. Timestamps that do not parse become null and a warning.

use euno_connector_sdk::prelude::*;
use euno_connector_sdk::types::Property;

use crate::model::{Project, User};
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
    /// The configured workspace id, for links.
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

    /// The URI of the project with id `id`.
    pub fn project_uri(&self, id: &str) -> String {
        format!("{}.{}", self.workspace_uri, uri_segment(id))
    }
}

/// Maps one project (or component) to a resource under the workspace. Returns `None` for a
/// project without an id, which cannot be named; `warnings` collects what the run should log.
pub fn map_project(
    project: &Project,
    context: &MappingContext,
    warnings: &mut Vec<String>,
) -> Option<Resource> {
    let id = project.id.as_deref().filter(|id| !id.is_empty())?;
    let name = project.title.as_deref().unwrap_or(id).to_owned();
    let mut timestamps = Timestamps { id, warnings };
    let analytics = project.analytics.as_ref();
    let app_views = analytics.and_then(|a| a.app_views.as_ref());
    let sharing = project.sharing.as_ref();

    let (created_at, _) = timestamps.read("created_at", project.created_at.as_deref());
    let (updated_at, edited) = timestamps.read("updated_at", project.last_edited_at.as_deref());
    let (published_at, _) = timestamps.read("published_at", project.last_published_at.as_deref());
    let (archived_at, _) = timestamps.read("archived_at", project.archived_at.as_deref());
    let (trashed_at, _) = timestamps.read("trashed_at", project.trashed_at.as_deref());
    let (published_results_updated_at, _) = timestamps.read(
        "published_results_updated_at",
        analytics.and_then(|a| a.published_results_updated_at.as_deref()),
    );
    let (last_viewed_at, viewed) = timestamps.read(
        "last_viewed_at",
        analytics.and_then(|a| a.last_viewed_at.as_deref()),
    );

    let activity_status = if project.trashed_at.is_some() {
        "trashed"
    } else if project.archived_at.is_some() {
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

    let owner = email(project.owner.as_ref());
    let creator = email(project.creator.as_ref());
    let native_owners = distinct_case_insensitive(owner.into_iter().chain(creator));

    let categories: Vec<String> = project
        .categories
        .iter()
        .flatten()
        .filter_map(|category| Some(category.name.as_deref()?.to_owned()))
        .collect();
    let collections: Vec<String> = sharing
        .and_then(|s| s.collections.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|share| Some(share.collection.as_ref()?.name.as_deref()?.to_owned()))
        .collect();
    let tags = distinct(categories.iter().chain(&collections).cloned());

    let schedules = project.schedules.as_ref();
    let cadences = distinct(
        schedules
            .into_iter()
            .flatten()
            .filter_map(|s| Some(s.cadence.as_deref()?.to_owned())),
    );
    let has_enabled_schedule = schedules.map(|s| s.iter().any(|s| s.enabled == Some(true)));

    let is_published = project.last_published_at.is_some();
    let external_links = match &context.workspace_id {
        Some(workspace_id) => {
            let view = if is_published { "app" } else { "hex" };
            vec![format!("{}/{workspace_id}/{view}/{id}", context.app_origin)]
        }
        None => Vec::new(),
    };

    let resource_type = match project.project_type.as_deref() {
        Some("COMPONENT") => COMPONENT_TYPE,
        _ => PROJECT_TYPE,
    };

    let properties = vec![
        property("name", PropertyValue::Text(name.clone())),
        property("native_id", PropertyValue::Text(id.to_owned())),
        property("description", text(project.description.as_deref())),
        property("project_type", text(project.project_type.as_deref())),
        property("created_at", created_at),
        property("updated_at", updated_at),
        property("published_at", published_at),
        property("archived_at", archived_at),
        property("trashed_at", trashed_at),
        property("published_results_updated_at", published_results_updated_at),
        property("owner", text(owner)),
        property("creator", text(creator)),
        property("native_owners", PropertyValue::TextList(native_owners)),
        property(
            "status",
            text(project.status.as_ref().and_then(|s| s.name.as_deref())),
        ),
        property("is_published", PropertyValue::Boolean(is_published)),
        property(
            "reviews_required",
            boolean(project.reviews.as_ref().and_then(|r| r.required)),
        ),
        property(
            "activity_status",
            PropertyValue::Text(activity_status.to_owned()),
        ),
        property("categories", PropertyValue::TextList(categories)),
        property("collections", PropertyValue::TextList(collections)),
        property("tags", PropertyValue::TextList(tags)),
        property(
            "impressions_7d",
            count(app_views.and_then(|v| v.last_seven_days.as_ref())),
        ),
        property(
            "impressions_14d",
            count(app_views.and_then(|v| v.last_fourteen_days.as_ref())),
        ),
        property(
            "impressions_30d",
            count(app_views.and_then(|v| v.last_thirty_days.as_ref())),
        ),
        property(
            "impressions_all_time",
            count(app_views.and_then(|v| v.all_time.as_ref())),
        ),
        property("last_viewed_at", last_viewed_at),
        property("schedule_cadences", PropertyValue::TextList(cadences)),
        property("has_enabled_schedule", boolean(has_enabled_schedule)),
        property(
            "workspace_access",
            text(sharing.and_then(|s| s.workspace.as_ref()?.access.as_deref())),
        ),
        property(
            "public_web_access",
            text(sharing.and_then(|s| s.public_web.as_ref()?.access.as_deref())),
        ),
        property("external_links", PropertyValue::TextList(external_links)),
    ];

    let mut resource = Resource::new(context.project_uri(id), resource_type, name)
        .parent(&context.workspace_uri)
        .native_id(id);
    resource.properties = properties;
    Some(resource)
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

/// Reads a project's timestamps, noting the ones that do not parse.
struct Timestamps<'a> {
    id: &'a str,
    warnings: &'a mut Vec<String>,
}

impl Timestamps<'_> {
    /// The property value of `raw`, and the instant when it parsed.
    fn read(&mut self, property: &str, raw: Option<&str>) -> (PropertyValue, Option<i64>) {
        let Some(raw) = raw else {
            return (PropertyValue::Null, None);
        };
        match parse_rfc3339(raw) {
            Some(at) => (PropertyValue::Timestamp(at), Some(at)),
            None => {
                self.warnings.push(format!(
                    "Hex project {}: {property} `{raw}` is not an RFC 3339 timestamp; \
                     recorded as null",
                    self.id
                ));
                (PropertyValue::Null, None)
            }
        }
    }
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

fn boolean(value: Option<bool>) -> PropertyValue {
    value.map_or(PropertyValue::Null, PropertyValue::Boolean)
}

fn count(value: Option<&serde_json::Number>) -> PropertyValue {
    let integer = value.and_then(|number| {
        number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.is_finite())
                // Saturating: a count beyond i64 is not worth failing a run over.
                .map(|f| f.round() as i64)
        })
    });
    integer.map_or(PropertyValue::Null, PropertyValue::Integer)
}

fn email(user: Option<&User>) -> Option<&str> {
    user?.email.as_deref().filter(|email| !email.is_empty())
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
/// case in practice); the first spelling wins.
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

    /// A project from its JSON.
    fn project(json: serde_json::Value) -> Project {
        serde_json::from_value(json).expect("a project")
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

    fn map(project: &Project, context: &MappingContext) -> (Resource, Vec<String>) {
        let mut warnings = Vec::new();
        let resource = map_project(project, context, &mut warnings).expect("has an id");
        (resource, warnings)
    }

    #[test]
    fn a_full_project_maps_every_property() {
        let context = context(&[("workspace_id", "WS-1"), ("workspace_name", "Acme")]);
        let (resource, warnings) = map(&project(full_project_json()), &context);
        assert!(warnings.is_empty(), "{warnings:?}");
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
            let (resource, warnings) = map(&project(json.clone()), &context);
            assert!(warnings.is_empty());
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
    fn a_project_without_an_id_is_skipped() {
        let mut warnings = Vec::new();
        let context = context(&[]);
        assert_eq!(
            map_project(&project(json!({"title": "x"})), &context, &mut warnings),
            None
        );
        assert_eq!(
            map_project(&project(json!({"id": ""})), &context, &mut warnings),
            None
        );
    }

    #[test]
    fn components_are_typed_hex_component() {
        let (resource, _) = map(
            &project(json!({"id": "c1", "title": "Shared Filters", "type": "COMPONENT"})),
            &context(&[]),
        );
        assert_eq!(resource.resource_type, "hex_component");
        assert_eq!(value(&resource, "project_type"), &text_value("COMPONENT"));
        let (resource, _) = map(
            &project(json!({"id": "p", "type": "PROJECT"})),
            &context(&[]),
        );
        assert_eq!(resource.resource_type, "hex_project");
    }

    #[test]
    fn external_links_follow_publication_and_the_workspace_id() {
        let published = project(json!({"id": "P1", "lastPublishedAt": "2024-08-20T10:00:00Z"}));
        let draft = project(json!({"id": "P2"}));
        let with_id = context(&[("workspace_id", "ws")]);
        let link = |project: &Project, context: &MappingContext| {
            value(&map(project, context).0, "external_links").clone()
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
        let (resource, _) = map(&p, &context(&[("workspace_name", "Acme Co")]));
        // The host refuses a URI with a space, so the name's space is encoded (found by fuzzing:
        // "hex.acme co.abc" failed every run of such a workspace).
        assert_eq!(resource.uri, "hex.acme%20co.abc");
        assert_eq!(resource.parent_uri.as_deref(), Some("hex.acme%20co"));
        let (resource, _) = map(
            &p,
            &context(&[("workspace_name", "Acme"), ("workspace_id", "W9")]),
        );
        assert_eq!(resource.uri, "hex.w9.abc");
    }

    #[test]
    fn activity_status_uses_the_run_start_and_its_boundaries() {
        let context = context(&[]);
        let status = |json: serde_json::Value| {
            let (resource, _) = map(&project(json), &context);
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
        let (resource, warnings) = map(
            &project(json!({"id": "p1", "createdAt": "last tuesday",
                            "lastEditedAt": "2024-08-21T17:16:09.567Z"})),
            &context(&[]),
        );
        assert_eq!(value(&resource, "created_at"), &PropertyValue::Null);
        assert_eq!(
            value(&resource, "updated_at"),
            &ts("2024-08-21T17:16:09.567Z")
        );
        assert_eq!(
            warnings,
            [
                "Hex project p1: created_at `last tuesday` is not an RFC 3339 timestamp; \
              recorded as null"
            ]
        );
    }

    #[test]
    fn owners_and_tags_are_distinct_in_order() {
        let (resource, _) = map(
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
