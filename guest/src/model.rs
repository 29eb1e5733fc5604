//! The Hex API's JSON as the connector reads it: the project list and the project object.
//!
//! Every field is optional and unknown fields are ignored, because the API grows and any object
//! may be null or absent; deciding what a missing value means is the mapping's job, not serde's.
//! Only the fields the mapping uses are declared.
//!
//! Text borrows from the response body where it can (a string without escapes): a page of 100
//! projects then costs a few dozen allocations instead of a few thousand.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

/// A JSON string, borrowed from the response body when it has no escapes and owned otherwise.
/// (serde's own `Cow<str>` always copies when it sits inside an `Option`.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// One page of `GET /projects`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProjectList<'a> {
    /// The page's projects; `None` when the response has no `values` list at all.
    #[serde(borrow)]
    pub values: Option<Vec<Project<'a>>>,
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
pub struct Project<'a> {
    /// The project's UUID.
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// Its title.
    #[serde(borrow)]
    pub title: Option<Text<'a>>,
    /// Its description; null when it has none.
    #[serde(borrow)]
    pub description: Option<Text<'a>>,
    /// `PROJECT` or `COMPONENT`.
    #[serde(rename = "type", borrow)]
    pub project_type: Option<Text<'a>>,
    /// Who created it.
    #[serde(borrow)]
    pub creator: Option<User<'a>>,
    /// Who owns it.
    #[serde(borrow)]
    pub owner: Option<User<'a>>,
    /// Its workflow status, e.g. `In development`, `Published`.
    #[serde(borrow)]
    pub status: Option<Status<'a>>,
    /// The categories it is filed under.
    #[serde(borrow)]
    pub categories: Option<Vec<Category<'a>>>,
    /// Its review settings.
    pub reviews: Option<Reviews>,
    /// Its usage.
    #[serde(borrow)]
    pub analytics: Option<Analytics<'a>>,
    /// RFC 3339.
    #[serde(borrow)]
    pub created_at: Option<Text<'a>>,
    /// RFC 3339.
    #[serde(borrow)]
    pub last_edited_at: Option<Text<'a>>,
    /// RFC 3339; null when never published.
    #[serde(borrow)]
    pub last_published_at: Option<Text<'a>>,
    /// RFC 3339; null unless archived.
    #[serde(borrow)]
    pub archived_at: Option<Text<'a>>,
    /// RFC 3339; null unless trashed.
    #[serde(borrow)]
    pub trashed_at: Option<Text<'a>>,
    /// Its scheduled runs.
    #[serde(borrow)]
    pub schedules: Option<Vec<Schedule<'a>>>,
    /// Who can see it; present when the list asks for `includeSharing`.
    #[serde(borrow)]
    pub sharing: Option<Sharing<'a>>,
}

/// A Hex user, as projects refer to one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct User<'a> {
    /// The user's email.
    #[serde(borrow)]
    pub email: Option<Text<'a>>,
}

/// A project status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Status<'a> {
    /// The status's name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// A project category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Category<'a> {
    /// The category's name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
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
pub struct Analytics<'a> {
    /// Views of the published app over several windows.
    pub app_views: Option<AppViews>,
    /// RFC 3339.
    #[serde(borrow)]
    pub last_viewed_at: Option<Text<'a>>,
    /// RFC 3339.
    #[serde(borrow)]
    pub published_results_updated_at: Option<Text<'a>>,
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
pub struct Schedule<'a> {
    /// `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY` or `CUSTOM`.
    #[serde(borrow)]
    pub cadence: Option<Text<'a>>,
    /// Whether the schedule runs.
    pub enabled: Option<bool>,
}

/// Who can see a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sharing<'a> {
    /// The collections it is shared into.
    #[serde(borrow)]
    pub collections: Option<Vec<CollectionShare<'a>>>,
    /// The access of everyone in the workspace.
    #[serde(borrow)]
    pub workspace: Option<Access<'a>>,
    /// The access of anyone on the web.
    #[serde(borrow)]
    pub public_web: Option<Access<'a>>,
}

/// A project's membership of a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CollectionShare<'a> {
    /// The collection.
    #[serde(borrow)]
    pub collection: Option<Collection<'a>>,
}

/// A Hex collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Collection<'a> {
    /// The collection's name.
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// An access level: `NONE`, `APP_ONLY`, `CAN_VIEW`, `CAN_EDIT` or `FULL_ACCESS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Access<'a> {
    /// The level.
    #[serde(borrow)]
    pub access: Option<Text<'a>>,
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
    fn text_borrows_from_the_body_unless_it_has_escapes() {
        let body = br#"{"values": [{"id": "p1", "title": "A \"quoted\" title\n"}]}"#;
        let list: ProjectList = serde_json::from_slice(body).expect("reads");
        let project = &list.values.expect("values")[0];
        assert!(matches!(project.id, Some(Text(Cow::Borrowed("p1")))));
        assert_eq!(project.title.as_deref(), Some("A \"quoted\" title\n"));
        assert!(matches!(project.title, Some(Text(Cow::Owned(_)))));
    }

    #[test]
    fn a_response_without_values_is_told_apart_from_an_empty_page() {
        let missing: ProjectList = serde_json::from_str("{}").expect("reads");
        assert_eq!(missing.values, None);
        let empty: ProjectList = serde_json::from_str(r#"{"values": []}"#).expect("reads");
        assert_eq!(empty.values, Some(vec![]));
    }
}
