//! Loading: version stamps, refusals, the compile cache.

use gatehouse_plugin_host::{
    HostConfig, LoadError, PluginHost, PluginKind, PluginSpec, inspect::inspect,
};

use crate::{config, shared_host, wasm};

/// Replaces the stamp text inside a component (same length, so the binary stays valid).
fn restamp(wasm: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    // The package name also appears in type information; the stamp follows its section name.
    let section = b"gatehouse:wit-version";
    let start = wasm
        .windows(section.len())
        .position(|w| w == section)
        .expect("stamp section present");
    let at = start
        + wasm[start..]
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .expect("stamp present");
    let mut out = wasm.to_vec();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn reads_the_stamp_imports_and_exports() {
    let info = inspect(&wasm("gatehouse_test_hostile")).unwrap();
    assert_eq!(info.wit.to_string(), "gatehouse:webhook@0.1.0");
    assert!(
        info.exports
            .contains(&"gatehouse:webhook/transformer@0.1.0".to_owned())
    );
    assert!(
        info.imports
            .iter()
            .any(|i| i.starts_with("gatehouse:types/log@"))
    );
    assert!(
        info.imports
            .iter()
            .all(|i| !i.starts_with("wasi:filesystem"))
    );
}

#[test]
fn refuses_unknown_wit_versions_kinds_and_precompiled_code() {
    let host = shared_host();
    let slack = wasm("gatehouse_webhook_slack");
    let newer = restamp(&slack, "gatehouse:webhook@0.1.0", "gatehouse:webhook@0.9.0");
    let err = host
        .load_blocking(&PluginSpec::new("x", "1.0.0", newer))
        .unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedWitVersion { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("supported: 0.1.0"), "{err}");

    // The stamp says widget but the component exports the webhook interface.
    let lying = restamp(
        &slack,
        "gatehouse:webhook@0.1.0",
        "gatehouse:widget@0.1.0\0",
    );
    let err = host
        .load_blocking(&PluginSpec::new("x", "1.0.0", lying))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::BadStamp(_) | LoadError::MissingExport { .. }
        ),
        "{err}"
    );

    let mut spec = PluginSpec::new("x", "1.0.0", slack.clone());
    spec.expected_kind = Some(PluginKind::Provider);
    let err = host.load_blocking(&spec).unwrap_err();
    assert!(matches!(err, LoadError::KindMismatch { .. }), "{err}");

    // A component that is not the recorded one (the stored bytes changed) is refused.
    let mut spec = PluginSpec::new("x", "1.0.0", slack.clone());
    spec.expected_sha256 = Some("00".repeat(32));
    let err = host.load_blocking(&spec).unwrap_err();
    assert!(matches!(err, LoadError::HashMismatch { .. }), "{err}");
    spec.expected_sha256 = Some(gatehouse_plugin_host::package::sha256_hex(&slack).to_uppercase());
    host.load_blocking(&spec)
        .expect("the recorded hash matches, in either case");

    // wasmtime's own precompiled output is native code: never accepted as a plugin.
    let engine = wasmtime::Engine::default();
    let precompiled = engine.precompile_component(&slack).unwrap();
    let err = host
        .load_blocking(&PluginSpec::new("x", "1.0.0", precompiled))
        .unwrap_err();
    assert!(matches!(err, LoadError::NotWasm), "{err}");
}

#[test]
fn compiles_once_then_loads_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cached = HostConfig {
        cache_dir: Some(dir.path().join("cache")),
        ..config()
    };
    let spec = PluginSpec::new("filter", "1.0.0", wasm("gatehouse_webhook_filter"));
    let first = PluginHost::new(cached.clone()).unwrap();
    let compiled = first.load_blocking(&spec).unwrap();
    assert!(!compiled.loaded_from_cache());
    let sha256 = compiled.sha256().to_owned();
    drop((compiled, first));
    let entries: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1, "one artifact, no temp files");
    let name = entries[0]
        .as_ref()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    assert!(
        name.starts_with(&sha256) && name.ends_with(".cwasm"),
        "{name}"
    );

    let second = PluginHost::new(cached.clone()).unwrap();
    let plugin = second.load_blocking(&spec).unwrap();
    assert!(plugin.loaded_from_cache());
    let outcome = second
        .webhook_transform_blocking(&plugin, r#"{"type":"a"}"#, "{}")
        .unwrap();
    assert!(matches!(
        outcome,
        gatehouse_plugin_host::TransformOutcome::Deliver(_)
    ));

    // A damaged artifact is replaced, not trusted. (Damage it only once nothing maps it:
    // truncating a mapped file in place faults the mapping — the cache itself only ever
    // replaces files by rename.)
    drop(plugin);
    drop(second);
    let path = dir.path().join("cache").join(&name);
    std::fs::write(&path, b"garbage").unwrap();
    let third = PluginHost::new(cached).unwrap();
    let plugin = third.load_blocking(&spec).unwrap();
    assert!(!plugin.loaded_from_cache());
    assert!(
        third
            .webhook_transform_blocking(&plugin, r#"{"type":"a"}"#, "{}")
            .is_ok()
    );
}

#[test]
fn several_hosts_fit_in_one_process() {
    // Each host reserves its pool's address space; a handful must coexist (tests, CLI).
    let hosts: Vec<_> = (0..6).map(|_| PluginHost::new(config()).unwrap()).collect();
    for host in &hosts {
        let plugin = crate::load(host, "gatehouse_webhook_filter");
        assert!(
            host.webhook_transform_blocking(&plugin, r#"{"type":"a"}"#, "{}")
                .is_ok()
        );
    }
}
