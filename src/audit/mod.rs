//! The audit trail: one JSON line per security-relevant action (sign-in, refresh, logout,
//! session revocation, key rotation, config reload, token exchange), written to its own sink,
//! apart from the diagnostic logs. Field names are stable (documented in the README); no
//! token, secret or cookie value is ever part of an event.
//!
//! Events go through a channel to a writer thread, so request handlers never wait on I/O.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use serde::Serialize;

use crate::clock::SharedClock;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where audit events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    /// JSON lines on standard output, each tagged `"log":"audit"` (logs go to stderr).
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// One audit event. Absent fields are left out of the line.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// When it happened (on the injected clock), set when recorded; written as `time`.
    #[serde(skip)]
    pub at_millis: i64,
    /// `sign_in`, `refresh`, `logout`, `session_revoked`, `key_published`, `config_reload`,
    /// `token_exchange`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The user entity ref concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Why it failed, or what was done (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// A session id (not its handle), a key id, a client id: what the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Who did it, for admin actions: `stagedoor.admin.tokens.0`, `plugin:ops`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl AuditEvent {
    pub fn new(event: &'static str) -> Self {
        Self {
            event,
            ..Self::default()
        }
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    pub fn success(self) -> Self {
        self.outcome(Outcome::Success)
    }

    pub fn failure(self, reason: impl Into<String>) -> Self {
        let mut event = self.outcome(Outcome::Failure);
        event.reason = Some(reason.into());
        event
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    pub fn user(mut self, user: &str) -> Self {
        if !user.is_empty() {
            self.user = Some(user.to_owned());
        }
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The client and request the event came from.
    pub fn client(mut self, client: &crate::net::ClientInfo) -> Self {
        self.ip.clone_from(&client.ip);
        self.user_agent.clone_from(&client.user_agent);
        self
    }

    pub fn request_id(mut self, request_id: Option<&str>) -> Self {
        self.request_id = request_id.map(str::to_owned);
        self
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    log: &'static str,
    #[serde(flatten)]
    event: &'a AuditEvent,
}

/// A cheap handle to the audit trail.
#[derive(Clone)]
pub struct Audit {
    // Boxed: the channel preallocates its slots, and a pointer per slot keeps that small.
    sender: Option<Arc<mpsc::SyncSender<Box<AuditEvent>>>>,
    clock: SharedClock,
}

/// Events waiting for the writer; beyond this, recording blocks rather than losing events.
const QUEUE: usize = 65_536;
/// The writer wakes at most this often, so recording an event never has to wake it.
const WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

impl Audit {
    /// Starts the writer for `sink`. A file that cannot be opened is a start-up error.
    pub fn start(sink: &AuditSink, clock: SharedClock) -> std::io::Result<Self> {
        let mut writer: Box<dyn Write + Send> = match sink {
            AuditSink::Off => return Ok(Self::off()),
            AuditSink::Stdout => Box::new(std::io::stdout()),
            AuditSink::File(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let (sender, receiver) = mpsc::sync_channel::<Box<AuditEvent>>(QUEUE);
        std::thread::Builder::new()
            .name("stagedoor-audit".into())
            .spawn(move || {
                let mut buffer = Vec::with_capacity(4096);
                // Write whatever has queued up in one go; flush when the queue is empty.
                while let Ok(event) = receiver.recv() {
                    append(&mut buffer, &event);
                    while let Ok(event) = receiver.try_recv() {
                        append(&mut buffer, &event);
                        if buffer.len() > 64 * 1024 {
                            break;
                        }
                    }
                    if writer
                        .write_all(&buffer)
                        .and_then(|()| writer.flush())
                        .is_err()
                    {
                        eprintln!("stagedoor: cannot write the audit log");
                    }
                    buffer.clear();
                    std::thread::sleep(WRITE_INTERVAL);
                }
            })?;
        Ok(Self {
            sender: Some(Arc::new(sender)),
            clock,
        })
    }

    pub fn off() -> Self {
        Self {
            sender: None,
            clock: Arc::new(crate::clock::SystemClock),
        }
    }

    pub fn record(&self, mut event: AuditEvent) {
        let Some(sender) = &self.sender else {
            return;
        };
        event.at_millis = self.clock.now_millis();
        if sender.send(Box::new(event)).is_err() {
            tracing::error!("the audit writer has stopped; an audit event was lost");
        }
    }
}

fn append(buffer: &mut Vec<u8>, event: &AuditEvent) {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.at_millis) * 1_000_000)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_default();
    let line = Line {
        time,
        log: "audit",
        event,
    };
    if serde_json::to_writer(&mut *buffer, &line).is_ok() {
        buffer.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_stable_names_and_leave_out_absent_fields() {
        let mut buffer = Vec::new();
        let event = AuditEvent::new("sign_in")
            .failure("Login failed, user profile does not contain an email")
            .provider("oidc")
            .subject("abc");
        append(&mut buffer, &event);
        let line: serde_json::Value = serde_json::from_slice(&buffer).unwrap();
        assert_eq!(line["log"], "audit");
        assert_eq!(line["event"], "sign_in");
        assert_eq!(line["outcome"], "failure");
        assert_eq!(line["provider"], "oidc");
        assert_eq!(line["subject"], "abc");
        assert!(line.get("user").is_none());
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(buffer.last(), Some(&b'\n'));
    }

    #[test]
    fn a_file_sink_receives_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let clock = Arc::new(crate::clock::ManualClock::new(1_795_000_000_000));
        let audit = Audit::start(&AuditSink::File(path.clone()), clock).unwrap();
        for _ in 0..100 {
            audit.record(AuditEvent::new("refresh").success().user("user:default/a"));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let lines = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .count();
            if lines == 100 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{lines} lines");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
