//! One call into a plugin, version-independent: what to call ([`Call`]), what came back
//! ([`Output`]) and what it cost ([`CallReport`]). `gatehouse plugin test` reads a `Call` from
//! JSON and prints the result.

use std::time::Duration;

use gatehouse_core::plugin::PluginKind;
use serde::{Deserialize, Serialize};

use crate::{
    error::PluginError,
    types::{
        EgressHost, PluginInfo, RenderRequest, Rendered, TenantContext, TransformOutcome,
        ZitadelRequest,
    },
};

/// A call into a plugin. Configurations are JSON objects (`config` accepts any JSON value and
/// is passed on serialized).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    /// Any kind: the plugin's self-description.
    Describe,
    ProviderValidate {
        #[serde(default)]
        ctx: TenantContext,
        #[serde(default = "empty_object")]
        config: serde_json::Value,
    },
    ProviderRedirectUris {
        #[serde(default)]
        ctx: TenantContext,
        #[serde(default = "empty_object")]
        config: serde_json::Value,
    },
    ProviderEgress {
        #[serde(default = "empty_object")]
        config: serde_json::Value,
    },
    ProviderZitadelIdp {
        #[serde(default)]
        ctx: TenantContext,
        #[serde(default = "empty_object")]
        config: serde_json::Value,
        #[serde(default)]
        existing_id: Option<String>,
    },
    WidgetRender {
        #[serde(default)]
        ctx: TenantContext,
        request: RenderRequest,
    },
    WebhookTransform {
        /// The event JSON (any value; sent serialized).
        event: serde_json::Value,
        #[serde(default = "empty_object")]
        config: serde_json::Value,
    },
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl Call {
    /// The kind this call needs (`None`: any).
    pub fn kind(&self) -> Option<PluginKind> {
        match self {
            Self::Describe => None,
            Self::ProviderValidate { .. }
            | Self::ProviderRedirectUris { .. }
            | Self::ProviderEgress { .. }
            | Self::ProviderZitadelIdp { .. } => Some(PluginKind::Provider),
            Self::WidgetRender { .. } => Some(PluginKind::Widget),
            Self::WebhookTransform { .. } => Some(PluginKind::Webhook),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::ProviderValidate { .. } => "validate",
            Self::ProviderRedirectUris { .. } => "redirect-uris",
            Self::ProviderEgress { .. } => "egress",
            Self::ProviderZitadelIdp { .. } => "zitadel-idp",
            Self::WidgetRender { .. } => "render",
            Self::WebhookTransform { .. } => "transform",
        }
    }
}

/// A call with its arguments as the guest receives them (configurations serialized).
#[derive(Clone, Debug)]
pub(crate) enum Request {
    Describe,
    ProviderValidate(TenantContext, String),
    ProviderRedirectUris(TenantContext, String),
    ProviderEgress(String),
    ProviderZitadelIdp(TenantContext, String, Option<String>),
    WidgetRender(TenantContext, Box<RenderRequest>),
    WebhookTransform(String, String),
}

impl From<Call> for Request {
    fn from(call: Call) -> Self {
        let json = |value: serde_json::Value| match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        match call {
            Call::Describe => Self::Describe,
            Call::ProviderValidate { ctx, config } => Self::ProviderValidate(ctx, json(config)),
            Call::ProviderRedirectUris { ctx, config } => {
                Self::ProviderRedirectUris(ctx, json(config))
            }
            Call::ProviderEgress { config } => Self::ProviderEgress(json(config)),
            Call::ProviderZitadelIdp {
                ctx,
                config,
                existing_id,
            } => Self::ProviderZitadelIdp(ctx, json(config), existing_id),
            Call::WidgetRender { ctx, request } => Self::WidgetRender(ctx, Box::new(request)),
            Call::WebhookTransform { event, config } => {
                Self::WebhookTransform(json(event), json(config))
            }
        }
    }
}

