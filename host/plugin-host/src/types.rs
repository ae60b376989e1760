//! The host-side view of the plugin contracts: one set of Rust types, whatever WIT version a
//! plugin was built against (older bindings convert into these). They serialize to JSON for
//! the CLI (`gatehouse plugin test`) and the API.

use serde::{Deserialize, Serialize};

/// The tenant a call runs for: names and public URLs only, never credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantContext {
    pub tenant_id: String,
    pub tenant_name: String,
    pub zitadel_org_id: Option<String>,
    pub zitadel_url: String,
    pub public_url: String,
    pub locale: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Secret,
    Url,
    Select,
    Bool,
    List,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub help: Option<String>,
    pub placeholder: Option<String>,
    /// The default value, JSON-encoded.
    pub default_json: Option<String>,
    pub options: Vec<SelectOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStep {
    pub title: String,
    /// Markdown.
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub docs_url: Option<String>,
    pub fields: Vec<FormField>,
    pub setup_steps: Vec<SetupStep>,
}

/// A host and port an IdP integration needs (validated: DNS name or IP literal, port ≠ 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressHost {
    pub host: String,
    pub port: u16,
    pub purpose: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Put,
}

/// A ZITADEL management-API request for an IdP, checked by the host: `POST
/// /management/v1/idps/{type}` or `PUT /management/v1/idps/{type}/{id}`, body a JSON object.
/// The server adds credentials and the org header and sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZitadelRequest {
    pub method: HttpMethod,
    pub path: String,
    pub body: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub light: Vec<Token>,
    pub dark: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenInfo {
    pub id: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub default_tokens: TokenSet,
    pub screens: Vec<ScreenInfo>,
    pub default_strings: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderButton {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub href: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorScheme {
    Light,
    Dark,
    #[default]
    System,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderRequest {
    pub screen: String,
    pub tokens: TokenSet,
    pub color_scheme: ColorScheme,
    pub strings: Vec<KeyValue>,
    pub providers: Vec<ProviderButton>,
    pub errors: Vec<FieldError>,
    pub values: Vec<KeyValue>,
    pub action_url: String,
    pub csrf_token: String,
}

/// HTML and CSS from a theme. Untrusted markup: serve it inside the widget's Shadow DOM under a
/// strict CSP (no scripts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub html: String,
    pub css: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub config_schema: Vec<FormField>,
    pub event_types: Vec<String>,
}

/// A payload to deliver (checked: size, content type, JSON validity for JSON types, no
/// forbidden headers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub body: String,
    pub content_type: String,
    pub headers: Vec<KeyValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TransformOutcome {
    Deliver(Delivery),
    Drop { reason: String },
}

/// What `describe` returns, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PluginInfo {
    Provider(ProviderInfo),
    Widget(WidgetInfo),
    Webhook(WebhookInfo),
}
