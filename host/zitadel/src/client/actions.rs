//! Actions v2: targets (endpoints ZITADEL calls) and executions (which events or API calls go
//! to which targets). Instance-level, so no organization header.
//!
//! ZITADEL signs each call with the target's `signingKey` (see `crate::actions_signature`).
//! Known pitfalls: event executions may stay silent after a fresh CreateTarget + SetExecution
//! until the target is updated once (zitadel/zitadel#12185); CreateTarget resolves the endpoint
//! and refuses private/loopback addresses with `Errors.Target.DeniedURL` (#12244, #12326).

use gatehouse_core::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Call, Empty, PaginationRequest, PaginationResponse, ProtoDuration, Result, Secret,
    TextFilterMethod, ZitadelClient, ZitadelError, segment, wire::proto_enum,
};

/// ZITADEL caps a target's timeout at 270 s.
pub const MAX_TARGET_TIMEOUT_SECS: u64 = 270;

proto_enum! {
    pub enum PayloadType {
        Unspecified = "PAYLOAD_TYPE_UNSPECIFIED",
        /// JSON body signed with `ZITADEL-Signature` (the default).
        Json = "PAYLOAD_TYPE_JSON",
        Jwt = "PAYLOAD_TYPE_JWT",
        Jwe = "PAYLOAD_TYPE_JWE",
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InterruptOnError {
    pub interrupt_on_error: bool,
}

/// How ZITADEL treats the target's answer (a oneof).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetType {
    /// Only the status counts.
    RestWebhook(InterruptOnError),
    /// Status and body (the body can rewrite the request/response).
    RestCall(InterruptOnError),
    /// Fire and forget; the right kind for event executions.
    RestAsync(Empty),
}

/// `POST /v2/actions/targets`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTargetRequest {
    /// 1..1000 characters, unique in the instance.
    pub name: String,
    #[serde(flatten)]
    pub target_type: TargetType,
    /// At most 270 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ProtoDuration>,
    /// The URL ZITADEL POSTs to (1..2048 characters).
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<PayloadType>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateTargetResponse {
    pub id: String,
    pub creation_date: Option<Timestamp>,
    /// The HMAC key of `ZITADEL-Signature`; store it encrypted.
    pub signing_key: Secret,
}

/// `POST /v2/actions/targets/{id}`: absent fields stay as they are.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTargetRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `Some(0s)` rotates the signing key now (the only value ZITADEL accepts); the answer
    /// carries the new key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_signing_key: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<PayloadType>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateTargetResponse {
    pub change_date: Option<Timestamp>,
    /// Only when the key was rotated.
    pub signing_key: Option<Secret>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Target {
    pub id: String,
    pub creation_date: Option<Timestamp>,
    pub change_date: Option<Timestamp>,
    pub name: String,
    pub rest_webhook: Option<InterruptOnError>,
    pub rest_call: Option<InterruptOnError>,
    pub rest_async: Option<Empty>,
    pub timeout: Option<ProtoDuration>,
    pub endpoint: String,
    pub signing_key: Option<Secret>,
    pub payload_type: Option<PayloadType>,
}

impl Target {
    pub fn target_type(&self) -> Option<TargetType> {
        if let Some(webhook) = self.rest_webhook {
            Some(TargetType::RestWebhook(webhook))
        } else if let Some(call) = self.rest_call {
            Some(TargetType::RestCall(call))
        } else {
            self.rest_async.map(TargetType::RestAsync)
        }
    }
}

proto_enum! {
    pub enum TargetFieldName {
        Unspecified = "TARGET_FIELD_NAME_UNSPECIFIED",
        Id = "TARGET_FIELD_NAME_ID",
        CreatedDate = "TARGET_FIELD_NAME_CREATED_DATE",
        ChangedDate = "TARGET_FIELD_NAME_CHANGED_DATE",
        Name = "TARGET_FIELD_NAME_NAME",
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetFilter {
    #[serde(rename_all = "camelCase")]
    TargetNameFilter {
        target_name: String,
        method: TextFilterMethod,
    },
    #[serde(rename_all = "camelCase")]
    InTargetIdsFilter { target_ids: Vec<String> },
}

/// `POST /v2/actions/targets/search`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTargetsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorting_column: Option<TargetFieldName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<TargetFilter>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListTargetsResponse {
    pub pagination: Option<PaginationResponse>,
    pub targets: Vec<Target>,
}

/// Which API calls of a service (a oneof): one method, a whole service, or all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodSelector {
    /// `/zitadel.user.v2.UserService/AddHumanUser`.
    Method(String),
    /// `zitadel.user.v2.UserService`.
    Service(String),
    All(bool),
}

/// Which events (a oneof): one type, a group prefix, or all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventSelector {
    /// `user.human.added`.
    Event(String),
    /// `user.human`.
    Group(String),
    All(bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSelector {
    /// `preuserinfo`, `preaccesstoken`, `presamlresponse`.
    pub name: String,
}

/// When an execution fires (a oneof). The most specific condition wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Condition {
    Request(MethodSelector),
    Response(MethodSelector),
    Function(FunctionSelector),
    Event(EventSelector),
}

impl Condition {
    pub fn event(event_type: impl Into<String>) -> Self {
        Self::Event(EventSelector::Event(event_type.into()))
    }

    pub fn event_group(group: impl Into<String>) -> Self {
        Self::Event(EventSelector::Group(group.into()))
    }
}

/// `PUT /v2/actions/executions`. Empty `targets` removes the execution.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetExecutionRequest {
    pub condition: Condition,
    /// Target ids, called in order.
    pub targets: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetExecutionResponse {
    pub set_date: Option<Timestamp>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub condition: Condition,
    /// Target ids. Older versions (v2beta/v3alpha) answer `[{"target": id}]`; both are read.
    #[serde(default, deserialize_with = "target_ids")]
    pub targets: Vec<String>,
    #[serde(default)]
    pub creation_date: Option<Timestamp>,
    #[serde(default)]
    pub change_date: Option<Timestamp>,
}

fn target_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Id(String),
        Wrapped { target: String },
    }
    let entries = Vec::<Entry>::deserialize(deserializer)?;
    Ok(entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Id(id) | Entry::Wrapped { target: id } => id,
        })
        .collect())
}

