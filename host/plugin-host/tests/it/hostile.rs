//! The hostile-plugin suite: every misbehaviour is contained, reported with the right error,
//! does not stall other calls, and leaks nothing over thousands of calls.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use gatehouse_core::plugin::PluginLimits;
use gatehouse_plugin_host::{
    Call, DisableSink, HostConfig, LoadError, Plugin, PluginError, PluginHost, PluginSpec,
    PoolConfig, TransformOutcome,
};
use serde_json::json;

use crate::{config, load, tenant, wasm};

const EVENT: &str = r#"{"id":"evt_1","type":"user.created","data":{"id":"usr_1"}}"#;

fn hostile(host: &PluginHost, limits: PluginLimits) -> Plugin {
    let mut spec = PluginSpec::new("hostile", "1.0.0", wasm("gatehouse_test_hostile"));
    spec.limits = limits;
    host.load_blocking(&spec).expect("load hostile")
}

fn run(host: &PluginHost, plugin: &Plugin, mode: &str) -> gatehouse_plugin_host::CallResult {
    host.call_blocking(
        plugin,
        Call::WebhookTransform {
            event: serde_json::from_str(EVENT).unwrap(),
            config: json!({ "mode": mode }),
        },
    )
}

fn body(result: &gatehouse_plugin_host::CallResult) -> serde_json::Value {
    match &result.output {
        Ok(gatehouse_plugin_host::Output::Transformed(TransformOutcome::Deliver(d))) => {
            serde_json::from_str(&d.body).unwrap()
        }
        other => panic!("expected a delivery, got {other:?}"),
    }
}

#[test]
fn each_misbehaviour_gets_the_right_error() {
    let host = PluginHost::new(config()).unwrap();
    let plugin = hostile(&host, PluginLimits::default());
    let deadline = plugin.limits().deadline;

    let result = run(&host, &plugin, "ok");
    assert_eq!(body(&result)["type"], "user.created");

    let result = run(&host, &plugin, "loop");
    assert!(
        matches!(
            result.output,
            Err(PluginError::Deadline { deadline_ms: 100 })
        ),
        "{:?}",
        result.output
    );
    assert!(result.report.wall_time >= deadline);

    let result = run(&host, &plugin, "memory");
    assert!(
        matches!(result.output, Err(PluginError::Memory { limit_bytes }) if limit_bytes == 32 << 20),
        "{:?}",
        result.output
    );
    assert!(result.report.peak_memory_bytes <= 32 << 20);
    assert!(
        result.report.peak_memory_bytes > 16 << 20,
        "it grew up to the cap"
    );

    // Deep recursion overflows either wasmtime's wasm stack or the guest's 64 KiB shadow
    // stack in linear memory (an out-of-bounds access): a trap either way.
    let result = run(&host, &plugin, "stack");
    assert!(
        matches!(&result.output, Err(PluginError::Trap { message })
            if message.contains("stack overflow") || message.contains("out of bounds")),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "huge-output");
    assert!(
        matches!(&result.output, Err(PluginError::BadOutput { message }) if message.contains("over the limit")),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "trap");
    assert!(
        matches!(result.output, Err(PluginError::Trap { .. })),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "bad-utf8");
    assert!(
        matches!(result.output, Err(PluginError::BadOutput { .. })),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "bad-json");
    assert!(
        matches!(&result.output, Err(PluginError::BadOutput { message }) if message.contains("not valid JSON")),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "bad-header");
    assert!(
        matches!(&result.output, Err(PluginError::BadOutput { message }) if message.contains("Host")),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "exit");
    assert!(
        matches!(&result.output, Err(PluginError::Trap { message }) if message.contains("exited with status")),
        "{:?}",
        result.output
    );

    let result = run(&host, &plugin, "error");
    assert!(
        matches!(result.output, Err(PluginError::Plugin(_))),
        "{:?}",
        result.output
    );
}

/// Every call gets a fresh instance, also when the pool reuses a slot an earlier call dirtied
/// (statics reset, grown pages zeroed, whether reset by memset, page scan or madvise).
#[test]
fn no_state_survives_between_calls() {
    let host = PluginHost::new(config()).unwrap();
    let plugin = hostile(&host, PluginLimits::default());
    for _ in 0..5 {
        let result = body(&run(&host, &plugin, "remember"));
        assert_eq!(result["calls"], 1, "{result}");
        assert_eq!(result["dirty"], false, "{result}");
        assert!(result["first_page"].as_u64().is_some(), "{result}");
    }
}

