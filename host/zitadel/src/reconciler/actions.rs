//! The installation's Actions v2 target: ZITADEL posts user and session events to Gatehouse's
//! `/hooks/zitadel`, signed with the target's key. The reconciler creates (or adopts) the
//! target, keeps its endpoint, stores its signing key sealed (old keys stay valid for a grace
//! period after a rotation), and adds the target to one event execution per event group,
//! keeping any other targets already there.

use std::time::Duration;

use gatehouse_core::sync::{ActionsSigningKey, Desired, signing_key_aad};
use sha2::{Digest, Sha256};

use super::{
    failure::SyncError,
    job::{Job, Outcome},
};
use crate::client::{
    Condition, CreateTargetRequest, Empty, ExecutionFilter, ListExecutionsRequest, PayloadType,
    ProtoDuration, Secret, SetExecutionRequest, Target, TargetType, UpdateTargetRequest,
};

/// Event groups Gatehouse subscribes to: every `user.*` and `session.*` event.
pub const DEFAULT_EVENT_GROUPS: &[&str] = &["user", "session"];

/// The Actions target to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionsConfig {
    /// Where ZITADEL posts events: `<public URL>/hooks/zitadel`.
    pub endpoint: String,
    /// Event groups with an execution calling the target.
    pub event_groups: Vec<String>,
    /// How long ZITADEL waits for the receiver.
    pub timeout: Duration,
}

impl ActionsConfig {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            event_groups: DEFAULT_EVENT_GROUPS
                .iter()
                .map(|g| (*g).to_owned())
                .collect(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Target names are unique in an instance; the endpoint keeps installations apart.
    pub fn target_name(&self) -> String {
        format!("gatehouse {}", self.endpoint)
    }
}

/// Identifies a signing key without revealing it.
pub fn signing_key_fingerprint(key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"gatehouse-actions-signing-key:")
        .chain_update(key.as_bytes())
        .finalize();
    hex::encode(&digest[..16])
}

