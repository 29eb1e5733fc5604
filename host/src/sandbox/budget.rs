//! The budgets a connector's output must fit, counted by the host during one call: resources per
//! batch and per run, the size of every string in a resource, and the volume of its log.
//!
//! A connector is untrusted code: without these, one `emit` of ten million resources, a name of a
//! gigabyte or a log line per microsecond would land in the host's memory, the inventory or the
//! log. A resource budget broken ends the run (the data could not be kept whole); a log budget
//! spent only silences the connector, with one warning, since its data is still good.

use std::sync::{Arc, OnceLock};

use super::limits::Limits;
use crate::contract::{PropertyValue, Relations, Resource};
use crate::text::cut;

/// The longest single log line kept; the rest of a longer line is cut, saying how much.
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// The first budget a call broke, shared by everything that enforces one (the emit and log
/// imports, the HTTP hooks), so that the call ends with that reason whatever the connector did
/// with the error it was given.
#[derive(Debug, Clone, Default)]
pub struct Breach(Arc<OnceLock<String>>);

impl Breach {
    /// Records `reason`, unless a budget was broken already (the first reason stays).
    pub fn record(&self, reason: String) {
        let _ = self.0.set(reason);
    }

    /// The first budget broken, if any.
    pub fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// A batch the output budgets refuse; the call ends with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// More resources in one `emit` than `limits.max_batch`.
    #[error("the connector emitted a batch of {len} resources, more than limits.max_batch ({max})")]
    Batch {
        /// The batch's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More resources in the run than `limits.max_resources`.
    #[error("the connector emitted more than limits.max_resources ({max}) resources in one run")]
    Resources {
        /// The limit.
        max: u64,
    },
    /// A string of a resource longer than `limits.max_string_bytes`.
    #[error(
        "the connector emitted {} whose {what} is {len} bytes long, more than \
         limits.max_string_bytes ({max})",
        match .uri { Some(uri) => format!("`{uri}`"), None => "a resource".to_owned() }
    )]
    StringLength {
        /// The resource's URI, when it is short enough to quote.
        uri: Option<String>,
        /// Which string: `name`, `property \`tags\``…
        what: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A checkpoint larger than `limits.max_checkpoint_bytes`.
    #[error(
        "the connector saved a checkpoint of {len} bytes, more than limits.max_checkpoint_bytes ({max})"
    )]
    Checkpoint {
        /// The checkpoint's size.
        len: usize,
        /// The limit.
        max: u64,
    },
}

/// What the host does with one log line from the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogVerdict {
    /// Write it (possibly cut to [`MAX_LOG_LINE_BYTES`]).
    Write(String),
    /// The budget ran out with this line: write this warning instead, once.
    Exhausted(String),
    /// The budget ran out earlier: drop it.
    Drop,
}

/// What one call has used of its output budgets so far.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    resources: u64,
    log_bytes: u64,
    log_exhausted: bool,
}

impl Budget {
    /// A fresh budget under `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            resources: 0,
            log_bytes: 0,
            log_exhausted: false,
        }
    }

    /// Resources admitted so far.
    #[cfg(test)]
    fn resources(&self) -> u64 {
        self.resources
    }

    /// Admits a batch, or says which budget it breaks. Nothing is counted for a refused batch.
    pub fn admit_batch(&mut self, batch: &[Resource]) -> Result<(), BudgetError> {
        let limits = &self.limits;
        if batch.len() > limits.max_batch {
            return Err(BudgetError::Batch {
                len: batch.len(),
                max: limits.max_batch,
            });
        }
        let total = self.resources + batch.len() as u64;
        if total > limits.max_resources {
            return Err(BudgetError::Resources {
                max: limits.max_resources,
            });
        }
        for resource in batch {
            check_strings(resource, limits.max_string_bytes)?;
        }
        self.resources = total;
        Ok(())
    }

    /// Admits a checkpoint of `len` bytes, or says that it breaks `limits.max_checkpoint_bytes`.
    pub fn admit_checkpoint(&self, len: usize) -> Result<(), BudgetError> {
        if len as u64 > self.limits.max_checkpoint_bytes {
            return Err(BudgetError::Checkpoint {
                len,
                max: self.limits.max_checkpoint_bytes,
            });
        }
        Ok(())
    }

    /// Counts one log line against the log budget.
    pub fn admit_log(&mut self, message: &str) -> LogVerdict {
        if self.log_exhausted {
            return LogVerdict::Drop;
        }
        let line = cut_line(message);
        let cost = line.len() as u64;
        if self.log_bytes + cost > self.limits.max_log_bytes {
            self.log_exhausted = true;
            return LogVerdict::Exhausted(format!(
                "the connector has written limits.max_log_bytes ({} bytes) of log in this call; \
                 its further log lines are dropped",
                self.limits.max_log_bytes
            ));
        }
        self.log_bytes += cost;
        LogVerdict::Write(line)
    }
}

