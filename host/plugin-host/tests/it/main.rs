//! Integration tests of the plugin host, against real components built from `plugins/`
//! (built-ins and the hostile test guests under `plugins/tests/`).

mod builtins;
mod hostile;
mod loading;
mod packages;
mod scaffold;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use gatehouse_plugin_host::{HostConfig, Plugin, PluginHost, PluginSpec, PoolConfig};

/// The directory `build.rs` built the plugins workspace into.
pub fn wasm_dir() -> PathBuf {
    PathBuf::from(env!("GATEHOUSE_PLUGINS_WASM_DIR"))
}

/// A component built from `plugins/`, by crate name (`gatehouse_test_hostile`).
pub fn wasm(name: &str) -> Vec<u8> {
    let path = wasm_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Small pools: many hosts live in this one test process.
pub fn config() -> HostConfig {
    HostConfig {
        max_concurrent_calls: 4,
        pool: PoolConfig {
            max_instances: 16,
            ..PoolConfig::default()
        },
        fault_limit: 0,
        fault_window: Duration::from_secs(60),
        ..HostConfig::default()
    }
}

/// One host shared by tests that do not configure their own.
pub fn shared_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| PluginHost::new(config()).expect("host"))
}

pub fn load(host: &PluginHost, name: &str) -> Plugin {
    host.load_blocking(&PluginSpec::new(name, "1.0.0", wasm(name)))
        .unwrap_or_else(|err| panic!("loading {name}: {err}"))
}

pub fn tenant() -> gatehouse_plugin_host::TenantContext {
    gatehouse_plugin_host::TenantContext {
        tenant_id: "ten_01JDQ8X9W3N2D3V0T2K5Q7R8S9".into(),
        tenant_name: "Acme".into(),
        zitadel_org_id: Some("289374".into()),
        zitadel_url: "https://id.acme.example".into(),
        public_url: "https://gatehouse.acme.example".into(),
        locale: "en".into(),
    }
}
