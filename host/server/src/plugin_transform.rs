//! Webhook transforms over the server's plugins: the [`Transformer`] the delivery pipeline
//! calls, backed by [`Plugins`] (built-ins and installed plugins alike). An endpoint names a
//! plugin by id; each call runs the newest enabled version of it.

use async_trait::async_trait;
use gatehouse_core::{Error, webhook::Transform};
use gatehouse_plugin_host::{FieldKind, FormField, PluginError, PluginKind, TransformOutcome};
use gatehouse_webhooks::{TransformError, Transformed, Transformer};
use serde_json::Value;

use crate::plugins::Plugins;

/// Runs webhook transforms in the plugin host.
#[derive(Clone, Debug)]
pub struct PluginTransformer {
    plugins: Plugins,
}

impl PluginTransformer {
    pub fn new(plugins: Plugins) -> Self {
        Self { plugins }
    }

    /// The ids of the enabled webhook plugins, for "unknown plugin" messages.
    async fn available(&self) -> String {
        let mut ids: Vec<String> = self
            .plugins
            .list()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.plugin.kind == PluginKind::Webhook && p.plugin.enabled)
            .map(|p| p.plugin.id)
            .collect();
        ids.dedup();
        ids.join(", ")
    }
}

#[async_trait]
impl Transformer for PluginTransformer {
    async fn check(&self, transform: &Transform) -> Result<(), Error> {
        let plugin = match self.plugins.resolve(&transform.plugin, None).await {
            Ok(plugin) => plugin,
            Err(Error::NotFound { .. }) => {
                return Err(Error::invalid(
                    "transform.plugin",
                    format!(
                        "unknown webhook plugin `{}` (available: {})",
                        transform.plugin,
                        self.available().await
                    ),
                ));
            }
            Err(other) => return Err(other),
        };
        if plugin.kind() != PluginKind::Webhook {
            return Err(Error::invalid(
                "transform.plugin",
                format!(
                    "`{}` is a {} plugin, not a webhook transform",
                    transform.plugin,
                    plugin.kind()
                ),
            ));
        }
        if let Some(reason) = plugin.disabled_reason() {
            return Err(Error::invalid(
                "transform.plugin",
                format!("plugin {} is disabled: {reason}", transform.plugin),
            ));
        }
        let info = self
            .plugins
            .host()
            .describe_webhook(&plugin)
            .await
            .map_err(|err| {
                Error::invalid(
                    "transform.plugin",
                    format!(
                        "plugin {} could not describe its configuration: {err}",
                        transform.plugin
                    ),
                )
            })?;
        check_config(&info.config_schema, &transform.config)
    }

    async fn transform(
        &self,
        transform: &Transform,
        event_json: &str,
    ) -> Result<Transformed, TransformError> {
        let failed = |message: String| TransformError::Failed {
            plugin: transform.plugin.clone(),
            message,
        };
        let plugin = self
            .plugins
            .resolve(&transform.plugin, None)
            .await
            .map_err(|err| match err {
                Error::NotFound { .. } => failed("the plugin is not installed".into()),
                // Database trouble: a failed attempt, retried; no internals for tenants.
                _ => failed("the plugin registry is unavailable".into()),
            })?;
        let config = transform.config.to_string();
        match self
            .plugins
            .host()
            .call_webhook_transform(&plugin, event_json, &config)
            .await
        {
            Ok(TransformOutcome::Deliver(delivery)) => Ok(Transformed::Deliver {
                body: delivery.body,
                content_type: delivery.content_type,
                headers: delivery
                    .headers
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
            }),
            Ok(TransformOutcome::Drop { reason }) => Ok(Transformed::Drop { reason }),
            Err(PluginError::Disabled { reason, .. }) => Err(TransformError::Disabled {
                plugin: transform.plugin.clone(),
                reason,
            }),
            // PluginError's text names limits and faults, never host internals.
            Err(err) => Err(failed(err.to_string())),
        }
    }
}

