//! Who is calling the API: bearer tokens (PATs and access tokens) resolved to a user and its
//! roles, and the organization a v1 call acts on.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use crate::{
    crypto::sha256_hex,
    error::{ApiError, catalog},
    model::{Data, TokenKind, UserState},
    state::AppState,
};

pub const IAM_OWNER: &str = "IAM_OWNER";
pub const IAM_LOGIN_CLIENT: &str = "IAM_LOGIN_CLIENT";
pub const ORG_OWNER: &str = "ORG_OWNER";
/// Scope an access token needs to call ZITADEL's own APIs.
pub const API_SCOPE: &str = "urn:zitadel:iam:org:project:id:zitadel:aud";

/// The authenticated caller of an API endpoint.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub org_id: String,
    pub instance_roles: Vec<String>,
}

impl Caller {
    pub fn has_instance_role(&self, role: &str) -> bool {
        self.instance_roles.iter().any(|r| r == role)
    }

    pub fn require_instance(&self, role: &str) -> Result<(), ApiError> {
        if self.has_instance_role(role) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// Manage rights on an organization: instance owner, or owner of that org.
    pub fn can_manage_org(&self, data: &Data, org_id: &str) -> bool {
        self.has_instance_role(IAM_OWNER)
            || data
                .orgs
                .get(org_id)
                .and_then(|o| o.members.get(&self.user_id))
                .is_some_and(|roles| roles.iter().any(|r| r == ORG_OWNER))
    }

    pub fn require_org(&self, data: &Data, org_id: &str) -> Result<(), ApiError> {
        if self.can_manage_org(data, org_id) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// The org a v1 management call acts on: `x-zitadel-orgid` if sent, else the caller's own
    /// org; the caller must be allowed to manage it.
    pub fn org_context(&self, data: &Data, header: &OrgHeader) -> Result<String, ApiError> {
        let org_id = header.0.clone().unwrap_or_else(|| self.org_id.clone());
        if !data.orgs.contains_key(&org_id) {
            // Not revealing whether a foreign org exists: only instance owners learn that.
            return Err(if self.has_instance_role(IAM_OWNER) {
                catalog::org_not_found()
            } else {
                ApiError::permission_denied()
            });
        }
        self.require_org(data, &org_id)?;
        Ok(org_id)
    }
}

/// Resolves a bearer token against the state.
pub fn authenticate(
    data: &Data,
    headers: &HeaderMap,
    now: gatehouse_core::Timestamp,
) -> Result<Caller, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(catalog::auth_header_missing)?
        .to_str()
        .map_err(|_| catalog::token_invalid())?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(catalog::token_invalid)?;
    let record = data
        .tokens
        .get(&sha256_hex(token))
        .ok_or_else(catalog::token_invalid)?;
    if record.expires.is_some_and(|e| e <= now) {
        return Err(catalog::token_invalid());
    }
    match record.kind {
        TokenKind::Pat => {}
        // Access tokens reach ZITADEL's API only with the API audience scope.
        TokenKind::Access if record.scopes.iter().any(|s| s == API_SCOPE) => {}
        _ => return Err(catalog::token_invalid()),
    }
    let user = data
        .users
        .get(&record.user_id)
        .filter(|u| u.state == UserState::Active)
        .ok_or_else(catalog::token_invalid)?;
    Ok(Caller {
        user_id: user.id.clone(),
        org_id: user.org_id.clone(),
        instance_roles: data
            .instance_members
            .get(&user.id)
            .cloned()
            .unwrap_or_default(),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = gatehouse_core::Timestamp::now();
        state.read(|inner| authenticate(&inner.data, &parts.headers, now))
    }
}

/// The `x-zitadel-orgid` header, if sent.
#[derive(Clone, Debug, Default)]
pub struct OrgHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for OrgHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.headers.get("x-zitadel-orgid") {
            None => Ok(Self(None)),
            Some(v) => {
                let text = v
                    .to_str()
                    .map_err(|_| ApiError::validation("x-zitadel-orgid is not valid text"))?
                    .trim();
                if text.is_empty() {
                    Ok(Self(None))
                } else if text.len() > 200 {
                    Err(ApiError::validation("x-zitadel-orgid is too long"))
                } else {
                    Ok(Self(Some(text.to_owned())))
                }
            }
        }
    }
}
