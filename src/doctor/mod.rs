//! `stagedoor doctor`: checks a configuration offline (what start-up would refuse, secrets
//! in plain text, scopes, provider shapes, CORS) and online (each IdP, the catalog, the
//! database), and prints one line per finding with its severity and the fix.
//!
//! Exit status: 0 without errors (warnings allowed), 1 with errors, 2 when the configuration
//! does not load at all.

mod offline;
mod online;
mod proxy;
mod services;
mod tls;

use serde::Serialize;

use crate::config::{self, EnvLookup, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Error,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Info => "INFO",
            Self::Warning => "WARN",
            Self::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked: a config key, `provider oidc.development`, `catalog`, `database`.
    pub check: String,
    pub message: String,
    /// What to do about it; empty when nothing needs doing.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Finding {
    pub fn new(severity: Severity, check: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            check: check.into(),
            message: message.into(),
            fix: String::new(),
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

/// The doctor's warnings about risky settings, for the start-up log (`stagedoor doctor`
/// explains them in full).
pub fn risky_settings(settings: &crate::config::Settings) -> Vec<Finding> {
    offline::risky_settings(settings)
}

impl Finding {}

pub struct Report {
    pub findings: Vec<Finding>,
    /// The configuration did not load.
    pub config_failed: bool,
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        if self.config_failed {
            2
        } else if self.findings.iter().any(|f| f.severity == Severity::Error) {
            1
        } else {
            0
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            out.push_str(&format!(
                "{:<5}  {}: {}",
                finding.severity.label(),
                finding.check,
                finding.message
            ));
            if !finding.fix.is_empty() {
                out.push_str(&format!("\n       fix: {}", finding.fix));
            }
            out.push('\n');
        }
        let count = |severity| {
            self.findings
                .iter()
                .filter(|f| f.severity == severity)
                .count()
        };
        out.push_str(&format!(
            "\n{} error(s), {} warning(s)\n",
            count(Severity::Error),
            count(Severity::Warning)
        ));
        out
    }

    pub fn json(&self) -> String {
        let status = match self.exit_code() {
            0 => "ok",
            _ => "error",
        };
        serde_json::json!({"status": status, "findings": self.findings}).to_string()
    }
}

/// Runs every check; `online: false` skips those that contact other services.
pub async fn run(sources: &[Source], env: EnvLookup<'_>, online: bool) -> Report {
    let mut findings = offline::plain_text_secrets(sources);
    let settings = match config::load(sources, env) {
        Ok(settings) => settings,
        Err(error) => {
            findings.extend(error.problems.into_iter().map(|problem| {
                Finding::new(Severity::Error, problem.path, problem.message)
                    .fix("stagedoor serve refuses this configuration; correct the key as the message says")
            }));
            return Report {
                findings,
                config_failed: true,
            };
        }
    };
    let raw = config::merged_json(sources, env);
    findings.extend(offline::checks(&settings, &raw));
    if online {
        findings.extend(online::checks(&settings).await);
    }
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    Report {
        findings,
        config_failed: false,
    }
}
