use crate::{gatehouse, text};

/// Runs an API-client command against `server` in a blocking thread.
async fn cli(url: &str, token: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = gatehouse();
    cmd.env("GATEHOUSE_URL", url)
        .env("GATEHOUSE_TOKEN", token)
        .args(args);
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("run gatehouse"))
        .await
        .unwrap();
    let (out, err) = text(&output);
    (output.status.success(), out, err)
}

#[tokio::test]
async fn tenants_apps_keys_and_audit_through_the_cli() {
    let server = gatehouse_testkit::spawn().await;
    let (url, token) = (server.url.clone(), server.bootstrap_token.clone());

    let (ok, out, err) = cli(
        &url,
        &token,
        &[
            "tenant",
            "create",
            "--name",
            "Acme",
            "--slug",
            "acme",
            "--domain",
            "acme.example",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("created tenant ten_"), "{out}");
    let (ok, out, _) = cli(&url, &token, &["tenant", "list", "--json"]).await;
    assert!(ok);
    let tenants: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tid = tenants[0]["id"].as_str().unwrap().to_owned();

    let (ok, out, err) = cli(
        &url,
        &token,
        &[
            "app",
            "create",
            "--tenant",
            &tid,
            "--name",
            "Portal",
            "--type",
            "spa",
            "--redirect-uri",
            "http://localhost:3000/cb",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("app_"), "{out}");
    let (ok, out, _) = cli(&url, &token, &["app", "list", "--tenant", &tid]).await;
    assert!(ok && out.contains("Portal"), "{out}");

    // Bad input is reported with the server's message and field, and a failing exit status.
    let (ok, _, err) = cli(
        &url,
        &token,
        &[
            "app",
            "create",
            "--tenant",
            &tid,
            "--name",
            "X",
            "--type",
            "web",
            "--redirect-uri",
            "http://insecure.example/cb",
        ],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("422") && err.contains("redirect_uris[0]"),
        "{err}"
    );
    let (ok, _, err) = cli(
        &url,
        &token,
        &["tenant", "create", "--name", "Dup", "--slug", "acme"],
    )
    .await;
    assert!(!ok && err.contains("409"), "{err}");

    let (ok, out, err) = cli(
        &url,
        &token,
        &["apikey", "create", "--name", "ci", "--tenant", &tid],
    )
    .await;
    assert!(ok, "{err}");
    let key_token = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ghk_"))
        .expect("token printed")
        .to_owned();
    let (ok, out, _) = cli(&url, &key_token, &["tenant", "show", &tid]).await;
    assert!(ok && out.contains("acme.example"), "{out}");
    let (ok, out, _) = cli(&url, &token, &["apikey", "list"]).await;
    assert!(
        ok && out.contains("ci") && !out.contains(&key_token),
        "{out}"
    );

    let (ok, out, _) = cli(
        &url,
        &token,
        &["audit", "export", "--format", "jsonl", "--tenant", &tid],
    )
    .await;
    assert!(ok);
    assert!(
        out.lines().count() >= 3 && out.contains("tenant.created"),
        "{out}"
    );

    let (ok, _, err) = cli(&url, "ghk_wrongwrongwrongwrongwrong", &["tenant", "list"]).await;
    assert!(
        !ok && err.contains("401") && err.contains("GATEHOUSE_TOKEN"),
        "{err}"
    );
    let (ok, _, err) = cli("http://127.0.0.1:9", &token, &["tenant", "list"]).await;
    assert!(!ok && err.contains("cannot reach Gatehouse"), "{err}");
    server.stop().await;
}
