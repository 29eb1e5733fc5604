//! The Hex data the simulator serves: a workspace and its project objects.
//!
//! Hex warns that any field may be null or absent and that new fields appear without notice, and a
//! connector has to survive all three. So every field here is a [`Field`], which keeps "absent"
//! apart from "null", and every object keeps the fields it does not know in `extra`: a fixture
//! loaded from JSON is served back exactly as written, and the synthetic generator can produce
//! each of those shapes on purpose.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::SimError;
use crate::lineage::Lineage;

/// One JSON object field that may be absent, present as `null`, or present with a value.
///
/// Serialized with `#[serde(default, skip_serializing_if = "Field::is_absent")]` on the
/// containing field, so that an absent field stays absent on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    /// The key is not in the object.
    #[default]
    Absent,
    /// The key is there with the value `null`.
    Null,
    /// The key is there with a value.
    Present(T),
}

impl<T> Field<T> {
    /// Whether the key is missing from the object (used by `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value, if there is one; `None` for both absent and null.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Present(value) => Some(value),
            Field::Absent | Field::Null => None,
        }
    }

    /// `Present(value)` for `Some(value)` and `Null` for `None`: the usual shape of a nullable field.
    pub fn nullable(value: Option<T>) -> Self {
        value.map_or(Field::Null, Field::Present)
    }
}

impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Field::Present(value)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Present(value) => value.serialize(serializer),
            // `Absent` is normally skipped by the container; if not, null is the closest thing.
            Field::Absent | Field::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the key is present; a missing key takes `Default`, which is `Absent`.
        Option::<T>::deserialize(deserializer).map(Field::nullable)
    }
}

/// A Hex workspace: what `GET /users/me` reports as `org`, and the projects it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// The workspace id (`org.id` in `/users/me`), which Hex puts in every app link.
    pub id: String,
    /// The workspace's display name.
    pub name: String,
    /// Every project and component, in any order: the server sorts them.
    pub projects: Vec<Project>,
    /// Data connections, cells, runs and queried tables, and the ground truth of lineage;
    /// empty when the fixture has no `lineage` key.
    #[serde(default)]
    pub lineage: Lineage,
}

impl Workspace {
    /// The workspace id a fixture of bare projects gets.
    pub const DEFAULT_ID: &str = "00000000-0000-4000-8000-00000000f1c5";
    /// The workspace name a fixture of bare projects gets.
    pub const DEFAULT_NAME: &str = "Fixture workspace";

    /// Loads a workspace from a JSON file holding either `{"id", "name", "projects": [...]}`
    /// (optionally with `"lineage": {...}`, see [`Lineage`]) or a bare array of project objects (which gets [`Self::DEFAULT_ID`] and [`Self::DEFAULT_NAME`]).
    ///
    /// Projects are served as written: nulls stay null, missing keys stay missing and unknown keys
    /// are kept. Each project needs a string `id`, and known fields must have their Hex types
    /// (or be null).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Workspace, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadFixture {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text).map_err(|source| SimError::ParseFixture {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses the same forms as [`Self::from_json_file`] from a string.
    pub fn from_json_str(text: &str) -> Result<Workspace, serde_json::Error> {
        // Choose the form by the first character rather than with an untagged enum, so that a
        // mistake deep inside a project is reported with its line and column.
        if text.trim_start().starts_with('[') {
            Ok(Workspace {
                id: Self::DEFAULT_ID.to_owned(),
                name: Self::DEFAULT_NAME.to_owned(),
                projects: serde_json::from_str(text)?,
                lineage: Lineage::default(),
            })
        } else {
            serde_json::from_str(text)
        }
    }
}

