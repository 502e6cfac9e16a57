//! stagedoor: Backstage's auth backend (`/api/auth`), as one small service.

pub mod admin;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod entity_ref;
pub mod error;
pub mod exchange;
pub mod glob;
pub mod http;
pub mod identity;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod outbound;
pub mod providers;
pub mod resolvers;
pub mod server;
pub mod sessions;
pub mod store;
pub mod tokens;
pub mod user_info;
