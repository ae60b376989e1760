//! OTLP export from the real binary to a collector stand-in that records what it receives.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
};

use crate::{gatehouse, spawn_serve, text};

/// One export: path, content type, body.
type Export = (String, String, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

impl Received {
    /// Bodies posted to `path` with a protobuf content type.
    fn bodies(&self, path: &str) -> Vec<Vec<u8>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, content_type, _)| p == path && content_type == "application/x-protobuf")
            .map(|(_, _, body)| body.clone())
            .collect()
    }
}

async fn collect(
    State(received): State<Received>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received
        .0
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), content_type, body.to_vec()));
    StatusCode::OK
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn hermetic(cmd: &mut std::process::Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") {
            cmd.env_remove(key);
        }
    }
}

#[tokio::test]
async fn serve_exports_traces_and_logs_over_otlp_http() {
    let received = Received::default();
    let app = Router::new().fallback(collect).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let data = tempfile::tempdir().unwrap();
    let mut cmd = gatehouse();
    hermetic(&mut cmd);
    cmd.args(["serve"])
        .env("GATEHOUSE_DATA_DIR", data.path())
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=otlp-test",
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .stderr(Stdio::null());
    let (mut child, addr) = spawn_serve(&mut cmd);

    // A request makes a `request` span; the refused credential is not what is checked here.
    let status = reqwest::Client::new()
        .get(format!("http://{addr}/v1/tenants"))
        .bearer_auth("ghk_not_a_key")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    let deadline = Instant::now() + Duration::from_secs(30);
    let (traces, logs) = loop {
        let traces = received.bodies("/v1/traces");
        let logs = received.bodies("/v1/logs");
        let span_seen = traces
            .iter()
            .any(|b| contains(b, "request") && contains(b, "/v1/tenants"));
        let log_seen = logs
            .iter()
            .any(|b| contains(b, "database migrations applied"));
        if span_seen && log_seen {
            break (traces, logs);
        }
        assert!(
            Instant::now() < deadline,
            "the collector got {} trace and {} log exports, without the request span or the \
             migration log",
            traces.len(),
            logs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    for body in traces.iter().chain(&logs) {
        assert!(contains(body, "gatehouse"), "service.name is gatehouse");
        assert!(
            contains(body, "otlp-test"),
            "OTEL_RESOURCE_ATTRIBUTES are applied"
        );
    }
    let secret_key = std::fs::read_to_string(data.path().join("master.key")).unwrap_or_default();
    for body in traces.iter().chain(&logs) {
        assert!(
            secret_key.trim().is_empty() || !contains(body, secret_key.trim()),
            "no master key in telemetry"
        );
        assert!(
            !contains(body, "ghk_not_a_key"),
            "no credential in telemetry"
        );
    }
}

#[test]
fn an_otlp_protocol_gatehouse_cannot_speak_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = gatehouse();
    hermetic(&mut cmd);
    let output = cmd
        .args(["serve"])
        .env("GATEHOUSE_DATA_DIR", data.path())
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(data.path()).unwrap().next().is_none(),
        "nothing was written before the refusal"
    );
}
