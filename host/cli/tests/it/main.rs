//! The `gatehouse` binary, run as a user would.

mod admin;
mod deploy;
mod jwks;
mod lifecycle;
mod oidc_judge;
mod plugins;
mod telemetry;
mod webhooks_noloss;

use std::process::{Command, Output};

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

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
