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

/// Logs to stderr (text or JSON, at the configured level), and exports OTLP when configured.
pub fn init_logging(format: gatehouse_config::LogFormat, level: &str) -> anyhow::Result<()> {
    crate::telemetry::init(format, level)
}
