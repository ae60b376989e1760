//! The admin portal as the host serves it: over HTTP (security and cache headers, SPA fallback,
//! a self-contained build) and in a real browser (headless Chromium driven by
//! `admin/e2e/portal.e2e.mjs` through playwright-core).
//!
//! The portal is built first when `admin/dist` is missing or older than its sources (`npm ci`
//! and `npm run build`, under a file lock so parallel tests do not race). Without node/npm or
//! Chromium these tests print `skipped: …` and pass, unless `STRICT=1`, where they fail.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, SystemTime},
};

use gatehouse_core::{
    id::{AppId, TenantId},
    services::apps::secret_aad,
    store::AppStore,
};
use gatehouse_testkit::{TestOptions, TestServer, spawn, spawn_with, strict};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
const E2E_TIMEOUT: Duration = Duration::from_secs(300);

/// One browser run at a time: two Chromiums beside the rest of the suite on a 2-core machine
/// would make every step slow.
pub(crate) static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn admin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../admin")
        .canonicalize()
        .expect("admin/ exists next to host/")
}

/// An executable on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// `Err(reason)` when a tool the browser test needs is missing.
fn browser_tools() -> Result<PathBuf, String> {
    let node = which("node").ok_or("node is not installed")?;
    which("npm").ok_or("npm is not installed")?;
    if !Path::new(CHROMIUM).is_file() {
        return Err(format!("Chromium is not installed at {CHROMIUM}"));
    }
    Ok(node)
}

/// Under `STRICT=1` a missing tool fails the test; otherwise it is reported and the test passes.
fn skip(what: &str, reason: &str) {
    assert!(!strict(), "STRICT=1 and {what} cannot run: {reason}");
    eprintln!("skipped: {what} ({reason}); set STRICT=1 to make this fatal");
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files under `paths` (recursively).
fn newest(paths: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = path.metadata() else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(time) = meta.modified() {
            newest = newest.max(time);
        }
    }
    newest
}

fn run(admin: &Path, program: &str, args: &[&str]) {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(admin)
        .env("CI", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes sure `admin/dist` is a build of the current sources. `Err` when it cannot be built
/// here (no npm) and no build exists.
fn ensure_dist() -> Result<PathBuf, String> {
    let admin = admin_dir();
    let dist_index = admin.join("dist/index.html");
    let lock_path = std::env::temp_dir().join("gatehouse-admin-build.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("open the build lock file");
    // Parallel tests (and test binaries) build one at a time; the others then find it fresh.
    lock.lock().expect("take the build lock");

    if which("npm").is_none() {
        return if dist_index.is_file() {
            Ok(admin.join("dist"))
        } else {
            Err("npm is not installed and admin/dist was never built".into())
        };
    }
    let lockfile = admin.join("package-lock.json");
    let installed = admin.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&lockfile) {
        run(&admin, "npm", &["ci", "--no-audit", "--no-fund"]);
    }
    let sources = newest(
        &[
            "src",
            "public",
            "scripts",
            "index.html",
            "package.json",
            "package-lock.json",
            "vite.config.ts",
            "tsconfig.json",
        ]
        .map(|p| admin.join(p)),
    );
    let fresh = modified(&dist_index).is_some_and(|built| {
        built >= sources && modified(&installed).is_some_and(|deps| built >= deps)
    });
    if !fresh {
        run(&admin, "npm", &["run", "build"]);
    }
    drop(lock);
    Ok(admin.join("dist"))
}

/// Absolute URLs allowed in the build: they never cause a request.
fn inert_url(url: &str, text_before: &str) -> bool {
    const NAMESPACES: [&str; 5] = [
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://www.w3.org/1999/xhtml",
        "http://www.w3.org/XML/1998/namespace",
        "http://www.w3.org/1998/Math/MathML",
    ];
    let in_licence_comment = text_before
        .rfind("/*!")
        .is_some_and(|open| !text_before[open..].contains("*/"));
    NAMESPACES.contains(&url)
        // React's minified error messages link to their explanation; text, never fetched.
        || url == "https://react.dev/errors/"
        // Placeholders in form fields use the reserved example domains (RFC 2606).
        || url
            .split('/')
            .nth(2)
            .is_some_and(|host| host == "example.com" || host.ends_with(".example.com"))
        || (in_licence_comment && url == "https://tailwindcss.com")
}

fn external_urls(dist: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dist.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // binary (fonts)
        };
        let mut from = 0;
        while let Some(i) = text[from..].find("http") {
            let at = from + i;
            let rest = &text[at..];
            if !(rest.starts_with("http://") || rest.starts_with("https://")) {
                from = at + 4;
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"'`)<>\\".contains(c))
                .map_or(text.len(), |n| at + n);
            let url = text[at..end].trim_end_matches(['.', ',', ';']);
            if !inert_url(url, &text[..at]) {
                found.push(format!("{}: {url}", path.display()));
            }
            from = end;
        }
    }
    found
}

