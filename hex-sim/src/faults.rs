//! Misbehaviour on demand, so a connector's retry and robustness paths can be tested and timed.
//!
//! Every fault is off by default. Request-numbered faults count `GET /projects` requests (the
//! rate-limited endpoint, and the one a connector pages through), 1-based, including the requests
//! the faults themselves answered; page-numbered faults count list requests that got past every
//! fault and validation, i.e. the pages actually served. So a retried request is a new request
//! and, when it succeeds, a new page.

use std::fmt;
use std::str::FromStr;

use crate::error::SimError;

/// Which JSON error body Hex sends. Hex uses both; a connector must read either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"reason": "...", "details": "...", "traceId": "..."}`.
    #[default]
    ReasonDetails,
    /// `{"code": "...", "message": "...", "issues": [...]}`.
    CodeMessage,
}

/// A run of consecutive `GET /projects` requests answered with one error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerErrorBurst {
    /// The first request of the run (1-based).
    pub start_at: u64,
    /// How many requests in a row fail.
    pub count: u32,
    /// The status they get, e.g. 500, 502 or 503.
    pub status: u16,
}

/// A run of consecutive `GET /projects` requests answered with 429, without waiting for a real
/// minute to pass (unlike [`Faults::rate_limit_per_minute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitBurst {
    /// The first request of the run (1-based).
    pub start_at: u64,
    /// How many requests in a row are refused.
    pub count: u32,
    /// The `Retry-After` header value in seconds; `None` sends no header, as real Hex may not.
    pub retry_after_secs: Option<u32>,
}

/// One page that is slow to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowPage {
    /// The page (1-based, counting served pages).
    pub page: u32,
    /// The extra delay before it is sent.
    pub delay_ms: u64,
}

/// A read scope a token may lack. Hex checks each scope on its own, so a token that lists
/// projects can still get 403 on cells or data connections (a connector should then go on
/// without that data, as DataHub does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `GET /data-connections` and `/data-connections/{id}`.
    DataConnections,
    /// `GET /cells`.
    Cells,
    /// `GET /projects/{id}/runs`.
    Runs,
    /// `GET /projects/{id}/queriedTables` (Enterprise has it, but a token may still lack it).
    QueriedTables,
    /// `POST /projects/export`.
    Export,
    /// `GET /users` and `GET /groups`.
    Users,
}

impl Scope {
    /// The name in the 403's details, e.g. `cells:read`.
    pub(crate) fn permission(self) -> &'static str {
        match self {
            Scope::DataConnections => "data_connections:read",
            Scope::Cells => "cells:read",
            Scope::Runs => "runs:read",
            Scope::QueriedTables => "queried_tables:read",
            Scope::Export => "export:read",
            Scope::Users => "users:read",
        }
    }
}

impl FromStr for Scope {
    type Err = ParseFaultError;

    /// `data-connections`, `cells`, `runs`, `queried-tables`, `export` or `users`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.to_ascii_lowercase().as_str() {
            "data-connections" => Ok(Scope::DataConnections),
            "cells" => Ok(Scope::Cells),
            "runs" => Ok(Scope::Runs),
            "queried-tables" => Ok(Scope::QueriedTables),
            "export" => Ok(Scope::Export),
            "users" => Ok(Scope::Users),
            _ => Err(ParseFaultError {
                expected: "data-connections, cells, runs, queried-tables, export or users",
                input: input.to_owned(),
            }),
        }
    }
}

