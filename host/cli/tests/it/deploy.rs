//! Static checks of `deploy/` (Dockerfile, docker compose stack, Helm chart, offline bundle):
//! nothing there can run on a machine without a container engine or a cluster, so these tests
//! check what can be checked without one. The YAML parses; every `GATEHOUSE_*` variable is a
//! real setting and the settings each deployment passes are accepted by the real configuration
//! loader; images are pinned; no secret value is written inline; the Helm chart renders (with
//! the Go-template subset in `gotmpl`) into objects with the probes, security context, hooks and
//! network policy it promises; the image's health check passes against a real server; the
//! bundle script produces checksums and a signature that the stock `minisign` accepts.

mod gotmpl;

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_yaml_ng::{Mapping, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Files.

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every file under `deploy/`, except what operators create locally next to the compose file
/// (`.env`, `secrets/*`), which is never part of the repository.
fn deploy_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&deploy(), &mut files);
    let local_secrets = deploy().join("compose/secrets");
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        name != ".env" && (!p.starts_with(&local_secrets) || name == ".gitignore")
    });
    assert!(files.len() >= 15, "deploy/ looks empty: {files:?}");
    files
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", rel(path)))
}

fn get<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut current = value;
    for part in path.split('.') {
        current = match current {
            Value::Mapping(map) => map.get(part).unwrap_or(&Value::Null),
            Value::Sequence(list) => part
                .parse::<usize>()
                .ok()
                .and_then(|i| list.get(i))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    current
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The release version (the CLI takes the workspace's).
fn workspace_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

fn strict() -> bool {
    std::env::var("STRICT").is_ok_and(|v| v == "1")
}

// ---------------------------------------------------------------------------------------------
// Rules shared by the checks.

/// `GATEHOUSE_*` names in `text`, skipping longer identifiers that merely contain the prefix.
fn gatehouse_vars(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    let mut start = 0;
    while let Some(offset) = text[start..].find("GATEHOUSE_") {
        let at = start + offset;
        let glued = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let mut end = at + "GATEHOUSE_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        if !glued && end > at + "GATEHOUSE_".len() {
            found.insert(text[at..end].trim_end_matches('_').to_owned());
        }
        start = end;
    }
    found
}

/// Whether `GATEHOUSE_<suffix>` is something Gatehouse reads.
fn known_gatehouse_var(var: &str) -> bool {
    let Some(suffix) = var.strip_prefix("GATEHOUSE_") else {
        return false;
    };
    gatehouse_config::KEYS
        .iter()
        .any(|k| k.name.eq_ignore_ascii_case(suffix))
        || gatehouse_config::NON_CONFIG_ENV.contains(&suffix)
        || suffix.starts_with("TEST_")
}

/// Upper-case words of a setting name (`jwtSecret` → JWT SECRET, `DB_PASSWORD` → DB PASSWORD).
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_uppercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A setting whose name says it holds a secret value (not a file or a path to one).
fn secret_name(name: &str) -> bool {
    matches!(
        words(name).last().map(String::as_str),
        Some(
            "PASSWORD"
                | "PASSWD"
                | "SECRET"
                | "TOKEN"
                | "MASTERKEY"
                | "PAT"
                | "APIKEY"
                | "CREDENTIALS"
                | "PRIVATEKEY"
        )
    )
}

/// A value that refers to a secret kept elsewhere: empty, or one compose interpolation of a
/// variable without a literal default (`${X}`, `${X:?message}`, `${X:-}`).
fn is_reference(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() {
        return true;
    }
    let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return false;
    };
    if inner.contains("${") {
        return false;
    }
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let rest = &inner[name_len..];
    name_len > 0
        && (rest.is_empty()
            || rest.starts_with('?')
            || rest.starts_with(":?")
            || rest == "-"
            || rest == ":-")
}

/// A URL with a literal password in it (`postgres://user:secret@host`).
fn url_with_inline_password(value: &str) -> bool {
    let Some(scheme_end) = value.find("://") else {
        return false;
    };
    let after = &value[scheme_end + 3..];
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return false;
    };
    match userinfo.split_once(':') {
        Some((_, password)) => !password.is_empty() && !is_reference(password),
        None => false,
    }
}

/// Problems with a `name: value` setting that would put a secret into a file.
fn secret_problem(name: &str, value: &str) -> Option<String> {
    // A flag such as `automountServiceAccountToken: false` holds no secret.
    let flag = matches!(value.trim(), "true" | "false");
    if secret_name(name) && !flag && !is_reference(value) {
        return Some(format!(
            "`{name}` has an inline value; refer to a secret instead"
        ));
    }
    if url_with_inline_password(value) {
        return Some(format!("`{name}` holds a URL with an inline password"));
    }
    None
}

/// Every `name: scalar` pair in a YAML document, and `NAME=value` items of string lists.
fn settings_in(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let key = text(k);
                match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                        out.push((key, text(v)));
                    }
                    _ => settings_in(v, out),
                }
            }
        }
        Value::Sequence(list) => {
            for item in list {
                match item {
                    Value::String(s) => {
                        if let Some((k, v)) = s.split_once('=') {
                            out.push((k.to_owned(), v.to_owned()));
                        }
                    }
                    other => settings_in(other, out),
                }
            }
        }
        _ => {}
    }
}

/// An image reference with a tag other than `latest`, or a digest.
fn image_problem(image: &str) -> Option<String> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some(format!("image `{image}` has no tag")),
        Some((_, "latest")) => Some(format!("image `{image}` uses `latest`")),
        Some((_, "")) => Some(format!("image `{image}` has an empty tag")),
        Some(_) if image.contains("${") || image.contains('$') => {
            Some(format!("image `{image}` is not fully resolved"))
        }
        Some(_) => None,
    }
}

#[test]
fn the_rules_catch_what_they_are_for() {
    // Variables.
    let found =
        gatehouse_vars("a GATEHOUSE_DATABSE_URL=x and MY_GATEHOUSE_THING, $GATEHOUSE_LISTEN");
    assert_eq!(
        found,
        BTreeSet::from([
            "GATEHOUSE_DATABSE_URL".to_owned(),
            "GATEHOUSE_LISTEN".to_owned()
        ])
    );
    assert!(!known_gatehouse_var("GATEHOUSE_DATABSE_URL"));
    assert!(known_gatehouse_var("GATEHOUSE_DATABASE_URL"));
    assert!(known_gatehouse_var("GATEHOUSE_TOKEN"));
    assert!(known_gatehouse_var("GATEHOUSE_TEST_DATABASE_URL"));
    // Secrets.
    assert!(secret_problem("GATEHOUSE_BOOTSTRAP_TOKEN", "ghk_0123456789abcdef").is_some());
    assert!(secret_problem("SIGNOZ_TOKENIZER_JWT_SECRET", "secret").is_some());
    assert!(secret_problem("jwtSecret", "abc").is_some());
    assert!(secret_problem("ZITADEL_MASTERKEY", "MasterkeyNeedsToHave32Characters").is_some());
    assert!(secret_problem("POSTGRES_PASSWORD", "${POSTGRES_PASSWORD:-postgres}").is_some());
    assert!(secret_problem("DSN", "postgres://gatehouse:hunter2@db:5432/gh").is_some());
    assert!(secret_problem("POSTGRES_PASSWORD", "${POSTGRES_PASSWORD:?set it}").is_none());
    assert!(secret_problem("automountServiceAccountToken", "false").is_none());
    assert!(secret_problem("GATEHOUSE_MASTER_KEY_FILE", "/run/secrets/key").is_none());
    assert!(secret_problem("ZITADEL_FIRSTINSTANCE_PATPATH", "/x/gatehouse.pat").is_none());
    assert!(
        secret_problem(
            "ZITADEL_FIRSTINSTANCE_ORG_MACHINE_PAT_EXPIRATIONDATE",
            "2030"
        )
        .is_none()
    );
    assert!(
        secret_problem(
            "URL",
            "postgres://gatehouse:${GH_DB_PASSWORD:?x}@postgres/gh"
        )
        .is_none()
    );
    // Images.
    assert!(image_problem("postgres").is_some());
    assert!(image_problem("postgres:latest").is_some());
    assert!(image_problem("localhost:5000/gatehouse").is_some());
    assert!(image_problem("ghcr.io/zitadel/zitadel:v4.15.3").is_none());
    assert!(image_problem("gatehouse@sha256:0123").is_none());
}

