use std::io::Write;

use anyhow::Context;
use reqwest::Method;

use crate::client::{Client, Connection};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Export audit entries (oldest first) as CSV or JSON lines.
    Export {
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated actions, e.g. tenant.created,app.deleted.
        #[arg(long)]
        action: Option<String>,
        /// RFC 3339 start (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 end (exclusive).
        #[arg(long)]
        until: Option<String>,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    let Command::Export {
        format,
        output,
        tenant,
        action,
        since,
        until,
    } = args.command;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("format", &format);
    for (key, value) in [
        ("tenant_id", tenant),
        ("action", action),
        ("since", since),
        ("until", until),
    ] {
        if let Some(value) = value {
            query.append_pair(key, &value);
        }
    }
    let bytes = client
        .raw(
            Method::GET,
            &format!("/v1/audit-logs/export?{}", query.finish()),
            None,
        )
        .await?;
    match output {
        Some(path) => {
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} bytes to {}", bytes.len(), path.display());
        }
        None => std::io::stdout()
            .write_all(&bytes)
            .context("writing to standard output")?,
    }
    Ok(())
}
