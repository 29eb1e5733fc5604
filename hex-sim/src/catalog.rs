//! The projects, prepared once so that serving a page costs little more than copying bytes.
//!
//! Benchmarks compare a connector against a "raw fetch floor" over 100k projects, so the server
//! must not be the bottleneck. At startup every project is serialized once (without `sharing`,
//! plus its `sharing` value on the side, spliced in only when asked for), and indexed once per
//! sort key (`createdAt`, `lastEditedAt`, `lastPublishedAt`, each newest first) and combination
//! of the three visibility flags; an ascending list walks the same index backwards. A page is
//! then a binary search for the cursor and a concatenation of ready-made strings.

use std::collections::HashMap;

use crate::cursor::{self, CursorKey};
use crate::error::SimError;
use crate::model::{Field, Project};

/// One project, serialized.
#[derive(Debug)]
struct Entry {
    /// The sort keys, by [`SortKey`]: the timestamps, empty when absent or null (which sorts
    /// such projects last, newest first).
    keys: [Box<str>; SortKey::ALL],
    id: Box<str>,
    /// The project's JSON object without `sharing`.
    body: Box<str>,
    /// The JSON of the `sharing` value, when the project has the key at all.
    sharing: Option<Box<str>>,
}

impl Entry {
    fn key(&self, sort: SortKey) -> (&str, &str) {
        (&self.keys[sort as usize], &self.id)
    }

    fn cursor(&self, sort: SortKey) -> String {
        cursor::encode(&self.keys[sort as usize], &self.id)
    }

    /// Appends the project's JSON, with `sharing` when asked and present.
    fn write(&self, out: &mut String, include_sharing: bool) {
        match (&self.sharing, include_sharing) {
            (Some(sharing), true) => {
                // `body` is an object; reopen it before its closing brace.
                let open = &self.body[..self.body.len() - 1];
                out.push_str(open);
                if open != "{" {
                    out.push(',');
                }
                out.push_str("\"sharing\":");
                out.push_str(sharing);
                out.push('}');
            }
            _ => out.push_str(&self.body),
        }
    }
}

/// The timestamp `GET /projects` sorts by (`sortBy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// `CREATED_AT`, the default.
    #[default]
    Created = 0,
    /// `LAST_EDITED_AT`.
    LastEdited = 1,
    /// `LAST_PUBLISHED_AT`; never-published projects come last newest first, first oldest first.
    LastPublished = 2,
}

impl SortKey {
    const ALL: usize = 3;

    /// The key named by a `sortBy` value.
    pub(crate) fn parse(value: &str) -> Option<SortKey> {
        match value {
            "CREATED_AT" => Some(SortKey::Created),
            "LAST_EDITED_AT" => Some(SortKey::LastEdited),
            "LAST_PUBLISHED_AT" => Some(SortKey::LastPublished),
            _ => None,
        }
    }

    fn of(self, project: &Project) -> Box<str> {
        let field = match self {
            SortKey::Created => &project.created_at,
            SortKey::LastEdited => &project.last_edited_at,
            SortKey::LastPublished => &project.last_published_at,
        };
        field.get().map_or("", String::as_str).into()
    }
}

/// The order of a list: a key and a direction. The default is Hex's: newest created first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort {
    pub(crate) key: SortKey,
    pub(crate) descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            key: SortKey::Created,
            descending: true,
        }
    }
}

/// Which hidden kinds of project a list request asks to see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) archived: bool,
    pub(crate) components: bool,
    pub(crate) trashed: bool,
}

impl Filter {
    const ALL: usize = 8;

    fn index(self) -> usize {
        usize::from(self.archived)
            | usize::from(self.components) << 1
            | usize::from(self.trashed) << 2
    }

    fn from_index(index: usize) -> Filter {
        Filter {
            archived: index & 1 != 0,
            components: index & 2 != 0,
            trashed: index & 4 != 0,
        }
    }

    fn admits(self, project: &Project) -> bool {
        (self.archived || !project.is_archived())
            && (self.components || !project.is_component())
            && (self.trashed || !project.is_trashed())
    }
}

/// Where a list request starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// The start of the list.
    First,
    /// The items after this key, in the list's order.
    After(CursorKey),
    /// The items just before this key, in the list's order.
    Before(CursorKey),
}

/// All projects, serialized, sorted and indexed.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// Newest created first; ties broken by id, also descending, so that the order is total.
    entries: Vec<Entry>,
    /// The first entry with each id.
    by_id: HashMap<Box<str>, usize>,
    /// For each [`SortKey`] and [`Filter`] (at `key * Filter::ALL + filter`), the indices into
    /// `entries` of the projects the filter admits, by that key newest first (ties by id).
    views: Vec<Vec<u32>>,
}