// ---------------------------------------------------------------------------------------------
// Every file.

#[test]
fn every_yaml_file_parses() {
    let mut parsed = Vec::new();
    let templates = deploy().join("helm/gatehouse/templates");
    for path in deploy_files() {
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        );
        // Helm templates are Go templates; they are rendered and parsed below.
        if !is_yaml || path.starts_with(&templates) {
            continue;
        }
        let text = read(&path);
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", rel(&path)));
            assert!(!value.is_null(), "{}: empty document", rel(&path));
        }
        parsed.push(rel(&path));
    }
    for expected in [
        "deploy/compose/docker-compose.yml",
        "deploy/compose/signoz/otel-collector-config.yaml",
        "deploy/helm/gatehouse/Chart.yaml",
        "deploy/helm/gatehouse/values.yaml",
    ] {
        assert!(
            parsed.iter().any(|p| p == expected),
            "{expected} not parsed: {parsed:?}"
        );
    }
}

#[test]
fn every_gatehouse_variable_in_deploy_is_a_real_setting() {
    let mut seen = BTreeSet::new();
    let mut unknown = Vec::new();
    for path in deploy_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not text
        };
        for var in gatehouse_vars(&text) {
            if !known_gatehouse_var(&var) {
                unknown.push(format!("{}: {var}", rel(&path)));
            }
            seen.insert(var);
        }
    }
    assert!(
        unknown.is_empty(),
        "not configuration keys (see `gatehouse config keys`): {unknown:#?}"
    );
    for var in [
        "GATEHOUSE_DATABASE_URL",
        "GATEHOUSE_MASTER_KEY_FILE",
        "GATEHOUSE_ZITADEL_URL",
        "GATEHOUSE_ZITADEL_PAT_FILE",
        "GATEHOUSE_LISTEN",
        "GATEHOUSE_BOOTSTRAP_TOKEN",
    ] {
        assert!(seen.contains(var), "{var} is used nowhere in deploy/");
    }
}

#[test]
fn shell_scripts_pass_bash_n_and_are_executable() {
    let mut scripts = Vec::new();
    for path in deploy_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let is_sh = path.extension().is_some_and(|e| e == "sh");
        if is_sh || text.starts_with("#!/usr/bin/env bash") || text.starts_with("#!/bin/bash") {
            scripts.push(path);
        }
    }
    assert!(scripts.len() >= 3, "{scripts:?}");
    for script in &scripts {
        let output = Command::new("bash")
            .arg("-n")
            .arg(script)
            .output()
            .expect("bash");
        assert!(
            output.status.success(),
            "bash -n {}: {}",
            rel(script),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = read(script);
        assert!(
            text.contains("set -euo pipefail"),
            "{} does not `set -euo pipefail`",
            rel(script)
        );
        let mode = std::fs::metadata(script).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{} is not executable", rel(script));
    }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile.

/// Dockerfile instructions with continuation lines joined and comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(&deploy().join("Dockerfile")).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((word.to_ascii_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_is_multi_stage_non_root_pinned_and_secret_free() {
    let instructions = dockerfile();
    let froms: Vec<&String> = instructions
        .iter()
        .filter(|(w, _)| w == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert!(
        froms.len() >= 3,
        "expected portal, builder and runtime stages: {froms:?}"
    );
    let mut stages = Vec::new();
    for from in &froms {
        let mut parts = from.split_whitespace().filter(|p| !p.starts_with("--"));
        let image = parts.next().unwrap();
        if !stages.iter().any(|s: &String| s == image) {
            assert_eq!(image_problem(image), None, "FROM {from}");
        }
        if let (Some(kw), Some(name)) = (parts.next(), parts.next()) {
            assert!(kw.eq_ignore_ascii_case("AS"), "FROM {from}");
            stages.push(name.to_owned());
        }
    }
    assert!(
        froms.iter().any(|f| f.starts_with("rust:1.95")),
        "the builder is rust:1.95: {froms:?}"
    );
    assert!(
        froms.iter().any(|f| f.starts_with("node:")),
        "Node.js builds the portal"
    );
    let runtime = froms.last().unwrap();
    assert!(
        runtime.starts_with("debian:") && runtime.contains("slim")
            || runtime.starts_with("gcr.io/distroless/"),
        "runtime stage: {runtime}"
    );
    let all = read(&deploy().join("Dockerfile"));
    assert!(
        all.contains("wasm32-wasip2"),
        "the builder needs the wasm32-wasip2 target"
    );
    assert!(all.contains("cargo build --release --locked -p gatehouse-cli"));

    // The runtime stage: everything after the last FROM.
    let last_from = instructions.iter().rposition(|(w, _)| w == "FROM").unwrap();
    let runtime: Vec<_> = instructions[last_from..].to_vec();
    let find = |word: &str| -> Vec<String> {
        runtime
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, r)| r.clone())
            .collect()
    };
    let user = find("USER");
    let user = user.last().expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "runs as root: USER {user}");
    assert_eq!(find("EXPOSE"), vec!["8080".to_owned()]);

    let mut env = BTreeMap::new();
    for rest in find("ENV") {
        for pair in rest.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV key=value");
            env.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
    }
    assert_eq!(
        env.get("GATEHOUSE_LISTEN").map(String::as_str),
        Some("0.0.0.0:8080")
    );
    let data_dir = env.get("GATEHOUSE_DATA_DIR").expect("GATEHOUSE_DATA_DIR");
    assert!(
        find("VOLUME").iter().any(|v| v.contains(data_dir.as_str())),
        "the data dir {data_dir} is a volume"
    );
    // The image's own settings are valid settings.
    let env_list: Vec<(String, String)> = env.clone().into_iter().collect();
    gatehouse_config::load_from(None, &env_list).expect("the image's ENV is a valid configuration");

    // No secret in the image: no ENV/ARG that names one, nothing secret copied in.
    for (word, rest) in &instructions {
        if word == "ENV" || word == "ARG" {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                assert_eq!(secret_problem(k, v), None, "{word} {rest}");
                assert!(
                    !secret_name(k),
                    "{word} {k}: secrets come at run time, not build time"
                );
            }
        }
        if word == "COPY" || word == "ADD" {
            assert!(
                !rest.contains(".env") && !rest.contains(".key"),
                "{word} {rest}"
            );
        }
    }
    let ignore = read(&deploy().join("Dockerfile.dockerignore"));
    for pattern in [
        ".git",
        "**/target",
        "**/node_modules",
        "**/.env",
        "deploy/compose/secrets",
    ] {
        assert!(
            ignore.lines().any(|l| l.trim() == pattern),
            "dockerignore lacks {pattern}"
        );
    }

    // The health check is a script copied from the repository.
    let healthcheck = find("HEALTHCHECK");
    let healthcheck = healthcheck.last().expect("HEALTHCHECK");
    let (_, command) = healthcheck
        .split_once("CMD ")
        .expect("HEALTHCHECK CMD [...]");
    let command: Vec<String> = serde_json::from_str(command).expect("HEALTHCHECK CMD in exec form");
    let script = healthcheck_script_path();
    let installed = runtime
        .iter()
        .filter(|(w, _)| w == "COPY")
        .find_map(|(_, r)| {
            let parts: Vec<&str> = r
                .split_whitespace()
                .filter(|p| !p.starts_with("--"))
                .collect();
            (parts.len() == 2 && command[0] == parts[1]).then(|| parts[0].to_owned())
        })
        .expect("HEALTHCHECK runs a script the Dockerfile copies in");
    assert_eq!(root().join(installed), script);
    assert!(
        find("ENTRYPOINT")
            .iter()
            .any(|e| e.contains("/usr/local/bin/gatehouse"))
    );
    let version_label = format!(
        "org.opencontainers.image.version=\"{}\"",
        workspace_version()
    );
    assert!(
        find("LABEL").iter().any(|l| l.contains(&version_label)),
        "the image label carries the workspace version"
    );
}

