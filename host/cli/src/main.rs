//! `gatehouse`: run the server, manage its database, and administer it through the API.

#![allow(clippy::print_stdout)] // a CLI prints

mod client;
mod commands;
mod telemetry;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

// glibc's allocator took over a quarter of the process's CPU under load; mimalloc made plain HTTP
// POSTs half again as fast and webhook deliveries a fifth faster (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// JWKS bundles: export the IdP's signing keys, verify a token offline against them.
    #[command(subcommand)]
    Jwks(commands::jwks::Command),
    /// Plugins: scaffold, build, test, sign and verify packages.
    #[command(subcommand)]
    Plugin(commands::plugin::PluginCommand),
    /// The server's trust store of plugin signing keys (through the API).
    Trust(commands::trust::Args),
    /// ZITADEL sync status, and triggering a sync pass (through the API).
    Sync(commands::sync::Args),
    /// Tenants (through the API).
    Tenant(commands::tenant::Args),
    /// Apps of a tenant (through the API).
    App(commands::app::Args),
    /// API keys (through the API).
    Apikey(commands::apikey::Args),
    /// The audit log (through the API).
    Audit(commands::audit::Args),
    /// Webhook endpoints, deliveries, attempts and replay (through the API).
    Webhook(commands::webhook::Args),
    /// Seed a demo tenant, app and user, and serve a storefront that signs in through them.
    Demo(commands::demo::Args),
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
            Command::Jwks(cmd) => commands::jwks::run(cli.config.as_deref(), cmd).await,
            Command::Plugin(cmd) => commands::plugin::run(cmd).await,
            Command::Trust(args) => commands::trust::run(args).await,
            Command::Sync(args) => commands::sync::run(args).await,
            Command::Tenant(args) => commands::tenant::run(args).await,
            Command::App(args) => commands::app::run(args).await,
            Command::Apikey(args) => commands::apikey::run(args).await,
            Command::Audit(args) => commands::audit::run(args).await,
            Command::Webhook(args) => commands::webhook::run(args).await,
            Command::Demo(args) => commands::demo::run(cli.config.as_deref(), args).await,
        }
    });
    // Outside the runtime: the exporters' flush blocks.
    telemetry::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// A subcommand option with the id of a global one (`--url`, `--token`…) silently writes
    /// into the global's field: `webhook create --url <endpoint>` once sent the API credential
    /// to the endpoint. No subcommand may reuse a global's id.
    #[test]
    fn no_subcommand_option_shadows_a_global_one() {
        fn walk(
            cmd: &clap::Command,
            globals: &mut Vec<String>,
            path: &str,
            clashes: &mut Vec<String>,
        ) {
            let own_globals: Vec<String> = cmd
                .get_arguments()
                .filter(|a| a.is_global_set())
                .map(|a| a.get_id().to_string())
                .collect();
            for arg in cmd.get_arguments().filter(|a| !a.is_global_set()) {
                if globals.iter().any(|g| g == arg.get_id().as_str()) {
                    clashes.push(format!("{path} --{}", arg.get_id()));
                }
            }
            let depth = globals.len();
            globals.extend(own_globals);
            for sub in cmd.get_subcommands() {
                walk(sub, globals, &format!("{path} {}", sub.get_name()), clashes);
            }
            globals.truncate(depth);
        }
        let mut clashes = Vec::new();
        walk(&Cli::command(), &mut Vec::new(), "gatehouse", &mut clashes);
        assert!(
            clashes.is_empty(),
            "options shadowing a global one: {clashes:?}"
        );
    }
}
