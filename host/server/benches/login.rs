//! Login benchmark: the server's CPU time per full OIDC login, and logins/s.
//!
//! `cargo bench -p gatehouse-server --bench login` (`GATEHOUSE_BENCH_LOGINS=n`, default 100).
//!
//! An in-process server (SQLite, embedded ZITADEL emulator) serves; the **client runs in a
//! child process** (this binary re-executed), so the server process's CPU clock
//! (`CLOCK_PROCESS_CPUTIME_ID`) counts server work only. The client logs in sequentially, one
//! request in flight, and announces each step on its stdout before sending it; the server side
//! reads the server's CPU clock at every announcement and charges the difference to the step
//! that just ended. The cost of an announcement itself (a pipe read and write and a clock read
//! on the server side) is measured by empty steps first and subtracted.
//!
//! Two flows:
//! - **app**: an app's login, as an RP does it: authorize → hosted login page → hosted login
//!   POST (password check) → code at the redirect URI → token exchange → ID token verified on
//!   the client with `gatehouse-jwks` (JWKS fetched once, cached) → userinfo.
//! - **admin**: the portal sign-in: `/admin/login` → authorize → login page → login POST →
//!   `/admin/callback` (server-side code exchange + ID token verification + session) →
//!   `/v1/me` with the session cookie.
//!
//! The password check is argon2id with ZITADEL-like default parameters (19 MiB, t=2, p=1); its
//! CPU cost is measured on its own and reported, as it dominates.

#![allow(clippy::print_stdout)]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

use cpu_time::ProcessTime;
use serde_json::{Value, json};

const CLIENT_ENV: &str = "GATEHOUSE_LOGIN_BENCH_CLIENT";
const WARMUP: usize = 5;
const CALIBRATION_MARKS: usize = 200;
const PASSWORD: &str = "Bench!Passw0rd1";

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_ENV) {
        let spec: Value = serde_json::from_str(&spec).expect("client spec");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(client::run(spec));
        return;
    }
    let logins: usize = std::env::var("GATEHOUSE_BENCH_LOGINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(server(logins));
}

