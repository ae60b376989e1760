//! A webhook transform carrying 1 MiB of data, to measure the first call after a restart for a
//! component of that size.

use std::hint::black_box;

use gatehouse_plugin::{Config, Delivery, Outcome, PluginError, Webhook, WebhookInfo};

const SIZE: usize = 1 << 20;

/// Pseudo-random bytes (xorshift), so the data cannot be compressed away.
static DATA: [u8; SIZE] = {
    let mut data = [0u8; SIZE];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut i = 0;
    while i < SIZE {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data[i] = state as u8;
        i += 1;
    }
    data
};

pub struct Big;

impl Webhook for Big {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "big".into(),
            name: "Big".into(),
            description: "1 MiB of data (tests only).".into(),
            config_schema: vec![],
            event_types: vec!["*".into()],
        }
    }

    fn transform(event: &str, _config: &Config) -> Result<Outcome, PluginError> {
        let index = black_box(event.len()) % SIZE;
        Ok(Outcome::Deliver(Delivery::json(&serde_json::json!({
            "byte": black_box(&DATA)[index],
            "len": event.len(),
        }))))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(Big);
