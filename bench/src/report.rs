//! Formatting figures for the printed tables.

use std::time::Duration;

/// Seconds with three decimals, e.g. `1.234 s`.
pub fn secs(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
