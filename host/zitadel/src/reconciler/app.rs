//! App → project + one OIDC application in the tenant's organization.
//!
//! The project is named after the app. A 409 on create is adopted only when the previous
//! attempt's create may have succeeded without Gatehouse seeing the answer (it is recorded as
//! `project_pending`); otherwise the name belongs to another project (for instance a deleted
//! app's, not removed yet) and the project gets the app id appended to its name. Inside its own
//! project, the OIDC application is adopted by name.
//!
//! The client id and secret come from ZITADEL; the secret is sealed with the keyring right away
//! and starts unrevealed (the API shows it once). `apps.secret_version` is the desired version:
//! when it is ahead of the synced one (`secret_version` in the ids), the secret is regenerated.

use gatehouse_core::{
    app::{App, AppType},
    id::{AppId, TenantId},
    services::apps::secret_aad,
    sync::Desired,
};

use super::{
    failure::SyncError,
    job::{Job, Outcome},
};
use crate::client::{
    AddOidcAppRequest, LoginV2, LoginVersion, OidcAppSettings, OidcAppType, OidcAuthMethodType,
    OidcConfig, OidcGrantType, OidcResponseType, OidcTokenType, OidcVersion, ProjectSettings,
    Secret, ZitadelError,
};

/// ZITADEL's limit on project and application names.
const MAX_NAME_CHARS: usize = 200;

/// The OIDC configuration an app should have: `current` (ZITADEL's) with every field Gatehouse
/// manages overwritten, so settings made in ZITADEL that Gatehouse does not manage survive.
pub fn desired_settings(
    app: &App,
    current: Option<&OidcConfig>,
    login_ui_base_uri: Option<&str>,
) -> OidcAppSettings {
    let mut settings = current.map(OidcAppSettings::from).unwrap_or_else(|| {
        OidcAppSettings {
            // Profile and email in the ID token: apps verifying tokens offline need no
            // userinfo call. Set at creation only; ZITADEL's setting is kept afterwards.
            id_token_userinfo_assertion: true,
            ..Default::default()
        }
    });
    let (app_type, auth_method) = match app.app_type {
        AppType::Web => (OidcAppType::Web, OidcAuthMethodType::Basic),
        AppType::Spa => (OidcAppType::UserAgent, OidcAuthMethodType::None),
        AppType::Native => (OidcAppType::Native, OidcAuthMethodType::None),
    };
    settings.app_type = app_type;
    settings.auth_method_type = auth_method;
    settings.response_types = vec![OidcResponseType::Code];
    settings.grant_types = vec![
        OidcGrantType::AuthorizationCode,
        OidcGrantType::RefreshToken,
    ];
    // JWT access tokens verify offline (app SDKs); opaque ones need introspection.
    settings.access_token_type = Some(OidcTokenType::Jwt);
    settings.redirect_uris = app.redirect_uris.clone();
    settings.post_logout_redirect_uris = app.post_logout_redirect_uris.clone();
    // Gatehouse allows http for loopback redirect URIs; ZITADEL only with devMode.
    settings.dev_mode = app.dev_mode
        || app
            .redirect_uris
            .iter()
            .chain(&app.post_logout_redirect_uris)
            .any(|uri| uri.to_ascii_lowercase().starts_with("http://"));
    if let Some(base) = login_ui_base_uri {
        settings.login_version = Some(LoginVersion {
            login_v2: Some(LoginV2 {
                base_uri: Some(base.to_owned()),
            }),
            ..Default::default()
        });
    }
    settings
}

