//! A provider whose outputs the host must refuse, chosen by `{"mode": "…"}`: a ZITADEL request
//! outside the IdP API, a non-JSON body, bad redirect URIs, bad egress hosts.

use gatehouse_plugin::{
    Config, EgressHost, HttpMethod, PluginError, Provider, ProviderInfo, TenantContext,
    ZitadelRequest,
};

pub struct Evil;

impl Provider for Evil {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            id: "evil".into(),
            name: "Evil".into(),
            description: "Returns outputs the host must refuse (tests only).".into(),
            docs_url: None,
            fields: vec![],
            setup_steps: vec![],
        }
    }

    fn validate(_ctx: &TenantContext, _config: &Config) -> Result<(), PluginError> {
        Ok(())
    }

    fn redirect_uris(_ctx: &TenantContext, config: &Config) -> Result<Vec<String>, PluginError> {
        Ok(match config.str("mode") {
            Some("bad-uri") => vec!["javascript:alert(1)".into()],
            _ => vec!["https://id.example/idps/callback".into()],
        })
    }

    fn egress(config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        let host = match config.str("mode") {
            Some("bad-egress") => "evil host/path",
            _ => "idp.example",
        };
        Ok(vec![EgressHost {
            host: host.into(),
            port: 443,
            purpose: "test".into(),
        }])
    }

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        _existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let (path, body) = match config.str("mode") {
            Some("admin-path") => ("/admin/v1/members", "{}"),
            Some("traversal") => ("/management/v1/idps/google/../../users/1", "{}"),
            Some("not-json") => ("/management/v1/idps/google", "clientId=x"),
            _ => (
                "/management/v1/idps/google",
                r#"{"clientId":"x","clientSecret":"y"}"#,
            ),
        };
        Ok(ZitadelRequest {
            method: HttpMethod::Post,
            path: path.into(),
            body: body.into(),
        })
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!(Evil);
