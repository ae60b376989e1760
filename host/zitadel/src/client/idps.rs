//! Identity providers of an organization (management v1 "templates", `x-zitadel-orgid`).
//!
//! The request body of create/update is decided by a provider plugin and arrives as JSON; the
//! client only picks the path from the provider kind. Typed bodies for the four built-in kinds
//! exist for tests and for callers without a plugin.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Call, IdpOwnerType, ListDetails, ListQuery, ObjectDetails, Result, Secret, TextQueryMethod,
    Updated, ZitadelClient, ZitadelError, projects::DetailsOnly, segment, wire::proto_enum,
};

/// The provider kinds Gatehouse manages, each with its own ZITADEL path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdpKind {
    Google,
    Github,
    /// Microsoft Entra ID (ZITADEL's "Azure AD").
    Azure,
    GenericOidc,
}

impl IdpKind {
    /// The path segment under `/management/v1/idps/`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Github => "github",
            Self::Azure => "azure",
            Self::GenericOidc => "generic_oidc",
        }
    }

    /// Maps a provider plugin's kind (`google`, `github`, `microsoft`, `oidc`, or ZITADEL's own
    /// names) to the ZITADEL kind.
    pub fn from_provider_kind(kind: &str) -> Option<Self> {
        Some(match kind.to_ascii_lowercase().as_str() {
            "google" => Self::Google,
            "github" => Self::Github,
            "microsoft" | "azure" | "azure_ad" | "entra" => Self::Azure,
            "oidc" | "generic_oidc" => Self::GenericOidc,
            _ => return None,
        })
    }
}

/// The largest IdP body accepted from a plugin.
pub const MAX_IDP_BODY_BYTES: usize = 64 * 1024;

proto_enum! {
    pub enum AutoLinkingOption {
        Unspecified = "AUTO_LINKING_OPTION_UNSPECIFIED",
        Username = "AUTO_LINKING_OPTION_USERNAME",
        Email = "AUTO_LINKING_OPTION_EMAIL",
    }
}

/// How users coming from the IdP are linked and created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProviderOptions {
    pub is_linking_allowed: bool,
    pub is_creation_allowed: bool,
    pub is_auto_creation: bool,
    pub is_auto_update: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_linking: Option<AutoLinkingOption>,
}

impl ProviderOptions {
    /// Users may sign up and sign in through the IdP; accounts are created and updated
    /// automatically.
    pub fn self_service() -> Self {
        Self {
            is_linking_allowed: true,
            is_creation_allowed: true,
            is_auto_creation: true,
            is_auto_update: true,
            auto_linking: None,
        }
    }
}

/// A typed IdP body for one kind.
pub trait IdpRequest: Serialize {
    const KIND: IdpKind;
}

/// `POST /management/v1/idps/google`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleIdp {
    pub name: String,
    pub client_id: String,
    /// On update, empty keeps the current secret.
    pub client_secret: Secret,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub provider_options: ProviderOptions,
}

impl IdpRequest for GoogleIdp {
    const KIND: IdpKind = IdpKind::Google;
}

/// `POST /management/v1/idps/github`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubIdp {
    pub name: String,
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub provider_options: ProviderOptions,
}

impl IdpRequest for GithubIdp {
    const KIND: IdpKind = IdpKind::Github;
}

proto_enum! {
    pub enum AzureTenantType {
        Common = "AZURE_AD_TENANT_TYPE_COMMON",
        Organisations = "AZURE_AD_TENANT_TYPE_ORGANISATIONS",
        Consumers = "AZURE_AD_TENANT_TYPE_CONSUMERS",
    }
}

/// Either a tenant type or a tenant id (a oneof).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AzureTenant {
    TenantType(AzureTenantType),
    TenantId(String),
}

/// `POST /management/v1/idps/azure` (Microsoft Entra ID).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureIdp {
    pub name: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Default: the common tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<AzureTenant>,
    /// Entra sends no `email_verified`; set this to trust its emails (zitadel/zitadel#4730).
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub provider_options: ProviderOptions,
}

impl IdpRequest for AzureIdp {
    const KIND: IdpKind = IdpKind::Azure;
}

/// `POST /management/v1/idps/generic_oidc`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericOidcIdp {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub provider_options: ProviderOptions,
    /// Map user info from the ID token instead of the userinfo endpoint.
    pub is_id_token_mapping: bool,
    pub use_pkce: bool,
}

