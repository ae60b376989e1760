//! Bindings for `wit/since_v0.1.0` (`gatehouse:*@0.1.0`), and conversions into the
//! version-independent [`crate::types`].

use gatehouse_core::plugin::PluginKind;
use wasmtime::{
    Store,
    component::{Component, HasSelf, Linker},
};

use crate::{
    call::{Output, Request},
    error::{LoadError, PluginFailure},
    state::CallState,
    types as t,
};

pub(crate) const VERSION: semver::Version = semver::Version::new(0, 1, 0);

mod provider {
    wasmtime::component::bindgen!({
        path: ["../../wit/since_v0.1.0/types.wit", "../../wit/since_v0.1.0/provider.wit"],
        world: "gatehouse:provider/provider-plugin@0.1.0",
    });
}

mod widget {
    wasmtime::component::bindgen!({
        path: ["../../wit/since_v0.1.0/types.wit", "../../wit/since_v0.1.0/widget.wit"],
        world: "gatehouse:widget/widget-plugin@0.1.0",
        with: {
            "gatehouse:types/types@0.1.0": super::provider::gatehouse::types::types,
            "gatehouse:types/log@0.1.0": super::provider::gatehouse::types::log,
        },
    });
}

mod webhook {
    wasmtime::component::bindgen!({
        path: ["../../wit/since_v0.1.0/types.wit", "../../wit/since_v0.1.0/webhook.wit"],
        world: "gatehouse:webhook/webhook-plugin@0.1.0",
        with: {
            "gatehouse:types/types@0.1.0": super::provider::gatehouse::types::types,
            "gatehouse:types/log@0.1.0": super::provider::gatehouse::types::log,
        },
    });
}

use provider::exports::gatehouse::provider::provider as p;
use provider::gatehouse::types::{log, types as wt};
use webhook::exports::gatehouse::webhook::transformer as h;
use widget::exports::gatehouse::widget::widget as w;

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.log.push(level, message.as_bytes());
    }
}

impl wt::Host for CallState {}

pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    log::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    wt::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
}

pub(crate) enum Pre {
    Provider(provider::ProviderPluginPre<CallState>),
    Widget(widget::WidgetPluginPre<CallState>),
    Webhook(webhook::WebhookPluginPre<CallState>),
}

impl Pre {
    pub(crate) fn new(
        kind: PluginKind,
        linker: &Linker<CallState>,
        component: &Component,
    ) -> Result<Self, LoadError> {
        let link = |err: wasmtime::Error| LoadError::Link(format!("{err:#}"));
        let pre = linker.instantiate_pre(component).map_err(link)?;
        Ok(match kind {
            PluginKind::Provider => {
                Self::Provider(provider::ProviderPluginPre::new(pre).map_err(link)?)
            }
            PluginKind::Widget => Self::Widget(widget::WidgetPluginPre::new(pre).map_err(link)?),
            PluginKind::Webhook => {
                Self::Webhook(webhook::WebhookPluginPre::new(pre).map_err(link)?)
            }
        })
    }

