//! Where the binary's `tracing` output goes: stderr always (text or JSON), and OTLP — traces and
//! logs over HTTP/protobuf — only when the operator sets `OTEL_EXPORTER_OTLP_ENDPOINT` (or the
//! per-signal `…_TRACES_ENDPOINT` / `…_LOGS_ENDPOINT`). With none set, nothing leaves the box.
//!
//! The exporters read the standard `OTEL_*` variables themselves (endpoint, headers, timeout,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, batch settings).

use std::sync::OnceLock;

use anyhow::{Context, bail};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, logs::SdkLoggerProvider, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, layer::SubscriberExt, util::SubscriberInitExt,
};

const ENDPOINT_VARS: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];
const PROTOCOL_VARS: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
];

/// The exporting providers, kept for the flush at exit.
struct Exporters {
    traces: SdkTracerProvider,
    logs: SdkLoggerProvider,
}

static EXPORTERS: OnceLock<Exporters> = OnceLock::new();

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber. Fails only on an OTLP setting Gatehouse cannot honour.
pub fn init(format: gatehouse_config::LogFormat, level: &str) -> anyhow::Result<()> {
    init_with(format, level, |name| std::env::var(name).ok())
}

fn init_with(
    format: gatehouse_config::LogFormat,
    level: &str,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let export = otlp_requested(&var)?;
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let mut layers: Vec<BoxedLayer> = vec![match format {
        gatehouse_config::LogFormat::Json => stderr.json().with_filter(filter(level)).boxed(),
        gatehouse_config::LogFormat::Text => stderr.with_filter(filter(level)).boxed(),
    }];
    if export {
        // The exporters' blocking HTTP client owns a runtime of its own, which must not be
        // created (or later dropped) on an async runtime's thread.
        let exporters = std::thread::spawn(build_exporters)
            .join()
            .map_err(|_| anyhow::anyhow!("building the OTLP exporters panicked"))??;
        let tracer = exporters.traces.tracer("gatehouse");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(export_filter(level))
                .boxed(),
        );
        layers.push(
            OpenTelemetryTracingBridge::new(&exporters.logs)
                .with_filter(export_filter(level))
                .boxed(),
        );
        let _ = EXPORTERS.set(exporters);
    }
    // A second init (tests, or a command calling another) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}

/// Sends what is still buffered. Call outside the async runtime, before exit.
pub fn flush() {
    if let Some(exporters) = EXPORTERS.get() {
        let _ = exporters.traces.shutdown();
        let _ = exporters.logs.shutdown();
    }
}

fn otlp_requested(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<bool> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    if !ENDPOINT_VARS.iter().any(|name| set(name).is_some()) {
        return Ok(false);
    }
    for name in PROTOCOL_VARS {
        if let Some(protocol) = set(name)
            && protocol.trim() != "http/protobuf"
        {
            bail!(
                "{name}={protocol} is not supported: Gatehouse exports OTLP over HTTP with \
                 protobuf bodies; set {name}=http/protobuf (or unset it) and point the endpoint \
                 at the collector's OTLP/HTTP port (4318 by default)"
            );
        }
    }
    Ok(true)
}

fn build_exporters() -> anyhow::Result<Exporters> {
    let resource = if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name("gatehouse").build()
    };
    let spans = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .context("building the OTLP trace exporter (check OTEL_EXPORTER_OTLP_* settings)")?;
    let logs = LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .context("building the OTLP log exporter (check OTEL_EXPORTER_OTLP_* settings)")?;
    Ok(Exporters {
        traces: SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build(),
        logs: SdkLoggerProvider::builder()
            .with_batch_exporter(logs)
            .with_resource(resource)
            .build(),
    })
}

/// `RUST_LOG` when set, else the configured level.
fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The same, minus the exporter's own HTTP stack: its events would be exported in turn, and
/// each export would log again.
fn export_filter(level: &str) -> EnvFilter {
    [
        "hyper",
        "hyper_util",
        "h2",
        "reqwest",
        "tower",
        "opentelemetry",
        "opentelemetry_sdk",
        "opentelemetry_otlp",
        "opentelemetry_http",
    ]
    .iter()
    .fold(filter(level), |filter, target| {
        filter.add_directive(format!("{target}=off").parse().expect("a valid directive"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn export_only_when_an_endpoint_is_set() {
        assert!(!otlp_requested(&vars(&[])).unwrap());
        assert!(!otlp_requested(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).unwrap());
        assert!(
            otlp_requested(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])).unwrap()
        );
        assert!(
            otlp_requested(&vars(&[(
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://c:4318/v1/logs"
            )]))
            .unwrap()
        );
        assert!(
            !otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ]))
            .unwrap()
        );
    }

    #[test]
    fn other_protocols_are_refused_by_name() {
        for protocol in ["grpc", "http/json"] {
            let err = otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "{err}");
            assert!(err.contains("http/protobuf"), "{err}");
        }
        assert!(
            otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ]))
            .unwrap()
        );
    }
}
