//! `/v1/plugins` (install, list, enable, disable, limits, remove, test) and `/v1/trusted-keys`
//! (the trust store of package signing keys). Platform credentials only; every change is
//! audited.

use axum::{
    Json,
    body::{Body, to_bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use gatehouse_core::plugin::{PluginKind, TrustedKey};
use gatehouse_plugin_host::{
    Call, PluginError,
    package::{self, PackageError},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ListMetadata, ListResponse, caller};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiPath, Platform, RequestContext},
    plugins::{InstallError, LimitsPatch, PluginView},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(install_plugin, list_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(get_version, remove_version))
        .routes(routes!(enable_version))
        .routes(routes!(disable_version))
        .routes(routes!(set_limits))
        .routes(routes!(test_version))
        .routes(routes!(add_key, list_keys))
        .routes(routes!(remove_key))
}

/// Content types a package upload may carry.
const PACKAGE_TYPES: &[&str] = &[
    "application/x-tar",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
];

/// A plugin package: a tar or tar.gz of `manifest.toml`, `manifest.toml.minisig`,
/// `plugin.wasm` and optionally `README.md` and an icon.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PluginPackage(pub Vec<u8>);

/// One plugin id: every installed version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginDetail {
    pub id: String,
    pub kind: PluginKind,
    pub builtin: bool,
    /// The version calls by id alone use: the newest enabled one (`null`: none is enabled).
    pub current_version: Option<String>,
    /// Oldest first.
    pub versions: Vec<PluginView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    /// Why, for other admins (1-500 characters).
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKeyRequest {
    /// Whose key this is, for admins.
    pub name: String,
    /// The minisign public key: the text of a `.pub` file, or its base64 line.
    pub public_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedKey {
    #[serde(flatten)]
    pub key: TrustedKey,
    /// Plugins this key signed that were enabled and are now disabled. They stay installed;
    /// they can be enabled again only once the key is trusted again.
    pub disabled_plugins: Vec<PluginRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PluginRef {
    pub id: String,
    pub version: String,
}

/// What one test call did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// `ok`, or the error code: `plugin_error`, `plugin_deadline`, `plugin_memory`,
    /// `plugin_trap`, `plugin_bad_output`, `plugin_input_too_large`, `plugin_disabled`,
    /// `plugin_wrong_kind`, `plugin_host_error`.
    pub outcome: String,
    /// The call's output (`null` on error).
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// What went wrong (`null` on success).
    pub error: Option<String>,
    /// Instantiate + call + output checks, microseconds.
    pub wall_time_us: u64,
    /// Largest linear memory the instance reached.
    pub peak_memory_bytes: u64,
    /// The plugin's log (capped).
    #[schema(value_type = Vec<Object>)]
    pub log: Vec<serde_json::Value>,
    pub log_truncated: bool,
    /// The limits the call ran under.
    pub limits: crate::plugins::EffectiveLimits,
}

fn refused(err: InstallError) -> ApiError {
    let err = match err {
        InstallError::Other(err) => return err.into(),
        InstallError::Refused(err) => err,
    };
    let message = err.to_string();
    let code = match &err {
        PackageError::Duplicate { .. } => {
            return ApiError::conflict("plugin_exists", message);
        }
        PackageError::TooLarge { .. } => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message);
        }
        PackageError::Unsigned => "package_unsigned",
        PackageError::Signature(_) | PackageError::BadTrustedKey { .. } => "package_bad_signature",
        PackageError::UnknownSigner { .. } => "package_unknown_signer",
        PackageError::RemovedSigner { .. } => "package_removed_signer",
        _ => "package_invalid",
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).field("package")
}

/// Install a signed plugin package. The body is the package itself (`application/gzip` or
/// `application/x-tar`, at most 20 MiB). It is refused, with the reason and nothing written,
/// when it is unsigned, badly signed, signed by a key not (or no longer) in the trust store,
/// when a file does not match the manifest, when the kind or WIT version is unsupported, when
/// the component imports anything beyond the allowed interfaces, or when the id and version
/// are already installed.
#[utoipa::path(post, path = "/v1/plugins", tag = "plugins",
    request_body(content(
        (PluginPackage = "application/gzip"),
        (PluginPackage = "application/x-tar"),
    )),
    responses(
        (status = 201, description = "Installed and enabled", body = PluginView),
        (status = 409, description = "This id and version are already installed (`plugin_exists`)"),
        (status = 413, description = "The package is larger than 20 MiB"),
        (status = 415, description = "Not a tar or gzip content type"),
        (status = 422, description = "The package was refused: `error.code` is `package_unsigned`, \
            `package_bad_signature`, `package_unknown_signer`, `package_removed_signer` or \
            `package_invalid`; `error.message` says why"),
    ))]