/// Checks a transform config against the plugin's `describe` schema: no unknown fields,
/// required ones present (`null` counts as absent), each value of its field's kind.
pub fn check_config(schema: &[FormField], config: &Value) -> Result<(), Error> {
    let object = config.as_object().ok_or_else(|| {
        Error::invalid("transform.config", "transform.config must be a JSON object")
    })?;
    let path = |name: &str| format!("transform.config.{name}");
    if let Some(unknown) = object
        .keys()
        .find(|name| !schema.iter().any(|f| &f.name == *name))
    {
        let known: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
        let fields = if known.is_empty() {
            "it takes no configuration".to_owned()
        } else {
            format!("its fields: {}", known.join(", "))
        };
        return Err(Error::invalid(
            path(unknown),
            format!("unknown field `{unknown}` for this plugin ({fields})"),
        ));
    }
    for field in schema {
        let Some(value) = object.get(&field.name).filter(|v| !v.is_null()) else {
            if field.required {
                return Err(Error::invalid(
                    path(&field.name),
                    format!("`{}` is required", field.name),
                ));
            }
            continue;
        };
        if let Err(expected) = value_fits(field, value) {
            return Err(Error::invalid(
                path(&field.name),
                format!("`{}` must be {expected}", field.name),
            ));
        }
    }
    Ok(())
}

/// `Err(what was expected)` when `value` is not of the field's kind.
fn value_fits(field: &FormField, value: &Value) -> Result<(), String> {
    let (ok, expected) = match field.kind {
        FieldKind::Text | FieldKind::Secret => (value.is_string(), "a string".to_owned()),
        FieldKind::Url => (
            value.as_str().is_some_and(|s| {
                url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            }),
            "an http(s) URL".to_owned(),
        ),
        FieldKind::Bool => (value.is_boolean(), "true or false".to_owned()),
        FieldKind::List => (
            value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            "a list of strings".to_owned(),
        ),
        FieldKind::Select => (
            value
                .as_str()
                .is_some_and(|s| field.options.iter().any(|o| o.value == s)),
            format!(
                "one of {}",
                field
                    .options
                    .iter()
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    if ok { Ok(()) } else { Err(expected) }
}

#[cfg(test)]
mod tests {
    use gatehouse_plugin_host::SelectOption;
    use serde_json::json;

    use super::*;

    fn field(name: &str, kind: FieldKind, required: bool) -> FormField {
        FormField {
            name: name.into(),
            label: name.into(),
            kind,
            required,
            help: None,
            placeholder: None,
            default_json: None,
            options: vec![SelectOption {
                value: "a".into(),
                label: "A".into(),
            }],
        }
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::Invalid { field, .. } => field.unwrap().into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plugin_without_a_schema_takes_no_configuration() {
        let err = check_config(&[], &json!({"mode": "x"})).unwrap_err();
        assert!(err.to_string().contains("takes no configuration"), "{err}");
        check_config(&[], &json!({})).unwrap();
    }

    #[test]
    fn configs_are_checked_against_the_schema() {
        let schema = vec![
            field("title", FieldKind::Text, true),
            field("tags", FieldKind::List, false),
            field("on", FieldKind::Bool, false),
            field("mode", FieldKind::Select, false),
            field("link", FieldKind::Url, false),
        ];
        check_config(
            &schema,
            &json!({"title": "x", "tags": ["a"], "on": true, "mode": "a", "link": "https://x.example"}),
        )
        .unwrap();
        let cases = [
            (json!([]), "transform.config"),
            (json!({}), "transform.config.title"),
            (json!({"title": 1}), "transform.config.title"),
            (json!({"title": "x", "nope": 1}), "transform.config.nope"),
            (json!({"title": "x", "tags": [1]}), "transform.config.tags"),
            (json!({"title": "x", "on": "yes"}), "transform.config.on"),
            (json!({"title": "x", "mode": "b"}), "transform.config.mode"),
            (
                json!({"title": "x", "link": "ftp://x"}),
                "transform.config.link",
            ),
        ];
        for (config, field) in cases {
            assert_eq!(
                field_of(check_config(&schema, &config).unwrap_err()),
                field,
                "{config}"
            );
        }
        check_config(&schema, &json!({"title": "x", "tags": null})).unwrap();
    }
}