/// The faults the simulator injects. `Faults::default()` is a well-behaved server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// A fixed-window limit on `GET /projects` requests per minute; excess requests get 429.
    pub rate_limit_per_minute: Option<u32>,
    /// Whether a 429 from `rate_limit_per_minute` carries `Retry-After` (the seconds until the
    /// window resets). Default true.
    pub retry_after: bool,
    /// Send every `Retry-After` as an HTTP date (the moment the wait ends, to the second) instead
    /// of a number of seconds. RFC 9110 allows both and Hex documents neither, so a client must
    /// read either.
    pub retry_after_http_date: bool,
    /// A burst of error statuses.
    pub server_errors: Option<ServerErrorBurst>,
    /// A burst of 429s.
    pub rate_limit_burst: Option<RateLimitBurst>,
    /// A delay before every API response: a slow server.
    pub delay_ms: u64,
    /// One slow page.
    pub slow_page: Option<SlowPage>,
    /// This page (1-based) is answered 200 with a body that is not JSON.
    pub malformed_page: Option<u32>,
    /// This page (1-based) is answered 200 with the first half of its JSON (and a
    /// `Content-Length` that matches the cut body).
    pub truncated_page: Option<u32>,
    /// Every page returns the same non-null `after` cursor, so a naive client never stops.
    pub repeat_cursor: bool,
    /// Every API request gets 403, naming this scope as missing (e.g. `projects:read`).
    pub forbidden: Option<String>,
    /// The token lacks these scopes: their endpoints answer 403 (after counting the request),
    /// the rest of the API works.
    pub missing_scopes: Vec<Scope>,
    /// The JSON shape of error bodies.
    pub error_shape: ErrorShape,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit_per_minute: None,
            retry_after: true,
            retry_after_http_date: false,
            server_errors: None,
            rate_limit_burst: None,
            delay_ms: 0,
            slow_page: None,
            malformed_page: None,
            truncated_page: None,
            repeat_cursor: false,
            forbidden: None,
            missing_scopes: Vec::new(),
            error_shape: ErrorShape::ReasonDetails,
        }
    }
}

impl Faults {
    /// Rejects settings that cannot be served, naming the fault as the CLI spells it.
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let invalid = |fault, reason: &str| {
            Err(SimError::InvalidFault {
                fault,
                reason: reason.to_owned(),
            })
        };
        if self.rate_limit_per_minute == Some(0) {
            return invalid(
                "rate-limit-per-minute",
                "must be at least 1 (leave it out for no limit)",
            );
        }
        if let Some(burst) = self.server_errors {
            if burst.start_at == 0 {
                return invalid("server-errors", "requests are numbered from 1");
            }
            if !(400..=599).contains(&burst.status) {
                return invalid(
                    "server-errors",
                    "the status must be an error status, 400 to 599",
                );
            }
        }
        if self
            .rate_limit_burst
            .is_some_and(|burst| burst.start_at == 0)
        {
            return invalid("rate-limit-burst", "requests are numbered from 1");
        }
        if self.slow_page.is_some_and(|slow| slow.page == 0) {
            return invalid("slow-page", "pages are numbered from 1");
        }
        if self.malformed_page == Some(0) {
            return invalid("malformed-page", "pages are numbered from 1");
        }
        if self.truncated_page == Some(0) {
            return invalid("truncated-page", "pages are numbered from 1");
        }
        Ok(())
    }
}

/// Whether 1-based `number` falls in the run of `count` starting at `start_at`.
pub(crate) fn in_run(number: u64, start_at: u64, count: u32) -> bool {
    number >= start_at && number - start_at < u64::from(count)
}

/// Why a fault's command-line text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got `{input}`")]
pub struct ParseFaultError {
    expected: &'static str,
    input: String,
}

fn parts<'a, const N: usize>(
    input: &'a str,
    expected: &'static str,
    optional: usize,
) -> Result<[Option<&'a str>; N], ParseFaultError> {
    let error = || ParseFaultError {
        expected,
        input: input.to_owned(),
    };
    let pieces: Vec<&str> = input.split(':').map(str::trim).collect();
    if pieces.len() > N
        || pieces.len() < N - optional
        || pieces.iter().any(|piece| piece.is_empty())
    {
        return Err(error());
    }
    let mut out = [None; N];
    for (slot, piece) in out.iter_mut().zip(pieces) {
        *slot = Some(piece);
    }
    Ok(out)
}

fn number<T: FromStr>(
    piece: Option<&str>,
    input: &str,
    expected: &'static str,
) -> Result<T, ParseFaultError> {
    piece
        .and_then(|piece| piece.parse().ok())
        .ok_or_else(|| ParseFaultError {
            expected,
            input: input.to_owned(),
        })
}

impl FromStr for ServerErrorBurst {
    type Err = ParseFaultError;

