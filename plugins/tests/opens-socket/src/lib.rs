//! Tries to open a TCP connection. It imports `wasi:sockets`, so the host refuses to load it.

use std::io::Write;

use gatehouse_plugin::{Config, Delivery, Outcome, PluginError, Webhook, WebhookInfo};

pub struct OpensSocket;

impl Webhook for OpensSocket {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "opens-socket".into(),
            name: "Opens socket".into(),
            description: "Tries to connect to 127.0.0.1:80 (tests only).".into(),
            config_schema: vec![],
            event_types: vec!["*".into()],
        }
    }

    fn transform(_event: &str, _config: &Config) -> Result<Outcome, PluginError> {
        let mut stream = std::net::TcpStream::connect("127.0.0.1:80")
            .map_err(|err| PluginError::internal(err.to_string()))?;
        stream
            .write_all(b"GET / HTTP/1.0\r\n\r\n")
            .map_err(|err| PluginError::internal(err.to_string()))?;
        Ok(Outcome::Deliver(Delivery::json(&serde_json::json!(
            "connected"
        ))))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(OpensSocket);