impl Catalog {
    pub(crate) fn new(mut projects: Vec<Project>) -> Result<Catalog, SimError> {
        let created_at = |project: &Project| project.created_at.get().cloned().unwrap_or_default();
        projects.sort_by_cached_key(|project| {
            std::cmp::Reverse((created_at(project), project.id.clone()))
        });

        let admitted: Vec<[bool; Filter::ALL]> = projects
            .iter()
            .map(|project| std::array::from_fn(|index| Filter::from_index(index).admits(project)))
            .collect();

        let mut by_id = HashMap::with_capacity(projects.len());
        let mut entries = Vec::with_capacity(projects.len());
        for (at, mut project) in projects.into_iter().enumerate() {
            let serialize_error = |source| SimError::Serialize {
                id: project.id.clone(),
                source,
            };
            let sharing = match std::mem::take(&mut project.sharing) {
                Field::Absent => None,
                sharing => Some(
                    serde_json::to_string(&sharing)
                        .map_err(serialize_error)?
                        .into(),
                ),
            };
            let body = serde_json::to_string(&project).map_err(serialize_error)?;
            by_id
                .entry(project.id.clone().into_boxed_str())
                .or_insert(at);
            entries.push(Entry {
                keys: [
                    SortKey::Created.of(&project),
                    SortKey::LastEdited.of(&project),
                    SortKey::LastPublished.of(&project),
                ],
                id: project.id.into(),
                body: body.into(),
                sharing,
            });
        }

        let mut views = Vec::with_capacity(SortKey::ALL * Filter::ALL);
        for key in [
            SortKey::Created,
            SortKey::LastEdited,
            SortKey::LastPublished,
        ] {
            let mut order: Vec<u32> = (0..entries.len() as u32).collect();
            if key != SortKey::Created {
                // Entries are already newest created first.
                order.sort_by(|&a, &b| {
                    entries[b as usize]
                        .key(key)
                        .cmp(&entries[a as usize].key(key))
                });
            }
            views.extend((0..Filter::ALL).map(|index| {
                order
                    .iter()
                    .copied()
                    .filter(|&at| admitted[at as usize][index])
                    .collect()
            }));
        }
        Ok(Catalog {
            entries,
            by_id,
            views,
        })
    }

    /// How many projects a filter admits.
    #[cfg(test)]
    pub(crate) fn len(&self, filter: Filter) -> usize {
        self.views[filter.index()].len()
    }

    /// One project's JSON, with `sharing` when asked.
    pub(crate) fn project_json(&self, id: &str, include_sharing: bool) -> Option<String> {
        let entry = &self.entries[*self.by_id.get(id)?];
        let mut out = String::with_capacity(
            entry.body.len() + entry.sharing.as_ref().map_or(0, |s| s.len() + 12),
        );
        entry.write(&mut out, include_sharing);
        Some(out)
    }

    /// The page of at most `limit` projects at `position`, in the list `filter` selects,
    /// in the order `sort` asks for.
    pub(crate) fn page(
        &self,
        filter: Filter,
        sort: Sort,
        position: &Position,
        limit: usize,
    ) -> Page<'_> {
        let view = &self.views[sort.key as usize * Filter::ALL + filter.index()];
        let len = view.len();
        // The view is newest first; an ascending list is the same view read backwards, so the
        // searches count in the view and the positions are mirrored.
        let key_of = |at: &u32| self.entries[*at as usize].key(sort.key);
        let (start, end) = match (position, sort.descending) {
            (Position::First, _) => (0, limit.min(len)),
            (Position::After(cursor), true) => {
                let start = view.partition_point(|at| key_of(at) >= cursor.key());
                (start, (start + limit).min(len))
            }
            (Position::Before(cursor), true) => {
                let end = view.partition_point(|at| key_of(at) > cursor.key());
                (end.saturating_sub(limit), end)
            }
            (Position::After(cursor), false) => {
                let start = len - view.partition_point(|at| key_of(at) > cursor.key());
                (start, (start + limit).min(len))
            }
            (Position::Before(cursor), false) => {
                let end = len - view.partition_point(|at| key_of(at) >= cursor.key());
                (end.saturating_sub(limit), end)
            }
        };
        Page {
            catalog: self,
            view,
            sort,
            start,
            end,
        }
    }
}

/// A slice of one filtered list, ready to render.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    catalog: &'a Catalog,
    view: &'a [u32],
    sort: Sort,
    /// Positions in the list's order (mirrored into `view` when ascending).
    start: usize,
    end: usize,
}