    /// `START:COUNT[:STATUS]`, status 500 by default.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "START:COUNT[:STATUS], e.g. 3:2:503";
        let [start, count, status] = parts::<3>(input, EXPECTED, 1)?;
        Ok(ServerErrorBurst {
            start_at: number(start, input, EXPECTED)?,
            count: number(count, input, EXPECTED)?,
            status: status.map_or(Ok(500), |_| number(status, input, EXPECTED))?,
        })
    }
}

impl FromStr for RateLimitBurst {
    type Err = ParseFaultError;

    /// `START:COUNT[:RETRY_AFTER_SECS|none]`, `Retry-After: 1` by default.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "START:COUNT[:RETRY_AFTER_SECS|none], e.g. 2:3:1";
        let [start, count, retry] = parts::<3>(input, EXPECTED, 1)?;
        let retry_after_secs = match retry {
            None => Some(1),
            Some(text) if text.eq_ignore_ascii_case("none") => None,
            Some(_) => Some(number(retry, input, EXPECTED)?),
        };
        Ok(RateLimitBurst {
            start_at: number(start, input, EXPECTED)?,
            count: number(count, input, EXPECTED)?,
            retry_after_secs,
        })
    }
}

impl FromStr for SlowPage {
    type Err = ParseFaultError;

    /// `PAGE:DELAY_MS`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "PAGE:DELAY_MS, e.g. 2:1500";
        let [page, delay] = parts::<2>(input, EXPECTED, 0)?;
        Ok(SlowPage {
            page: number(page, input, EXPECTED)?,
            delay_ms: number(delay, input, EXPECTED)?,
        })
    }
}

impl FromStr for ErrorShape {
    type Err = ParseFaultError;

    /// `reason-details` or `code-message`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.to_ascii_lowercase().as_str() {
            "reason-details" => Ok(ErrorShape::ReasonDetails),
            "code-message" => Ok(ErrorShape::CodeMessage),
            _ => Err(ParseFaultError {
                expected: "reason-details or code-message",
                input: input.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ErrorShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorShape::ReasonDetails => "reason-details",
            ErrorShape::CodeMessage => "code-message",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_command_line_forms() {
        assert_eq!(
            "3:2".parse(),
            Ok(ServerErrorBurst {
                start_at: 3,
                count: 2,
                status: 500
            })
        );
        assert_eq!(
            "3:2:503".parse(),
            Ok(ServerErrorBurst {
                start_at: 3,
                count: 2,
                status: 503
            })
        );
        assert_eq!(
            "1:4".parse(),
            Ok(RateLimitBurst {
                start_at: 1,
                count: 4,
                retry_after_secs: Some(1)
            })
        );
        assert_eq!(
            "1:4:0".parse(),
            Ok(RateLimitBurst {
                start_at: 1,
                count: 4,
                retry_after_secs: Some(0)
            })
        );
        assert_eq!(
            "1:4:none".parse(),
            Ok(RateLimitBurst {
                start_at: 1,
                count: 4,
                retry_after_secs: None
            })
        );
        assert_eq!(
            "2:1500".parse(),
            Ok(SlowPage {
                page: 2,
                delay_ms: 1500
            })
        );
        assert_eq!("Code-Message".parse(), Ok(ErrorShape::CodeMessage));
        assert!("3".parse::<ServerErrorBurst>().is_err());
        assert!("3:x".parse::<ServerErrorBurst>().is_err());
        assert!("1:2:3:4".parse::<RateLimitBurst>().is_err());
        assert!("2:".parse::<SlowPage>().is_err());
    }

    #[test]
    fn runs_are_inclusive_of_their_start() {
        assert!(!in_run(2, 3, 2));
        assert!(in_run(3, 3, 2));
        assert!(in_run(4, 3, 2));
        assert!(!in_run(5, 3, 2));
        assert!(!in_run(3, 3, 0));
    }

    #[test]
    fn validation_names_the_fault() {
        let faults = Faults {
            server_errors: Some(ServerErrorBurst {
                start_at: 1,
                count: 1,
                status: 200,
            }),
            ..Faults::default()
        };
        assert!(
            faults
                .validate()
                .unwrap_err()
                .to_string()
                .contains("server-errors")
        );
        assert!(Faults::default().validate().is_ok());
    }
}
