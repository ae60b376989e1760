pub mod apikey;
pub mod app;
pub mod audit;
pub mod config;
pub mod demo;
pub mod jwks;
pub mod keys;
pub mod migrate;
pub mod plugin;
pub mod serve;
pub mod sync;
pub mod tenant;
pub mod trust;
pub mod webhook;

use std::path::Path;

use anyhow::Context;
use gatehouse_config::Settings;

/// Loads and validates configuration, with the file named in the error.
pub fn settings(file: Option<&Path>) -> anyhow::Result<Settings> {
    gatehouse_config::load(file).context("invalid configuration")
}

/// Logs to stderr: text or JSON, at the configured level.
pub fn init_logging(format: gatehouse_config::LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        gatehouse_config::LogFormat::Json => builder.json().try_init(),
        gatehouse_config::LogFormat::Text => builder.try_init(),
    };
}
