//! Token minting and the claims ZITADEL puts in ID tokens, JWT access tokens and userinfo.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use gatehouse_core::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::{
    crypto::{random_token, sha256_hex},
    error::ApiError,
    keys,
    model::{App, Data, Token, TokenKind, TokenType, User, UserKind, WebKey, WebKeyState},
    state::Tx,
};

pub const SCOPE_RESOURCEOWNER: &str = "urn:zitadel:iam:user:resourceowner";
pub const SCOPE_METADATA: &str = "urn:zitadel:iam:user:metadata";
pub const SCOPE_ROLES: &str = "urn:zitadel:iam:org:project:roles";
pub const SCOPE_ROLE_PREFIX: &str = "urn:zitadel:iam:org:project:role:";
pub const SCOPE_ORG_ID_PREFIX: &str = "urn:zitadel:iam:org:id:";
pub const SCOPE_ORG_DOMAIN_PREFIX: &str = "urn:zitadel:iam:org:domain:primary:";

/// The active signing key.
pub fn active_key(data: &Data) -> Result<&WebKey, ApiError> {
    data.web_keys
        .iter()
        .find(|k| k.state == WebKeyState::Active)
        .ok_or_else(|| ApiError::internal("no active web key"))
}

pub fn sign(data: &Data, typ: Option<&str>, claims: &Value) -> Result<String, ApiError> {
    let key = active_key(data)?;
    let signing_key = key.signing_key().map_err(ApiError::internal)?;
    keys::sign_jwt(&key.id, key.config, signing_key, typ, claims).map_err(ApiError::internal)
}

