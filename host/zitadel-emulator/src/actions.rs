//! Actions v2 event executions: which targets an event reaches, the payload ZITADEL sends and
//! the `ZITADEL-Signature` header, and the background task that calls the targets.
//!
//! Like ZITADEL, event executions run after the change committed and never fail the API call
//! that caused them; calls happen in event order, one at a time.

use std::time::Duration;

use gatehouse_core::Timestamp;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::model::Data;

/// An event raised by a transaction.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub event_type: &'static str,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub resource_owner: String,
    /// Who made the change (for a login: the user or the login client), not the subject.
    pub editor: String,
    pub sequence: u64,
    pub payload: Value,
}

/// One event and the targets to call with it.
#[derive(Debug)]
pub struct Dispatch {
    pub body: Vec<u8>,
    pub event_type: &'static str,
    pub targets: Vec<TargetCall>,
}

#[derive(Clone, Debug)]
pub struct TargetCall {
    pub target_id: String,
    pub endpoint: String,
    pub signing_key: String,
    pub timeout: Duration,
}

/// The targets of the most specific execution matching `event_type`: exact event, then the
/// longest matching group, then `all`.
pub fn targets_for<'a>(data: &'a Data, event_type: &str) -> Option<&'a [String]> {
    let mut best: Option<(usize, &[String])> = None;
    for execution in &data.executions {
        let Some(cond) = execution.condition.get("event") else {
            continue;
        };
        let rank = if cond.get("event").and_then(Value::as_str) == Some(event_type) {
            usize::MAX
        } else if let Some(group) = cond.get("group").and_then(Value::as_str) {
            let matches = event_type == group
                || event_type
                    .strip_prefix(group)
                    .is_some_and(|rest| rest.starts_with('.'));
            if !matches {
                continue;
            }
            1 + group.len()
        } else if cond.get("all").and_then(Value::as_bool) == Some(true) {
            0
        } else {
            continue;
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, &execution.targets));
        }
    }
    best.map(|(_, t)| t)
}

/// The JSON body ZITADEL (v4) posts for an event; `event_payload` is an inline object.
pub fn event_body(instance_id: &str, event: &PendingEvent, at: Timestamp) -> Value {
    json!({
        "aggregateID": event.aggregate_id,
        "aggregateType": event.aggregate_type,
        "resourceOwner": event.resource_owner,
        "instanceID": instance_id,
        "version": "v2",
        "sequence": event.sequence,
        "event_type": event.event_type,
        "created_at": rfc3339_nano(at),
        "position": event.sequence as f64,
        "userID": event.editor,
        "event_payload": event.payload,
    })
}

fn rfc3339_nano(at: Timestamp) -> String {
    let dt = at.datetime();
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    format!("{base}.{:09}Z", dt.nanosecond())
}

/// Builds dispatch jobs for committed events against the committed state.
pub fn plan(data: &Data, events: &[PendingEvent], at: Timestamp) -> Vec<Dispatch> {
    let mut jobs = Vec::new();
    for event in events {
        let Some(target_ids) = targets_for(data, event.event_type) else {
            continue;
        };
        let targets: Vec<TargetCall> = target_ids
            .iter()
            .filter_map(|id| data.targets.get(id))
            .filter(|t| {
                if t.payload_type == "PAYLOAD_TYPE_JSON" {
                    true
                } else {
                    // Like ZITADEL (#11985), JWT/JWE payloads are not delivered for events.
                    tracing::warn!(target_id = %t.id, "skipping non-JSON target for an event");
                    false
                }
            })
            .map(|t| TargetCall {
                target_id: t.id.clone(),
                endpoint: t.endpoint.clone(),
                signing_key: t.signing_key.clone(),
                timeout: Duration::from_millis(t.timeout_ms),
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let body = event_body(&data.instance_id, event, at);
        jobs.push(Dispatch {
            body: serde_json::to_vec(&body).unwrap_or_default(),
            event_type: event.event_type,
            targets,
        });
    }
    jobs
}

/// `t=<unix>,v1=<hex(HMAC-SHA256(key, "<t>.<body>"))>`.
pub fn signature_header(signing_key: &str, unix: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn spawn_dispatcher(http: reqwest::Client) -> mpsc::UnboundedSender<Dispatch> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Dispatch>();
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            for target in &job.targets {
                call(&http, &job, target).await;
            }
        }
    });
    tx
}

async fn call(http: &reqwest::Client, job: &Dispatch, target: &TargetCall) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = signature_header(&target.signing_key, now, &job.body);
    let result = http
        .post(&target.endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("ZITADEL-Signature", signature)
        .timeout(target.timeout)
        .body(job.body.clone())
        .send()
        .await;
    match result {
        Ok(resp) if resp.status().is_success() => {
            tracing::debug!(target_id = %target.target_id, event = job.event_type, "action target called");
        }
        Ok(resp) => tracing::warn!(
            target_id = %target.target_id,
            event = job.event_type,
            status = resp.status().as_u16(),
            "action target answered with an error"
        ),
        Err(err) => tracing::warn!(
            target_id = %target.target_id,
            event = job.event_type,
            error = %err,
            "action target unreachable"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Execution;

    fn exec(condition: Value, target: &str) -> Execution {
        Execution {
            condition,
            targets: vec![target.to_owned()],
            created: Timestamp::now(),
            changed: Timestamp::now(),
        }
    }

    #[test]
    fn most_specific_execution_wins() {
        let mut data = Data {
            executions: vec![
                exec(json!({"event": {"all": true}}), "all"),
                exec(json!({"event": {"group": "user"}}), "user"),
                exec(json!({"event": {"group": "user.human"}}), "human"),
                exec(json!({"event": {"event": "user.human.added"}}), "exact"),
                exec(json!({"request": {"all": true}}), "request"),
            ],
            ..Data::default()
        };
        let pick = |data: &Data, e: &str| targets_for(data, e).map(|t| t[0].clone());
        assert_eq!(pick(&data, "user.human.added").as_deref(), Some("exact"));
        assert_eq!(
            pick(&data, "user.human.password.changed").as_deref(),
            Some("human")
        );
        assert_eq!(pick(&data, "user.removed").as_deref(), Some("user"));
        assert_eq!(pick(&data, "session.added").as_deref(), Some("all"));
        // A group matches on whole segments only.
        data.executions.remove(0);
        assert_eq!(pick(&data, "username.x"), None);
    }

    #[test]
    fn signature_is_hmac_over_timestamp_and_body() {
        let header = signature_header("key", 1_700_000_000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn body_has_the_v4_shape() {
        let event = PendingEvent {
            event_type: "user.human.added",
            aggregate_type: "user",
            aggregate_id: "u1".into(),
            resource_owner: "o1".into(),
            editor: "admin".into(),
            sequence: 7,
            payload: json!({"userName": "alice"}),
        };
        let body = event_body(
            "inst",
            &event,
            Timestamp::from_unix_millis(1_700_000_000_123),
        );
        assert_eq!(body["event_payload"]["userName"], "alice");
        assert_eq!(body["aggregateID"], "u1");
        assert_eq!(body["created_at"], "2023-11-14T22:13:20.123000000Z");
        assert_eq!(body["sequence"], 7);
    }
}