    pub(crate) fn call(
        &self,
        store: &mut Store<CallState>,
        request: &Request,
    ) -> wasmtime::Result<Result<Output, PluginFailure>> {
        match self {
            Self::Provider(pre) => {
                let instance = pre.instantiate(&mut *store)?;
                let guest = instance.gatehouse_provider_provider();
                Ok(match request {
                    Request::Describe => Ok(Output::Info(t::PluginInfo::Provider(
                        guest.call_describe(&mut *store)?.into(),
                    ))),
                    Request::ProviderValidate(ctx, config) => guest
                        .call_validate(&mut *store, &tenant(ctx), config)?
                        .map(|()| Output::Validated)
                        .map_err(Into::into),
                    Request::ProviderRedirectUris(ctx, config) => guest
                        .call_redirect_uris(&mut *store, &tenant(ctx), config)?
                        .map(|uris| Output::RedirectUris { uris })
                        .map_err(Into::into),
                    Request::ProviderEgress(config) => guest
                        .call_egress(&mut *store, config)?
                        .map(|hosts| Output::Egress {
                            hosts: hosts.into_iter().map(Into::into).collect(),
                        })
                        .map_err(Into::into),
                    Request::ProviderZitadelIdp(ctx, config, existing) => guest
                        .call_zitadel_idp(&mut *store, &tenant(ctx), config, existing.as_deref())?
                        .map(|req| Output::ZitadelIdp(zitadel_request(req)))
                        .map_err(Into::into),
                    _ => unreachable!("the host checks the call's kind first"),
                })
            }
            Self::Widget(pre) => {
                let instance = pre.instantiate(&mut *store)?;
                let guest = instance.gatehouse_widget_widget();
                Ok(match request {
                    Request::Describe => Ok(Output::Info(t::PluginInfo::Widget(
                        guest.call_describe(&mut *store)?.into(),
                    ))),
                    Request::WidgetRender(ctx, request) => guest
                        .call_render(&mut *store, &tenant(ctx), &render_request(request))?
                        .map(|r| {
                            Output::Rendered(t::Rendered {
                                html: r.html,
                                css: r.css,
                            })
                        })
                        .map_err(Into::into),
                    _ => unreachable!("the host checks the call's kind first"),
                })
            }
            Self::Webhook(pre) => {
                let instance = pre.instantiate(&mut *store)?;
                let guest = instance.gatehouse_webhook_transformer();
                Ok(match request {
                    Request::Describe => Ok(Output::Info(t::PluginInfo::Webhook(
                        guest.call_describe(&mut *store)?.into(),
                    ))),
                    Request::WebhookTransform(event, config) => guest
                        .call_transform(&mut *store, event, config)?
                        .map(|outcome| Output::Transformed(outcome.into()))
                        .map_err(Into::into),
                    _ => unreachable!("the host checks the call's kind first"),
                })
            }
        }
    }
}

/// A live webhook instance (benchmarks only; see `host::ReusedWebhook`).
pub(crate) struct WebhookInstance(webhook::WebhookPlugin);

impl WebhookInstance {
    pub(crate) fn transform(
        &self,
        store: &mut Store<CallState>,
        event: &str,
        config: &str,
    ) -> wasmtime::Result<Result<t::TransformOutcome, PluginFailure>> {
        Ok(self
            .0
            .gatehouse_webhook_transformer()
            .call_transform(store, event, config)?
            .map(Into::into)
            .map_err(Into::into))
    }
}