proto_enum! {
    pub enum ExecutionType {
        Unspecified = "EXECUTION_TYPE_UNSPECIFIED",
        Request = "EXECUTION_TYPE_REQUEST",
        Response = "EXECUTION_TYPE_RESPONSE",
        Event = "EXECUTION_TYPE_EVENT",
        Function = "EXECUTION_TYPE_FUNCTION",
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecutionFilter {
    InConditionsFilter {
        conditions: Vec<Condition>,
    },
    #[serde(rename_all = "camelCase")]
    ExecutionTypeFilter {
        execution_type: ExecutionType,
    },
    #[serde(rename_all = "camelCase")]
    TargetFilter {
        target_id: String,
    },
}

/// `POST /v2/actions/executions/search`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListExecutionsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationRequest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<ExecutionFilter>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListExecutionsResponse {
    pub pagination: Option<PaginationResponse>,
    pub executions: Vec<Execution>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GetTargetResponse {
    target: Option<Target>,
}

fn check_timeout(op: &'static str, timeout: Option<ProtoDuration>) -> Result<()> {
    match timeout {
        Some(t) if t.0.as_secs_f64() > MAX_TARGET_TIMEOUT_SECS as f64 => {
            Err(ZitadelError::InvalidRequest {
                op,
                message: format!(
                    "target timeout {t} exceeds ZITADEL's maximum of {MAX_TARGET_TIMEOUT_SECS}s"
                ),
            })
        }
        _ => Ok(()),
    }
}

impl ZitadelClient {
    /// Creates a target. Keep `signing_key` from the answer to verify ZITADEL's calls.
    pub async fn create_target(
        &self,
        request: &CreateTargetRequest,
    ) -> Result<CreateTargetResponse> {
        const OP: &str = "create_target";
        check_timeout(OP, request.timeout)?;
        let response: CreateTargetResponse = self
            .call(Call::post(OP, "/v2/actions/targets".into(), request)?)
            .await?;
        if response.id.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "no target id in the answer".into(),
            });
        }
        Ok(response)
    }

    pub async fn update_target(
        &self,
        target_id: &str,
        request: &UpdateTargetRequest,
    ) -> Result<UpdateTargetResponse> {
        const OP: &str = "update_target";
        check_timeout(OP, request.timeout)?;
        let path = format!(
            "/v2/actions/targets/{}",
            segment(OP, "target id", target_id)?
        );
        // Rotating the key is not idempotent; plain field updates are.
        let mut call = Call::post(OP, path, request)?;
        if request.expiration_signing_key.is_none() {
            call = call.idempotent();
        }
        self.call(call).await
    }

    /// Rotates the target's signing key immediately and returns the new key.
    pub async fn rotate_target_signing_key(&self, target_id: &str) -> Result<Secret> {
        let response = self
            .update_target(
                target_id,
                &UpdateTargetRequest {
                    expiration_signing_key: Some(ProtoDuration::from_secs(0)),
                    ..Default::default()
                },
            )
            .await?;
        response
            .signing_key
            .filter(|key| !key.is_empty())
            .ok_or(ZitadelError::Decode {
                op: "update_target",
                message: "no signingKey in the answer to a key rotation".into(),
            })
    }

    /// The target, or `None` if it does not exist.
    pub async fn get_target(&self, target_id: &str) -> Result<Option<Target>> {
        const OP: &str = "get_target";
        let path = format!(
            "/v2/actions/targets/{}",
            segment(OP, "target id", target_id)?
        );
        match self.call::<GetTargetResponse>(Call::get(OP, path)).await {
            Ok(response) => Ok(response.target.filter(|t| !t.id.is_empty())),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub async fn list_targets(&self, request: &ListTargetsRequest) -> Result<ListTargetsResponse> {
        self.call(Call::search(
            "list_targets",
            "/v2/actions/targets/search".into(),
            request,
        )?)
        .await
    }

    /// The target with exactly this name.
    pub async fn find_target_by_name(&self, name: &str) -> Result<Option<Target>> {
        let response = self
            .list_targets(&ListTargetsRequest {
                pagination: Some(PaginationRequest::limit(10)),
                filters: vec![TargetFilter::TargetNameFilter {
                    target_name: name.into(),
                    method: TextFilterMethod::Equals,
                }],
                ..Default::default()
            })
            .await?;
        Ok(response.targets.into_iter().find(|t| t.name == name))
    }

    /// `false` if the target did not exist (ZITADEL's delete is idempotent; older versions
    /// answer 404).
    pub async fn delete_target(&self, target_id: &str) -> Result<bool> {
        const OP: &str = "delete_target";
        let path = format!(
            "/v2/actions/targets/{}",
            segment(OP, "target id", target_id)?
        );
        self.delete_call(Call::delete(OP, path)).await
    }

    /// Sets (replaces) the targets of an execution; empty `targets` removes it.
    pub async fn set_execution(
        &self,
        request: &SetExecutionRequest,
    ) -> Result<SetExecutionResponse> {
        const OP: &str = "set_execution";
        for id in &request.targets {
            segment(OP, "target id", id)?;
        }
        self.call(Call::put(OP, "/v2/actions/executions".into(), request)?)
            .await
    }

    pub async fn remove_execution(&self, condition: Condition) -> Result<SetExecutionResponse> {
        self.set_execution(&SetExecutionRequest {
            condition,
            targets: Vec::new(),
        })
        .await
    }

    pub async fn list_executions(
        &self,
        request: &ListExecutionsRequest,
    ) -> Result<ListExecutionsResponse> {
        self.call(Call::search(
            "list_executions",
            "/v2/actions/executions/search".into(),
            request,
        )?)
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn create_target_body() {
        let request = CreateTargetRequest {
            name: "gatehouse".into(),
            target_type: TargetType::RestAsync(Empty {}),
            timeout: Some(ProtoDuration::from_secs(10)),
            endpoint: "https://gh.example/hooks/zitadel".into(),
            payload_type: Some(PayloadType::Json),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "name": "gatehouse",
                "restAsync": {},
                "timeout": "10s",
                "endpoint": "https://gh.example/hooks/zitadel",
                "payloadType": "PAYLOAD_TYPE_JSON"
            })
        );
        let webhook = serde_json::to_value(TargetType::RestWebhook(InterruptOnError {
            interrupt_on_error: true,
        }))
        .unwrap();
        assert_eq!(webhook, json!({"restWebhook": {"interruptOnError": true}}));
        assert!(check_timeout("t", Some(ProtoDuration::from_secs(271))).is_err());
        assert!(check_timeout("t", Some(ProtoDuration::from_secs(270))).is_ok());
    }

    #[test]
    fn update_target_rotation_body() {
        let request = UpdateTargetRequest {
            expiration_signing_key: Some(ProtoDuration::from_secs(0)),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"expirationSigningKey": "0s"})
        );
    }

    #[test]
    fn conditions_are_nested_oneofs() {
        let request = SetExecutionRequest {
            condition: Condition::event("user.human.added"),
            targets: vec!["1".into()],
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"condition": {"event": {"event": "user.human.added"}}, "targets": ["1"]})
        );
        let all = Condition::Request(MethodSelector::All(true));
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            json!({"request": {"all": true}})
        );
        let function = Condition::Function(FunctionSelector {
            name: "preuserinfo".into(),
        });
        assert_eq!(
            serde_json::to_value(&function).unwrap(),
            json!({"function": {"name": "preuserinfo"}})
        );
    }

    #[test]
    fn executions_read_both_target_shapes() {
        let response: ListExecutionsResponse = serde_json::from_value(json!({
            "pagination": {"totalResult": "2", "appliedLimit": "100"},
            "executions": [
                {"condition": {"event": {"group": "user.human"}}, "targets": ["1", "2"]},
                {"condition": {"request": {"method": "/zitadel.user.v2.UserService/AddHumanUser"}},
                 "targets": [{"target": "3"}], "creationDate": "2025-01-23T10:34:18.051Z"}
            ]
        }))
        .unwrap();
        assert_eq!(response.pagination.unwrap().total_result, Some(2));
        assert_eq!(
            response.executions[0].condition,
            Condition::event_group("user.human")
        );
        assert_eq!(response.executions[0].targets, ["1", "2"]);
        assert_eq!(response.executions[1].targets, ["3"]);
    }

    #[test]
    fn target_reads_its_type() {
        let target: Target = serde_json::from_value(json!({
            "id": "1", "name": "t", "restCall": {"interruptOnError": true},
            "timeout": "10s", "endpoint": "https://x.example", "signingKey": "k",
            "payloadType": "PAYLOAD_TYPE_JSON"
        }))
        .unwrap();
        assert_eq!(
            target.target_type(),
            Some(TargetType::RestCall(InterruptOnError {
                interrupt_on_error: true
            }))
        );
        assert!(!format!("{target:?}").contains("\"k\""));
    }
}