/// `at_hash`: left half of the hash of the access token, with the hash of the signing alg.
pub fn at_hash(alg: &str, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        "RS384" | "ES384" => Sha384::digest(access_token.as_bytes()).to_vec(),
        "RS512" | "ES512" | "EdDSA" => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// `aud`: every client id of the app's project, the project id, and the projects requested
/// with `urn:zitadel:iam:org:project:id:{id}:aud`.
pub fn audience(data: &Data, app: &App, scopes: &[String]) -> Vec<String> {
    let mut aud: Vec<String> = vec![app.client_id.clone()];
    for other in data
        .apps
        .values()
        .filter(|a| a.project_id == app.project_id)
    {
        if !aud.contains(&other.client_id) {
            aud.push(other.client_id.clone());
        }
    }
    aud.push(app.project_id.clone());
    aud.extend(extra_audience(data, scopes));
    aud.dedup();
    aud
}

/// Project ids from `…:project:id:{id}:aud` scopes (`zitadel` = ZITADEL's own API project).
pub fn extra_audience(data: &Data, scopes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for scope in scopes {
        if let Some(id) = scope
            .strip_prefix("urn:zitadel:iam:org:project:id:")
            .and_then(|r| r.strip_suffix(":aud"))
        {
            let id = if id == "zitadel" {
                data.zitadel_project_id.clone()
            } else {
                id.to_owned()
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The roles claim value `{"<role>": {"<orgId>": "<orgPrimaryDomain>"}}` of `user` in a
/// project, filtered by requested role scopes (none requested = all granted roles).
pub fn roles_claim(data: &Data, user: &User, project_id: &str, scopes: &[String]) -> Option<Value> {
    let grant = user.grants.get(project_id)?;
    let project = data.projects.get(project_id)?;
    let org = data.orgs.get(&project.org_id)?;
    let wanted: Vec<&str> = scopes
        .iter()
        .filter_map(|s| s.strip_prefix(SCOPE_ROLE_PREFIX))
        .collect();
    let mut roles = Map::new();
    for role in &grant.roles {
        if wanted.is_empty() || wanted.contains(&role.as_str()) {
            roles.insert(role.clone(), json!({ org.id.clone(): org.primary_domain }));
        }
    }
    (!roles.is_empty()).then_some(Value::Object(roles))
}

fn wants_roles(scopes: &[String]) -> bool {
    scopes.iter().any(|s| {
        s == SCOPE_ROLES
            || s.starts_with(SCOPE_ROLE_PREFIX)
            || s == "urn:zitadel:iam:org:projects:roles"
    })
}

/// Adds both role claims when requested or asserted.
pub fn add_roles(
    claims: &mut Map<String, Value>,
    data: &Data,
    user: &User,
    app: &App,
    scopes: &[String],
    asserted: bool,
) {
    let project_assert = data
        .projects
        .get(&app.project_id)
        .is_some_and(|p| p.role_assertion);
    if !(wants_roles(scopes) || (asserted && project_assert)) {
        return;
    }
    if let Some(roles) = roles_claim(data, user, &app.project_id, scopes) {
        claims.insert(SCOPE_ROLES.into(), roles.clone());
        claims.insert(
            format!("urn:zitadel:iam:org:project:{}:roles", app.project_id),
            roles,
        );
    }
}

/// Userinfo claims for the granted scopes.
pub fn userinfo_claims(data: &Data, user: &User, scopes: &[String]) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    match &user.kind {
        UserKind::Human(h) => {
            if has("profile") {
                c.insert("name".into(), json!(h.display_name));
                c.insert("given_name".into(), json!(h.given_name));
                c.insert("family_name".into(), json!(h.family_name));
                if !h.nick_name.is_empty() {
                    c.insert("nickname".into(), json!(h.nick_name));
                }
                c.insert("preferred_username".into(), json!(user.username));
                c.insert("locale".into(), json!(h.preferred_language));
                c.insert("updated_at".into(), json!(user.meta.changed.unix_seconds()));
                let gender = match h.gender.as_str() {
                    "GENDER_FEMALE" => Some("female"),
                    "GENDER_MALE" => Some("male"),
                    "GENDER_DIVERSE" => Some("diverse"),
                    _ => None,
                };
                if let Some(g) = gender {
                    c.insert("gender".into(), json!(g));
                }
            }
            if has("email") {
                c.insert("email".into(), json!(h.email));
                c.insert("email_verified".into(), json!(h.email_verified));
            }
            if has("phone") && !h.phone.is_empty() {
                c.insert("phone_number".into(), json!(h.phone));
                c.insert("phone_number_verified".into(), json!(h.phone_verified));
            }
            if has(SCOPE_METADATA) && !h.metadata.is_empty() {
                c.insert("urn:zitadel:iam:user:metadata".into(), json!(h.metadata));
            }
        }
        UserKind::Machine(m) => {
            if has("profile") {
                c.insert("name".into(), json!(m.name));
                c.insert("preferred_username".into(), json!(user.username));
                c.insert("updated_at".into(), json!(user.meta.changed.unix_seconds()));
            }
        }
    }
    let org_scoped = scopes
        .iter()
        .any(|s| s == SCOPE_RESOURCEOWNER || s.starts_with(SCOPE_ORG_ID_PREFIX));
    if org_scoped && let Some(org) = data.orgs.get(&user.org_id) {
        c.insert(
            "urn:zitadel:iam:user:resourceowner:id".into(),
            json!(org.id),
        );
        c.insert(
            "urn:zitadel:iam:user:resourceowner:name".into(),
            json!(org.name),
        );
        c.insert(
            "urn:zitadel:iam:user:resourceowner:primary_domain".into(),
            json!(org.primary_domain),
        );
    }
    c
}

/// What a login (code exchange or refresh) grants.
pub struct Grant<'a> {
    pub app: &'a App,
    pub user: &'a User,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub session_id: Option<String>,
}

/// Issues access token, ID token and (with `offline_access` and the refresh grant) a refresh
/// token; returns the token response.
pub fn issue(tx: &mut Tx<'_>, grant: Grant<'_>, refresh_allowed: bool) -> Result<Value, ApiError> {
    let settings = tx.settings.clone();
    let now = tx.now;
    let app = grant.app;
    let user = grant.user;
    let aud = audience(tx.data, app, &grant.scopes);
    let at_exp = now.plus(settings.access_token_lifetime);
    let jti = tx.new_id();
    let access_token = match app.oidc.access_token_type {
        TokenType::Bearer => random_token(32),
        TokenType::Jwt => {
            let mut claims = Map::new();
            claims.insert("iss".into(), json!(settings.issuer));
            claims.insert("sub".into(), json!(user.id));
            claims.insert("aud".into(), json!(aud));
            claims.insert("exp".into(), json!(at_exp.unix_seconds()));
            claims.insert("iat".into(), json!(now.unix_seconds()));
            claims.insert("nbf".into(), json!(now.unix_seconds()));
            claims.insert("jti".into(), json!(jti));
            claims.insert("client_id".into(), json!(app.client_id));
            if let Some(sid) = &grant.session_id {
                claims.insert("sid".into(), json!(sid));
            }
            add_roles(
                &mut claims,
                tx.data,
                user,
                app,
                &grant.scopes,
                app.oidc.access_token_role_assertion,
            );
            sign(tx.data, Some("at+jwt"), &Value::Object(claims))?
        }
    };
    let record = |kind, expires| Token {
        id: jti.clone(),
        kind,
        user_id: user.id.clone(),
        client_id: app.client_id.clone(),
        scopes: grant.scopes.clone(),
        audience: aud.clone(),
        issued: now,
        expires: Some(expires),
        session_id: grant.session_id.clone(),
        auth_time: Some(grant.auth_time),
        amr: grant.amr.clone(),
    };
    tx.touch();
    tx.data
        .tokens
        .insert(sha256_hex(&access_token), record(TokenKind::Access, at_exp));

    let alg = active_key(tx.data)?.config.alg();
    let mut id = Map::new();
    id.insert("iss".into(), json!(settings.issuer));
    id.insert("sub".into(), json!(user.id));
    id.insert("aud".into(), json!(aud));
    id.insert(
        "exp".into(),
        json!(now.plus(settings.id_token_lifetime).unix_seconds()),
    );
    id.insert("iat".into(), json!(now.unix_seconds()));
    id.insert("auth_time".into(), json!(grant.auth_time.unix_seconds()));
    id.insert("amr".into(), json!(grant.amr));
    id.insert("azp".into(), json!(app.client_id));
    id.insert("client_id".into(), json!(app.client_id));
    id.insert("at_hash".into(), json!(at_hash(alg, &access_token)));
    if let Some(nonce) = &grant.nonce {
        id.insert("nonce".into(), json!(nonce));
    }
    if let Some(sid) = &grant.session_id {
        id.insert("sid".into(), json!(sid));
    }
    if app.oidc.id_token_userinfo_assertion {
        for (k, v) in userinfo_claims(tx.data, user, &grant.scopes) {
            id.entry(k).or_insert(v);
        }
    }
    add_roles(
        &mut id,
        tx.data,
        user,
        app,
        &grant.scopes,
        app.oidc.id_token_role_assertion,
    );
    let id_token = sign(tx.data, None, &Value::Object(id))?;

    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_lifetime.as_secs().saturating_sub(1),
        "id_token": id_token,
        "scope": grant.scopes.join(" "),
    });
    if refresh_allowed && grant.scopes.iter().any(|s| s == "offline_access") {
        let refresh = random_token(32);
        let exp = now.plus(settings.refresh_token_lifetime);
        tx.data
            .tokens
            .insert(sha256_hex(&refresh), record(TokenKind::Refresh, exp));
        response["refresh_token"] = json!(refresh);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_left_half_of_sha256() {
        let digest = Sha256::digest(b"token");
        assert_eq!(
            at_hash("RS256", "token"),
            URL_SAFE_NO_PAD.encode(&digest[..16])
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(at_hash("RS512", "token"))
                .unwrap()
                .len(),
            32
        );
    }
}
