//! Sign in with any OpenID Connect provider (`/management/v1/idps/generic_oidc`): issuer, PKCE
//! and id-token mapping.

use gatehouse_plugin::{
    Config, EgressHost, FieldKind, PluginError, Provider, ProviderInfo, TenantContext,
    ZitadelRequest, schema,
};
use gatehouse_provider_common as common;
use serde_json::json;

pub struct Oidc;

const SCOPES: &[&str] = &["openid", "profile", "email"];

fn issuer(config: &Config) -> Result<&str, PluginError> {
    let issuer = config.require_str("issuer")?;
    // OIDC issuers are https URLs without query or fragment (OpenID Connect Discovery §2);
    // plain http only for loopback test IdPs.
    let ok_scheme = issuer.starts_with("https://")
        || issuer.starts_with("http://localhost")
        || issuer.starts_with("http://127.0.0.1");
    if !ok_scheme || !schema::is_http_url(issuer) || issuer.contains(['?', '#']) {
        return Err(PluginError::invalid(
            "issuer",
            "must be an https URL without query or fragment, e.g. https://login.example.com",
        ));
    }
    Ok(issuer)
}

fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let default_port = if scheme == "http" { 80 } else { 443 };
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default_port)),
    }
}

impl Provider for Oidc {
    fn describe() -> ProviderInfo {
        let mut fields = vec![
            common::name_field("Single sign-on"),
            schema::field("issuer", "Issuer URL", FieldKind::Url, true)
                .help("The `issuer` of the provider's /.well-known/openid-configuration.")
                .placeholder("https://login.example.com"),
            common::client_id_field("The client ID registered at the provider."),
            common::client_secret_field("The client secret registered at the provider."),
            schema::field("use_pkce", "Use PKCE", FieldKind::Bool, false)
                .help("Send a PKCE code challenge (recommended; required by some providers).")
                .default_value(json!(true)),
            schema::field(
                "id_token_mapping",
                "Map user info from the ID token",
                FieldKind::Bool,
                false,
            )
            .help("Read profile claims from the ID token instead of the userinfo endpoint.")
            .default_value(json!(false)),
            common::scopes_field(SCOPES),
        ];
        fields.extend(common::option_fields());
        ProviderInfo {
            id: "oidc".into(),
            name: "OpenID Connect".into(),
            description: "Let users sign in with any OpenID Connect identity provider (Okta, \
                          Keycloak, Auth0, another ZITADEL…)."
                .into(),
            docs_url: Some("https://openid.net/specs/openid-connect-discovery-1_0.html".into()),
            fields,
            setup_steps: vec![
                common::step(
                    "Register a client",
                    "At your identity provider create a confidential web client using the \
                     authorization-code flow.",
                ),
                common::callback_step(None, "the client's allowed redirect URIs"),
                common::step(
                    "Copy issuer and credentials",
                    "Paste the issuer URL (the `issuer` value of its discovery document), the \
                     client ID and the secret.",
                ),
            ],
        }
    }

    fn validate(_ctx: &TenantContext, config: &Config) -> Result<(), PluginError> {
        gatehouse_plugin::schema::check(&Self::describe().fields, config)?;
        issuer(config).map(drop)?;
        let scopes = common::scopes(config, SCOPES)?;
        if !scopes.iter().any(|scope| scope == "openid") {
            return Err(PluginError::invalid(
                "scopes",
                "OpenID Connect needs the `openid` scope",
            ));
        }
        Ok(())
    }

    fn egress(config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        let (host, port) = host_and_port(issuer(config)?)
            .ok_or_else(|| PluginError::invalid("issuer", "not a valid URL"))?;
        Ok(vec![EgressHost {
            host,
            port,
            purpose: "discovery, token, userinfo and key endpoints (other hosts named in the \
                      discovery document must be allowed too)"
                .into(),
        }])
    }

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let mut body = common::base_body(config, "Single sign-on", SCOPES, existing_id)?;
        body.insert(
            "issuer".into(),
            json!(issuer(config)?.trim_end_matches('/')),
        );
        body.insert(
            "isIdTokenMapping".into(),
            json!(config.bool("id_token_mapping", false)?),
        );
        body.insert("usePkce".into(), json!(config.bool("use_pkce", true)?));
        common::request("generic_oidc", existing_id, body)
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!(Oidc);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ctx() -> TenantContext {
        TenantContext {
            tenant_id: "ten_1".into(),
            tenant_name: "Acme".into(),
            zitadel_org_id: None,
            zitadel_url: "https://id.example".into(),
            public_url: "https://gh.example".into(),
            locale: "en".into(),
        }
    }

    #[test]
    fn builds_generic_oidc() {
        let config = Config::parse(
            r#"{"issuer":"https://login.acme.example/","client_id":"c","client_secret":"s",
                "id_token_mapping":true,"display_name":"Acme SSO"}"#,
        )
        .unwrap();
        Oidc::validate(&ctx(), &config).unwrap();
        let req = Oidc::zitadel_idp(&ctx(), &config, None).unwrap();
        assert_eq!(req.path, "/management/v1/idps/generic_oidc");
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["issuer"], "https://login.acme.example");
        assert_eq!(body["name"], "Acme SSO");
        assert_eq!(body["usePkce"], true);
        assert_eq!(body["isIdTokenMapping"], true);
        let egress = Oidc::egress(&config).unwrap();
        assert_eq!(
            (egress[0].host.as_str(), egress[0].port),
            ("login.acme.example", 443)
        );
    }

    #[test]
    fn refuses_plain_http_and_missing_openid() {
        let http =
            Config::parse(r#"{"issuer":"http://idp.example","client_id":"c","client_secret":"s"}"#)
                .unwrap();
        assert!(Oidc::validate(&ctx(), &http).is_err());
        let no_openid = Config::parse(
            r#"{"issuer":"https://idp.example","client_id":"c","client_secret":"s","scopes":["email"]}"#,
        )
        .unwrap();
        assert!(Oidc::validate(&ctx(), &no_openid).is_err());
    }
}
