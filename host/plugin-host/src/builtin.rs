//! The plugins shipped inside the binary, built from `plugins/` by `build.rs`.

use gatehouse_core::plugin::PluginKind;

use crate::cache::sha256_hex;

/// A built-in plugin: its id, version, kind and component bytes.
#[derive(Debug)]
pub struct BuiltinPlugin {
    pub id: &'static str,
    pub version: &'static str,
    pub kind: PluginKind,
    pub wasm: &'static [u8],
}

impl BuiltinPlugin {
    /// Hex SHA-256 of the component.
    pub fn sha256(&self) -> String {
        sha256_hex(self.wasm)
    }
}

macro_rules! builtin {
    ($id:literal, $kind:ident, $file:literal) => {
        BuiltinPlugin {
            id: $id,
            version: env!("CARGO_PKG_VERSION"),
            kind: PluginKind::$kind,
            wasm: include_bytes!(concat!(env!("GATEHOUSE_PLUGINS_WASM_DIR"), "/", $file)),
        }
    };
}

static BUILTINS: &[BuiltinPlugin] = &[
    builtin!(
        "gatehouse.google",
        Provider,
        "gatehouse_provider_google.wasm"
    ),
    builtin!(
        "gatehouse.github",
        Provider,
        "gatehouse_provider_github.wasm"
    ),
    builtin!(
        "gatehouse.microsoft",
        Provider,
        "gatehouse_provider_microsoft.wasm"
    ),
    builtin!("gatehouse.oidc", Provider, "gatehouse_provider_oidc.wasm"),
    builtin!("gatehouse.classic", Widget, "gatehouse_widget_classic.wasm"),
    builtin!("gatehouse.mono", Widget, "gatehouse_widget_mono.wasm"),
    builtin!("gatehouse.filter", Webhook, "gatehouse_webhook_filter.wasm"),
    builtin!("gatehouse.slack", Webhook, "gatehouse_webhook_slack.wasm"),
    builtin!(
        "gatehouse.cloudevents",
        Webhook,
        "gatehouse_webhook_cloudevents.wasm"
    ),
];

/// Every built-in plugin.
pub fn builtin_plugins() -> &'static [BuiltinPlugin] {
    BUILTINS
}

/// The built-in with `id`, if any.
pub fn builtin(id: &str) -> Option<&'static BuiltinPlugin> {
    BUILTINS.iter().find(|b| b.id == id)
}
