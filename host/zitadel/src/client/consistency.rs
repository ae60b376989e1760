//! Read-after-write in ZITADEL: gets and lists read projections that may lag a write by a
//! moment (the terraform provider polls up to 15 s). These helpers poll a read until it
//! reflects the write, with growing intervals and a deadline.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

use super::{
    App, IdpTemplate, LoginPolicy, Organization, Project, Result, Target, User, ZitadelClient,
    ZitadelError,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyPolicy {
    /// Give up after this long.
    pub timeout: Duration,
    /// First pause between reads; doubles up to `max_interval`.
    pub initial_interval: Duration,
    pub max_interval: Duration,
}

impl Default for ConsistencyPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            initial_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(1),
        }
    }
}

impl ZitadelClient {
    /// Calls `read` until it yields `Some`, pausing between reads, for at most the policy's
    /// timeout; then fails with [`ZitadelError::NotConsistent`]. Errors from `read` end the wait
    /// at once (a transient error was already retried inside the call).
    pub async fn eventually<T, F, Fut>(&self, what: impl Into<String>, mut read: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let policy = &self.inner.consistency;
        let started = Instant::now();
        let deadline = started + policy.timeout;
        let mut interval = policy.initial_interval;
        let mut reads = 0u32;
        loop {
            reads += 1;
            if let Some(value) = read().await? {
                if reads > 1 {
                    tracing::debug!(
                        reads,
                        waited_ms = started.elapsed().as_millis() as u64,
                        "ZITADEL read caught up"
                    );
                }
                return Ok(value);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ZitadelError::NotConsistent {
                    what: what.into(),
                    waited: now - started,
                });
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(policy.max_interval);
        }
    }

    /// Waits until the organization exists and satisfies `until` (e.g. shows a new name).
    pub async fn await_org(
        &self,
        org_id: &str,
        until: impl Fn(&Organization) -> bool,
    ) -> Result<Organization> {
        self.eventually(format!("organization {org_id}"), || async {
            Ok(self.get_org(org_id).await?.filter(|org| until(org)))
        })
        .await
    }

    /// Waits until the organization can no longer be found.
    pub async fn await_org_gone(&self, org_id: &str) -> Result<()> {
        self.eventually(format!("removal of organization {org_id}"), || async {
            Ok(self.get_org(org_id).await?.is_none().then_some(()))
        })
        .await
    }

    pub async fn await_project(
        &self,
        org_id: &str,
        project_id: &str,
        until: impl Fn(&Project) -> bool,
    ) -> Result<Project> {
        self.eventually(format!("project {project_id}"), || async {
            Ok(self
                .get_project(org_id, project_id)
                .await?
                .filter(|project| until(project)))
        })
        .await
    }

    pub async fn await_app(
        &self,
        org_id: &str,
        project_id: &str,
        app_id: &str,
        until: impl Fn(&App) -> bool,
    ) -> Result<App> {
        self.eventually(format!("application {app_id}"), || async {
            Ok(self
                .get_app(org_id, project_id, app_id)
                .await?
                .filter(|app| until(app)))
        })
        .await
    }

    pub async fn await_idp(
        &self,
        org_id: &str,
        idp_id: &str,
        until: impl Fn(&IdpTemplate) -> bool,
    ) -> Result<IdpTemplate> {
        self.eventually(format!("identity provider {idp_id}"), || async {
            Ok(self.get_idp(org_id, idp_id).await?.filter(|idp| until(idp)))
        })
        .await
    }

    pub async fn await_user(&self, user_id: &str, until: impl Fn(&User) -> bool) -> Result<User> {
        self.eventually(format!("user {user_id}"), || async {
            Ok(self.get_user(user_id).await?.filter(|user| until(user)))
        })
        .await
    }

    /// Waits until the organization's login policy satisfies `until` (e.g. is custom, or lists
    /// an IdP).
    pub async fn await_login_policy(
        &self,
        org_id: &str,
        until: impl Fn(&LoginPolicy) -> bool,
    ) -> Result<LoginPolicy> {
        self.eventually(format!("login policy of organization {org_id}"), || async {
            let policy = self.get_login_policy(org_id).await?;
            Ok(until(&policy).then_some(policy))
        })
        .await
    }

    pub async fn await_target(
        &self,
        target_id: &str,
        until: impl Fn(&Target) -> bool,
    ) -> Result<Target> {
        self.eventually(format!("Actions target {target_id}"), || async {
            Ok(self
                .get_target(target_id)
                .await?
                .filter(|target| until(target)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use url::Url;

    use super::*;
    use crate::client::{ClientConfig, Credentials};

    fn client(timeout: Duration) -> ZitadelClient {
        let mut config = ClientConfig::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            Credentials::pat("t").unwrap(),
        );
        config.consistency = ConsistencyPolicy {
            timeout,
            initial_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(40),
        };
        ZitadelClient::new(reqwest::Client::new(), config).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn polls_until_the_read_reflects_the_write() {
        let client = client(Duration::from_secs(5));
        let reads = Arc::new(AtomicU32::new(0));
        let started = Instant::now();
        let value = client
            .eventually("thing", || {
                let reads = reads.clone();
                async move {
                    let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
                    Ok((n == 4).then_some(n))
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 4);
        // 10 + 20 + 40 ms of pauses before the fourth read.
        assert_eq!(started.elapsed(), Duration::from_millis(70));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline() {
        let client = client(Duration::from_millis(200));
        let reads = AtomicU32::new(0);
        let started = Instant::now();
        let err = client
            .eventually("organization 42", || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<Option<()>, _>(None)
            })
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        match err {
            ZitadelError::NotConsistent { what, waited } => {
                assert_eq!(what, "organization 42");
                assert_eq!(waited, Duration::from_millis(200));
            }
            other => panic!("unexpected {other:?}"),
        }
        // Reads at 0, 10, 30, 70, 110, 150, 190 ms (pauses capped at 40 ms), and a last one at
        // the deadline.
        assert_eq!(reads.load(Ordering::SeqCst), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_end_the_wait() {
        let client = client(Duration::from_secs(5));
        let err = client
            .eventually("thing", || async {
                Err::<Option<()>, _>(ZitadelError::Credentials("boom".into()))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ZitadelError::Credentials(_)));
    }
}
