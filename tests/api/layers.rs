//! The import rule of `src/`, checked: every module belongs to one layer, and imports only
//! modules of its own layer or below. From the top: entry (`main`, `cli`, `server`, `doctor`)
//! → `config` → web features (`signin`, `admin`, `exchange`, each owning its routes) → web
//! core (`http`) → domain (providers, resolvers, catalog, tokens, keys, sessions, the OAuth
//! engine) → base (errors, JOSE, store, audit, metrics, clock, ...).

use std::collections::BTreeMap;
use std::path::Path;

const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "error",
            "jose",
            "store",
            "audit",
            "metrics",
            "clock",
            "entity_ref",
            "glob",
            "url_path",
            "net",
            "logging",
            "section",
            "outbound",
            "telemetry",
        ],
    ),
    (
        "domain",
        &[
            "providers",
            "resolvers",
            "catalog",
            "tokens",
            "keys",
            "sessions",
            "oauth",
            "identity",
            "user_info",
        ],
    ),
    ("web core", &["http"]),
    (
        "web features",
        &["signin", "admin", "exchange", "authz", "actions"],
    ),
    ("config", &["config"]),
    ("entry", &["main", "cli", "server", "doctor", "lib"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// `src/<module>...`'s top-level module.
fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names as `crate::<module>`.
fn crate_references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn every_module_imports_only_its_own_layer_and_below() {
    let src = crate::common::manifest_dir().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = BTreeMap::new();
    for file in &files {
        let module = module_of(file, &src);
        let Some(layer) = layer_of(&module) else {
            violations.insert(
                format!("src/{module}"),
                "belongs to no layer: add it to LAYERS".to_owned(),
            );
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for target in crate_references(&code) {
            let Some(target_layer) = layer_of(&target) else {
                continue;
            };
            if target_layer > layer {
                let from = file.strip_prefix(&src).unwrap().display().to_string();
                violations.insert(
                    format!("src/{from} -> crate::{target}"),
                    format!("{} imports {}", LAYERS[layer].0, LAYERS[target_layer].0),
                );
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that run up the layers:\n{}",
        violations
            .iter()
            .map(|(what, why)| format!("  {what}: {why}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(files.len() > 50, "read {} files", files.len());
}

#[test]
fn the_rule_catches_an_upward_import() {
    let references =
        crate_references("use crate::config::Settings;\nlet x = crate::http::is(a, b);");
    assert_eq!(references, ["config", "http"]);
    assert!(layer_of("config") > layer_of("providers"));
    assert!(layer_of("signin") > layer_of("http"));
}
