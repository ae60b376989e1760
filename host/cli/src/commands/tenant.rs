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
    /// Create a tenant.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        /// An email domain of the organisation (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// List tenants.
    List,
    /// Show one tenant, with its sync state.
    Show { id: String },
    /// Delete a tenant and everything it owns.
    Delete { id: String },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    match args.command {
        Command::Create {
            name,
            slug,
            domains,
        } => {
            let tenant = client
                .post(
                    "/v1/tenants",
                    json!({ "name": name, "slug": slug, "domains": domains }),
                )
                .await?;
            client.show(&tenant, |t| {
                println!(
                    "created tenant {} ({}), sync {}",
                    text(t, "id"),
                    text(t, "slug"),
                    text(&t["sync"], "state")
                )
            });
        }
        Command::List => {
            let tenants = client.list_all("/v1/tenants").await?;
            client.show(&Value::Array(tenants.clone()), |_| {
                println!(
                    "{:<32} {:<24} {:<10} {:<8} NAME",
                    "ID", "SLUG", "STATUS", "SYNC"
                );
                for t in &tenants {
                    println!(
                        "{:<32} {:<24} {:<10} {:<8} {}",
                        text(t, "id"),
                        text(t, "slug"),
                        text(t, "status"),
                        text(&t["sync"], "state"),
                        text(t, "name")
                    );
                }
            });
        }
        Command::Show { id } => {
            let t = client.get(&format!("/v1/tenants/{id}")).await?;
            client.show(&t, |t| {
                println!("id        {}", text(t, "id"));
                println!("name      {}", text(t, "name"));
                println!("slug      {}", text(t, "slug"));
                println!("status    {}", text(t, "status"));
                println!(
                    "domains   {}",
                    t["domains"]
                        .as_array()
                        .map(|d| d
                            .iter()
                            .map(|v| v.as_str().unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
                println!(
                    "sync      {} {}",
                    text(&t["sync"], "state"),
                    t["sync"]["message"].as_str().unwrap_or("")
                );
                println!("created   {}", text(t, "created_at"));
            });
        }
        Command::Delete { id } => {
            client.delete(&format!("/v1/tenants/{id}")).await?;
            println!("deleted tenant {id}");
        }
    }
    Ok(())
}
