//! `resources`, `runs` and `sources apply|list|remove`: what the inventory holds.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::args::{ResourcesArgs, RunsArgs};
use super::context::Paths;
use super::outcome::Outcome;
use super::output::{show, show_json, written_out};
use super::render::{resources_text, runs_text};
use super::table::Layout;
use crate::dirscan;
use crate::inventory::{Inventory, StoredRelation, StoredResource, format_timestamp};
use crate::scheduler::definition;
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
        _ => out.write_all(resources_text(&list, Layout::stdout()).as_bytes()),
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
    show(&runs_text(&list, Layout::stdout()), Outcome::Ok)
}

/// `sources remove`: forgets a source that has run.
pub fn remove_source(paths: &Paths, name: &str) -> Outcome {
    let mut inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let defined = match inventory.remove_source_definition(name) {
        Ok(defined) => defined,
        Err(e) => return e.into(),
    };
    // Every source that ever sponsored a resource has run, so a name without runs (and without
    // a definition) is a typo; removing it would "succeed" while the source meant stays.
    match inventory.last_run(name) {
        Ok(Some(_)) => {}
        Ok(None) if defined => {
            return show(
                &format!("Source \"{}\" removed; it had never run\n", inert(name)),
                Outcome::Ok,
            );
        }
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

/// `sources apply FILE|DIR`: validates every source file first, then stores them all, each
/// reported new, changed or unchanged. One invalid file stores nothing.
pub fn apply_sources(paths: &Paths, path: &Path) -> Outcome {
    let files: Vec<(std::path::PathBuf, Vec<u8>)> = if path.is_dir() {
        dirscan::scan(path, "toml")
            .into_iter()
            .map(|(path, scanned)| (path, scanned.bytes))
            .collect()
    } else {
        match std::fs::read(path) {
            Ok(bytes) => vec![(path.to_owned(), bytes)],
            Err(e) => {
                return Outcome::Config(format!("{}: cannot read: {e}", path.display()));
            }
        }
    };
    if files.is_empty() {
        return Outcome::Config(format!("{}: no source files (*.toml)", path.display()));
    }
    let mut definitions = Vec::new();
    for (file, bytes) in &files {
        match definition(file, bytes) {
            Ok(definition) => definitions.push(definition),
            Err(e) => return Outcome::Config(inert(&e.to_string()).into_owned()),
        }
    }
    let mut names = std::collections::BTreeMap::new();
    for definition in &definitions {
        if let Some(other) = names.insert(&definition.name, &definition.applied_from) {
            return Outcome::Config(format!(
                "{}: the source name \"{}\" is already used by {other}",
                inert(&definition.applied_from),
                inert(&definition.name)
            ));
        }
    }
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let now = jiff::Timestamp::now();
    let mut text = String::new();
    for definition in &definitions {
        match inventory.apply_source(definition, now) {
            Ok(applied) => {
                text += &format!(
                    "{:<9}  {}  ({})\n",
                    applied.as_str(),
                    inert(&definition.name),
                    inert(&definition.applied_from)
                );
            }
            Err(e) => return e.into(),
        }
    }
    show(&text, Outcome::Ok)
}

/// A stored source definition as `sources list --json` prints it.
#[derive(Serialize)]
struct DefinitionView<'a> {
    name: &'a str,
    digest: &'a str,
    applied_at: String,
    applied_from: &'a str,
    text: &'a str,
}

/// `sources list`: the source definitions the inventory holds.
pub fn list_sources(paths: &Paths, json: bool) -> Outcome {
    let inventory = match open_inventory(paths) {
        Ok(inventory) => inventory,
        Err(outcome) => return outcome,
    };
    let list = match inventory.source_definitions() {
        Ok(list) => list,
        Err(e) => return e.into(),
    };
    if json {
        let views: Vec<DefinitionView<'_>> = list
            .iter()
            .map(|s| DefinitionView {
                name: &s.name,
                digest: &s.digest,
                applied_at: format_timestamp(s.applied_at),
                applied_from: &s.applied_from,
                text: &s.text,
            })
            .collect();
        return show_json(&views);
    }
    let mut text = String::new();
    for s in &list {
        text += &format!(
            "{}  {}  applied {} from {}\n",
            inert(&s.name),
            &s.digest,
            format_timestamp(s.applied_at),
            inert(&s.applied_from)
        );
    }
    text += &format!("{} sources\n", list.len());
    show(&text, Outcome::Ok)
}