fn healthcheck_script_path() -> PathBuf {
    deploy().join("docker/healthcheck.sh")
}

async fn run_healthcheck(listen: &str) -> Output {
    tokio::process::Command::new("bash")
        .arg(healthcheck_script_path())
        .env("GATEHOUSE_LISTEN", listen)
        .output()
        .await
        .expect("run the health check")
}

/// Answers every request with `status`, to see the health check fail on anything but 200.
async fn stub_server(status: &'static str) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            // Read the whole request first: closing with unread bytes would reset the
            // connection before the client reads the answer.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    addr
}

#[tokio::test]
async fn the_image_health_check_and_the_chart_probes_hit_real_routes() {
    let server = gatehouse_testkit::spawn().await;
    let addr = server.url.trim_start_matches("http://").to_owned();

    let output = run_healthcheck(&addr).await;
    assert!(
        output.status.success(),
        "health check against a running server: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A wildcard bind is probed on loopback.
    let port = addr.rsplit(':').next().unwrap();
    assert!(
        run_healthcheck(&format!("0.0.0.0:{port}"))
            .await
            .status
            .success()
    );

    // Anything but 200 is unhealthy, and so is silence.
    let unavailable = stub_server("503 Service Unavailable").await;
    let output = run_healthcheck(&unavailable.to_string()).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("503"));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert!(!run_healthcheck(&closed.to_string()).await.status.success());

    // The Deployment's probe paths answer 200 on a fresh, migrated server.
    let objects = render_chart(DEFAULT_OVERRIDES).expect("chart renders");
    let deployment = find_kind(&objects, "Deployment");
    let container = get(deployment, "spec.template.spec.containers.0");
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = text(get(container, &format!("{probe}.httpGet.path")));
        server.client.anonymous().get(&path).await.expect(200);
    }
}

// ---------------------------------------------------------------------------------------------
// docker compose.

fn compose() -> Value {
    yaml(&deploy().join("compose/docker-compose.yml"))
}

