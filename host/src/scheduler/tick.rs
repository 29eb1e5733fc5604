//! The scheduler's decisions, without a clock, a directory or a task: given the instant and what
//! happened since the last tick (a scan of the sources directory, runs that finished, a shutdown),
//! [`Scheduler::tick`] says what to do (start these runs, log these notes). `serve` drives it from
//! the wall clock; the tests drive it from a clock of their own, in any steps they like.
//!
//! The rules it keeps:
//! - a source file acts only once it has settled ([`SourceDir`]);
//! - an enabled source runs when its schedule says
//!   ([`Schedule::due`](super::schedule::Schedule::due)), against the slot of its last scheduled
//!   run (from the inventory the first time, then as started here), so that missed slots run once
//!   and the next run is the slot after the last; a source never run on schedule whose first slot
//!   lies ahead (weekly) counts from when the scheduler first saw it;
//! - one run per source at a time, and at most `max_parallel` runs at once: the others wait in
//!   order, each for the slot it was due for;
//! - after a shutdown nothing starts, and the runs still waiting are dropped, each said.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use super::sources::{SourceDir, SourceNote};
use crate::dirscan::Scan;
use crate::source::SourceFile;

/// Where the scheduler learns the slot a source's last scheduled run stood for, the first time
/// it meets the source (the inventory, in `serve`).
pub trait History {
    /// The slot of `source`'s latest scheduled run, if it ever had one.
    fn last_slot(&self, source: &str) -> Option<Timestamp>;

    /// The first slot of a source that never ran on schedule and is due at once (hourly), when
    /// every scheduler must agree on it: workers sharing a database each claim the slot they
    /// compute, so it must not be the instant each first saw the source. `None` (the default,
    /// one host): that instant.
    fn first_slot(&self, source: &str) -> Option<Timestamp> {
        let _ = source;
        None
    }
}

/// What happened since the last tick.
#[derive(Debug)]
pub enum Event {
    /// The sources directory as it is now.
    Scanned(Scan),
    /// The run of this source that the scheduler started has ended, whichever way.
    Finished(String),
    /// Stop: start nothing more.
    Shutdown,
}

/// What the scheduler wants done.
#[derive(Debug)]
pub enum Action {
    /// Start a run of `file` standing for `slot`.
    Start {
        /// The source, as it was when the run came due (boxed: a note is small).
        file: Box<SourceFile>,
        /// The schedule slot the run stands for.
        slot: Timestamp,
    },
    /// Log this.
    Note(Note),
}

/// Something the scheduler says, for the log.
#[derive(Debug, Clone)]
pub enum Note {
    /// The sources directory changed.
    Source(SourceNote),
    /// A run that was waiting for its turn when the shutdown began will not start.
    NotStarted {
        /// The source.
        source: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source(note) => note.fmt(f),
            Self::NotStarted { source } => {
                write!(f, "run of source \"{source}\" not started: shutting down")
            }
        }
    }
}

/// A run that is due but waits for one of the `max_parallel` places.
#[derive(Debug)]
struct Waiting {
    file: SourceFile,
    slot: Timestamp,
}

/// The scheduler's state: the sources, the last slot of each, and the runs in flight or waiting.
#[derive(Debug)]
pub struct Scheduler {
    sources: SourceDir,
    max_parallel: usize,
    /// The slot of each source's last run: from the history at first, then as started here.
    last_slots: HashMap<String, Option<Timestamp>>,
    /// The sources with a run in flight.
    running: BTreeSet<String>,
    /// Due runs waiting for a place, in the order they came due.
    waiting: VecDeque<Waiting>,
    stopping: bool,
}

impl Scheduler {
    /// A scheduler whose source files settle for `settle` and which runs at most `max_parallel`
    /// sources at once (at least one).
    pub fn new(settle: Duration, max_parallel: usize) -> Self {
        Self {
            sources: SourceDir::new(settle),
            max_parallel: max_parallel.max(1),
            last_slots: HashMap::new(),
            running: BTreeSet::new(),
            waiting: VecDeque::new(),
            stopping: false,
        }
    }

    /// The sources in force.
    pub fn sources(&self) -> &SourceDir {
        &self.sources
    }

