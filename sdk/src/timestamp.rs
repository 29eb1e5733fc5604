//! The two date formats a connector meets: RFC 3339 (most JSON APIs' timestamps) and HTTP-date
//! (a `Retry-After` header), read into the contract's [`Timestamp`](crate::types::Timestamp)
//! (milliseconds since the Unix epoch, UTC), and RFC 3339 written back for query parameters.
//!
//! Both formats are small and fixed, so the SDK handles them itself instead of pulling a date
//! library into every component.

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_DAY: i64 = 86_400_000;

/// Parses an RFC 3339 timestamp such as `2024-08-21T17:16:09.567Z` into epoch milliseconds.
///
/// Accepts `T`, `t` or a space between date and time, any number of fractional digits (kept to
/// the millisecond, truncated), and `Z` or a `±HH:MM` offset. Returns `None` for anything else,
/// including impossible dates such as February 30.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let mut cursor = Cursor::new(text.trim());
    let year = cursor.number(4)?;
    cursor.byte(b'-')?;
    let month = cursor.number(2)?;
    cursor.byte(b'-')?;
    let day = cursor.number(2)?;
    match cursor.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let (hour, minute, second) = cursor.time()?;
    let mut millis = 0;
    if cursor.peek() == Some(b'.') {
        cursor.byte(b'.')?;
        let mut digits = 0;
        while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
            cursor.next()?;
            if digits < 3 {
                millis = millis * 10 + i64::from(digit - b'0');
            }
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        // `.5` is 500 ms, `.56` is 560 ms.
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match cursor.next()? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let hours = cursor.number(2)?;
            cursor.byte(b':')?;
            let minutes = cursor.number(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = hours * 60 + minutes;
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    cursor.end()?;
    let local = epoch_ms(year, month, day, hour, minute, second)? + millis;
    Some(local - offset_minutes * 60 * MS_PER_SECOND)
}

/// Parses an HTTP-date (RFC 9110 §5.6.7) into epoch milliseconds.
///
/// Accepts the preferred IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and, as the RFC asks of
/// recipients, the obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`) forms.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    let (day, month, year, time) = match tokens.as_slice() {
        [weekday, day, month, year, time, "GMT"] if weekday.ends_with(',') => {
            (*day, *month, parse_year(year, 4)?, *time)
        }
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            // RFC 850 years have two digits; RFC 9110 reads one that looks more than 50 years in
            // the future as the past century. Against the present that is: below 70 is 20xx.
            let short = parse_year(year, 2)?;
            (
                day,
                month,
                if short < 70 {
                    2000 + short
                } else {
                    1900 + short
                },
                *time,
            )
        }
        [_weekday, month, day, time, year] => (*day, *month, parse_year(year, 4)?, *time),
        _ => return None,
    };
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day: i64 = day.parse().ok()?;
    let month = month_number(month)?;
    let mut cursor = Cursor::new(time);
    let (hour, minute, second) = cursor.time()?;
    cursor.end()?;
    epoch_ms(year, month, day, hour, minute, second)
}

/// Writes epoch milliseconds as RFC 3339 UTC, e.g. `2024-08-21T17:16:09.567Z` (the fraction only
/// when there is one), for a query parameter such as `updated_since`.
pub fn format_rfc3339(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(MS_PER_DAY);
    let in_day = epoch_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds = in_day / MS_PER_SECOND;
    let millis = in_day % MS_PER_SECOND;
    let (hour, minute, second) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    let fraction = if millis == 0 {
        String::new()
    } else {
        format!(".{millis:03}")
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

fn parse_year(text: &str, width: usize) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|month| *month == name)?;
    i64::try_from(index).ok().map(|index| index + 1)
}

/// Epoch milliseconds of a UTC civil date and time, or `None` when a field is out of range.
/// A leap second (`:60`) is accepted and lands on the next minute's first second.
fn epoch_ms(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let seconds = (hour * 60 + minute) * 60 + second;
    Some(days_from_civil(year, month, day) * MS_PER_DAY + seconds * MS_PER_SECOND)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12; // March is 0, so the leap day ends the year.
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March is 0.
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A forward-only reader over ASCII bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Exactly `width` decimal digits.
    fn number(&mut self, width: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..width {
            let digit = self.next().filter(u8::is_ascii_digit)?;
            value = value * 10 + i64::from(digit - b'0');
        }
        Some(value)
    }

    /// `HH:MM:SS`.
    fn time(&mut self) -> Option<(i64, i64, i64)> {
        let hour = self.number(2)?;
        self.byte(b':')?;
        let minute = self.number(2)?;
        self.byte(b':')?;
        let second = self.number(2)?;
        Some((hour, minute, second))
    }

    fn end(&self) -> Option<()> {
        (self.position == self.bytes.len()).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_timestamps_with_milliseconds() {
        assert_eq!(
            parse_rfc3339("2024-08-21T17:16:09.567Z"),
            Some(1_724_260_569_567)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-08-21T17:16:09Z"),
            Some(1_724_260_569_000)
        );
    }

    #[test]
    fn fractions_are_kept_to_the_millisecond() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z"), Some(500));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.56Z"), Some(560));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123456789Z"), Some(123));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.Z"), None);
    }

    #[test]
    fn offsets_shift_to_utc() {
        let utc = parse_rfc3339("2024-08-21T17:16:09Z");
        assert_eq!(parse_rfc3339("2024-08-21T19:16:09+02:00"), utc);
        assert_eq!(parse_rfc3339("2024-08-21T12:46:09-04:30"), utc);
        assert_eq!(parse_rfc3339("2024-08-21t17:16:09z"), utc);
        assert_eq!(parse_rfc3339("2024-08-21 17:16:09+00:00"), utc);
    }

    #[test]
    fn dates_before_the_epoch_and_leap_days() {
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800_000));
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        for text in [
            "",
            "2024-08-21",
            "2024-08-21T17:16Z",
            "2024-08-21T17:16:09",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-08-21T24:00:00Z",
            "2024-08-21T17:16:09+0200",
            "2024-08-21T17:16:09Z trailing",
            "yesterday",
            "2024-08-21T17:16:09.567\u{1F600}",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text:?}");
        }
    }

    #[test]
    fn parses_all_three_http_date_forms() {
        let expected = Some(784_111_777_000);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480_000)
        );
    }

    #[test]
    fn rejects_what_is_not_an_http_date() {
        for text in [
            "",
            "120",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(text), None, "{text:?}");
        }
    }

    #[test]
    fn formats_rfc_3339_and_reads_it_back() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_724_260_569_567),
            "2024-08-21T17:16:09.567Z"
        );
        assert_eq!(format_rfc3339(-1_000), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
        for ms in [
            0,
            1,
            -1,
            951_868_800_000,
            4_102_444_799_999,
            -62_135_596_800_000,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms), "{ms}");
        }
    }
}
