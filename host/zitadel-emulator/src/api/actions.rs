//! Actions v2: targets and executions (`/v2/actions/...`). Only event executions are run (see
//! `crate::actions`); request/response/function executions are stored and listed.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ApiResult, check_len, ok};
use crate::{
    auth::{Caller, IAM_OWNER},
    crypto::random_alnum,
    error::{ApiError, catalog},
    model::{Execution, Target, TargetKind},
    protojson::{de_u64, format_duration, parse_duration, text_matches, ts, u64s},
    state::AppState,
};

const MAX_TIMEOUT_SECS: f64 = 270.0;
const PAYLOAD_TYPES: &[&str] = &["PAYLOAD_TYPE_JSON", "PAYLOAD_TYPE_JWT", "PAYLOAD_TYPE_JWE"];

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TargetReq {
    name: Option<String>,
    rest_webhook: Option<Interrupt>,
    rest_call: Option<Interrupt>,
    rest_async: Option<Value>,
    timeout: Option<String>,
    endpoint: Option<String>,
    payload_type: Option<String>,
    expiration_signing_key: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase", default)]
pub struct Interrupt {
    interrupt_on_error: bool,
}

impl TargetReq {
    fn kind(&self) -> Result<Option<TargetKind>, ApiError> {
        match (&self.rest_webhook, &self.rest_call, &self.rest_async) {
            (None, None, None) => Ok(None),
            (Some(w), None, None) => Ok(Some(TargetKind::Webhook {
                interrupt_on_error: w.interrupt_on_error,
            })),
            (None, Some(c), None) => Ok(Some(TargetKind::Call {
                interrupt_on_error: c.interrupt_on_error,
            })),
            (None, None, Some(_)) => Ok(Some(TargetKind::Async)),
            _ => Err(ApiError::validation(
                "invalid target type: set only one of restWebhook, restCall, restAsync",
            )),
        }
    }

    fn timeout_ms(&self) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.timeout.as_deref() else {
            return Ok(None);
        };
        let secs = parse_duration(text).ok_or_else(|| {
            ApiError::validation(format!(
                "invalid timeout: `{text}` is not a duration such as \"10s\""
            ))
        })?;
        if secs <= 0.0 || secs > MAX_TIMEOUT_SECS {
            return Err(ApiError::validation(
                "invalid timeout: value must be greater than 0s and at most 270s",
            ));
        }
        Ok(Some((secs * 1000.0).round() as u64))
    }

    fn endpoint(&self) -> Result<Option<String>, ApiError> {
        let Some(text) = self.endpoint.as_deref() else {
            return Ok(None);
        };
        let text = check_len("endpoint", text, 1, 2048)?;
        // The emulator has no outbound deny list: in development, targets run on loopback.
        let ok = url::Url::parse(&text)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(ApiError::invalid(
                "COMMAND-NcJUKo",
                "Errors.Target.DeniedURL: the endpoint must be an http(s) URL",
            ));
        }
        Ok(Some(text))
    }

    fn payload_type(&self) -> Result<Option<String>, ApiError> {
        match self.payload_type.as_deref() {
            None => Ok(None),
            Some("PAYLOAD_TYPE_UNSPECIFIED") => Ok(Some("PAYLOAD_TYPE_JSON".into())),
            Some(p) if PAYLOAD_TYPES.contains(&p) => Ok(Some(p.to_owned())),
            Some(other) => Err(ApiError::validation(format!(
                "invalid payloadType: unknown value `{other}`"
            ))),
        }
    }
}

fn target_json(t: &Target) -> Value {
    let mut v = json!({
        "id": t.id,
        "creationDate": ts(t.created),
        "changeDate": ts(t.changed),
        "name": t.name,
        "timeout": format_duration(t.timeout_ms as f64 / 1000.0),
        "endpoint": t.endpoint,
        "signingKey": t.signing_key,
        "payloadType": t.payload_type,
    });
    match t.kind {
        TargetKind::Webhook { interrupt_on_error } => {
            v["restWebhook"] = json!({"interruptOnError": interrupt_on_error});
        }
        TargetKind::Call { interrupt_on_error } => {
            v["restCall"] = json!({"interruptOnError": interrupt_on_error});
        }
        TargetKind::Async => v["restAsync"] = json!({}),
    }
    v
}