    /// Takes in what happened, as of `now`, and says what to do.
    pub fn tick(
        &mut self,
        now: Timestamp,
        events: Vec<Event>,
        history: &dyn History,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in events {
            match event {
                Event::Scanned(scan) => actions.extend(
                    self.sources
                        .update(scan, now)
                        .into_iter()
                        .map(|note| Action::Note(Note::Source(note))),
                ),
                Event::Finished(source) => {
                    self.running.remove(&source);
                }
                Event::Shutdown if !self.stopping => {
                    self.stopping = true;
                    actions.extend(self.waiting.drain(..).map(|waiting| {
                        Action::Note(Note::NotStarted {
                            source: waiting.file.name,
                        })
                    }));
                }
                Event::Shutdown => {}
            }
        }
        if self.stopping {
            return actions;
        }
        self.queue_due(now, history);
        while self.running.len() < self.max_parallel
            && let Some(Waiting { file, slot }) = self.waiting.pop_front()
        {
            self.running.insert(file.name.clone());
            actions.push(Action::Start {
                file: Box::new(file),
                slot,
            });
        }
        actions
    }

    /// Queues the enabled sources that are due at `now` and neither running nor waiting.
    fn queue_due(&mut self, now: Timestamp, history: &dyn History) {
        for entry in self.sources.sources.values() {
            let name = &entry.file.name;
            if !entry.schedule.enabled
                || self.running.contains(name)
                || self.waiting.iter().any(|w| w.file.name == *name)
            {
                continue;
            }
            let last = *self
                .last_slots
                .entry(name.clone())
                .or_insert_with(|| history.last_slot(name));
            let Some(mut due) = entry.schedule.due(last, now) else {
                continue;
            };
            if last.is_none()
                && due.run_at <= now
                && let Some(first) = history.first_slot(name).filter(|first| *first <= now)
            {
                due.slot = first;
            }
            if due.run_at > now {
                if last.is_none() {
                    // Never run on schedule, and not due at once (a weekly source waits for its
                    // next slot): its schedule counts from now, so that the slot it waits for
                    // comes due when its time comes, rather than always lying after `now`.
                    self.last_slots.insert(name.clone(), Some(now));
                }
                continue;
            }
            self.last_slots.insert(name.clone(), Some(due.slot));
            self.waiting.push_back(Waiting {
                file: entry.file.clone(),
                slot: due.slot,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use jiff::SignedDuration;

    use super::*;
    use crate::dirscan::Scanned;

    const SETTLE: Duration = Duration::from_secs(2);

    /// A history of last slots by source; empty: nothing ever ran.
    #[derive(Default)]
    struct Slots(HashMap<String, Timestamp>);

    impl History for Slots {
        fn last_slot(&self, source: &str) -> Option<Timestamp> {
            self.0.get(source).copied()
        }
    }

    fn t0() -> Timestamp {
        "2026-03-02T08:00:00Z".parse().unwrap()
    }

    fn after(seconds: i64) -> Timestamp {
        t0() + SignedDuration::from_secs(seconds)
    }

    fn hourly(name: &str, every_hours: u32) -> String {
        format!(
            "name = \"{name}\"\n[schedule]\nhourly = {{ every_hours = {every_hours} }}\n[settings]\ncount = 1\n"
        )
    }

    fn scan(files: &[(&str, &str)]) -> Event {
        Event::Scanned(
            files
                .iter()
                .map(|(path, text)| (PathBuf::from(path), Scanned::of(text.as_bytes().to_vec())))
                .collect(),
        )
    }

    /// The runs a tick starts: `(source, slot)`.
    fn started(actions: &[Action]) -> Vec<(String, Timestamp)> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Start { file, slot } => Some((file.name.clone(), *slot)),
                Action::Note(_) => None,
            })
            .collect()
    }

    fn notes(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Note(note) => Some(note.to_string()),
                Action::Start { .. } => None,
            })
            .collect()
    }

    /// A scheduler that has read `files` (settle zero) at `t0`, and what its first tick did.
    fn settled(files: &[(&str, &str)], max_parallel: usize) -> (Scheduler, Vec<Action>) {
        let mut scheduler = Scheduler::new(Duration::ZERO, max_parallel);
        let actions = scheduler.tick(t0(), vec![scan(files)], &Slots::default());
        (scheduler, actions)
    }

    #[test]
    fn a_never_run_hourly_source_is_due_at_once() {
        let (_, actions) = settled(&[("a.toml", &hourly("A", 6))], 4);
        assert_eq!(started(&actions), [("A".to_owned(), t0())]);
        assert!(
            notes(&actions)[0].contains("\"A\" added"),
            "{:?}",
            notes(&actions)
        );
    }

    #[test]
    fn a_source_acts_only_once_its_file_has_settled() {
        let mut scheduler = Scheduler::new(SETTLE, 4);
        let history = Slots::default();
        // The first half of a file that parses (no settings yet), then the rest a second later.
        let half = "name = \"A\"\n[schedule]\nhourly = { every_hours = 1 }\n";
        let whole = format!("{half}[settings]\ncount = 7\n");
        let actions = scheduler.tick(t0(), vec![scan(&[("a.toml", half)])], &history);
        assert!(started(&actions).is_empty());
        assert!(notes(&actions)[0].contains("waiting until it has stayed unchanged for 2000 ms"));
        let actions = scheduler.tick(after(1), vec![scan(&[("a.toml", &whole)])], &history);
        assert!(actions.is_empty(), "said once: {:?}", notes(&actions));
        let almost = after(1) + SignedDuration::from_millis(1_999);
        assert!(
            scheduler
                .tick(almost, vec![scan(&[("a.toml", &whole)])], &history)
                .is_empty()
        );
        let actions = scheduler.tick(after(3), vec![scan(&[("a.toml", &whole)])], &history);
        let [Action::Note(_), Action::Start { file, slot }] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(*slot, after(3));
        assert!(
            format!("{file:?}").contains("count"),
            "the complete file runs: {file:?}"
        );
    }

    #[test]
    fn one_run_per_source_at_a_time() {
        let (mut scheduler, actions) = settled(&[("a.toml", &hourly("A", 1))], 4);
        assert_eq!(started(&actions).len(), 1);
        let history = Slots::default();
        // Hours go by while the run goes on: nothing more starts.
        for hours in 1..5 {
            let actions = scheduler.tick(after(hours * 3600), Vec::new(), &history);
            assert!(started(&actions).is_empty(), "after {hours} h");
        }
        // Once it ends, the slots missed meanwhile run once, for the latest of them.
        let actions = scheduler.tick(
            after(5 * 3600 + 60),
            vec![Event::Finished("A".to_owned())],
            &history,
        );
        assert_eq!(started(&actions), [("A".to_owned(), after(5 * 3600))]);
    }

    #[test]
    fn missed_slots_run_once_then_on_the_grid() {
        let mut scheduler = Scheduler::new(Duration::ZERO, 4);
        // The last scheduled run stood for t0; the daemon was down for 10 h 20 min.
        let history = Slots([("A".to_owned(), t0())].into());
        let now = after(10 * 3600 + 20 * 60);
        let actions = scheduler.tick(now, vec![scan(&[("a.toml", &hourly("A", 1))])], &history);
        assert_eq!(started(&actions), [("A".to_owned(), after(10 * 3600))]);
        let actions = scheduler.tick(now, vec![Event::Finished("A".to_owned())], &history);
        assert!(started(&actions).is_empty(), "the missed slots ran once");
        // The next slot is on the grid: one hour after the slot the catch-up stood for.
        let before = after(11 * 3600) - SignedDuration::from_secs(1);
        assert!(started(&scheduler.tick(before, Vec::new(), &history)).is_empty());
        let actions = scheduler.tick(after(11 * 3600), Vec::new(), &history);
        assert_eq!(started(&actions), [("A".to_owned(), after(11 * 3600))]);
    }

    #[test]
    fn the_next_slot_is_one_period_after_the_last_run() {
        let (mut scheduler, _) = settled(&[("a.toml", &hourly("A", 6))], 4);
        let history = Slots::default();
        let actions = scheduler.tick(after(60), vec![Event::Finished("A".to_owned())], &history);
        assert!(started(&actions).is_empty());
        let just_before = after(6 * 3600) - SignedDuration::from_millis(1);
        assert!(started(&scheduler.tick(just_before, Vec::new(), &history)).is_empty());
        let actions = scheduler.tick(after(6 * 3600), Vec::new(), &history);
        assert_eq!(started(&actions), [("A".to_owned(), after(6 * 3600))]);
    }

    #[test]
    fn a_never_run_weekly_source_runs_at_its_next_slot_and_a_disabled_one_never_does() {
        let disabled = "name = \"D\"\n[schedule]\nenabled = false\nhourly = { every_hours = 1 }\n";
        let weekly =
            "name = \"W\"\n[schedule]\nweekly = { days = [\"mon\"], times = [\"09:00\"] }\n";
        // t0 is a Monday, 08:00 UTC: the weekly source waits for 09:00.
        let (mut scheduler, actions) = settled(&[("d.toml", disabled), ("w.toml", weekly)], 4);
        assert!(started(&actions).is_empty(), "{actions:?}");
        let history = Slots::default();
        let almost = after(3600) - SignedDuration::from_millis(1);
        assert!(started(&scheduler.tick(almost, Vec::new(), &history)).is_empty());
        // The daemon wakes a little after the slot, as it does.
        let woken = after(3600) + SignedDuration::from_millis(40);
        let actions = scheduler.tick(woken, Vec::new(), &history);
        assert_eq!(started(&actions), [("W".to_owned(), after(3600))]);
        let actions = scheduler.tick(after(3700), vec![Event::Finished("W".to_owned())], &history);
        assert!(started(&actions).is_empty());
        let next_monday = after(3600 + 7 * 24 * 3600);
        let actions = scheduler.tick(next_monday, Vec::new(), &history);
        assert_eq!(started(&actions), [("W".to_owned(), next_monday)]);
        let later = after(30 * 24 * 3600);
        assert!(
            started(&scheduler.tick(later, Vec::new(), &history))
                .iter()
                .all(|(name, _)| name != "D")
        );
    }

    #[test]
    fn at_most_max_parallel_runs_and_the_others_wait_in_order() {
        let files = [
            ("a.toml", hourly("A", 1)),
            ("b.toml", hourly("B", 1)),
            ("c.toml", hourly("C", 1)),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let (mut scheduler, actions) = settled(&files, 2);
        assert_eq!(
            started(&actions),
            [("A".to_owned(), t0()), ("B".to_owned(), t0())]
        );
        let history = Slots::default();
        assert!(started(&scheduler.tick(after(1), Vec::new(), &history)).is_empty());
        // C waited for the slot it was due for.
        let actions = scheduler.tick(after(90), vec![Event::Finished("B".to_owned())], &history);
        assert_eq!(started(&actions), [("C".to_owned(), t0())]);
    }

    #[test]
    fn after_a_shutdown_waiting_runs_do_not_start() {
        let files = [("a.toml", hourly("A", 1)), ("b.toml", hourly("B", 1))];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let (mut scheduler, actions) = settled(&files, 1);
        assert_eq!(started(&actions).len(), 1);
        let history = Slots::default();
        let actions = scheduler.tick(after(5), vec![Event::Shutdown], &history);
        assert!(started(&actions).is_empty());
        assert_eq!(
            notes(&actions),
            ["run of source \"B\" not started: shutting down"]
        );
        let actions = scheduler.tick(
            after(7200),
            vec![Event::Finished("A".to_owned()), scan(&files)],
            &history,
        );
        assert!(started(&actions).is_empty(), "{actions:?}");
    }

    #[test]
    fn a_removed_source_stops_running_and_an_invalid_edit_keeps_the_version_in_force() {
        let (mut scheduler, _) = settled(&[("a.toml", &hourly("A", 1))], 4);
        let history = Slots::default();
        let bad = "name = \"A\"\n[schedule]\nhourly = { every_hours = 0 }\n";
        let actions = scheduler.tick(
            after(60),
            vec![Event::Finished("A".to_owned()), scan(&[("a.toml", bad)])],
            &history,
        );
        assert!(
            notes(&actions)[0].contains("schedule.hourly.every_hours")
                && notes(&actions)[0].contains("previous version stays in force"),
            "{:?}",
            notes(&actions)
        );
        // The version in force keeps its schedule.
        let actions = scheduler.tick(after(3600), vec![scan(&[("a.toml", bad)])], &history);
        assert_eq!(started(&actions), [("A".to_owned(), after(3600))]);
        let actions = scheduler.tick(
            after(3660),
            vec![Event::Finished("A".to_owned()), scan(&[])],
            &history,
        );
        assert!(
            notes(&actions)[0].contains("removed"),
            "{:?}",
            notes(&actions)
        );
        assert!(started(&scheduler.tick(after(7200), vec![scan(&[])], &history)).is_empty());
        assert!(scheduler.sources().sources.is_empty());
    }
}