impl Page<'_> {
    /// How many projects the page holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    fn entry(&self, position: usize) -> &Entry {
        let at = if self.sort.descending {
            position
        } else {
            self.view.len() - 1 - position
        };
        &self.catalog.entries[self.view[at] as usize]
    }

    /// The `after` cursor: the last item's position, or `None` on the last page.
    pub(crate) fn after(&self) -> Option<String> {
        (self.end < self.view.len() && self.end > self.start)
            .then(|| self.entry(self.end - 1).cursor(self.sort.key))
    }

    /// The `before` cursor: the first item's position, or `None` on the first page.
    pub(crate) fn before(&self) -> Option<String> {
        (self.start > 0 && self.end > self.start)
            .then(|| self.entry(self.start).cursor(self.sort.key))
    }

    /// A cursor that is the same for every page of this list and never means "done": the
    /// position of the list's first item (or a made-up one when the list is empty).
    pub(crate) fn constant_cursor(&self) -> String {
        match (!self.view.is_empty()).then(|| self.entry(0)) {
            Some(entry) => entry.cursor(self.sort.key),
            None => cursor::encode(
                crate::REFERENCE_TIMESTAMP,
                "00000000-0000-4000-8000-000000000000",
            ),
        }
    }

    /// The response body: `{"values":[...],"pagination":{"after":...,"before":...}}`.
    pub(crate) fn render(
        &self,
        include_sharing: bool,
        after: Option<&str>,
        before: Option<&str>,
    ) -> String {
        let entries = (self.start..self.end).map(|position| self.entry(position));
        let size: usize = entries
            .clone()
            .map(|entry| entry.body.len() + 1 + entry.sharing.as_ref().map_or(0, |s| s.len() + 12))
            .sum();
        let mut out = String::with_capacity(size + 200);
        out.push_str("{\"values\":[");
        for (n, entry) in entries.enumerate() {
            if n > 0 {
                out.push(',');
            }
            entry.write(&mut out, include_sharing);
        }
        out.push_str("],\"pagination\":{\"after\":");
        push_cursor(&mut out, after);
        out.push_str(",\"before\":");
        push_cursor(&mut out, before);
        out.push_str("}}");
        out
    }
}

fn push_cursor(out: &mut String, cursor: Option<&str>) {
    match cursor {
        // Cursors are base64url: nothing in them needs escaping.
        Some(cursor) => {
            out.push('"');
            out.push_str(cursor);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::model::Workspace;

    fn values(page: &Page<'_>, include_sharing: bool) -> Vec<Value> {
        let body: Value = serde_json::from_str(&page.render(include_sharing, None, None)).unwrap();
        body["values"].as_array().unwrap().clone()
    }

    #[test]
    fn sharing_is_spliced_in_only_when_asked() {
        let workspace = Workspace::from_json_str(
            r#"[{"id":"a","createdAt":"2024-01-01T00:00:00.000Z","sharing":{"users":[]},"x":1},
                {"id":"b","createdAt":"2023-01-01T00:00:00.000Z","sharing":null},
                {"id":"c"}]"#,
        )
        .unwrap();
        let catalog = Catalog::new(workspace.projects).unwrap();
        let page = catalog.page(Filter::default(), Sort::default(), &Position::First, 10);
        let with: Vec<Value> = values(&page, true);
        assert_eq!(
            with[0],
            serde_json::json!({"id":"a","createdAt":"2024-01-01T00:00:00.000Z","sharing":{"users":[]},"x":1})
        );
        assert_eq!(with[1]["sharing"], Value::Null);
        assert!(with[1].as_object().unwrap().contains_key("sharing"));
        assert_eq!(
            with[2],
            serde_json::json!({"id":"c"}),
            "no createdAt sorts last; no sharing stays absent"
        );
        assert!(
            values(&page, false)
                .iter()
                .all(|project| project.get("sharing").is_none())
        );
    }

    #[test]
    fn after_and_before_walk_the_same_list_both_ways() {
        let catalog = Catalog::new(Workspace::synthetic(5, 95).projects).unwrap();
        let filter = Filter {
            archived: true,
            components: true,
            trashed: true,
        };
        assert_eq!(catalog.len(filter), 95);

        let mut forward = Vec::new();
        let mut position = Position::First;
        loop {
            let page = catalog.page(filter, Sort::default(), &position, 20);
            forward.push(page.start..page.end);
            match page.after() {
                Some(after) => position = Position::After(cursor::decode(&after).unwrap()),
                None => break,
            }
        }
        assert_eq!(forward, [0..20, 20..40, 40..60, 60..80, 80..95]);

        let sort = Sort::default();
        let first_80 = catalog.page(filter, sort, &Position::First, 80);
        let last = catalog.page(
            filter,
            sort,
            &Position::After(cursor::decode(&first_80.after().unwrap()).unwrap()),
            20,
        );
        let previous = catalog.page(
            filter,
            sort,
            &Position::Before(cursor::decode(&last.before().unwrap()).unwrap()),
            20,
        );
        assert_eq!((previous.start, previous.end), (60, 80));
        assert_eq!(
            catalog.page(filter, sort, &Position::First, 20).before(),
            None
        );
    }

    #[test]
    fn cursors_stay_valid_across_filters() {
        let catalog = Catalog::new(Workspace::synthetic(9, 400).projects).unwrap();
        let everything = Filter {
            archived: true,
            components: true,
            trashed: true,
        };
        let sort = Sort::default();
        let page = catalog.page(everything, sort, &Position::First, 50);
        let key = cursor::decode(&page.after().unwrap()).unwrap();
        // The same key in the default list starts right after that position, whether or not the
        // item it names is visible there.
        let next = catalog.page(Filter::default(), sort, &Position::After(key.clone()), 100);
        let first = next.entry(next.start);
        assert!(first.key(SortKey::Created) < key.key());
        assert!(next.len() > 0);
    }
}
