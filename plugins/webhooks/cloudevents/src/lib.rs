//! Wraps a Gatehouse event in a CloudEvents 1.0 structured-mode JSON envelope
//! (`application/cloudevents+json`): `specversion`, `id`, `source`, `type`, `time`, `subject`,
//! `datacontenttype`, `data`.

use gatehouse_plugin::{
    Config, Delivery, FieldKind, Outcome, PluginError, Webhook, WebhookInfo, schema,
};
use serde_json::{Map, Value, json};

pub struct CloudEvents;

/// The transform without the plugin wrapper, so a native build can run the same code (the
/// plugin host's benchmark compares both).
pub fn envelope(event: &str, config: &Config) -> Result<String, PluginError> {
    let mut event: Map<String, Value> = gatehouse_plugin::parse_event(event)?;
    let id = match event.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => return Err(PluginError::invalid("event.id", "the event has no id")),
    };
    let kind = match event.get("type") {
        Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
        _ => return Err(PluginError::invalid("event.type", "the event has no type")),
    };
    let tenant = event
        .get("tenant_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let source = match config.str("source") {
        Some(source) => source.replace("{tenant_id}", tenant.as_deref().unwrap_or("platform")),
        None => format!("/gatehouse/{}", tenant.as_deref().unwrap_or("platform")),
    };
    let prefix = config.str("type_prefix").unwrap_or("com.gatehouse.");
    let mut envelope = Map::new();
    envelope.insert("specversion".into(), json!("1.0"));
    envelope.insert("id".into(), json!(id));
    envelope.insert("source".into(), json!(source));
    envelope.insert("type".into(), json!(format!("{prefix}{kind}")));
    if let Some(time) = event.get("occurred_at").filter(|t| t.is_string()) {
        envelope.insert("time".into(), time.clone());
    }
    let data = event.remove("data").unwrap_or(Value::Null);
    if let Some(subject) = data.get("id").and_then(Value::as_str) {
        envelope.insert("subject".into(), json!(subject));
    }
    envelope.insert("datacontenttype".into(), json!("application/json"));
    if let Some(tenant) = tenant {
        // CloudEvents extension attribute names are lowercase alphanumerics.
        envelope.insert("gatehousetenant".into(), json!(tenant));
    }
    envelope.insert("data".into(), data);
    Ok(Value::Object(envelope).to_string())
}

impl Webhook for CloudEvents {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "cloudevents".into(),
            name: "CloudEvents".into(),
            description: "Wraps each event in a CloudEvents 1.0 JSON envelope.".into(),
            config_schema: vec![
                schema::field("source", "Source", FieldKind::Text, false)
                    .help("The `source` attribute (URI reference); `{tenant_id}` is replaced.")
                    .default_value(json!("/gatehouse/{tenant_id}")),
                schema::field("type_prefix", "Type prefix", FieldKind::Text, false)
                    .help("Prepended to the event type, reverse-DNS style.")
                    .default_value(json!("com.gatehouse.")),
            ],
            event_types: vec!["*".into()],
        }
    }

    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError> {
        Ok(Outcome::Deliver(Delivery {
            body: envelope(event, config)?,
            content_type: "application/cloudevents+json".into(),
            headers: Vec::new(),
        }))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(CloudEvents);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_event() {
        let event = r#"{"id":"evt_1","type":"user.created","occurred_at":"2026-01-01T00:00:00.000Z",
            "tenant_id":"ten_9","data":{"id":"usr_1","email":"a@x.example"}}"#;
        let body = envelope(event, &Config::empty()).unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            json!({
                "specversion": "1.0", "id": "evt_1", "source": "/gatehouse/ten_9",
                "type": "com.gatehouse.user.created", "time": "2026-01-01T00:00:00.000Z",
                "subject": "usr_1", "datacontenttype": "application/json",
                "gatehousetenant": "ten_9",
                "data": {"id": "usr_1", "email": "a@x.example"}
            })
        );
    }

    #[test]
    fn config_and_missing_fields() {
        let config =
            Config::parse(r#"{"source":"urn:acme:{tenant_id}","type_prefix":"io.acme."}"#).unwrap();
        let body = envelope(r#"{"id":"e","type":"t","data":null}"#, &config).unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["source"], "urn:acme:platform");
        assert_eq!(value["type"], "io.acme.t");
        assert!(envelope(r#"{"type":"t"}"#, &config).is_err());
        assert!(envelope("[]", &config).is_err());
    }
}
