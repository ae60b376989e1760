use serde_json::{Value, json};

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
    /// Create an API key; its token is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// Confine the key to one tenant (otherwise platform-wide).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List API keys (never their tokens).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke an API key.
    Revoke { id: String },
    /// Print a random token suitable for GATEHOUSE_BOOTSTRAP_TOKEN (offline, nothing stored).
    Generate,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if let Command::Generate = args.command {
        println!("{}", gatehouse_core::api_key::NewToken::generate().token);
        return Ok(());
    }
    let client = Client::new(&args.conn)?;
    match args.command {
        Command::Create { name, tenant } => {
            let body = match tenant {
                Some(tenant) => json!({ "name": name, "scope": "tenant", "tenant_id": tenant }),
                None => json!({ "name": name, "scope": "platform" }),
            };
            let key = client.post("/v1/api-keys", body).await?;
            client.show(&key, |k| {
                println!(
                    "created API key {} ({} scope)",
                    text(k, "id"),
                    text(k, "scope")
                );
                println!();
                println!("    {}", text(k, "token"));
                println!();
                println!("shown once: store it now");
            });
        }
        Command::List { tenant } => {
            let path = match tenant {
                Some(t) => format!("/v1/api-keys?tenant_id={t}"),
                None => "/v1/api-keys".to_owned(),
            };
            let keys = client.list_all(&path).await?;
            client.show(&Value::Array(keys.clone()), |_| {
                println!(
                    "{:<32} {:<9} {:<14} {:<26} NAME",
                    "ID", "SCOPE", "PREFIX", "REVOKED"
                );
                for k in &keys {
                    println!(
                        "{:<32} {:<9} {:<14} {:<26} {}",
                        text(k, "id"),
                        text(k, "scope"),
                        text(k, "token_prefix"),
                        text(k, "revoked_at"),
                        text(k, "name")
                    );
                }
            });
        }
        Command::Revoke { id } => {
            client
                .post(&format!("/v1/api-keys/{id}/revoke"), json!({}))
                .await?;
            println!("revoked API key {id}");
        }
        Command::Generate => unreachable!("handled above"),
    }
    Ok(())
}
