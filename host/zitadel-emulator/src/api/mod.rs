//! ZITADEL's REST APIs: management v1, admin v1 and the v2 services.

use axum::{
    Json, Router,
    routing::{delete, get, post, put},
};
use serde_json::Value;

use crate::{
    error::ApiError,
    model::{Data, Org, OrgState, UserKind},
    protojson::prune,
    state::AppState,
};

mod actions;
mod admin;
pub mod apps;
mod idps;
mod management;
mod oidc_service;
mod orgs;
mod policy;
mod projects;
mod sessions;
pub mod users;
mod web_keys;

pub use management::key_file_json as management_key_file;

pub type ApiResult = Result<Json<Value>, ApiError>;

/// A protojson response: default values omitted.
pub fn ok(value: Value) -> ApiResult {
    Ok(Json(prune(value)))
}

/// An enum field: the zero value is the proto default and protojson leaves it out.
pub fn enum_field(name: &str) -> Value {
    const ZEROS: &[&str] = &[
        "OIDC_APP_TYPE_WEB",
        "OIDC_AUTH_METHOD_TYPE_BASIC",
        "OIDC_VERSION_1_0",
        "OIDC_TOKEN_TYPE_BEARER",
        "ACCESS_TOKEN_TYPE_BEARER",
        "PASSWORDLESS_TYPE_NOT_ALLOWED",
        "AZURE_AD_TENANT_TYPE_COMMON",
        "TEXT_QUERY_METHOD_EQUALS",
    ];
    if name.ends_with("_UNSPECIFIED") || ZEROS.contains(&name) {
        Value::Null
    } else {
        Value::String(name.to_owned())
    }
}

/// proto-validate's length rule (`min_len`/`max_len` in runes) on a trimmed string.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min || len > max {
        return Err(ApiError::validation(format!(
            "invalid {field}: value length must be between {min} and {max} runes, inclusive"
        )));
    }
    Ok(trimmed.to_owned())
}

/// ZITADEL derives an org's primary domain from its name: lowercase, spaces to dashes, only
/// alphanumerics, dots and dashes kept, then `.<instance domain>`.
pub fn org_domain(name: &str, instance_domain: &str) -> String {
    let label: String = name
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => Some(c),
            _ => None,
        })
        .collect();
    let label = label.trim_matches(|c| c == '-' || c == '.');
    let label = if label.is_empty() { "org" } else { label };
    format!("{label}.{instance_domain}")
}

pub fn org_state_v1(org: &Org) -> &'static str {
    match org.state {
        OrgState::Active => "ORG_STATE_ACTIVE",
        OrgState::Inactive => "ORG_STATE_INACTIVE",
    }
}

/// Whether `username` is taken by another user of the instance (case-insensitive).
pub fn username_taken(data: &Data, username: &str) -> bool {
    data.users
        .values()
        .any(|u| u.username.eq_ignore_ascii_case(username))
}

/// Login names ZITADEL lists for a user: `<username>@<org primary domain>`.
pub fn login_names(data: &Data, user: &crate::model::User) -> Vec<String> {
    let mut names = vec![];
    if let Some(org) = data.orgs.get(&user.org_id) {
        names.push(format!("{}@{}", user.username, org.primary_domain));
    }
    names
}

/// Finds a user by login name: `username`, `username@org-domain` or (humans) email.
pub fn find_by_login_name<'a>(
    data: &'a Data,
    login_name: &str,
    org_id: Option<&str>,
) -> Option<&'a crate::model::User> {
    let wanted = login_name.trim();
    data.users
        .values()
        .filter(|u| org_id.is_none_or(|o| u.org_id == o))
        .find(|u| {
            u.username.eq_ignore_ascii_case(wanted)
                || login_names(data, u)
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(wanted))
                || matches!(&u.kind, UserKind::Human(h) if !h.email.is_empty() && h.email.eq_ignore_ascii_case(wanted))
        })
}