async fn install_plugin(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<PluginView>)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !content_type
        .as_deref()
        .is_some_and(|t| PACKAGE_TYPES.contains(&t))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the package as the body with Content-Type: application/gzip (tar.gz) or \
             application/x-tar",
        ));
    }
    // Its own limit: packages are larger than any JSON body.
    let bytes = to_bytes(body, package::MAX_PACKAGE_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the package is larger than {} MiB",
                    package::MAX_PACKAGE_BYTES / (1024 * 1024)
                ),
            )
        })?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("package", "the request body is empty"));
    }
    let view = state
        .plugins
        .install(caller(&state, &principal, &context), &bytes)
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// List every plugin: the built-ins (`builtin: true`) and every installed version.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, description = "All plugins (one page)", body = ListResponse<PluginView>)))]
async fn list_plugins(
    State(state): State<AppState>,
    Platform(_principal): Platform,
) -> ApiResult<Json<ListResponse<PluginView>>> {
    Ok(Json(ListResponse {
        data: state.plugins.list().await?,
        list_metadata: ListMetadata { after: None },
    }))
}

/// Get a plugin id with all its versions.
#[utoipa::path(get, path = "/v1/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Plugin id, e.g. `gatehouse.slack`")),
    responses((status = 200, description = "The plugin", body = PluginDetail)))]
async fn get_plugin(
    State(state): State<AppState>,
    Platform(_principal): Platform,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PluginDetail>> {
    let versions = state.plugins.versions(&id).await?;
    let first = &versions[0].plugin;
    let current_version = versions
        .iter()
        .filter(|v| v.plugin.enabled)
        .map(|v| v.plugin.version.clone())
        .max_by(|a, b| package::compare_versions(a, b));
    Ok(Json(PluginDetail {
        id: first.id.clone(),
        kind: first.kind,
        builtin: first.builtin,
        current_version,
        versions,
    }))
}

/// Get one version of a plugin.
#[utoipa::path(get, path = "/v1/plugins/{id}/{version}", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "The plugin version", body = PluginView)))]
async fn get_version(
    State(state): State<AppState>,
    Platform(_principal): Platform,
    ApiPath((id, version)): ApiPath<(String, String)>,
) -> ApiResult<Json<PluginView>> {
    Ok(Json(state.plugins.get(&id, &version).await?))
}

/// Remove an installed plugin version (its record and component). Built-ins cannot be
/// removed. Refused with 409 `plugin_in_use` while a webhook endpoint's transform names the
/// plugin and no other enabled version of it would remain.
#[utoipa::path(delete, path = "/v1/plugins/{id}/{version}", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "Built in (`builtin_plugin`) or in use (`plugin_in_use`)"),
    ))]
async fn remove_version(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiPath((id, version)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .plugins
        .remove(caller(&state, &principal, &context), &id, &version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a plugin version (its past faults are forgotten). Refused with 409
/// `signer_not_trusted` when its signing key is no longer in the trust store.
#[utoipa::path(post, path = "/v1/plugins/{id}/{version}/enable", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "Enabled", body = PluginView)))]
async fn enable_version(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiPath((id, version)): ApiPath<(String, String)>,
) -> ApiResult<Json<PluginView>> {
    Ok(Json(
        state
            .plugins
            .set_enabled(
                caller(&state, &principal, &context),
                &id,
                &version,
                true,
                None,
            )
            .await?,
    ))
}

/// Disable a plugin version: calls to it fail with `plugin_disabled` on every replica within
/// seconds; webhook endpoints using it stop delivering.
#[utoipa::path(post, path = "/v1/plugins/{id}/{version}/disable", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    request_body = DisableRequest,
    responses((status = 200, description = "Disabled", body = PluginView)))]
async fn disable_version(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiPath((id, version)): ApiPath<(String, String)>,
    ApiJson(input): ApiJson<DisableRequest>,
) -> ApiResult<Json<PluginView>> {
    Ok(Json(
        state
            .plugins
            .set_enabled(
                caller(&state, &principal, &context),
                &id,
                &version,
                false,
                Some(&input.reason),
            )
            .await?,
    ))
}

/// Lower a plugin version's limits. Each value may only lower the kind's default and the
/// package manifest's limit; `null` goes back to that ceiling; absent fields stay.
#[utoipa::path(patch, path = "/v1/plugins/{id}/{version}/limits", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    request_body = LimitsPatch,
    responses((status = 200, description = "Updated", body = PluginView)))]
