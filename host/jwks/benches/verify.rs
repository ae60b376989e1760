//! `cargo bench -p gatehouse-jwks`: token verifications per CPU-second with a warm cache, against
//! Node `jose` (`jwtVerify` + `createLocalJWKSet`) on the same keys, tokens and claims, in the
//! same run. Goal: RS256 ≥ 3× jose per CPU-second.
//!
//! Needs node ≥ 20 and npm; installs the pinned `jose` (benches/package.json + lockfile) into a
//! scratch directory under the target directory and fails clearly if it cannot.
//! Under `cargo test --benches` (no `--bench` argument) it only runs a quick self-check.

#![allow(clippy::print_stdout)]

#[path = "../tests/it/keys.rs"]
mod keys;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use async_trait::async_trait;
use gatehouse_jwks::{
    FetchError, FetchRequest, FetchResponse, JwksCache, JwksFetcher, Verifier, VerifyOptions,
};
use serde_json::{Value, json};

use crate::keys::TestKey;

const ISSUER: &str = "https://idp.bench.invalid";
const CLIENT: &str = "281474976710656@gatehouse";
const ROUNDS: usize = 5;
const SAMPLE: Duration = Duration::from_millis(600);
const NODE_CONCURRENCY: usize = 64;
const GOAL: f64 = 3.0;

/// Serves the JWKS from memory: the bench measures verification, not HTTP.
struct MemoryFetcher(Vec<u8>);

