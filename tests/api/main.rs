//! stagedoor's integration tests, as one test binary: each module is one area, run against
//! the real server (in this process or as the built binary) and real parts (an OpenID
//! Provider, the Node Backstage catalog and auth backend, PostgreSQL), with the shared helpers
//! of [`common`].

mod bench_oidc_refresh;
mod bench_token_exchange;
mod catalog_sign_in;
mod common;
mod config_and_cli;
mod container;
mod differential;
mod doctor;
mod fixtures_replay;
mod graceful_shutdown;
mod hardening;
mod hardening_server;
mod http_conventions;
mod id_token_validation;
mod kubernetes;
mod layers;
mod live_reload;
mod node_interop;
mod oauth_presets;
mod oidc_sign_in;
mod operations;
mod replicas;
mod sessions;
mod telemetry;
mod token_exchange;
mod tokens_and_keys;
mod userinfo;
