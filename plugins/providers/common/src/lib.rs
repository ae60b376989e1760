//! What the built-in login providers share: the ZITADEL `providerOptions` form fields and body,
//! the display-name and scope fields, and the request builder.

use gatehouse_plugin::{
    Config, FieldKind, FormField, PluginError, SetupStep, TenantContext, ZitadelRequest, schema,
};
use serde_json::{Map, Value, json};

/// The display name field (`name` in ZITADEL).
pub fn name_field(default: &str) -> FormField {
    schema::field("display_name", "Button label", FieldKind::Text, false)
        .help("Shown on the login button; defaults to the provider's name.")
        .placeholder(default)
}

pub fn client_id_field(help: &str) -> FormField {
    schema::field("client_id", "Client ID", FieldKind::Text, true).help(help)
}

pub fn client_secret_field(help: &str) -> FormField {
    schema::field("client_secret", "Client secret", FieldKind::Secret, true).help(help)
}

pub fn scopes_field(defaults: &[&str]) -> FormField {
    schema::field("scopes", "Scopes", FieldKind::List, false)
        .help("OAuth scopes to request; leave empty for the defaults.")
        .default_value(json!(defaults))
}

/// ZITADEL's `providerOptions` as form fields.
pub fn option_fields() -> Vec<FormField> {
    vec![
        schema::field("allow_linking", "Allow linking", FieldKind::Bool, false)
            .help("Existing users may link this provider to their account.")
            .default_value(json!(true)),
        schema::field("allow_creation", "Allow sign-up", FieldKind::Bool, false)
            .help("New users may create an account with this provider.")
            .default_value(json!(true)),
        schema::field(
            "auto_creation",
            "Create accounts automatically",
            FieldKind::Bool,
            false,
        )
        .help("Skip the registration form for new users.")
        .default_value(json!(false)),
        schema::field(
            "auto_update",
            "Update profiles on login",
            FieldKind::Bool,
            false,
        )
        .help("Copy name and email from the provider at every login.")
        .default_value(json!(true)),
        schema::field(
            "auto_linking",
            "Link existing users by",
            FieldKind::Select,
            false,
        )
        .help("Match a returning external user to an existing account automatically.")
        .options(&[
            ("none", "Do not link automatically"),
            ("username", "Username"),
            ("email", "Email address"),
        ])
        .default_value(json!("none")),
    ]
}

/// `providerOptions` from the option fields.
pub fn provider_options(config: &Config) -> Result<Value, PluginError> {
    let auto_linking = match config.str("auto_linking").unwrap_or("none") {
        "none" => "AUTO_LINKING_OPTION_UNSPECIFIED",
        "username" => "AUTO_LINKING_OPTION_USERNAME",
        "email" => "AUTO_LINKING_OPTION_EMAIL",
        _ => {
            return Err(PluginError::invalid(
                "auto_linking",
                "must be one of: none, username, email",
            ));
        }
    };
    Ok(json!({
        "isLinkingAllowed": config.bool("allow_linking", true)?,
        "isCreationAllowed": config.bool("allow_creation", true)?,
        "isAutoCreation": config.bool("auto_creation", false)?,
        "isAutoUpdate": config.bool("auto_update", true)?,
        "autoLinking": auto_linking,
    }))
}

/// The scopes to request: the configured ones or `defaults`.
pub fn scopes(config: &Config, defaults: &[&str]) -> Result<Vec<String>, PluginError> {
    let configured = config.list("scopes")?;
    Ok(if configured.is_empty() {
        defaults.iter().map(|s| (*s).to_owned()).collect()
    } else {
        configured
    })
}

/// Starts a request body with the fields every provider has: `name`, `clientId`,
/// `clientSecret` (left out on update when empty: ZITADEL then keeps the stored one), `scopes`
/// and `providerOptions`.
pub fn base_body(
    config: &Config,
    default_name: &str,
    default_scopes: &[&str],
    existing_id: Option<&str>,
) -> Result<Map<String, Value>, PluginError> {
    let mut body = Map::new();
    body.insert(
        "name".into(),
        json!(config.str("display_name").unwrap_or(default_name)),
    );
    body.insert("clientId".into(), json!(config.require_str("client_id")?));
    match (config.str("client_secret"), existing_id) {
        (Some(secret), _) => {
            body.insert("clientSecret".into(), json!(secret));
        }
        (None, None) => {
            return Err(PluginError::invalid(
                "client_secret",
                "`client_secret` is required",
            ));
        }
        (None, Some(_)) => {}
    }
    body.insert("scopes".into(), json!(scopes(config, default_scopes)?));
    body.insert("providerOptions".into(), provider_options(config)?);
    Ok(body)
}

/// Checks an ZITADEL IdP id before it goes into a path: digits and letters only.
pub fn check_existing_id(existing_id: Option<&str>) -> Result<(), PluginError> {
    match existing_id {
        Some(id) if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) => Err(
            PluginError::invalid("existing_id", "not a valid ZITADEL IdP id"),
        ),
        _ => Ok(()),
    }
}

/// Builds the request (create or update) for `provider_path`.
pub fn request(
    provider_path: &str,
    existing_id: Option<&str>,
    body: Map<String, Value>,
) -> Result<ZitadelRequest, PluginError> {
    check_existing_id(existing_id)?;
    Ok(gatehouse_plugin::zitadel_idp_request(
        provider_path,
        existing_id,
        &Value::Object(body),
    ))
}

/// The step telling the admin where to paste the callback URL.
pub fn callback_step(ctx: Option<&TenantContext>, console: &str) -> SetupStep {
    let uri = ctx
        .map(|ctx| gatehouse_plugin::default_redirect_uris(ctx)[0].clone())
        .unwrap_or_else(|| "https://<your-zitadel-domain>/idps/callback".into());
    SetupStep {
        title: "Register the callback URL".into(),
        body: format!(
            "In {console}, add `{uri}` as an authorized redirect URI (Gatehouse shows the exact \
             list under *Redirect URIs* once the provider is saved)."
        ),
    }
}

pub fn step(title: &str, body: &str) -> SetupStep {
    SetupStep {
        title: title.into(),
        body: body.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        Config::parse(json).unwrap()
    }

    #[test]
    fn base_body_maps_options_and_defaults() {
        let body = base_body(
            &config(r#"{"client_id":"id","client_secret":"s","auto_linking":"email"}"#),
            "Google",
            &["openid"],
            None,
        )
        .unwrap();
        assert_eq!(body["name"], "Google");
        assert_eq!(body["clientId"], "id");
        assert_eq!(body["clientSecret"], "s");
        assert_eq!(body["scopes"], json!(["openid"]));
        assert_eq!(
            body["providerOptions"]["autoLinking"],
            "AUTO_LINKING_OPTION_EMAIL"
        );
        assert_eq!(body["providerOptions"]["isLinkingAllowed"], true);
        assert_eq!(body["providerOptions"]["isAutoCreation"], false);
    }

    #[test]
    fn secret_is_required_on_create_only() {
        let cfg = config(r#"{"client_id":"id"}"#);
        assert!(base_body(&cfg, "G", &[], None).is_err());
        let body = base_body(&cfg, "G", &[], Some("123")).unwrap();
        assert!(!body.contains_key("clientSecret"));
    }

    #[test]
    fn existing_ids_cannot_escape_the_path() {
        assert!(request("google", Some("../../admin"), Map::new()).is_err());
        assert!(request("google", Some(""), Map::new()).is_err());
        let req = request("google", Some("2839"), Map::new()).unwrap();
        assert_eq!(req.path, "/management/v1/idps/google/2839");
    }
}
