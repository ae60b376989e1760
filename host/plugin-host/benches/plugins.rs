//! `cargo bench -p gatehouse-plugin-host`: what plugin calls cost. Prints one table; every
//! ratio is measured in this one run. Method: each case runs ~300 ms per sample, 5 rounds
//! round-robin over the cases, median reported (the machine is shared and noisy).

#![allow(clippy::print_stdout)]

use std::{
    hint::black_box,
    path::Path,
    time::{Duration, Instant},
};

use gatehouse_core::plugin::PluginLimits;
use gatehouse_plugin::{Config, Webhook};
use gatehouse_plugin_host::{
    HostConfig, PluginHost, PluginSpec, PoolConfig, ReusedWebhook, builtin_plugins,
};
use gatehouse_webhook_cloudevents::CloudEvents;

const SAMPLE: Duration = Duration::from_millis(300);
const ROUNDS: usize = 5;

/// A ~1 KiB `user.created` event.
fn event() -> String {
    let event = serde_json::json!({
        "id": "evt_01JDQ8X9W3N2D3V0T2K5Q7R8S9",
        "type": "user.created",
        "occurred_at": "2026-11-25T17:07:04.123Z",
        "tenant_id": "ten_01JDQ8X9W3N2D3V0T2K5Q7R8S9",
        "data": {
            "id": "usr_01JDQ8X9W3N2D3V0T2K5Q7R8S9",
            "email": "ada.lovelace@analytical-engines.example",
            "email_verified": true,
            "given_name": "Ada", "family_name": "Lovelace", "display_name": "Ada Lovelace",
            "preferred_language": "en", "login_names": ["ada", "ada.lovelace@analytical-engines.example"],
            "roles": ["admin", "billing", "support"],
            "groups": ["engineering", "research", "analytical-engine-users"],
            "phone": "+44 20 7946 0958", "timezone": "Europe/London",
            "metadata": {"department": "Mathematics", "cost_center": "CC-1843", "employee_id": "E-000001",
                         "manager": "usr_01JDQ8X9W3N2D3V0T2K5Q7R8AB", "location": "London"},
            "idp": {"id": "prv_01JDQ8X9W3N2D3V0T2K5Q7R8S9", "kind": "google", "subject": "109876543210987654321"},
            "created_by": "key_01JDQ8X9W3N2D3V0T2K5Q7R8S9",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "ip": "203.0.113.42"
        }
    });
    let text = event.to_string();
    assert!(
        (950..1200).contains(&text.len()),
        "event is {} bytes",
        text.len()
    );
    text
}