pub fn router() -> Router<AppState> {
    Router::new()
        // management v1: organizations
        .route("/management/v1/orgs", post(management::add_org))
        .route(
            "/management/v1/orgs/me",
            get(management::get_my_org)
                .put(management::update_org)
                .delete(management::remove_org),
        )
        .route("/management/v1/orgs/me/members", post(management::add_org_member))
        .route(
            "/management/v1/global/orgs/_by_domain",
            get(management::get_org_by_domain),
        )
        // management v1: login policy
        .route(
            "/management/v1/policies/login",
            get(policy::get_login_policy)
                .post(policy::add_custom_login_policy)
                .put(policy::update_custom_login_policy)
                .delete(policy::reset_login_policy),
        )
        .route("/management/v1/policies/login/idps", post(policy::add_idp_to_policy))
        .route(
            "/management/v1/policies/login/idps/_search",
            post(policy::list_policy_idps),
        )
        .route(
            "/management/v1/policies/login/idps/{idp_id}",
            delete(policy::remove_idp_from_policy),
        )
        // management v1: projects, roles, apps
        .route("/management/v1/projects", post(projects::add_project))
        .route("/management/v1/projects/_search", post(projects::list_projects))
        .route(
            "/management/v1/projects/{id}",
            get(projects::get_project)
                .put(projects::update_project)
                .delete(projects::remove_project),
        )
        .route(
            "/management/v1/projects/{project_id}/roles",
            post(projects::add_project_role),
        )
        .route(
            "/management/v1/projects/{project_id}/apps/oidc",
            post(apps::add_oidc_app),
        )
        .route(
            "/management/v1/projects/{project_id}/apps/_search",
            post(apps::list_apps),
        )
        .route(
            "/management/v1/projects/{project_id}/apps/{app_id}",
            get(apps::get_app).put(apps::update_app).delete(apps::remove_app),
        )
        .route(
            "/management/v1/projects/{project_id}/apps/{app_id}/oidc_config",
            put(apps::update_oidc_config),
        )
        .route(
            "/management/v1/projects/{project_id}/apps/{app_id}/oidc_config/_generate_client_secret",
            post(apps::regenerate_secret),
        )
        // management v1: identity providers
        .route("/management/v1/idps/google", post(idps::add_google))
        .route("/management/v1/idps/google/{id}", put(idps::update_google))
        .route("/management/v1/idps/github", post(idps::add_github))
        .route("/management/v1/idps/github/{id}", put(idps::update_github))
        .route("/management/v1/idps/azure", post(idps::add_azure))
        .route("/management/v1/idps/azure/{id}", put(idps::update_azure))
        .route("/management/v1/idps/generic_oidc", post(idps::add_generic_oidc))
        .route(
            "/management/v1/idps/generic_oidc/{id}",
            put(idps::update_generic_oidc),
        )
        .route("/management/v1/idps/templates/_search", post(idps::list_idps))
        .route(
            "/management/v1/idps/templates/{id}",
            get(idps::get_idp).delete(idps::delete_idp),
        )
        // management v1: machine users, PATs, keys, grants
        .route("/management/v1/users/machine", post(management::add_machine_user))
        .route("/management/v1/users/{user_id}/pats", post(management::add_pat))
        .route("/management/v1/users/{user_id}/keys", post(management::add_machine_key))
        .route("/management/v1/users/{user_id}/grants", post(management::add_user_grant))
        // admin v1
        .route("/admin/v1/orgs/{id}", get(admin::get_org_by_id))
        .route("/admin/v1/orgs/_search", post(admin::list_orgs))
        .route("/admin/v1/members", post(admin::add_iam_member))
        // v2 organizations
        .route("/v2/organizations", post(orgs::add_organization))
        .route("/v2/organizations/_search", post(orgs::list_organizations))
        .route(
            "/v2/organizations/{organization_id}",
            post(orgs::update_organization).delete(orgs::delete_organization),
        )
        // v2 users
        .route("/v2/users", post(users::list_users))
        .route("/v2/users/human", post(users::add_human_user))
        .route(
            "/v2/users/{user_id}",
            get(users::get_user).delete(users::delete_user),
        )
        .route("/v2/users/{user_id}/password", post(users::set_password))
        // v2 sessions + OIDC auth requests (custom login UI)
        .route("/v2/sessions", post(sessions::create_session))
        .route("/v2/sessions/search", post(sessions::list_sessions))
        .route(
            "/v2/sessions/{session_id}",
            get(sessions::get_session)
                .patch(sessions::set_session)
                .delete(sessions::delete_session),
        )
        .route(
            "/v2/oidc/auth_requests/{auth_request_id}",
            get(oidc_service::get_auth_request).post(oidc_service::create_callback),
        )
        // Actions v2
        .route("/v2/actions/targets", post(actions::create_target))
        .route("/v2/actions/targets/search", post(actions::list_targets))
        .route(
            "/v2/actions/targets/{id}",
            get(actions::get_target)
                .post(actions::update_target)
                .delete(actions::delete_target),
        )
        .route("/v2/actions/executions", put(actions::set_execution))
        .route("/v2/actions/executions/search", post(actions::list_executions))
        .route(
            "/v2/actions/executions/functions",
            get(actions::list_functions),
        )
        .route("/v2/actions/executions/methods", get(actions::list_methods))
        .route("/v2/actions/executions/services", get(actions::list_services))
        // Web keys v2
        .route(
            "/v2/web_keys",
            get(web_keys::list_web_keys).post(web_keys::create_web_key),
        )
        .route("/v2/web_keys/{id}", delete(web_keys::delete_web_key))
        .route("/v2/web_keys/{id}/_activate", post(web_keys::activate_web_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_domains_follow_zitadel_rules() {
        assert_eq!(org_domain("ACME Corp", "localhost"), "acme-corp.localhost");
        assert_eq!(org_domain("Büro & Co", "x.io"), "bro--co.x.io");
        assert_eq!(org_domain("!!!", "x.io"), "org.x.io");
    }

    #[test]
    fn lengths_are_checked_in_runes() {
        assert!(check_len("Req.Name", "  ", 1, 200).is_err());
        assert_eq!(check_len("Req.Name", " a ", 1, 200).unwrap(), "a");
        assert!(check_len("Req.Name", &"é".repeat(201), 1, 200).is_err());
        let err = check_len("AddOrgRequest.Name", "", 1, 200).unwrap_err();
        assert!(err.message.contains("AddOrgRequest.Name"));
    }

    #[test]
    fn zero_enums_are_omitted() {
        assert!(enum_field("OIDC_APP_TYPE_WEB").is_null());
        assert!(enum_field("IDP_OWNER_TYPE_UNSPECIFIED").is_null());
        assert_eq!(enum_field("OIDC_APP_TYPE_NATIVE"), "OIDC_APP_TYPE_NATIVE");
    }
}
