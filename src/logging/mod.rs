//! Text logs whose values cannot forge lines: every field (the message included) is written
//! with control characters escaped, so a value that carries a newline (say, a `grant_type`
//! sent to the token endpoint) stays on its own line. JSON logs escape by themselves.

pub mod access;
pub mod writer;

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// `message key=value ...`, as tracing's default, with control characters escaped.
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            first: true,
            result: Ok(()),
            scratch: String::new(),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
    /// Each value is formatted here first (one buffer for all the fields of a line).
    scratch: String,
}

impl Visitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        self.scratch.clear();
        let _ = self.scratch.write_fmt(value);
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let escaped = escape_controls(&self.scratch);
        self.result = match field.name() {
            "message" => write!(self.writer, "{separator}{escaped}"),
            name if name.starts_with("log.") => Ok(()),
            name => write!(self.writer, "{separator}{name}={escaped}"),
        };
    }
}

impl Visitor<'_> {
    fn plain(&mut self, field: &Field, value: impl fmt::Display) {
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = write!(self.writer, "{separator}{}={value}", field.name());
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }

    // Numbers and booleans have no control characters: written as they are.
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.plain(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, value);
    }
}

/// Control characters as `\n`, `\r`, `\t` or `\u{1b}`; everything else unchanged.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII throughout (the usual case) needs no look at characters.
    if is_printable_ascii(text.as_bytes()) || !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Whether every byte is printable ASCII (0x20 to 0x7e), eight bytes at a time: the short
/// strings of a log line (an id, a method, a path) are done before a vectorised loop would
/// have started.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const LOW_BITS: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGH_BIT: u64 = u64::from_ne_bytes([0x80; 8]);
    const ONE: u64 = u64::from_ne_bytes([0x01; 8]);
    const ABOVE_CONTROLS: u64 = u64::from_ne_bytes([0x60; 8]);
    // A byte's top bit, after adding to its low seven bits (no carry leaves a byte): set by
    // 0x7f and 0x80.. (`+ 1`, or the byte's own top bit), clear below 0x20 (`+ 0x60`).
    let printable = |word: u64| {
        let low = word & LOW_BITS;
        (word | (low + ONE) | !(low + ABOVE_CONTROLS)) & HIGH_BIT == 0
    };
    let mut chunks = bytes.chunks_exact(8);
    let whole = chunks.by_ref().all(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        printable(u64::from_ne_bytes(word))
    });
    // The tail, padded with spaces.
    let mut word = [b' '; 8];
    word[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    whole && printable(u64::from_ne_bytes(word))
}

/// Output kept in memory, for the tests of the log writers.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_told_apart_from_every_other_byte() {
        for byte in 0..=u8::MAX {
            let expected = (0x20..0x7f).contains(&byte);
            // At each place of a word, and in the tail.
            for length in [1, 8, 9, 16, 23] {
                for place in 0..length {
                    let mut bytes = vec![b'a'; length];
                    bytes[place] = byte;
                    assert_eq!(is_printable_ascii(&bytes), expected, "{byte:#x} {place}");
                }
            }
        }
        assert!(is_printable_ascii(b""));
    }

    #[test]
    fn a_value_with_a_newline_cannot_forge_a_log_line() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .finish();
        let forged = "x\n2026-01-01T00:00:00Z  INFO stagedoor::access: request status=200\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(grant_type = %forged, "refused: {forged}");
        });
        let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(output.lines().count(), 1, "{output}");
        assert!(
            output.contains(r"refused: x\n2026-01-01T00:00:00Z"),
            "{output}"
        );
        assert!(output.contains(r#"grant_type=x\n2026"#), "{output}");
        assert!(output.contains(r"\u{1b}[2J"), "{output}");
    }
}
