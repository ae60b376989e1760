//! Wraps a Gatehouse event in a CloudEvents 1.0 structured-mode JSON envelope
//! (`application/cloudevents+json`): `specversion`, `id`, `source`, `type`, `time`, `subject`,
//! `datacontenttype`, `data`.

use gatehouse_plugin::{
    Config, Delivery, FieldKind, Outcome, PluginError, Webhook, WebhookInfo, schema,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json, value::RawValue};

pub struct CloudEvents;

/// The fields of an event the envelope reads. `data` stays unparsed: it is copied into the
/// envelope as it is, which spares building and re-serializing its tree (most of the work).
#[derive(Deserialize)]
struct EventFields<'a> {
    id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    occurred_at: Option<Value>,
    tenant_id: Option<Value>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// The one field of `data` the envelope reads (the others are skipped unparsed).
#[derive(Deserialize)]
struct DataId {
    id: Option<Value>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    datacontenttype: &'static str,
    // CloudEvents extension attribute names are lowercase alphanumerics.
    #[serde(skip_serializing_if = "Option::is_none")]
    gatehousetenant: Option<&'a str>,
    data: Option<&'a RawValue>,
}

/// Whether `json` is an object. Checked before deserializing into a struct, which would
/// otherwise also accept an array, field by field.
fn is_object(json: &str) -> bool {
    json.trim_start().starts_with('{')
}

/// The transform without the plugin wrapper, so a native build can run the same code (the
/// plugin host's benchmark compares both).
pub fn envelope(event: &str, config: &Config) -> Result<String, PluginError> {
    if !is_object(event) {
        return Err(PluginError::invalid(
            "event",
            "the event is not a JSON object",
        ));
    }
    let event: EventFields = gatehouse_plugin::parse_event(event)?;
    let id = match &event.id {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => return Err(PluginError::invalid("event.id", "the event has no id")),
    };
    let kind = match &event.kind {
        Some(Value::String(kind)) if !kind.is_empty() => kind,
        _ => return Err(PluginError::invalid("event.type", "the event has no type")),
    };
    let tenant = event.tenant_id.as_ref().and_then(Value::as_str);
    let source = match config.str("source") {
        Some(source) => source.replace("{tenant_id}", tenant.unwrap_or("platform")),
        None => format!("/gatehouse/{}", tenant.unwrap_or("platform")),
    };
    let prefix = config.str("type_prefix").unwrap_or("com.gatehouse.");
    // `subject` is the id of what the event is about, when `data` is an object with one.
    let subject = event
        .data
        .filter(|data| is_object(data.get()))
        .and_then(|data| serde_json::from_str::<DataId>(data.get()).ok())
        .and_then(|data| match data.id {
            Some(Value::String(id)) => Some(id),
            _ => None,
        });
    let envelope = Envelope {
        specversion: "1.0",
        id,
        source,
        kind: format!("{prefix}{kind}"),
        time: event.occurred_at.as_ref().and_then(Value::as_str),
        subject,
        datacontenttype: "application/json",
        gatehousetenant: tenant,
        data: event.data,
    };
    serde_json::to_string(&envelope)
        .map_err(|err| PluginError::internal(format!("cannot serialize the envelope: {err}")))
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

    #[test]
    fn data_of_any_shape_is_carried_unchanged() {
        let config = Config::empty();
        for (data, subject) in [
            (
                r#"{"id":"usr_\u00e9","n":[1,{"id":2}],"s":"a\"b"}"#,
                json!("usr_é"),
            ),
            (r#"{"id":7}"#, Value::Null),
            (r#"["usr_1"]"#, Value::Null),
            (r#""text""#, Value::Null),
            ("null", Value::Null),
        ] {
            let event = format!(r#"{{ "id":"e","type":"t","extra":{{"x":1}}, "data": {data} }}"#);
            let body = envelope(&event, &config).unwrap();
            let value: Value = serde_json::from_str(&body).unwrap();
            let expected: Value = serde_json::from_str(data).unwrap();
            assert_eq!(value["data"], expected, "{data}");
            assert_eq!(
                value.get("subject").cloned().unwrap_or(Value::Null),
                subject
            );
        }
        // Without data the envelope carries `null`.
        let body = envelope(r#"{"id":"e","type":"t"}"#, &config).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["data"],
            Value::Null
        );
        // Not an object, or not JSON at all: a clear error.
        for bad in [r#"["e","t"]"#, "{", r#"{"id":"e","type":"t","data":}"#] {
            assert!(envelope(bad, &config).is_err(), "{bad}");
        }
    }
}