/// `.env.example` as written (empty values stay empty).
fn env_example() -> BTreeMap<String, String> {
    read(&deploy().join("compose/.env.example"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!(".env.example: `{l}`"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Compose variable interpolation (`$$`, `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:?e}`, `${X?e}`);
/// also returns the variables the text requires (`?` forms).
fn interpolate(
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut required = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (inner, tail) = if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in `{text}`"))?;
            (&body[..end], &body[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let name_len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_len);
        if name.is_empty() {
            return Err(format!("bad interpolation in `{text}`"));
        }
        let value = vars.get(name).filter(|v| !v.is_empty());
        let resolved = if let Some(default) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-'))
        {
            value.cloned().unwrap_or_else(|| default.to_owned())
        } else if op.starts_with(":?") || op.starts_with('?') {
            required.push(name.to_owned());
            value
                .cloned()
                .ok_or_else(|| format!("{name} is required by `{text}`"))?
        } else if op.is_empty() {
            value.cloned().unwrap_or_default()
        } else {
            return Err(format!("unsupported interpolation `{inner}`"));
        };
        out.push_str(&resolved);
        rest = tail;
    }
    out.push_str(rest);
    Ok((out, required))
}

fn services(compose: &Value) -> &Mapping {
    get(compose, "services").as_mapping().expect("services")
}

/// A service's environment as (name, raw value) pairs, map or list form.
fn service_env(service: &Value) -> Vec<(String, String)> {
    match get(service, "environment") {
        Value::Mapping(map) => map.iter().map(|(k, v)| (text(k), text(v))).collect(),
        Value::Sequence(list) => list
            .iter()
            .map(|i| {
                let s = text(i);
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn names(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(list) => list.iter().map(text).collect(),
        Value::Mapping(map) => map.keys().map(text).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn compose_images_are_pinned_and_secrets_come_from_the_env_file() {
    let compose = compose();
    let example = env_example();
    let defaults_only = BTreeMap::new();
    let mut images = 0;
    for (name, service) in services(&compose) {
        let name = text(name);
        let Value::String(image) = get(service, "image") else {
            panic!("service {name} has no image");
        };
        // Pinned even when the .env file does not say otherwise.
        let (resolved, _) = interpolate(image, &defaults_only).unwrap();
        assert_eq!(image_problem(&resolved), None, "service {name}");
        images += 1;
        for (key, value) in service_env(service) {
            assert_eq!(secret_problem(&key, &value), None, "service {name}");
        }
        let mut all = Vec::new();
        settings_in(service, &mut all);
        for (key, value) in all {
            assert_eq!(secret_problem(&key, &value), None, "service {name}");
        }
    }
    assert!(images >= 8, "{images} images");
    // The example env file ships no secret.
    for (key, value) in &example {
        if secret_name(key) {
            assert!(
                value.is_empty(),
                ".env.example: {key} must be empty (generate it)"
            );
        }
    }
}

#[test]
fn compose_references_are_consistent() {
    let compose = compose();
    let services = services(&compose);
    let service_names: BTreeSet<String> = services.keys().map(text).collect();
    let declared =
        |section: &str| -> BTreeSet<String> { names(get(&compose, section)).into_iter().collect() };
    let (volumes, secrets, networks) = (
        declared("volumes"),
        declared("secrets"),
        declared("networks"),
    );
    let compose_dir = deploy().join("compose");
    let raw = read(&compose_dir.join("docker-compose.yml"));

    for (name, service) in services {
        let name = text(name);
        if let Value::Mapping(deps) = get(service, "depends_on") {
            for (dep, spec) in deps {
                let dep = text(dep);
                assert!(
                    service_names.contains(&dep),
                    "{name} depends on unknown {dep}"
                );
                match text(get(spec, "condition")).as_str() {
                    "service_healthy" => assert!(
                        !get(&services[dep.as_str()], "healthcheck").is_null(),
                        "{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
                    ),
                    "service_completed_successfully" => {
                        let restart = text(get(&services[dep.as_str()], "restart"));
                        assert!(
                            restart.is_empty() || restart == "no" || restart == "on-failure",
                            "{name} waits for {dep} to complete, but {dep} restarts ({restart})"
                        );
                    }
                    "service_started" => {}
                    other => panic!("{name} -> {dep}: unknown condition {other}"),
                }
            }
        }
        for volume in names(get(service, "volumes")) {
            let source = volume.split(':').next().unwrap();
            if source.starts_with('.') || source.starts_with('/') {
                assert!(
                    compose_dir.join(source).exists(),
                    "{name} mounts {source}, which is not in deploy/compose"
                );
            } else {
                assert!(
                    volumes.contains(source),
                    "{name} uses undeclared volume {source}"
                );
            }
        }
        for secret in names(get(service, "secrets")) {
            assert!(
                secrets.contains(&secret),
                "{name} uses undeclared secret {secret}"
            );
        }
        for network in names(get(service, "networks")) {
            assert!(
                networks.contains(&network),
                "{name} uses undeclared network {network}"
            );
        }
    }

    // Every variable compose requires is documented in .env.example, and every entry there is
    // used.
    let example = env_example();
    let mut placeholder = example.clone();
    for value in placeholder.values_mut() {
        if value.is_empty() {
            *value = "placeholder0123456789abcdef0123".to_owned();
        }
    }
    let (_, required) = interpolate(&raw, &placeholder).expect("compose interpolates");
    for var in &required {
        assert!(
            example.contains_key(var),
            "{var} is required but missing from .env.example"
        );
    }
    for key in example.keys() {
        assert!(
            raw.contains(&format!("${{{key}")),
            ".env.example: {key} is not used"
        );
    }
}

#[test]
fn compose_gives_gatehouse_a_valid_production_configuration() {
    let compose = compose();
    let services = services(&compose);
    let gatehouse = &services["gatehouse"];
    let zitadel = &services["zitadel"];
    let mut vars = env_example();
    for value in vars.values_mut() {
        if value.is_empty() {
            *value = "placeholder0123456789abcdef0123".to_owned();
        }
    }
    let resolve = |s: &str| interpolate(s, &vars).unwrap().0;

    // The image's ENV, then the service's environment: what the process sees.
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("GATEHOUSE_LISTEN".to_owned(), "0.0.0.0:8080".to_owned()),
        (
            "GATEHOUSE_DATA_DIR".to_owned(),
            "/var/lib/gatehouse".to_owned(),
        ),
    ]);
    for (k, v) in service_env(gatehouse) {
        env.insert(k, resolve(&v));
    }
    let list: Vec<(String, String)> = env.clone().into_iter().collect();
    let settings = gatehouse_config::load_from(None, &list)
        .unwrap_or_else(|e| panic!("compose's Gatehouse settings are refused: {e}"));
    assert!(settings.database_url.starts_with("postgres://"));
    let gatehouse_config::ZitadelTarget::External { url, credentials } = &settings.zitadel else {
        panic!("compose must use the real ZITADEL, not the embedded emulator");
    };
    let gatehouse_config::ZitadelCredentials::PatFile(pat) = credentials else {
        panic!("compose gives Gatehouse a PAT file");
    };

    // The PAT file is the one ZITADEL writes, on a volume both containers mount.
    let zitadel_env: BTreeMap<String, String> = service_env(zitadel)
        .into_iter()
        .map(|(k, v)| (k, resolve(&v)))
        .collect();
    let written = Path::new(&zitadel_env["ZITADEL_FIRSTINSTANCE_PATPATH"]);
    let mount_of = |service: &Value, path: &Path| -> Option<String> {
        names(get(service, "volumes")).into_iter().find_map(|v| {
            let mut parts = v.split(':');
            let (source, target) = (parts.next()?, parts.next()?);
            path.starts_with(target).then(|| source.to_owned())
        })
    };
    let gatehouse_volume = mount_of(gatehouse, pat).expect("the PAT file is on a mounted volume");
    assert_eq!(mount_of(zitadel, written), Some(gatehouse_volume.clone()));
    assert_eq!(
        pat.file_name(),
        written.file_name(),
        "Gatehouse reads the file ZITADEL writes"
    );
    assert_eq!(text(get(zitadel, "command.1")), "--masterkeyFromEnv");
    assert!(
        text(get(zitadel, "image")).starts_with("ghcr.io/zitadel/zitadel:v4."),
        "ZITADEL v4"
    );

    // Gatehouse reaches ZITADEL under ZITADEL's external domain (ZITADEL picks the instance by
    // the Host header), which is a network alias of the ZITADEL container.
    let domain = &zitadel_env["ZITADEL_EXTERNALDOMAIN"];
    assert_eq!(url.host_str(), Some(domain.as_str()));
    assert_eq!(
        url.port().map(|p| p.to_string()),
        Some(zitadel_env["ZITADEL_PORT"].clone())
    );
    let aliases: Vec<String> = names(get(zitadel, "networks.backend.aliases"))
        .iter()
        .map(|a| resolve(a))
        .collect();
    assert!(
        aliases.contains(domain),
        "{domain} is not an alias of zitadel: {aliases:?}"
    );

    // The master key is a compose secret.
    let key_file = settings.master_key_file.display().to_string();
    let secret = key_file
        .strip_prefix("/run/secrets/")
        .expect("master key from a secret");
    assert!(names(get(gatehouse, "secrets")).contains(&secret.to_owned()));
    assert!(!settings.master_key_is_default);

    // Start order and telemetry.
    for dep in ["postgres", "zitadel"] {
        assert_eq!(
            text(get(gatehouse, &format!("depends_on.{dep}.condition"))),
            "service_healthy"
        );
    }
    let endpoint = url::Url::parse(&env["OTEL_EXPORTER_OTLP_ENDPOINT"]).unwrap();
    let collector = endpoint.host_str().unwrap();
    assert!(
        services.contains_key(collector),
        "the OTLP endpoint {collector} is a service"
    );
    let shared = names(get(&services[collector], "networks"))
        .into_iter()
        .any(|n| names(get(gatehouse, "networks")).contains(&n));
    assert!(shared, "Gatehouse and {collector} share a network");
    let receivers = yaml(&deploy().join("compose/signoz/otel-collector-config.yaml"));
    // Gatehouse exports OTLP over HTTP (protobuf) only.
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf");
    let http = text(get(&receivers, "receivers.otlp.protocols.http.endpoint"));
    assert!(
        http.ends_with(&format!(":{}", endpoint.port().unwrap())),
        "{http} vs {endpoint}"
    );
    assert!(settings.public_url.as_str().starts_with("http://"));
    assert_eq!(
        resolve(&text(get(gatehouse, "image"))),
        format!("gatehouse:{}", workspace_version()),
        "the default image is this release"
    );
}

#[test]
fn collector_pipelines_use_only_defined_components() {
    let config = yaml(&deploy().join("compose/signoz/otel-collector-config.yaml"));
    let pipelines = get(&config, "service.pipelines")
        .as_mapping()
        .expect("pipelines");
    for signal in ["traces", "metrics", "logs"] {
        assert!(pipelines.contains_key(signal), "no {signal} pipeline");
    }
    for (name, pipeline) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            for component in names(get(pipeline, section)) {
                assert!(
                    get(&config, section)
                        .as_mapping()
                        .is_some_and(|m| m.contains_key(component.as_str())),
                    "pipeline {} uses undefined {section} {component}",
                    text(name)
                );
            }
        }
    }
    for extension in names(get(&config, "service.extensions")) {
        assert!(
            get(&config, "extensions")
                .as_mapping()
                .is_some_and(|m| m.contains_key(extension.as_str())),
            "undefined extension {extension}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Helm.

const CHART: &str = "helm/gatehouse";
const DEFAULT_OVERRIDES: &str = "
config:
  publicUrl: https://auth.example.com
zitadel:
  url: https://zitadel.example.com
";

fn chart_dir() -> PathBuf {
    deploy().join(CHART)
}

fn template_files() -> Vec<(String, String)> {
    let dir = chart_dir().join("templates");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = format!(
                "gatehouse/templates/{}",
                p.file_name().unwrap().to_str().unwrap()
            );
            (name, read(&p))
        })
        .collect()
}

fn chart_values() -> Value {
    yaml(&chart_dir().join("values.yaml"))
}

/// Renders every manifest template with the chart's values plus `overrides` (YAML), as
/// `helm template demo deploy/helm/gatehouse -n identity -f overrides` would.
fn render_chart_files(overrides: &str) -> Result<Vec<(String, String)>, String> {
    let files = template_files();
    let templates = gotmpl::Templates::parse(&files)?;
    let chart = yaml(&chart_dir().join("Chart.yaml"));
    let overrides: Value = match serde_yaml_ng::from_str(overrides).map_err(|e| e.to_string())? {
        Value::Null => Value::Mapping(Mapping::new()),
        other => other,
    };
    let values = gotmpl::merge(
        &gotmpl::helm_numbers(&chart_values()),
        &gotmpl::helm_numbers(&overrides),
    );
    let mut out = Vec::new();
    for (name, _) in &files {
        let base = name.rsplit('/').next().unwrap();
        if base.starts_with('_') {
            continue;
        }
        let data: Value = serde_yaml_ng::from_str(&format!(
            "Release: {{Name: demo, Namespace: identity, Service: Helm, IsInstall: true, IsUpgrade: false, Revision: 1}}
Chart: {{Name: {}, Version: '{}', AppVersion: '{}'}}
Template: {{BasePath: gatehouse/templates, Name: '{name}'}}",
            text(get(&chart, "name")),
            text(get(&chart, "version")),
            text(get(&chart, "appVersion")),
        ))
        .unwrap();
        let mut data = data.as_mapping().unwrap().clone();
        data.insert("Values".into(), values.clone());
        let rendered = templates.render(name, &Value::Mapping(data))?;
        out.push((name.clone(), rendered));
    }
    Ok(out)
}

/// The rendered Kubernetes objects (`NOTES.txt` excluded).
fn render_chart(overrides: &str) -> Result<Vec<Value>, String> {
    let mut objects = Vec::new();
    for (name, rendered) in render_chart_files(overrides)? {
        if name.ends_with("NOTES.txt") {
            continue;
        }
        for doc in serde_yaml_ng::Deserializer::from_str(&rendered) {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .map_err(|e| format!("{name} renders invalid YAML: {e}\n{rendered}"))?;
            if !value.is_null() {
                objects.push(value);
            }
        }
    }
    Ok(objects)
}

fn find_kind<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<_> = objects
        .iter()
        .filter(|o| text(get(o, "kind")) == kind)
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().map(|o| text(get(o, "kind"))).collect()
}

/// Every `.Values.a.b` path a template names, with the file it is in.
fn values_paths(files: &[(String, String)]) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for (name, src) in files {
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".Values.") {
            let tail = &rest[at + ".Values.".len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(tail.len());
            paths.push((name.clone(), tail[..end].trim_end_matches('.').to_owned()));
            rest = &tail[end..];
        }
    }
    paths
}

#[test]
fn helm_templates_are_balanced_and_use_only_declared_values() {
    let files = template_files();
    let templates = gotmpl::Templates::parse(&files).expect("templates parse and balance");
    let values = chart_values();
    let paths = values_paths(&files);
    assert!(
        paths.len() > 40,
        "found only {} .Values references",
        paths.len()
    );
    for (file, path) in &paths {
        let mut current = &values;
        for part in path.split('.') {
            current = current
                .as_mapping()
                .and_then(|m| m.get(part))
                .unwrap_or_else(|| panic!("{file}: .Values.{path} is not in values.yaml"));
        }
    }
    for (file, src) in &files {
        for marker in ["include \"", "template \""] {
            let mut rest = src.as_str();
            while let Some(at) = rest.find(marker) {
                let tail = &rest[at + marker.len()..];
                let name = &tail[..tail.find('"').unwrap()];
                assert!(templates.has(name), "{file}: no template named {name}");
                rest = &tail[name.len()..];
            }
        }
    }
    // values.yaml has no secret value.
    let mut settings = Vec::new();
    settings_in(&values, &mut settings);
    for (key, value) in settings {
        assert_eq!(secret_problem(&key, &value), None, "values.yaml");
    }
}

fn container_env(container: &Value) -> Vec<(String, Value)> {
    get(container, "env")
        .as_sequence()
        .map(|list| {
            list.iter()
                .map(|e| (text(get(e, "name")), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn labels(object: &Value, path: &str) -> BTreeMap<String, String> {
    get(object, path)
        .as_mapping()
        .map(|m| m.iter().map(|(k, v)| (text(k), text(v))).collect())
        .unwrap_or_default()
}

fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

/// Field names of the Kubernetes types the chart writes (apps/v1, batch/v1, core/v1): a
/// mis-indented block still parses as YAML but lands under the wrong parent, which this
/// catches.
const OBJECT_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "data",
    "automountServiceAccountToken",
];
const METADATA_FIELDS: &[&str] = &["name", "namespace", "labels", "annotations"];
const DEPLOYMENT_SPEC_FIELDS: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
];
const JOB_SPEC_FIELDS: &[&str] = &[
    "parallelism",
    "completions",
    "activeDeadlineSeconds",
    "podFailurePolicy",
    "backoffLimit",
    "selector",
    "manualSelector",
    "template",
    "ttlSecondsAfterFinished",
    "completionMode",
    "suspend",
    "podReplacementPolicy",
];
const POD_SPEC_FIELDS: &[&str] = &[
    "containers",
    "initContainers",
    "volumes",
    "serviceAccountName",
    "automountServiceAccountToken",
    "securityContext",
    "imagePullSecrets",
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "terminationGracePeriodSeconds",
    "restartPolicy",
    "priorityClassName",
    "dnsPolicy",
    "dnsConfig",
    "enableServiceLinks",
    "runtimeClassName",
    "schedulerName",
    "activeDeadlineSeconds",
    "hostAliases",
];
const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "ports",
    "env",
    "envFrom",
    "resources",
    "volumeMounts",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "securityContext",
];
const PROBE_FIELDS: &[&str] = &[
    "httpGet",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
];

fn assert_fields(value: &Value, allowed: &[&str], what: &str) {
    let map = value
        .as_mapping()
        .unwrap_or_else(|| panic!("{what} is not a mapping: {value:?}"));
    for key in map.keys() {
        let key = text(key);
        assert!(
            allowed.contains(&key.as_str()),
            "{what} has no field `{key}`"
        );
    }
}

fn assert_workload_fields(object: &Value, spec_fields: &[&str]) {
    let kind = text(get(object, "kind"));
    assert_fields(object, OBJECT_FIELDS, &kind);
    assert_fields(
        get(object, "metadata"),
        METADATA_FIELDS,
        &format!("{kind}.metadata"),
    );
    assert_fields(get(object, "spec"), spec_fields, &format!("{kind}.spec"));
    let pod = get(object, "spec.template.spec");
    assert_fields(pod, POD_SPEC_FIELDS, &format!("{kind} pod spec"));
    for container in pod["containers"].as_sequence().expect("containers") {
        assert_fields(container, CONTAINER_FIELDS, &format!("{kind} container"));
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = container.get(probe) {
                assert_fields(p, PROBE_FIELDS, &format!("{kind} {probe}"));
            }
        }
    }
}

#[test]
fn helm_chart_renders_a_hardened_deployment_with_migrations_and_default_deny_egress() {
    let objects = render_chart(DEFAULT_OVERRIDES).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kinds(&objects),
        BTreeSet::from(
            [
                "ConfigMap",
                "Deployment",
                "Job",
                "NetworkPolicy",
                "PodDisruptionBudget",
                "Service",
                "ServiceAccount"
            ]
            .map(String::from)
        )
    );
    for object in &objects {
        assert!(!text(get(object, "apiVersion")).is_empty());
        assert!(text(get(object, "metadata.name")).starts_with("demo-gatehouse"));
        let object_labels = labels(object, "metadata.labels");
        assert_eq!(object_labels["app.kubernetes.io/name"], "gatehouse");
        assert_eq!(object_labels["app.kubernetes.io/instance"], "demo");
        let mut all = Vec::new();
        settings_in(object, &mut all);
        for (key, value) in all {
            assert_eq!(
                secret_problem(&key, &value),
                None,
                "{}",
                text(get(object, "kind"))
            );
        }
    }

    let deployment = find_kind(&objects, "Deployment");
    assert_workload_fields(deployment, DEPLOYMENT_SPEC_FIELDS);
    let pod = get(deployment, "spec.template.spec");
    let container = get(pod, "containers.0");
    assert_eq!(get(deployment, "spec.replicas").as_i64(), Some(2));
    let selector = labels(deployment, "spec.selector.matchLabels");
    assert!(is_subset(
        &selector,
        &labels(deployment, "spec.template.metadata.labels")
    ));
    let image = text(get(container, "image"));
    assert_eq!(image, format!("gatehouse:{}", workspace_version()));
    assert_eq!(image_problem(&image), None);
    assert_eq!(names(get(container, "args")), ["serve", "--no-migrate"]);

    // Probes on the named HTTP port.
    assert_eq!(text(get(container, "ports.0.name")), "http");
    assert_eq!(get(container, "ports.0.containerPort").as_i64(), Some(8080));
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        assert_eq!(text(get(container, &format!("{probe}.httpGet.path"))), path);
        assert_eq!(
            text(get(container, &format!("{probe}.httpGet.port"))),
            "http"
        );
        assert!(
            get(container, &format!("{probe}.periodSeconds"))
                .as_i64()
                .is_some()
        );
    }

    // Non-root, read-only root filesystem, nothing extra.
    assert_eq!(
        get(pod, "securityContext.runAsNonRoot").as_bool(),
        Some(true)
    );
    assert!(
        get(pod, "securityContext.runAsUser")
            .as_i64()
            .is_some_and(|u| u > 0)
    );
    assert_eq!(
        text(get(pod, "securityContext.seccompProfile.type")),
        "RuntimeDefault"
    );
    let security = get(container, "securityContext");
    assert_eq!(
        get(security, "readOnlyRootFilesystem").as_bool(),
        Some(true)
    );
    assert_eq!(
        get(security, "allowPrivilegeEscalation").as_bool(),
        Some(false)
    );
    assert_eq!(names(get(security, "capabilities.drop")), ["ALL"]);
    assert_eq!(
        get(pod, "automountServiceAccountToken").as_bool(),
        Some(false)
    );

    // The configuration the pod sees is valid, and every writable path is an emptyDir.
    let configmap = find_kind(&objects, "ConfigMap");
    assert_eq!(
        text(get(container, "envFrom.0.configMapRef.name")),
        text(get(configmap, "metadata.name"))
    );
    let data = get(configmap, "data").as_mapping().expect("ConfigMap data");
    let mut env: BTreeMap<String, String> = data.iter().map(|(k, v)| (text(k), text(v))).collect();
    for key in env.keys() {
        assert!(
            key.starts_with("OTEL_") || known_gatehouse_var(key),
            "ConfigMap: {key} is not a setting"
        );
        assert!(!secret_name(key), "ConfigMap holds secret {key}");
    }
    assert_eq!(
        env["GATEHOUSE_MAX_BODY_BYTES"], "1048576",
        "numbers render as integers"
    );
    assert_eq!(
        env["GATEHOUSE_AUTO_MIGRATE"], "false",
        "the hook migrates, not the pods"
    );
    let volumes: BTreeMap<String, Value> = get(pod, "volumes")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| (text(get(v, "name")), v.clone()))
        .collect();
    let mounts: Vec<(String, String)> = get(container, "volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| (text(get(m, "mountPath")), text(get(m, "name"))))
        .collect();
    let volume_at = |path: &str| -> &Value {
        let (_, name) = mounts
            .iter()
            .filter(|(mount, _)| Path::new(path).starts_with(mount))
            .max_by_key(|(mount, _)| mount.len())
            .unwrap_or_else(|| panic!("{path} is on no volume"));
        &volumes[name]
    };
    for (_, name) in &mounts {
        assert!(
            volumes.contains_key(name),
            "mount of undeclared volume {name}"
        );
    }
    for (name, var) in container_env(container) {
        assert!(known_gatehouse_var(&name), "env {name} is not a setting");
        if secret_name(&name) || name == "GATEHOUSE_DATABASE_URL" {
            assert!(
                !get(&var, "valueFrom.secretKeyRef.name").is_null(),
                "{name} must come from a Secret"
            );
            assert!(get(&var, "value").is_null(), "{name} has an inline value");
            let stand_in = if name == "GATEHOUSE_DATABASE_URL" {
                "postgres://gatehouse:from-secret@db:5432/gatehouse"
            } else {
                "from-secret-0123456789abcdef0123456789abcdef"
            };
            env.insert(name, stand_in.to_owned());
        } else {
            env.insert(name, text(get(&var, "value")));
        }
    }
    let list: Vec<(String, String)> = env.clone().into_iter().collect();
    let settings = gatehouse_config::load_from(None, &list)
        .unwrap_or_else(|e| panic!("the chart's settings are refused: {e}"));
    assert_eq!(settings.listen.port(), 8080);
    assert!(!settings.auto_migrate);
    for writable in [
        &settings.data_dir,
        &settings.plugin_dir,
        &PathBuf::from("/tmp"),
    ] {
        let volume = volume_at(writable.to_str().unwrap());
        assert!(
            !get(volume, "emptyDir").is_null(),
            "{} is not an emptyDir",
            writable.display()
        );
    }
    assert!(
        !get(
            volume_at(settings.master_key_file.to_str().unwrap()),
            "secret.secretName"
        )
        .is_null(),
        "the master key comes from a Secret volume"
    );
    let gatehouse_config::ZitadelTarget::External { credentials, .. } = &settings.zitadel else {
        panic!("the chart runs against a real ZITADEL");
    };
    let gatehouse_config::ZitadelCredentials::PatFile(pat) = credentials else {
        panic!("default credentials are a PAT");
    };
    assert!(!get(volume_at(pat.to_str().unwrap()), "secret.secretName").is_null());

    // Configuration changes roll the pods.
    let rendered_configmap = render_chart_files(DEFAULT_OVERRIDES)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n.ends_with("/configmap.yaml"))
        .unwrap()
        .1;
    let digest: String = Sha256::digest(rendered_configmap.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        text(get(
            deployment,
            "spec.template.metadata.annotations.checksum/config"
        )),
        digest
    );

    // The Service and the PodDisruptionBudget select the server pods, not the migration job.
    let service = find_kind(&objects, "Service");
    let service_selector = labels(service, "spec.selector");
    assert!(is_subset(
        &service_selector,
        &labels(deployment, "spec.template.metadata.labels")
    ));
    assert_eq!(text(get(service, "spec.ports.0.targetPort")), "http");
    let pdb = find_kind(&objects, "PodDisruptionBudget");
    assert!(is_subset(
        &labels(pdb, "spec.selector.matchLabels"),
        &labels(deployment, "spec.template.metadata.labels")
    ));
    assert_eq!(get(pdb, "spec.minAvailable").as_i64(), Some(1));

    // The migration job: a pre-install/pre-upgrade hook running `gatehouse migrate` against
    // the same database, without the chart's ConfigMap or ServiceAccount (not there yet).
    let job = find_kind(&objects, "Job");
    let hooks: BTreeSet<String> = labels(job, "metadata.annotations")["helm.sh/hook"]
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        hooks,
        BTreeSet::from(["pre-install".to_owned(), "pre-upgrade".to_owned()])
    );
    let job_pod = get(job, "spec.template.spec");
    let job_container = get(job_pod, "containers.0");
    assert_workload_fields(job, JOB_SPEC_FIELDS);
    assert_eq!(names(get(job_container, "args")), ["migrate"]);
    assert_eq!(text(get(job_container, "image")), image);
    assert_eq!(text(get(job_pod, "restartPolicy")), "Never");
    assert!(get(job_pod, "serviceAccountName").is_null());
    assert!(get(job_container, "envFrom").is_null());
    let job_env: BTreeMap<String, Value> = container_env(job_container).into_iter().collect();
    assert_eq!(
        get(&job_env["GATEHOUSE_DATABASE_URL"], "valueFrom.secretKeyRef"),
        get(
            &container_env(container)
                .into_iter()
                .collect::<BTreeMap<_, _>>()["GATEHOUSE_DATABASE_URL"],
            "valueFrom.secretKeyRef"
        )
    );
    assert_eq!(
        get(job_container, "securityContext.readOnlyRootFilesystem").as_bool(),
        Some(true)
    );
    assert!(!is_subset(
        &service_selector,
        &labels(job, "spec.template.metadata.labels")
    ));

    // Default-deny network policy for every pod of the release; egress to DNS, PostgreSQL and
    // ZITADEL only.
    let policy = find_kind(&objects, "NetworkPolicy");
    assert_eq!(
        names(get(policy, "spec.policyTypes")),
        ["Ingress", "Egress"]
    );
    let selected = labels(policy, "spec.podSelector.matchLabels");
    assert!(is_subset(
        &selected,
        &labels(deployment, "spec.template.metadata.labels")
    ));
    assert!(is_subset(
        &selected,
        &labels(job, "spec.template.metadata.labels")
    ));
    let egress = get(policy, "spec.egress").as_sequence().unwrap();
    let ports: Vec<Vec<(i64, String)>> = egress
        .iter()
        .map(|rule| {
            get(rule, "ports")
                .as_sequence()
                .unwrap()
                .iter()
                .map(|p| (get(p, "port").as_i64().unwrap(), text(get(p, "protocol"))))
                .collect()
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            vec![(53, "UDP".to_owned()), (53, "TCP".to_owned())],
            vec![(5432, "TCP".to_owned())],
            vec![(8080, "TCP".to_owned())],
        ]
    );
    assert!(
        !get(&egress[0], "to.0.namespaceSelector").is_null(),
        "DNS only to kube-dns"
    );
}

#[test]
fn helm_chart_variants_render_what_they_promise() {
    // Three replicas behind an ingress with TLS, telemetry, webhooks to the internet but no
    // private range, a bootstrap credential, a ZITADEL key file instead of a PAT.
    let objects = render_chart(
        "
replicaCount: 3
config:
  publicUrl: https://auth.example.com
  egressAllow: [hooks.internal.example, 10.20.0.0/16]
  extraEnv:
    GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: 5s,1m
zitadel:
  url: https://zitadel.example.com
secrets:
  zitadelPat: {name: ''}
  zitadelKey: {name: zitadel-key}
  bootstrapToken: {name: gatehouse-bootstrap}
ingress:
  enabled: true
  className: nginx
  host: auth.example.com
  tls: {enabled: true, secretName: auth-tls}
otel:
  endpoint: http://otel-collector.observability:4318
networkPolicy:
  egress:
    webhooks:
      - cidr: 0.0.0.0/0
        except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]
        ports: [443]
",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(kinds(&objects).contains("Ingress"));
    let ingress = find_kind(&objects, "Ingress");
    assert_eq!(text(get(ingress, "spec.rules.0.host")), "auth.example.com");
    assert_eq!(text(get(ingress, "spec.tls.0.secretName")), "auth-tls");
    assert_eq!(text(get(ingress, "spec.ingressClassName")), "nginx");
    let deployment = find_kind(&objects, "Deployment");
    assert_workload_fields(deployment, DEPLOYMENT_SPEC_FIELDS);
    assert_eq!(get(deployment, "spec.replicas").as_i64(), Some(3));
    let container = get(deployment, "spec.template.spec.containers.0");
    let env: BTreeMap<String, Value> = container_env(container).into_iter().collect();
    assert!(env.contains_key("GATEHOUSE_ZITADEL_KEY_FILE"));
    assert!(!env.contains_key("GATEHOUSE_ZITADEL_PAT_FILE"));
    assert_eq!(
        text(get(
            &env["GATEHOUSE_BOOTSTRAP_TOKEN"],
            "valueFrom.secretKeyRef.name"
        )),
        "gatehouse-bootstrap"
    );
    let configmap = find_kind(&objects, "ConfigMap");
    assert_eq!(
        text(get(configmap, "data.GATEHOUSE_EGRESS_ALLOW")),
        "hooks.internal.example,10.20.0.0/16"
    );
    assert_eq!(
        text(get(configmap, "data.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE")),
        "5s,1m"
    );
    assert_eq!(
        text(get(configmap, "data.OTEL_EXPORTER_OTLP_ENDPOINT")),
        "http://otel-collector.observability:4318"
    );
    let policy = find_kind(&objects, "NetworkPolicy");
    let egress = get(policy, "spec.egress").as_sequence().unwrap();
    assert_eq!(egress.len(), 5, "DNS, PostgreSQL, ZITADEL, OTLP, webhooks");
    let webhooks = &egress[4];
    assert_eq!(text(get(webhooks, "to.0.ipBlock.cidr")), "0.0.0.0/0");
    assert_eq!(names(get(webhooks, "to.0.ipBlock.except")).len(), 3);
    assert_eq!(get(webhooks, "ports.0.port").as_i64(), Some(443));
    assert_eq!(
        get(
            find_kind(&objects, "PodDisruptionBudget"),
            "spec.minAvailable"
        )
        .as_i64(),
        Some(1)
    );

    // One replica: no PDB (it would block node drains). No migration hook: pods migrate.
    // No network policy when disabled.
    let objects = render_chart(&format!(
        "{DEFAULT_OVERRIDES}
replicaCount: 1
migration: {{enabled: false}}
networkPolicy: {{enabled: false}}
serviceAccount: {{create: false}}
"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kinds(&objects),
        BTreeSet::from(["ConfigMap", "Deployment", "Service"].map(String::from))
    );
    let deployment = find_kind(&objects, "Deployment");
    let container = get(deployment, "spec.template.spec.containers.0");
    assert_eq!(names(get(container, "args")), ["serve"]);
    assert_eq!(
        text(get(deployment, "spec.template.spec.serviceAccountName")),
        "default"
    );
    assert_eq!(
        text(get(
            find_kind(&objects, "ConfigMap"),
            "data.GATEHOUSE_AUTO_MIGRATE"
        )),
        "true"
    );

    // The NOTES render with the defaults.
    let notes = render_chart_files(DEFAULT_OVERRIDES)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n.ends_with("NOTES.txt"))
        .unwrap()
        .1;
    assert!(notes.contains("https://auth.example.com/admin"), "{notes}");
    assert!(notes.contains("networkPolicy.egress.webhooks"), "{notes}");
}

#[test]
fn helm_chart_refuses_incomplete_or_unsafe_values() {
    let cases = [
        ("", "config.publicUrl"),
        ("config: {publicUrl: https://a.example}", "zitadel.url"),
        (
            &format!("{DEFAULT_OVERRIDES}\nimage: {{tag: latest}}"),
            "not latest",
        ),
        (
            &format!("{DEFAULT_OVERRIDES}\nsecrets: {{zitadelKey: {{name: k}}}}"),
            "exactly one",
        ),
        (
            &format!("{DEFAULT_OVERRIDES}\nsecrets: {{zitadelPat: {{name: ''}}}}"),
            "zitadelPat.name or zitadelKey.name",
        ),
        (
            &format!("{DEFAULT_OVERRIDES}\nsecrets: {{databaseUrl: {{name: ''}}}}"),
            "secrets.databaseUrl.name",
        ),
        (
            &format!(
                "{DEFAULT_OVERRIDES}\nnetworkPolicy: {{egress: {{webhooks: [{{cidr: 0.0.0.0/0}}]}}}}"
            ),
            "list the destination ports",
        ),
        (
            &format!("{DEFAULT_OVERRIDES}\ningress: {{enabled: true}}"),
            "ingress.host",
        ),
    ];
    for (overrides, expected) in cases {
        let err = render_chart(overrides).expect_err(overrides);
        assert!(err.contains(expected), "{overrides:?}: {err}");
    }
}

#[test]
fn chart_compose_and_image_carry_the_workspace_version() {
    let version = workspace_version();
    let chart = yaml(&chart_dir().join("Chart.yaml"));
    assert_eq!(text(get(&chart, "apiVersion")), "v2");
    assert_eq!(text(get(&chart, "appVersion")), version);
    assert_eq!(env_example()["GH_IMAGE"], format!("gatehouse:{version}"));
}

// ---------------------------------------------------------------------------------------------
// The offline bundle.

fn bundle_script() -> PathBuf {
    deploy().join("bundle/make-bundle.sh")
}

/// A stand-in for the release binary: prints a version like `gatehouse --version`.
fn fake_binary(dir: &Path) -> PathBuf {
    let path = dir.join("gatehouse");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "#!/bin/sh\necho 'gatehouse 9.9.9-test'").unwrap();
    drop(file);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(cmd: &mut Command) -> (bool, String) {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), all)
}