pub async fn create_target(
    State(state): State<AppState>,
    caller: Caller,
    crate::protojson::ZJson(req): crate::protojson::ZJson<TargetReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let name = check_len(
        "CreateTargetRequest.Name",
        req.name.as_deref().unwrap_or(""),
        1,
        1000,
    )?;
    let kind = req.kind()?.ok_or_else(|| {
        ApiError::validation("invalid CreateTargetRequest.TargetType: value is required")
    })?;
    let timeout_ms = req.timeout_ms()?.ok_or_else(|| {
        ApiError::validation("invalid CreateTargetRequest.Timeout: value is required")
    })?;
    let endpoint = req
        .endpoint()?
        .ok_or_else(|| ApiError::validation("invalid CreateTargetRequest.Endpoint: value length must be between 1 and 2048 runes, inclusive"))?;
    let payload_type = req
        .payload_type()?
        .unwrap_or_else(|| "PAYLOAD_TYPE_JSON".into());
    let signing_key = random_alnum(32);
    let target = state
        .write(|tx| {
            if tx.data.targets.values().any(|t| t.name == name) {
                return Err(catalog::target_exists());
            }
            let id = tx.new_id();
            tx.next_seq();
            let target = Target {
                id: id.clone(),
                name: name.clone(),
                kind,
                timeout_ms,
                endpoint: endpoint.clone(),
                signing_key: signing_key.clone(),
                payload_type: payload_type.clone(),
                created: tx.now,
                changed: tx.now,
            };
            tx.data.targets.insert(id, target.clone());
            Ok(target)
        })
        .await?;
    ok(json!({
        "id": target.id,
        "creationDate": ts(target.created),
        "signingKey": target.signing_key,
    }))
}

pub async fn update_target(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    crate::protojson::ZJson(req): crate::protojson::ZJson<TargetReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let name = req
        .name
        .as_deref()
        .map(|n| check_len("UpdateTargetRequest.Name", n, 1, 1000))
        .transpose()?;
    let kind = req.kind()?;
    let timeout_ms = req.timeout_ms()?;
    let endpoint = req.endpoint()?;
    let payload_type = req.payload_type()?;
    // `expirationSigningKey` set: a new key is generated (the emulator does not keep the old one
    // valid in parallel; "0s" is the common value).
    let rotate = match req.expiration_signing_key.as_deref() {
        None => false,
        Some(text) => {
            parse_duration(text).filter(|s| *s >= 0.0).ok_or_else(|| {
                ApiError::validation(format!("invalid expirationSigningKey: `{text}`"))
            })?;
            true
        }
    };
    let new_key = rotate.then(|| random_alnum(32));
    let at = state
        .write(|tx| {
            if let Some(n) = &name
                && tx.data.targets.values().any(|t| t.id != id && t.name == *n)
            {
                return Err(catalog::target_exists());
            }
            tx.next_seq();
            let now = tx.now;
            let t = tx
                .data
                .targets
                .get_mut(&id)
                .ok_or_else(catalog::target_not_found)?;
            if let Some(n) = name {
                t.name = n;
            }
            if let Some(k) = kind {
                t.kind = k;
            }
            if let Some(ms) = timeout_ms {
                t.timeout_ms = ms;
            }
            if let Some(e) = endpoint {
                t.endpoint = e;
            }
            if let Some(p) = payload_type {
                t.payload_type = p;
            }
            if let Some(key) = &new_key {
                t.signing_key = key.clone();
            }
            t.changed = now;
            Ok(now)
        })
        .await?;
    ok(json!({"changeDate": ts(at), "signingKey": new_key}))
}

pub async fn get_target(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let value = state.read(|inner| {
        inner
            .data
            .targets
            .get(&id)
            .map(|t| json!({"target": target_json(t)}))
            .ok_or_else(catalog::target_not_found)
    })?;
    ok(value)
}

