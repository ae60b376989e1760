//! Write [Gatehouse](https://github.com/) plugins in Rust.
//!
//! A Gatehouse plugin is a WebAssembly component of one of three kinds. Implement the trait of
//! your kind, export it with its macro, build for `wasm32-wasip2`:
//!
//! | kind | trait | macro | what the host asks |
//! |---|---|---|---|
//! | login provider | [`Provider`] | [`export_provider!`] | form schema, validation, redirect URIs, egress hosts, the ZITADEL IdP request |
//! | widget theme | [`Widget`] | [`export_widget!`] | default tokens and screens; render a screen to HTML + CSS |
//! | webhook transform | [`Webhook`] | [`export_webhook!`] | config schema and event types; event + config → deliver or drop |
//!
//! Every call runs in a fresh instance with a deadline and a memory cap: keep no state between
//! calls, expect no files, environment, network or credentials. Log with [`log`]; stdout and
//! stderr land in the same capped log.
//!
//! # A complete webhook transform
//!
//! ```
//! use gatehouse_plugin::{Config, Delivery, Outcome, PluginError, Webhook, WebhookInfo};
//!
//! struct Shout;
//!
//! impl Webhook for Shout {
//!     fn describe() -> WebhookInfo {
//!         WebhookInfo {
//!             id: "shout".into(),
//!             name: "Shout".into(),
//!             description: "Upper-cases the event type".into(),
//!             config_schema: vec![],
//!             event_types: vec!["*".into()],
//!         }
//!     }
//!
//!     fn transform(event: &str, _config: &Config) -> Result<Outcome, PluginError> {
//!         let event: serde_json::Value = gatehouse_plugin::parse_event(event)?;
//!         let kind = event["type"].as_str().unwrap_or_default().to_uppercase();
//!         Ok(Outcome::Deliver(Delivery::json(&serde_json::json!({ "type": kind }))))
//!     }
//! }
//!
//! gatehouse_plugin::export_webhook!(Shout);
//! # fn main() {
//! #     let out = Shout::transform(r#"{"type":"user.created"}"#, &Config::empty()).unwrap();
//! #     let Outcome::Deliver(d) = out else { panic!() };
//! #     assert_eq!(d.body, r#"{"type":"USER.CREATED"}"#);
//! # }
//! ```
//!
//! Complete providers and widgets: see [`Provider`] and [`Widget`], and the built-in plugins in
//! the Gatehouse repository (`plugins/`).

extern crate self as gatehouse_plugin;

mod bindings;
pub mod config;
pub mod html;
pub mod log;
mod macros;
pub mod schema;

pub use config::{Config, FieldErrors};

pub use bindings::provider::exports::gatehouse::provider::provider::{
    EgressHost, HttpMethod, ProviderInfo, SetupStep, ZitadelRequest,
};
pub use bindings::types::gatehouse::types::types::{
    FieldError, FieldKind, FormField, KeyValue, PluginError, SelectOption, TenantContext,
};
pub use bindings::webhook::exports::gatehouse::webhook::transformer::{
    Delivery, Outcome, WebhookInfo,
};
pub use bindings::widget::exports::gatehouse::widget::widget::{
    ColorScheme, ProviderButton, RenderRequest, Rendered, ScreenInfo, Token, TokenSet, WidgetInfo,
};

/// The WIT API version this SDK implements (`gatehouse:*@WIT_VERSION`). The export macros stamp
/// it into the component's `gatehouse:wit-version` custom section; the host reads it before
/// instantiating and picks matching bindings.
pub const WIT_VERSION: &str = "0.1.0";

/// Name of the custom section carrying the stamp.
pub const WIT_VERSION_SECTION: &str = "gatehouse:wit-version";

