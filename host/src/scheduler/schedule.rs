//! When a source runs by itself: the `[schedule]` table of a source file, and the arithmetic that
//! turns it into instants.
//!
//! ```toml
//! [schedule]
//! enabled = true                    # optional; false means "run only when asked"
//! hourly = { every_hours = 6 }      # 1 to 168
//! # or
//! weekly = { days = ["mon", "thu"], times = ["09:00", "17:30"], timezone = "Europe/Berlin" }
//! ```
//!
//! The scheduler keeps, per source, the last *slot* it ran for and asks [`Schedule::due`] what to
//! do next. Every function here takes the current instant as an argument instead of reading the
//! clock, so that the daemon owns the clock and the tests can inject one.
//!
//! Weekly times are wall-clock times in an IANA time zone, resolved through jiff's copy of the tz
//! database rather than hand-written offsets, so that 09:00 stays 09:00 across daylight-saving
//! changes. A time that does not exist on a day (the clocks jump over it) runs at the instant the
//! clocks jump, the first valid instant after it; a time that occurs twice (the clocks fall back)
//! runs once, at its first occurrence.

use std::fmt;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// The longest hourly period: one week.
const MAX_EVERY_HOURS: u32 = 168;

const SCHEDULE_KEYS: &[&str] = &["enabled", "hourly", "weekly"];
const HOURLY_KEYS: &[&str] = &["every_hours"];
const WEEKLY_KEYS: &[&str] = &["days", "times", "timezone"];

/// Day names in the order they are shown, with the long forms that are accepted too.
const DAYS: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Monday),
    ("tue", "tuesday", Weekday::Tuesday),
    ("wed", "wednesday", Weekday::Wednesday),
    ("thu", "thursday", Weekday::Thursday),
    ("fri", "friday", Weekday::Friday),
    ("sat", "saturday", Weekday::Saturday),
    ("sun", "sunday", Weekday::Sunday),
];

/// A `[schedule]` table that cannot be used. Each variant names the offending field by its path
/// in the source file (`schedule.weekly.times[1]`); the caller adds which source file it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A value of the wrong type, out of range, or not understood.
    #[error("`{field}`: {problem}")]
    Invalid {
        /// The field, e.g. `schedule.hourly.every_hours`.
        field: String,
        /// What is wrong and what would be accepted.
        problem: String,
    },
    /// A key the schedule does not know, usually a typo.
    #[error("`{field}`: unknown key; expected {}", expected.join(", "))]
    UnknownKey {
        /// The unknown key with its path, e.g. `schedule.weekly.dayz`.
        field: String,
        /// The keys allowed at that level.
        expected: &'static [&'static str],
    },
    /// The time zone is not in the tz database (or there is no tz database on this machine).
    #[error("`{field}`: {}", unknown_zone_hint(name))]
    UnknownTimeZone {
        /// The field, `schedule.weekly.timezone`.
        field: String,
        /// The name as written.
        name: String,
        /// jiff's lookup error.
        #[source]
        source: jiff::Error,
    },
}

impl ScheduleError {
    /// The path of the offending field, e.g. `schedule.weekly.times[1]`.
    #[cfg(test)]
    fn field(&self) -> &str {
        match self {
            Self::Invalid { field, .. }
            | Self::UnknownKey { field, .. }
            | Self::UnknownTimeZone { field, .. } => field,
        }
    }

    fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

fn unknown_zone_hint(name: &str) -> String {
    // Without a tz database every name fails, and blaming the name would send the user the wrong
    // way.
    if jiff::tz::db().is_definitively_empty() {
        format!(
            "cannot look up time zone {name:?}: no time zone database was found on this machine; \
             install the tzdata package or point TZDIR at a zoneinfo directory"
        )
    } else {
        format!(
            "{name:?} is not a time zone in the tz database; use an IANA name such as \
             \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
        )
    }
}

/// How often a scheduled source runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// Every `every_hours` hours of elapsed time, counted from the previous slot (so runs do not
    /// drift by how long they took) and unaffected by daylight-saving changes.
    Hourly {
        /// The period, 1 to 168.
        every_hours: u32,
    },
    /// At wall-clock times on days of the week in one time zone.
    Weekly {
        /// The days, Monday first, without repeats; never empty.
        days: Vec<Weekday>,
        /// The times of day, earliest first, without repeats; never empty.
        times: Vec<Time>,
        /// The zone the days and times are read in.
        timezone: TimeZone,
        /// The zone's IANA name, for display (`UTC` by default).
        timezone_name: String,
    },
}