/// A Hex project or component, as `GET /projects` returns it.
///
/// Enumerated values (`type`, `cadence`, `access`) are plain strings so that a value Hex adds
/// later, or a fixture invents, passes through unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project's uuid; the one field the simulator requires, to page and look projects up.
    pub id: String,
    /// The project title.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub title: Field<String>,
    /// The description; often null.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<String>,
    /// `PROJECT` or `COMPONENT` (JSON key `type`).
    #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
    pub kind: Field<String>,
    /// Who created the project.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub creator: Field<Person>,
    /// Who owns it now.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub owner: Field<Person>,
    /// The workspace-defined status, e.g. "In development"; null when unset.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<Named>,
    /// Workspace-defined categories; may be empty.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub categories: Field<Vec<Category>>,
    /// Whether publishing needs a review.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reviews: Field<Reviews>,
    /// App view counts and last view.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub analytics: Field<Analytics>,
    /// Creation time; the list is sorted by it, newest first.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<String>,
    /// Last edit time.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_edited_at: Field<String>,
    /// Last publication time; null when never published.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_published_at: Field<String>,
    /// When archived; archived projects are listed only with `includeArchived=true`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub archived_at: Field<String>,
    /// When trashed; trashed projects are listed only with `includeTrashed=true`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub trashed_at: Field<String>,
    /// Scheduled runs.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub schedules: Field<Vec<Schedule>>,
    /// Who can see the project; sent only with `includeSharing=true`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sharing: Field<Sharing>,
    /// Fields this model does not know, served as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user reference (`creator`, `owner`, `sharing.users[].user`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The user's email address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub email: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An object whose only known field is a `name` (`status`, `collection`, `group`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Named {
    /// The display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A project category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// The category name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<String>,
    /// What the category means; may be null.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Review settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reviews {
    /// Whether a review is required before publishing.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub required: Field<bool>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Usage of the published app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    /// View counts over several windows.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub app_views: Field<AppViews>,
    /// The last time anyone viewed the app.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_viewed_at: Field<String>,
    /// The last refresh of the published results.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub published_results_updated_at: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// App view counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppViews {
    /// Views since the app was first published.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub all_time: Field<u64>,
    /// Views in the last 7 days.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_seven_days: Field<u64>,
    /// Views in the last 14 days.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_fourteen_days: Field<u64>,
    /// Views in the last 30 days.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub last_thirty_days: Field<u64>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A scheduled run. The cadence-specific settings live under a key named after the cadence
/// (`"daily": {...}`, `"weekly": {...}`), which this model keeps in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY` or `CUSTOM`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cadence: Field<String>,
    /// Whether the schedule is active.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub enabled: Field<bool>,
    /// The cadence-named settings object and any other field this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who can see a project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sharing {
    /// Users with explicit access.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub users: Field<Vec<UserAccess>>,
    /// Collections the project is in; the only place the API reveals collections.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub collections: Field<Vec<CollectionAccess>>,
    /// Groups with explicit access.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub groups: Field<Vec<GroupAccess>>,
    /// Access for everyone in the workspace.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub workspace: Field<Access>,
    /// Access for anyone on the web.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_web: Field<Access>,
    /// Access for Hex support.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub support: Field<Access>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An access level: `NONE`, `APP_ONLY`, `CAN_VIEW`, `CAN_EDIT` or `FULL_ACCESS`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Access {
    /// The access level.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub access: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user's access to a project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserAccess {
    /// The user.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user: Field<Person>,
    /// Their access level.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub access: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A collection a project belongs to, with the access the collection grants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionAccess {
    /// The collection.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub collection: Field<Named>,
    /// The access its members get.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub access: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A group's access to a project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupAccess {
    /// The group.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub group: Field<Named>,
    /// Its access level.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub access: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Project {
    /// Whether the project is a component (`type` is `COMPONENT`), hidden unless
    /// `includeComponents=true`.
    pub fn is_component(&self) -> bool {
        self.kind.get().is_some_and(|kind| kind == "COMPONENT")
    }

    /// Whether `archivedAt` is set, which hides the project unless `includeArchived=true`.
    pub fn is_archived(&self) -> bool {
        self.archived_at.get().is_some()
    }

    /// Whether `trashedAt` is set, which hides the project unless `includeTrashed=true`.
    pub fn is_trashed(&self) -> bool {
        self.trashed_at.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_null_and_unknown_fields_round_trip() {
        let text = r#"{"id":"p1","title":null,"owner":{"email":null,"team":"x"},"icon":"📊","analytics":{"appViews":null,"future":[1]}}"#;
        let project: Project = serde_json::from_str(text).unwrap();
        assert_eq!(project.title, Field::Null);
        assert_eq!(project.description, Field::Absent);
        assert_eq!(
            serde_json::to_value(&project).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn fixture_may_be_a_bare_array() {
        let workspace =
            Workspace::from_json_str(r#"[{"id":"a"},{"id":"b","type":"COMPONENT"}]"#).unwrap();
        assert_eq!(workspace.id, Workspace::DEFAULT_ID);
        assert_eq!(workspace.projects.len(), 2);
        assert!(workspace.projects[1].is_component());
    }

    #[test]
    fn fixture_errors_name_the_file() {
        let path = std::env::temp_dir().join(format!("hex-sim-bad-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"id": "w", "name": "n", "projects": [{"title": "no id"}]}"#,
        )
        .unwrap();
        let error = Workspace::from_json_file(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("id"), "{error}");
    }
}
