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
    /// Register an app; a `web` app's client secret is printed once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// web (confidential), spa or native.
        #[arg(long = "type", value_parser = ["web", "spa", "native"])]
        app_type: String,
        /// Allowed redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Allowed post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Relax redirect-URI rules (http on any host), like ZITADEL's dev mode.
        #[arg(long)]
        dev_mode: bool,
    },
    /// List a tenant's apps.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Show an app.
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Delete an app.
    Delete {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Replace a web app's client secret; the new one is printed once.
    RotateSecret {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Print a client secret that was never shown (e.g. the app synced after creation).
    RevealSecret {
        #[arg(long)]
        tenant: String,
        id: String,
    },
}

fn print_app(app: &Value) {
    println!("id            {}", text(app, "id"));
    println!("name          {}", text(app, "name"));
    println!("type          {}", text(app, "type"));
    println!("client_id     {}", text(app, "client_id"));
    println!(
        "redirect_uris {}",
        app["redirect_uris"]
            .as_array()
            .map(|d| d
                .iter()
                .map(|v| v.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default()
    );
    println!(
        "sync          {} {}",
        text(&app["sync"], "state"),
        app["sync"]["message"].as_str().unwrap_or("")
    );
    if let Some(secret) = app["client_secret"].as_str() {
        println!();
        println!("client_secret {secret}");
        println!("              (shown once: store it now)");
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    match args.command {
        Command::Create {
            tenant,
            name,
            app_type,
            redirect_uris,
            post_logout_redirect_uris,
            dev_mode,
        } => {
            let body = json!({
                "name": name,
                "type": app_type,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
                "dev_mode": dev_mode,
            });
            let app = client
                .post(&format!("/v1/tenants/{tenant}/apps"), body)
                .await?;
            client.show(&app, print_app);
        }
        Command::List { tenant } => {
            let apps = client
                .list_all(&format!("/v1/tenants/{tenant}/apps"))
                .await?;
            client.show(&Value::Array(apps.clone()), |_| {
                println!(
                    "{:<32} {:<7} {:<8} {:<40} NAME",
                    "ID", "TYPE", "SYNC", "CLIENT ID"
                );
                for a in &apps {
                    println!(
                        "{:<32} {:<7} {:<8} {:<40} {}",
                        text(a, "id"),
                        text(a, "type"),
                        text(&a["sync"], "state"),
                        text(a, "client_id"),
                        text(a, "name")
                    );
                }
            });
        }
        Command::Show { tenant, id } => {
            let app = client
                .get(&format!("/v1/tenants/{tenant}/apps/{id}"))
                .await?;
            client.show(&app, print_app);
        }
        Command::Delete { tenant, id } => {
            client
                .delete(&format!("/v1/tenants/{tenant}/apps/{id}"))
                .await?;
            println!("deleted app {id}");
        }
        Command::RotateSecret { tenant, id } => {
            let app = client
                .post(
                    &format!("/v1/tenants/{tenant}/apps/{id}/rotate-secret"),
                    json!({}),
                )
                .await?;
            client.show(&app, |a| {
                print_app(a);
                if a["client_secret"].is_null() {
                    println!("\nrotation requested; the new secret is not issued yet (sync pending): run `gatehouse app reveal-secret` later");
                }
            });
        }
        Command::RevealSecret { tenant, id } => {
            let secret = client
                .post(
                    &format!("/v1/tenants/{tenant}/apps/{id}/client-secret"),
                    json!({}),
                )
                .await?;
            client.show(&secret, |s| {
                println!("client_id     {}", text(s, "client_id"));
                println!("client_secret {}", text(s, "client_secret"));
                println!("              (shown once: store it now)");
            });
        }
    }
    Ok(())
}