impl Cadence {
    /// The first slot strictly after `after`.
    ///
    /// Hourly slots have no fixed grid of their own: they are anchored on the previous slot, so
    /// `after` is taken to be that slot and the answer is `after` plus the period. Weekly slots
    /// are fixed wall-clock instants and the answer does not depend on any previous run. `None`
    /// only at the far end of jiff's supported time range.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match self {
            Self::Hourly { every_hours } => after.checked_add(period(*every_hours)).ok(),
            Self::Weekly {
                days,
                times,
                timezone,
                ..
            } => {
                // `slot_instant` never decreases as the civil datetime grows, so walking the
                // configured days and times in calendar order finds the earliest slot first. The
                // walk starts two days early because a slot on an earlier date can land on a
                // later one through a daylight-saving gap, and runs long enough to see every
                // weekday once more after `after`.
                let start = timezone
                    .to_datetime(after)
                    .date()
                    .checked_sub(jiff::Span::new().days(2))
                    .ok()?;
                calendar_slots(start, 11, days, times)
                    .filter_map(|dt| slot_instant(timezone, dt))
                    .find(|&at| at > after)
            }
        }
    }

    /// The latest slot at or before `at`, given the previous slot `anchor` (used by hourly only;
    /// `anchor <= at`).
    fn last_at_or_before(&self, anchor: Timestamp, at: Timestamp) -> Option<Timestamp> {
        match self {
            Self::Hourly { every_hours } => {
                let period = period(*every_hours);
                // Whole periods since the anchor; the period is whole seconds, so truncating the
                // elapsed time to seconds does not change the count.
                let periods = at.duration_since(anchor).as_secs() / period.as_secs();
                anchor
                    .checked_add(period.checked_mul(i32::try_from(periods).ok()?)?)
                    .ok()
            }
            Self::Weekly {
                days,
                times,
                timezone,
                ..
            } => {
                // The mirror image of `next_after`: walk backwards and take the first slot that
                // is not later than `at`.
                let start = timezone
                    .to_datetime(at)
                    .date()
                    .checked_sub(jiff::Span::new().days(8))
                    .ok()?;
                let slots: Vec<DateTime> = calendar_slots(start, 11, days, times).collect();
                slots
                    .into_iter()
                    .rev()
                    .filter_map(|dt| slot_instant(timezone, dt))
                    .find(|&slot| slot <= at)
            }
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hourly { every_hours: 1 } => f.write_str("every hour"),
            Self::Hourly { every_hours } => write!(f, "every {every_hours} hours"),
            Self::Weekly {
                days,
                times,
                timezone_name,
                ..
            } => {
                if days.len() == DAYS.len() {
                    f.write_str("every day")?;
                } else {
                    let names: Vec<&str> = days.iter().map(|&d| day_name(d)).collect();
                    f.write_str(&names.join(", "))?;
                }
                let times: Vec<String> = times
                    .iter()
                    .map(|t| format!("{:02}:{:02}", t.hour(), t.minute()))
                    .collect();
                write!(f, " at {} ({timezone_name})", times.join(", "))
            }
        }
    }
}

/// A source's `[schedule]`: whether the daemon runs it by itself, and how often.
///
/// The default (no `[schedule]` table) is not scheduled: the source runs only when asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Whether the daemon runs the source by itself. A disabled source keeps its cadence (shown
    /// by [`Schedule::describe`]) but runs only when asked.
    pub enabled: bool,
    /// How often; `None` only when there is no table, or the table is disabled and names no
    /// cadence.
    pub cadence: Option<Cadence>,
}

/// What the daemon should do next for one scheduled source; see [`Schedule::due`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// When to start the run: a future slot, or `now` when a run is owed already.
    pub run_at: Timestamp,
    /// The slot this run stands for. Store it as the source's last slot when the run starts; it
    /// equals `run_at` except when missed slots are caught up, where it is the latest missed
    /// slot, so that an hourly grid stays put.
    pub slot: Timestamp,
}

impl Schedule {
    /// Parses the `[schedule]` table of a source file; `None` (no table) is not scheduled.
    ///
    /// `enabled` defaults to true, since writing a cadence means wanting it. An enabled schedule
    /// needs exactly one of `hourly` or `weekly`; a disabled one may name one (kept for display)
    /// or none. Errors name the field, e.g. ``"`schedule.weekly.times[1]`: \"25:00\" is not a
    /// time of day as HH:MM (00:00 to 23:59)"``.
    pub fn from_table(table: Option<&toml::Table>) -> Result<Schedule, ScheduleError> {
        let Some(table) = table else {
            return Ok(Schedule::default());
        };
        check_keys(table, "schedule", SCHEDULE_KEYS)?;
        let enabled = match table.get("enabled") {
            None => true,
            Some(toml::Value::Boolean(b)) => *b,
            Some(other) => {
                return Err(ScheduleError::invalid(
                    "schedule.enabled",
                    format!("expected true or false, found {}", other.type_str()),
                ));
            }
        };
        let cadence = match (table.get("hourly"), table.get("weekly")) {
            (Some(_), Some(_)) => {
                return Err(ScheduleError::invalid(
                    "schedule",
                    "both `hourly` and `weekly` are set; keep exactly one",
                ));
            }
            (Some(hourly), None) => Some(parse_hourly(hourly)?),
            (None, Some(weekly)) => Some(parse_weekly(weekly)?),
            (None, None) if enabled => {
                return Err(ScheduleError::invalid(
                    "schedule",
                    "an enabled schedule needs one of `hourly = { every_hours = N }` or \
                     `weekly = { days = [...], times = [...] }`; or set `enabled = false`",
                ));
            }
            (None, None) => None,
        };
        Ok(Schedule { enabled, cadence })
    }

