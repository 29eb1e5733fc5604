//! The live line of `run` and `demo` on a terminal, drawn by indicatif on stderr:
//!
//! ```text
//! ⠙ Hex demo: 2900/5086 discovered · 58 requests · 290/min · 12 s · waiting 9.8 s: rate-limited by Hex Technologies (Retry-After)
//! ```
//!
//! It starts with the run's first event and is cleared (the whole line, so that no character of
//! it is left) when the connector returns, before the summary is written. When stderr is not a
//! terminal there is no line at all. The host's log goes through [`LogWriter`], which lifts the
//! line while a log line is written, so that the two never mix.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::table::shorten_middle;
use crate::contract::WaitReason;
use crate::run::RunEvents;
use crate::text::inert;

/// How often the line is redrawn when nothing happens (the elapsed time and a wait count on).
const TICK: Duration = Duration::from_millis(100);

/// Stands for "no total" in [`Shared::total`].
const NO_TOTAL: u64 = u64::MAX;

/// The bar on screen now, if any: [`LogWriter`] lifts it to write a log line.
static LIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// What the line says at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The source, inert.
    pub source: String,
    /// Who the connector talks to (its display name), inert; for the waiting notice.
    pub upstream: String,
    /// Items the connector reports done.
    pub discovered: u64,
    /// Items it expects, when it knows.
    pub total: Option<u64>,
    /// Requests sent.
    pub requests: u64,
    /// Since the run's first event.
    pub elapsed: Duration,
    /// What the connector waits for, and how much longer.
    pub waiting: Option<(WaitReason, Duration)>,
}

/// The line's text for `s`, at most `width` terminal cells wide (the spinner's two cells
/// aside). What gives way when it is too wide, in order: the rate, who asked for the wait, the
/// middle of the source's name, then the middle of the line.
pub fn line(s: &Snapshot, width: Option<usize>) -> String {
    let room = width.map_or(usize::MAX, |width| width.saturating_sub(2));
    let fits = |text: &String| super::table::width_of(text) <= room;
    let full = compose(s, &s.source, true, true);
    if fits(&full) {
        return full;
    }
    for (rate, long_wait) in [(false, true), (false, false)] {
        let text = compose(s, &s.source, rate, long_wait);
        if fits(&text) {
            return text;
        }
    }
    let rest = compose(s, "", false, false);
    let source_room = room.saturating_sub(super::table::width_of(&rest)).max(8);
    shorten_middle(
        &compose(s, &shorten_middle(&s.source, source_room), false, false),
        room,
    )
}

/// The line for `s` with `source` as its name, with or without the rate and who asked for the
/// wait.
fn compose(s: &Snapshot, source: &str, rate: bool, long_wait: bool) -> String {
    let mut text = match s.total {
        Some(total) => format!("{source}: {}/{total} discovered", s.discovered),
        None => format!("{source}: {} discovered", s.discovered),
    };
    text += &match s.requests {
        1 => " · 1 request".to_owned(),
        n => format!(" · {n} requests"),
    };
    let seconds = s.elapsed.as_secs_f64();
    // No rate before a second has passed: it would only be noise.
    if rate && seconds >= 1.0 {
        text += &format!(" · {:.0}/min", s.requests as f64 * 60.0 / seconds);
    }
    text += &format!(" · {}", elapsed(s.elapsed));
    if let Some((reason, left)) = s.waiting {
        let left = left.as_secs_f64();
        text += &match (reason, long_wait) {
            (WaitReason::RetryAfter, true) => format!(
                " · waiting {left:.1} s: rate-limited by {} ({reason})",
                s.upstream
            ),
            (WaitReason::Throttle, true) => {
                format!(" · waiting {left:.1} s to stay under the requests per minute ({reason})")
            }
            (WaitReason::Backoff, true) => {
                format!(" · waiting {left:.1} s before retrying ({reason})")
            }
            (_, false) => format!(" · waiting {left:.1} s ({reason})"),
        };
    }
    text
}

/// `12 s`, `4m 05s`, `1h 02m`.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The counts the events update and the line reads.
struct Shared {
    source: String,
    upstream: String,
    width: Option<usize>,
    discovered: AtomicU64,
    total: AtomicU64,
    requests: AtomicU64,
    /// Set when the line starts.
    started: Mutex<Option<Instant>>,
    /// The current wait: why, and until when.
    wait: Mutex<Option<(WaitReason, Instant)>>,
}

impl Shared {
    fn snapshot(&self, now: Instant) -> Snapshot {
        let started = *self.started.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = self
            .wait
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .and_then(|(reason, until)| {
                let left = until.saturating_duration_since(now);
                (!left.is_zero()).then_some((reason, left))
            });
        Snapshot {
            source: self.source.clone(),
            upstream: self.upstream.clone(),
            discovered: self.discovered.load(Ordering::Relaxed),
            total: match self.total.load(Ordering::Relaxed) {
                NO_TOTAL => None,
                total => Some(total),
            },
            requests: self.requests.load(Ordering::Relaxed),
            elapsed: started.map_or(Duration::ZERO, |at| now.saturating_duration_since(at)),
            waiting,
        }
    }
}

