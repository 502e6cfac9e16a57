//! The access log: one line per request, the busiest line stagedoor writes (every JWKS fetch,
//! every refresh). Where `RUST_LOG` lets it through, the server has [`AccessWriter`] format it
//! straight into the log writer's buffer, without a tracing event, in exactly the shape the
//! text and JSON layers give it (the tests below hold the two side by side). Elsewhere (tests,
//! a terminal's coloured lines) it is a tracing event that tracing's layers write.

use std::cell::RefCell;

use tracing_subscriber::layer::Context;

use super::writer::LogWriter;

pub const TARGET: &str = "stagedoor::access";

/// What the access log says of a request.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    /// The path, never the query.
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub trace_id: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    Json,
}

/// Where access lines go without a tracing event, once [`write_directly`] has been called.
static DIRECT: std::sync::OnceLock<AccessWriter> = std::sync::OnceLock::new();

/// Logs `line` (the `stagedoor::access` event): straight into the log writer when the server
/// set that up, else as a tracing event.
pub fn log(line: &AccessLine<'_>) {
    match DIRECT.get() {
        Some(direct) => direct.write(line),
        None => event(line),
    }
}

/// From now on, access lines skip tracing (its dispatch, filters and field visits: a few per
/// cent of a JWKS request) and are written by `writer` at once. For a filter that
/// [`lets_through`] the access line, where the result is the same line.
pub fn write_directly(writer: AccessWriter) {
    let _ = DIRECT.set(writer);
}

/// Whether `filter` (`RUST_LOG`'s) lets the access line through, found out by logging one to
/// a subscriber of its own (asking `tracing::enabled!` would leave per-layer filter state
/// behind on the thread).
pub fn lets_through<F>(filter: F) -> bool
where
    F: tracing_subscriber::layer::Filter<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    struct Seen(Arc<AtomicBool>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let seen = Arc::new(AtomicBool::new(false));
    let probe = tracing_subscriber::registry().with(Seen(seen.clone()).with_filter(filter));
    let line = AccessLine {
        request_id: "",
        method: "GET",
        path: "/",
        status: 200,
        duration_ms: 0.0,
        trace_id: None,
    };
    tracing::subscriber::with_default(probe, || event(&line));
    seen.load(Ordering::Relaxed)
}

fn event(line: &AccessLine<'_>) {
    tracing::info!(
        target: TARGET,
        request_id = %line.request_id,
        method = %line.method,
        path = %line.path,
        status = line.status,
        duration_ms = line.duration_ms,
        trace_id = line.trace_id,
        "request"
    );
}

/// Writes access lines in `shape` to `writer` (the direct path of [`log`]).
pub struct AccessWriter {
    pub shape: Shape,
    pub writer: LogWriter,
}

impl AccessWriter {
    /// Formats and writes `line` (the direct path of [`log`]).
    fn write(&self, line: &AccessLine<'_>) {
        LINE.with_borrow_mut(|out| {
            // Writing into a Vec cannot fail.
            let _ = format(self.shape, line, out);
            self.writer.append(out);
        });
    }
}