#[tokio::test]
async fn the_portal_build_loads_nothing_from_other_origins() {
    let dist = match ensure_dist() {
        Ok(dist) => dist,
        Err(reason) => return skip("the portal build check", &reason),
    };
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
    assert!(index.contains(r#"<base href="/admin/""#), "{index}");
    assert!(
        !index.contains("<script>") && !index.contains(" style="),
        "inline script or style in index.html: {index}"
    );
    let external = external_urls(&dist);
    assert!(
        external.is_empty(),
        "external URLs in admin/dist:\n{}",
        external.join("\n")
    );

    // The scanner does find what it must refuse.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("a.js"),
        "/*! lib | MIT | https://tailwindcss.com */ fetch(\"https://cdn.evil.test/x.js\"); \
         const ns = \"http://www.w3.org/2000/svg\"; const t = \"https://tailwindcss.com\";",
    )
    .unwrap();
    let found = external_urls(bad.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("cdn.evil.test") || found[1].contains("cdn.evil.test"));
}

#[tokio::test]
async fn the_portal_is_served_with_security_and_cache_headers() {
    if let Err(reason) = ensure_dist() {
        return skip("the portal HTTP checks", &reason);
    }
    let server = spawn().await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", server.url);

    let redirect = http.get(url("/admin")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/admin/");

    let index = http.get(url("/admin/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = index.text().await.unwrap();
    assert!(html.contains(r#"<div id="root">"#), "{html}");

    // Hashed assets: long-lived and immutable, with the right type.
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("./assets/"))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{html}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{html}");
    for asset in assets {
        let response = http
            .get(url(&format!("/admin/{}", &asset[2..])))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let cache = response.headers()["cache-control"].to_str().unwrap();
        assert!(
            cache.contains("immutable") && cache.contains("max-age=31536000"),
            "{cache}"
        );
        let kind = response.headers()["content-type"].to_str().unwrap();
        let expected = if asset.ends_with(".js") {
            "javascript"
        } else {
            "text/css"
        };
        assert!(kind.contains(expected), "{asset}: {kind}");
    }

    // Deep links fall back to the app; missing files do not.
    let deep = http
        .get(url("/admin/tenants/ten_01J0000000000000000000000/apps"))
        .send()
        .await
        .unwrap();
    assert_eq!(deep.status(), 200);
    assert_eq!(deep.headers()["cache-control"], "no-store");
    assert!(deep.text().await.unwrap().contains(r#"<div id="root">"#));
    let missing = http
        .get(url("/admin/assets/index-nothere.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The API is untouched by the portal's routes.
    let api = http.get(url("/v1/nothing")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(
        api.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_works_end_to_end_in_a_real_browser() {
    let Some((node, admin)) = browser_prerequisites() else {
        return;
    };
    // The embedded emulator answers inline: a created web app comes back with its secret.
    let server = spawn().await;
    run_e2e(&node, &admin, &server, "live").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_reveals_a_secret_issued_after_creation_while_the_idp_was_down() {
    let Some((node, admin)) = browser_prerequisites() else {
        return;
    };
    // A ZITADEL nobody answers for: writes succeed, objects stay unsynced, and the app's
    // credentials arrive later (this test plays the IdP when the script asks).
    let secrets = tempfile::tempdir().unwrap();
    let pat = secrets.path().join("zitadel.pat");
    std::fs::write(&pat, "unused-personal-access-token").unwrap();
    let server = spawn_with(
        TestOptions::default()
            .env("GATEHOUSE_ZITADEL_URL", "http://127.0.0.1:9")
            .env("GATEHOUSE_ZITADEL_PAT_FILE", pat.to_str().unwrap()),
    )
    .await;
    run_e2e(&node, &admin, &server, "manual").await;
    server.stop().await;
}

/// node and a built portal, or `None` after reporting why the browser test cannot run.
pub(crate) fn browser_prerequisites() -> Option<(PathBuf, PathBuf)> {
    let node = match browser_tools() {
        Ok(node) => node,
        Err(reason) => {
            skip("the portal browser test", &reason);
            return None;
        }
    };
    match ensure_dist() {
        Ok(dist) => Some((node, dist.parent().unwrap().to_path_buf())),
        Err(reason) => {
            skip("the portal browser test", &reason);
            None
        }
    }
}

/// Runs `admin/e2e/portal.e2e.mjs` against `server`, answering its credential requests.
async fn run_e2e(node: &Path, admin: &Path, server: &TestServer, idp: &str) {
    let _browser = BROWSER.lock().await;
    let keep =
        std::env::var_os("GATEHOUSE_E2E_SCREENSHOTS").map(|dir| PathBuf::from(dir).join(idp));
    let shots = match &keep {
        Some(dir) => dir.clone(),
        None => tempfile::Builder::new()
            .prefix("gatehouse-portal-e2e-")
            .tempdir()
            .unwrap()
            .keep(),
    };

    let mut child = tokio::process::Command::new(node)
        .arg("e2e/portal.e2e.mjs")
        .args(["--url", &server.url, "--token", &server.bootstrap_token])
        .arg("--out")
        .arg(&shots)
        .args(["--idp", idp, "--chromium", CHROMIUM])
        .current_dir(admin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });

    let mut transcript = String::new();
    let mut issued = 0;
    let outcome = tokio::time::timeout(E2E_TIMEOUT, async {
        while let Some(line) = stdout.next_line().await.expect("read the script's output") {
            transcript.push_str(&line);
            transcript.push('\n');
            if let Some(ask) = line.strip_prefix("@@need-credentials ") {
                issued += 1;
                let reply = issue_credentials(server, ask).await;
                stdin
                    .write_all(format!("@@credentials {reply}\n").as_bytes())
                    .await
                    .unwrap();
                stdin.flush().await.unwrap();
            }
        }
        child.wait().await.expect("wait for node")
    })
    .await;
    let stderr = stderr_task.await.unwrap_or_default();
    let Ok(status) = outcome else {
        panic!(
            "the {idp} browser test did not finish within {E2E_TIMEOUT:?}\n{transcript}\n{stderr}\nscreenshots: {}",
            shots.display()
        );
    };
    assert!(
        status.success(),
        "the {idp} browser test failed ({status}):\n{transcript}\n{stderr}\nscreenshots: {}",
        shots.display()
    );
    assert!(
        transcript.contains("e2e: all portal checks passed"),
        "{transcript}"
    );
    assert_eq!(
        issued,
        usize::from(idp == "manual"),
        "credential requests in {idp} mode:\n{transcript}"
    );
    let count = std::fs::read_dir(&shots)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .count();
    assert!(
        count >= 10,
        "only {count} screenshots in {}",
        shots.display()
    );
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&shots);
    }
}

/// Plays the IdP for a web app: stores a client id and a sealed secret, as the reconciler does.
async fn issue_credentials(server: &TestServer, ask: &str) -> String {
    let ask: Value = serde_json::from_str(ask).expect("the script sends JSON");
    let tenant = TenantId::parse(ask["tenant_id"].as_str().unwrap()).unwrap();
    let app = AppId::parse(ask["app_id"].as_str().unwrap()).unwrap();
    let client_id = format!("client-{}", ulid::Ulid::new());
    let secret = format!("secret-{}-{}", ulid::Ulid::new(), ulid::Ulid::new());
    let sealed = server
        .running
        .state
        .keyring
        .seal(secret.as_bytes(), &secret_aad(&app));
    server
        .running
        .store
        .set_app_credentials(&tenant, &app, &client_id, Some(&sealed))
        .await
        .expect("store the app's credentials");
    json!({ "client_id": client_id, "client_secret": secret }).to_string()
}
