//! Sign in with Microsoft Entra ID (`/management/v1/idps/azure`): tenant type or tenant id and
//! the email-verified flag (Entra sends no `email_verified` claim).

use gatehouse_plugin::{
    Config, EgressHost, FieldKind, PluginError, Provider, ProviderInfo, TenantContext,
    ZitadelRequest, schema,
};
use gatehouse_provider_common as common;
use serde_json::{Value, json};

pub struct Microsoft;

const SCOPES: &[&str] = &["openid", "profile", "email", "User.Read"];

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// ZITADEL's `tenant` oneof: `{tenantType}` or `{tenantId}`.
fn tenant(config: &Config) -> Result<Value, PluginError> {
    match config.str("tenant_type").unwrap_or("common") {
        "common" => Ok(json!({"tenantType": "AZURE_AD_TENANT_TYPE_COMMON"})),
        "organizations" => Ok(json!({"tenantType": "AZURE_AD_TENANT_TYPE_ORGANISATIONS"})),
        "consumers" => Ok(json!({"tenantType": "AZURE_AD_TENANT_TYPE_CONSUMERS"})),
        "tenant_id" => {
            let id = config.str("tenant_id").ok_or_else(|| {
                PluginError::invalid(
                    "tenant_id",
                    "required when the tenant is a specific directory",
                )
            })?;
            if !is_guid(id) {
                return Err(PluginError::invalid(
                    "tenant_id",
                    "must be the directory (tenant) ID, a GUID",
                ));
            }
            Ok(json!({"tenantId": id.to_ascii_lowercase()}))
        }
        _ => Err(PluginError::invalid(
            "tenant_type",
            "must be one of: common, organizations, consumers, tenant_id",
        )),
    }
}

impl Provider for Microsoft {
    fn describe() -> ProviderInfo {
        let mut fields = vec![
            common::name_field("Microsoft"),
            common::client_id_field("The app registration's Application (client) ID."),
            common::client_secret_field("A client secret *value* from Certificates & secrets."),
            schema::field("tenant_type", "Who can sign in", FieldKind::Select, true)
                .options(&[
                    ("common", "Any Microsoft account (work, school or personal)"),
                    ("organizations", "Any work or school account"),
                    ("consumers", "Personal Microsoft accounts only"),
                    ("tenant_id", "One directory (single tenant)"),
                ])
                .default_value(json!("common")),
            schema::field("tenant_id", "Directory (tenant) ID", FieldKind::Text, false)
                .help("Required for single-tenant apps: the GUID on the app's Overview page.")
                .placeholder("00000000-0000-0000-0000-000000000000"),
            schema::field(
                "email_verified",
                "Trust email addresses",
                FieldKind::Bool,
                false,
            )
            .help(
                "Entra ID sends no email_verified claim; mark emails as verified only if \
                       you trust the directory.",
            )
            .default_value(json!(false)),
            common::scopes_field(SCOPES),
        ];
        fields.extend(common::option_fields());
        ProviderInfo {
            id: "microsoft".into(),
            name: "Microsoft".into(),
            description: "Let users sign in with Microsoft Entra ID (work, school or personal \
                          Microsoft accounts)."
                .into(),
            docs_url: Some(
                "https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app"
                    .into(),
            ),
            fields,
            setup_steps: vec![
                common::step(
                    "Register an application",
                    "In the Microsoft Entra admin center open *App registrations → New \
                     registration*, pick the supported account types and platform *Web*.",
                ),
                common::callback_step(None, "the registration's *Redirect URIs*"),
                common::step(
                    "Create a client secret",
                    "Under *Certificates & secrets* add a client secret and copy its value (not \
                     its ID); copy the Application (client) ID and, for single-tenant apps, the \
                     Directory (tenant) ID.",
                ),
            ],
        }
    }

    fn validate(_ctx: &TenantContext, config: &Config) -> Result<(), PluginError> {
        gatehouse_plugin::schema::check(&Self::describe().fields, config)?;
        tenant(config).map(drop)
    }

    fn egress(_config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        Ok(vec![
            EgressHost {
                host: "login.microsoftonline.com".into(),
                port: 443,
                purpose: "authorization, token and key endpoints".into(),
            },
            EgressHost {
                host: "graph.microsoft.com".into(),
                port: 443,
                purpose: "user profile (User.Read)".into(),
            },
        ])
    }

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {
        let mut body = common::base_body(config, "Microsoft", SCOPES, existing_id)?;
        body.insert("tenant".into(), tenant(config)?);
        body.insert(
            "emailVerified".into(),
            json!(config.bool("email_verified", false)?),
        );
        common::request("azure", existing_id, body)
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!(Microsoft);

#[cfg(test)]
mod tests {
    use super::*;

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

    fn body(json: &str) -> Value {
        let config = Config::parse(json).unwrap();
        Microsoft::validate(&ctx(), &config).unwrap();
        let req = Microsoft::zitadel_idp(&ctx(), &config, None).unwrap();
        assert_eq!(req.path, "/management/v1/idps/azure");
        serde_json::from_str(&req.body).unwrap()
    }

    #[test]
    fn tenant_types() {
        let b = body(r#"{"client_id":"c","client_secret":"s","tenant_type":"organizations"}"#);
        assert_eq!(
            b["tenant"],
            json!({"tenantType": "AZURE_AD_TENANT_TYPE_ORGANISATIONS"})
        );
        assert_eq!(b["emailVerified"], false);
        assert_eq!(
            b["scopes"],
            json!(["openid", "profile", "email", "User.Read"])
        );
    }

    #[test]
    fn single_tenant_with_verified_email() {
        let b = body(
            r#"{"client_id":"c","client_secret":"s","tenant_type":"tenant_id",
                "tenant_id":"0F6E1C1A-1111-2222-3333-444455556666","email_verified":true}"#,
        );
        assert_eq!(
            b["tenant"],
            json!({"tenantId": "0f6e1c1a-1111-2222-3333-444455556666"})
        );
        assert_eq!(b["emailVerified"], true);
    }

    #[test]
    fn tenant_id_must_be_a_guid() {
        let config = Config::parse(
            r#"{"client_id":"c","client_secret":"s","tenant_type":"tenant_id","tenant_id":"acme"}"#,
        )
        .unwrap();
        assert!(Microsoft::validate(&ctx(), &config).is_err());
    }
}
