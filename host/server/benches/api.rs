//! Admin API load benchmark: tenant/app CRUD on SQLite and PostgreSQL, reported as requests/s
//! and p50/p99 latency, next to a bare `GET /healthz` on the same server in the same run (the
//! ratio is what to compare across machines). Client and server share the machine.
//!
//! `cargo bench -p gatehouse-server --bench api` (STRICT=1: PostgreSQL must be reachable).

#![allow(clippy::print_stdout)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use gatehouse_testkit::{Backend, TestClient, TestOptions, spawn_with};
use serde_json::json;

const CONCURRENCY: usize = 16;
const DURATION: Duration = Duration::from_secs(4);

#[derive(Clone, Copy)]
enum Op {
    Healthz,
    CreateTenant,
    GetTenant,
    ListTenants,
    CreateApp,
    UpdateApp,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Healthz => "GET /healthz (baseline)",
            Op::CreateTenant => "POST /v1/tenants",
            Op::GetTenant => "GET /v1/tenants/{id}",
            Op::ListTenants => "GET /v1/tenants?limit=20",
            Op::CreateApp => "POST /v1/tenants/{id}/apps",
            Op::UpdateApp => "PATCH /v1/tenants/{id}/apps/{id}",
        }
    }
}

struct Fixture {
    tenant: String,
    app: String,
    counter: AtomicUsize,
}

async fn one(client: &TestClient, op: Op, fx: &Fixture) {
    let n = fx.counter.fetch_add(1, Ordering::Relaxed);
    let status = match op {
        Op::Healthz => client.get("/healthz").await.status,
        Op::CreateTenant => client.post("/v1/tenants", json!({"name": format!("T{n}"), "slug": format!("bench-{n}")})).await.status,
        Op::GetTenant => client.get(&format!("/v1/tenants/{}", fx.tenant)).await.status,
        Op::ListTenants => client.get("/v1/tenants?limit=20").await.status,
        Op::CreateApp => client
            .post(&format!("/v1/tenants/{}/apps", fx.tenant), json!({"name": format!("app-{n}"), "type": "spa", "redirect_uris": ["https://app.example/cb"]}))
            .await
            .status,
        Op::UpdateApp => client
            .patch(&format!("/v1/tenants/{}/apps/{}", fx.tenant, fx.app), json!({"redirect_uris": [format!("https://app.example/cb{}", n % 10)]}))
            .await
            .status,
    };
    assert!(status.is_success(), "{} failed with {status}", op.name());
}

struct Result {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(client: &TestClient, op: Op, fx: Arc<Fixture>) -> Result {
    let deadline = Instant::now() + DURATION;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                one(&client, op, &fx).await;
                samples.push(start.elapsed());
            }
            samples
        }));
    }
    let started = Instant::now();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("load task"));
    }
    let elapsed = started.elapsed().max(DURATION);
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Result {
        rps: samples.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

#[tokio::main]
async fn main() {
    println!(
        "Admin API benchmark: {CONCURRENCY} concurrent clients, {}s per case, client and server in one process",
        DURATION.as_secs()
    );
    for backend in Backend::all().await {
        let server =
            spawn_with(TestOptions::backend(backend).env("GATEHOUSE_LOG_LEVEL", "warn")).await;
        let c = server.client.clone();
        let tenant = c.create_tenant("Bench", "bench").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let app = c.create_app(&tenant, json!({"name": "fixture", "type": "spa", "redirect_uris": ["https://app.example/cb"]})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let fx = Arc::new(Fixture {
            tenant,
            app,
            counter: AtomicUsize::new(0),
        });
        println!("\n{} backend", backend.name());
        println!(
            "{:<34} {:>10} {:>10} {:>10} {:>12}",
            "case", "req/s", "p50", "p99", "÷ healthz"
        );
        let baseline = measure(&c, Op::Healthz, fx.clone()).await;
        for op in [
            Op::Healthz,
            Op::CreateTenant,
            Op::GetTenant,
            Op::ListTenants,
            Op::CreateApp,
            Op::UpdateApp,
        ] {
            let r = if matches!(op, Op::Healthz) {
                Result { ..baseline }
            } else {
                measure(&c, op, fx.clone()).await
            };
            println!(
                "{:<34} {:>10.0} {:>8.2}ms {:>8.2}ms {:>11.2}×",
                op.name(),
                r.rps,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
                baseline.rps / r.rps
            );
        }
        server.stop().await;
    }
}
