//! The plugin issue's "done when", end to end with the real binary: a third-party webhook
//! plugin scaffolded with `gatehouse plugin new`, built and signed with a fresh key, its public
//! key trusted with `gatehouse trust add` on a server started with `gatehouse serve`, installed
//! with `gatehouse plugin install`, run under its limits (`POST …/test`); the same package with
//! one byte changed is refused with nothing written; the built-ins load and run from `serve`.
//!
//! That the stock `minisign -V` accepts our signatures is covered in depth by
//! `host/plugin-host/tests/it/packages.rs` (`the_stock_minisign_tool_agrees`); here it checks
//! the package `gatehouse plugin build` produced.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use gatehouse_plugin_host::package;
use serde_json::{Value, json};

use crate::{gatehouse, spawn_serve, text};

const PASSWORD: &str = "correct horse battery staple";

/// `gatehouse serve` on a free port with a temporary data directory; killed on drop.
struct Served {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Served {
    let token = format!("ghk_test_{}", ulid::Ulid::new());
    let (child, addr) = spawn_serve(
        gatehouse()
            .args(["serve"])
            .env("GATEHOUSE_DATA_DIR", data)
            .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
            .env("GATEHOUSE_BOOTSTRAP_TOKEN", &token)
            .stderr(Stdio::null()),
    );
    Served {
        child,
        url: format!("http://{addr}"),
        token,
    }
}

/// Runs `gatehouse <args>` against `server`; returns (success, stdout, stderr).
async fn cli(server: &Served, args: &[&str]) -> (bool, String, String) {
    let mut cmd = gatehouse();
    cmd.env("GATEHOUSE_URL", &server.url)
        .env("GATEHOUSE_TOKEN", &server.token)
        .args(args);
    run(cmd).await
}

async fn run(mut cmd: Command) -> (bool, String, String) {
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("run gatehouse"))
        .await
        .unwrap();
    let (out, err) = text(&output);
    (output.status.success(), out, err)
}

/// Where the plugin host's build script built `plugins/`; sharing it means the scaffolded
/// project's dependencies are already compiled.
fn wasm_target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"));
    exe.ancestors()
        .map(|dir| dir.join("wasm-plugins"))
        .find(|dir| dir.is_dir())
        .expect("<target>/wasm-plugins exists (built by gatehouse-plugin-host's build script)")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `gatehouse plugin build` runs cargo for wasm32-wasip2: give it a clean environment (none of
/// this test's cargo variables), the toolchain's cargo, and the shared target directory.
fn plugin_build(project: &Path, key: &Path, out: &Path) -> Command {
    let mut cmd = gatehouse();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let keep = matches!(
            name.as_str(),
            "CARGO_HOME" | "RUSTUP_HOME" | "RUSTUP_TOOLCHAIN"
        ) || name.starts_with("CARGO_NET")
            || name.starts_with("CARGO_HTTP");
        if (name.starts_with("CARGO") || name.starts_with("RUST")) && !keep {
            cmd.env_remove(&name);
        }
    }
    if let Some(cargo) = std::env::var_os("CARGO") {
        cmd.env("CARGO", cargo);
    }
    cmd.env("CARGO_TARGET_DIR", wasm_target_dir())
        .env("GATEHOUSE_PLUGIN_KEY_PASSWORD", PASSWORD)
        .args(["plugin", "build", "--path"])
        .arg(project)
        .arg("--key")
        .arg(key)
        .arg("--out")
        .arg(out);
    cmd
}