thread_local! {
    /// The direct path's line buffer, reused for every line of a thread.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Replaces `out` with `line` in `shape`.
fn format(shape: Shape, line: &AccessLine<'_>, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Write as _;
    out.clear();
    match shape {
        Shape::Text => {
            timestamp(out)?;
            out.extend_from_slice(b"  INFO stagedoor::access: request request_id=");
            out.extend_from_slice(super::escape_controls(line.request_id).as_bytes());
            out.extend_from_slice(b" method=");
            out.extend_from_slice(super::escape_controls(line.method).as_bytes());
            out.extend_from_slice(b" path=");
            out.extend_from_slice(super::escape_controls(line.path).as_bytes());
            out.extend_from_slice(b" status=");
            push_decimal(out, u64::from(line.status));
            out.extend_from_slice(b" duration_ms=");
            push_milliseconds(out, line.duration_ms)?;
            if let Some(trace_id) = line.trace_id {
                // Debug-quoted, as tracing writes a string field (no control character left).
                write!(out, " trace_id={trace_id:?}")?;
            }
        }
        Shape::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            timestamp(out)?;
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
            serde_json::to_writer(&mut *out, line.request_id)?;
            out.extend_from_slice(b",\"method\":");
            serde_json::to_writer(&mut *out, line.method)?;
            out.extend_from_slice(b",\"path\":");
            serde_json::to_writer(&mut *out, line.path)?;
            write!(out, ",\"status\":{},\"duration_ms\":", line.status)?;
            serde_json::to_writer(&mut *out, &line.duration_ms)?;
            if let Some(trace_id) = line.trace_id {
                out.extend_from_slice(b",\"trace_id\":");
                serde_json::to_writer(&mut *out, trace_id)?;
            }
            out.extend_from_slice(b",\"target\":\"stagedoor::access\"}");
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `number` in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // A decimal digit: always below 10.
        digits[start] = b'0' + u8::try_from(number % 10).unwrap_or(0);
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// `milliseconds` as `{}` writes an `f64`. A whole number of microseconds (what the server
/// measures) is written directly: that `f64` is the one nearest to `k / 1000`, so the shortest
/// decimal that gives it back, which `{}` writes, is `k / 1000` itself. Anything else goes
/// through `{}`.
fn push_milliseconds(out: &mut Vec<u8>, milliseconds: f64) -> std::io::Result<()> {
    let thousandths = (milliseconds * 1000.0).round();
    if milliseconds.is_sign_positive() && thousandths < 1e15 && thousandths / 1000.0 == milliseconds
    {
        // A whole number below 10^15: exact as a u64.
        let thousandths = thousandths as u64;
        push_decimal(out, thousandths / 1000);
        let fraction = thousandths % 1000;
        if fraction != 0 {
            out.push(b'.');
            let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
            // Without trailing zeros.
            let kept = 3
                - usize::from(fraction.is_multiple_of(10))
                - usize::from(fraction.is_multiple_of(100));
            for digit in &digits[..kept] {
                out.push(b'0' + u8::try_from(*digit).unwrap_or(0));
            }
        }
        return Ok(());
    }
    use std::io::Write as _;
    write!(out, "{milliseconds}")
}

/// The time as tracing's layers write it (RFC 3339, microseconds, UTC). The date and time of
/// day are worked out once a second per thread.
fn timestamp(out: &mut Vec<u8>) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs();
    SECOND.with(|cached| {
        let (at, mut text) = cached.get();
        if at != seconds || text[0] == 0 {
            text = date_time(seconds);
            cached.set((seconds, text));
        }
        out.extend_from_slice(&text);
    });
    let micros = now.subsec_micros();
    out.push(b'.');
    for place in (0..6).rev() {
        // A decimal digit: always below 10.
        out.push(b'0' + u8::try_from(micros / 10u32.pow(place) % 10).unwrap_or(0));
    }
    out.push(b'Z');
    Ok(())
}

thread_local! {
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((0, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (the civil calendar from days, after Howard Hinnant).
fn date_time(seconds: u64) -> [u8; 19] {
    let days = i64::try_from(seconds / 86_400).unwrap_or_default();
    let of_day = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    );
    let mut bytes = [b'0'; 19];
    let length = text.len().min(19);
    bytes[..length].copy_from_slice(&text.as_bytes()[..length]);
    bytes
}

#[cfg(test)]
mod tests {
    use crate::logging::Captured;

    use super::*;

    /// What tracing's own text or JSON layer (as the server configures it) writes for `line`.
    fn as_tracing_writes_it(shape: Shape, line: &AccessLine<'_>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false);
        match shape {
            Shape::Text => tracing::subscriber::with_default(
                builder.fmt_fields(crate::logging::EscapedFields).finish(),
                || log(line),
            ),
            Shape::Json => tracing::subscriber::with_default(
                builder.json().flatten_event(true).finish(),
                || log(line),
            ),
        }
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// What the direct path writes for `line`.
    fn direct(shape: Shape, line: &AccessLine<'_>) -> String {
        let captured = Captured::default();
        let (writer, guard) = crate::logging::writer::start(captured.clone()).unwrap();
        AccessWriter { shape, writer }.write(line);
        drop(guard);
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// The line with its timestamp (the first 27 characters of the time) blanked.
    fn untimed(line: &str) -> String {
        let start = line.find("20").unwrap();
        format!("{}{}", &line[..start], &line[start + 27..])
    }

    #[test]
    fn the_time_is_written_as_tracing_writes_it() {
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
        assert_eq!(&date_time(0), b"1970-01-01T00:00:00");
        assert_eq!(&date_time(951_825_600), b"2000-02-29T12:00:00");
        assert_eq!(&date_time(4_107_542_399), b"2100-02-28T23:59:59");
        assert_eq!(&date_time(1_795_724_645), b"2026-11-26T20:24:05");
        // Against tracing's clock and formatter (again if a second turned in between).
        for _ in 0..3 {
            let mut theirs = String::new();
            SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            let mut ours = Vec::new();
            timestamp(&mut ours).unwrap();
            let ours = String::from_utf8(ours).unwrap();
            assert_eq!(ours.len(), theirs.len());
            if ours[..19] == theirs[..19] {
                return;
            }
        }
        panic!("the seconds never agreed");
    }

    #[test]
    fn access_lines_are_exactly_what_the_tracing_layers_write() {
        let lines = [
            AccessLine {
                request_id: "b3dd9ce70000000000000000",
                method: "GET",
                path: "/api/auth/.well-known/jwks.json",
                status: 200,
                duration_ms: 0.016390000000000002,
                trace_id: None,
            },
            AccessLine {
                request_id: "abc-1",
                method: "POST",
                path: "/api/auth/nope/x%0Ay\"\\\u{1b}é",
                status: 404,
                duration_ms: 1234.5,
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            },
            AccessLine {
                request_id: "a",
                method: "GET",
                path: "/",
                status: 200,
                duration_ms: 0.123,
                trace_id: None,
            },
            AccessLine {
                request_id: "b",
                method: "GET",
                path: "/",
                status: 200,
                duration_ms: 2.0,
                trace_id: None,
            },
            AccessLine {
                request_id: "c",
                method: "GET",
                path: "/",
                status: 0,
                duration_ms: 0.0,
                trace_id: None,
            },
            AccessLine {
                request_id: "d",
                method: "GET",
                path: "/",
                status: 200,
                duration_ms: 98_765.4,
                trace_id: None,
            },
            AccessLine {
                request_id: "x\ny",
                method: "PATCH",
                path: "/",
                status: 503,
                duration_ms: 0.0000007,
                trace_id: Some("a\"b"),
            },
        ];
        for shape in [Shape::Text, Shape::Json] {
            for line in &lines {
                let expected = as_tracing_writes_it(shape, line);
                let actual = direct(shape, line);
                assert_eq!(untimed(&actual), untimed(&expected), "{shape:?}");
                assert_eq!(actual.len(), expected.len(), "{shape:?}: {actual}");
            }
        }
    }

    #[test]
    fn access_lines_skip_tracing_only_where_rust_log_lets_them_through() {
        let through =
            |directives: &str| lets_through(tracing_subscriber::EnvFilter::new(directives));
        assert!(through("info"));
        assert!(through("error,stagedoor::access=info"));
        assert!(!through("warn"));
        assert!(!through("info,stagedoor::access=off"));
        assert!(!through("info,stagedoor=warn"));
    }
}
