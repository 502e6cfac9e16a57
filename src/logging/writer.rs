//! Where log lines go: stderr, written by a thread of its own. A request formats its line and
//! appends it to a shared buffer (a memory copy under a lock held that long, no system call,
//! no wake-up while the writer is busy); the writer thread takes the whole buffer at once and
//! writes it with one system call. The writer wakes when lines arrive in an empty buffer and
//! then waits a few milliseconds to let more gather, so under load it writes about a hundred
//! times a second, and sleeps while nothing is logged. No line is dropped: past
//! [`MAX_BUFFERED`] bytes a logger waits for the writer. Dropping the [`LogGuard`] writes
//! what is left before it returns.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the writer lets lines gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(10);
/// Bytes buffered before loggers wait for the writer (a burst, or a stalled stderr).
const MAX_BUFFERED: usize = 4 << 20;
/// A buffer grown larger than this by a burst is given back after it is written (10 ms of
/// lines at 100,000 requests a second fit: a steady load reuses its two buffers).
const KEEP_CAPACITY: usize = 1 << 20;

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    closing: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Lines arrived in an empty buffer, or the guard was dropped.
    arrived: Condvar,
    /// The writer took the buffer.
    taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `MakeWriter` for the log layer: each line is appended to the shared buffer.
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

/// Keeps the writer thread; dropping it writes every line logged so far.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the writer thread over `output` (stderr in the server). Without that thread lines
/// would pile up unwritten, so failing to start it is an error.
pub fn start(output: impl Write + Send + 'static) -> std::io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared::default());
    let writer = shared.clone();
    let thread = std::thread::Builder::new()
        .name("stagedoor-log".into())
        .spawn(move || write_lines(&writer, output))?;
    let guard = LogGuard {
        shared: shared.clone(),
        thread: Some(thread),
    };
    Ok((LogWriter(shared), guard))
}

fn write_lines(shared: &Shared, mut output: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.buffer.is_empty() && !state.closing {
            state = shared
                .arrived
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if state.buffer.is_empty() {
            return;
        }
        if !state.closing {
            drop(state);
            std::thread::sleep(GATHER);
            state = shared.lock();
        }
        std::mem::swap(&mut state.buffer, &mut batch);
        drop(state);
        shared.taken.notify_all();
        // Nothing to do about a failing stderr but carry on.
        let _ = output.write_all(&batch).and_then(|()| output.flush());
        batch.clear();
        if batch.capacity() > KEEP_CAPACITY {
            batch = Vec::new();
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.arrived.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl LogWriter {
    /// Appends `line` (whole lines) to what the writer writes next.
    pub fn append(&self, line: &[u8]) {
        let mut state = self.0.lock();
        while state.buffer.len() >= MAX_BUFFERED && !state.closing {
            state = self
                .0
                .taken
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let was_empty = state.buffer.is_empty();
        state.buffer.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.0.arrived.notify_one();
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use crate::logging::Captured;

    #[test]
    fn every_line_is_written_by_the_time_the_guard_is_dropped() {
        let captured = Captured::default();
        let (writer, guard) = super::start(captured.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for line in 0..5000 {
                        std::io::Write::write_all(
                            &mut writer,
                            format!("{thread} {line}\n").as_bytes(),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(output.lines().count(), 20_000);
        for thread in 0..4 {
            let mine: Vec<&str> = output
                .lines()
                .filter(|l| l.starts_with(&format!("{thread} ")))
                .collect();
            assert_eq!(
                mine.last(),
                Some(&format!("{thread} 4999").as_str()),
                "in order"
            );
        }
    }
}
