//! `gatehouse trust …`: the server's trust store of plugin signing keys, through the API.
//! Packages install only when signed by a trusted key; removing a key refuses its packages
//! from then on and disables the plugins it signed.

use std::path::PathBuf;

use anyhow::Context;
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
    /// Trust a minisign public key (a .pub file from `gatehouse plugin keygen` or `minisign -G`).
    Add {
        /// The public key file.
        pubkey_file: PathBuf,
        /// Whose key this is, for admins.
        #[arg(long)]
        name: String,
    },
    /// List trusted keys, removed ones included.
    List,
    /// Remove a key: its packages are refused from now on and the plugins it signed are
    /// disabled (they stay installed).
    Remove {
        /// The key id (16 hex digits, as `trust list` shows).
        key_id: String,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    match args.command {
        Command::Add { pubkey_file, name } => {
            let public_key = std::fs::read_to_string(&pubkey_file)
                .with_context(|| format!("reading {}", pubkey_file.display()))?;
            let key = client
                .post(
                    "/v1/trusted-keys",
                    json!({ "name": name, "public_key": public_key }),
                )
                .await?;
            client.show(&key, |k| {
                println!("trusted key {} ({})", text(k, "key_id"), text(k, "name"))
            });
        }
        Command::List => {
            let keys = client.get("/v1/trusted-keys").await?;
            let rows = keys["data"].as_array().cloned().unwrap_or_default();
            client.show(&Value::Array(rows.clone()), |_| {
                println!("{:<16}  {:<24}  {:<24}  NAME", "KEY ID", "ADDED", "REMOVED");
                for k in &rows {
                    println!(
                        "{:<16}  {:<24}  {:<24}  {}",
                        text(k, "key_id"),
                        text(k, "added_at"),
                        text(k, "removed_at"),
                        text(k, "name")
                    );
                }
            });
        }
        Command::Remove { key_id } => {
            let removed = client
                .delete(&format!(
                    "/v1/trusted-keys/{}",
                    url::form_urlencoded::byte_serialize(key_id.as_bytes()).collect::<String>()
                ))
                .await?;
            client.show(&removed, |r| {
                println!("removed key {} ({})", text(r, "key_id"), text(r, "name"));
                for p in r["disabled_plugins"].as_array().into_iter().flatten() {
                    println!(
                        "disabled {} {} (signed by this key)",
                        text(p, "id"),
                        text(p, "version")
                    );
                }
            });
        }
    }
    Ok(())
}
