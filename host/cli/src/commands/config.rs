use std::path::Path;

use gatehouse_config::{KEYS, ZitadelTarget};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate the configuration and print the effective values (secrets hidden).
    Check,
    /// List every configuration key with its default and meaning.
    Keys,
}

pub fn run(config: Option<&Path>, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Keys => {
            for key in KEYS {
                let env = format!(
                    "{}{}",
                    gatehouse_config::ENV_PREFIX,
                    key.name.to_ascii_uppercase()
                );
                let default = if key.default.is_empty() {
                    "(none)"
                } else {
                    key.default
                };
                println!(
                    "{:<26} {:<36} default {default}\n{:<26} {}\n",
                    key.name, env, "", key.help
                );
            }
            Ok(())
        }
        Command::Check => {
            let s = super::settings(config)?;
            println!(
                "configuration is valid{}",
                s.file
                    .as_ref()
                    .map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default()
            );
            println!("  listen            {}", s.listen);
            println!("  public_url        {}", s.public_url);
            println!("  data_dir          {}", s.data_dir.display());
            println!(
                "  database          {}",
                if s.database_url.starts_with("sqlite:") {
                    "SQLite".to_owned()
                } else {
                    format!("PostgreSQL (schema {})", s.database_schema)
                }
            );
            println!(
                "  master key file   {}{}",
                s.master_key_file.display(),
                if s.master_key_is_default {
                    " (generated on first start: development only)"
                } else {
                    ""
                }
            );
            println!(
                "  bootstrap token   {}",
                if s.bootstrap_token.is_some() {
                    "set"
                } else {
                    "generated on first start"
                }
            );
            match &s.zitadel {
                ZitadelTarget::Embedded => {
                    println!("  IdP               embedded ZITADEL emulator (development only)")
                }
                ZitadelTarget::External { url, .. } => {
                    println!("  IdP               ZITADEL at {url}")
                }
            }
            println!(
                "  egress allowlist  {}",
                if s.egress_allow.is_empty() {
                    "(none)".to_owned()
                } else {
                    format!("{} entries", s.egress_allow.len())
                }
            );
            Ok(())
        }
    }
}