/// Managed fields where `current` differs from `desired`, for logs and drift messages.
fn differences(desired: &OidcAppSettings, current: &OidcAppSettings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check(
        "redirect_uris",
        desired.redirect_uris != current.redirect_uris,
    );
    check(
        "post_logout_redirect_uris",
        desired.post_logout_redirect_uris != current.post_logout_redirect_uris,
    );
    check("app_type", desired.app_type != current.app_type);
    check(
        "auth_method_type",
        desired.auth_method_type != current.auth_method_type,
    );
    check(
        "response_types",
        desired.response_types != current.response_types,
    );
    check("grant_types", desired.grant_types != current.grant_types);
    check(
        "access_token_type",
        desired.access_token_type != current.access_token_type,
    );
    check("dev_mode", desired.dev_mode != current.dev_mode);
    check(
        "login_version",
        desired.login_version.is_some() && desired.login_version != current.login_version,
    );
    out
}

/// The project names for an app: its name, and the fallback when another project of the
/// organization has that name.
fn project_names(app: &App) -> [String; 2] {
    let suffix = format!(" ({})", app.id);
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base: String = app.name.chars().take(room).collect();
    [app.name.clone(), format!("{}{suffix}", base.trim_end())]
}

pub async fn sync(job: &mut Job) -> Result<Outcome, SyncError> {
    let tenant = job.record.tenant_id.clone().ok_or_else(|| {
        SyncError::internal("reading the app", "the app's sync record has no tenant")
    })?;
    let id = AppId::from_stored(job.record.id.clone());
    let app = match job.record.desired {
        Desired::Present => job
            .inner
            .store
            .get_app(&tenant, &id)
            .await
            .map_err(|e| SyncError::store("reading the app", e))?,
        Desired::Absent => None,
    };
    match app {
        Some(app) => upsert(job, &tenant, &app).await,
        None => remove(job).await,
    }
}

/// Deleting the project deletes its application.
async fn remove(job: &mut Job) -> Result<Outcome, SyncError> {
    let (Some(org), Some(project)) = (job.id("org_id"), job.id("project_id")) else {
        return Ok(Outcome::Removed);
    };
    match job.inner.client.delete_project(&org, &project).await {
        Ok(_) => Ok(Outcome::Removed),
        // The organization went first (tenant deleted).
        Err(err) if err.is_not_found() => Ok(Outcome::Removed),
        Err(err) => Err(SyncError::zitadel("deleting the project", err)),
    }
}

async fn upsert(job: &mut Job, tenant: &TenantId, app: &App) -> Result<Outcome, SyncError> {
    let org = job.inner.tenant_org(tenant).await?;
    if job.id("org_id").is_some_and(|previous| previous != org) {
        // The organization was recreated: the project and application went with the old one.
        for key in [
            "project_id",
            "project_name",
            "app_id",
            "client_id",
            "secret_version",
        ] {
            job.unset(key);
        }
    }
    job.set("org_id", org.clone());
    let project = ensure_project(job, &org, app).await?;
    ensure_app(job, tenant, &org, &project, app).await?;
    Ok(Outcome::Synced)
}

async fn ensure_project(job: &mut Job, org: &str, app: &App) -> Result<String, SyncError> {
    let client = job.inner.client.clone();
    let names = project_names(app);
    let wanted = if job.id("project_name").as_deref() == Some(names[1].as_str()) {
        names[1].clone()
    } else {
        names[0].clone()
    };
    if let Some(project_id) = job.id("project_id") {
        let found = client
            .get_project(org, &project_id)
            .await
            .map_err(|e| SyncError::zitadel("reading the project", e))?;
        match found {
            Some(project) => {
                if project.name != wanted {
                    job.drift(format!("the project was renamed to `{}`", project.name))
                        .await?;
                    let settings = ProjectSettings {
                        name: wanted.clone(),
                        project_role_assertion: project.project_role_assertion,
                        project_role_check: project.project_role_check,
                        has_project_check: project.has_project_check,
                        private_labeling_setting: project.private_labeling_setting.clone(),
                    };
                    client
                        .update_project(org, &project_id, &settings)
                        .await
                        .map_err(|e| SyncError::zitadel("renaming the project", e))?;
                    job.wrote();
                }
                job.set("project_name", wanted);
                return Ok(project_id);
            }
            None => {
                job.missing("reading the project", "the project")?;
                job.drift("the project was deleted").await?;
                for key in ["project_id", "app_id", "client_id", "secret_version"] {
                    job.unset(key);
                }
            }
        }
    }
    create_project(job, org, &names, &wanted).await
}