pub async fn delete_target(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let deleted = state
        .write(|tx| {
            if tx.data.targets.remove(&id).is_none() {
                // Idempotent: the desired state is already reached; no deletion date.
                return Ok(None);
            }
            tx.next_seq();
            for execution in &mut tx.data.executions {
                execution.targets.retain(|t| *t != id);
            }
            tx.data.executions.retain(|e| !e.targets.is_empty());
            Ok(Some(tx.now))
        })
        .await?;
    ok(json!({"deletionDate": deleted.map(ts)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Pagination {
    #[serde(deserialize_with = "de_u64")]
    offset: Option<u64>,
    #[serde(deserialize_with = "de_u64")]
    limit: Option<u64>,
    asc: bool,
}

impl Pagination {
    fn apply<T>(&self, mut items: Vec<T>) -> Result<(Value, Vec<T>), ApiError> {
        let limit = match self.limit.unwrap_or(0) {
            0 => 100,
            l if l > 1000 => {
                return Err(ApiError::invalid(
                    "EMU-LimitExceeded",
                    "Limit exceeds default limit",
                ));
            }
            l => l,
        };
        if !self.asc {
            items.reverse();
        }
        let total = items.len() as u64;
        let page = items
            .into_iter()
            .skip(self.offset.unwrap_or(0) as usize)
            .take(limit as usize)
            .collect();
        Ok((
            json!({"totalResult": u64s(total), "appliedLimit": u64s(limit)}),
            page,
        ))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListReq {
    pagination: Pagination,
    sorting_column: Option<String>,
    filters: Vec<Value>,
}

pub async fn list_targets(
    State(state): State<AppState>,
    caller: Caller,
    crate::protojson::ZJson(req): crate::protojson::ZJson<ListReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let mut targets: Vec<Target> =
        state.read(|inner| inner.data.targets.values().cloned().collect());
    let mut kept = Vec::new();
    for t in targets.drain(..) {
        let mut keep = true;
        for f in &req.filters {
            if let Some(q) = f.get("targetNameFilter") {
                keep &= text_matches(
                    q.get("method").and_then(Value::as_str),
                    &t.name,
                    q.get("targetName")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                )?;
            } else if let Some(q) = f.get("inTargetIdsFilter") {
                keep &= q
                    .get("targetIds")
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(&t.id)));
            } else {
                return Err(ApiError::validation("invalid filters: unsupported filter"));
            }
        }
        if keep {
            kept.push(t);
        }
    }
    match req.sorting_column.as_deref() {
        Some("TARGET_FIELD_NAME_NAME") => kept.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => kept.sort_by_key(|t| t.created),
    }
    let (pagination, page) = req.pagination.apply(kept)?;
    ok(json!({
        "pagination": pagination,
        "targets": page.iter().map(target_json).collect::<Vec<_>>(),
    }))
}

/// Validates and normalises an execution condition.
fn normalise_condition(condition: &Value) -> Result<Value, ApiError> {
    let obj = condition
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| {
            ApiError::validation(
                "invalid condition: set exactly one of request, response, function, event",
            )
        })?;
    let (kind, inner) = obj
        .iter()
        .next()
        .ok_or_else(|| ApiError::validation("empty condition"))?;
    let inner = inner.as_object().ok_or_else(|| {
        ApiError::validation(format!("invalid condition.{kind}: expected an object"))
    })?;
    let text = |field: &str| -> Result<Option<String>, ApiError> {
        match inner.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check_len(&format!("condition.{kind}.{field}"), s, 1, 1000).map(Some)
            }
            Some(_) => Err(ApiError::validation(format!(
                "invalid condition.{kind}.{field}: expected a string"
            ))),
        }
    };
    let mut out = Map::new();
    match kind.as_str() {
        "request" | "response" | "event" => {
            let (first, second) = if kind == "event" {
                ("event", "group")
            } else {
                ("method", "service")
            };
            let all = inner.get("all").and_then(Value::as_bool) == Some(true);
            match (text(first)?, text(second)?, all) {
                (Some(v), None, false) => {
                    out.insert(first.into(), json!(v));
                }
                (None, Some(v), false) => {
                    out.insert(second.into(), json!(v));
                }
                (None, None, true) => {
                    out.insert("all".into(), json!(true));
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "invalid condition.{kind}: set exactly one of {first}, {second}, all"
                    )));
                }
            }
        }
        "function" => {
            let name = text("name")?.ok_or_else(|| {
                ApiError::validation("invalid condition.function.name: value is required")
            })?;
            out.insert("name".into(), json!(name));
        }
        other => {
            return Err(ApiError::validation(format!(
                "invalid condition: unknown type `{other}`"
            )));
        }
    }
    Ok(json!({ kind.as_str(): out }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetExecutionReq {
    condition: Option<Value>,
    targets: Vec<Value>,
}

pub async fn set_execution(
    State(state): State<AppState>,
    caller: Caller,
    crate::protojson::ZJson(req): crate::protojson::ZJson<SetExecutionReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let condition = normalise_condition(req.condition.as_ref().ok_or_else(|| {
        ApiError::validation("invalid SetExecutionRequest.Condition: value is required")
    })?)?;
    let mut targets = Vec::new();
    for t in &req.targets {
        let id = t.as_str().ok_or_else(|| {
            ApiError::validation("invalid targets: expected target ids as strings")
        })?;
        targets.push(check_len("targets", id, 1, 200)?);
    }
    let at = state
        .write(|tx| {
            if targets.iter().any(|t| !tx.data.targets.contains_key(t)) {
                return Err(catalog::target_not_found());
            }
            tx.next_seq();
            let now = tx.now;
            let existing = tx
                .data
                .executions
                .iter()
                .position(|e| e.condition == condition);
            match (existing, targets.is_empty()) {
                (Some(i), true) => {
                    tx.data.executions.remove(i);
                }
                (Some(i), false) => {
                    let e = &mut tx.data.executions[i];
                    e.targets = targets.clone();
                    e.changed = now;
                }
                (None, true) => {}
                (None, false) => tx.data.executions.push(Execution {
                    condition: condition.clone(),
                    targets: targets.clone(),
                    created: now,
                    changed: now,
                }),
            }
            Ok(now)
        })
        .await?;
    ok(json!({"setDate": ts(at)}))
}

pub async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    crate::protojson::ZJson(req): crate::protojson::ZJson<ListReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let executions: Vec<Execution> = state.read(|inner| inner.data.executions.clone());
    let mut kept = Vec::new();
    for e in executions {
        let mut keep = true;
        for f in &req.filters {
            if let Some(q) = f.get("targetFilter") {
                let id = q
                    .get("targetId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                keep &= e.targets.iter().any(|t| t == id);
            } else if let Some(q) = f.get("inConditionsFilter") {
                let wanted: Vec<Value> = q
                    .get("conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(normalise_condition)
                    .collect::<Result<_, _>>()?;
                keep &= wanted.contains(&e.condition);
            } else {
                return Err(ApiError::validation("invalid filters: unsupported filter"));
            }
        }
        if keep {
            kept.push(e);
        }
    }
    kept.sort_by_key(|e| e.created);
    let (pagination, page) = req.pagination.apply(kept)?;
    let executions: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "condition": e.condition,
                "creationDate": ts(e.created),
                "changeDate": ts(e.changed),
                "targets": e.targets,
            })
        })
        .collect();
    ok(json!({"pagination": pagination, "executions": executions}))
}