impl Pre {
    pub(crate) fn instantiate_webhook(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<WebhookInstance> {
        match self {
            Self::Webhook(pre) => Ok(WebhookInstance(pre.instantiate(store)?)),
            _ => Err(wasmtime::format_err!("not a webhook plugin")),
        }
    }
}

// ---- host → guest ----

fn tenant(ctx: &t::TenantContext) -> wt::TenantContext {
    wt::TenantContext {
        tenant_id: ctx.tenant_id.clone(),
        tenant_name: ctx.tenant_name.clone(),
        zitadel_org_id: ctx.zitadel_org_id.clone(),
        zitadel_url: ctx.zitadel_url.clone(),
        public_url: ctx.public_url.clone(),
        locale: ctx.locale.clone(),
    }
}

fn pairs_in(pairs: &[t::KeyValue]) -> Vec<wt::KeyValue> {
    pairs
        .iter()
        .map(|kv| wt::KeyValue {
            key: kv.key.clone(),
            value: kv.value.clone(),
        })
        .collect()
}

fn tokens_in(tokens: &[t::Token]) -> Vec<w::Token> {
    tokens
        .iter()
        .map(|tok| w::Token {
            name: tok.name.clone(),
            value: tok.value.clone(),
        })
        .collect()
}

fn render_request(r: &t::RenderRequest) -> w::RenderRequest {
    w::RenderRequest {
        screen: r.screen.clone(),
        tokens: w::TokenSet {
            light: tokens_in(&r.tokens.light),
            dark: tokens_in(&r.tokens.dark),
        },
        color_scheme: match r.color_scheme {
            t::ColorScheme::Light => w::ColorScheme::Light,
            t::ColorScheme::Dark => w::ColorScheme::Dark,
            t::ColorScheme::System => w::ColorScheme::System,
        },
        strings: pairs_in(&r.strings),
        providers: r
            .providers
            .iter()
            .map(|b| w::ProviderButton {
                id: b.id.clone(),
                name: b.name.clone(),
                kind: b.kind.clone(),
                href: b.href.clone(),
            })
            .collect(),
        errors: r
            .errors
            .iter()
            .map(|e| wt::FieldError {
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect(),
        values: pairs_in(&r.values),
        action_url: r.action_url.clone(),
        csrf_token: r.csrf_token.clone(),
    }
}

// ---- guest → host ----

fn pairs_out(pairs: Vec<wt::KeyValue>) -> Vec<t::KeyValue> {
    pairs
        .into_iter()
        .map(|kv| t::KeyValue {
            key: kv.key,
            value: kv.value,
        })
        .collect()
}

impl From<wt::PluginError> for PluginFailure {
    fn from(err: wt::PluginError) -> Self {
        match err {
            wt::PluginError::Invalid(errors) => PluginFailure::Invalid {
                errors: errors
                    .into_iter()
                    .map(|e| t::FieldError {
                        field: e.field,
                        message: e.message,
                    })
                    .collect(),
            },
            wt::PluginError::Unsupported(message) => PluginFailure::Unsupported { message },
            wt::PluginError::Internal(message) => PluginFailure::Internal { message },
        }
    }
}

impl From<wt::FormField> for t::FormField {
    fn from(f: wt::FormField) -> Self {
        Self {
            name: f.name,
            label: f.label,
            kind: match f.kind {
                wt::FieldKind::Text => t::FieldKind::Text,
                wt::FieldKind::Secret => t::FieldKind::Secret,
                wt::FieldKind::Url => t::FieldKind::Url,
                wt::FieldKind::Select => t::FieldKind::Select,
                wt::FieldKind::Bool => t::FieldKind::Bool,
                wt::FieldKind::List => t::FieldKind::List,
            },
            required: f.required,
            help: f.help,
            placeholder: f.placeholder,
            default_json: f.default_json,
            options: f
                .options
                .into_iter()
                .map(|o| t::SelectOption {
                    value: o.value,
                    label: o.label,
                })
                .collect(),
        }
    }
}

impl From<p::ProviderInfo> for t::ProviderInfo {
    fn from(i: p::ProviderInfo) -> Self {
        Self {
            id: i.id,
            name: i.name,
            description: i.description,
            docs_url: i.docs_url,
            fields: i.fields.into_iter().map(Into::into).collect(),
            setup_steps: i
                .setup_steps
                .into_iter()
                .map(|s| t::SetupStep {
                    title: s.title,
                    body: s.body,
                })
                .collect(),
        }
    }
}

impl From<p::EgressHost> for t::EgressHost {
    fn from(e: p::EgressHost) -> Self {
        Self {
            host: e.host,
            port: e.port,
            purpose: e.purpose,
        }
    }
}

/// The body stays a string here; the host's output check parses it.
fn zitadel_request(req: p::ZitadelRequest) -> t::ZitadelRequest {
    t::ZitadelRequest {
        method: match req.method {
            p::HttpMethod::Post => t::HttpMethod::Post,
            p::HttpMethod::Put => t::HttpMethod::Put,
        },
        path: req.path,
        body: serde_json::Value::String(req.body),
    }
}

fn tokens_out(tokens: Vec<w::Token>) -> Vec<t::Token> {
    tokens
        .into_iter()
        .map(|tok| t::Token {
            name: tok.name,
            value: tok.value,
        })
        .collect()
}

impl From<w::WidgetInfo> for t::WidgetInfo {
    fn from(i: w::WidgetInfo) -> Self {
        Self {
            id: i.id,
            name: i.name,
            description: i.description,
            default_tokens: t::TokenSet {
                light: tokens_out(i.default_tokens.light),
                dark: tokens_out(i.default_tokens.dark),
            },
            screens: i
                .screens
                .into_iter()
                .map(|s| t::ScreenInfo {
                    id: s.id,
                    description: s.description,
                })
                .collect(),
            default_strings: pairs_out(i.default_strings),
        }
    }
}

impl From<h::WebhookInfo> for t::WebhookInfo {
    fn from(i: h::WebhookInfo) -> Self {
        Self {
            id: i.id,
            name: i.name,
            description: i.description,
            config_schema: i.config_schema.into_iter().map(Into::into).collect(),
            event_types: i.event_types,
        }
    }
}

impl From<h::Outcome> for t::TransformOutcome {
    fn from(o: h::Outcome) -> Self {
        match o {
            h::Outcome::Deliver(d) => Self::Deliver(t::Delivery {
                body: d.body,
                content_type: d.content_type,
                headers: pairs_out(d.headers),
            }),
            h::Outcome::Drop(reason) => Self::Drop { reason },
        }
    }
}