fn minisign_available() -> bool {
    let found = Command::new("minisign")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !strict(),
            "minisign is required under STRICT=1 (apt-get install minisign)"
        );
        eprintln!("skipped: minisign is not installed (apt-get install minisign)");
    }
    found
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn the_bundle_is_checksummed_and_signed_so_that_stock_tools_verify_it() {
    if !minisign_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A throwaway key pair without a password.
    let (ok, out) = run(Command::new("minisign")
        .args(["-G", "-W", "-p"])
        .arg(d.join("key.pub"))
        .arg("-s")
        .arg(d.join("key.sec")));
    assert!(ok, "{out}");
    let binary = fake_binary(d);
    let packages = d.join("packages");
    std::fs::create_dir(&packages).unwrap();
    std::fs::write(
        packages.join("acme.slack-1.2.0.tar.gz"),
        b"signed package bytes",
    )
    .unwrap();
    // Built-in components where cargo would leave them.
    let target = d.join("target");
    let builtins = target.join("wasm-plugins/wasm32-wasip2/release");
    std::fs::create_dir_all(&builtins).unwrap();
    std::fs::write(
        builtins.join("gatehouse_webhook_slack.wasm"),
        b"\0asm component",
    )
    .unwrap();
    std::fs::write(builtins.join("gatehouse_hostile.wasm"), b"\0asm test guest").unwrap();

    let out_dir = d.join("out");
    let (ok, log) = run(Command::new("bash")
        .arg(bundle_script())
        .arg("--binary")
        .arg(&binary)
        .args(["--no-image", "--key"])
        .arg(d.join("key.sec"))
        .arg("--pubkey")
        .arg(d.join("key.pub"))
        .arg("--plugins")
        .arg(&packages)
        .arg("--out")
        .arg(&out_dir)
        .env("CARGO_TARGET_DIR", &target));
    assert!(ok, "make-bundle.sh failed:\n{log}");
    assert!(
        log.contains("==> writing SHA256SUMS"),
        "progress is printed:\n{log}"
    );

    let name = format!("gatehouse-9.9.9-test-linux-{}", arch());
    let bundle = out_dir.join(&name);
    assert!(out_dir.join(format!("{name}.tar")).is_file());
    assert_eq!(
        std::fs::read(bundle.join("bin/gatehouse")).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    assert_eq!(read(&bundle.join("VERSION")).trim(), "9.9.9-test");
    for expected in [
        "plugins/acme.slack-1.2.0.tar.gz",
        "plugins/builtin/gatehouse_webhook_slack.wasm",
        "deploy/helm/gatehouse/Chart.yaml",
        "deploy/compose/docker-compose.yml",
        "deploy/compose/.env.example",
        "deploy/Dockerfile",
        "docs/operations.md",
        "README.md",
    ] {
        assert!(bundle.join(expected).is_file(), "bundle lacks {expected}");
    }
    assert!(
        !bundle
            .join("plugins/builtin/gatehouse_hostile.wasm")
            .exists(),
        "test guests stay out"
    );
    assert!(!bundle.join("deploy/bundle").exists());

    // SHA256SUMS lists every other file exactly once, with its real digest.
    let sums = read(&bundle.join("SHA256SUMS"));
    let mut listed = BTreeSet::new();
    for line in sums.lines() {
        let (digest, file) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("bad line {line}"));
        let actual: String = Sha256::digest(std::fs::read(bundle.join(file)).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, actual, "{file}");
        assert!(listed.insert(file.to_owned()), "{file} listed twice");
    }
    let mut on_disk = BTreeSet::new();
    let mut stack = vec![bundle.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                on_disk.insert(path.strip_prefix(&bundle).unwrap().display().to_string());
            }
        }
    }
    on_disk.remove("SHA256SUMS");
    on_disk.remove("SHA256SUMS.minisig");
    assert_eq!(listed, on_disk);

    // The operator's commands from the README, with the stock tools.
    let verify = |bundle: &Path| {
        run(Command::new("minisign")
            .args(["-Vm", "SHA256SUMS", "-p"])
            .arg(d.join("key.pub"))
            .current_dir(bundle))
    };
    let (ok, out) = verify(&bundle);
    assert!(
        ok && out.contains("gatehouse 9.9.9-test offline bundle"),
        "{out}"
    );
    let (ok, out) = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&bundle));
    assert!(ok, "{out}");

    // The archive holds the same tree; tampering is caught by one check or the other.
    let unpacked = d.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let (ok, out) = run(Command::new("tar")
        .arg("-xf")
        .arg(out_dir.join(format!("{name}.tar")))
        .arg("-C")
        .arg(&unpacked));
    assert!(ok, "{out}");
    let copy = unpacked.join(&name);
    assert!(verify(&copy).0);
    std::fs::write(copy.join("bin/gatehouse"), b"#!/bin/sh\necho evil\n").unwrap();
    let (ok, out) = run(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&copy));
    assert!(!ok && out.contains("bin/gatehouse: FAILED"), "{out}");
    let forged = sums.replace(&sums[..64], &"0".repeat(64));
    std::fs::write(copy.join("SHA256SUMS"), forged).unwrap();
    let (ok, _) = verify(&copy);
    assert!(!ok, "a changed SHA256SUMS must fail the signature check");

    // Never overwritten.
    let (ok, log) = run(Command::new("bash")
        .arg(bundle_script())
        .arg("--binary")
        .arg(&binary)
        .args(["--no-image", "--key"])
        .arg(d.join("key.sec"))
        .arg("--out")
        .arg(&out_dir));
    assert!(!ok && log.contains("already exists"), "{log}");
}

