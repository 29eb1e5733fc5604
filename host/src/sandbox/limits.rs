//! The budgets of one call into a connector: defined, defaulted and read from a source file's
//! `[limits]` table, in one place. [`budget`](super::budget), [`egress`](super::egress) and the
//! engine enforce them.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

/// Budgets for one call into a connector. Each is set by the `[limits]` table of a source file;
/// the defaults fit a large Hex workspace with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time the whole call may take.
    pub deadline: Duration,
    /// Longest any single HTTP wait (connect, first byte, between bytes) may take.
    pub request_timeout: Duration,
    /// Longest one HTTP request may take, from sending it to the end of its response body.
    pub request_total: Duration,
    /// Largest body of any one HTTP response, in bytes.
    pub max_response_bytes: u64,
    /// Most resources one run may emit.
    pub max_resources: u64,
    /// Most resources one `emit` call may carry.
    pub max_batch: usize,
    /// Longest string (URI, name, property value…) in a resource, in bytes.
    pub max_string_bytes: usize,
    /// Log the connector may write in one call, in bytes; further lines are dropped.
    pub max_log_bytes: u64,
    /// Largest checkpoint a run may save (`host.save-checkpoint`), in bytes.
    pub max_checkpoint_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            deadline: Duration::from_secs(60 * 60),
            request_timeout: Duration::from_secs(120),
            request_total: Duration::from_secs(120),
            max_response_bytes: 32 << 20,
            max_resources: 2_000_000,
            max_batch: 10_000,
            max_string_bytes: 1 << 20,
            max_log_bytes: 16 << 20,
            max_checkpoint_bytes: 1 << 20,
        }
    }
}

/// The `[limits]` table of a source file as written: each key optional, no other key allowed
/// (the source file's parser reports an unknown key or a wrong type, with its line).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsTable {
    memory_mib: Option<u32>,
    deadline_seconds: Option<u64>,
    max_request_seconds: Option<u64>,
    max_request_total_seconds: Option<u64>,
    max_response_bytes: Option<u64>,
    max_resources: Option<u64>,
    max_batch: Option<u64>,
    max_string_bytes: Option<u64>,
    max_log_bytes: Option<u64>,
    max_checkpoint_bytes: Option<u64>,
}

/// A `[limits]` value out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`limits.{key}` must be between {min} and {max}, not {found}")]
pub struct LimitsError {
    /// The key, e.g. `memory_mib`.
    pub key: &'static str,
    /// The least value allowed.
    pub min: u64,
    /// The greatest value allowed.
    pub max: u64,
    /// The value written.
    pub found: u64,
}

/// `value` if it lies in `range`, `default` if absent.
fn within(
    key: &'static str,
    value: Option<u64>,
    default: u64,
    range: RangeInclusive<u64>,
) -> Result<u64, LimitsError> {
    match value {
        None => Ok(default),
        Some(n) if range.contains(&n) => Ok(n),
        Some(found) => Err(LimitsError {
            key,
            min: *range.start(),
            max: *range.end(),
            found,
        }),
    }
}

/// A number of whole seconds in `1..=max`, or `default`.
fn seconds(
    key: &'static str,
    value: Option<u64>,
    default: Duration,
    max: u64,
) -> Result<Duration, LimitsError> {
    within(key, value, default.as_secs(), 1..=max).map(Duration::from_secs)
}

impl TryFrom<LimitsTable> for Limits {
    type Error = LimitsError;

    fn try_from(table: LimitsTable) -> Result<Self, LimitsError> {
        let defaults = Limits::default();
        let memory_mib = within(
            "memory_mib",
            table.memory_mib.map(u64::from),
            (defaults.memory_bytes >> 20) as u64,
            16..=4096,
        )?;
        Ok(Limits {
            memory_bytes: (memory_mib as usize) << 20,
            deadline: seconds(
                "deadline_seconds",
                table.deadline_seconds,
                defaults.deadline,
                7 * 24 * 3600,
            )?,
            request_timeout: seconds(
                "max_request_seconds",
                table.max_request_seconds,
                defaults.request_timeout,
                3600,
            )?,
            request_total: seconds(
                "max_request_total_seconds",
                table.max_request_total_seconds,
                defaults.request_total,
                86_400,
            )?,
            max_response_bytes: within(
                "max_response_bytes",
                table.max_response_bytes,
                defaults.max_response_bytes,
                1024..=4 << 30,
            )?,
            max_resources: within(
                "max_resources",
                table.max_resources,
                defaults.max_resources,
                1..=100_000_000,
            )?,
            max_batch: within(
                "max_batch",
                table.max_batch,
                defaults.max_batch as u64,
                1..=1_000_000,
            )? as usize,
            max_string_bytes: within(
                "max_string_bytes",
                table.max_string_bytes,
                defaults.max_string_bytes as u64,
                64..=64 << 20,
            )? as usize,
            max_log_bytes: within(
                "max_log_bytes",
                table.max_log_bytes,
                defaults.max_log_bytes,
                0..=1 << 30,
            )?,
            max_checkpoint_bytes: within(
                "max_checkpoint_bytes",
                table.max_checkpoint_bytes,
                defaults.max_checkpoint_bytes,
                0..=64 << 20,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Limits, LimitsError> {
        Limits::try_from(toml::from_str::<LimitsTable>(text).expect("the table's shape"))
    }

    #[test]
    fn every_limit_has_a_default_and_can_be_set() {
        let defaults = parse("").unwrap();
        assert_eq!(defaults, Limits::default());
        assert_eq!(defaults.memory_bytes, 256 << 20);
        assert_eq!(defaults.max_response_bytes, 32 << 20);
        assert_eq!(defaults.max_resources, 2_000_000);
        assert_eq!(defaults.max_batch, 10_000);
        assert_eq!(defaults.max_string_bytes, 1 << 20);
        assert_eq!(defaults.max_log_bytes, 16 << 20);
        assert_eq!(defaults.request_total, Duration::from_secs(120));
        assert_eq!(defaults.max_checkpoint_bytes, 1 << 20);
        assert_eq!(
            parse("max_checkpoint_bytes = 10")
                .unwrap()
                .max_checkpoint_bytes,
            10
        );
        let set = parse(
            "memory_mib = 16\nmax_response_bytes = 2048\nmax_resources = 7\nmax_batch = 3\nmax_string_bytes = 100\nmax_log_bytes = 0\nmax_request_total_seconds = 2\n",
        )
        .unwrap();
        assert_eq!(
            (
                set.memory_bytes,
                set.max_response_bytes,
                set.max_resources,
                set.max_batch,
                set.max_string_bytes,
                set.max_log_bytes,
                set.request_total,
            ),
            (16 << 20, 2048, 7, 3, 100, 0, Duration::from_secs(2))
        );
    }

    #[test]
    fn a_value_out_of_range_names_its_key_and_range() {
        for (text, message) in [
            (
                "memory_mib = 1",
                "`limits.memory_mib` must be between 16 and 4096, not 1",
            ),
            (
                "max_request_total_seconds = 0",
                "`limits.max_request_total_seconds` must be between 1 and 86400, not 0",
            ),
            (
                "max_request_total_seconds = 86401",
                "`limits.max_request_total_seconds` must be between 1 and 86400, not 86401",
            ),
            (
                "max_response_bytes = 10",
                "`limits.max_response_bytes` must be between 1024 and 4294967296, not 10",
            ),
            (
                "max_log_bytes = 2000000000",
                "`limits.max_log_bytes` must be between 0 and 1073741824, not 2000000000",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
    }
}