impl IdpRequest for GenericOidcIdp {
    const KIND: IdpKind = IdpKind::GenericOidc;
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddIdpResponse {
    pub id: String,
    pub details: Option<ObjectDetails>,
}

proto_enum! {
    pub enum IdpState default Unspecified {
        Unspecified = "IDP_STATE_UNSPECIFIED",
        Active = "IDP_STATE_ACTIVE",
        Inactive = "IDP_STATE_INACTIVE",
    }
}

/// An IdP as ZITADEL reports it. `config` holds the options and one provider-specific member
/// (`google`, `github`, `azureAd`, `oidc`, …); secrets are never included.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdpTemplate {
    pub id: String,
    pub details: Option<ObjectDetails>,
    pub state: IdpState,
    pub name: String,
    pub owner: Option<IdpOwnerType>,
    /// `PROVIDER_TYPE_GOOGLE`, `PROVIDER_TYPE_AZURE_AD`, … (kept as text).
    #[serde(rename = "type")]
    pub provider_type: Option<String>,
    pub config: IdpConfig,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdpConfig {
    pub options: Option<ProviderOptions>,
    /// The provider-specific member, e.g. `{"google": {"clientId": …, "scopes": […]}}`.
    #[serde(flatten)]
    pub provider: Map<String, Value>,
}

/// One criterion of `ListProviders` (a oneof).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IdpQuery {
    IdpIdQuery {
        id: String,
    },
    IdpNameQuery {
        name: String,
        method: TextQueryMethod,
    },
    #[serde(rename_all = "camelCase")]
    OwnerTypeQuery {
        owner_type: IdpOwnerType,
    },
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListIdpsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ListQuery>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<IdpQuery>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListIdpsResponse {
    pub details: Option<ListDetails>,
    pub result: Vec<IdpTemplate>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GetIdpResponse {
    idp: Option<IdpTemplate>,
}

/// Refuses bodies that are not a JSON object or are unreasonably large (they come from plugins).
fn check_plugin_body(op: &'static str, body: &Value) -> Result<()> {
    if !body.is_object() {
        return Err(ZitadelError::InvalidRequest {
            op,
            message: "the IdP request must be a JSON object".into(),
        });
    }
    let size = serde_json::to_vec(body)
        .map(|b| b.len())
        .unwrap_or(usize::MAX);
    if size > MAX_IDP_BODY_BYTES {
        return Err(ZitadelError::InvalidRequest {
            op,
            message: format!("the IdP request is larger than {MAX_IDP_BODY_BYTES} bytes"),
        });
    }
    Ok(())
}

impl ZitadelClient {
    /// Creates an organization IdP from a plugin-built body. The path follows `kind`.
    pub async fn add_idp(
        &self,
        org_id: &str,
        kind: IdpKind,
        body: &Value,
    ) -> Result<AddIdpResponse> {
        const OP: &str = "add_idp";
        check_plugin_body(OP, body)?;
        let path = format!("/management/v1/idps/{}", kind.path_segment());
        let response: AddIdpResponse = self
            .call(Call::post(OP, path, body)?.in_org(org_id)?)
            .await?;
        if response.id.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "no IdP id in the answer".into(),
            });
        }
        Self::ensure_owner(OP, org_id, response.details.as_ref(), Some(&response.id))?;
        Ok(response)
    }

    /// Updates an organization IdP from a plugin-built body. An empty `clientSecret` keeps the
    /// current secret.
    pub async fn update_idp(
        &self,
        org_id: &str,
        kind: IdpKind,
        idp_id: &str,
        body: &Value,
    ) -> Result<Updated> {
        const OP: &str = "update_idp";
        check_plugin_body(OP, body)?;
        let path = format!(
            "/management/v1/idps/{}/{}",
            kind.path_segment(),
            segment(OP, "idp id", idp_id)?
        );
        match self
            .call::<DetailsOnly>(Call::put(OP, path, body)?.in_org(org_id)?)
            .await
        {
            Ok(response) => {
                Self::ensure_owner(OP, org_id, response.details.as_ref(), None)?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// [`Self::add_idp`] with a typed body.
    pub async fn add_typed_idp<R: IdpRequest>(
        &self,
        org_id: &str,
        request: &R,
    ) -> Result<AddIdpResponse> {
        let body = typed_body("add_idp", request)?;
        self.add_idp(org_id, R::KIND, &body).await
    }

    /// [`Self::update_idp`] with a typed body.
    pub async fn update_typed_idp<R: IdpRequest>(
        &self,
        org_id: &str,
        idp_id: &str,
        request: &R,
    ) -> Result<Updated> {
        let body = typed_body("update_idp", request)?;
        self.update_idp(org_id, R::KIND, idp_id, &body).await
    }

    /// The IdP, or `None` if it does not exist in this organization.
    pub async fn get_idp(&self, org_id: &str, idp_id: &str) -> Result<Option<IdpTemplate>> {
        const OP: &str = "get_idp";
        let path = format!(
            "/management/v1/idps/templates/{}",
            segment(OP, "idp id", idp_id)?
        );
        let response: GetIdpResponse = match self.call(Call::get(OP, path).in_org(org_id)?).await {
            Ok(response) => response,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        let Some(idp) = response.idp.filter(|idp| !idp.id.is_empty()) else {
            return Ok(None);
        };
        if idp.owner != Some(IdpOwnerType::System) {
            Self::ensure_owner(OP, org_id, idp.details.as_ref(), None)?;
        }
        Ok(Some(idp))
    }

    /// IdPs visible to the organization (its own and, unless filtered, the instance's).
    pub async fn list_idps(
        &self,
        org_id: &str,
        request: &ListIdpsRequest,
    ) -> Result<ListIdpsResponse> {
        const OP: &str = "list_idps";
        let call = Call::search(OP, "/management/v1/idps/templates/_search".into(), request)?
            .in_org(org_id)?;
        self.call(call).await
    }

    /// The organization's own IdP with exactly this name.
    pub async fn find_idp_by_name(&self, org_id: &str, name: &str) -> Result<Option<IdpTemplate>> {
        let response = self
            .list_idps(
                org_id,
                &ListIdpsRequest {
                    query: Some(ListQuery::limit(10)),
                    queries: vec![
                        IdpQuery::IdpNameQuery {
                            name: name.into(),
                            method: TextQueryMethod::Equals,
                        },
                        IdpQuery::OwnerTypeQuery {
                            owner_type: IdpOwnerType::Org,
                        },
                    ],
                },
            )
            .await?;
        Ok(response
            .result
            .into_iter()
            .find(|idp| idp.name == name && idp.owner != Some(IdpOwnerType::System)))
    }

    /// Deletes an organization IdP (its login-policy link goes with it). `false` if it did not
    /// exist.
    pub async fn delete_idp(&self, org_id: &str, idp_id: &str) -> Result<bool> {
        const OP: &str = "delete_idp";
        let path = format!(
            "/management/v1/idps/templates/{}",
            segment(OP, "idp id", idp_id)?
        );
        self.delete_call(Call::delete(OP, path).in_org(org_id)?)
            .await
    }
}

fn typed_body(op: &'static str, request: &impl Serialize) -> Result<Value> {
    serde_json::to_value(request).map_err(|e| ZitadelError::InvalidRequest {
        op,
        message: format!("cannot encode the IdP request: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn provider_kinds_map_to_paths() {
        assert_eq!(
            IdpKind::from_provider_kind("microsoft"),
            Some(IdpKind::Azure)
        );
        assert_eq!(
            IdpKind::from_provider_kind("OIDC"),
            Some(IdpKind::GenericOidc)
        );
        assert_eq!(IdpKind::from_provider_kind("saml"), None);
        assert_eq!(IdpKind::GenericOidc.path_segment(), "generic_oidc");
    }

    #[test]
    fn typed_bodies_match_zitadel_fields() {
        let azure = AzureIdp {
            name: "Entra".into(),
            client_id: "cid".into(),
            client_secret: Secret::new("s3cret"),
            tenant: Some(AzureTenant::TenantId("tenant-1".into())),
            email_verified: true,
            scopes: vec!["openid".into(), "User.Read".into()],
            provider_options: ProviderOptions::self_service(),
        };
        let body = typed_body("t", &azure).unwrap();
        assert_eq!(body["tenant"], json!({"tenantId": "tenant-1"}));
        assert_eq!(body["clientSecret"], json!("s3cret"));
        assert_eq!(body["providerOptions"]["isAutoCreation"], json!(true));
        assert!(body["providerOptions"].get("autoLinking").is_none());
        assert!(!format!("{azure:?}").contains("s3cret"));

        let common = AzureTenant::TenantType(AzureTenantType::Common);
        assert_eq!(
            serde_json::to_value(common).unwrap(),
            json!({"tenantType": "AZURE_AD_TENANT_TYPE_COMMON"})
        );

        let oidc = typed_body(
            "t",
            &GenericOidcIdp {
                name: "Okta".into(),
                issuer: "https://okta.example".into(),
                use_pkce: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(oidc["issuer"], json!("https://okta.example"));
        assert_eq!(oidc["usePkce"], json!(true));
        assert_eq!(oidc["isIdTokenMapping"], json!(false));
    }

    #[test]
    fn plugin_bodies_are_checked() {
        assert!(check_plugin_body("t", &json!({"name": "x"})).is_ok());
        assert!(check_plugin_body("t", &json!(["x"])).is_err());
        assert!(check_plugin_body("t", &json!("x")).is_err());
        let huge = json!({"name": "x".repeat(MAX_IDP_BODY_BYTES)});
        assert!(check_plugin_body("t", &huge).is_err());
    }

    #[test]
    fn template_keeps_the_provider_config() {
        let idp: IdpTemplate = serde_json::from_value(json!({
            "id": "9",
            "details": {"resourceOwner": "1"},
            "state": "IDP_STATE_ACTIVE",
            "name": "Google",
            "owner": "IDP_OWNER_TYPE_ORG",
            "type": "PROVIDER_TYPE_GOOGLE",
            "config": {
                "options": {"isLinkingAllowed": true},
                "google": {"clientId": "cid", "scopes": ["openid"]}
            }
        }))
        .unwrap();
        assert_eq!(idp.owner, Some(IdpOwnerType::Org));
        assert_eq!(idp.provider_type.as_deref(), Some("PROVIDER_TYPE_GOOGLE"));
        assert!(idp.config.options.unwrap().is_linking_allowed);
        assert_eq!(idp.config.provider["google"]["clientId"], json!("cid"));
    }
}
