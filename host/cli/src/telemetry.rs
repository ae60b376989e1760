//! Where the binary's `tracing` output goes: stderr always (text or JSON), and OTLP — traces,
//! metrics and logs over HTTP/protobuf — only for the signals whose endpoint the operator sets
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` for all three, or the per-signal `…_TRACES_ENDPOINT`,
//! `…_METRICS_ENDPOINT`, `…_LOGS_ENDPOINT`). With none set, nothing leaves the box.
//!
//! The exporters read the standard `OTEL_*` variables themselves (endpoint, headers, timeout,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, batch settings,
//! `OTEL_METRIC_EXPORT_INTERVAL`); `OTEL_<SIGNAL>_EXPORTER=none` turns one signal off.

use std::sync::OnceLock;

use anyhow::{Context, bail};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    Resource, logs::SdkLoggerProvider, metrics::SdkMeterProvider, trace::SdkTracerProvider,
};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, layer::SubscriberExt, util::SubscriberInitExt,
};

/// One OTLP signal and the variables that concern it alone.
struct Signal {
    name: &'static str,
    endpoint: &'static str,
    protocol: &'static str,
    exporter: &'static str,
}

const TRACES: Signal = Signal {
    name: "traces",
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    exporter: "OTEL_TRACES_EXPORTER",
};
const METRICS: Signal = Signal {
    name: "metrics",
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    exporter: "OTEL_METRICS_EXPORTER",
};
const LOGS: Signal = Signal {
    name: "logs",
    endpoint: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    exporter: "OTEL_LOGS_EXPORTER",
};

/// The signals to export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Requested {
    traces: bool,
    metrics: bool,
    logs: bool,
}

impl Requested {
    fn any(self) -> bool {
        self.traces || self.metrics || self.logs
    }
}

/// The exporting providers, kept for the flush at exit.
#[derive(Default)]
struct Exporters {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    logs: Option<SdkLoggerProvider>,
}

static EXPORTERS: OnceLock<Exporters> = OnceLock::new();

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber (and meter provider). Fails only on an OTLP setting
/// Gatehouse cannot honour.
pub fn init(format: gatehouse_config::LogFormat, level: &str) -> anyhow::Result<()> {
    init_with(format, level, |name| std::env::var(name).ok())
}

fn init_with(
    format: gatehouse_config::LogFormat,
    level: &str,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let requested = otlp_requested(&var)?;
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let mut layers: Vec<BoxedLayer> = vec![match format {
        gatehouse_config::LogFormat::Json => stderr.json().with_filter(filter(level)).boxed(),
        gatehouse_config::LogFormat::Text => stderr.with_filter(filter(level)).boxed(),
    }];
    if requested.any() && EXPORTERS.get().is_none() {
        // The exporters' blocking HTTP client owns a runtime of its own, which must not be
        // created (or later dropped) on an async runtime's thread.
        let exporters = std::thread::spawn(move || build_exporters(requested))
            .join()
            .map_err(|_| anyhow::anyhow!("building the OTLP exporters panicked"))??;
        if let Some(traces) = &exporters.traces {
            layers.push(
                tracing_opentelemetry::layer()
                    .with_tracer(traces.tracer("gatehouse"))
                    .with_filter(export_filter(level))
                    .boxed(),
            );
        }
        if let Some(logs) = &exporters.logs {
            layers.push(
                OpenTelemetryTracingBridge::new(logs)
                    .with_filter(export_filter(level))
                    .boxed(),
            );
        }
        if let Some(metrics) = &exporters.metrics {
            // The libraries' instruments (`gatehouse.*`, `http.server.*`) come from here.
            opentelemetry::global::set_meter_provider(metrics.clone());
        }
        let _ = EXPORTERS.set(exporters);
    }
    // A second init (tests, or a command calling another) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(())
}

/// Sends what is still buffered. Call outside the async runtime, before exit.
pub fn flush() {
    if let Some(exporters) = EXPORTERS.get() {
        if let Some(traces) = &exporters.traces {
            let _ = traces.shutdown();
        }
        if let Some(metrics) = &exporters.metrics {
            let _ = metrics.shutdown();
        }
        if let Some(logs) = &exporters.logs {
            let _ = logs.shutdown();
        }
    }
}

fn otlp_requested(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Requested> {
    let set = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Requested::default());
    }
    let everything = set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let wanted = |signal: &Signal| -> anyhow::Result<bool> {
        if !everything && set(signal.endpoint).is_none() {
            return Ok(false);
        }
        match set(signal.exporter).as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(false),
            Some(other) => bail!(
                "{}={other} is not supported: Gatehouse exports {} only over OTLP; set it to \
                 `otlp` or `none` (or unset it)",
                signal.exporter,
                signal.name
            ),
        }
        for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", signal.protocol] {
            if let Some(protocol) = set(name)
                && protocol != "http/protobuf"
            {
                bail!(
                    "{name}={protocol} is not supported: Gatehouse exports OTLP over HTTP with \
                     protobuf bodies; set {name}=http/protobuf (or unset it) and point the \
                     endpoint at the collector's OTLP/HTTP port (4318 by default)"
                );
            }
        }
        Ok(true)
    };
    Ok(Requested {
        traces: wanted(&TRACES)?,
        metrics: wanted(&METRICS)?,
        logs: wanted(&LOGS)?,
    })
}

fn build_exporters(requested: Requested) -> anyhow::Result<Exporters> {
    let resource = if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name("gatehouse").build()
    };
    let mut exporters = Exporters::default();
    if requested.traces {
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("building the OTLP trace exporter (check OTEL_EXPORTER_OTLP_* settings)")?;
        exporters.traces = Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(spans)
                .with_resource(resource.clone())
                .build(),
        );
    }
    if requested.metrics {
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("building the OTLP metric exporter (check OTEL_EXPORTER_OTLP_* settings)")?;
        exporters.metrics = Some(
            // Exports every OTEL_METRIC_EXPORT_INTERVAL (60 s by default) from its own thread.
            SdkMeterProvider::builder()
                .with_periodic_exporter(metrics)
                .with_resource(resource.clone())
                .build(),
        );
    }
    if requested.logs {
        let logs = LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("building the OTLP log exporter (check OTEL_EXPORTER_OTLP_* settings)")?;
        exporters.logs = Some(
            SdkLoggerProvider::builder()
                .with_batch_exporter(logs)
                .with_resource(resource)
                .build(),
        );
    }
    Ok(exporters)
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

    const ALL: Requested = Requested {
        traces: true,
        metrics: true,
        logs: true,
    };

    #[test]
    fn export_only_when_an_endpoint_is_set() {
        let none = Requested::default();
        assert_eq!(otlp_requested(&vars(&[])).unwrap(), none);
        assert_eq!(
            otlp_requested(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).unwrap(),
            none
        );
        assert_eq!(
            otlp_requested(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])).unwrap(),
            ALL
        );
        assert_eq!(
            otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ]))
            .unwrap(),
            none
        );
    }

    #[test]
    fn a_signal_alone_exports_alone() {
        // A per-signal endpoint must not send the other signals to the default collector.
        assert_eq!(
            otlp_requested(&vars(&[(
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://c:4318/v1/logs"
            )]))
            .unwrap(),
            Requested {
                logs: true,
                ..Requested::default()
            }
        );
        assert_eq!(
            otlp_requested(&vars(&[(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://c:4318/v1/metrics"
            )]))
            .unwrap(),
            Requested {
                metrics: true,
                ..Requested::default()
            }
        );
        assert_eq!(
            otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "otlp"),
            ]))
            .unwrap(),
            Requested {
                traces: false,
                ..ALL
            }
        );
    }

    #[test]
    fn other_exporters_and_protocols_are_refused_by_name() {
        for protocol in ["grpc", "http/json"] {
            let err = otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"), "{err}");
            assert!(err.contains("http/protobuf"), "{err}");
        }
        assert_eq!(
            otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ]))
            .unwrap(),
            ALL
        );
        let err = otlp_requested(&vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("OTEL_METRICS_EXPORTER=prometheus"), "{err}");
        // A signal that is not exported is not checked.
        assert_eq!(
            otlp_requested(&vars(&[
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ]))
            .unwrap(),
            Requested {
                logs: true,
                ..Requested::default()
            }
        );
    }
}
