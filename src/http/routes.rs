//! What features add under `/api/auth`: their routes (the token endpoint, the admin API, the
//! providers' sign-in routes) and their state. `http` knows neither; the server registers them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;

use super::AppState;
use crate::error::Error;

/// A route's answer, or the error `http` renders in Backstage's shape.
pub type Handled<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

/// Where a route's paths are: under `/api/auth` (every Backstage route), or at the server
/// root (the RFC 8414 metadata URLs an MCP client asks first, which need their own ingress
/// route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    Auth,
    Root,
}

/// A feature's routes: the requests it claims (by the path's segments after its mount
/// point), and how it answers them.
pub struct Route {
    pub mount: Mount,
    pub claims: fn(&AppState, &[&str]) -> bool,
    pub handle: for<'a> fn(&'a AppState, &'a Parts, &'a [&'a str], Body) -> Handled<'a>,
}

/// Each feature's state, by type: built from the configuration with the rest of [`AppState`].
#[derive(Default)]
pub struct Features(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl Features {
    pub fn insert<T: Send + Sync + 'static>(&mut self, feature: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(feature));
    }

    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}