#[test]
fn the_bundle_script_refuses_clearly_and_its_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let binary = fake_binary(d);
    let key = d.join("some.key");
    std::fs::write(&key, "not used").unwrap();
    let out_dir = d.join("out");
    let script = |extra: &[&str], minisign: &str| {
        let mut cmd = Command::new("bash");
        cmd.arg(bundle_script())
            .arg("--binary")
            .arg(&binary)
            .arg("--no-image")
            .arg("--out")
            .arg(&out_dir)
            .args(extra)
            .env("MINISIGN", minisign);
        run(&mut cmd)
    };

    // A missing tool is named, with how to get it, before anything is written.
    let (ok, log) = script(&["--key", key.to_str().unwrap()], "/nonexistent/minisign");
    assert!(!ok, "{log}");
    assert!(
        log.contains("'/nonexistent/minisign' is required")
            && log.contains("apt-get install minisign"),
        "{log}"
    );
    assert!(!out_dir.exists());

    // So is a missing key, an unknown flag, a missing docker for --image.
    let stand_in = "/bin/true";
    let (ok, log) = script(&[], stand_in);
    assert!(!ok && log.contains("--key is required"), "{log}");
    let (ok, log) = script(&["--key", key.to_str().unwrap(), "--bogus"], stand_in);
    assert!(!ok && log.contains("unknown argument '--bogus'"), "{log}");
    let mut cmd = Command::new("bash");
    cmd.arg(bundle_script())
        .args([
            "--binary",
            binary.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .args([
            "--image",
            "gatehouse:9.9.9-test",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .env("MINISIGN", stand_in)
        .env("DOCKER", "/nonexistent/docker");
    let (ok, log) = run(&mut cmd);
    assert!(!ok && log.contains("needs docker"), "{log}");
    assert!(!out_dir.exists());

    // The dry run checks and plans, and writes nothing.
    let (ok, log) = script(&["--key", key.to_str().unwrap(), "--dry-run"], stand_in);
    assert!(ok, "{log}");
    assert!(
        log.contains("gatehouse-9.9.9-test-linux-") && log.contains("nothing written"),
        "{log}"
    );
    assert!(!out_dir.exists());
}