#[test]
fn no_environment_files_or_network() {
    let host = PluginHost::new(config()).unwrap();
    let plugin = hostile(&host, PluginLimits::default());
    let env = body(&run(&host, &plugin, "env"));
    assert_eq!(env["vars"], json!([]), "no environment variables");
    assert_eq!(env["args"], json!([]), "no arguments");

    // Components that import the filesystem or sockets are refused before they can run
    // (std's socket support also pulls in wasi:filesystem, which may be named first).
    for (name, interface) in [
        ("gatehouse_test_reads_files", "wasi:filesystem/"),
        ("gatehouse_test_opens_socket", "wasi:sockets/"),
    ] {
        let component = wasm(name);
        let needle = format!("{interface}tcp");
        let uses = interface == "wasi:filesystem/"
            || component
                .windows(needle.len())
                .any(|w| w == needle.as_bytes());
        assert!(uses, "{name} really imports {interface}");
        let err = host
            .load_blocking(&PluginSpec::new(name, "1.0.0", component))
            .unwrap_err();
        assert!(
            matches!(&err, LoadError::DisallowedImport { import }
                if import.starts_with("wasi:filesystem/") || import.starts_with("wasi:sockets/")),
            "{name}: {err}"
        );
    }
}

#[test]
fn clocks_cannot_outlive_the_deadline() {
    let host = PluginHost::new(config()).unwrap();
    let plugin = hostile(
        &host,
        PluginLimits {
            deadline_ms: Some(40),
            ..PluginLimits::default()
        },
    );
    let now = body(&run(&host, &plugin, "time"));
    assert!(
        now.as_u64().unwrap() > 1_700_000_000,
        "wall clock works: {now}"
    );
    for mode in ["sleep", "sleep-forever", "spin-clock"] {
        let started = Instant::now();
        let result = run(&host, &plugin, mode);
        let elapsed = started.elapsed();
        assert!(
            matches!(
                result.output,
                Err(PluginError::Deadline { deadline_ms: 40 })
            ),
            "{mode}: {:?}",
            result.output
        );
        assert!(
            elapsed < Duration::from_millis(40 + 200),
            "{mode} ran {elapsed:?} past a 40 ms deadline"
        );
    }
}

#[test]
fn output_floods_are_capped() {
    let host = PluginHost::new(config()).unwrap();
    let plugin = hostile(&host, PluginLimits::default());
    for mode in ["stdout-flood", "log-flood"] {
        let result = run(&host, &plugin, mode);
        assert!(result.output.is_ok(), "{mode}: {:?}", result.output);
        let logged: usize = result.report.log.iter().map(|l| l.message.len()).sum();
        assert!(logged <= 4096, "{mode}: {logged} bytes logged");
        assert!(logged > 0);
        assert!(result.report.log_truncated, "{mode}");
    }
}

#[test]
fn provider_outputs_are_checked() {
    let host = PluginHost::new(config()).unwrap();
    let evil = load(&host, "gatehouse_test_evil_provider");
    let call = |mode: &str, call: fn(serde_json::Value) -> Call| {
        host.call_blocking(&evil, call(json!({ "mode": mode })))
            .output
    };
    let idp = |config| Call::ProviderZitadelIdp {
        ctx: tenant(),
        config,
        existing_id: None,
    };
    assert!(call("ok", idp).is_ok());
    for mode in ["admin-path", "traversal", "not-json"] {
        assert!(
            matches!(call(mode, idp), Err(PluginError::BadOutput { .. })),
            "{mode}"
        );
    }
    let uris = |config| Call::ProviderRedirectUris {
        ctx: tenant(),
        config,
    };
    assert!(matches!(
        call("bad-uri", uris),
        Err(PluginError::BadOutput { .. })
    ));
    let egress = |config| Call::ProviderEgress { config };
    assert!(matches!(
        call("bad-egress", egress),
        Err(PluginError::BadOutput { .. })
    ));
}

#[derive(Default)]
struct RecordingSink(Mutex<Vec<(String, String)>>);

impl DisableSink for RecordingSink {
    fn plugin_disabled(&self, id: &str, _version: &str, reason: &str) {
        self.0
            .lock()
            .unwrap()
            .push((id.to_owned(), reason.to_owned()));
    }
}

