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
async fn serve_exports_traces_metrics_and_logs_over_otlp_http() {
    // The collector stand-in also takes the webhook deliveries (any other path).
    let received = Received::default();
    let app = Router::new().fallback(collect).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let data = tempfile::tempdir().unwrap();
    let token = format!("ghk_otlp_{}", ulid::Ulid::new());
    let mut cmd = gatehouse();
    hermetic(&mut cmd);
    cmd.args(["serve"])
        .env("GATEHOUSE_DATA_DIR", data.path())
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_BOOTSTRAP_TOKEN", &token)
        .env("GATEHOUSE_EGRESS_ALLOW", "127.0.0.1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=otlp-test",
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .stderr(Stdio::null());
    let (mut child, addr) = spawn_serve(&mut cmd);

    // A refused request makes a `request` span and a 401 in the HTTP metric.
    let client = reqwest::Client::new();
    let status = client
        .get(format!("http://{addr}/v1/tenants"))
        .bearer_auth("ghk_not_a_key")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    // An endpoint with a transform: its creation event is delivered through the plugin.
    let post = |path: String, body: serde_json::Value| {
        let request = client
            .post(format!("http://{addr}{path}"))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let tenant = post(
        "/v1/tenants".into(),
        serde_json::json!({"name": "Metrics", "slug": "metrics"}),
    )
    .await;
    let tenant = tenant["id"].as_str().unwrap();
    post(
        format!("/v1/tenants/{tenant}/webhooks"),
        serde_json::json!({
            "url": format!("http://{collector}/hook"),
            "event_types": ["*"],
            "transform": {"plugin": "gatehouse.cloudevents", "config": {}},
        }),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let (traces, metrics, logs) = loop {
        let traces = received.bodies("/v1/traces");
        let metrics = received.bodies("/v1/metrics");
        let logs = received.bodies("/v1/logs");
        let span_seen = traces
            .iter()
            .any(|b| contains(b, "request") && contains(b, "/v1/tenants"));
        let log_seen = logs
            .iter()
            .any(|b| contains(b, "database migrations applied"));
        let missing: Vec<&str> = [
            "http.server.request.duration",
            "/v1/tenants/{tenant_id}/webhooks",
            "gatehouse.plugin.calls",
            "gatehouse.plugin.call.duration",
            "gatehouse.cloudevents",
            "gatehouse.webhook.attempts",
            "gatehouse.webhook.attempt.duration",
            "succeeded",
        ]
        .into_iter()
        .filter(|name| !metrics.iter().any(|b| contains(b, name)))
        .collect();
        let metrics_seen = missing.is_empty();
        if span_seen && log_seen && metrics_seen {
            break (traces, metrics, logs);
        }
        assert!(
            Instant::now() < deadline,
            "the collector got {} trace, {} metric and {} log exports, without the request \
             span ({span_seen}), the migration log ({log_seen}) or the HTTP, plugin and \
             webhook metrics (missing: {missing:?})",
            traces.len(),
            metrics.len(),
            logs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    for body in traces.iter().chain(&metrics).chain(&logs) {
        assert!(contains(body, "gatehouse"), "service.name is gatehouse");
        assert!(
            contains(body, "otlp-test"),
            "OTEL_RESOURCE_ATTRIBUTES are applied"
        );
    }
    // Metric attributes are bounded: routes are templates, never the ids in the path.
    assert!(
        !metrics.iter().any(|b| contains(b, tenant)),
        "no tenant id in metrics"
    );
    let secret_key = std::fs::read_to_string(data.path().join("master.key")).unwrap_or_default();
    for body in traces.iter().chain(&metrics).chain(&logs) {
        assert!(
            secret_key.trim().is_empty() || !contains(body, secret_key.trim()),
            "no master key in telemetry"
        );
        assert!(
            !contains(body, "ghk_not_a_key") && !contains(body, &token),
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
