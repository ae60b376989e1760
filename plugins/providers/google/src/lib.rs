//! Sign in with Google: `POST /management/v1/idps/google` (ZITADEL management API v1).

use gatehouse_plugin::{
    Config, EgressHost, PluginError, Provider, ProviderInfo, TenantContext, ZitadelRequest,
};
use gatehouse_provider_common as common;

pub struct Google;

const SCOPES: &[&str] = &["openid", "profile", "email"];

impl Provider for Google {
    fn describe() -> ProviderInfo {
        let mut fields = vec![
            common::name_field("Google"),
            common::client_id_field("The OAuth client ID, ending in .apps.googleusercontent.com."),
            common::client_secret_field("The OAuth client secret (GOCSPX-…)."),
            common::scopes_field(SCOPES),
        ];
        fields.extend(common::option_fields());
        ProviderInfo {
            id: "google".into(),
            name: "Google".into(),
            description: "Let users sign in with their Google or Google Workspace account.".into(),
            docs_url: Some(
                "https://developers.google.com/identity/protocols/oauth2/openid-connect".into(),
            ),
            fields,
            setup_steps: vec![
                common::step(
                    "Create an OAuth client",
                    "In the Google Cloud console open *APIs & Services → Credentials*, choose \
                     *Create credentials → OAuth client ID*, application type *Web application*.",
                ),
                common::callback_step(None, "the client's *Authorized redirect URIs*"),
                common::step(
                    "Copy the credentials",
                    "Paste the client ID and secret into this form. Configure the OAuth consent \
                     screen (app name, support email) before users sign in.",
                ),
            ],
        }
    }

    fn validate(_ctx: &TenantContext, config: &Config) -> Result<(), PluginError> {
        gatehouse_plugin::schema::check(&Self::describe().fields, config)?;
        let client_id = config.require_str("client_id")?;
        if !client_id.ends_with(".apps.googleusercontent.com") {
            return Err(PluginError::invalid(
                "client_id",
                "a Google OAuth client ID ends in .apps.googleusercontent.com",
            ));
        }
        Ok(())
    }

    fn egress(_config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        Ok([
            (
                "accounts.google.com",
                "authorization endpoint and discovery",
            ),
            ("oauth2.googleapis.com", "token endpoint"),
            ("openidconnect.googleapis.com", "userinfo endpoint"),
            ("www.googleapis.com", "signing keys (JWKS)"),
        ]
        .into_iter()
        .map(|(host, purpose)| EgressHost {
            host: host.into(),
            port: 443,
            purpose: purpose.into(),
        })
        .collect())
    }

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let body = common::base_body(config, "Google", SCOPES, existing_id)?;
        common::request("google", existing_id, body)
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!(Google);

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_plugin::HttpMethod;
    use serde_json::{Value, json};

    fn ctx() -> TenantContext {
        TenantContext {
            tenant_id: "ten_1".into(),
            tenant_name: "Acme".into(),
            zitadel_org_id: Some("1".into()),
            zitadel_url: "https://id.example".into(),
            public_url: "https://gh.example".into(),
            locale: "en".into(),
        }
    }

    #[test]
    fn builds_the_google_request() {
        let config = Config::parse(
            r#"{"client_id":"1.apps.googleusercontent.com","client_secret":"GOCSPX-x"}"#,
        )
        .unwrap();
        Google::validate(&ctx(), &config).unwrap();
        let req = Google::zitadel_idp(&ctx(), &config, None).unwrap();
        assert!(matches!(req.method, HttpMethod::Post));
        assert_eq!(req.path, "/management/v1/idps/google");
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body,
            json!({
                "name": "Google",
                "clientId": "1.apps.googleusercontent.com",
                "clientSecret": "GOCSPX-x",
                "scopes": ["openid", "profile", "email"],
                "providerOptions": {
                    "isLinkingAllowed": true, "isCreationAllowed": true,
                    "isAutoCreation": false, "isAutoUpdate": true,
                    "autoLinking": "AUTO_LINKING_OPTION_UNSPECIFIED"
                }
            })
        );
    }

    #[test]
    fn rejects_a_foreign_client_id() {
        let config = Config::parse(r#"{"client_id":"abc","client_secret":"x"}"#).unwrap();
        assert!(Google::validate(&ctx(), &config).is_err());
    }
}