impl Request {
    pub(crate) fn kind(&self) -> Option<PluginKind> {
        match self {
            Self::Describe => None,
            Self::ProviderValidate(..)
            | Self::ProviderRedirectUris(..)
            | Self::ProviderEgress(..)
            | Self::ProviderZitadelIdp(..) => Some(PluginKind::Provider),
            Self::WidgetRender(..) => Some(PluginKind::Widget),
            Self::WebhookTransform(..) => Some(PluginKind::Webhook),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::ProviderValidate(..) => "validate",
            Self::ProviderRedirectUris(..) => "redirect-uris",
            Self::ProviderEgress(..) => "egress",
            Self::ProviderZitadelIdp(..) => "zitadel-idp",
            Self::WidgetRender(..) => "render",
            Self::WebhookTransform(..) => "transform",
        }
    }

    /// Bytes of string data passed in, for the input cap.
    pub(crate) fn input_size(&self) -> usize {
        fn ctx(c: &TenantContext) -> usize {
            c.tenant_id.len()
                + c.tenant_name.len()
                + c.zitadel_org_id.as_ref().map_or(0, String::len)
                + c.zitadel_url.len()
                + c.public_url.len()
                + c.locale.len()
        }
        fn pairs(p: &[crate::types::KeyValue]) -> usize {
            p.iter().map(|kv| kv.key.len() + kv.value.len()).sum()
        }
        match self {
            Self::Describe => 0,
            Self::ProviderValidate(c, config) | Self::ProviderRedirectUris(c, config) => {
                ctx(c) + config.len()
            }
            Self::ProviderEgress(config) => config.len(),
            Self::ProviderZitadelIdp(c, config, id) => {
                ctx(c) + config.len() + id.as_ref().map_or(0, String::len)
            }
            Self::WidgetRender(c, r) => {
                let tokens: usize = r
                    .tokens
                    .light
                    .iter()
                    .chain(&r.tokens.dark)
                    .map(|t| t.name.len() + t.value.len())
                    .sum();
                let providers: usize = r
                    .providers
                    .iter()
                    .map(|p| p.id.len() + p.name.len() + p.kind.len() + p.href.len())
                    .sum();
                let errors: usize = r
                    .errors
                    .iter()
                    .map(|e| e.field.len() + e.message.len())
                    .sum();
                ctx(c)
                    + r.screen.len()
                    + tokens
                    + pairs(&r.strings)
                    + providers
                    + errors
                    + pairs(&r.values)
                    + r.action_url.len()
                    + r.csrf_token.len()
            }
            Self::WebhookTransform(event, config) => event.len() + config.len(),
        }
    }
}

/// What a call returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum Output {
    Info(PluginInfo),
    Validated,
    RedirectUris { uris: Vec<String> },
    Egress { hosts: Vec<EgressHost> },
    ZitadelIdp(ZitadelRequest),
    Rendered(Rendered),
    Transformed(TransformOutcome),
}

/// What one call cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CallReport {
    /// Instantiate + call + output checks.
    #[serde(with = "duration_us")]
    pub wall_time: Duration,
    /// Largest linear-memory size the instance reached, bytes.
    pub peak_memory_bytes: u64,
    /// Instructions executed (wasmtime fuel units); only on a metering host
    /// (`gatehouse plugin test`), never in production.
    pub fuel_consumed: Option<u64>,
    /// The capped log (log import, stdout, stderr).
    pub log: Vec<LogLine>,
    /// Whether log lines were dropped at the cap.
    pub log_truncated: bool,
}

mod duration_us {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `debug`, `info`, `warn`, `error`, or `stdout` / `stderr`.
    pub level: &'static str,
    pub message: String,
}

/// A call's result with its report.
#[derive(Debug)]
pub struct CallResult {
    pub output: Result<Output, PluginError>,
    pub report: CallReport,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_parse_from_json() {
        let call: Call =
            serde_json::from_str(r#"{"call":"webhook_transform","event":{"type":"user.created"}}"#)
                .unwrap();
        assert_eq!(call.kind(), Some(PluginKind::Webhook));
        let Call::WebhookTransform { config, .. } = &call else {
            panic!("wrong call")
        };
        assert_eq!(config, &serde_json::json!({}));
        assert!(serde_json::from_str::<Call>(r#"{"call":"launch"}"#).is_err());
        assert!(serde_json::from_str::<Call>(r#"{"call":"provider_egress","cfg":{}}"#).is_err());
        let call: Call = serde_json::from_str(r#"{"call":"describe"}"#).unwrap();
        assert_eq!(call.kind(), None);
    }
}
