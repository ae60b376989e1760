//! Sign in with GitHub (`/management/v1/idps/github`) or a GitHub Enterprise Server
//! (`/management/v1/idps/github_es`, with its three endpoints).

use gatehouse_plugin::{
    Config, EgressHost, FieldKind, PluginError, Provider, ProviderInfo, TenantContext,
    ZitadelRequest, schema,
};
use gatehouse_provider_common as common;
use serde_json::json;

pub struct GitHub;

const SCOPES: &[&str] = &["read:user", "user:email"];

/// The GitHub Enterprise Server base URL, without a trailing slash, if configured.
fn enterprise_url(config: &Config) -> Option<&str> {
    config
        .str("enterprise_url")
        .map(|url| url.trim_end_matches('/'))
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

impl Provider for GitHub {
    fn describe() -> ProviderInfo {
        let mut fields = vec![
            common::name_field("GitHub"),
            common::client_id_field("The OAuth app's client ID."),
            common::client_secret_field("A client secret generated for the OAuth app."),
            schema::field(
                "enterprise_url",
                "GitHub Enterprise Server URL",
                FieldKind::Url,
                false,
            )
            .help("Only for GitHub Enterprise Server, e.g. https://github.example.com.")
            .placeholder("https://github.example.com"),
            common::scopes_field(SCOPES),
        ];
        fields.extend(common::option_fields());
        ProviderInfo {
            id: "github".into(),
            name: "GitHub".into(),
            description: "Let users sign in with GitHub or GitHub Enterprise Server.".into(),
            docs_url: Some(
                "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/creating-an-oauth-app"
                    .into(),
            ),
            fields,
            setup_steps: vec![
                common::step(
                    "Create an OAuth app",
                    "In GitHub open *Settings → Developer settings → OAuth Apps → New OAuth App* \
                     (for an organization: the organization's settings).",
                ),
                common::callback_step(None, "the app's *Authorization callback URL*"),
                common::step(
                    "Generate a client secret",
                    "Click *Generate a new client secret* and paste it with the client ID.",
                ),
            ],
        }
    }

    fn validate(_ctx: &TenantContext, config: &Config) -> Result<(), PluginError> {
        gatehouse_plugin::schema::check(&Self::describe().fields, config)?;
        if let Some(url) = enterprise_url(config)
            && (host_and_port(url).is_none() || url.contains('?') || url.contains('#'))
        {
            return Err(PluginError::invalid(
                "enterprise_url",
                "must be the server's base URL, e.g. https://github.example.com",
            ));
        }
        Ok(())
    }

    fn egress(config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        let hosts = match enterprise_url(config) {
            Some(url) => {
                let (host, port) = host_and_port(url)
                    .ok_or_else(|| PluginError::invalid("enterprise_url", "not a valid URL"))?;
                vec![(host, port, "GitHub Enterprise Server: OAuth and user API")]
            }
            None => vec![
                (
                    "github.com".to_owned(),
                    443,
                    "authorization and token endpoints",
                ),
                ("api.github.com".to_owned(), 443, "user and email API"),
            ],
        };
        Ok(hosts
            .into_iter()
            .map(|(host, port, purpose)| EgressHost {
                host,
                port,
                purpose: purpose.into(),
            })
            .collect())
    }

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let mut body = common::base_body(config, "GitHub", SCOPES, existing_id)?;
        match enterprise_url(config) {
            Some(url) => {
                body.insert(
                    "authorizationEndpoint".into(),
                    json!(format!("{url}/login/oauth/authorize")),
                );
                body.insert(
                    "tokenEndpoint".into(),
                    json!(format!("{url}/login/oauth/access_token")),
                );
                body.insert("userEndpoint".into(), json!(format!("{url}/api/v3/user")));
                common::request("github_es", existing_id, body)
            }
            None => common::request("github", existing_id, body),
        }
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!(GitHub);

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_plugin::HttpMethod;
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
    fn github_dot_com() {
        let config = Config::parse(r#"{"client_id":"Iv1.x","client_secret":"s"}"#).unwrap();
        GitHub::validate(&ctx(), &config).unwrap();
        let req = GitHub::zitadel_idp(&ctx(), &config, Some("77")).unwrap();
        assert!(matches!(req.method, HttpMethod::Put));
        assert_eq!(req.path, "/management/v1/idps/github/77");
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["scopes"], json!(["read:user", "user:email"]));
        let hosts: Vec<String> = GitHub::egress(&config)
            .unwrap()
            .into_iter()
            .map(|h| h.host)
            .collect();
        assert_eq!(hosts, ["github.com", "api.github.com"]);
    }

    #[test]
    fn enterprise_server() {
        let config = Config::parse(
            r#"{"client_id":"a","client_secret":"s","enterprise_url":"https://git.acme.example:8443/"}"#,
        )
        .unwrap();
        GitHub::validate(&ctx(), &config).unwrap();
        let req = GitHub::zitadel_idp(&ctx(), &config, None).unwrap();
        assert_eq!(req.path, "/management/v1/idps/github_es");
        let body: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(
            body["authorizationEndpoint"],
            "https://git.acme.example:8443/login/oauth/authorize"
        );
        assert_eq!(
            body["tokenEndpoint"],
            "https://git.acme.example:8443/login/oauth/access_token"
        );
        assert_eq!(
            body["userEndpoint"],
            "https://git.acme.example:8443/api/v3/user"
        );
        let egress = GitHub::egress(&config).unwrap();
        assert_eq!(
            (egress[0].host.as_str(), egress[0].port),
            ("git.acme.example", 8443)
        );
    }
}
