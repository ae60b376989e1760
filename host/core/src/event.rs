//! Normalized events: what happened, once, in commit order. The events feed reads them; webhook
//! delivery fans them out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Timestamp,
    id::{EventId, TenantId},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: EventId,
    /// Dotted type, e.g. `tenant.created`, `user.created`, `session.created`.
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: Timestamp,
    pub tenant_id: Option<TenantId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

impl Event {
    pub fn new(
        kind: &str,
        tenant_id: Option<TenantId>,
        occurred_at: Timestamp,
        data: Value,
    ) -> Self {
        Self {
            id: EventId::generate(),
            kind: kind.to_owned(),
            occurred_at,
            tenant_id,
            data,
        }
    }
}

/// Filters for the events feed.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub tenant_id: Option<TenantId>,
    /// Exact types or prefixes ending in `.*`.
    pub types: Vec<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Whether `kind` matches a filter entry: exact, `prefix.*`, or `*`.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => kind
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == kind,
    }
}

#[cfg(test)]
mod tests {
    use super::type_matches;

    #[test]
    fn wildcards_match_whole_segments() {
        assert!(type_matches("*", "user.created"));
        assert!(type_matches("user.*", "user.created"));
        assert!(!type_matches("user.*", "users.created"));
        assert!(!type_matches("user.*", "user"));
        assert!(type_matches("user.created", "user.created"));
        assert!(!type_matches("user.created", "user.deleted"));
    }
}
