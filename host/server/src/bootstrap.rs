//! Start-up chores: opening the store with a clear message, and the master key.

use std::{fs, io::Write, path::Path};

use anyhow::{Context, bail};
use gatehouse_config::Settings;
use gatehouse_core::secret::{Keyring, MasterKey};
use gatehouse_store::{ConnectOptions, SqlStore};

/// Connects to the configured database. The error says which database and what to check,
/// without echoing credentials from the URL.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    if settings.database_url.starts_with("sqlite:") {
        fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options.schema = settings.database_schema.clone();
    options.max_connections = settings.database_max_connections;
    SqlStore::connect(&options).await.map_err(|err| {
        anyhow::anyhow!(
            "cannot open the database {}: {err}\n  check database_url / GATEHOUSE_DATABASE_URL, that the server is running and reachable, and the credentials",
            redact_url(&settings.database_url)
        )
    })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Loads the keyring from the master key file. On first start with the default location, a
/// key is generated (mode 0600) with a warning: fine for development, not for production.
pub fn load_or_create_keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let path = &settings.master_key_file;
    if !path.exists() {
        if !settings.master_key_is_default {
            bail!(
                "the master key file {} does not exist; create it with `gatehouse keys generate > {}` (and keep a backup: without it, stored secrets cannot be decrypted)",
                path.display(),
                path.display()
            );
        }
        let key = MasterKey::generate();
        write_private(
            path,
            &format!("# Gatehouse master key (generated)\n{}\n", key.encode()),
        )?;
        tracing::warn!(
            path = %path.display(),
            "generated a development master key; in production set GATEHOUSE_MASTER_KEY_FILE to a managed key and back it up"
        );
    }
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the master key file {}", path.display()))?;
    warn_if_shared(path);
    Keyring::from_key_file(&text)
        .with_context(|| format!("the master key file {} is invalid", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().ok();
    Ok(())
}

fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the master key file is readable by other users; chmod 600 it");
        }
    }
}
