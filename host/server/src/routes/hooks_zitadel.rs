//! `POST /hooks/zitadel`: the receiver of ZITADEL's Actions v2 event calls.
//!
//! Every call must carry a valid `ZITADEL-Signature` (`t=<unix>,v1=<hex HMAC-SHA256>`, several
//! `v1` during a key rotation) made with one of the target's current signing keys, within 300 s;
//! otherwise it is refused with 401 and nothing is stored. Accepted events are mapped to
//! Gatehouse's normalized events (see [`normalize`]), attributed to the tenant whose
//! organization raised them, and appended to the events feed. Events Gatehouse does not map
//! are acknowledged and dropped.
//!
//! Mapping (ZITADEL event type → normalized type):
//!
//! | ZITADEL | Gatehouse |
//! |---|---|
//! | `user.human.added`, `user.human.selfregistered`, `user.machine.added` | `user.created` |
//! | `user.removed` | `user.deleted` |
//! | `user.human.profile.changed`, `user.human.email.changed`, `user.human.email.verified`, `user.human.phone.changed`, `user.username.changed`, `user.human.password.changed`, `user.deactivated`, `user.reactivated`, `user.locked`, `user.unlocked` | `user.updated` |
//! | `session.added` | `session.created` |
//! | `session.terminated` | `session.ended` |
//! | `user.human.password.check.succeeded`, `user.human.externallogin.check.succeeded` | `login.succeeded` |
//! | `user.human.password.check.failed`, `user.human.externallogin.check.failed`, `user.human.mfa.otp.check.failed` | `login.failed` |

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_core::{Timestamp, event::Event, id::TenantId, sync::signing_key_aad};
use gatehouse_zitadel::actions_signature::{self, DEFAULT_TOLERANCE, HEADER};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// ZITADEL's event bodies are small; anything bigger is not from it.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    // Not in the OpenAPI document: ZITADEL's contract, not part of the admin API.
    OpenApiRouter::new().route(
        "/hooks/zitadel",
        post(receive).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// The envelope ZITADEL posts for an event execution (`internal/execution`'s ContextInfo).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "aggregateID", default)]
    aggregate_id: String,
    #[serde(rename = "aggregateType", default)]
    aggregate_type: String,
    #[serde(rename = "resourceOwner", default)]
    resource_owner: String,
    #[serde(rename = "instanceID", default)]
    instance_id: String,
    #[serde(default)]
    sequence: Value,
    event_type: String,
    #[serde(default)]
    created_at: Option<String>,
    /// The editor (who made the change), not the subject.
    #[serde(rename = "userID", default)]
    user_id: String,
    /// Base64 JSON in ZITADEL 2.x/3.x, an inline object in v4 (empty in 4.1.x).
    #[serde(default)]
    event_payload: Value,
}

/// The normalized type for a ZITADEL event type; `None` for events Gatehouse does not emit.
pub fn normalize(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "user.human.added" | "user.human.selfregistered" | "user.machine.added" => "user.created",
        "user.removed" => "user.deleted",
        "user.human.profile.changed"
        | "user.human.email.changed"
        | "user.human.email.verified"
        | "user.human.phone.changed"
        | "user.username.changed"
        | "user.human.password.changed"
        | "user.deactivated"
        | "user.reactivated"
        | "user.locked"
        | "user.unlocked" => "user.updated",
        "session.added" => "session.created",
        "session.terminated" => "session.ended",
        "user.human.password.check.succeeded" | "user.human.externallogin.check.succeeded" => {
            "login.succeeded"
        }
        "user.human.password.check.failed"
        | "user.human.externallogin.check.failed"
        | "user.human.mfa.otp.check.failed" => "login.failed",
        _ => return None,
    })
}

/// `event_payload` as an object, whichever way it came. Undecodable payloads count as empty:
/// the envelope alone still makes a useful event.
fn payload(raw: &Value) -> Map<String, Value> {
    match raw {
        Value::Object(map) => map.clone(),
        Value::String(encoded) if !encoded.is_empty() => STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
        _ => Map::new(),
    }
}

