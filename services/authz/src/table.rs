//! The routers' one list of routes (feature `axum`): a router built from a
//! [`RouteTable`] serves exactly the `(method, path)` pairs that
//! [`RouteTable::list`] reports, so a test can hold every router's list
//! against [`crate::ROUTES`] and fail when a route has no access row.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

/// Routes, each declared once with its method and path.
pub struct RouteTable<S> {
    entries: Vec<(&'static str, &'static str, MethodRouter<S>)>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        RouteTable {
            entries: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve `handler` for `method path` (method in capitals, path as
    /// axum writes it, e.g. `/v1/uploads/{id}`).
    pub fn at<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let m = Method::from_bytes(method.as_bytes()).expect("a valid HTTP method");
        let filter = MethodFilter::try_from(m).expect("a method axum routes");
        self.entries.push((method, path, on(filter, handler)));
        self
    }

    /// Every `(method, path)` this table serves.
    pub fn list(&self) -> Vec<(&'static str, &'static str)> {
        self.entries.iter().map(|(m, p, _)| (*m, *p)).collect()
    }

    /// The router (routes on one path share its method router).
    pub fn into_router(self) -> Router<S> {
        let mut by_path: Vec<(&'static str, MethodRouter<S>)> = Vec::new();
        for (_, path, mr) in self.entries {
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, existing)) => {
                    let merged = std::mem::replace(existing, MethodRouter::new()).merge(mr);
                    *existing = merged;
                }
                None => by_path.push((path, mr)),
            }
        }
        by_path
            .into_iter()
            .fold(Router::new(), |router, (path, mr)| router.route(path, mr))
    }
}