async fn create_project(
    job: &mut Job,
    org: &str,
    names: &[String; 2],
    wanted: &str,
) -> Result<String, SyncError> {
    const STEP: &str = "creating the project";
    let client = job.inner.client.clone();
    let mut name = wanted.to_owned();
    loop {
        let settings = ProjectSettings {
            name: name.clone(),
            ..Default::default()
        };
        match client.create_project(org, &settings).await {
            Ok(created) => {
                job.unset("project_pending");
                job.set("project_id", created.id.clone());
                job.set("project_name", name);
                job.wrote();
                return Ok(created.id);
            }
            Err(err) if err.is_already_exists() => {
                // Ours if an earlier create with this name may have gone through, or if it is
                // the fallback name, which carries the app id.
                let ours =
                    job.id("project_pending").as_deref() == Some(name.as_str()) || name == names[1];
                if ours
                    && let Some(project) = client
                        .find_project_by_name(org, &name)
                        .await
                        .map_err(|e| SyncError::zitadel("looking up the project", e))?
                {
                    tracing::info!(project_id = %project.id, "adopting the project an earlier attempt created");
                    job.unset("project_pending");
                    job.set("project_id", project.id.clone());
                    job.set("project_name", name);
                    return Ok(project.id);
                }
                if name == names[1] {
                    return Err(SyncError::zitadel(STEP, err));
                }
                name = names[1].clone();
            }
            Err(err) => {
                if may_have_landed(&err) {
                    job.set("project_pending", name);
                }
                return Err(SyncError::zitadel(STEP, err));
            }
        }
    }
}

/// The request may have reached ZITADEL and been applied although no answer came back.
fn may_have_landed(err: &ZitadelError) -> bool {
    matches!(
        err,
        ZitadelError::Timeout { .. } | ZitadelError::Transport { .. } | ZitadelError::Decode { .. }
    ) || err.api().is_some_and(|api| api.status >= 500)
}

