//! Text that came from outside the host, made inert before it reaches a terminal, a log or the
//! run history.
//!
//! A connector's messages and log lines, an upstream's error bodies and the names of the
//! resources a connector emits are untrusted. Written raw, a newline forges a line of
//! `euno-host`'s own (`euno-host: …` on stderr, a fake event in `serve`'s log), an escape
//! sequence recolours or rewrites the operator's terminal, and a bidi override makes a line read
//! differently from what it says. [`inert`] writes every such character as a visible escape, so
//! a message stays one line and shows what it really holds.
//!
//! JSON output and stored properties keep the exact data: JSON escapes control characters itself,
//! and a catalog must not change what a source said. [`cut`] bounds a line that must not grow
//! without end (a log line, a warning kept with a run).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that could break a line, drive a terminal or reorder what is
/// shown written as an escape: `\n`, `\r`, `\t`, `\x1b` for the other C0 controls and DEL,
/// `\u{85}` for the C1 controls, `\u{202e}` for the bidi and line-separator characters. Text
/// without any (nearly all of it) is borrowed as it is.
///
/// A backslash is left alone: escaping it too would make every Windows path and regex in a
/// message unreadable, and an escape spelled out by the text itself is as harmless as ours.
pub fn inert(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `message` cut to at most `max` bytes at a character boundary, saying how much was cut: for a
/// log line or a warning that must not grow without end. Redact a message before cutting it: cut
/// first, a secret across the cut would leave its prefix behind.
pub fn cut(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_owned();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes cut)",
        &message[..end],
        message.len() - end
    )
}

/// Whether `c` must not reach a terminal or a log as it is: C0 controls (line breaks and tabs
/// included), DEL, C1 controls, the bidi embedding, override and isolate controls and marks
/// (the "Trojan Source" characters), and the Unicode line and paragraph separators.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "",
            "page 2 of GET /projects",
            "Café 📊 C:\\path",
            "naïve — ok",
        ] {
            assert!(
                matches!(inert(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn a_forged_line_and_terminal_escapes_become_visible() {
        let hostile = "nope\r\neuno-host: forged line\x1b[31mRED\u{202e}txt\u{7}\u{7f}\u{9b}2J\t.";
        assert_eq!(
            inert(hostile),
            "nope\\r\\neuno-host: forged line\\x1b[31mRED\\u{202e}txt\\x07\\x7f\\u{9b}2J\\t."
        );
    }

    #[test]
    fn every_bidi_control_and_separator_is_escaped() {
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}',
            '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let shown = inert(&format!("a{c}b")).into_owned();
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(c)));
        }
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_saying_how_much() {
        assert_eq!(cut("short", 10), "short");
        let cut_text = cut(&"é".repeat(10), 5);
        assert_eq!(cut_text, "éé… (16 more bytes cut)");
    }

    proptest::proptest! {
        /// Whatever the text, the result holds no character that needs escaping (so no line
        /// break), and escaping it again changes nothing.
        #[test]
        fn the_result_is_one_inert_line(text in "\\PC*|[\u{0}-\u{a0}\u{2020}-\u{206f}a-z]*") {
            let once = inert(&text).into_owned();
            proptest::prop_assert!(!once.contains(needs_escape), "{:?}", once);
            proptest::prop_assert_eq!(inert(&once), once.as_str());
        }
    }
}
