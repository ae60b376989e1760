//! `gatehouse sync status|run`: what is mirrored into ZITADEL, and a sync pass on demand.

use serde_json::Value;

use crate::client::{Client, Connection, text};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show the sync state of every object mirrored into ZITADEL. Exits with status 1 when an
    /// object failed to sync.
    Status {
        /// Only objects in this state.
        #[arg(long, value_parser = ["pending", "synced", "failed"])]
        state: Option<String>,
        /// Only objects of this kind.
        #[arg(long, value_parser = ["tenant", "app", "provider", "actions_target"])]
        kind: Option<String>,
        /// Only this tenant's objects.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Retry every pending or failed object now (their backoff is skipped).
    Run {
        /// Also re-check synced objects against ZITADEL and repair drift.
        #[arg(long)]
        verify: bool,
        /// Only this tenant's objects.
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    match args.command {
        Command::Status {
            state,
            kind,
            tenant,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in [("state", state), ("kind", kind), ("tenant_id", tenant)] {
                if let Some(value) = value {
                    query.append_pair(key, &value);
                }
            }
            let query = query.finish();
            let path = if query.is_empty() {
                "/v1/sync".to_owned()
            } else {
                format!("/v1/sync?{query}")
            };
            let objects = client.list_all(&path).await?;
            client.show(&Value::Array(objects.clone()), |_| print_table(&objects));
            let failed = objects.iter().filter(|o| o["state"] == "failed").count();
            if failed > 0 {
                anyhow::bail!("{failed} object(s) failed to sync; see the MESSAGE column");
            }
        }
        Command::Run { verify, tenant } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if verify {
                query.append_pair("verify", "true");
            }
            if let Some(tenant) = tenant {
                query.append_pair("tenant_id", &tenant);
            }
            let query = query.finish();
            let path = if query.is_empty() {
                "/v1/sync/run".to_owned()
            } else {
                format!("/v1/sync/run?{query}")
            };
            let result = client.post(&path, serde_json::json!({})).await?;
            client.show(&result, |r| {
                println!(
                    "scheduled {} object(s); `gatehouse sync status` shows the outcome",
                    text(r, "scheduled")
                )
            });
        }
    }
    Ok(())
}

fn print_table(objects: &[Value]) {
    println!(
        "{:<15} {:<30} {:<8} {:>8} {:<24} MESSAGE",
        "KIND", "ID", "STATE", "ATTEMPTS", "LAST ATTEMPT"
    );
    for o in objects {
        let state = if o["desired"] == "absent" {
            format!("{} (removing)", text(o, "state"))
        } else {
            text(o, "state")
        };
        println!(
            "{:<15} {:<30} {:<8} {:>8} {:<24} {}",
            text(o, "kind"),
            text(o, "id"),
            state,
            text(o, "attempts"),
            text(o, "last_attempt_at"),
            o["message"].as_str().unwrap_or("")
        );
    }
}