/// A login-provider wizard.
///
/// Only [`describe`](Provider::describe) and [`zitadel_idp`](Provider::zitadel_idp) are
/// required. The configuration arrives as a [`Config`] (the JSON object of the form, secrets
/// included).
///
/// ```
/// use gatehouse_plugin::{schema, Config, FieldKind, HttpMethod, PluginError, Provider,
///     ProviderInfo, TenantContext, ZitadelRequest};
///
/// struct Acme;
///
/// impl Provider for Acme {
///     fn describe() -> ProviderInfo {
///         ProviderInfo {
///             id: "acme".into(),
///             name: "Acme SSO".into(),
///             description: "Sign in with Acme".into(),
///             docs_url: None,
///             fields: vec![
///                 schema::field("client_id", "Client ID", FieldKind::Text, true),
///                 schema::field("client_secret", "Client secret", FieldKind::Secret, true),
///             ],
///             setup_steps: vec![],
///         }
///     }
///
///     fn zitadel_idp(_ctx: &TenantContext, config: &Config, existing_id: Option<&str>)
///         -> Result<ZitadelRequest, PluginError>
///     {
///         let body = serde_json::json!({
///             "name": "Acme",
///             "issuer": "https://sso.acme.example",
///             "clientId": config.require_str("client_id")?,
///             "clientSecret": config.str("client_secret").unwrap_or_default(),
///             "scopes": ["openid", "profile", "email"],
///         });
///         Ok(gatehouse_plugin::zitadel_idp_request("generic_oidc", existing_id, &body))
///     }
/// }
///
/// gatehouse_plugin::export_provider!(Acme);
/// # fn main() {}
/// ```
pub trait Provider {
    fn describe() -> ProviderInfo;

    /// Checks a configuration. The default checks it against the fields of `describe()`
    /// ([`schema::check`]): required fields present, kinds and select options respected.
    fn validate(_ctx: &TenantContext, config: &Config) -> Result<(), PluginError> {
        schema::check(&Self::describe().fields, config)
    }

    /// The callback URIs to register with the upstream IdP. The default is ZITADEL's two
    /// external-IdP callbacks (hosted login v2 and v1).
    fn redirect_uris(ctx: &TenantContext, _config: &Config) -> Result<Vec<String>, PluginError> {
        Ok(default_redirect_uris(ctx))
    }

    /// Hosts the integration talks to. The default is none.
    fn egress(_config: &Config) -> Result<Vec<EgressHost>, PluginError> {
        Ok(Vec::new())
    }

    /// The ZITADEL management request creating (`existing_id == None`) or updating the IdP.
    fn zitadel_idp(
        ctx: &TenantContext,
        config: &Config,
        existing_id: Option<&str>,
    ) -> Result<ZitadelRequest, PluginError>;
}

/// A login-widget theme.
///
/// ```
/// use gatehouse_plugin::{html, PluginError, RenderRequest, Rendered, TenantContext, TokenSet,
///     Widget, WidgetInfo};
///
/// struct Plain;
///
/// impl Widget for Plain {
///     fn describe() -> WidgetInfo {
///         WidgetInfo {
///             id: "plain".into(),
///             name: "Plain".into(),
///             description: "Unstyled".into(),
///             default_tokens: TokenSet { light: vec![], dark: vec![] },
///             screens: vec![],
///             default_strings: vec![],
///         }
///     }
///
///     fn render(_ctx: &TenantContext, req: &RenderRequest) -> Result<Rendered, PluginError> {
///         let title = gatehouse_plugin::string(&req.strings, "title").unwrap_or("Sign in");
///         Ok(Rendered {
///             html: format!("<h1>{}</h1>", html::escape(title)),
///             css: String::new(),
///         })
///     }
/// }
///
/// gatehouse_plugin::export_widget!(Plain);
/// # fn main() {}
/// ```
pub trait Widget {
    fn describe() -> WidgetInfo;
    fn render(ctx: &TenantContext, request: &RenderRequest) -> Result<Rendered, PluginError>;
}

/// A webhook payload transform. See the crate example.
pub trait Webhook {
    fn describe() -> WebhookInfo;
    /// `event` is the normalized event JSON (see [`parse_event`]); `config` the endpoint's
    /// configuration.
    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError>;
}

/// ZITADEL's external-IdP callback URIs for an instance: hosted login v2 (`/idps/callback`) and
/// the v1 login UI.
pub fn default_redirect_uris(ctx: &TenantContext) -> Vec<String> {
    let base = ctx.zitadel_url.trim_end_matches('/');
    vec![
        format!("{base}/idps/callback"),
        format!("{base}/ui/login/login/externalidp/callback"),
    ]
}