#[async_trait]
impl JwksFetcher for MemoryFetcher {
    async fn fetch(&self, _: FetchRequest<'_>) -> Result<FetchResponse, FetchError> {
        Ok(FetchResponse {
            status: 200,
            cache_control: Some("max-age=3600".into()),
            age: None,
            body: self.0.clone(),
        })
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let keys = [
        TestKey::rsa("bench-rsa"),
        TestKey::ec("bench-ec"),
        TestKey::ed("bench-ed"),
    ];
    let jwks = keys::jwks(&keys.iter().collect::<Vec<_>>());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The claim set of the reference measurement (wasm-host.md §9 table B).
    let claims = json!({
        "iss": ISSUER, "sub": "281474976710700", "aud": [CLIENT, "281474976710655"],
        "exp": now + 3600, "iat": now, "nbf": now, "jti": "V2_281474976710701-at_281474976710702",
        "scope": "openid profile email", "email": "ada@example.com",
        "roles": ["admin", "billing"], "tenant_id": "ten_01JB8M1X6W4Q0Y2S3T5V7X9Z0A"
    });
    let tokens: Vec<(&str, String)> = keys.iter().map(|k| (k.alg, k.sign(&claims))).collect();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = JwksCache::remote(format!("{ISSUER}/oauth/v2/keys"))
        .issuer(ISSUER)
        .fetcher(Arc::new(MemoryFetcher(serde_json::to_vec(&jwks).unwrap())))
        .build()
        .unwrap();
    let verifier = Verifier::new(VerifyOptions::new(ISSUER, [CLIENT]), cache).unwrap();
    // Warm the cache and check every token verifies and a tampered one does not.
    runtime.block_on(async {
        for (alg, token) in &tokens {
            let v = verifier
                .verify(token)
                .await
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(v.claims.sub.as_deref(), Some("281474976710700"));
            let tampered = format!("{}x", &token[..token.len() - 1]);
            assert!(
                verifier.verify(&tampered).await.is_err(),
                "{alg}: tampered token accepted"
            );
        }
    });
    if !full {
        println!("gatehouse-jwks bench: self-check passed (run `cargo bench` for numbers)");
        return;
    }

    let sizes: Vec<_> = tokens
        .iter()
        .map(|(a, t)| format!("{a} {} B", t.len()))
        .collect();
    println!("tokens: {}", sizes.join(", "));
    println!(
        "Rust: {ROUNDS} rounds × {} ms per algorithm, one thread …",
        SAMPLE.as_millis()
    );
    let mut rust: Vec<(&str, Vec<Sample>)> = tokens.iter().map(|(a, _)| (*a, Vec::new())).collect();
    for _ in 0..ROUNDS {
        for (i, (_, token)) in tokens.iter().enumerate() {
            let sample = runtime.block_on(measure_rust(&verifier, token));
            rust[i].1.push(sample);
        }
    }

    println!("Node: installing jose and running {ROUNDS} rounds …");
    let node = run_node(&jwks, &tokens, &claims);

    print_report(&rust, &node);
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    per_cpu_second: f64,
    per_wall_second: f64,
}

async fn measure_rust(verifier: &Verifier, token: &str) -> Sample {
    let cpu_start = process_cpu();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < SAMPLE {
        for _ in 0..100 {
            std::hint::black_box(verifier.verify(std::hint::black_box(token)).await.unwrap());
            n += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = (process_cpu() - cpu_start).as_secs_f64();
    Sample {
        per_cpu_second: n as f64 / cpu,
        per_wall_second: n as f64 / wall,
    }
}

/// CPU time of the whole process (every thread), like Node's `process.cpuUsage()`.
fn process_cpu() -> Duration {
    let mut total = 0u64;
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux only)");
    for task in tasks.flatten() {
        // First field: nanoseconds on CPU.
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    assert!(
        total > 0,
        "/proc/self/task/*/schedstat reports no CPU time (schedstats unavailable)"
    );
    Duration::from_nanos(total)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct NodeResult {
    node_version: String,
    jose_version: String,
    /// (alg, mode) → samples
    samples: Vec<((String, String), Vec<Sample>)>,
}

fn run_node(jwks: &Value, tokens: &[(&str, String)], claims: &Value) -> NodeResult {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let benches = manifest_dir.join("benches");
    let scratch = scratch_dir();
    install_jose(&benches, &scratch);

    let input = json!({
        "jwks": jwks,
        "tokens": tokens.iter().map(|(a, t)| (a.to_string(), json!(t))).collect::<serde_json::Map<_, _>>(),
        "issuer": ISSUER,
        "audience": CLIENT,
        "sub": claims["sub"],
        "rounds": ROUNDS,
        "sample_ms": SAMPLE.as_millis() as u64,
        "concurrency": NODE_CONCURRENCY,
    });
    let input_path = scratch.join("input.json");
    std::fs::write(&input_path, serde_json::to_vec(&input).unwrap()).unwrap();
    // The script is run from the scratch directory so `import 'jose'` resolves there.
    let script = scratch.join("jose-bench.mjs");
    std::fs::copy(benches.join("jose-bench.mjs"), &script).unwrap();
    let output = Command::new("node")
        .arg(&script)
        .arg(&input_path)
        .current_dir(&scratch)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run `node` ({e}); node ≥ 20 is required")));
    if !output.status.success() {
        fail(&format!(
            "the Node baseline failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let result: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| fail(&format!("unreadable Node output ({e})")));
    let mut samples = Vec::new();
    for (key, list) in result["samples"].as_object().expect("samples") {
        let (alg, mode) = key.split_once('/').expect("alg/mode");
        let list = list
            .as_array()
            .expect("sample list")
            .iter()
            .map(|s| Sample {
                per_cpu_second: s["per_cpu_second"].as_f64().expect("per_cpu_second"),
                per_wall_second: s["per_wall_second"].as_f64().expect("per_wall_second"),
            })
            .collect();
        samples.push(((alg.to_owned(), mode.to_owned()), list));
    }
    NodeResult {
        node_version: result["node"].as_str().unwrap_or("?").to_owned(),
        jose_version: result["jose"].as_str().unwrap_or("?").to_owned(),
        samples,
    }
}

/// `<target dir>/gatehouse-jwks-bench`, next to the build outputs (the bench binary lives in
/// `<target>/<profile>/deps/`).
fn scratch_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target directory").to_owned();
    let dir = target.join("gatehouse-jwks-bench");
    std::fs::create_dir_all(&dir).expect("create the bench scratch directory");
    dir
}

fn install_jose(benches: &Path, scratch: &Path) {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(benches.join("package.json")).unwrap()).unwrap();
    let pinned = manifest["dependencies"]["jose"]
        .as_str()
        .expect("pinned jose version")
        .to_owned();
    let installed = std::fs::read(scratch.join("node_modules/jose/package.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(pinned.as_str()) {
        return;
    }
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(benches.join(file), scratch.join(file)).unwrap();
    }
    println!("installing jose {pinned} into {} …", scratch.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(scratch)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run `npm` ({e}); node ≥ 20 with npm is required"
            ))
        });
    if !status.success() {
        fail(&format!(
            "`npm ci` failed ({status}) in {}; the bench needs the npm registry (or a cache) to install jose {pinned}",
            scratch.display()
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("gatehouse-jwks bench: {message}");
    std::process::exit(2);
}

fn print_report(rust: &[(&str, Vec<Sample>)], node: &NodeResult) {
    let node_median = |alg: &str, mode: &str, f: fn(&Sample) -> f64| {
        node.samples
            .iter()
            .find(|((a, m), _)| a == alg && m == mode)
            .map(|(_, s)| median(s.iter().map(f).collect()))
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "Token verification, verifications per CPU-second (median of {ROUNDS} × {} ms); node {} + jose {}",
        SAMPLE.as_millis(),
        node.node_version,
        node.jose_version
    );
    println!();
    println!(
        "| alg | gatehouse-jwks (1 thread) | jose sequential | jose {NODE_CONCURRENCY} concurrent | ratio vs best jose |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut rs256_ratio = f64::NAN;
    for (alg, samples) in rust {
        let ours = median(samples.iter().map(|s| s.per_cpu_second).collect());
        let seq = node_median(alg, "sequential", |s| s.per_cpu_second);
        let conc = node_median(alg, "concurrent", |s| s.per_cpu_second);
        let ratio = ours / seq.max(conc);
        if *alg == "RS256" {
            rs256_ratio = ratio;
        }
        println!(
            "| {alg} | {:.1}k | {:.1}k | {:.1}k | {ratio:.1}× |",
            ours / 1e3,
            seq / 1e3,
            conc / 1e3
        );
    }
    println!();
    println!("Wall-clock rates (same runs): ");
    for (alg, samples) in rust {
        let ours = median(samples.iter().map(|s| s.per_wall_second).collect());
        let seq = node_median(alg, "sequential", |s| s.per_wall_second);
        let conc = node_median(alg, "concurrent", |s| s.per_wall_second);
        println!(
            "  {alg}: gatehouse-jwks {:.1}k/s, jose sequential {:.1}k/s, jose concurrent {:.1}k/s",
            ours / 1e3,
            seq / 1e3,
            conc / 1e3
        );
    }
    println!();
    if rs256_ratio >= GOAL {
        println!("RS256 goal met: {rs256_ratio:.1}× jose per CPU-second (goal ≥ {GOAL}×)");
    } else {
        println!("RS256 BELOW GOAL: {rs256_ratio:.1}× jose per CPU-second (goal ≥ {GOAL}×)");
    }
}