async fn ensure_app(
    job: &mut Job,
    tenant: &TenantId,
    org: &str,
    project: &str,
    app: &App,
) -> Result<(), SyncError> {
    let client = job.inner.client.clone();
    let login_ui = job.inner.config.login_ui_base_uri.clone();
    let mut existing = None;
    if let Some(app_id) = job.id("app_id") {
        existing = client
            .get_app(org, project, &app_id)
            .await
            .map_err(|e| SyncError::zitadel("reading the OIDC application", e))?;
        if existing.is_none() {
            job.missing("reading the OIDC application", "the OIDC application")?;
            job.drift("the OIDC application was deleted").await?;
            for key in ["app_id", "client_id", "secret_version"] {
                job.unset(key);
            }
        }
    }
    let zapp = match existing {
        Some(zapp) => zapp,
        None => {
            let request = AddOidcAppRequest {
                name: app.name.clone(),
                version: Some(OidcVersion::V1_0),
                settings: desired_settings(app, None, login_ui.as_deref()),
            };
            match client.create_oidc_app(org, project, &request).await {
                Ok(created) => {
                    job.set("app_id", created.app_id.clone());
                    job.set("client_id", created.client_id.clone());
                    job.wrote();
                    let fresh_secret = created.client_secret.filter(|s| !s.is_empty());
                    store_credentials(job, tenant, app, &created.client_id, fresh_secret.as_ref())
                        .await?;
                    if fresh_secret.is_some() {
                        // The secret issued at creation satisfies the desired version.
                        let version = desired_secret_version(job, tenant, app).await?;
                        job.set("secret_version", version);
                    }
                    return Ok(());
                }
                // Our project holds one application: one with this name is an earlier
                // attempt's whose answer was lost.
                Err(err) if err.is_already_exists() => client
                    .find_app_by_name(org, project, &app.name)
                    .await
                    .map_err(|e| SyncError::zitadel("looking up the OIDC application", e))?
                    .ok_or_else(|| SyncError::zitadel("creating the OIDC application", err))?,
                Err(err) => return Err(SyncError::zitadel("creating the OIDC application", err)),
            }
        }
    };
    job.set("app_id", zapp.id.clone());

    if zapp.name != app.name {
        job.drift(format!(
            "the OIDC application was renamed to `{}`",
            zapp.name
        ))
        .await?;
        client
            .rename_app(org, project, &zapp.id, &app.name)
            .await
            .map_err(|e| SyncError::zitadel("renaming the OIDC application", e))?;
        job.wrote();
    }
    let config = zapp.oidc_config.as_ref().ok_or_else(|| {
        SyncError::internal(
            "reading the OIDC application",
            "the application has no OIDC configuration",
        )
    })?;
    let desired = desired_settings(app, Some(config), login_ui.as_deref());
    let changed = differences(&desired, &OidcAppSettings::from(config));
    if !changed.is_empty() {
        job.drift(format!(
            "the OIDC application's {} changed",
            changed.join(", ")
        ))
        .await?;
        client
            .update_oidc_app_config(org, project, &zapp.id, &desired)
            .await
            .map_err(|e| SyncError::zitadel("updating the OIDC application", e))?;
        job.wrote();
    }
    let client_id = config.client_id.clone();
    if client_id.is_empty() {
        return Err(SyncError::internal(
            "reading the OIDC application",
            "ZITADEL reported no client id",
        ));
    }
    job.set("client_id", client_id.clone());

    if app.app_type.is_confidential() {
        let version = desired_secret_version(job, tenant, app).await?;
        let synced = job.number("secret_version");
        if !app.has_client_secret || synced.is_none_or(|v| v < version) {
            let regenerated = client
                .regenerate_oidc_client_secret(org, project, &zapp.id)
                .await
                .map_err(|e| SyncError::zitadel("regenerating the client secret", e))?;
            job.wrote();
            store_credentials(
                job,
                tenant,
                app,
                &client_id,
                Some(&regenerated.client_secret),
            )
            .await?;
            job.set("secret_version", version);
            return Ok(());
        }
    }
    if app.client_id.as_deref() != Some(client_id.as_str()) {
        store_credentials(job, tenant, app, &client_id, None).await?;
    }
    Ok(())
}

async fn desired_secret_version(job: &Job, tenant: &TenantId, app: &App) -> Result<u64, SyncError> {
    Ok(job
        .inner
        .store
        .app_secret_version(tenant, &app.id)
        .await
        .map_err(|e| SyncError::store("reading the app's secret version", e))?
        .unwrap_or(1))
}

