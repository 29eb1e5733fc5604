//! The Hex API's JSON as the connector reads it: the project list and the project object.
//!
//! Every field is optional and unknown fields are ignored, because the API grows and any object
//! may be null or absent; deciding what a missing value means is the mapping's job, not serde's.
//! Only the fields the mapping uses are declared.

use serde::Deserialize;

/// One page of `GET /projects`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProjectList {
    /// The page's projects; `None` when the response has no `values` list at all.
    pub values: Option<Vec<Project>>,
    /// The cursors around this page.
    pub pagination: Option<Pagination>,
}

/// Cursors for the neighbouring pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Pagination {
    /// The cursor of the next page; null on the last page.
    pub after: Option<String>,
    /// The cursor of the previous page.
    pub before: Option<String>,
}

/// A Hex project or component.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Project {
    /// The project's UUID.
    pub id: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its description; null when it has none.
    pub description: Option<String>,
    /// `PROJECT` or `COMPONENT`.
    #[serde(rename = "type")]
    pub project_type: Option<String>,
    /// Who created it.
    pub creator: Option<User>,
    /// Who owns it.
    pub owner: Option<User>,
    /// Its workflow status, e.g. `In development`, `Published`.
    pub status: Option<Status>,
    /// The categories it is filed under.
    pub categories: Option<Vec<Category>>,
    /// Its review settings.
    pub reviews: Option<Reviews>,
    /// Its usage.
    pub analytics: Option<Analytics>,
    /// RFC 3339.
    pub created_at: Option<String>,
    /// RFC 3339.
    pub last_edited_at: Option<String>,
    /// RFC 3339; null when never published.
    pub last_published_at: Option<String>,
    /// RFC 3339; null unless archived.
    pub archived_at: Option<String>,
    /// RFC 3339; null unless trashed.
    pub trashed_at: Option<String>,
    /// Its scheduled runs.
    pub schedules: Option<Vec<Schedule>>,
    /// Who can see it; present when the list asks for `includeSharing`.
    pub sharing: Option<Sharing>,
}

/// A Hex user, as projects refer to one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct User {
    /// The user's email.
    pub email: Option<String>,
}

/// A project status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Status {
    /// The status's name.
    pub name: Option<String>,
}

/// A project category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Category {
    /// The category's name.
    pub name: Option<String>,
}

/// A project's review settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Reviews {
    /// Whether publishing needs a review.
    pub required: Option<bool>,
}

/// A project's usage.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Analytics {
    /// Views of the published app over several windows.
    pub app_views: Option<AppViews>,
    /// RFC 3339.
    pub last_viewed_at: Option<String>,
    /// RFC 3339.
    pub published_results_updated_at: Option<String>,
}

/// App view counts. Kept as JSON numbers so that a count sent as `12.0` still reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppViews {
    /// Since the project was created.
    pub all_time: Option<serde_json::Number>,
    /// Over the last 7 days.
    pub last_seven_days: Option<serde_json::Number>,
    /// Over the last 14 days.
    pub last_fourteen_days: Option<serde_json::Number>,
    /// Over the last 30 days.
    pub last_thirty_days: Option<serde_json::Number>,
}

/// A scheduled run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Schedule {
    /// `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY` or `CUSTOM`.
    pub cadence: Option<String>,
    /// Whether the schedule runs.
    pub enabled: Option<bool>,
}

/// Who can see a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sharing {
    /// The collections it is shared into.
    pub collections: Option<Vec<CollectionShare>>,
    /// The access of everyone in the workspace.
    pub workspace: Option<Access>,
    /// The access of anyone on the web.
    pub public_web: Option<Access>,
}

/// A project's membership of a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CollectionShare {
    /// The collection.
    pub collection: Option<Collection>,
}

/// A Hex collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Collection {
    /// The collection's name.
    pub name: Option<String>,
}

/// An access level: `NONE`, `APP_ONLY`, `CAN_VIEW`, `CAN_EDIT` or `FULL_ACCESS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Access {
    /// The level.
    pub access: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_absent_fields_and_unknown_fields_all_read() {
        let list: ProjectList = serde_json::from_str(
            r#"{"values": [{"id": "p1", "status": null, "sharing": {"workspace": null},
                            "brandNewField": {"x": 1}, "analytics": {"appViews": {"allTime": 12.0}}}],
                "pagination": {"after": null, "before": null}, "extra": true}"#,
        )
        .expect("reads");
        let project = &list.values.expect("values")[0];
        assert_eq!(project.id.as_deref(), Some("p1"));
        assert_eq!(project.status, None);
        assert_eq!(
            project.sharing.as_ref().and_then(|s| s.workspace.clone()),
            None
        );
        assert_eq!(list.pagination.and_then(|p| p.after), None);
    }

    #[test]
    fn a_response_without_values_is_told_apart_from_an_empty_page() {
        let missing: ProjectList = serde_json::from_str("{}").expect("reads");
        assert_eq!(missing.values, None);
        let empty: ProjectList = serde_json::from_str(r#"{"values": []}"#).expect("reads");
        assert_eq!(empty.values, Some(vec![]));
    }
}