    /// The first scheduled instant strictly after `after` (see [`Cadence::next_after`] for what
    /// that means for hourly). `None` when the schedule is disabled or has no cadence.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.active()?.next_after(after)
    }

    /// What the daemon should do next, given the slot of the last *scheduled* run (`None` if it
    /// never ran by schedule; runs on request do not count) and the current instant. `None` when
    /// the schedule is disabled or has no cadence.
    ///
    /// - Never ran: an hourly source runs now, which anchors its grid (it has no other anchor, and
    ///   a freshly added source should not wait hours for its first data); a weekly source waits
    ///   for its next slot after `now`, since its times were chosen by the user.
    /// - A slot between `last_slot` and `now` was missed (the daemon was down, or is waking up a
    ///   little late): run now, once, however many slots were missed. The run stands for the
    ///   latest missed slot, so the following run is the next slot after it.
    /// - Otherwise: run at the next slot after `last_slot`.
    ///
    /// A `last_slot` later than `now` (the clock went back) is treated as `now`, so that a wrong
    /// clock once cannot hold a source back until that time comes round again.
    pub fn due(&self, last_slot: Option<Timestamp>, now: Timestamp) -> Option<Due> {
        let cadence = self.active()?;
        let Some(last) = last_slot.map(|last| last.min(now)) else {
            return match cadence {
                Cadence::Hourly { .. } => Some(Due {
                    run_at: now,
                    slot: now,
                }),
                Cadence::Weekly { .. } => {
                    let next = cadence.next_after(now)?;
                    Some(Due {
                        run_at: next,
                        slot: next,
                    })
                }
            };
        };
        let next = cadence.next_after(last)?;
        if next > now {
            return Some(Due {
                run_at: next,
                slot: next,
            });
        }
        // `next` is a missed slot, so the latest slot up to now exists and is at least `next`.
        let slot = cadence
            .last_at_or_before(last, now)
            .unwrap_or(next)
            .max(next);
        Some(Due { run_at: now, slot })
    }

    /// When the daemon should run next: [`Schedule::due`]'s `run_at`, for display (e.g. the
    /// next-run time in `status`).
    pub fn due_at(&self, last_slot: Option<Timestamp>, now: Timestamp) -> Option<Timestamp> {
        self.due(last_slot, now).map(|due| due.run_at)
    }

    /// A one-line description, e.g. `every 6 hours` or `mon, thu at 09:00, 17:30
    /// (Europe/Berlin)`, with `, disabled: runs only when asked` when not enabled.
    pub fn describe(&self) -> String {
        match (&self.cadence, self.enabled) {
            (None, _) => "not scheduled: runs only when asked".to_owned(),
            (Some(cadence), true) => cadence.to_string(),
            (Some(cadence), false) => format!("{cadence}, disabled: runs only when asked"),
        }
    }

    fn active(&self) -> Option<&Cadence> {
        self.cadence.as_ref().filter(|_| self.enabled)
    }
}

fn period(every_hours: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(every_hours))
}

/// The civil datetimes of the configured days and times on `len` consecutive dates from `start`,
/// in calendar order.
fn calendar_slots<'a>(
    start: Date,
    len: usize,
    days: &'a [Weekday],
    times: &'a [Time],
) -> impl Iterator<Item = DateTime> + 'a {
    std::iter::successors(Some(start), |date| date.tomorrow().ok())
        .take(len)
        .filter(move |date| days.contains(&date.weekday()))
        .flat_map(move |date| times.iter().map(move |&time| date.to_datetime(time)))
}

/// The instant a wall-clock slot runs at in `tz`.
fn slot_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        // The wall time occurs twice: run at the first occurrence only. The second occurrence is
        // never a slot, so the slot after the first is a later day's, and the run happens once.
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
        // The wall time does not exist: run at the first valid instant after it, which is the
        // instant the clocks jump (03:00 for a 02:30 slot when 02:00 jumps to 03:00). jiff's own
        // "compatible" choice would be 03:30, which is the slot's offset from the jump, not the
        // next valid instant. Read with the offset after the jump, the wall time lies before the
        // jump, so the transition following it is the jump itself.
        AmbiguousOffset::Gap { after, .. } => {
            let before_jump = after.to_timestamp(dt).ok()?;
            tz.following(before_jump)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

fn day_name(day: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, _, d)| *d == day)
        .map_or("?", |(short, _, _)| short)
}

fn parse_day(name: &str) -> Option<Weekday> {
    let name = name.trim().to_ascii_lowercase();
    DAYS.iter()
        .find(|(short, long, _)| name == *short || name == *long)
        .map(|(_, _, day)| *day)
}

/// `HH:MM` or `H:MM`, 24-hour.
fn parse_time(text: &str) -> Option<Time> {
    let (hour, minute) = text.trim().split_once(':')?;
    let digits = |s: &str, lens: &[usize]| {
        (lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i8>().ok())
            .flatten()
    };
    Time::new(digits(hour, &[1, 2])?, digits(minute, &[2])?, 0, 0).ok()
}

fn check_keys(
    table: &toml::Table,
    path: &str,
    allowed: &'static [&'static str],
) -> Result<(), ScheduleError> {
    match table.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(ScheduleError::UnknownKey {
            field: format!("{path}.{}", key_path(key)),
            expected: allowed,
        }),
        None => Ok(()),
    }
}