/// Where the line is drawn, until it starts.
enum Target {
    /// Not yet started: the target it will draw on, and whether it ticks by itself.
    Pending(ProgressDrawTarget, bool),
    /// On screen.
    Drawn(ProgressBar),
    /// Cleared for good (or never to be drawn).
    Done,
}

/// The live line: [`RunEvents`] drawn on stderr while the connector runs.
pub struct LiveProgress {
    shared: Arc<Shared>,
    target: Mutex<Target>,
}

impl LiveProgress {
    /// A live line on stderr for `source`, whose connector talks to `upstream`; draws nothing
    /// when stderr is not a terminal.
    pub fn on_stderr(source: &str, upstream: &str) -> Self {
        let term = console::Term::stderr();
        if !term.is_term() {
            return Self::new(source, upstream, None, Target::Done);
        }
        let width = term.size_checked().map(|(_, columns)| usize::from(columns));
        Self::new(
            source,
            upstream,
            width,
            Target::Pending(ProgressDrawTarget::stderr(), true),
        )
    }

    /// A line drawn on `target`, `width` cells wide, redrawn on events only: for the tests.
    #[cfg(test)]
    fn on(target: ProgressDrawTarget, width: usize) -> Self {
        Self::new(
            "Hex demo",
            "Hex Technologies",
            Some(width),
            Target::Pending(target, false),
        )
    }

    fn new(source: &str, upstream: &str, width: Option<usize>, target: Target) -> Self {
        let upstream = match inert(upstream.trim()) {
            name if name.is_empty() => "the server".to_owned(),
            name => name.into_owned(),
        };
        Self {
            shared: Arc::new(Shared {
                source: inert(source).into_owned(),
                upstream,
                width,
                discovered: AtomicU64::new(0),
                total: AtomicU64::new(NO_TOTAL),
                requests: AtomicU64::new(0),
                started: Mutex::new(None),
                wait: Mutex::new(None),
            }),
            target: Mutex::new(target),
        }
    }

    /// Draws the line again, starting it on the first call.
    fn redraw(&self) {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        *target = match std::mem::replace(&mut *target, Target::Done) {
            Target::Drawn(bar) => {
                bar.tick();
                Target::Drawn(bar)
            }
            Target::Pending(draw_target, ticks) => Target::Drawn(self.start(draw_target, ticks)),
            Target::Done => Target::Done,
        };
    }

    /// Puts the line on `draw_target`, ticking by itself every [`TICK`] when `ticks`.
    fn start(&self, draw_target: ProgressDrawTarget, ticks: bool) -> ProgressBar {
        *self
            .shared
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let shared = Arc::clone(&self.shared);
        let style = ProgressStyle::with_template("{spinner:.cyan} {line}")
            .expect("the template is valid")
            .with_key(
                "line",
                move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let snapshot = shared.snapshot(Instant::now());
                    let _ = out.write_str(&line(&snapshot, shared.width));
                },
            );
        let bar = ProgressBar::with_draw_target(None, draw_target).with_style(style);
        if ticks {
            bar.enable_steady_tick(TICK);
        }
        bar.tick();
        *LIVE.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        bar
    }

    /// Clears the line for good: the next thing written to the terminal starts on a clean line.
    /// Safe to call more than once, and when nothing was drawn.
    pub fn clear(&self) {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        if let Target::Drawn(bar) = std::mem::replace(&mut *target, Target::Done) {
            LIVE.lock().unwrap_or_else(PoisonError::into_inner).take();
            bar.finish_and_clear();
        }
    }
}

impl Drop for LiveProgress {
    fn drop(&mut self) {
        self.clear();
    }
}

impl RunEvents for LiveProgress {
    fn progress(&self, _source: &str, done: u64, total: Option<u64>) {
        self.shared.discovered.store(done, Ordering::Relaxed);
        self.shared
            .total
            .store(total.unwrap_or(NO_TOTAL), Ordering::Relaxed);
        self.redraw();
    }