/// Builds the management-API v1 request for an org-level IdP of `provider_path` (`google`,
/// `github`, `azure`, `generic_oidc`, …): `POST /management/v1/idps/{provider_path}` to create,
/// `PUT /management/v1/idps/{provider_path}/{id}` to update.
pub fn zitadel_idp_request(
    provider_path: &str,
    existing_id: Option<&str>,
    body: &serde_json::Value,
) -> ZitadelRequest {
    let (method, path) = match existing_id {
        None => (
            HttpMethod::Post,
            format!("/management/v1/idps/{provider_path}"),
        ),
        Some(id) => (
            HttpMethod::Put,
            format!("/management/v1/idps/{provider_path}/{id}"),
        ),
    };
    ZitadelRequest {
        method,
        path,
        body: body.to_string(),
    }
}

/// Parses an event (or any JSON input) into `T`, which may borrow from it (`&str`, `&RawValue`
/// fields), mapping failure to `PluginError::Invalid` on field `event`.
pub fn parse_event<'a, T: serde::Deserialize<'a>>(event: &'a str) -> Result<T, PluginError> {
    serde_json::from_str(event).map_err(|err| {
        PluginError::Invalid(vec![FieldError {
            field: "event".into(),
            message: format!("not valid event JSON: {err}"),
        }])
    })
}

/// Looks a key up in a list of pairs (i18n strings, form values).
pub fn string<'a>(pairs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|pair| pair.key == key)
        .map(|pair| pair.value.as_str())
}

impl Delivery {
    /// A JSON delivery (`application/json`, no extra headers).
    pub fn json(body: &serde_json::Value) -> Self {
        Self {
            body: body.to_string(),
            content_type: "application/json".into(),
            headers: Vec::new(),
        }
    }
}

impl PluginError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::{provider, webhook, widget};
    pub use wit_bindgen;

    use crate::{Config, PluginError};

    /// The stamps, as the byte arrays the macros place in the custom section.
    pub const PROVIDER_STAMP: [u8; 24] = *b"gatehouse:provider@0.1.0";
    pub const WIDGET_STAMP: [u8; 22] = *b"gatehouse:widget@0.1.0";
    pub const WEBHOOK_STAMP: [u8; 23] = *b"gatehouse:webhook@0.1.0";

    pub fn config(json: &str) -> Result<Config, PluginError> {
        Config::parse(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_name_the_wit_version() {
        for stamp in [
            &__private::PROVIDER_STAMP[..],
            &__private::WIDGET_STAMP[..],
            &__private::WEBHOOK_STAMP[..],
        ] {
            let text = std::str::from_utf8(stamp).unwrap();
            assert!(text.starts_with("gatehouse:"));
            assert!(text.ends_with(&format!("@{WIT_VERSION}")), "{text}");
        }
    }

    #[test]
    fn idp_request_is_post_then_put() {
        let body = serde_json::json!({"clientId": "x"});
        let create = zitadel_idp_request("google", None, &body);
        assert!(matches!(create.method, HttpMethod::Post));
        assert_eq!(create.path, "/management/v1/idps/google");
        let update = zitadel_idp_request("google", Some("123"), &body);
        assert!(matches!(update.method, HttpMethod::Put));
        assert_eq!(update.path, "/management/v1/idps/google/123");
        assert_eq!(update.body, r#"{"clientId":"x"}"#);
    }

    #[test]
    fn redirect_uris_trim_the_trailing_slash() {
        let ctx = TenantContext {
            tenant_id: "ten_1".into(),
            tenant_name: "Acme".into(),
            zitadel_org_id: None,
            zitadel_url: "https://id.example/".into(),
            public_url: "https://gh.example".into(),
            locale: "en".into(),
        };
        assert_eq!(
            default_redirect_uris(&ctx),
            [
                "https://id.example/idps/callback",
                "https://id.example/ui/login/login/externalidp/callback"
            ]
        );
    }

    #[test]
    fn parse_event_reports_the_event_field() {
        let err = parse_event::<serde_json::Value>("{nope").unwrap_err();
        let PluginError::Invalid(errors) = err else {
            panic!("expected invalid")
        };
        assert_eq!(errors[0].field, "event");
    }
}