async fn set_limits(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiPath((id, version)): ApiPath<(String, String)>,
    ApiJson(patch): ApiJson<LimitsPatch>,
) -> ApiResult<Json<PluginView>> {
    Ok(Json(
        state
            .plugins
            .set_limits(caller(&state, &principal, &context), &id, &version, &patch)
            .await?,
    ))
}

/// Run one call of a plugin version under its production limits and report the output, the
/// wall time and the log. The body is one call, e.g. `{"call":"describe"}` or
/// `{"call":"webhook_transform","event":{…},"config":{…}}` (the calls of
/// `gatehouse plugin test`). A fault counts toward automatic disabling like any call.
#[utoipa::path(post, path = "/v1/plugins/{id}/{version}/test", tag = "plugins",
    params(("id" = String, Path), ("version" = String, Path)),
    request_body(content = Object, description = "One call"),
    responses((status = 200, description = "What the call did (also when it failed)", body = TestResult)))]
async fn test_version(
    State(state): State<AppState>,
    Platform(_principal): Platform,
    ApiPath((id, version)): ApiPath<(String, String)>,
    ApiJson(call): ApiJson<Call>,
) -> ApiResult<Json<TestResult>> {
    let record = state.plugins.get(&id, &version).await?;
    let result = state.plugins.test(&id, &version, call).await?;
    let (outcome, output, error) = match result.output {
        Ok(output) => (
            "ok".to_owned(),
            Some(serde_json::to_value(&output).map_err(ApiError::internal)?),
            None,
        ),
        Err(err) => {
            if matches!(err, PluginError::Host(_)) {
                tracing::warn!(plugin = %id, %version, %err, "plugin test call failed in the host");
            }
            (err.code().to_owned(), None, Some(err.to_string()))
        }
    };
    Ok(Json(TestResult {
        outcome,
        output,
        error,
        wall_time_us: result.report.wall_time.as_micros() as u64,
        peak_memory_bytes: result.report.peak_memory_bytes,
        log: result
            .report
            .log
            .iter()
            .map(|line| serde_json::json!({ "level": line.level, "message": line.message }))
            .collect(),
        log_truncated: result.report.log_truncated,
        limits: record.effective_limits,
    }))
}

/// Trust a minisign public key to sign plugin packages. A key removed earlier is trusted
/// again (its plugins stay disabled until enabled).
#[utoipa::path(post, path = "/v1/trusted-keys", tag = "plugins", request_body = AddKeyRequest,
    responses(
        (status = 201, description = "Trusted", body = TrustedKey),
        (status = 409, description = "The key is already trusted (`key_exists`)"),
    ))]
async fn add_key(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiJson(input): ApiJson<AddKeyRequest>,
) -> ApiResult<(StatusCode, Json<TrustedKey>)> {
    let key = state
        .plugins
        .trust_key(
            caller(&state, &principal, &context),
            &input.name,
            &input.public_key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// List the trust store, removed keys included (`removed_at` set).
#[utoipa::path(get, path = "/v1/trusted-keys", tag = "plugins",
    responses((status = 200, description = "All keys (one page)", body = ListResponse<TrustedKey>)))]
async fn list_keys(
    State(state): State<AppState>,
    Platform(_principal): Platform,
) -> ApiResult<Json<ListResponse<TrustedKey>>> {
    Ok(Json(ListResponse {
        data: state.plugins.trusted_keys().await?,
        list_metadata: ListMetadata { after: None },
    }))
}

/// Remove a key from the trust store. Packages signed with it are refused from now on, and
/// every enabled plugin it signed is disabled at once (they stay installed).
#[utoipa::path(delete, path = "/v1/trusted-keys/{key_id}", tag = "plugins",
    params(("key_id" = String, Path, description = "minisign key id, 16 hex digits")),
    responses((status = 200, description = "Removed", body = RemovedKey)))]
async fn remove_key(
    State(state): State<AppState>,
    Platform(principal): Platform,
    RequestContext(context): RequestContext,
    ApiPath(key_id): ApiPath<String>,
) -> ApiResult<Json<RemovedKey>> {
    let (key, disabled) = state
        .plugins
        .remove_key(caller(&state, &principal, &context), &key_id)
        .await?;
    Ok(Json(RemovedKey {
        key,
        disabled_plugins: disabled
            .into_iter()
            .map(|(id, version)| PluginRef { id, version })
            .collect(),
    }))
}
