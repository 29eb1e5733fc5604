//! Hex's timestamp format (`2024-08-21T17:16:09.567Z`) from epoch milliseconds, and the HTTP
//! date of a `Retry-After` header.
//!
//! The simulator only ever writes timestamps, and every one it writes in a project is relative to
//! a fixed reference instant, so that a given seed produces the same bytes on any day (only the
//! `Retry-After` date of a fault follows the wall clock). A dozen lines of calendar arithmetic
//! keep a date-time crate out of the dependency tree.

/// Milliseconds in one day.
pub const DAY_MILLIS: i64 = 86_400_000;

/// The instant the synthetic workspace is generated "as of": 2026-11-01T00:00:00.000Z.
///
/// Every synthetic timestamp lies before it (creation dates within the two years before, recent
/// views within the thirty days before), so tests that compare against "now" should use this
/// instant as their clock.
pub const REFERENCE_MILLIS: i64 = days_from_civil(2026, 11, 1) * DAY_MILLIS;

/// [`REFERENCE_MILLIS`] in Hex's format.
pub const REFERENCE_TIMESTAMP: &str = "2026-11-01T00:00:00.000Z";

/// Formats epoch milliseconds (UTC) the way Hex does: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_millis(millis: i64) -> String {
    let days = millis.div_euclid(DAY_MILLIS);
    let in_day = millis.rem_euclid(DAY_MILLIS);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// Reads a timestamp in Hex's format back into epoch milliseconds; `None` for anything else.
///
/// Only the exact shape [`format_millis`] writes is accepted (`YYYY-MM-DDTHH:MM:SS.mmmZ`), which
/// is all the simulator needs to move its own timestamps forward.
pub(crate) fn parse_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 24
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.',
            23 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second, milli) = (
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..23)?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let in_day = ((hour * 60 + minute) * 60 + second) * 1000 + milli;
    Some(days_from_civil(year, month, day) * DAY_MILLIS + in_day)
}

/// Formats epoch milliseconds as an HTTP date (RFC 9110's IMF-fixdate), to the second:
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn format_http_date(millis: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(DAY_MILLIS);
    let in_day = millis.rem_euclid(DAY_MILLIS);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday}, {day:02} {month} {year:04} {hour:02}:{minute:02}:{second:02} GMT")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)` of a day count since 1970-01-01.
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_724_260_569_567), "2024-08-21T17:16:09.567Z");
        // A leap day, to exercise the calendar arithmetic around February.
        assert_eq!(format_millis(1_709_164_800_001), "2024-02-29T00:00:00.001Z");
        assert_eq!(format_millis(REFERENCE_MILLIS), REFERENCE_TIMESTAMP);
        assert_eq!(
            format_millis(REFERENCE_MILLIS - 1),
            "2026-10-31T23:59:59.999Z"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for millis in [
            0,
            1_724_260_569_567,
            1_709_164_800_001,
            REFERENCE_MILLIS - 1,
        ] {
            assert_eq!(parse_millis(&format_millis(millis)), Some(millis));
        }
        assert_eq!(parse_millis("2024-08-21T17:16:09Z"), None);
        assert_eq!(parse_millis("2024-13-21T17:16:09.567Z"), None);
        assert_eq!(parse_millis(""), None);
    }

    #[test]
    fn formats_http_dates() {
        assert_eq!(
            format_http_date(784_111_777_000),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(1_709_164_800_999),
            "Thu, 29 Feb 2024 00:00:00 GMT"
        );
    }

    #[test]
    fn round_trips_every_day_for_a_few_centuries() {
        for days in -50_000..120_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
