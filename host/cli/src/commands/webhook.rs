//! `gatehouse webhook …`: a tenant's webhook endpoints, their deliveries and attempts, and
//! replay (resend, redrive, recover), through the API.

use anyhow::Context;
use reqwest::Method;
use serde_json::{Map, Value, json};

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
    /// Create an endpoint; its signing secret (whsec_…) is printed once.
    Create {
        #[arg(long)]
        tenant: String,
        /// Where deliveries go (https://…). Not `--url`: that one names the Gatehouse server.
        #[arg(long, value_name = "URL")]
        endpoint_url: String,
        /// Event type to deliver: exact (user.created), a family (user.*) or * (repeatable;
        /// default *).
        #[arg(long = "event")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Webhook plugin reshaping each message, e.g. gatehouse.slack.
        #[arg(long)]
        transform: Option<String>,
        /// The plugin's configuration, as a JSON object.
        #[arg(long, requires = "transform")]
        transform_config: Option<String>,
        /// Most deliveries per second.
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Your own secret (whsec_ + base64 of 24–64 bytes) instead of a generated one.
        #[arg(long)]
        secret: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List a tenant's endpoints.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Show an endpoint.
    Show {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Change an endpoint (only the options given).
    Update {
        #[arg(long)]
        tenant: String,
        id: String,
        /// A new destination for deliveries.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        /// Replaces the subscriptions (repeatable).
        #[arg(long = "event")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "no_transform")]
        transform: Option<String>,
        #[arg(long, requires = "transform")]
        transform_config: Option<String>,
        /// Remove the transform.
        #[arg(long)]
        no_transform: bool,
        #[arg(long, conflicts_with = "no_rate_limit")]
        rate_limit: Option<u32>,
        /// Remove the rate limit.
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// Enable an endpoint (clears its failure streak).
    Enable {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Disable an endpoint.
    Disable {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Delete an endpoint with its deliveries.
    Delete {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// Rotate the signing secret; the new one is printed once. The previous one keeps
    /// signing (a second signature) for a while.
    RotateSecret {
        #[arg(long)]
        tenant: String,
        id: String,
        /// Your own new secret instead of a generated one.
        #[arg(long)]
        secret: Option<String>,
        /// Seconds the previous secret keeps signing (default 86400).
        #[arg(long)]
        keep_previous_for: Option<u64>,
    },
    /// Send a signed test message now and show what the endpoint answered.
    Test {
        #[arg(long)]
        tenant: String,
        id: String,
    },
    /// List deliveries (newest first); --status dead is the dead-letter list.
    Deliveries {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long, value_parser = ["pending", "succeeded", "skipped", "dead"])]
        status: Option<String>,
        #[arg(long)]
        event_type: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// List delivery attempts (newest first).
    Attempts {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        delivery: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long, value_parser = ["succeeded", "failed", "skipped"])]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Send a delivery again (same webhook-id).
    Resend {
        #[arg(long)]
        tenant: String,
        delivery: String,
    },
    /// Retry the dead letters of the tenant, or of one endpoint.
    Redrive {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Re-enqueue every event an endpoint subscribes to since a moment (RFC 3339).
    Recover {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        since: String,
        #[arg(long)]
        until: Option<String>,
    },
    /// List the event types endpoints can subscribe to.
    EventTypes,
}

fn config(text: Option<&str>) -> anyhow::Result<Value> {
    match text {
        None => Ok(json!({})),
        Some(text) => {
            serde_json::from_str(text).context("--transform-config must be a JSON object")
        }
    }
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value {
            out.append_pair(key, value);
        }
    }
    out.finish()
}

fn print_endpoint(e: &Value) {
    println!("id           {}", text(e, "id"));
    println!("url          {}", text(e, "url"));
    if !e["description"].as_str().unwrap_or_default().is_empty() {
        println!("description  {}", text(e, "description"));
    }
    println!(
        "events       {}",
        e["event_types"]
            .as_array()
            .map(|t| t
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    if let Some(t) = e["transform"].as_object() {
        println!(
            "transform    {} {}",
            t.get("plugin").and_then(Value::as_str).unwrap_or(""),
            t.get("config").map(Value::to_string).unwrap_or_default()
        );
    }
    match e["enabled"].as_bool() {
        Some(true) => println!("enabled      yes"),
        _ => println!("enabled      no ({})", text(e, "disabled_reason")),
    }
    if !e["rate_limit"].is_null() {
        println!("rate limit   {}/s", text(e, "rate_limit"));
    }
    if !e["failing_since"].is_null() {
        println!("failing      since {}", text(e, "failing_since"));
    }
    println!("created      {}", text(e, "created_at"));
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    let hooks = |tenant: &str| format!("/v1/tenants/{tenant}/webhooks");
    match args.command {
        Command::Create {
            tenant,
            endpoint_url,
            events,
            description,
            transform,
            transform_config,
            rate_limit,
            secret,
            disabled,
        } => {
            let mut body = Map::new();
            body.insert("url".into(), json!(endpoint_url));
            if !events.is_empty() {
                body.insert("event_types".into(), json!(events));
            }
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            if let Some(plugin) = transform {
                let config = config(transform_config.as_deref())?;
                body.insert(
                    "transform".into(),
                    json!({"plugin": plugin, "config": config}),
                );
            }
            if let Some(n) = rate_limit {
                body.insert("rate_limit".into(), json!(n));
            }
            if let Some(s) = secret {
                body.insert("secret".into(), json!(s));
            }
            if disabled {
                body.insert("enabled".into(), json!(false));
            }
            let e = client.post(&hooks(&tenant), Value::Object(body)).await?;
            client.show(&e, |e| {
                print_endpoint(e);
                println!();
                println!("Signing secret (shown once; store it now):");
                println!();
                println!("    {}", text(e, "secret"));
            });
        }
        Command::List { tenant } => {
            let all = client.list_all(&hooks(&tenant)).await?;
            client.show(&Value::Array(all.clone()), |_| {
                println!("{:<32} {:<8} {:<24} URL", "ID", "ENABLED", "EVENTS");
                for e in &all {
                    let events = e["event_types"]
                        .as_array()
                        .map(|t| {
                            t.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    println!(
                        "{:<32} {:<8} {:<24} {}",
                        text(e, "id"),
                        if e["enabled"] == true { "yes" } else { "no" },
                        events,
                        text(e, "url")
                    );
                }
            });
        }
        Command::Show { tenant, id } => {
            let e = client.get(&format!("{}/{id}", hooks(&tenant))).await?;
            client.show(&e, print_endpoint);
        }
        Command::Update {
            tenant,
            id,
            endpoint_url,
            events,
            description,
            transform,
            transform_config,
            no_transform,
            rate_limit,
            no_rate_limit,
        } => {
            let mut body = Map::new();
            if let Some(u) = endpoint_url {
                body.insert("url".into(), json!(u));
            }
            if !events.is_empty() {
                body.insert("event_types".into(), json!(events));
            }
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            if let Some(plugin) = transform {
                let config = config(transform_config.as_deref())?;
                body.insert(
                    "transform".into(),
                    json!({"plugin": plugin, "config": config}),
                );
            } else if no_transform {
                body.insert("transform".into(), Value::Null);
            }
            if let Some(n) = rate_limit {
                body.insert("rate_limit".into(), json!(n));
            } else if no_rate_limit {
                body.insert("rate_limit".into(), Value::Null);
            }
            anyhow::ensure!(
                !body.is_empty(),
                "nothing to change: pass at least one option"
            );
            let e = client
                .call(
                    Method::PATCH,
                    &format!("{}/{id}", hooks(&tenant)),
                    Some(Value::Object(body)),
                )
                .await?;
            client.show(&e, print_endpoint);
        }
        Command::Enable { tenant, id } => {
            let e = client
                .call(
                    Method::PATCH,
                    &format!("{}/{id}", hooks(&tenant)),
                    Some(json!({"enabled": true})),
                )
                .await?;
            client.show(&e, |_| println!("enabled webhook endpoint {id}"));
        }
        Command::Disable { tenant, id } => {
            let e = client
                .call(
                    Method::PATCH,
                    &format!("{}/{id}", hooks(&tenant)),
                    Some(json!({"enabled": false})),
                )
                .await?;
            client.show(&e, |_| println!("disabled webhook endpoint {id}"));
        }
        Command::Delete { tenant, id } => {
            client.delete(&format!("{}/{id}", hooks(&tenant))).await?;
            println!("deleted webhook endpoint {id}");
        }
        Command::RotateSecret {
            tenant,
            id,
            secret,
            keep_previous_for,
        } => {
            let mut body = Map::new();
            if let Some(s) = secret {
                body.insert("secret".into(), json!(s));
            }
            if let Some(n) = keep_previous_for {
                body.insert("previous_valid_for_seconds".into(), json!(n));
            }
            let r = client
                .post(
                    &format!("{}/{id}/rotate-secret", hooks(&tenant)),
                    Value::Object(body),
                )
                .await?;
            client.show(&r, |r| {
                println!("New signing secret (shown once; store it now):");
                println!();
                println!("    {}", text(r, "secret"));
                println!();
                println!(
                    "The previous secret keeps signing until {}.",
                    text(r, "previous_secret_expires_at")
                );
            });
        }
        Command::Test { tenant, id } => {
            let r = client
                .post(&format!("{}/{id}/test", hooks(&tenant)), json!({}))
                .await?;
            client.show(&r, |r| {
                println!("webhook-id  {}", text(r, "webhook_id"));
                println!("result      {}", text(r, "status"));
                println!("status      {}", text(r, "response_status"));
                println!("latency     {} ms", text(r, "latency_ms"));
                if !r["error"].is_null() {
                    println!("error       {}", text(r, "error"));
                }
                if let Some(body) = r["response_body"].as_str().filter(|b| !b.is_empty()) {
                    println!("body        {body}");
                }
            });
            anyhow::ensure!(
                r["status"] == "succeeded",
                "the test message was not delivered"
            );
        }
        Command::Deliveries {
            tenant,
            endpoint,
            status,
            event_type,
            limit,
        } => {
            let q = query(&[
                ("endpoint_id", endpoint),
                ("status", status),
                ("event_type", event_type),
                ("limit", Some(limit.to_string())),
            ]);
            let page = client
                .get(&format!("/v1/tenants/{tenant}/webhook-deliveries?{q}"))
                .await?;
            client.show(&page, |page| {
                println!(
                    "{:<32} {:<10} {:<8} {:<22} LAST ERROR",
                    "ID (webhook-id)", "STATUS", "ATTEMPTS", "EVENT"
                );
                for d in page["data"].as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:<10} {:<8} {:<22} {}",
                        text(d, "id"),
                        text(d, "status"),
                        text(d, "attempts"),
                        text(d, "event_type"),
                        d["last_error"].as_str().unwrap_or("")
                    );
                }
            });
        }
        Command::Attempts {
            tenant,
            delivery,
            endpoint,
            status,
            limit,
        } => {
            let q = query(&[
                ("delivery_id", delivery),
                ("endpoint_id", endpoint),
                ("status", status),
                ("limit", Some(limit.to_string())),
            ]);
            let page = client
                .get(&format!("/v1/tenants/{tenant}/webhook-attempts?{q}"))
                .await?;
            client.show(&page, |page| {
                println!(
                    "{:<32} {:<32} {:<10} {:<6} {:>8}  ERROR",
                    "ID", "DELIVERY", "RESULT", "CODE", "MS"
                );
                for a in page["data"].as_array().into_iter().flatten() {
                    println!(
                        "{:<32} {:<32} {:<10} {:<6} {:>8}  {}",
                        text(a, "id"),
                        text(a, "delivery_id"),
                        text(a, "status"),
                        text(a, "response_status"),
                        text(a, "latency_ms"),
                        a["error"].as_str().unwrap_or("")
                    );
                }
            });
        }
        Command::Resend { tenant, delivery } => {
            let d = client
                .post(
                    &format!("/v1/tenants/{tenant}/webhook-deliveries/{delivery}/resend"),
                    json!({}),
                )
                .await?;
            client.show(&d, |_| println!("delivery {delivery} will be sent again"));
        }
        Command::Redrive { tenant, endpoint } => {
            let body = match endpoint {
                Some(e) => json!({ "endpoint_id": e }),
                None => json!({}),
            };
            let r = client
                .post(
                    &format!("/v1/tenants/{tenant}/webhook-deliveries/redrive"),
                    body,
                )
                .await?;
            client.show(&r, |r| {
                println!("{} dead letter(s) enqueued again", text(r, "enqueued"))
            });
        }
        Command::Recover {
            tenant,
            id,
            since,
            until,
        } => {
            let mut body = json!({ "since": since });
            if let Some(u) = until {
                body["until"] = json!(u);
            }
            let r = client
                .post(&format!("{}/{id}/recover", hooks(&tenant)), body)
                .await?;
            client.show(&r, |r| {
                println!("{} delivery(ies) enqueued", text(r, "enqueued"))
            });
        }
        Command::EventTypes => {
            let types = client.get("/v1/webhook-event-types").await?;
            client.show(&types, |types| {
                for t in types.as_array().into_iter().flatten() {
                    println!("{:<26} {}", text(t, "name"), text(t, "description"));
                }
            });
        }
    }
    Ok(())
}