async fn server(logins: usize) {
    let server = gatehouse_testkit::spawn().await;
    let base = server.url.clone();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // A tenant, a web app and a user of the tenant's organization.
    let tenant: Value = server
        .client
        .post("/v1/tenants", json!({"name": "Bench", "slug": "bench"}))
        .await
        .json();
    let org = tenant["sync"]["zitadel_ids"]["org_id"]
        .as_str()
        .expect("tenant synced")
        .to_owned();
    let redirect = "http://127.0.0.1:9/bench/callback";
    let app: Value = server
        .client
        .post(
            &format!("/v1/tenants/{}/apps", tenant["id"].as_str().unwrap()),
            json!({"name": "bench", "type": "web", "redirect_uris": [redirect]}),
        )
        .await
        .json();
    let pat = std::fs::read_to_string(server.data_dir.path().join("zitadel-admin.pat")).unwrap();
    let created = http
        .post(format!("{base}/zitadel/v2/users/human"))
        .bearer_auth(pat.trim())
        .json(&json!({
            "username": "bench@bench.example",
            "organization": {"orgId": org},
            "profile": {"givenName": "Bench", "familyName": "User"},
            "email": {"email": "bench@bench.example", "isVerified": true},
            "password": {"password": PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let admin = server
        .running
        .admin_credentials
        .clone()
        .expect("first admin");

    println!(
        "Login benchmark: {logins} sequential logins per flow (after {WARMUP} warm-up logins),"
    );
    println!("server in this process, client in a child process.\n");
    let app_spec = json!({
        "flow": "app", "base": base, "logins": logins,
        "issuer": format!("{base}/zitadel"),
        "client_id": app["client_id"], "client_secret": app["client_secret"],
        "redirect_uri": redirect, "org": org,
        "login": "bench@bench.example", "password": PASSWORD,
    });
    report(
        "app login (RP: authorize → hosted login → token → verify → userinfo)",
        &drive(&app_spec),
        logins,
    );
    let admin_spec = json!({
        "flow": "admin", "base": base, "logins": logins,
        "login": admin.login_name, "password": admin.password,
    });
    report(
        "admin sign-in (portal: /admin/login → … → /admin/callback → /v1/me)",
        &drive(&admin_spec),
        logins,
    );
    let argon = argon2_cost();
    println!(
        "argon2id password verification alone (19 MiB, t=2, p=1): {:.2} ms CPU",
        argon.as_secs_f64() * 1e3
    );
    server.stop().await;
}

struct Measured {
    /// Server CPU per step, summed over the measured logins.
    steps: BTreeMap<String, Duration>,
    /// Order of first appearance.
    order: Vec<String>,
    overhead_per_mark: Duration,
    marks_per_login: usize,
    wall: Duration,
    client_cpu: Duration,
}

/// Runs the client child for one flow and measures the server's CPU per step.
fn drive(spec: &Value) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(CLIENT_ENV, spec.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("client process");
    let mut to_client = child.stdin.take().unwrap();
    let from_client = BufReader::new(child.stdout.take().unwrap());
    let mut steps: BTreeMap<String, Duration> = BTreeMap::new();
    let mut order = Vec::new();
    let mut current: Option<String> = None;
    let mut last = ProcessTime::now();
    let mut calibration = Duration::ZERO;
    let mut marks = 0usize;
    let mut measuring = false;
    let mut result = None;
    for line in from_client.lines() {
        let line = line.unwrap();
        // Read the clock first: what follows is bookkeeping.
        let now = ProcessTime::now();
        let spent = now.duration_since(last);
        if let Some(step) = current.take() {
            if step == "calibrate" {
                calibration += spent;
            } else if measuring && step != "end" {
                if !steps.contains_key(&step) {
                    order.push(step.clone());
                }
                *steps.entry(step).or_default() += spent;
                marks += 1;
            }
        }
        if let Some(step) = line.strip_prefix("step ") {
            current = Some(step.to_owned());
        } else if line == "measure" {
            measuring = true;
            marks = 0;
        } else if let Some(json) = line.strip_prefix("done ") {
            result = Some(serde_json::from_str::<Value>(json).unwrap());
            break;
        }
        last = ProcessTime::now();
        writeln!(to_client, "ok").unwrap();
        to_client.flush().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the client failed");
    let result = result.expect("client result");
    let logins = result["logins"].as_u64().unwrap() as usize;
    Measured {
        steps,
        order,
        overhead_per_mark: calibration / CALIBRATION_MARKS as u32,
        marks_per_login: marks / logins,
        wall: Duration::from_secs_f64(result["wall_s"].as_f64().unwrap()),
        client_cpu: Duration::from_secs_f64(result["client_cpu_s"].as_f64().unwrap()),
    }
}

fn report(title: &str, m: &Measured, logins: usize) {
    let per = |d: Duration| d.as_secs_f64() * 1e3 / logins as f64;
    let overhead = m.overhead_per_mark.as_secs_f64() * 1e3;
    println!("{title}");
    let mut total = 0.0;
    for step in &m.order {
        let ms = (per(m.steps[step]) - overhead).max(0.0);
        total += ms;
        println!("  {step:<28} {ms:>8.3} ms server CPU / login");
    }
    println!("  {:<28} {total:>8.3} ms server CPU / login", "TOTAL");
    println!(
        "  (announcement overhead {:.1} µs per step subtracted, {} steps per login)",
        overhead * 1e3,
        m.marks_per_login
    );
    println!(
        "  client CPU {:.3} ms / login (child process, not included above)",
        m.client_cpu.as_secs_f64() * 1e3 / logins as f64
    );
    println!(
        "  wall clock: {:.1} logins/s sequential ({:.2} ms / login, client and server on the same 2 cores)\n",
        logins as f64 / m.wall.as_secs_f64(),
        m.wall.as_secs_f64() * 1e3 / logins as f64
    );
}

fn argon2_cost() -> Duration {
    use argon2::{
        Argon2,
        password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    };
    let salt = SaltString::encode_b64(b"gatehouse-bench!").unwrap();
    let hash = Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let parsed = PasswordHash::new(&hash).unwrap();
    let runs = 20;
    let start = ProcessTime::now();
    for _ in 0..runs {
        Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .unwrap();
    }
    start.elapsed() / runs
}

mod client {
    //! The child process: logs in `logins` times, announcing each step.

    use std::{
        io::{BufRead, Write},
        sync::Arc,
        time::Instant,
    };

    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use cpu_time::ProcessTime;
    use gatehouse_jwks::{JwksCache, ReqwestFetcher, Verifier, VerifyOptions};
    use rand::RngCore;
    use reqwest::{StatusCode, Url, header};
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use super::{CALIBRATION_MARKS, WARMUP};

    /// Announces `step` and waits until the server side has read its clock.
    fn step(name: &str) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "step {name}").unwrap();
        out.flush().unwrap();
        drop(out);
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok");
    }

    fn say(text: &str) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").unwrap();
        out.flush().unwrap();
        drop(out);
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).unwrap();
    }

    fn random(n: usize) -> String {
        let mut b = vec![0u8; n];
        rand::rng().fill_bytes(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }

    struct Http {
        http: reqwest::Client,
        cookies: Vec<(String, String)>,
    }

    impl Http {
        async fn send(
            &mut self,
            request: reqwest::RequestBuilder,
        ) -> (StatusCode, Option<String>, String) {
            let request = if self.cookies.is_empty() {
                request
            } else {
                let jar: Vec<String> = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                request.header(header::COOKIE, jar.join("; "))
            };
            let response = request.send().await.unwrap();
            for value in response.headers().get_all(header::SET_COOKIE) {
                let pair = value.to_str().unwrap().split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(name, _)| name != k);
                if !v.is_empty() {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
            let status = response.status();
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, response.text().await.unwrap())
        }
    }

    fn form_value(html: &str, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html.find(&marker).unwrap() + marker.len();
        let end = start + html[start..].find('"').unwrap();
        html[start..end].replace("&amp;", "&")
    }

    /// Login page → form POST; returns the redirect target (the callback with the code).
    async fn hosted_login(
        h: &mut Http,
        login_url: &str,
        login: &str,
        password: &str,
        announce: bool,
    ) -> String {
        if announce {
            step("login page (GET)");
        }
        let (status, _, html) = h.send(h.http.get(login_url)).await;
        assert_eq!(status, StatusCode::OK);
        let action = {
            let marker = "<form method=\"post\" action=\"";
            let start = html.find(marker).unwrap() + marker.len();
            let end = start + html[start..].find('"').unwrap();
            Url::parse(login_url)
                .unwrap()
                .join(&html[start..end].replace("&amp;", "&"))
                .unwrap()
        };
        let form = [
            ("authRequestID", form_value(&html, "authRequestID")),
            ("csrf", form_value(&html, "csrf")),
            ("loginName", login.to_owned()),
            ("password", password.to_owned()),
        ];
        if announce {
            step("login POST (password)");
        }
        let (status, location, body) = h.send(h.http.post(action).form(&form)).await;
        assert!(status.is_redirection(), "{status} {body}");
        location.unwrap()
    }

    async fn app_login(h: &mut Http, spec: &Value, verifier: &Verifier, announce: bool) {
        let mark = |name: &str| {
            if announce {
                step(name);
            }
        };
        let s = |k: &str| spec[k].as_str().unwrap().to_owned();
        let (issuer, client_id, secret, redirect) = (
            s("issuer"),
            s("client_id"),
            s("client_secret"),
            s("redirect_uri"),
        );
        let (state, nonce, pkce) = (random(24), random(24), random(32));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.as_bytes()));
        let mut authorize = Url::parse(&format!("{issuer}/oauth/v2/authorize")).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect)
            .append_pair("response_type", "code")
            .append_pair(
                "scope",
                &format!("openid profile email urn:zitadel:iam:org:id:{}", s("org")),
            )
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        mark("authorize");
        let (status, location, _) = h.send(h.http.get(authorize.as_str())).await;
        assert_eq!(status, StatusCode::FOUND);
        let login_url = authorize.join(&location.unwrap()).unwrap().to_string();
        let callback = hosted_login(h, &login_url, &s("login"), &s("password"), announce).await;
        let code = Url::parse(&callback)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        mark("token exchange");
        let (status, _, body) = h
            .send(
                h.http
                    .post(format!("{issuer}/oauth/v2/token"))
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &redirect),
                        ("code_verifier", &pkce),
                    ]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let tokens: Value = serde_json::from_str(&body).unwrap();
        mark("ID token verify (client)");
        let verified = verifier
            .verify(tokens["id_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(verified.claims.nonce.as_deref(), Some(nonce.as_str()));
        mark("userinfo");
        let (status, _, _) = h
            .send(
                h.http
                    .get(format!("{issuer}/oidc/v1/userinfo"))
                    .bearer_auth(tokens["access_token"].as_str().unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn admin_login(h: &mut Http, spec: &Value, announce: bool) {
        let mark = |name: &str| {
            if announce {
                step(name);
            }
        };
        let base = spec["base"].as_str().unwrap();
        h.cookies.clear();
        mark("/admin/login");
        let (status, authorize, _) = h.send(h.http.get(format!("{base}/admin/login"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let authorize = authorize.unwrap();
        mark("authorize");
        let (status, location, _) = h.send(h.http.get(&authorize)).await;
        assert_eq!(status, StatusCode::FOUND);
        let login_url = Url::parse(&authorize)
            .unwrap()
            .join(&location.unwrap())
            .unwrap()
            .to_string();
        let callback = hosted_login(
            h,
            &login_url,
            spec["login"].as_str().unwrap(),
            spec["password"].as_str().unwrap(),
            announce,
        )
        .await;
        mark("/admin/callback (exchange+verify+session)");
        let (status, _, body) = h.send(h.http.get(&callback)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        mark("/v1/me (cookie)");
        let (status, _, body) = h.send(h.http.get(format!("{base}/v1/me"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn run(spec: Value) {
        let logins = spec["logins"].as_u64().unwrap() as usize;
        let mut h = Http {
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        };
        let verifier = spec["issuer"].as_str().map(|issuer| {
            let keys = JwksCache::remote(format!("{issuer}/oauth/v2/keys"))
                .fetcher(Arc::new(ReqwestFetcher::with_client(h.http.clone())))
                .build()
                .unwrap();
            Verifier::new(
                VerifyOptions::new(issuer, [spec["client_id"].as_str().unwrap()]),
                keys,
            )
            .unwrap()
        });
        let flow = spec["flow"].as_str().unwrap().to_owned();
        for _ in 0..WARMUP {
            match (&*flow, &verifier) {
                ("app", Some(v)) => app_login(&mut h, &spec, v, false).await,
                _ => admin_login(&mut h, &spec, false).await,
            }
        }
        for _ in 0..CALIBRATION_MARKS {
            step("calibrate");
        }
        say("measure");
        let cpu = ProcessTime::now();
        let started = Instant::now();
        for _ in 0..logins {
            match (&*flow, &verifier) {
                ("app", Some(v)) => app_login(&mut h, &spec, v, true).await,
                _ => admin_login(&mut h, &spec, true).await,
            }
        }
        step("end");
        let wall = started.elapsed();
        let client_cpu = cpu.elapsed();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "done {}",
            json!({"logins": logins, "wall_s": wall.as_secs_f64(), "client_cpu_s": client_cpu.as_secs_f64()})
        )
        .unwrap();
        out.flush().unwrap();
    }
}