/// A key as it would be written in a dotted TOML path: bare when it can be.
fn key_path(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn parse_hourly(value: &toml::Value) -> Result<Cadence, ScheduleError> {
    let table = value.as_table().ok_or_else(|| {
        ScheduleError::invalid(
            "schedule.hourly",
            format!(
                "expected a table such as {{ every_hours = 6 }}, found {}",
                value.type_str()
            ),
        )
    })?;
    check_keys(table, "schedule.hourly", HOURLY_KEYS)?;
    const FIELD: &str = "schedule.hourly.every_hours";
    let every_hours = match table.get("every_hours") {
        None => {
            return Err(ScheduleError::invalid(
                FIELD,
                format!("missing; set the period in hours, 1 to {MAX_EVERY_HOURS}"),
            ));
        }
        Some(toml::Value::Integer(n)) => u32::try_from(*n)
            .ok()
            .filter(|n| (1..=MAX_EVERY_HOURS).contains(n))
            .ok_or_else(|| {
                ScheduleError::invalid(
                    FIELD,
                    format!("{n} is out of range; use 1 to {MAX_EVERY_HOURS} (one week)"),
                )
            })?,
        Some(other) => {
            return Err(ScheduleError::invalid(
                FIELD,
                format!(
                    "expected a whole number of hours, 1 to {MAX_EVERY_HOURS}, found {}",
                    other.type_str()
                ),
            ));
        }
    };
    Ok(Cadence::Hourly { every_hours })
}

fn parse_weekly(value: &toml::Value) -> Result<Cadence, ScheduleError> {
    let table = value.as_table().ok_or_else(|| {
        ScheduleError::invalid(
            "schedule.weekly",
            format!(
                "expected a table such as {{ days = [\"mon\"], times = [\"09:00\"] }}, found {}",
                value.type_str()
            ),
        )
    })?;
    check_keys(table, "schedule.weekly", WEEKLY_KEYS)?;

    let mut days = Vec::new();
    for (i, item) in list(table, "days", "day names such as [\"mon\", \"thu\"]")?
        .iter()
        .enumerate()
    {
        let field = format!("schedule.weekly.days[{i}]");
        let day = match item {
            toml::Value::String(name) => parse_day(name).ok_or_else(|| {
                ScheduleError::invalid(
                    &field,
                    format!("{name:?} is not a day; use mon, tue, wed, thu, fri, sat or sun"),
                )
            })?,
            other => {
                return Err(ScheduleError::invalid(
                    field,
                    format!(
                        "expected a day name such as \"mon\", found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        days.push(day);
    }
    days.sort_by_key(|day| day.to_monday_zero_offset());
    days.dedup();

    let mut times = Vec::new();
    for (i, item) in list(
        table,
        "times",
        "times of day such as [\"09:00\", \"17:30\"]",
    )?
    .iter()
    .enumerate()
    {
        let field = format!("schedule.weekly.times[{i}]");
        let not_a_time = |shown: &str| {
            ScheduleError::invalid(
                &field,
                format!("{shown} is not a time of day as HH:MM (00:00 to 23:59)"),
            )
        };
        let time = match item {
            toml::Value::String(text) => {
                parse_time(text).ok_or_else(|| not_a_time(&format!("{text:?}")))?
            }
            // An unquoted `09:00` is a TOML local time rather than a string; accept it too.
            toml::Value::Datetime(dt) => {
                toml_local_time(dt).ok_or_else(|| not_a_time(&dt.to_string()))?
            }
            other => {
                return Err(ScheduleError::invalid(
                    field,
                    format!(
                        "expected a time such as \"09:00\", found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        times.push(time);
    }
    times.sort();
    times.dedup();

    const ZONE_FIELD: &str = "schedule.weekly.timezone";
    let (timezone, timezone_name) = match table.get("timezone") {
        None => (TimeZone::UTC, "UTC".to_owned()),
        Some(toml::Value::String(name)) => {
            let zone =
                TimeZone::get(name.trim()).map_err(|source| ScheduleError::UnknownTimeZone {
                    field: ZONE_FIELD.to_owned(),
                    name: name.clone(),
                    source,
                })?;
            // The database's spelling, so that "europe/berlin" shows as "Europe/Berlin".
            let shown = zone.iana_name().unwrap_or(name.trim()).to_owned();
            (zone, shown)
        }
        Some(other) => {
            return Err(ScheduleError::invalid(
                ZONE_FIELD,
                format!(
                    "expected an IANA time zone name such as \"Europe/Berlin\", found {}",
                    other.type_str()
                ),
            ));
        }
    };

    Ok(Cadence::Weekly {
        days,
        times,
        timezone,
        timezone_name,
    })
}

/// A TOML local time with no seconds, as TOML 1.1 reads an unquoted `09:00`.
fn toml_local_time(dt: &toml::value::Datetime) -> Option<Time> {
    match (dt.date, dt.time, dt.offset) {
        (None, Some(t), None) if t.second == 0 && t.nanosecond == 0 => Time::new(
            i8::try_from(t.hour).ok()?,
            i8::try_from(t.minute).ok()?,
            0,
            0,
        )
        .ok(),
        _ => None,
    }
}

/// The non-empty array `schedule.weekly.<key>`.
fn list<'t>(
    table: &'t toml::Table,
    key: &str,
    example: &str,
) -> Result<&'t [toml::Value], ScheduleError> {
    let field = format!("schedule.weekly.{key}");
    match table.get(key) {
        None => Err(ScheduleError::invalid(
            field,
            format!("missing; list {example}"),
        )),
        Some(toml::Value::Array(items)) if items.is_empty() => Err(ScheduleError::invalid(
            field,
            format!("is empty; list {example}"),
        )),
        Some(toml::Value::Array(items)) => Ok(items),
        Some(other) => Err(ScheduleError::invalid(
            field,
            format!("expected a list of {example}, found {}", other.type_str()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use jiff::{Timestamp, Zoned};

    use super::*;

    /// An instant written with its zone, e.g. `2026-03-29T03:00+02:00[Europe/Berlin]`.
    fn at(text: &str) -> Timestamp {
        text.parse::<Zoned>()
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .timestamp()
    }

    fn utc(text: &str) -> Timestamp {
        text.parse::<Timestamp>()
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The `[schedule]` table of a source file written as TOML.
    fn parse(toml_text: &str) -> Result<Schedule, ScheduleError> {
        let file: toml::Table = toml::from_str(toml_text).expect("test TOML parses");
        Schedule::from_table(file.get("schedule").and_then(toml::Value::as_table))
    }

    fn schedule(toml_text: &str) -> Schedule {
        parse(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"))
    }

    fn weekly(days: &str, times: &str, zone: &str) -> Schedule {
        schedule(&format!(
            "[schedule]\nweekly = {{ days = {days}, times = {times}, timezone = \"{zone}\" }}"
        ))
    }

    fn hourly(every_hours: u32) -> Schedule {
        schedule(&format!(
            "[schedule]\nhourly = {{ every_hours = {every_hours} }}"
        ))
    }

    /// The next `n` slots after `from`, each shown in the schedule's zone.
    fn slots(schedule: &Schedule, from: Timestamp, n: usize, zone: &str) -> Vec<String> {
        let tz = TimeZone::get(zone).expect("zone exists");
        std::iter::successors(schedule.next_after(from), |&t| schedule.next_after(t))
            .take(n)
            .map(|t| t.to_zoned(tz.clone()).strftime("%a %F %T%:z").to_string())
            .collect()
    }

    fn error(toml_text: &str) -> String {
        match parse(toml_text) {
            Ok(s) => panic!("{toml_text} parsed to {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn weekly_rolls_over_the_end_of_the_week() {
        let s = weekly(r#"["mon"]"#, r#"["09:00"]"#, "UTC");
        // Sunday 23:00 → the next morning, the Monday of the following week.
        assert_eq!(
            s.next_after(utc("2026-03-08T23:00:00Z")),
            Some(utc("2026-03-09T09:00:00Z"))
        );
        // Monday just after the slot → a week later.
        assert_eq!(
            s.next_after(utc("2026-03-09T09:00:01Z")),
            Some(utc("2026-03-16T09:00:00Z"))
        );
    }

    #[test]
    fn weekly_runs_several_times_a_day_and_rolls_to_the_next_configured_day() {
        let s = weekly(r#"["mon", "thu"]"#, r#"["17:30", "09:00"]"#, "UTC");
        assert_eq!(
            slots(&s, utc("2026-03-09T08:00:00Z"), 5, "UTC"),
            [
                "Mon 2026-03-09 09:00:00+00:00",
                "Mon 2026-03-09 17:30:00+00:00",
                "Thu 2026-03-12 09:00:00+00:00",
                "Thu 2026-03-12 17:30:00+00:00",
                "Mon 2026-03-16 09:00:00+00:00",
            ]
        );
        // Strictly after: a slot is not its own successor.
        assert_eq!(
            s.next_after(utc("2026-03-09T09:00:00Z")),
            Some(utc("2026-03-09T17:30:00Z"))
        );
    }

    #[test]
    fn weekly_times_are_read_in_the_zone() {
        let s = weekly(r#"["mon"]"#, r#"["09:00"]"#, "Asia/Tokyo");
        // Sunday 23:00 UTC is already Monday 08:00 in Tokyo: the slot is an hour later.
        assert_eq!(
            s.next_after(utc("2026-03-08T23:00:00Z")),
            Some(utc("2026-03-09T00:00:00Z"))
        );
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_runs_when_the_clocks_jump() {
        // Europe/Berlin, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist.
        let s = weekly(r#"["sun"]"#, r#"["02:30"]"#, "Europe/Berlin");
        assert_eq!(
            slots(&s, utc("2026-03-21T12:00:00Z"), 3, "Europe/Berlin"),
            [
                "Sun 2026-03-22 02:30:00+01:00",
                // The next valid instant after the missing 02:30: the jump itself, not 03:30.
                "Sun 2026-03-29 03:00:00+02:00",
                "Sun 2026-04-05 02:30:00+02:00",
            ]
        );
        // Two slots in the same gap run once, at the jump.
        let s = weekly(
            r#"["sun"]"#,
            r#"["02:00", "02:45", "03:00"]"#,
            "Europe/Berlin",
        );
        assert_eq!(
            slots(&s, utc("2026-03-28T12:00:00Z"), 2, "Europe/Berlin"),
            [
                "Sun 2026-03-29 03:00:00+02:00",
                "Sun 2026-04-05 02:00:00+02:00"
            ]
        );
    }

    #[test]
    fn a_time_in_the_fall_back_overlap_runs_once() {
        // Europe/Berlin, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens
        // twice, at 00:30 and at 01:30 UTC.
        let s = weekly(r#"["sun"]"#, r#"["02:30"]"#, "Europe/Berlin");
        let first = at("2026-10-25T02:30+02:00[Europe/Berlin]");
        assert_eq!(s.next_after(utc("2026-10-24T12:00:00Z")), Some(first));
        let following = at("2026-11-01T02:30+01:00[Europe/Berlin]");
        assert_eq!(
            s.next_after(first),
            Some(following),
            "the second 02:30 is not a slot"
        );
        // Between the two occurrences, too.
        assert_eq!(s.next_after(utc("2026-10-25T01:00:00Z")), Some(following));
        assert_eq!(
            s.due(Some(first), at("2026-10-25T02:30+01:00[Europe/Berlin]")),
            Some(Due {
                run_at: following,
                slot: following
            })
        );
    }

    #[test]
    fn new_york_gap_and_overlap() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT. 2026-11-01: 02:00 EDT falls back to 01:00 EST.
        let gap = weekly(r#"["sun"]"#, r#"["02:30"]"#, "America/New_York");
        assert_eq!(
            gap.next_after(utc("2026-03-07T12:00:00Z")),
            Some(at("2026-03-08T03:00-04:00[America/New_York]"))
        );
        let fold = weekly(r#"["sun"]"#, r#"["01:30"]"#, "America/New_York");
        assert_eq!(
            slots(&fold, utc("2026-10-31T12:00:00Z"), 2, "America/New_York"),
            [
                "Sun 2026-11-01 01:30:00-04:00",
                "Sun 2026-11-08 01:30:00-05:00"
            ]
        );
    }

    #[test]
    fn wall_clock_times_hold_across_daylight_saving_changes() {
        let s = weekly(
            r#"["mon", "tue", "wed", "thu", "fri", "sat", "sun"]"#,
            r#"["09:00"]"#,
            "Europe/Berlin",
        );
        assert_eq!(
            slots(&s, utc("2026-03-27T12:00:00Z"), 3, "Europe/Berlin"),
            [
                "Sat 2026-03-28 09:00:00+01:00",
                "Sun 2026-03-29 09:00:00+02:00",
                "Mon 2026-03-30 09:00:00+02:00",
            ]
        );
        // Same wall time, different instants: 08:00 UTC before the change, 07:00 UTC after.
        assert_eq!(
            s.next_after(utc("2026-03-27T12:00:00Z")),
            Some(utc("2026-03-28T08:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-03-29T00:00:00Z")),
            Some(utc("2026-03-29T07:00:00Z"))
        );
        // And back in autumn: every slot over a year stays at 09:00 local.
        let tz = TimeZone::get("Europe/Berlin").expect("zone exists");
        let year = std::iter::successors(s.next_after(utc("2026-01-01T00:00:00Z")), |&t| {
            s.next_after(t)
        })
        .take(365);
        for slot in year {
            let local = slot.to_zoned(tz.clone());
            assert_eq!((local.hour(), local.minute()), (9, 0), "{local}");
        }
    }

    #[test]
    fn hourly_counts_from_the_previous_slot() {
        let s = hourly(6);
        let slot = utc("2026-03-29T00:15:00Z");
        assert_eq!(s.next_after(slot), Some(utc("2026-03-29T06:15:00Z")));
        // Elapsed hours, not wall-clock ones: across Berlin's jump it is still 6 real hours.
        assert_eq!(
            hourly(168).next_after(utc("2026-03-25T12:00:00Z")),
            Some(utc("2026-04-01T12:00:00Z"))
        );
    }

    #[test]
    fn hourly_never_ran_runs_now() {
        let now = utc("2026-05-01T10:17:00Z");
        assert_eq!(
            hourly(6).due(None, now),
            Some(Due {
                run_at: now,
                slot: now
            })
        );
    }

    #[test]
    fn weekly_never_ran_waits_for_its_next_slot() {
        let s = weekly(r#"["mon", "thu"]"#, r#"["09:00"]"#, "UTC");
        // Tuesday: the next slot is Thursday, nothing runs now.
        let now = utc("2026-03-10T12:00:00Z");
        assert_eq!(s.due_at(None, now), Some(utc("2026-03-12T09:00:00Z")));
    }

    #[test]
    fn on_time_runs_are_at_the_next_slot() {
        let s = hourly(6);
        let last = utc("2026-05-01T00:00:00Z");
        let next = utc("2026-05-01T06:00:00Z");
        assert_eq!(
            s.due(Some(last), utc("2026-05-01T00:00:01Z")),
            Some(Due {
                run_at: next,
                slot: next
            })
        );
        // Waking a little late does not shift the grid: the run stands for the 06:00 slot.
        let late = utc("2026-05-01T06:00:00.005Z");
        assert_eq!(
            s.due(Some(last), late),
            Some(Due {
                run_at: late,
                slot: next
            })
        );
    }

    #[test]
    fn missed_slots_collapse_into_one_run_now() {
        let s = hourly(6);
        let last = utc("2026-05-01T00:00:00Z");
        // Down for three days: twelve slots missed, one run now standing for the latest.
        let now = utc("2026-05-04T01:30:00Z");
        let due = s.due(Some(last), now).expect("scheduled");
        assert_eq!(
            due,
            Due {
                run_at: now,
                slot: utc("2026-05-04T00:00:00Z")
            }
        );
        // After that run, the next is the following slot on the same grid.
        assert_eq!(
            s.due_at(Some(due.slot), now),
            Some(utc("2026-05-04T06:00:00Z"))
        );

        let s = weekly(
            r#"["mon", "thu"]"#,
            r#"["09:00", "17:30"]"#,
            "Europe/Berlin",
        );
        let last = at("2026-03-02T09:00+01:00[Europe/Berlin]");
        let now = at("2026-03-13T08:00+01:00[Europe/Berlin]");
        let due = s.due(Some(last), now).expect("scheduled");
        assert_eq!(
            due,
            Due {
                run_at: now,
                slot: at("2026-03-12T17:30+01:00[Europe/Berlin]")
            }
        );
        assert_eq!(
            s.due_at(Some(due.slot), now),
            Some(at("2026-03-16T09:00+01:00[Europe/Berlin]"))
        );
    }

    /// The daemon's loop with an injected clock: sleep until `run_at`, run, store the slot.
    fn runs_between(
        s: &Schedule,
        mut last: Option<Timestamp>,
        from: Timestamp,
        until: Timestamp,
    ) -> Vec<Timestamp> {
        let mut now = from;
        let mut runs = Vec::new();
        while let Some(due) = s.due(last, now) {
            if due.run_at > until {
                break;
            }
            now = now.max(due.run_at);
            runs.push(now);
            last = Some(due.slot);
        }
        runs
    }

    #[test]
    fn a_daemon_that_was_down_runs_once_at_start_then_on_schedule() {
        let s = hourly(6);
        let runs = runs_between(
            &s,
            Some(utc("2026-05-01T00:00:00Z")),
            utc("2026-05-04T01:30:00Z"),
            utc("2026-05-04T13:00:00Z"),
        );
        assert_eq!(
            runs,
            [
                utc("2026-05-04T01:30:00Z"),
                utc("2026-05-04T06:00:00Z"),
                utc("2026-05-04T12:00:00Z")
            ]
        );
    }

    #[test]
    fn a_last_slot_in_the_future_counts_as_now() {
        let now = utc("2026-05-01T00:00:00Z");
        let wrong = utc("2027-01-01T00:00:00Z");
        assert_eq!(
            hourly(6).due_at(Some(wrong), now),
            Some(utc("2026-05-01T06:00:00Z"))
        );
        let s = weekly(r#"["fri"]"#, r#"["09:00"]"#, "UTC");
        assert_eq!(
            s.due_at(Some(wrong), now),
            Some(utc("2026-05-01T09:00:00Z"))
        );
    }

    #[test]
    fn disabled_schedules_never_come_due_but_keep_their_cadence() {
        let s = schedule("[schedule]\nenabled = false\nhourly = { every_hours = 6 }");
        assert!(!s.enabled);
        assert_eq!(s.cadence, Some(Cadence::Hourly { every_hours: 6 }));
        let now = utc("2026-05-01T00:00:00Z");
        assert_eq!(s.due(None, now), None);
        assert_eq!(s.next_after(now), None);
        assert_eq!(
            s.describe(),
            "every 6 hours, disabled: runs only when asked"
        );

        let none = schedule("[schedule]\nenabled = false");
        assert_eq!(
            none,
            Schedule {
                enabled: false,
                cadence: None
            }
        );
        assert_eq!(
            parse("name = \"no schedule\"").expect("valid"),
            Schedule::default()
        );
        assert_eq!(Schedule::default().due_at(None, now), None);
        assert_eq!(
            Schedule::default().describe(),
            "not scheduled: runs only when asked"
        );
    }

    #[test]
    fn parses_the_examples_of_the_issue() {
        assert_eq!(
            schedule("[schedule]\nenabled = true\nhourly = { every_hours = 6 }"),
            Schedule {
                enabled: true,
                cadence: Some(Cadence::Hourly { every_hours: 6 })
            }
        );
        let s = schedule(
            "[schedule]\nenabled = true\nweekly = { days = [\"mon\", \"thu\"], times = [\"09:00\", \"17:30\"], timezone = \"Europe/Berlin\" }",
        );
        let Some(Cadence::Weekly {
            days,
            times,
            timezone_name,
            ..
        }) = &s.cadence
        else {
            panic!("weekly: {s:?}");
        };
        assert_eq!(days, &[Weekday::Monday, Weekday::Thursday]);
        assert_eq!(
            times,
            &[Time::constant(9, 0, 0, 0), Time::constant(17, 30, 0, 0)]
        );
        assert_eq!(timezone_name, "Europe/Berlin");
    }

    #[test]
    fn parsing_is_lenient_where_it_cannot_hurt() {
        // `enabled` defaults to true; the zone defaults to UTC; day names are case-insensitive,
        // long or short, sorted and deduplicated; times may drop the leading zero or be TOML
        // local times.
        let s = schedule(
            "[schedule]\nweekly = { days = [\"Thursday\", \"MON\", \"thu\"], times = [17:30, \"9:00\", \"09:00\"] }",
        );
        assert!(s.enabled);
        assert_eq!(
            s.cadence,
            Some(Cadence::Weekly {
                days: vec![Weekday::Monday, Weekday::Thursday],
                times: vec![Time::constant(9, 0, 0, 0), Time::constant(17, 30, 0, 0)],
                timezone: TimeZone::UTC,
                timezone_name: "UTC".to_owned(),
            })
        );
        let s = weekly(r#"["mon"]"#, r#"["09:00"]"#, "europe/berlin");
        assert_eq!(s.describe(), "mon at 09:00 (Europe/Berlin)");
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("[schedule]", "`schedule`: an enabled schedule needs one of"),
            (
                "[schedule]\nenabled = true",
                "`schedule`: an enabled schedule needs one of",
            ),
            (
                "[schedule]\nhourly = { every_hours = 6 }\nweekly = { days = [\"mon\"], times = [\"09:00\"] }",
                "`schedule`: both `hourly` and `weekly` are set",
            ),
            (
                "[schedule]\nenabled = \"yes\"\nhourly = { every_hours = 6 }",
                "`schedule.enabled`: expected true or false, found string",
            ),
            (
                "[schedule]\nhourly = { every_hours = 0 }",
                "`schedule.hourly.every_hours`: 0 is out of range; use 1 to 168",
            ),
            (
                "[schedule]\nhourly = { every_hours = 169 }",
                "`schedule.hourly.every_hours`: 169 is out of range",
            ),
            (
                "[schedule]\nhourly = { every_hours = -6 }",
                "`schedule.hourly.every_hours`: -6 is out of range",
            ),
            (
                "[schedule]\nhourly = { every_hours = \"6\" }",
                "`schedule.hourly.every_hours`: expected a whole number of hours",
            ),
            (
                "[schedule]\nhourly = { }",
                "`schedule.hourly.every_hours`: missing",
            ),
            (
                "[schedule]\nhourly = 6",
                "`schedule.hourly`: expected a table",
            ),
            (
                "[schedule]\nhourly = { every_hour = 6 }",
                "`schedule.hourly.every_hour`: unknown key; expected every_hours",
            ),
            (
                "[schedule]\nevery_hours = 6",
                "`schedule.every_hours`: unknown key; expected enabled, hourly, weekly",
            ),
            (
                "[schedule]\nweekly = { dayz = [\"mon\"], days = [\"mon\"], times = [\"09:00\"] }",
                "`schedule.weekly.dayz`: unknown key; expected days, times, timezone",
            ),
            (
                "[schedule]\nweekly = { times = [\"09:00\"] }",
                "`schedule.weekly.days`: missing",
            ),
            (
                "[schedule]\nweekly = { days = [], times = [\"09:00\"] }",
                "`schedule.weekly.days`: is empty",
            ),
            (
                "[schedule]\nweekly = { days = \"mon\", times = [\"09:00\"] }",
                "`schedule.weekly.days`: expected a list",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\", \"mnd\"], times = [\"09:00\"] }",
                "`schedule.weekly.days[1]`: \"mnd\" is not a day; use mon, tue",
            ),
            (
                "[schedule]\nweekly = { days = [1], times = [\"09:00\"] }",
                "`schedule.weekly.days[0]`: expected a day name",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"] }",
                "`schedule.weekly.times`: missing",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [] }",
                "`schedule.weekly.times`: is empty",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"09:00\", \"25:00\"] }",
                "`schedule.weekly.times[1]`: \"25:00\" is not a time of day as HH:MM",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"9\"] }",
                "`schedule.weekly.times[0]`: \"9\" is not a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"09:60\"] }",
                "`schedule.weekly.times[0]`: \"09:60\" is not a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"9:5\"] }",
                "`schedule.weekly.times[0]`: \"9:5\" is not a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"+9:05\"] }",
                "`schedule.weekly.times[0]`: \"+9:05\" is not a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [09:00:30] }",
                "`schedule.weekly.times[0]`: 09:00:30 is not a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [900] }",
                "`schedule.weekly.times[0]`: expected a time",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"09:00\"], timezone = \"Europe/Berln\" }",
                "`schedule.weekly.timezone`: \"Europe/Berln\" is not a time zone in the tz database",
            ),
            (
                "[schedule]\nweekly = { days = [\"mon\"], times = [\"09:00\"], timezone = 1 }",
                "`schedule.weekly.timezone`: expected an IANA time zone name",
            ),
            (
                "[schedule]\nweekly = \"mon 09:00\"",
                "`schedule.weekly`: expected a table",
            ),
            // Disabled schedules are still checked.
            (
                "[schedule]\nenabled = false\nhourly = { every_hours = 0 }",
                "`schedule.hourly.every_hours`: 0 is out of range",
            ),
        ];
        for (toml_text, expected) in cases {
            let message = error(toml_text);
            assert!(
                message.starts_with(expected),
                "{toml_text}\n  gave: {message}\n  want: {expected}…"
            );
        }
        let e = parse("[schedule]\nweekly = { days = [\"mon\"], times = [\"09:00\"], timezone = \"Nowhere/Town\" }")
            .expect_err("unknown zone");
        assert_eq!(e.field(), "schedule.weekly.timezone");
        assert!(
            std::error::Error::source(&e).is_some(),
            "carries jiff's error"
        );
    }

    #[test]
    fn describes_itself_in_one_line() {
        assert_eq!(hourly(6).describe(), "every 6 hours");
        assert_eq!(hourly(1).describe(), "every hour");
        assert_eq!(
            weekly(
                r#"["thu", "mon"]"#,
                r#"["17:30", "09:00"]"#,
                "Europe/Berlin"
            )
            .describe(),
            "mon, thu at 09:00, 17:30 (Europe/Berlin)"
        );
        assert_eq!(
            weekly(
                r#"["mon", "tue", "wed", "thu", "fri", "sat", "sun"]"#,
                r#"["6:05"]"#,
                "UTC"
            )
            .describe(),
            "every day at 06:05 (UTC)"
        );
    }
}
