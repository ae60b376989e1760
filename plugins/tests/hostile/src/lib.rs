//! A webhook transform that misbehaves on purpose, chosen by `{"mode": "…"}` in its config. The
//! plugin host's hostile-plugin suite checks that each misbehaviour is contained and reported
//! with the right error while other calls keep being served.

// Blocking sleeps are the point here: they test the host's guard on guest clocks.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;

use gatehouse_plugin::{Config, Delivery, KeyValue, Outcome, PluginError, Webhook, WebhookInfo};

pub struct Hostile;

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    // Both calls keep a frame alive, so this cannot become a loop.
    black_box(recurse(black_box(depth + 1))) + black_box(recurse(depth + 2))
}

/// What an earlier call could have left behind for this one: a static counter, and whether the
/// memory it grows past the initial pages still holds the marker an earlier call wrote there. A
/// fresh instance per call answers `{"calls":1,"dirty":false}` every time.
#[cfg(target_arch = "wasm32")]
fn remember() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    const PAGES: usize = 32;
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let first = core::arch::wasm32::memory_grow(0, PAGES);
    if first == usize::MAX {
        return r#"{"error":"memory.grow failed"}"#.into();
    }
    // Pages the allocator never handed out, read and written through a raw pointer on purpose.
    #[allow(unsafe_code)]
    let region =
        unsafe { std::slice::from_raw_parts_mut((first * 65536) as *mut u8, PAGES * 65536) };
    let dirty = region.iter().any(|&b| b != 0);
    region.fill(0xAB);
    format!(r#"{{"calls":{calls},"dirty":{dirty},"first_page":{first}}}"#)
}

#[cfg(not(target_arch = "wasm32"))]
fn remember() -> String {
    r#"{"calls":1,"dirty":false}"#.into()
}

fn deliver(body: String) -> Result<Outcome, PluginError> {
    Ok(Outcome::Deliver(Delivery {
        body,
        content_type: "application/json".into(),
        headers: Vec::new(),
    }))
}

impl Webhook for Hostile {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "hostile".into(),
            name: "Hostile".into(),
            description: "Misbehaves on purpose (tests only).".into(),
            config_schema: vec![],
            event_types: vec!["*".into()],
        }
    }

    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError> {
        match config.str("mode").unwrap_or("ok") {
            "ok" => deliver(event.to_owned()),
            "remember" => deliver(remember()),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "stack" => deliver(recurse(0).to_string()),
            "huge-output" => deliver(format!("\"{}\"", "x".repeat(2 << 20))),
            "trap" => panic!("trap on every call"),
            "bad-utf8" => {
                let bytes = vec![b'"', 0xff, 0xfe, b'"'];
                // Deliberately invalid: the host must refuse to lift it.
                #[allow(unsafe_code)]
                let body = unsafe { String::from_utf8_unchecked(bytes) };
                deliver(body)
            }
            "bad-json" => deliver("{\"unterminated\": ".into()),
            "bad-header" => Ok(Outcome::Deliver(Delivery {
                body: "{}".into(),
                content_type: "application/json".into(),
                headers: vec![KeyValue {
                    key: "Host".into(),
                    value: "evil.example".into(),
                }],
            })),
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let args: Vec<String> = std::env::args().collect();
                deliver(serde_json::json!({"vars": vars, "args": args}).to_string())
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                deliver("\"woke up\"".into())
            }
            "sleep-forever" => {
                std::thread::sleep(std::time::Duration::from_secs(u64::MAX / 2));
                deliver("\"woke up\"".into())
            }
            "spin-clock" => {
                let start = std::time::Instant::now();
                while black_box(start.elapsed().as_secs()) < 3600 {}
                deliver("\"done\"".into())
            }
            "time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                deliver(now.to_string())
            }
            "stdout-flood" => {
                for i in 0..200 {
                    println!("line {i}: {}", "y".repeat(100));
                    eprintln!("err {i}");
                }
                deliver("\"flooded\"".into())
            }
            "log-flood" => {
                let line = "z".repeat(64 << 10);
                for _ in 0..50 {
                    gatehouse_plugin::log::info(&line);
                }
                deliver("\"logged\"".into())
            }
            "exit" => std::process::exit(3),
            "error" => Err(PluginError::internal("plugin says no")),
            other => Err(PluginError::invalid(
                "mode",
                format!("unknown mode `{other}`"),
            )),
        }
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(Hostile);