/// ns per iteration of `f`, over about `SAMPLE`.
fn sample(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut iterations = 0u64;
    let started = Instant::now();
    while started.elapsed() < SAMPLE {
        for _ in 0..10 {
            f();
        }
        iterations += 10;
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let event = event();
    let config_json = "{}";
    let host = PluginHost::new(HostConfig {
        // The runaway case faults on purpose, repeatedly.
        fault_limit: 0,
        max_concurrent_calls: 4,
        pool: PoolConfig {
            max_instances: 16,
            ..PoolConfig::default()
        },
        ..HostConfig::default()
    })
    .expect("host");
    let cloudevents = builtin_plugins()
        .iter()
        .find(|b| b.id == "gatehouse.cloudevents")
        .expect("cloudevents built-in");
    let plugin = host
        .load_blocking(&PluginSpec::new(
            "cloudevents",
            "bench",
            cloudevents.wasm.to_vec(),
        ))
        .expect("load");

    // The same transform, native and in wasm, must agree byte for byte.
    let native_body = {
        let config = Config::parse(config_json).unwrap();
        match CloudEvents::transform(&event, &config).unwrap() {
            gatehouse_plugin::Outcome::Deliver(d) => d.body,
            gatehouse_plugin::Outcome::Drop(_) => unreachable!(),
        }
    };
    match host
        .webhook_transform_blocking(&plugin, &event, config_json)
        .unwrap()
    {
        gatehouse_plugin_host::TransformOutcome::Deliver(d) => assert_eq!(d.body, native_body),
        other => panic!("{other:?}"),
    }
    let mut reused = ReusedWebhook::new(&host, &plugin).expect("instance");
    // The same fresh-instance call with other `keep_resident` settings of the pool.
    let variants: Vec<(usize, PluginHost, gatehouse_plugin_host::Plugin)> = [0usize, 256 << 10]
        .into_iter()
        .map(|keep| {
            let host = PluginHost::new(HostConfig {
                max_concurrent_calls: 2,
                pool: PoolConfig {
                    max_instances: 4,
                    keep_resident_bytes: keep,
                    ..PoolConfig::default()
                },
                ..HostConfig::default()
            })
            .unwrap();
            let plugin = host
                .load_blocking(&PluginSpec::new(
                    "cloudevents",
                    "bench",
                    cloudevents.wasm.to_vec(),
                ))
                .unwrap();
            (keep, host, plugin)
        })
        .collect();
    let mut variant_ns: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut native = Vec::new();
    let mut fresh = Vec::new();
    let mut fresh_async = Vec::new();
    let mut reuse = Vec::new();
    for _ in 0..ROUNDS {
        native.push(sample(|| {
            let config = Config::parse(black_box(config_json)).unwrap();
            black_box(CloudEvents::transform(black_box(&event), &config).unwrap());
        }));
        fresh.push(sample(|| {
            black_box(
                host.webhook_transform_blocking(&plugin, black_box(&event), config_json)
                    .unwrap(),
            );
        }));
        reuse.push(sample(|| {
            black_box(reused.transform(black_box(&event), config_json).unwrap());
        }));
        for ((_, vhost, vplugin), results) in variants.iter().zip(variant_ns.iter_mut()) {
            results.push(sample(|| {
                black_box(
                    vhost
                        .webhook_transform_blocking(vplugin, black_box(&event), config_json)
                        .unwrap(),
                );
            }));
        }
        fresh_async.push(sample(|| {
            runtime.block_on(async {
                black_box(
                    host.call_webhook_transform(&plugin, &event, config_json)
                        .await
                        .unwrap(),
                );
            });
        }));
    }
    let native = median(&mut native);
    let fresh = median(&mut fresh);
    let reuse = median(&mut reuse);
    let fresh_async = median(&mut fresh_async);

    // Runaway plugin: how long past its deadline does a loop run?
    let hostile_path =
        Path::new(env!("GATEHOUSE_PLUGINS_WASM_DIR")).join("gatehouse_test_hostile.wasm");
    let mut spec = PluginSpec::new("hostile", "bench", std::fs::read(&hostile_path).unwrap());
    spec.limits = PluginLimits {
        deadline_ms: Some(20),
        ..PluginLimits::default()
    };
    let hostile = host.load_blocking(&spec).unwrap();
    let mut overshoot: Vec<f64> = (0..30)
        .map(|_| {
            let result = host.call_blocking(
                &hostile,
                gatehouse_plugin_host::Call::WebhookTransform {
                    event: serde_json::json!({}),
                    config: serde_json::json!({"mode": "loop"}),
                },
            );
            assert!(matches!(
                result.output,
                Err(gatehouse_plugin_host::PluginError::Deadline { .. })
            ));
            (result.report.wall_time.as_secs_f64() - 0.020) * 1e3
        })
        .collect();
    overshoot.sort_by(f64::total_cmp);
    let overshoot_p50 = overshoot[overshoot.len() / 2];
    let overshoot_p90 = overshoot[overshoot.len() * 9 / 10];
    let overshoot_max = overshoot[overshoot.len() - 1];

    // First call after a restart: a new host loads the 1 MiB component from the cache.
    let big = std::fs::read(
        Path::new(env!("GATEHOUSE_PLUGINS_WASM_DIR")).join("gatehouse_test_big.wasm"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cached = HostConfig {
        cache_dir: Some(cache.path().to_owned()),
        max_concurrent_calls: 2,
        pool: PoolConfig {
            max_instances: 4,
            ..PoolConfig::default()
        },
        ..HostConfig::default()
    };
    let mut compile_ms = Vec::new();
    let mut restart_ms = Vec::new();
    let mut restart_load_ms = Vec::new();
    for round in 0..ROUNDS {
        // A fresh cache directory per round for the compile measurement.
        let dir = cache.path().join(format!("round{round}"));
        let config = HostConfig {
            cache_dir: Some(dir),
            ..cached.clone()
        };
        let first = PluginHost::new(config.clone()).unwrap();
        let started = Instant::now();
        let loaded = first
            .load_blocking(&PluginSpec::new("big", "1", big.clone()))
            .unwrap();
        compile_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(!loaded.loaded_from_cache());
        drop(first);
        let restarted = PluginHost::new(config).unwrap();
        let started = Instant::now();
        let loaded = restarted
            .load_blocking(&PluginSpec::new("big", "1", big.clone()))
            .unwrap();
        let load = started.elapsed();
        assert!(loaded.loaded_from_cache());
        restarted
            .webhook_transform_blocking(&loaded, &event, config_json)
            .unwrap();
        restart_load_ms.push(load.as_secs_f64() * 1e3);
        restart_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let compile_ms = median(&mut compile_ms);
    let restart_ms = median(&mut restart_ms);
    let restart_load_ms = median(&mut restart_load_ms);

    println!(
        "Plugin benchmarks ({}-byte event, cloudevents transform; median of {ROUNDS} rounds)",
        event.len()
    );
    println!();
    println!("| case | time | ratio | goal |");
    println!("|---|---:|---:|---|");
    println!(
        "| native transform (same code, this process) | {:.1} µs | 1.00 | |",
        native / 1e3
    );
    println!(
        "| isolated call: fresh instance, calling thread (pool keep_resident 1024 KiB, the default) | {:.1} µs | {:.2}× | ≤ 2.0× |",
        fresh / 1e3,
        fresh / native
    );
    println!(
        "| isolated call: fresh instance via async dispatch (call threads) | {:.1} µs | {:.2}× | |",
        fresh_async / 1e3,
        fresh_async / native
    );
    for ((keep, _, _), results) in variants.iter().zip(variant_ns.iter_mut()) {
        let ns = median(results);
        println!(
            "| same, pool keep_resident {} KiB | {:.1} µs | {:.2}× | |",
            keep / 1024,
            ns / 1e3,
            ns / native
        );
    }
    println!(
        "| reused instance (benchmark only) | {:.1} µs | {:.2}× | |",
        reuse / 1e3,
        reuse / native
    );
    println!(
        "| runaway loop, 20 ms deadline: time past the deadline (p50 / p90 / max of 30) | {overshoot_p50:.2} / {overshoot_p90:.2} / {overshoot_max:.2} ms | | ≤ 2 ms |"
    );
    println!(
        "| 1 MiB component ({} bytes): compile + cache | {compile_ms:.1} ms | | |",
        big.len()
    );
    println!("| same after restart: load from cache | {restart_load_ms:.2} ms | | |");
    println!(
        "| same after restart: load from cache + first call | {restart_ms:.2} ms | {:.0}× faster than compiling | ≤ 5 ms |",
        compile_ms / restart_ms
    );
    println!();
    println!("| built-in plugin | size | goal ≤ 256 KiB |");
    println!("|---|---:|---|");
    for builtin in builtin_plugins() {
        let ok = if builtin.wasm.len() <= 256 * 1024 {
            "ok"
        } else {
            "OVER"
        };
        println!(
            "| {} | {:.1} KiB | {ok} |",
            builtin.id,
            builtin.wasm.len() as f64 / 1024.0
        );
    }
}
