//! Tries to read a host file. It imports `wasi:filesystem`, so the host refuses to load it.

use gatehouse_plugin::{Config, Delivery, Outcome, PluginError, Webhook, WebhookInfo};

pub struct ReadsFiles;

impl Webhook for ReadsFiles {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "reads-files".into(),
            name: "Reads files".into(),
            description: "Tries to read /etc/passwd (tests only).".into(),
            config_schema: vec![],
            event_types: vec!["*".into()],
        }
    }

    fn transform(_event: &str, _config: &Config) -> Result<Outcome, PluginError> {
        let body = std::fs::read_to_string("/etc/passwd")
            .map_err(|err| PluginError::internal(err.to_string()))?;
        Ok(Outcome::Deliver(Delivery::json(&serde_json::json!(body))))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(ReadsFiles);
