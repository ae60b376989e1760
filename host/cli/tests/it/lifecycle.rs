use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use crate::{gatehouse, text};

#[test]
fn a_typo_in_the_config_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\ndatabse_url = \"sqlite://x.db\"\n",
    )
    .unwrap();
    let output = gatehouse()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("unknown key `databse_url`") && err.contains("database_url"),
        "{err}"
    );
    // `serve` refuses the same file before touching anything.
    let output = gatehouse()
        .args(["--config", file.to_str().unwrap(), "serve"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn an_unreachable_postgres_fails_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = gatehouse()
        .args(["serve"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://gatehouse:s3cret@127.0.0.1:9/gatehouse",
        )
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("cannot open the database") && err.contains("127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "the password is not echoed: {err}");
}

#[test]
fn migrate_then_serve_prints_the_admin_url_and_bootstrap_credential_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = gatehouse()
        .args(["migrate"])
        .env("GATEHOUSE_DATA_DIR", &data)
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("applied"), "{out}");
    let output = gatehouse()
        .args(["migrate", "--status"])
        .env("GATEHOUSE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(output.status.success() && text(&output).0.contains("0 migration(s) pending"));

    let first = serve_until_ready(&data);
    assert!(first.contains("/admin"), "{first}");
    let token = first
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ghk_"))
        .expect("bootstrap credential printed");
    assert!(token.len() > 40);
    let second = serve_until_ready(&data);
    assert!(
        !second.contains(token),
        "the credential is shown only once: {second}"
    );
    assert!(second.contains("not shown again"), "{second}");
    assert!(data.join("master.key").exists());
}

/// Starts `gatehouse serve` on a free port, reads stdout until the banner ends, then stops it.
fn serve_until_ready(data: &std::path::Path) -> String {
    let mut child = gatehouse()
        .args(["serve"])
        .env("GATEHOUSE_DATA_DIR", data)
        .env("GATEHOUSE_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Bootstrap credential:") || line.contains("for the CLI") {
                break;
            }
        }
        let _ = tx.send(banner);
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve printed its banner");
    let _ = child.kill();
    let _ = child.wait();
    banner
}