async fn api(
    server: &Served,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(&server.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn plugin_ids(server: &Served) -> Vec<String> {
    let (ok, out, err) = cli(server, &["plugin", "list", "--json"]).await;
    assert!(ok, "{err}");
    let plugins: Vec<Value> = serde_json::from_str(&out).unwrap();
    plugins
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["id"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect()
}

/// Rebuilds `bytes` (a package) with `edit` applied to its files, keeping the signature.
fn tampered(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let archive = package::read_archive(bytes).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = archive
        .names()
        .map(|name| (name.to_owned(), archive.get(name).unwrap().to_vec()))
        .collect();
    edit(&mut files);
    let take = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| String::from_utf8(data.clone()).unwrap())
            .unwrap()
    };
    let manifest = take(package::MANIFEST);
    let signature = take(package::SIGNATURE);
    let rest: Vec<(&str, &[u8])> = files
        .iter()
        .filter(|(n, _)| n != package::MANIFEST && n != package::SIGNATURE)
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    package::write_archive(&manifest, Some(&signature), &rest).unwrap()
}

#[tokio::test]
async fn a_third_party_plugin_goes_from_scaffold_to_running_on_a_server() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // Author: scaffold, key, build + sign.
    let sdk = repo().join("sdk-guest");
    let mut new = gatehouse();
    new.args(["plugin", "new", "webhook", "acme-hook", "--dir"])
        .arg(dir)
        .arg("--sdk")
        .arg(&sdk);
    let (ok, out, err) = run(new).await;
    assert!(ok, "plugin new: {err}");
    assert!(out.contains("webhook plugin"), "{out}");
    let project = dir.join("acme-hook");
    // The built-ins' lock file: the same dependency versions, nothing to download.
    std::fs::copy(
        repo().join("plugins/Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .unwrap();

    let mut keygen = gatehouse();
    keygen
        .env("GATEHOUSE_PLUGIN_KEY_PASSWORD", PASSWORD)
        .args(["plugin", "keygen", "--out"])
        .arg(dir.join("acme"));
    let (ok, out, err) = run(keygen).await;
    assert!(ok, "plugin keygen: {err}");
    let key_id = out
        .lines()
        .find_map(|l| l.strip_prefix("key id "))
        .expect("keygen prints the key id")
        .trim()
        .to_owned();
    assert!(
        std::fs::read_to_string(dir.join("acme.key"))
            .unwrap()
            .contains("secret key"),
        "a minisign secret key file"
    );

    let package_path = dir.join("acme-hook.tar.gz");
    let (ok, out, err) = run(plugin_build(&project, &dir.join("acme.key"), &package_path)).await;
    assert!(ok, "plugin build: {err}");
    assert!(
        out.contains("example.acme-hook 0.1.0") && out.contains("signed"),
        "{out}"
    );
    let good = std::fs::read(&package_path).unwrap();

    // The stock minisign tool verifies what `plugin build` signed.
    let archive = package::read_archive(&good).unwrap();
    std::fs::write(
        dir.join("manifest.toml"),
        archive.get(package::MANIFEST).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("manifest.toml.minisig"),
        archive.get(package::SIGNATURE).unwrap(),
    )
    .unwrap();
    let minisign = Command::new("/usr/bin/minisign")
        .args(["-V", "-p", "acme.pub", "-m", "manifest.toml"])
        .current_dir(dir)
        .output()
        .expect("run /usr/bin/minisign (Debian package minisign)");
    assert!(
        minisign.status.success(),
        "minisign -V: {}",
        String::from_utf8_lossy(&minisign.stderr)
    );
    let mut verify = gatehouse();
    verify
        .args(["plugin", "verify"])
        .arg(&package_path)
        .arg("--trust")
        .arg(dir.join("acme.pub"));
    let (ok, out, err) = run(verify).await;
    assert!(
        ok && out.starts_with("OK: example.acme-hook 0.1.0"),
        "{out}{err}"
    );

    // Ops: a server from the real binary, offline; trust the author's key.
    let server = serve(&dir.join("data"));
    let builtins = plugin_ids(&server).await;
    assert_eq!(
        builtins.len(),
        gatehouse_plugin_host::builtin_plugins().len(),
        "{builtins:?}"
    );

    let pubkey = dir.join("acme.pub");
    let (ok, out, err) = cli(
        &server,
        &[
            "trust",
            "add",
            pubkey.to_str().unwrap(),
            "--name",
            "Acme CI",
        ],
    )
    .await;
    assert!(ok, "trust add: {err}");
    assert!(out.contains(&key_id) && out.contains("Acme CI"), "{out}");
    let (ok, out, _) = cli(&server, &["trust", "list"]).await;
    assert!(ok && out.contains(&key_id), "{out}");

    // The same package with one byte changed is refused, and nothing is written: a byte of
    // the component (hash mismatch), of the manifest (bad signature), of the gzip stream.
    let mut one_byte = [
        tampered(&good, |files| {
            let wasm = &mut files
                .iter_mut()
                .find(|(n, _)| n == package::COMPONENT)
                .unwrap()
                .1;
            let at = wasm.len() / 2;
            wasm[at] ^= 0x01;
        }),
        tampered(&good, |files| {
            let manifest = &mut files
                .iter_mut()
                .find(|(n, _)| n == package::MANIFEST)
                .unwrap()
                .1;
            let at = manifest.iter().position(|b| *b == b'.').unwrap();
            manifest[at] = b'_';
        }),
        good.clone(),
    ];
    // A byte of the gzip trailer's CRC-32.
    let crc = one_byte[2].len() - 6;
    one_byte[2][crc] ^= 0x01;
    let expected = [
        "does not match its SHA-256",
        "bad signature",
        "not a valid tar or tar.gz package",
    ];
    for (bytes, expected) in one_byte.iter().zip(expected) {
        let path = dir.join("tampered.tar.gz");
        std::fs::write(&path, bytes).unwrap();
        let (ok, _, err) = cli(&server, &["plugin", "install", path.to_str().unwrap()]).await;
        assert!(!ok, "a tampered package was installed");
        assert!(
            err.contains("422") && err.contains(expected),
            "{expected}: {err}"
        );
    }
    assert_eq!(plugin_ids(&server).await, builtins, "nothing was written");
    let (_, audit) = api(
        &server,
        reqwest::Method::GET,
        "/v1/audit-logs?action=plugin.installed",
        None,
    )
    .await;
    assert_eq!(
        audit["data"],
        json!([]),
        "no audit entry for refused packages"
    );

    // The untouched package installs.
    let (ok, out, err) = cli(
        &server,
        &["plugin", "install", package_path.to_str().unwrap()],
    )
    .await;
    assert!(ok, "plugin install: {err}");
    assert!(
        out.contains("installed example.acme-hook 0.1.0 (webhook)") && out.contains(&key_id),
        "{out}"
    );
    assert!(
        plugin_ids(&server)
            .await
            .contains(&"example.acme-hook 0.1.0".to_owned())
    );
    let (ok, out, _) = cli(&server, &["plugin", "show", "example.acme-hook"]).await;
    assert!(
        ok && out.contains("enabled") && out.contains("100 ms"),
        "{out}"
    );
    let (ok, _, err) = cli(
        &server,
        &["plugin", "install", package_path.to_str().unwrap()],
    )
    .await;
    assert!(
        !ok && err.contains("409") && err.contains("already installed"),
        "{err}"
    );

    // It runs under its limits: the project's own sample input through POST …/test.
    let samples: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(project.join("sample-input.json")).unwrap())
            .unwrap();
    let transform = samples
        .iter()
        .find(|c| c["call"] == "webhook_transform")
        .expect("the scaffold's sample input has a transform call")
        .clone();
    let (status, result) = api(
        &server,
        reqwest::Method::POST,
        "/v1/plugins/example.acme-hook/0.1.0/test",
        Some(transform.clone()),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["outcome"], "ok", "{result}");
    assert_eq!(result["limits"]["deadline_ms"], 100);
    assert_eq!(result["limits"]["memory_mib"], 32);
    assert!(
        result["wall_time_us"].as_u64().unwrap() < 100_000,
        "{result}"
    );

    // Ops tighten the limits; the next call runs under them.
    let (ok, out, err) = cli(
        &server,
        &[
            "plugin",
            "limits",
            "example.acme-hook",
            "--deadline-ms",
            "20",
            "--memory-mib",
            "8",
        ],
    )
    .await;
    assert!(ok, "plugin limits: {err}");
    assert!(out.contains("20 ms, 8 MiB"), "{out}");
    let (ok, _, err) = cli(
        &server,
        &[
            "plugin",
            "limits",
            "example.acme-hook",
            "--deadline-ms",
            "500",
        ],
    )
    .await;
    assert!(
        !ok && err.contains("at most 100"),
        "only lower than the default: {err}"
    );
    let (_, result) = api(
        &server,
        reqwest::Method::POST,
        "/v1/plugins/example.acme-hook/0.1.0/test",
        Some(transform),
    )
    .await;
    assert_eq!(result["outcome"], "ok", "{result}");
    assert_eq!(result["limits"]["deadline_ms"], 20);
    assert_eq!(result["limits"]["memory_mib"], 8);

    // Disable (with a reason), enable, and remove through the CLI.
    let (ok, _, err) = cli(
        &server,
        &[
            "plugin",
            "disable",
            "example.acme-hook",
            "--reason",
            "audit",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (_, out, _) = cli(&server, &["plugin", "list"]).await;
    assert!(out.contains("disabled: audit"), "{out}");
    let (ok, _, err) = cli(&server, &["plugin", "enable", "example.acme-hook", "0.1.0"]).await;
    assert!(ok, "{err}");

    // A built-in runs from `gatehouse serve` too.
    let cloudevents = builtins
        .iter()
        .find(|p| p.starts_with("gatehouse.cloudevents "))
        .unwrap()
        .replace(' ', "/");
    let (status, result) = api(
        &server,
        reqwest::Method::POST,
        &format!("/v1/plugins/{cloudevents}/test"),
        Some(json!({"call": "webhook_transform",
                    "event": {"id": "evt_1", "type": "user.created", "occurred_at": "2026-01-01T00:00:00Z",
                              "tenant_id": "ten_1", "data": {}}})),
    )
    .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["outcome"], "ok", "{result}");
    assert_eq!(result["output"]["outcome"], "deliver", "{result}");
    assert!(
        result["output"]["body"]
            .as_str()
            .unwrap()
            .contains("specversion"),
        "{result}"
    );

    let (ok, out, err) = cli(&server, &["trust", "remove", &key_id]).await;
    assert!(ok, "{err}");
    assert!(out.contains("disabled example.acme-hook 0.1.0"), "{out}");
    let (ok, out, err) = cli(&server, &["plugin", "remove", "example.acme-hook"]).await;
    assert!(
        ok && out.contains("removed example.acme-hook 0.1.0"),
        "{out}{err}"
    );
    assert_eq!(plugin_ids(&server).await, builtins);
}
