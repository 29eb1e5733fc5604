//! Trap diagnosis: a trap from wasmtime said in one line a person can act on.
//!
//! A trap carries a chain of causes and a wasm backtrace over several lines; a run's error is one
//! line. The backtrace goes to the debug log, the causes stay, and the two ways a Rust guest's
//! stack overflow shows (wasmtime's "call stack exhausted", or a memory fault at the top of the
//! address space once the stack pointer has wrapped) are named as such.

/// A trap in one line: its causes without the wasm backtrace, with a word on the likely cause of
/// a fault at the top of the address space.
pub fn reason(error: &wasmtime::Error) -> String {
    let causes: Vec<String> = error
        .chain()
        .map(|cause| cause.to_string())
        .filter(|cause| !cause.starts_with("error while executing at wasm backtrace"))
        .collect();
    let mut reason = one_line(&causes.join(": "));
    if reason.contains("call stack exhausted") {
        reason.push_str(" (the connector's stack overflowed)");
    } else if faulted_past_the_stack(&reason) {
        reason.push_str(" (at the top of the address space: the connector's stack overflowed)");
    }
    reason
}

/// Whether `reason` is a memory fault at the top of the 32-bit address space or just past it.
/// A Rust guest's stack lives at the bottom of its memory and grows down: overflowing it wraps
/// the stack pointer there, and an access at an offset from it lands at or above 4 GiB.
fn faulted_past_the_stack(reason: &str) -> bool {
    const MARK: &str = "memory fault at wasm address 0x";
    let Some(at) = reason.find(MARK) else {
        return false;
    };
    let digits: String = reason[at + MARK.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&digits, 16).is_ok_and(|address| address >= 0xfff0_0000)
}

/// `text` with its lines joined by ` / `, so that an error (or a guest's stderr) stays one line.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// What the guest wrote to stderr, as the end of a crash's message (nothing when it wrote none).
pub fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (connector stderr: {stderr})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_at_the_top_of_memory_or_past_it_are_stack_overflows() {
        for (reason, overflow) in [
            (
                "memory fault at wasm address 0xfffffff8 in linear memory",
                true,
            ),
            // Optimised code may reach past 4 GiB from a wrapped stack pointer.
            (
                "memory fault at wasm address 0x100000000 in linear memory",
                true,
            ),
            ("memory fault at wasm address 0x10 in linear memory", false),
            (
                "memory fault at wasm address 0x7fff0000 in linear memory",
                false,
            ),
            ("wasm `unreachable` instruction executed", false),
        ] {
            assert_eq!(faulted_past_the_stack(reason), overflow, "{reason}");
        }
    }

    #[test]
    fn several_lines_become_one() {
        assert_eq!(
            one_line("panicked at x\n\n  message\n"),
            "panicked at x / message"
        );
        assert_eq!(stderr_suffix(" \n"), "");
        assert_eq!(stderr_suffix("boom\n"), " (connector stderr: boom)");
    }
}
