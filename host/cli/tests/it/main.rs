//! The `gatehouse` binary, run as a user would.

mod admin;
mod deploy;
mod jwks;
mod lifecycle;
mod oidc_judge;
mod plugins;
mod telemetry;
mod webhooks_noloss;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

pub fn gatehouse() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    // Hermetic: no stray GATEHOUSE_* from the caller's environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("GATEHOUSE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Starts `cmd` (a `gatehouse serve`) and returns it with the address its banner names. Its
/// stdout keeps being drained, so the child never blocks on a full pipe.
pub fn spawn_serve(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("start gatehouse serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(addr) = line.split("Gatehouse is running on ").nth(1) {
                let _ = tx.send(addr.trim().to_owned());
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("gatehouse serve printed the address it listens on");
    (child, addr)
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
