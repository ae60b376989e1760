//! A Slack-compatible incoming-webhook message (`text` + Block Kit `blocks`) describing the
//! event. Works with Slack and the many chat tools that accept the same payload.

use gatehouse_plugin::{
    Config, Delivery, FieldKind, Outcome, PluginError, Webhook, WebhookInfo, schema,
};
use serde_json::{Map, Value, json};

pub struct Slack;

/// Escapes the three characters Slack's mrkdwn treats specially.
fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Up to ten top-level scalar fields of `data`, as Block Kit section fields.
fn fields(data: &Value) -> Vec<Value> {
    data.as_object()
        .into_iter()
        .flat_map(Map::iter)
        .filter_map(|(key, value)| scalar(value).map(|v| (key, v)))
        .take(10)
        .map(|(key, value)| {
            let value: String = value.chars().take(200).collect();
            json!({"type": "mrkdwn", "text": format!("*{}*\n{}", mrkdwn(key), mrkdwn(&value))})
        })
        .collect()
}

impl Webhook for Slack {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "slack".into(),
            name: "Slack message".into(),
            description: "Posts a readable message to a Slack (or compatible) incoming webhook."
                .into(),
            config_schema: vec![
                schema::field("title", "Title", FieldKind::Text, false)
                    .help("Message heading; `{type}` is replaced by the event type.")
                    .default_value(json!("Gatehouse: {type}")),
                schema::field("channel", "Channel override", FieldKind::Text, false)
                    .help("Only for legacy webhooks that allow it, e.g. #alerts."),
                schema::field("username", "Bot name", FieldKind::Text, false),
                schema::field("icon_emoji", "Icon emoji", FieldKind::Text, false)
                    .placeholder(":lock:"),
            ],
            event_types: vec!["*".into()],
        }
    }

    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError> {
        let event: Value = gatehouse_plugin::parse_event(event)?;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("event");
        let title = config
            .str("title")
            .unwrap_or("Gatehouse: {type}")
            .replace("{type}", kind);
        let mut context = Vec::new();
        for (label, key) in [
            ("Tenant", "tenant_id"),
            ("Event", "id"),
            ("At", "occurred_at"),
        ] {
            if let Some(value) = event.get(key).and_then(scalar) {
                context.push(
                    json!({"type": "mrkdwn", "text": format!("{label}: `{}`", mrkdwn(&value))}),
                );
            }
        }
        let mut blocks = vec![json!({
            "type": "header",
            "text": {"type": "plain_text", "text": title.chars().take(150).collect::<String>()}
        })];
        let data_fields = fields(event.get("data").unwrap_or(&Value::Null));
        if !data_fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": data_fields}));
        }
        if !context.is_empty() {
            blocks.push(json!({"type": "context", "elements": context}));
        }
        let mut message = Map::new();
        message.insert("text".into(), json!(mrkdwn(&title)));
        message.insert("blocks".into(), Value::Array(blocks));
        for key in ["channel", "username", "icon_emoji"] {
            if let Some(value) = config.str(key) {
                message.insert(key.into(), json!(value));
            }
        }
        Ok(Outcome::Deliver(Delivery::json(&Value::Object(message))))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(Slack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_block_kit_message() {
        let event = r#"{"id":"evt_1","type":"user.created","occurred_at":"2026-01-01T00:00:00Z",
            "tenant_id":"ten_1","data":{"email":"a<b>@x.example","verified":true,"nested":{}}}"#;
        let config = Config::parse(r##"{"channel":"#alerts"}"##).unwrap();
        let Outcome::Deliver(delivery) = Slack::transform(event, &config).unwrap() else {
            panic!("expected a delivery");
        };
        assert_eq!(delivery.content_type, "application/json");
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["text"], "Gatehouse: user.created");
        assert_eq!(body["channel"], "#alerts");
        assert_eq!(body["blocks"][0]["type"], "header");
        let fields = body["blocks"][1]["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 2, "objects are skipped");
        assert!(
            fields[0]["text"]
                .as_str()
                .unwrap()
                .contains("a&lt;b&gt;@x.example")
        );
        assert_eq!(body["blocks"][2]["type"], "context");
    }
}
