//! deploy/kubernetes: every manifest valid against the Kubernetes API schemas, offline
//! (`kubernetes-validate`, which bundles them; run without a network where possible), and
//! consistent with stagedoor: the ConfigMap's config loads with exactly what the Deployment's
//! Secrets provide, probes and ports are stagedoor's, the Pod is locked down.

use std::path::{Path, PathBuf};
use std::process::Command;

use figment::providers::Format;
use serde_json::{Value, json};
use stagedoor::config::{self, Source};

/// The oldest Kubernetes still commonly run and the newest the validator knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn dir() -> PathBuf {
    crate::common::manifest_dir().join("deploy/kubernetes")
}

/// The YAML documents of one manifest file, as JSON.
fn documents(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    text.split("\n---\n")
        .map(|document| {
            figment::Figment::from(figment::providers::Yaml::string(document))
                .extract::<Value>()
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()))
        })
        .collect()
}

fn resources() -> Vec<PathBuf> {
    let kustomization = &documents(&dir().join("kustomization.yaml"))[0];
    kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| dir().join(name.as_str().unwrap()))
        .collect()
}

/// Every document of the kustomization's resources, by kind.
fn objects(kind: &str) -> Vec<Value> {
    resources()
        .iter()
        .flat_map(|file| documents(file))
        .filter(|object| object["kind"] == kind)
        .collect()
}

fn one(kind: &str) -> Value {
    let mut found = objects(kind);
    assert_eq!(found.len(), 1, "one {kind}");
    found.remove(0)
}

#[test]
fn every_manifest_is_in_the_kustomization() {
    let mut listed: Vec<PathBuf> = resources();
    let mut present: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.ends_with("kustomization.yaml"))
        .collect();
    listed.sort();
    present.sort();
    assert_eq!(listed, present);
}

/// `python3 -m kubernetes_validate` (where pip put it, whatever PATH holds).
const VALIDATOR: [&str; 3] = ["python3", "-m", "kubernetes_validate"];

#[test]
fn the_manifests_match_the_kubernetes_schemas_offline() {
    let installed = Command::new(VALIDATOR[0])
        .args(&VALIDATOR[1..])
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        let why =
            "kubernetes-validate is not installed (python3 -m pip install kubernetes-validate)";
        assert!(std::env::var_os("CI").is_none(), "CI must run this: {why}");
        eprintln!("skipped: {why}");
        return;
    }
    for version in KUBERNETES_VERSIONS {
        // In a network namespace of its own, with no way out, where that can be had (root).
        let mut command = if crate::common::image::is_root() {
            let mut command = Command::new("unshare");
            command.args(["--net", "--"]).args(VALIDATOR);
            command
        } else {
            let mut command = Command::new(VALIDATOR[0]);
            command.args(&VALIDATOR[1..]);
            command
        };
        let output = command
            .args(["--strict", "--no-warn", "-k", version])
            .args(resources())
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "Kubernetes {version}:\n{report}");
        let passed = report.matches(" passed for resource ").count();
        assert_eq!(passed, 6, "every resource checked:\n{report}");
    }
}

/// The environment the Deployment gives the container: every key of the Secrets it names.
fn secret_env(deployment: &Value) -> Vec<(String, String)> {
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let names: Vec<&Value> = container["envFrom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| &source["secretRef"]["name"])
        .collect();
    assert_eq!(names.len(), 2, "client/session secrets and PostgreSQL");
    objects("Secret")
        .into_iter()
        .filter(|secret| names.contains(&&secret["metadata"]["name"]))
        .flat_map(|secret| {
            let data = secret["stringData"].as_object().unwrap().clone();
            data.into_iter()
                .map(|(key, value)| (key, value.as_str().unwrap().to_owned()))
        })
        .collect()
}

fn load(config: &str, env: &[(String, String)]) -> Result<config::Settings, config::ConfigError> {
    let sources = [Source::Text {
        name: "configmap.yaml".into(),
        yaml: config.into(),
    }];
    let lookup = |name: &str| {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    config::load(&sources, &lookup)
}

#[test]
fn the_config_map_loads_with_the_secrets_the_deployment_passes() {
    let deployment = one("Deployment");
    let config_map = one("ConfigMap");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["args"],
        json!(["serve", "--config", "/etc/stagedoor/app-config.yaml"])
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/etc/stagedoor");
    assert_eq!(
        pod["volumes"][0]["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let config = config_map["data"]["app-config.yaml"].as_str().unwrap();

    let placeholders = secret_env(&deployment);
    let Err(error) = load(config, &placeholders) else {
        panic!("the placeholders are refused");
    };
    assert!(
        error.to_string().contains("stagedoor.sessions.secret"),
        "{error}"
    );

    // Real values in their place: every ${VAR} is provided, and the config is valid.
    let env: Vec<(String, String)> = placeholders
        .into_iter()
        .map(|(key, value)| match value.as_str() {
            "replace-me" => (key, "a-real-secret-of-more-than-32-characters".into()),
            _ => (key, value),
        })
        .collect();
    load(config, &env).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        config.contains("port: 7007"),
        "the port the Deployment exposes"
    );
}

#[test]
fn the_deployment_is_replicated_probed_and_locked_down() {
    let deployment = one("Deployment");
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["ports"][0]["containerPort"], 7007);
    assert_eq!(container["ports"][0]["name"], "http");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for limit in ["requests", "limits"] {
        assert!(
            container["resources"][limit]["memory"].is_string(),
            "{limit}"
        );
    }

    let selector = &deployment["spec"]["selector"]["matchLabels"];
    assert_eq!(
        &deployment["spec"]["template"]["metadata"]["labels"],
        selector
    );
    let service = one("Service");
    assert_eq!(&service["spec"]["selector"], selector);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let budget = one("PodDisruptionBudget");
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], selector);
    assert_eq!(budget["spec"]["minAvailable"], 1);
}
