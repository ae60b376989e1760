//! Domain services: validate input, build records and their [`Change`](crate::change::Change),
//! and hand both to the store. The HTTP layer and workers call these; they never write to a
//! store directly.

pub mod api_keys;
pub mod apps;
pub mod tenants;

use crate::{Timestamp, audit::AuditContext, principal::Principal};

/// Who is acting, from where, and when.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub context: &'a AuditContext,
    pub now: Timestamp,
}
