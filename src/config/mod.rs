//! Loading the Backstage `app-config.yaml` files (merged in order, `${VAR}` substituted) into
//! validated [`Settings`]. Every problem names its key path and says how to fix it.

mod auth;
mod authz;
mod catalog;
mod database;
mod exchange;
mod listen;
pub mod model;
mod model_database;
mod operations;
mod providers;
mod secrets;
mod sessions;
mod settings;
pub mod substitute;
mod validate;
mod validator;
mod values;
mod web;

use std::path::{Path, PathBuf};

use figment::providers::{Format, Yaml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};

pub use operations::{LogFormat, LoggingSettings};
pub use providers::ProviderSettings;
pub use settings::Settings;

/// Top-level sections whose unresolved `${VAR}` references stop start-up. References elsewhere
/// belong to other plugins: they are dropped, as Backstage would leave them undefined.
const SECTIONS_READ: &[&str] = &[
    "app.baseUrl",
    "backend.baseUrl",
    "backend.cors",
    "backend.auth",
    "backend.actions",
    "auth",
    "discovery",
    "stagedoor",
];

pub use crate::section::Problem;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:{}", render(.problems))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("\n  {}: {}", problem.path, problem.message))
        .collect()
}

impl From<Vec<Problem>> for ConfigError {
    fn from(problems: Vec<Problem>) -> Self {
        Self { problems }
    }
}

/// One config document: a file on disk, or text (for tests and `--config -` style use).
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Text { name: String, yaml: String },
}

pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for `${VAR}` substitution.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn load_files(paths: &[PathBuf], env: EnvLookup<'_>) -> Result<Settings, ConfigError> {
    let sources: Vec<Source> = paths.iter().cloned().map(Source::File).collect();
    load(&sources, env)
}

pub fn load(sources: &[Source], env: EnvLookup<'_>) -> Result<Settings, ConfigError> {
    let mut figment = Figment::new();
    let mut problems = Vec::new();
    for source in sources {
        match read_source(source, env) {
            Ok((document, unresolved)) => {
                problems.extend(unresolved);
                figment = figment.merge(document);
            }
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(problems.into());
    }
    let raw: model::RawConfig = figment.extract().map_err(figment_problems)?;
    validate::validate(raw, env)
}

/// The merged documents after `${VAR}` substitution, as plain JSON (for `stagedoor doctor`'s
/// checks of values the validated settings do not keep).
pub fn merged_json(sources: &[Source], env: EnvLookup<'_>) -> serde_json::Value {
    let mut figment = Figment::new();
    for source in sources {
        if let Ok((document, _)) = read_source(source, env) {
            figment = figment.merge(document);
        }
    }
    figment.extract().unwrap_or(serde_json::Value::Null)
}

/// What the configuration is made of now: the files' bytes (or their absence) and the merged
/// documents after substitution (which covers `{$file: ...}` references, such as a mounted
/// Secret). Equal fingerprints mean nothing changed; read through symlinks, so a Kubernetes
/// `..data` swap counts as a change.
pub fn fingerprint(paths: &[PathBuf], env: EnvLookup<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in paths {
        std::fs::read(path).ok().hash(&mut hasher);
    }
    let sources: Vec<Source> = paths.iter().cloned().map(Source::File).collect();
    merged_json(&sources, env).to_string().hash(&mut hasher);
    hasher.finish()
}

/// Paths of secret-looking values written out in the files instead of coming from the
/// environment (`${VAR}`, `$env`) or a file (`$file`).
pub fn plain_text_secrets(sources: &[Source]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for source in sources {
        let (name, data) = match source {
            Source::File(path) => (path.display().to_string(), Yaml::file(path).data()),
            Source::Text { name, yaml } => (name.clone(), Yaml::string(yaml).data()),
        };
        let Ok(mut data) = data else { continue };
        let document = data.remove(&Profile::Default).unwrap_or_default();
        secrets::find_plain(&document, &mut Vec::new(), &mut |path| {
            found.push((path, name.clone()));
        });
    }
    found
}

struct Document {
    metadata: Metadata,
    data: Dict,
}

impl Provider for Document {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.data.clone())]))
    }
}

fn read_source(source: &Source, env: EnvLookup<'_>) -> Result<(Document, Vec<Problem>), Problem> {
    let (name, data, base_dir) = match source {
        Source::File(path) => {
            if !path.is_file() {
                return Err(Problem::new(
                    path.display().to_string(),
                    "config file not found; pass an existing file with --config",
                ));
            }
            let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (
                path.display().to_string(),
                Yaml::file(path).data(),
                base_dir,
            )
        }
        Source::Text { name, yaml } => (name.clone(), Yaml::string(yaml).data(), PathBuf::new()),
    };
    let mut data = data.map_err(|error| {
        Problem::new(
            name.clone(),
            format!("not a valid YAML document: {}", error.kind),
        )
    })?;
    let document = data.remove(&Profile::Default).unwrap_or_default();
    let mut substituter = substitute::Substituter::new(env, &base_dir);
    let document = substituter.apply(document);
    let problems = substituter
        .unresolved
        .into_iter()
        .filter(|unresolved| is_read_by_stagedoor(&unresolved.path))
        .map(|unresolved| {
            Problem::new(
                unresolved.path,
                format!("{} (in {name})", unresolved.reason),
            )
        })
        .collect();
    let metadata = Metadata::named(format!("config file {name}"));
    Ok((
        Document {
            metadata,
            data: document,
        },
        problems,
    ))
}

fn is_read_by_stagedoor(path: &str) -> bool {
    SECTIONS_READ.iter().any(|section| {
        path == *section
            || path
                .strip_prefix(section)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

fn figment_problems(error: figment::Error) -> ConfigError {
    error
        .into_iter()
        .map(|error| {
            let origin = error
                .metadata
                .as_ref()
                .map(|metadata| format!(" (in {})", metadata.name))
                .unwrap_or_default();
            let mut message = error.kind.to_string();
            if message.starts_with("unknown field") {
                message.push_str("; remove it or fix its spelling");
            }
            Problem::new(path_of(&error.path), format!("{message}{origin}"))
        })
        .collect::<Vec<_>>()
        .into()
}

pub(crate) fn path_of(path: &[String]) -> String {
    if path.is_empty() {
        "(top level)".to_owned()
    } else {
        path.join(".")
    }
}
