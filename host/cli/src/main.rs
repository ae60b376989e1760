//! `gatehouse`: run the server, manage its database, and administer it through the API.

#![allow(clippy::print_stdout)] // a CLI prints

mod client;
mod commands;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: a self-hosted identity control plane in front of ZITADEL"
)]
struct Cli {
    /// Configuration file (default: ./gatehouse.toml if present; env GATEHOUSE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API, portal, workers).
    Serve(commands::serve::Args),
    /// Apply database migrations (or show their status).
    Migrate(commands::migrate::Args),
    /// Check or list configuration.
    #[command(subcommand)]
    Config(commands::config::Command),
    /// Master keys for secrets at rest.
    #[command(subcommand)]
    Keys(commands::keys::Command),
    /// Tenants (through the API).
    Tenant(commands::tenant::Args),
    /// Apps of a tenant (through the API).
    App(commands::app::Args),
    /// API keys (through the API).
    Apikey(commands::apikey::Args),
    /// The audit log (through the API).
    Audit(commands::audit::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(cli.config.as_deref(), args).await,
            Command::Migrate(args) => commands::migrate::run(cli.config.as_deref(), args).await,
            Command::Config(cmd) => commands::config::run(cli.config.as_deref(), cmd),
            Command::Keys(cmd) => commands::keys::run(cmd),
            Command::Tenant(args) => commands::tenant::run(args).await,
            Command::App(args) => commands::app::run(args).await,
            Command::Apikey(args) => commands::apikey::run(args).await,
            Command::Audit(args) => commands::audit::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
