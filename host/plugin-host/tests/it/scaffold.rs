//! `gatehouse plugin new` output is a buildable project whose sample input runs.

use std::{path::Path, process::Command};

use gatehouse_plugin_host::{Call, PluginKind, PluginSpec, scaffold};

use crate::{shared_host, wasm_dir};

#[test]
fn scaffolded_projects_build_and_run_their_sample_input() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-guest")
        .canonicalize()
        .unwrap();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins");
    // Share the built-ins' target directory (<target>/wasm-plugins): dependencies are built.
    let target_dir = wasm_dir().parent().unwrap().parent().unwrap().to_path_buf();
    let work = tempfile::tempdir().unwrap();
    for (kind, name) in [
        (PluginKind::Webhook, "my-hook"),
        (PluginKind::Provider, "my-idp"),
        (PluginKind::Widget, "my-theme"),
    ] {
        let root = work.path().join(name);
        for (path, contents) in scaffold::files(kind, name, &sdk).unwrap() {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        // Same dependency versions as the built-ins, so nothing is downloaded or rebuilt.
        std::fs::copy(plugins.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if (key.starts_with("CARGO")
                && key != "CARGO_HOME"
                && !key.starts_with("CARGO_NET")
                && !key.starts_with("CARGO_HTTP"))
                || key.starts_with("RUST") && key != "RUSTUP_HOME" && key != "RUSTUP_TOOLCHAIN"
            {
                cargo.env_remove(&key);
            }
        }
        let output = cargo
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name} does not build:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let component = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        let host = shared_host();
        let plugin = host
            .load_blocking(&PluginSpec::new(
                name,
                "0.1.0",
                std::fs::read(component).unwrap(),
            ))
            .unwrap();
        assert_eq!(plugin.kind(), kind);
        let input = std::fs::read_to_string(root.join("sample-input.json")).unwrap();
        let calls: Vec<Call> = serde_json::from_str(&input).unwrap();
        for call in calls {
            let result = host.call_blocking(&plugin, call.clone());
            assert!(
                result.output.is_ok(),
                "{name} {call:?}: {:?}",
                result.output
            );
        }
    }
}
