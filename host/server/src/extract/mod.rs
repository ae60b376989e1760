//! Extractors: authorization (what a handler needs is in its signature), JSON and query input
//! with errors naming the field, and the audit context of a request.

mod auth;
mod context;
mod json;
mod path;
mod query;

pub use auth::{Authenticated, Platform};
pub use context::RequestContext;
pub use json::ApiJson;
pub use path::ApiPath;
pub use query::ApiQuery;