/// The data of a normalized event: ids and a whitelist of profile fields (ZITADEL's payloads
/// also carry password hashes and codes, which must never be copied).
fn event_data(envelope: &Envelope, kind: &str, payload: &Map<String, Value>) -> Value {
    let text = |key: &str| {
        payload
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.chars().take(320).collect()))
    };
    let mut data = Map::new();
    if envelope.aggregate_type == "session" {
        data.insert("session_id".into(), envelope.aggregate_id.clone().into());
        if let Some(user) = text("userID") {
            data.insert("user_id".into(), user);
        }
    } else {
        data.insert("user_id".into(), envelope.aggregate_id.clone().into());
    }
    if !envelope.resource_owner.is_empty() && envelope.aggregate_type != "session" {
        data.insert("org_id".into(), envelope.resource_owner.clone().into());
    }
    if kind.starts_with("user.") {
        for (from, to) in [
            ("userName", "username"),
            ("email", "email"),
            ("firstName", "first_name"),
            ("lastName", "last_name"),
            ("displayName", "display_name"),
            ("preferredLanguage", "preferred_language"),
        ] {
            if let Some(value) = text(from) {
                data.insert(to.into(), value);
            }
        }
    }
    match kind {
        "user.created" => {
            let user_type = if envelope.event_type.starts_with("user.machine.") {
                "machine"
            } else {
                "human"
            };
            data.insert("user_type".into(), user_type.into());
        }
        "user.updated" => {
            let change = envelope
                .event_type
                .strip_prefix("user.human.")
                .or_else(|| envelope.event_type.strip_prefix("user."))
                .unwrap_or(&envelope.event_type);
            data.insert("change".into(), change.into());
        }
        "login.succeeded" | "login.failed" => {
            let method = if envelope.event_type.contains("externallogin") {
                "idp"
            } else if envelope.event_type.contains("otp") {
                "otp"
            } else {
                "password"
            };
            data.insert("method".into(), method.into());
        }
        _ => {}
    }
    data.insert(
        "zitadel".into(),
        json!({
            "event_type": envelope.event_type,
            "aggregate_type": envelope.aggregate_type,
            "aggregate_id": envelope.aggregate_id,
            "resource_owner": envelope.resource_owner,
            "instance_id": envelope.instance_id,
            "sequence": envelope.sequence,
            "editor_user_id": envelope.user_id,
            "created_at": envelope.created_at,
        }),
    );
    Value::Object(data)
}

/// Events seen recently by this process, by identity: a replayed or retried call (within the
/// signature tolerance) is acknowledged without storing the event twice.
static SEEN: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);
const SEEN_FOR: Duration = Duration::from_secs(2 * 300);
const SEEN_MAX: usize = 50_000;

fn first_time(identity: String) -> bool {
    let now = Instant::now();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() >= SEEN_MAX {
        seen.retain(|_, at| now.duration_since(*at) < SEEN_FOR);
        if seen.len() >= SEEN_MAX {
            seen.clear();
        }
    }
    match seen.get(&identity) {
        Some(at) if now.duration_since(*at) < SEEN_FOR => false,
        _ => {
            seen.insert(identity, now);
            true
        }
    }
}

fn forget(identity: &str) {
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(identity);
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let now = state.clock.now();
    verify(&state, &headers, &body, now).await?;

    let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_event",
            format!("the body is not a ZITADEL event: {e}"),
        )
    })?;
    let Some(kind) = normalize(&envelope.event_type) else {
        tracing::debug!(event_type = %envelope.event_type, "ZITADEL event not mapped; dropped");
        return Ok((StatusCode::OK, Json(json!({"stored": 0}))));
    };
    let payload = payload(&envelope.event_payload);
    // Sessions belong to the instance; the user's organization, when given, names the tenant.
    let owner = match envelope.aggregate_type.as_str() {
        "session" => payload
            .get("userResourceOwner")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => envelope.resource_owner.clone(),
    };
    let tenant: Option<TenantId> = if owner.is_empty() {
        None
    } else {
        state.store.tenant_for_org(&owner).await?
    };
    let occurred_at = envelope
        .created_at
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
        .unwrap_or(now);
    let event = Event::new(
        kind,
        tenant,
        occurred_at,
        event_data(&envelope, kind, &payload),
    );
    // Without a sequence or a time, two genuine events could look alike: no dedup then.
    let identity = (!envelope.sequence.is_null() || envelope.created_at.is_some()).then(|| {
        format!(
            "{}|{}/{}/{}/{}/{}/{}",
            // Per installation (tests run several servers in one process).
            state.settings.public_url,
            envelope.instance_id,
            envelope.aggregate_type,
            envelope.aggregate_id,
            envelope.sequence,
            envelope.created_at.as_deref().unwrap_or_default(),
            envelope.event_type
        )
    });
    if identity.as_ref().is_some_and(|id| !first_time(id.clone())) {
        tracing::debug!(event_type = %envelope.event_type, "ZITADEL event already stored; duplicate dropped");
        return Ok((StatusCode::OK, Json(json!({"stored": 0}))));
    }
    if let Err(err) = state.store.append_events(&[event]).await {
        // Not stored: a retry must not be taken for a duplicate.
        if let Some(identity) = &identity {
            forget(identity);
        }
        return Err(err.into());
    }
    Ok((StatusCode::OK, Json(json!({"stored": 1}))))
}

