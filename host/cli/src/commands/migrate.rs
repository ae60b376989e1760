use std::path::Path;

use gatehouse_core::store::Health;

#[derive(clap::Args)]
pub struct Args {
    /// Only report how many migrations are pending (exit status 1 if any).
    #[arg(long)]
    status: bool,
}

pub async fn run(config: Option<&Path>, args: Args) -> anyhow::Result<()> {
    let settings = super::settings(config)?;
    super::init_logging(settings.log_format, "warn")?;
    let store = gatehouse_server::open_store(&settings).await?;
    if args.status {
        let pending = store.pending_migrations().await?;
        println!(
            "{pending} migration(s) pending on {} ({})",
            store.backend(),
            redacted(&settings.database_url)
        );
        anyhow::ensure!(
            pending == 0,
            "the database schema is not current; run `gatehouse migrate`"
        );
        return Ok(());
    }
    let report = store.migrate().await?;
    if report.applied.is_empty() {
        println!("database is current ({} migrations)", report.total);
    } else {
        println!(
            "applied {} migration(s): {:?}",
            report.applied.len(),
            report.applied
        );
    }
    Ok(())
}

fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
