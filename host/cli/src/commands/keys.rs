use gatehouse_core::secret::MasterKey;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a new random master key (one line of base64) for GATEHOUSE_MASTER_KEY_FILE.
    ///
    /// To rotate: put the new key on the first line of the key file and keep the old key on a
    /// line below it; values sealed under the old key stay readable.
    Generate,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Generate => {
            let key = MasterKey::generate();
            println!(
                "# Gatehouse master key {} (keep a backup; without it stored secrets are lost)",
                key.id()
            );
            println!("{}", key.encode());
            Ok(())
        }
    }
}
