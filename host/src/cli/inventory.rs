//! `resources`, `runs` and `sources remove`: what the inventory holds.

use std::io::Write;

use serde::Serialize;

use super::args::{ResourcesArgs, RunsArgs};
use super::context::Paths;
use super::outcome::Outcome;
use super::output::{show, show_json, written_out};
use super::render::runs_text;
use crate::inventory::{Inventory, StoredRelation, StoredResource, format_timestamp};
use crate::text::inert;

fn open_inventory(paths: &Paths) -> Result<Inventory, Outcome> {
    Ok(Inventory::open(&paths.inventory())?)
}

/// A resource as `resources --json` prints it.
#[derive(Serialize)]
struct ResourceView<'a> {
    uri: &'a str,
    #[serde(rename = "type")]
    resource_type: &'a str,
    name: &'a str,
    parent: Option<&'a str>,
    native_id: Option<&'a str>,
    properties: &'a serde_json::Map<String, serde_json::Value>,
    sponsors: &'a [String],
    relations: &'a [StoredRelation],
    first_seen: String,
    last_seen: String,
    last_changed: String,
}

impl<'a> ResourceView<'a> {
    fn of(r: &'a StoredResource) -> Self {
        Self {
            uri: &r.uri,
            resource_type: &r.resource_type,
            name: &r.name,
            parent: r.parent_uri.as_deref(),
            native_id: r.native_id.as_deref(),
            properties: &r.properties,
            sponsors: &r.sponsors,
            relations: &r.relations,
            first_seen: format_timestamp(r.first_seen),
            last_seen: format_timestamp(r.last_seen),
            last_changed: format_timestamp(r.last_changed),
        }
    }
}

/// An Euno custom-integration observation: `{"uri", "properties": {"type", "name", ...}}`, and
/// `"relations": [{"kind", "target"}]` when the resource has any.
fn euno_observation(r: &StoredResource) -> serde_json::Value {
    let mut properties = serde_json::Map::new();
    properties.insert("type".to_owned(), r.resource_type.clone().into());
    properties.insert("name".to_owned(), r.name.clone().into());
    if let Some(parent) = &r.parent_uri {
        properties.insert("parent".to_owned(), parent.clone().into());
    }
    if let Some(native_id) = &r.native_id {
        properties.insert("native_id".to_owned(), native_id.clone().into());
    }
    for (key, value) in &r.properties {
        properties
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    if r.relations.is_empty() {
        serde_json::json!({ "uri": r.uri, "properties": properties })
    } else {
        serde_json::json!({ "uri": r.uri, "properties": properties, "relations": r.relations })
    }
}

/// `resources`: a table, a JSON array, or one Euno observation a line.
pub fn resources(paths: &Paths, args: ResourcesArgs) -> Outcome {
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let list = match inventory.resources(args.source.as_deref()) {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    let format = if args.json {
        "json"
    } else {
        args.format.as_deref().unwrap_or("table")
    };
    let mut out = std::io::stdout().lock();
    let written = match format {
        "json" => {
            let views: Vec<ResourceView<'_>> = list.iter().map(ResourceView::of).collect();
            serde_json::to_writer_pretty(&mut out, &views)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        "euno" => list
            .iter()
            .try_for_each(|r| writeln!(out, "{}", euno_observation(r))),
        _ => {
            let mut result = writeln!(out, "{:<16} {:<56} {:>9} NAME", "TYPE", "URI", "RELATIONS");
            for r in &list {
                result = result.and_then(|()| {
                    writeln!(
                        out,
                        "{:<16} {:<56} {:>9} {}",
                        inert(&r.resource_type),
                        inert(&r.uri),
                        r.relations.len(),
                        inert(&r.name)
                    )
                });
            }
            result.and_then(|()| writeln!(out, "{} resources", list.len()))
        }
    };
    written_out(written.and_then(|()| out.flush()), Outcome::Ok)
}

/// `runs`: the run history, newest first.
pub fn runs(paths: &Paths, args: RunsArgs) -> Outcome {
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let list = match inventory.runs(args.source.as_deref(), Some(args.limit)) {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    if args.json {
        return show_json(&list);
    }
    show(&runs_text(&list), Outcome::Ok)
}

/// `sources remove`: forgets a source that has run.
pub fn remove_source(paths: &Paths, name: &str) -> Outcome {
    let mut inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    // Every source that ever sponsored a resource has run, so a name without runs is a typo;
    // removing it would "succeed" while the source meant stays.
    match inventory.last_run(name) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Outcome::Config(format!(
                "no source named \"{name}\" has ever run in this inventory; `euno-host runs` \
                 lists the sources that have"
            ));
        }
        Err(e) => return e.into(),
    }
    match inventory.remove_source(name, jiff::Timestamp::now()) {
        Ok(removed) => show(
            &format!(
                "Source \"{}\" removed; {removed} resources no longer sponsored by any source were removed\n",
                inert(name)
            ),
            Outcome::Ok,
        ),
        Err(e) => e.into(),
    }
}
