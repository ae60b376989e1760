//! Delivery metrics, exported over OTLP when the binary installs a meter provider (no-ops
//! otherwise): attempts by outcome, how long the exchange took, dead letters and endpoints
//! disabled. No tenant or endpoint attribute: their number is unbounded (the portal and the
//! API show per-endpoint numbers).

use std::{sync::OnceLock, time::Duration};

use gatehouse_core::webhook::AttemptStatus;
use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram},
};

struct Instruments {
    attempts: Counter<u64>,
    duration: Histogram<f64>,
    dead_letters: Counter<u64>,
    endpoints_disabled: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = global::meter("gatehouse.webhooks");
        Instruments {
            attempts: meter
                .u64_counter("gatehouse.webhook.attempts")
                .with_description(
                    "Webhook delivery attempts, by outcome (succeeded, failed, skipped)",
                )
                .build(),
            duration: meter
                .f64_histogram("gatehouse.webhook.attempt.duration")
                .with_unit("s")
                .with_description("Time from sending a webhook to the end of the (capped) answer")
                .build(),
            dead_letters: meter
                .u64_counter("gatehouse.webhook.dead_letters")
                .with_description("Deliveries that exhausted their retries or cannot succeed")
                .build(),
            endpoints_disabled: meter
                .u64_counter("gatehouse.webhook.endpoints_disabled")
                .with_description("Endpoints disabled by the pipeline (410 Gone, failing for days)")
                .build(),
        }
    })
}

/// Records one attempt; `latency` is `None` when no request was sent.
pub(crate) fn attempt(status: AttemptStatus, latency: Option<Duration>) {
    let instruments = instruments();
    let outcome = [KeyValue::new("outcome", status.as_str())];
    instruments.attempts.add(1, &outcome);
    if let Some(latency) = latency {
        instruments.duration.record(latency.as_secs_f64(), &outcome);
    }
}

pub(crate) fn dead_letters(count: u64) {
    if count > 0 {
        instruments().dead_letters.add(count, &[]);
    }
}

pub(crate) fn endpoint_disabled() {
    instruments().endpoints_disabled.add(1, &[]);
}