pub async fn list_functions(caller: Caller) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    ok(json!({"functions": ["preuserinfo", "preaccesstoken", "presamlresponse"]}))
}

pub async fn list_methods(caller: Caller) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    ok(json!({"methods": [
        "/zitadel.user.v2.UserService/AddHumanUser",
        "/zitadel.user.v2.UserService/SetPassword",
        "/zitadel.session.v2.SessionService/CreateSession",
        "/zitadel.session.v2.SessionService/SetSession",
        "/zitadel.org.v2.OrganizationService/AddOrganization",
    ]}))
}

pub async fn list_services(caller: Caller) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    ok(json!({"services": [
        "zitadel.user.v2.UserService",
        "zitadel.session.v2.SessionService",
        "zitadel.org.v2.OrganizationService",
        "zitadel.oidc.v2.OIDCService",
    ]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_validated_and_normalised() {
        assert_eq!(
            normalise_condition(&json!({"event": {"event": "user.human.added"}})).unwrap(),
            json!({"event": {"event": "user.human.added"}})
        );
        assert_eq!(
            normalise_condition(&json!({"event": {"all": true, "group": null}})).unwrap(),
            json!({"event": {"all": true}})
        );
        assert!(normalise_condition(&json!({"event": {"event": "a", "group": "b"}})).is_err());
        assert!(normalise_condition(&json!({"event": {}, "request": {}})).is_err());
        assert!(normalise_condition(&json!({"bogus": {}})).is_err());
        assert!(normalise_condition(&json!({"function": {}})).is_err());
        assert!(normalise_condition(&json!({"request": {"method": ""}})).is_err());
    }
}
