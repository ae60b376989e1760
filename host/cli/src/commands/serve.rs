use std::path::Path;

use anyhow::Context;
use gatehouse_server::StartOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Refuse to start if migrations are pending instead of applying them.
    #[arg(long)]
    no_migrate: bool,
}

pub async fn run(config: Option<&Path>, args: Args) -> anyhow::Result<()> {
    let mut settings = super::settings(config)?;
    super::init_logging(settings.log_format, &settings.log_level)?;
    if args.no_migrate {
        settings.auto_migrate = false;
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set listen / GATEHOUSE_LISTEN to a free address)",
                settings.listen
            )
        })?;
    let public_url = settings.public_url.clone();
    let running = gatehouse_server::start(settings, listener, StartOptions::default()).await?;
    let base = public_url.as_str().trim_end_matches('/');
    println!();
    println!("  Gatehouse is running on {}", running.addr);
    println!("  Admin portal   {base}/admin");
    println!("  Admin API      {base}/v1   (OpenAPI: {base}/v1/openapi.json)");
    match &running.bootstrap_token {
        Some(token) => {
            println!();
            println!("  Bootstrap admin credential (shown once; store it now):");
            println!();
            println!("      {token}");
            println!();
            println!(
                "  Use it as `Authorization: Bearer <credential>`, or `export GATEHOUSE_TOKEN=<credential>`"
            );
            println!("  for the CLI. Create named API keys with it, then revoke it if you like.");
        }
        None => println!("  Bootstrap credential: issued on first start, not shown again."),
    }
    if let Some(admin) = &running.admin_credentials {
        println!();
        println!("  Portal sign-in through the embedded IdP (shown once; store it now):");
        println!();
        println!("      login     {}", admin.login_name);
        println!("      password  {}", admin.password);
        println!();
        println!("  Open {base}/admin and choose \"Sign in with your identity provider\".");
    }
    println!();
    let token = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        token.cancel();
    });
    running.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