/// A log line cut to [`MAX_LOG_LINE_BYTES`] at a character boundary. The host redacts a line
/// before it gets here: cut first, a secret across the cut would leave its prefix behind.
fn cut_line(message: &str) -> String {
    cut(message, MAX_LOG_LINE_BYTES)
}

/// Checks every string of a resource against `max` bytes, naming the first one too long. The
/// URI is quoted only when it is itself short enough to print.
fn check_strings(resource: &Resource, max: usize) -> Result<(), BudgetError> {
    let too_long = |what: &str, len: usize| {
        Err(BudgetError::StringLength {
            uri: (resource.uri.len() <= max.min(256)).then(|| resource.uri.clone()),
            what: what.to_owned(),
            len,
            max,
        })
    };
    let fields = [
        ("URI", Some(&resource.uri)),
        ("type", Some(&resource.resource_type)),
        ("name", Some(&resource.name)),
        ("parent URI", resource.parent_uri.as_ref()),
        ("native id", resource.native_id.as_ref()),
    ];
    for (what, value) in fields {
        if let Some(value) = value
            && value.len() > max
        {
            return too_long(what, value.len());
        }
    }
    for property in &resource.properties {
        if property.name.len() > max {
            return too_long("property name", property.name.len());
        }
        let longest = match &property.value {
            PropertyValue::Text(text) => text.len(),
            PropertyValue::TextList(items) => {
                // A list counts as one string: its items and a separator each.
                items.iter().map(|item| item.len() + 1).sum()
            }
            _ => 0,
        };
        if longest > max {
            return too_long(&format!("property `{}`", property.name), longest);
        }
    }
    if let Relations::Set(relations) = &resource.relations {
        for relation in relations {
            if relation.kind.len() > max {
                return too_long("relation kind", relation.kind.len());
            }
            if relation.target.len() > max {
                return too_long("relation target", relation.target.len());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Property;

    fn limits() -> Limits {
        Limits {
            max_batch: 3,
            max_resources: 5,
            max_string_bytes: 10,
            max_log_bytes: 20,
            ..Limits::default()
        }
    }

    fn resource(uri: &str) -> Resource {
        Resource {
            uri: uri.to_owned(),
            resource_type: "t".to_owned(),
            name: "n".to_owned(),
            parent_uri: None,
            native_id: None,
            properties: vec![],
            relations: Relations::default(),
        }
    }

    #[test]
    fn batches_and_runs_are_counted() {
        let mut budget = Budget::new(limits());
        let batch = vec![resource("a"), resource("b"), resource("c")];
        assert_eq!(budget.admit_batch(&batch), Ok(()));
        let big = vec![resource("d"); 4];
        assert!(
            budget
                .admit_batch(&big)
                .unwrap_err()
                .to_string()
                .contains("max_batch (3)")
        );
        assert_eq!(budget.resources(), 3, "a refused batch is not counted");
        assert_eq!(budget.admit_batch(&batch[..2]), Ok(()));
        assert!(
            budget
                .admit_batch(&batch[..1])
                .unwrap_err()
                .to_string()
                .contains("max_resources (5)")
        );
    }

    #[test]
    fn every_string_is_measured() {
        let mut budget = Budget::new(limits());
        let long = "x".repeat(11);
        let mut named = resource("a");
        named.name = long.clone();
        assert!(
            budget
                .admit_batch(&[named])
                .unwrap_err()
                .to_string()
                .contains("`a` whose name is 11 bytes")
        );
        let mut listed = resource("b");
        listed.properties = vec![Property {
            name: "tags".to_owned(),
            value: PropertyValue::TextList(vec!["abcde".to_owned(), "fghij".to_owned()]),
        }];
        assert!(
            budget
                .admit_batch(&[listed])
                .unwrap_err()
                .to_string()
                .contains("property `tags`")
        );
        let unprintable = budget
            .admit_batch(&[resource(&long)])
            .unwrap_err()
            .to_string();
        assert!(
            unprintable.contains("a resource whose URI"),
            "{unprintable}"
        );
    }

    #[test]
    fn the_log_budget_warns_once_then_drops() {
        let mut budget = Budget::new(limits());
        assert_eq!(
            budget.admit_log("0123456789"),
            LogVerdict::Write("0123456789".to_owned())
        );
        assert!(matches!(
            budget.admit_log("0123456789x"),
            LogVerdict::Exhausted(_)
        ));
        assert_eq!(budget.admit_log("y"), LogVerdict::Drop);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let line = "é".repeat(MAX_LOG_LINE_BYTES);
        let cut = cut_line(&line);
        assert!(cut.len() < MAX_LOG_LINE_BYTES + 40);
        assert!(
            cut.ends_with("more bytes cut)"),
            "{}",
            &cut[cut.len() - 40..]
        );
    }
}