#[test]
fn repeated_faults_disable_the_plugin_with_a_reason() {
    let sink = Arc::new(RecordingSink::default());
    let host = PluginHost::new(HostConfig {
        fault_limit: 3,
        disable_sink: Some(sink.clone()),
        ..config()
    })
    .unwrap();
    let plugin = hostile(&host, PluginLimits::default());
    // A plugin's own errors are not faults.
    for _ in 0..5 {
        assert!(matches!(
            run(&host, &plugin, "error").output,
            Err(PluginError::Plugin(_))
        ));
    }
    for _ in 0..3 {
        assert!(matches!(
            run(&host, &plugin, "trap").output,
            Err(PluginError::Trap { .. })
        ));
    }
    let result = run(&host, &plugin, "ok");
    let Err(PluginError::Disabled { reason, .. }) = result.output else {
        panic!("expected disabled, got {:?}", result.output);
    };
    assert!(reason.contains("3 faults"), "{reason}");
    assert_eq!(plugin.disabled_reason().as_deref(), Some(reason.as_str()));
    let recorded = sink.0.lock().unwrap().clone();
    assert_eq!(recorded, vec![("hostile".to_owned(), reason)]);
    plugin.set_disabled(None);
    assert!(run(&host, &plugin, "ok").output.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_calls_are_served_while_plugins_run_away() {
    let host = PluginHost::new(HostConfig {
        max_concurrent_calls: 4,
        ..config()
    })
    .unwrap();
    let runaway = hostile(
        &host,
        PluginLimits {
            deadline_ms: Some(100),
            ..PluginLimits::default()
        },
    );
    let good = hostile(&host, PluginLimits::default());
    let started = Instant::now();
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let host = host.clone();
            let runaway = runaway.clone();
            tokio::spawn(async move {
                let result = host
                    .call_webhook_transform(&runaway, EVENT, r#"{"mode":"loop"}"#)
                    .await;
                (result, started.elapsed())
            })
        })
        .collect();
    // Let the loops start, then check the runtime and the remaining slots still serve.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let tick = Instant::now();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        tick.elapsed() < Duration::from_millis(50),
        "the async runtime stalled"
    );
    let mut served = Vec::new();
    for _ in 0..20 {
        let outcome = host
            .call_webhook_transform(&good, EVENT, r#"{"mode":"ok"}"#)
            .await;
        assert!(
            matches!(outcome, Ok(TransformOutcome::Deliver(_))),
            "{outcome:?}"
        );
        served.push(started.elapsed());
    }
    for handle in loops {
        let (result, finished) = handle.await.unwrap();
        assert!(
            matches!(result, Err(PluginError::Deadline { .. })),
            "{result:?}"
        );
        assert!(finished >= Duration::from_millis(100));
    }
    let before_loops_ended = served
        .iter()
        .filter(|at| **at < Duration::from_millis(100))
        .count();
    assert!(
        before_loops_ended >= 10,
        "only {before_loops_ended} of 20 calls finished while the loops ran: {served:?}"
    );
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[test]
fn ten_thousand_hostile_calls_do_not_grow_memory() {
    let host = PluginHost::new(HostConfig {
        max_concurrent_calls: 4,
        pool: PoolConfig {
            max_instances: 8,
            ..PoolConfig::default()
        },
        ..config()
    })
    .unwrap();
    let tight = PluginLimits {
        deadline_ms: Some(2),
        memory_mib: Some(4),
        ..PluginLimits::default()
    };
    let plugin = hostile(&host, tight);
    let modes = [
        "trap",
        "bad-utf8",
        "bad-json",
        "exit",
        "memory",
        "stack",
        "loop",
        "huge-output",
    ];
    let calls = |count: usize| {
        std::thread::scope(|scope| {
            for worker in 0..4 {
                let host = &host;
                let plugin = &plugin;
                scope.spawn(move || {
                    for i in (worker..count).step_by(4) {
                        let result = run(host, plugin, modes[i % modes.len()]);
                        assert!(
                            result.output.is_err(),
                            "{} succeeded",
                            modes[i % modes.len()]
                        );
                    }
                });
            }
        });
    };
    calls(1_000);
    let before = rss_kib();
    calls(9_000);
    let after = rss_kib();
    let growth = after.saturating_sub(before);
    eprintln!("RSS {before} KiB -> {after} KiB over 9,000 hostile calls (+{growth} KiB)");
    assert!(
        growth < 32 * 1024,
        "RSS grew {growth} KiB over 9,000 hostile calls"
    );
}
