//! The files of a new plugin project (`gatehouse plugin new <kind> <name>`): a standalone
//! cargo project building a component for `wasm32-wasip2` with the SDK, an example
//! implementation and a sample input for `gatehouse plugin test`.

use std::path::{Path, PathBuf};

use gatehouse_core::plugin::PluginKind;

/// Why a project cannot be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a valid plugin name: use 2-40 characters of a-z, 0-9 and `-`, starting \
         with a letter"
    )]
    Name(String),
}

/// `(relative path, contents)` of every file of a new project named `name` whose SDK
/// dependency points at `sdk_path` (the `sdk-guest/` directory).
pub fn files(
    kind: PluginKind,
    name: &str,
    sdk_path: &Path,
) -> Result<Vec<(PathBuf, String)>, ScaffoldError> {
    let valid = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::Name(name.chars().take(60).collect()));
    }
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let sdk = sdk_path.display().to_string().replace('\\', "/");
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "A Gatehouse {kind} plugin."
authors = ["You <you@example.com>"]
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
gatehouse-plugin = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

# `gatehouse plugin build` reads this table for the package manifest.
[package.metadata.gatehouse]
id = "example.{name}"
capabilities = ["log"]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A standalone project, even when created inside another cargo workspace.
[workspace]
"#
    );
    let cargo_config = r#"[build]
target = "wasm32-wasip2"

# A 64 KiB stack (Rust's default is 1 MiB): each call gets a fresh instance, and a smaller
# initial memory makes that much cheaper.
[target.wasm32-wasip2]
rustflags = ["-C", "link-arg=-zstack-size=65536"]
"#;
    let (lib, input) = match kind {
        PluginKind::Provider => (provider_lib(&type_name, name), PROVIDER_INPUT),
        PluginKind::Widget => (widget_lib(&type_name, name), WIDGET_INPUT),
        PluginKind::Webhook => (webhook_lib(&type_name, name), WEBHOOK_INPUT),
    };
    let readme = format!(
        "# {name}\n\nA Gatehouse {kind} plugin.\n\n```sh\n# unit tests (native)\ncargo test \
         --target x86_64-unknown-linux-gnu\n# build, then run under the production limits\n\
         gatehouse plugin build --key ~/.gatehouse/signing.key\ngatehouse plugin test \
         target/wasm32-wasip2/release/{}.wasm --input sample-input.json\n```\n\nSee \
         docs/plugins.md in the Gatehouse repository.\n",
        name.replace('-', "_")
    );
    Ok(vec![
        (PathBuf::from("Cargo.toml"), cargo_toml),
        (PathBuf::from(".cargo/config.toml"), cargo_config.to_owned()),
        (PathBuf::from("src/lib.rs"), lib),
        (PathBuf::from("sample-input.json"), input.to_owned()),
        (PathBuf::from("README.md"), readme),
        (
            PathBuf::from(".gitignore"),
            "/target\n*.tar.gz\n".to_owned(),
        ),
    ])
}

