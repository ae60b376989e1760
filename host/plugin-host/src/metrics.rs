//! Plugin call metrics, exported over OTLP when the binary installs a meter provider (no-ops
//! otherwise): calls by plugin, call and outcome, and how long they took. Attributes stay
//! bounded: installed plugins, the calls of the WIT contracts, and the error codes.

use std::{sync::OnceLock, time::Duration};

use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram},
};

struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = global::meter("gatehouse.plugins");
        Instruments {
            calls: meter
                .u64_counter("gatehouse.plugin.calls")
                .with_description(
                    "Plugin calls, by plugin, call and outcome (`ok` or the error code)",
                )
                .build(),
            duration: meter
                .f64_histogram("gatehouse.plugin.call.duration")
                .with_unit("s")
                .with_description("Wall time of a plugin call, instantiation included")
                .build(),
        }
    })
}

/// Records one finished call.
pub(crate) fn call(
    id: &str,
    version: &str,
    call: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    let instruments = instruments();
    let attributes = [
        KeyValue::new("plugin.id", id.to_owned()),
        KeyValue::new("plugin.version", version.to_owned()),
        KeyValue::new("plugin.call", call),
    ];
    instruments.duration.record(took.as_secs_f64(), &attributes);
    let [id, version, call] = attributes;
    instruments
        .calls
        .add(1, &[id, version, call, KeyValue::new("outcome", outcome)]);
}