pub async fn sync(job: &mut Job) -> Result<Outcome, SyncError> {
    let client = job.inner.client.clone();
    if job.record.desired == Desired::Absent {
        if let Some(target_id) = job.id("target_id") {
            client
                .delete_target(&target_id)
                .await
                .map_err(|e| SyncError::zitadel("deleting the Actions target", e))?;
        }
        return Ok(Outcome::Removed);
    }
    let Some(config) = job.inner.config.actions.clone() else {
        return Err(SyncError::internal(
            "registering the Actions target",
            "this process has no Actions endpoint configured",
        ));
    };
    let name = config.target_name();
    let timeout = ProtoDuration(config.timeout);

    let mut found: Option<Target> = None;
    if let Some(target_id) = job.id("target_id") {
        found = client
            .get_target(&target_id)
            .await
            .map_err(|e| SyncError::zitadel("reading the Actions target", e))?;
        if found.is_none() {
            job.missing("reading the Actions target", "the Actions target")?;
            job.drift("the Actions target was deleted").await?;
            job.unset("target_id");
        }
    }
    if found.is_none() {
        found = client
            .find_target_by_name(&name)
            .await
            .map_err(|e| SyncError::zitadel("looking up the Actions target", e))?;
    }
    let mut created = false;
    let (target_id, key) = match found {
        Some(target) => {
            let fits = target.endpoint == config.endpoint
                && target.name == name
                && target.target_type() == Some(TargetType::RestAsync(Empty {}))
                && matches!(
                    target.payload_type,
                    None | Some(PayloadType::Json) | Some(PayloadType::Unspecified)
                );
            if !fits {
                job.drift("the Actions target's endpoint or type changed")
                    .await?;
                client
                    .update_target(
                        &target.id,
                        &UpdateTargetRequest {
                            name: Some(name.clone()),
                            target_type: Some(TargetType::RestAsync(Empty {})),
                            timeout: Some(timeout),
                            endpoint: Some(config.endpoint.clone()),
                            payload_type: Some(PayloadType::Json),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| SyncError::zitadel("updating the Actions target", e))?;
                job.wrote();
            }
            (target.id, target.signing_key)
        }
        None => {
            let response = client
                .create_target(&CreateTargetRequest {
                    name: name.clone(),
                    target_type: TargetType::RestAsync(Empty {}),
                    timeout: Some(timeout),
                    endpoint: config.endpoint.clone(),
                    payload_type: Some(PayloadType::Json),
                })
                .await
                .map_err(|e| SyncError::zitadel("creating the Actions target", e))?;
            created = true;
            job.wrote();
            (response.id, Some(response.signing_key))
        }
    };
    job.set("target_id", target_id.clone());
    job.set("endpoint", config.endpoint.clone());

    let key = match key.filter(|k| !k.is_empty()) {
        Some(key) => key,
        // Versions that do not show the key: a fresh one is the only way to learn it.
        None => client
            .rotate_target_signing_key(&target_id)
            .await
            .map_err(|e| SyncError::zitadel("rotating the Actions signing key", e))?,
    };
    save_key(job, &target_id, &key).await?;

    let mut executions_changed = false;
    for group in &config.event_groups {
        let condition = Condition::event_group(group.clone());
        let current = client
            .list_executions(&ListExecutionsRequest {
                filters: vec![ExecutionFilter::InConditionsFilter {
                    conditions: vec![condition.clone()],
                }],
                ..Default::default()
            })
            .await
            .map_err(|e| SyncError::zitadel("reading the Actions executions", e))?;
        let mut targets = current
            .executions
            .into_iter()
            .find(|e| e.condition == condition)
            .map(|e| e.targets)
            .unwrap_or_default();
        if !targets.contains(&target_id) {
            if !created {
                job.drift(format!(
                    "the `{group}` event execution lost Gatehouse's target"
                ))
                .await?;
            }
            targets.push(target_id.clone());
            client
                .set_execution(&SetExecutionRequest { condition, targets })
                .await
                .map_err(|e| SyncError::zitadel("setting the Actions execution", e))?;
            executions_changed = true;
            job.wrote();
        }
    }
    job.set("event_groups", config.event_groups.join(","));

    if created || executions_changed {
        // zitadel/zitadel#12185: fresh executions may stay silent until the target is updated.
        match client
            .update_target(
                &target_id,
                &UpdateTargetRequest {
                    timeout: Some(timeout),
                    ..Default::default()
                },
            )
            .await
        {
            Ok(_) => {}
            Err(err) if err.is_no_changes() => {}
            Err(err) => return Err(SyncError::zitadel("updating the Actions target", err)),
        }
    }
    Ok(Outcome::Synced)
}

async fn save_key(job: &mut Job, target_id: &str, key: &Secret) -> Result<(), SyncError> {
    let fingerprint = signing_key_fingerprint(key.expose());
    if job
        .id("signing_key")
        .is_some_and(|known| known != fingerprint)
    {
        job.drift("the Actions signing key was rotated").await?;
    }
    let now = super::now(job);
    let sealed = job
        .inner
        .keyring
        .seal(key.expose().as_bytes(), &signing_key_aad(&fingerprint));
    let record = ActionsSigningKey {
        fingerprint: fingerprint.clone(),
        target_id: target_id.to_owned(),
        sealed,
        created_at: now,
        expires_at: None,
    };
    job.inner
        .store
        .save_actions_signing_key(&record, now.plus(job.inner.config.signing_key_grace), now)
        .await
        .map_err(|e| SyncError::store("saving the Actions signing key", e))?;
    job.set("signing_key", fingerprint);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_identify_keys_without_revealing_them() {
        let a = signing_key_fingerprint("key-a");
        assert_eq!(a, signing_key_fingerprint("key-a"));
        assert_ne!(a, signing_key_fingerprint("key-b"));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("key-a"));
        let config = ActionsConfig::new("https://gh.example/hooks/zitadel");
        assert_eq!(config.event_groups, ["user", "session"]);
        assert_eq!(
            config.target_name(),
            "gatehouse https://gh.example/hooks/zitadel"
        );
    }
}