/// Checks `ZITADEL-Signature` against every current signing key of the target.
async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> ApiResult<()> {
    let header = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let records = state.store.actions_signing_keys(now).await?;
    let mut keys = Vec::with_capacity(records.len());
    for record in &records {
        match state
            .keyring
            .open_string(&record.sealed, &signing_key_aad(&record.fingerprint))
        {
            Ok(key) => keys.push(key),
            Err(err) => {
                tracing::error!(fingerprint = %record.fingerprint, %err, "cannot open an Actions signing key")
            }
        }
    }
    if keys.is_empty() {
        tracing::warn!("a ZITADEL Actions call arrived but no signing key is known yet; refused");
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    actions_signature::verify(header, body, &refs, now, DEFAULT_TOLERANCE).map_err(|err| {
        tracing::warn!(%err, "ZITADEL Actions call refused");
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "the ZITADEL-Signature header is missing, expired or does not match",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event_type: &str, aggregate_type: &str, payload: Value) -> Envelope {
        Envelope {
            aggregate_id: "u1".into(),
            aggregate_type: aggregate_type.into(),
            resource_owner: "org1".into(),
            instance_id: "inst".into(),
            sequence: json!(3),
            event_type: event_type.into(),
            created_at: Some("2025-01-23T10:34:18.051234567Z".into()),
            user_id: "editor".into(),
            event_payload: payload,
        }
    }

    #[test]
    fn event_types_map_to_normalized_names() {
        assert_eq!(normalize("user.human.added"), Some("user.created"));
        assert_eq!(normalize("user.human.selfregistered"), Some("user.created"));
        assert_eq!(normalize("user.removed"), Some("user.deleted"));
        assert_eq!(
            normalize("user.human.profile.changed"),
            Some("user.updated")
        );
        assert_eq!(normalize("session.added"), Some("session.created"));
        assert_eq!(
            normalize("user.human.password.check.succeeded"),
            Some("login.succeeded")
        );
        assert_eq!(
            normalize("user.human.password.check.failed"),
            Some("login.failed")
        );
        assert_eq!(normalize("org.added"), None);
        assert_eq!(normalize("session.password.checked"), None);
    }

    #[test]
    fn payloads_are_read_inline_or_base64_and_secrets_are_not_copied() {
        let inline = json!({"userName": "alice", "email": "alice@example.com", "encodedHash": "$argon2id$secret", "firstName": "Alice"});
        let b64 = Value::String(STANDARD.encode(inline.to_string()));
        for raw in [inline.clone(), b64] {
            let e = envelope("user.human.added", "user", raw);
            let data = event_data(&e, "user.created", &payload(&e.event_payload));
            assert_eq!(data["user_id"], "u1");
            assert_eq!(data["org_id"], "org1");
            assert_eq!(data["username"], "alice");
            assert_eq!(data["email"], "alice@example.com");
            assert_eq!(data["first_name"], "Alice");
            assert_eq!(data["user_type"], "human");
            assert_eq!(data["zitadel"]["event_type"], "user.human.added");
            assert_eq!(data["zitadel"]["editor_user_id"], "editor");
            assert!(!data.to_string().contains("argon2"), "{data}");
        }
        // Empty (`{}` in v4.1) or garbage payloads still give an event.
        for raw in [json!({}), json!("%%%not base64"), Value::Null] {
            let e = envelope("user.removed", "user", raw);
            let data = event_data(&e, "user.deleted", &payload(&e.event_payload));
            assert_eq!(data["user_id"], "u1");
        }
    }

    #[test]
    fn sessions_and_logins_carry_their_own_details() {
        let e = envelope("session.added", "session", json!({"userID": "u9"}));
        let data = event_data(&e, "session.created", &payload(&e.event_payload));
        assert_eq!(data["session_id"], "u1");
        assert_eq!(data["user_id"], "u9");
        assert!(data.get("org_id").is_none());
        let e = envelope("user.human.password.check.failed", "user", json!({}));
        let data = event_data(&e, "login.failed", &payload(&e.event_payload));
        assert_eq!(data["method"], "password");
        let e = envelope(
            "user.human.profile.changed",
            "user",
            json!({"displayName": "A"}),
        );
        let data = event_data(&e, "user.updated", &payload(&e.event_payload));
        assert_eq!(data["change"], "profile.changed");
        assert_eq!(data["display_name"], "A");
    }

    #[test]
    fn duplicates_are_recognised() {
        let id = format!("test/{}", ulid::Ulid::new());
        assert!(first_time(id.clone()));
        assert!(!first_time(id));
    }
}
