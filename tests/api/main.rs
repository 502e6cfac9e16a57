//! stagedoor's integration tests, as one test binary: each module is one area, run against
//! the real server (in this process or as the built binary) and real parts (an OpenID
//! Provider, the Node Backstage catalog and auth backend, PostgreSQL), with the shared helpers
//! of [`common`].

mod actions;
mod atlassian;
mod authz_audit;
mod authz_clients;
mod authz_consent;
mod authz_differential;
mod authz_flows;
mod authz_postgres;
mod authz_real_clients;
mod authz_refresh;
mod authz_replay;
mod authz_revoke;
mod authz_ssrf;
mod bench_oidc_refresh;
mod bench_token_exchange;
mod bitbucket;
mod bitbucket_server;
mod catalog_sign_in;
mod cloud_config;
mod common;
mod config_and_cli;
mod container;
mod cors;
mod differential;
mod doctor;
mod fixtures_replay;
mod github;
mod gitlab;
mod google;
mod graceful_shutdown;
mod hardening;
mod hardening_server;
mod http_conventions;
mod id_token_validation;
mod kubernetes;
mod layers;
mod live_reload;
mod microsoft;
mod node_interop;
mod oauth_presets;
mod oidc_sign_in;
mod openshift;
mod operations;
mod pinniped;
mod proxy_providers;
mod replicas;
mod sessions;
mod telemetry;
mod token_exchange;
mod tokens_and_keys;
mod userinfo;