/// Saves the client id and (sealed) secret in Gatehouse. A new secret starts unrevealed.
async fn store_credentials(
    job: &Job,
    tenant: &TenantId,
    app: &App,
    client_id: &str,
    secret: Option<&Secret>,
) -> Result<(), SyncError> {
    let sealed = secret.map(|s| {
        job.inner
            .keyring
            .seal(s.expose().as_bytes(), &secret_aad(&app.id))
    });
    match job
        .inner
        .store
        .set_app_credentials(tenant, &app.id, client_id, sealed.as_ref())
        .await
    {
        Ok(()) => Ok(()),
        // Deleted meanwhile: its removal follows.
        Err(gatehouse_core::StoreError::NotFound) => Ok(()),
        Err(err) => Err(SyncError::store("saving the client credentials", err)),
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::{Timestamp, sync::SyncStatus};

    use super::*;

    fn app(app_type: AppType, redirect: &[&str]) -> App {
        App {
            id: AppId::generate(),
            tenant_id: TenantId::generate(),
            name: "Portal".into(),
            app_type,
            redirect_uris: redirect.iter().map(|s| (*s).to_owned()).collect(),
            post_logout_redirect_uris: vec!["https://portal.example/".into()],
            dev_mode: false,
            client_id: None,
            has_client_secret: false,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            sync: SyncStatus::pending(),
        }
    }

    #[test]
    fn app_types_map_to_zitadel_types_and_auth_methods() {
        let web = desired_settings(&app(AppType::Web, &["https://p.example/cb"]), None, None);
        assert_eq!(web.app_type, OidcAppType::Web);
        assert_eq!(web.auth_method_type, OidcAuthMethodType::Basic);
        assert_eq!(web.response_types, [OidcResponseType::Code]);
        assert_eq!(
            web.grant_types,
            [
                OidcGrantType::AuthorizationCode,
                OidcGrantType::RefreshToken
            ]
        );
        assert_eq!(web.access_token_type, Some(OidcTokenType::Jwt));
        assert!(!web.dev_mode);
        assert!(web.id_token_userinfo_assertion);
        assert_eq!(web.redirect_uris, ["https://p.example/cb"]);
        assert_eq!(web.post_logout_redirect_uris, ["https://portal.example/"]);
        assert_eq!(web.login_version, None);

        let spa = desired_settings(&app(AppType::Spa, &["https://p.example/cb"]), None, None);
        assert_eq!(
            (spa.app_type, spa.auth_method_type),
            (OidcAppType::UserAgent, OidcAuthMethodType::None)
        );
        let native = desired_settings(&app(AppType::Native, &["com.example:/cb"]), None, None);
        assert_eq!(
            (native.app_type, native.auth_method_type),
            (OidcAppType::Native, OidcAuthMethodType::None)
        );
    }

    #[test]
    fn http_redirects_need_dev_mode_in_zitadel() {
        let local = desired_settings(
            &app(
                AppType::Spa,
                &["https://p.example/cb", "HTTP://localhost:3000/cb"],
            ),
            None,
            None,
        );
        assert!(local.dev_mode);
        let mut explicit = app(AppType::Web, &["https://p.example/cb"]);
        explicit.dev_mode = true;
        assert!(desired_settings(&explicit, None, None).dev_mode);
    }

    #[test]
    fn unmanaged_settings_survive_and_managed_ones_are_compared() {
        let current = OidcConfig {
            redirect_uris: vec!["https://old.example/cb".into()],
            response_types: vec![OidcResponseType::Code],
            grant_types: vec![OidcGrantType::AuthorizationCode],
            client_id: "c1".into(),
            clock_skew: Some(crate::client::ProtoDuration::from_secs(2)),
            additional_origins: vec!["https://extra.example".into()],
            id_token_userinfo_assertion: false,
            ..Default::default()
        };
        let a = app(AppType::Web, &["https://new.example/cb"]);
        let desired = desired_settings(&a, Some(&current), Some("https://gh.example/login"));
        assert_eq!(desired.clock_skew, current.clock_skew);
        assert_eq!(desired.additional_origins, current.additional_origins);
        assert!(
            !desired.id_token_userinfo_assertion,
            "kept as ZITADEL has it"
        );
        assert_eq!(
            desired
                .login_version
                .unwrap()
                .login_v2
                .unwrap()
                .base_uri
                .as_deref(),
            Some("https://gh.example/login")
        );
        let desired = desired_settings(&a, Some(&current), None);
        let changed = differences(&desired, &OidcAppSettings::from(&current));
        assert_eq!(
            changed,
            [
                "redirect_uris",
                "post_logout_redirect_uris",
                "grant_types",
                "access_token_type"
            ]
        );
        // Applying the desired settings leaves nothing to change.
        assert!(differences(&desired, &desired).is_empty());
    }

    #[test]
    fn project_names_fall_back_to_the_app_id() {
        let a = app(AppType::Web, &[]);
        let [plain, fallback] = project_names(&a);
        assert_eq!(plain, "Portal");
        assert_eq!(fallback, format!("Portal ({})", a.id));
    }
}