fn webhook_lib(type_name: &str, name: &str) -> String {
    format!(
        r##"//! A webhook transform: wraps each event in `{{"event": …, "source": "gatehouse"}}`.

use gatehouse_plugin::{{
    Config, Delivery, FieldKind, Outcome, PluginError, Webhook, WebhookInfo, schema,
}};
use serde_json::{{Value, json}};

pub struct {type_name};

impl Webhook for {type_name} {{
    fn describe() -> WebhookInfo {{
        WebhookInfo {{
            id: "{name}".into(),
            name: "{type_name}".into(),
            description: "Wraps each event in an envelope.".into(),
            config_schema: vec![
                schema::field("source", "Source", FieldKind::Text, false)
                    .default_value(json!("gatehouse")),
            ],
            event_types: vec!["*".into()],
        }}
    }}

    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError> {{
        let event: Value = gatehouse_plugin::parse_event(event)?;
        if event["type"] == "session.created" {{
            return Ok(Outcome::Drop("sessions are not forwarded".into()));
        }}
        let source = config.str("source").unwrap_or("gatehouse");
        Ok(Outcome::Deliver(Delivery::json(&json!({{ "event": event, "source": source }}))))
    }}
}}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!({type_name});

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn wraps_and_drops() {{
        let config = Config::parse(r#"{{"source":"test"}}"#).unwrap();
        let out = {type_name}::transform(r#"{{"type":"user.created"}}"#, &config).unwrap();
        assert!(matches!(out, Outcome::Deliver(d) if d.body.contains(r#""source":"test""#)));
        let out = {type_name}::transform(r#"{{"type":"session.created"}}"#, &config).unwrap();
        assert!(matches!(out, Outcome::Drop(_)));
    }}
}}
"##
    )
}

fn provider_lib(type_name: &str, name: &str) -> String {
    format!(
        r##"//! A login provider for an OpenID Connect IdP at a fixed issuer.

use gatehouse_plugin::{{
    Config, EgressHost, FieldKind, PluginError, Provider, ProviderInfo, SetupStep,
    TenantContext, ZitadelRequest, schema,
}};
use serde_json::json;

pub struct {type_name};

const ISSUER: &str = "https://login.example.com";

impl Provider for {type_name} {{
    fn describe() -> ProviderInfo {{
        ProviderInfo {{
            id: "{name}".into(),
            name: "{type_name}".into(),
            description: "Sign in with Example SSO.".into(),
            docs_url: Some("https://login.example.com/docs".into()),
            fields: vec![
                schema::field("client_id", "Client ID", FieldKind::Text, true),
                schema::field("client_secret", "Client secret", FieldKind::Secret, true),
            ],
            setup_steps: vec![SetupStep {{
                title: "Create a client".into(),
                body: "Register a confidential web client at Example SSO.".into(),
            }}],
        }}
    }}

    fn egress(_config: &Config) -> Result<Vec<EgressHost>, PluginError> {{
        Ok(vec![EgressHost {{
            host: "login.example.com".into(),
            port: 443,
            purpose: "OIDC endpoints".into(),
        }}])
    }}

    fn zitadel_idp(
        _ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError> {{
        let mut body = json!({{
            "name": "{type_name}",
            "issuer": ISSUER,
            "clientId": config.require_str("client_id")?,
            "scopes": ["openid", "profile", "email"],
            "usePkce": true,
        }});
        if let Some(secret) = config.str("client_secret") {{
            body["clientSecret"] = json!(secret);
        }}
        Ok(gatehouse_plugin::zitadel_idp_request("generic_oidc", existing_id, &body))
    }}
}}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_provider!({type_name});

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn builds_the_request() {{
        let config = Config::parse(r#"{{"client_id":"a","client_secret":"b"}}"#).unwrap();
        let ctx = TenantContext {{
            tenant_id: "ten_1".into(),
            tenant_name: "Acme".into(),
            zitadel_org_id: None,
            zitadel_url: "https://id.example".into(),
            public_url: "https://gh.example".into(),
            locale: "en".into(),
        }};
        {type_name}::validate(&ctx, &config).unwrap();
        let request = {type_name}::zitadel_idp(&ctx, &config, None).unwrap();
        assert_eq!(request.path, "/management/v1/idps/generic_oidc");
    }}
}}
"##
    )
}

fn widget_lib(type_name: &str, name: &str) -> String {
    format!(
        r##"//! A minimal login theme.

use gatehouse_plugin::{{
    PluginError, RenderRequest, Rendered, ScreenInfo, TenantContext, Token, TokenSet, Widget,
    WidgetInfo, html::escape,
}};

pub struct {type_name};

impl Widget for {type_name} {{
    fn describe() -> WidgetInfo {{
        let token = |name: &str, value: &str| Token {{ name: name.into(), value: value.into() }};
        WidgetInfo {{
            id: "{name}".into(),
            name: "{type_name}".into(),
            description: "A minimal theme.".into(),
            default_tokens: TokenSet {{
                light: vec![token("background", "hsl(0 0% 100%)"), token("foreground", "hsl(0 0% 5%)")],
                dark: vec![token("background", "hsl(0 0% 5%)"), token("foreground", "hsl(0 0% 98%)")],
            }},
            screens: vec![ScreenInfo {{ id: "sign-in".into(), description: "Sign in".into() }}],
            default_strings: vec![],
        }}
    }}

    fn render(_ctx: &TenantContext, request: &RenderRequest) -> Result<Rendered, PluginError> {{
        if request.screen != "sign-in" {{
            return Err(PluginError::Unsupported(format!("screen `{{}}`", request.screen)));
        }}
        let title = gatehouse_plugin::string(&request.strings, "title").unwrap_or("Sign in");
        let html = format!(
            "<main class=\"w\"><h1>{{}}</h1><form method=\"post\" action=\"{{}}\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{{}}\">\
             <label for=\"login\">Email</label><input id=\"login\" name=\"login_name\" \
             autocomplete=\"username\" required><button type=\"submit\">Continue</button>\
             </form></main>",
            escape(title),
            escape(&request.action_url),
            escape(&request.csrf_token),
        );
        let css = ".w{{background:var(--background);color:var(--foreground);padding:2rem}}".into();
        Ok(Rendered {{ html, css }})
    }}
}}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_widget!({type_name});
"##
    )
}

const WEBHOOK_INPUT: &str = r#"[
  {"call": "describe"},
  {"call": "webhook_transform",
   "event": {"id": "evt_01JDQ8X9W3N2D3V0T2K5Q7R8S9", "type": "user.created",
             "occurred_at": "2026-01-01T00:00:00.000Z", "tenant_id": "ten_01JDQ8X9W3N2D3V0T2K5Q7R8S9",
             "data": {"id": "usr_1", "email": "ada@example.com"}},
   "config": {"source": "sample"}}
]
"#;

const PROVIDER_INPUT: &str = r#"[
  {"call": "describe"},
  {"call": "provider_validate", "config": {"client_id": "abc", "client_secret": "s3cret"}},
  {"call": "provider_zitadel_idp",
   "ctx": {"tenant_id": "ten_1", "tenant_name": "Acme", "zitadel_url": "https://id.example",
           "public_url": "https://gatehouse.example", "locale": "en"},
   "config": {"client_id": "abc", "client_secret": "s3cret"}}
]
"#;

const WIDGET_INPUT: &str = r#"[
  {"call": "describe"},
  {"call": "widget_render",
   "request": {"screen": "sign-in", "action_url": "/login/submit", "csrf_token": "token",
               "strings": [{"key": "title", "value": "Welcome"}]}}
]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in ["X", "1abc", "a_b", "a b", ""] {
            assert!(
                files(PluginKind::Webhook, bad, Path::new("/sdk")).is_err(),
                "{bad}"
            );
        }
        let files = files(PluginKind::Webhook, "my-hook", Path::new("/opt/sdk-guest")).unwrap();
        let cargo = &files
            .iter()
            .find(|(p, _)| p == Path::new("Cargo.toml"))
            .unwrap()
            .1;
        assert!(cargo.contains(r#"gatehouse-plugin = { path = "/opt/sdk-guest" }"#));
        let lib = &files
            .iter()
            .find(|(p, _)| p == Path::new("src/lib.rs"))
            .unwrap()
            .1;
        assert!(lib.contains("pub struct MyHook;"));
        assert!(lib.contains("export_webhook!(MyHook)"));
    }

    #[test]
    fn sample_inputs_are_valid_calls() {
        for input in [WEBHOOK_INPUT, PROVIDER_INPUT, WIDGET_INPUT] {
            let calls: Vec<crate::Call> = serde_json::from_str(input).unwrap();
            assert!(calls.len() >= 2);
        }
    }
}