    fn requested(&self, _source: &str) {
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    fn waiting(&self, _source: &str, reason: WaitReason, duration: Duration) {
        *self
            .shared
            .wait
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((reason, Instant::now() + duration));
        self.redraw();
    }

    fn discovered(&self, _source: &str) {
        self.clear();
    }
}

/// The host's log writer: stderr, with the live line (when there is one) lifted while a log line
/// is written and drawn again after it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match live {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf)),
            None => std::io::stderr().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use indicatif::TermLike;

    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            source: "Hex demo".into(),
            upstream: "Hex Technologies".into(),
            discovered: 2900,
            total: Some(5086),
            requests: 58,
            elapsed: Duration::from_secs(12),
            waiting: None,
        }
    }

    #[test]
    fn the_line_counts_what_was_discovered_and_requested_with_the_rate_and_the_time() {
        assert_eq!(
            line(&snapshot(), None),
            "Hex demo: 2900/5086 discovered · 58 requests · 290/min · 12 s"
        );
        let early = Snapshot {
            total: None,
            requests: 1,
            elapsed: Duration::from_millis(300),
            discovered: 0,
            ..snapshot()
        };
        // No rate before a second has passed: it would only be noise.
        assert_eq!(
            line(&early, None),
            "Hex demo: 0 discovered · 1 request · 0 s"
        );
        assert_eq!(elapsed(Duration::from_secs(245)), "4m 05s");
        assert_eq!(elapsed(Duration::from_secs(3720)), "1h 02m");
    }

    #[test]
    fn the_line_says_what_the_connector_waits_for_and_how_long() {
        let waiting = |reason| Snapshot {
            waiting: Some((reason, Duration::from_millis(9_800))),
            ..snapshot()
        };
        assert!(
            line(&waiting(WaitReason::RetryAfter), None)
                .ends_with("· waiting 9.8 s: rate-limited by Hex Technologies (Retry-After)")
        );
        assert!(
            line(&waiting(WaitReason::Throttle), None)
                .ends_with("waiting 9.8 s to stay under the requests per minute (client throttle)")
        );
        assert!(
            line(&waiting(WaitReason::Backoff), None)
                .ends_with("waiting 9.8 s before retrying (retry backoff)")
        );
    }

    #[test]
    fn the_line_fits_the_terminal() {
        let long = Snapshot {
            source: "A source with a very long name indeed, longer than anyone would type".into(),
            waiting: Some((WaitReason::RetryAfter, Duration::from_secs(10))),
            ..snapshot()
        };
        for width in [40, 80, 100, 120] {
            let text = line(&long, Some(width));
            assert!(
                super::super::table::width_of(&text) + 2 <= width,
                "{width}: {text:?}"
            );
        }
        // The rate goes first, then who asked; the wait and the counts stay.
        let short = Snapshot {
            source: "Hex".into(),
            ..long.clone()
        };
        assert_eq!(
            line(&short, Some(120)),
            "Hex: 2900/5086 discovered · 58 requests · 12 s · waiting 10.0 s: rate-limited by \
             Hex Technologies (Retry-After)"
        );
        assert_eq!(
            line(&short, Some(100)),
            "Hex: 2900/5086 discovered · 58 requests · 12 s · waiting 10.0 s (Retry-After)"
        );
        let text = line(&long, Some(90));
        assert!(
            text.contains("2900/5086 discovered · 58 requests"),
            "{text}"
        );
        assert!(text.contains("waiting 10.0 s (Retry-After)"), "{text}");
    }

    /// A terminal that records what is done to it, as text: `[clear]` for a cleared line, `\r`
    /// and the rest as written.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<String>>);

    impl Recorder {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }

        fn push(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            200
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            self.push(&format!("[up {n}]"))
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            self.push(&format!("[down {n}]"))
        }
        fn move_cursor_right(&self, n: usize) -> io::Result<()> {
            self.push(&format!("[right {n}]"))
        }
        fn move_cursor_left(&self, n: usize) -> io::Result<()> {
            self.push(&format!("[left {n}]"))
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("[clear]")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line's states as a terminal sees them: drawn on the first event, each redraw over a
    /// cleared line (so a shorter line leaves nothing of a longer one), a wait shown, and the
    /// line cleared when the discovery is over, before anything else is written.
    #[test]
    fn each_redraw_clears_the_line_and_the_end_leaves_it_empty() {
        let term = Recorder::default();
        let live = LiveProgress::on(
            ProgressDrawTarget::term_like_with_hz(Box::new(term.clone()), 200),
            120,
        );
        assert_eq!(term.text(), "", "nothing before the first event");
        live.progress("Hex demo", 2900, None);
        live.requested("Hex demo");
        live.waiting("Hex demo", WaitReason::RetryAfter, Duration::from_secs(10));
        let drawn = term.text();
        assert!(drawn.contains("Hex demo: 2900 discovered"), "{drawn:?}");
        assert!(
            drawn.contains("waiting 10.0 s: rate-limited by Hex Technologies (Retry-After)")
                || drawn.contains("waiting 9.9 s: rate-limited by Hex Technologies"),
            "{drawn:?}"
        );
        // Later, fewer characters: "5086/5086 discovered" without the wait notice.
        *live.shared.wait.lock().unwrap() = None;
        live.progress("Hex demo", 5086, Some(5086));
        live.discovered("Hex demo");
        let text = term.text();
        let last_draw = text
            .rfind("5086/5086 discovered")
            .expect("the last state is drawn");
        // Every draw starts on a cleared line, and the line ends cleared.
        let draws = text.matches("Hex demo:").count();
        assert!(draws >= 2, "{text:?}");
        assert!(
            text.matches("[clear]").count() >= draws,
            "a clear before each draw: {text:?}"
        );
        assert!(
            text[last_draw..].contains("[clear]"),
            "cleared at the end: {text:?}"
        );
        assert!(!text[last_draw..].contains("Hex demo:"), "{text:?}");
        // Nothing more is drawn once the line is cleared.
        let after = term.text();
        live.progress("Hex demo", 6000, None);
        live.clear();
        drop(live);
        assert_eq!(term.text(), after);
    }
}
