//! `gatehouse plugin …`: local commands for plugin authors and ops — keys, signing, packaging,
//! scaffolding, testing under the production limits, inspecting — and the commands that manage
//! a server's plugins through the API (install, list, show, enable, disable, remove, limits).

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use gatehouse_core::plugin::{PluginKind, PluginLimits};
use gatehouse_plugin_host::{
    Call, HostConfig, PluginHost, PluginSpec, inspect,
    package::{self, PackageMeta},
    scaffold, signing,
    trust::MemoryTrustStore,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Client, Connection, text};

/// Environment variable holding the signing key's password (never a flag: flags leak into
/// shell history and `ps`).
const PASSWORD_ENV: &str = "GATEHOUSE_PLUGIN_KEY_PASSWORD";

#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// Create a minisign signing key pair (<OUT>.key and <OUT>.pub).
    ///
    /// The secret key is encrypted with the password in GATEHOUSE_PLUGIN_KEY_PASSWORD unless
    /// --unencrypted is given. Give ops the .pub file for their trust store.
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, default_value = "gatehouse-signing")]
        out: PathBuf,
        /// Leave the secret key unencrypted (like `minisign -G -W`).
        #[arg(long)]
        unencrypted: bool,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a manifest.toml, writing manifest.toml.minisig beside it.
    Sign {
        manifest: PathBuf,
        /// The secret key (.key).
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a package against trusted public keys, the way an install does.
    Verify {
        package: PathBuf,
        /// A trusted public key (.pub file); repeat for several.
        #[arg(long = "trust", required = true)]
        trusted: Vec<PathBuf>,
    },
    /// Scaffold a plugin project.
    New {
        /// provider, widget or webhook.
        kind: PluginKind,
        /// Project (and directory) name: a-z, 0-9 and `-`.
        name: String,
        /// Parent directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The gatehouse-plugin SDK (`sdk-guest/` of the Gatehouse source).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin project for wasm32-wasip2 and package it (signed with --key).
    Build {
        /// The project directory.
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Secret key to sign the manifest with.
        #[arg(long, required_unless_present = "unsigned")]
        key: Option<PathBuf>,
        /// Package without a signature (installs refuse it; for local tests only).
        #[arg(long)]
        unsigned: bool,
        /// Output file (default: <id>-<version>.tar.gz in the project directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a plugin (.wasm or package) under the production limits and report output, wall
    /// time, peak memory and instruction count.
    Test {
        /// A .wasm component or a .tar/.tar.gz package.
        plugin: PathBuf,
        /// JSON file with one call or a list of calls (`-` = stdin), e.g.
        /// `{"call":"webhook_transform","event":{…},"config":{…}}`.
        #[arg(long)]
        input: PathBuf,
    },
    /// Show a component's or package's WIT version, imports, exports, hashes and manifest.
    Inspect { plugin: PathBuf },
    /// Install a signed package on a server (verified there against its trust store).
    Install {
        /// The package (.tar.gz or .tar) built by `gatehouse plugin build`.
        package: PathBuf,
        #[command(flatten)]
        conn: Connection,
    },
    /// List a server's plugins: built-ins and installed versions.
    List {
        #[command(flatten)]
        conn: Connection,
    },
    /// Show one plugin id with its versions.
    Show {
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Enable a plugin version (forgetting its past faults).
    Enable {
        id: String,
        /// Needed when several versions are installed.
        version: Option<String>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Disable a plugin version; calls to it fail until it is enabled again.
    Disable {
        id: String,
        /// Needed when several versions are installed.
        version: Option<String>,
        /// Why (shown to other admins).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Remove an installed plugin version (built-ins can only be disabled).
    Remove {
        id: String,
        /// Needed when several versions are installed.
        version: Option<String>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Lower a plugin version's limits (they can never exceed the kind's defaults or the
    /// package manifest's limits).
    Limits {
        id: String,
        /// Needed when several versions are installed.
        version: Option<String>,
        /// Wall-clock deadline per call, milliseconds.
        #[arg(long)]
        deadline_ms: Option<u32>,
        /// Linear-memory cap, MiB.
        #[arg(long)]
        memory_mib: Option<u32>,
        /// Input size cap per call, KiB.
        #[arg(long)]
        max_input_kib: Option<u32>,
        /// Output size cap per call, KiB.
        #[arg(long)]
        max_output_kib: Option<u32>,
        /// Log cap per call, KiB.
        #[arg(long)]
        max_log_kib: Option<u32>,
        /// Drop every limit ops set (back to the manifest's or the kind's), before applying
        /// the values given.
        #[arg(long)]
        reset: bool,
        #[command(flatten)]
        conn: Connection,
    },
}

pub async fn run(cmd: PluginCommand) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::Keygen {
            out,
            unencrypted,
            force,
        } => keygen(&out, unencrypted, force),
        PluginCommand::Sign { manifest, key } => sign(&manifest, &key),
        PluginCommand::Verify { package, trusted } => verify(&package, &trusted).await,
        PluginCommand::New {
            kind,
            name,
            dir,
            sdk,
        } => new(kind, &name, &dir, sdk.as_deref()),
        PluginCommand::Build {
            path,
            key,
            unsigned,
            out,
        } => build(&path, key.as_deref(), unsigned, out.as_deref()),
        PluginCommand::Test { plugin, input } => {
            tokio::task::spawn_blocking(move || test(&plugin, &input)).await?
        }
        PluginCommand::Inspect { plugin } => inspect_cmd(&plugin),
        PluginCommand::Install { package, conn } => install(&conn, &package).await,
        PluginCommand::List { conn } => list(&conn).await,
        PluginCommand::Show { id, conn } => show(&conn, &id).await,
        PluginCommand::Enable { id, version, conn } => {
            let client = Client::new(&conn)?;
            let version = pick_version(&client, &id, version).await?;
            let plugin = client
                .post(&version_path(&id, &version, "/enable"), json!({}))
                .await?;
            client.show(&plugin, |p| {
                println!("enabled {} {}", text(p, "id"), text(p, "version"))
            });
            Ok(())
        }
        PluginCommand::Disable {
            id,
            version,
            reason,
            conn,
        } => {
            let client = Client::new(&conn)?;
            let version = pick_version(&client, &id, version).await?;
            let plugin = client
                .post(
                    &version_path(&id, &version, "/disable"),
                    json!({ "reason": reason }),
                )
                .await?;
            client.show(&plugin, |p| {
                println!("disabled {} {}", text(p, "id"), text(p, "version"))
            });
            Ok(())
        }
        PluginCommand::Remove { id, version, conn } => {
            let client = Client::new(&conn)?;
            let version = pick_version(&client, &id, version).await?;
            client.delete(&version_path(&id, &version, "")).await?;
            println!("removed {id} {version}");
            Ok(())
        }
        PluginCommand::Limits {
            id,
            version,
            deadline_ms,
            memory_mib,
            max_input_kib,
            max_output_kib,
            max_log_kib,
            reset,
            conn,
        } => {
            let mut patch = serde_json::Map::new();
            for (name, value) in [
                ("deadline_ms", deadline_ms),
                ("memory_mib", memory_mib),
                ("max_input_kib", max_input_kib),
                ("max_output_kib", max_output_kib),
                ("max_log_kib", max_log_kib),
            ] {
                match value {
                    Some(value) => {
                        patch.insert(name.into(), json!(value));
                    }
                    None if reset => {
                        patch.insert(name.into(), Value::Null);
                    }
                    None => {}
                }
            }
            if patch.is_empty() {
                bail!(
                    "give at least one limit (--deadline-ms, --memory-mib, --max-input-kib, \
                     --max-output-kib, --max-log-kib) or --reset"
                );
            }
            let client = Client::new(&conn)?;
            let version = pick_version(&client, &id, version).await?;
            let plugin = client
                .call(
                    Method::PATCH,
                    &version_path(&id, &version, "/limits"),
                    Some(Value::Object(patch)),
                )
                .await?;
            client.show(&plugin, |p| {
                println!(
                    "{} {} now runs under {}",
                    text(p, "id"),
                    text(p, "version"),
                    limits_text(&p["effective_limits"])
                )
            });
            Ok(())
        }
    }
}

/// `/v1/plugins/{id}/{version}{suffix}`, with the parts percent-encoded.
fn version_path(id: &str, version: &str, suffix: &str) -> String {
    format!(
        "/v1/plugins/{}/{}{suffix}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(version.as_bytes()).collect::<String>()
    )
}

/// The version given, or the only installed version of `id`.
async fn pick_version(
    client: &Client,
    id: &str,
    version: Option<String>,
) -> anyhow::Result<String> {
    if let Some(version) = version {
        return Ok(version);
    }
    let detail = client.get(&plugin_path(id)).await?;
    let versions: Vec<String> = detail["versions"]
        .as_array()
        .map(|vs| vs.iter().map(|v| text(v, "version")).collect())
        .unwrap_or_default();
    match versions.as_slice() {
        [only] => Ok(only.clone()),
        _ => bail!(
            "{id} has several versions ({}): name one",
            versions.join(", ")
        ),
    }
}

fn plugin_path(id: &str) -> String {
    format!(
        "/v1/plugins/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

fn limits_text(limits: &Value) -> String {
    format!(
        "{} ms, {} MiB, input {} KiB, output {} KiB, log {} KiB",
        text(limits, "deadline_ms"),
        text(limits, "memory_mib"),
        text(limits, "max_input_kib"),
        text(limits, "max_output_kib"),
        text(limits, "max_log_kib")
    )
}

/// Uploads a package as the raw request body.
async fn install(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    // Validates the connection settings the same way the other commands do.
    let client = Client::new(conn)?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() > package::MAX_PACKAGE_BYTES {
        bail!(
            "{} is {} bytes, over the {} MiB package limit",
            path.display(),
            bytes.len(),
            package::MAX_PACKAGE_BYTES / (1024 * 1024)
        );
    }
    let content_type = if bytes.starts_with(&[0x1f, 0x8b]) {
        "application/gzip"
    } else {
        "application/x-tar"
    };
    let body = client
        .upload(
            "/v1/plugins",
            content_type,
            bytes,
            std::time::Duration::from_secs(120),
        )
        .await
        .context("the package was not installed")?;
    client.show(&body, |p| {
        println!(
            "installed {} {} ({}), signed by key {}, enabled",
            text(p, "id"),
            text(p, "version"),
            text(p, "kind"),
            text(p, "signer_key_id")
        );
        println!("limits: {}", limits_text(&p["effective_limits"]));
    });
    Ok(())
}

async fn list(conn: &Connection) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let plugins = client.get("/v1/plugins").await?;
    let rows = plugins["data"].as_array().cloned().unwrap_or_default();
    client.show(&Value::Array(rows.clone()), |_| {
        println!(
            "{:<28} {:<10} {:<9} {:<8} {:<16} STATE",
            "ID", "VERSION", "KIND", "ORIGIN", "SIGNER"
        );
        for p in &rows {
            println!(
                "{:<28} {:<10} {:<9} {:<8} {:<16} {}",
                text(p, "id"),
                text(p, "version"),
                text(p, "kind"),
                if p["builtin"] == true {
                    "built-in"
                } else {
                    "installed"
                },
                text(p, "signer_key_id"),
                state_text(p)
            );
        }
    });
    Ok(())
}

fn state_text(plugin: &Value) -> String {
    if plugin["enabled"] == true {
        "enabled".into()
    } else {
        format!("disabled: {}", text(plugin, "disabled_reason"))
    }
}

async fn show(conn: &Connection, id: &str) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let detail = client.get(&plugin_path(id)).await?;
    client.show(&detail, |d| {
        println!("id        {}", text(d, "id"));
        println!("kind      {}", text(d, "kind"));
        println!(
            "origin    {}",
            if d["builtin"] == true {
                "built-in"
            } else {
                "installed"
            }
        );
        println!("current   {}", text(d, "current_version"));
        for v in d["versions"].as_array().into_iter().flatten() {
            println!();
            println!("version   {}", text(v, "version"));
            println!("  state       {}", state_text(v));
            println!("  wit         {}", text(v, "wit_version"));
            println!("  sha256      {}", text(v, "sha256"));
            println!("  signer      {}", text(v, "signer_key_id"));
            println!("  author      {}", text(v, "author"));
            println!("  about       {}", text(v, "description"));
            println!("  limits      {}", limits_text(&v["effective_limits"]));
            println!("  installed   {}", text(v, "installed_at"));
        }
    });
    Ok(())
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn password() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

fn write_new(path: &Path, contents: &str, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

fn keygen(out: &Path, unencrypted: bool, force: bool) -> anyhow::Result<()> {
    let password = password();
    if password.is_none() && !unencrypted {
        bail!("set {PASSWORD_ENV} to encrypt the secret key, or pass --unencrypted");
    }
    let key = signing::generate(if unencrypted {
        None
    } else {
        password.as_deref()
    })?;
    let secret_path = out.with_extension("key");
    let public_path = out.with_extension("pub");
    write_new(&secret_path, &key.secret_key_file, force)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600))?;
    }
    write_new(&public_path, &key.public_key_file, force)?;
    println!("key id {}", key.key_id);
    println!("secret key: {} (keep it private)", secret_path.display());
    println!(
        "public key: {} (give it to ops for their trust store)",
        public_path.display()
    );
    Ok(())
}

fn load_secret_key(path: &Path) -> anyhow::Result<signing::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret key {}", path.display()))?;
    Ok(signing::parse_secret_key(&text, password().as_deref())?)
}

fn sign(manifest_path: &Path, key: &Path) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let parsed = package::parse_manifest(&manifest)
        .with_context(|| format!("{} is not a valid manifest", manifest_path.display()))?;
    let sk = load_secret_key(key)?;
    let comment = format!("gatehouse plugin {} {}", parsed.id, parsed.version);
    let signature = signing::sign(&sk, manifest.as_bytes(), &comment)?;
    let mut sig_path = manifest_path.as_os_str().to_owned();
    sig_path.push(".minisig");
    std::fs::write(&sig_path, signature)?;
    println!("wrote {}", Path::new(&sig_path).display());
    Ok(())
}

async fn verify(package_path: &Path, trusted: &[PathBuf]) -> anyhow::Result<()> {
    let bytes = std::fs::read(package_path)
        .with_context(|| format!("reading {}", package_path.display()))?;
    let trust = MemoryTrustStore::new();
    for path in trusted {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        trust
            .trust(&path.display().to_string(), &text)
            .with_context(|| format!("{} is not a minisign public key", path.display()))?;
    }
    let verified = package::verify(&bytes, &trust).await?;
    println!(
        "OK: {} {} ({}, {}) signed by key {} ({})",
        verified.manifest.id,
        verified.manifest.version,
        verified.manifest.kind,
        verified.wit,
        verified.signer.key_id,
        verified.signer.name
    );
    Ok(())
}

/// The SDK next to this binary's source tree, when built from a Gatehouse checkout.
fn default_sdk() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk-guest");
    path.join("Cargo.toml")
        .is_file()
        .then(|| path.canonicalize().ok())
        .flatten()
}

fn new(kind: PluginKind, name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<()> {
    let sdk = match sdk {
        Some(path) => path
            .canonicalize()
            .with_context(|| format!("the SDK path {} does not exist", path.display()))?,
        None => default_sdk()
            .context("cannot find the gatehouse-plugin SDK; pass --sdk <path to sdk-guest/>")?,
    };
    if !sdk.join("Cargo.toml").is_file() {
        bail!(
            "{} is not the gatehouse-plugin SDK (no Cargo.toml)",
            sdk.display()
        );
    }
    let files = scaffold::files(kind, name, &sdk)?;
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    for (path, contents) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created {} ({kind} plugin)", root.display());
    println!(
        "next: cd {} && gatehouse plugin build --unsigned",
        root.display()
    );
    Ok(())
}

/// `[package]` and `[package.metadata.gatehouse]` of the project's Cargo.toml.
fn project_meta(cargo_toml: &str) -> anyhow::Result<(String, PackageMeta)> {
    let value: toml_value::Table = toml_value::parse(cargo_toml)?;
    let package = value
        .get("package")
        .and_then(|p| p.as_table())
        .context("Cargo.toml has no [package]")?;
    let text = |key: &str| package.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let crate_name = text("name").context("Cargo.toml has no package.name")?;
    let gatehouse = package
        .get("metadata")
        .and_then(|m| m.get("gatehouse"))
        .and_then(|g| g.as_table());
    let meta_text = |key: &str| {
        gatehouse
            .and_then(|g| g.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let capabilities = gatehouse
        .and_then(|g| g.get("capabilities"))
        .and_then(|c| c.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let limits: PluginLimits = match gatehouse.and_then(|g| g.get("limits")) {
        Some(limits) => serde_json::from_value(serde_json::to_value(limits)?)
            .context("invalid [package.metadata.gatehouse.limits]")?,
        None => PluginLimits::default(),
    };
    let authors = package
        .get("authors")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let meta = PackageMeta {
        id: meta_text("id").unwrap_or_else(|| crate_name.clone()),
        version: text("version").context("Cargo.toml has no package.version")?,
        description: text("description").unwrap_or_default(),
        author: authors,
        capabilities,
        limits,
    };
    Ok((crate_name, meta))
}

/// TOML values through the host crate's parser (the CLI needs no TOML dependency of its own).
mod toml_value {
    pub use gatehouse_plugin_host::package::toml::Table;

    pub fn parse(text: &str) -> anyhow::Result<Table> {
        Ok(gatehouse_plugin_host::package::toml::from_str(text)?)
    }
}

fn build(
    path: &Path,
    key: Option<&Path>,
    unsigned: bool,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let cargo_toml_path = path.join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&cargo_toml_path)
        .with_context(|| format!("reading {}", cargo_toml_path.display()))?;
    let (crate_name, meta) = project_meta(&cargo_toml)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(path)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| path.join("target"));
    let wasm_path = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    let wasm = std::fs::read(&wasm_path)
        .with_context(|| format!("reading the built component {}", wasm_path.display()))?;
    let readme = std::fs::read(path.join("README.md")).ok();
    let mut extra: Vec<(&str, &[u8])> = Vec::new();
    if let Some(readme) = &readme {
        extra.push(("README.md", readme));
    }
    let manifest = package::manifest_for(&meta, &wasm, &extra)?;
    let manifest_toml = manifest.to_toml();
    let signature = match (key, unsigned) {
        (Some(key), _) => {
            let sk = load_secret_key(key)?;
            let comment = format!("gatehouse plugin {} {}", manifest.id, manifest.version);
            Some(signing::sign(&sk, manifest_toml.as_bytes(), &comment)?)
        }
        (None, true) => None,
        (None, false) => bail!("pass --key to sign the package (or --unsigned)"),
    };
    let mut files: Vec<(&str, &[u8])> = vec![(package::COMPONENT, &wasm)];
    files.extend(extra.iter().copied());
    let archive = package::write_archive(&manifest_toml, signature.as_deref(), &files)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.join(format!("{}-{}.tar.gz", manifest.id, manifest.version)));
    std::fs::write(&out, archive).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "packaged {} {} ({}, {} bytes of wasm){} -> {}",
        manifest.id,
        manifest.version,
        manifest.kind,
        wasm.len(),
        if signature.is_some() {
            ", signed"
        } else {
            ", UNSIGNED"
        },
        out.display()
    );
    Ok(())
}

/// The component and the manifest's limits of a .wasm or package file (the package is not
/// verified: this is the author's own build).
fn read_plugin(path: &Path) -> anyhow::Result<(Vec<u8>, PluginLimits, Option<package::Manifest>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"\0asm") {
        return Ok((bytes, PluginLimits::default(), None));
    }
    let files = package::read_archive(&bytes)?;
    let wasm = files
        .get(package::COMPONENT)
        .context("the package has no plugin.wasm")?
        .to_vec();
    let manifest = files
        .get(package::MANIFEST)
        .map(|m| package::parse_manifest(&String::from_utf8_lossy(m)))
        .transpose()?;
    let limits = manifest.as_ref().map(|m| m.limits).unwrap_or_default();
    Ok((wasm, limits, manifest))
}

fn test(plugin_path: &Path, input: &Path) -> anyhow::Result<()> {
    let (wasm, limits, _) = read_plugin(plugin_path)?;
    let mut text = String::new();
    if input == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(input)
            .with_context(|| format!("reading {}", input.display()))?;
    }
    let value: serde_json::Value = serde_json::from_str(&text).context("the input is not JSON")?;
    let calls: Vec<Call> = match value {
        serde_json::Value::Array(_) => serde_json::from_value(value),
        single => serde_json::from_value(single).map(|call| vec![call]),
    }
    .context("the input is not a call or a list of calls")?;
    let host = PluginHost::new(HostConfig {
        metering: true,
        fault_limit: 0,
        max_concurrent_calls: 1,
        pool: gatehouse_plugin_host::PoolConfig {
            max_instances: 2,
            ..Default::default()
        },
        ..HostConfig::default()
    })?;
    let mut spec = PluginSpec::new("local", "0.0.0", wasm);
    spec.limits = limits;
    let plugin = host.load_blocking(&spec)?;
    let mut failed = false;
    let mut results = Vec::new();
    for call in calls {
        let name = call.name();
        let result = host.call_blocking(&plugin, call);
        let output = match &result.output {
            Ok(output) => serde_json::to_value(output)?,
            Err(err) => {
                failed = true;
                serde_json::json!({"error": err.code(), "message": err.to_string()})
            }
        };
        results.push(serde_json::json!({
            "call": name,
            "output": output,
            "wall_time_us": result.report.wall_time.as_micros() as u64,
            "peak_memory_bytes": result.report.peak_memory_bytes,
            "instructions": result.report.fuel_consumed,
            "log": result.report.log,
            "log_truncated": result.report.log_truncated,
        }));
    }
    print_json(&serde_json::json!({
        "plugin": plugin_path.display().to_string(),
        "wit": plugin.wit_version().to_string(),
        "limits": plugin.limits(),
        "results": results,
    }))?;
    if failed {
        bail!("at least one call failed");
    }
    Ok(())
}

fn inspect_cmd(path: &Path) -> anyhow::Result<()> {
    let (wasm, _, manifest) = read_plugin(path)?;
    let info = inspect::inspect(&wasm)?;
    let signer = std::fs::read(path)
        .ok()
        .filter(|bytes| !bytes.starts_with(b"\0asm"))
        .and_then(|bytes| package::read_archive(&bytes).ok())
        .and_then(|files| files.get(package::SIGNATURE).map(<[u8]>::to_vec))
        .and_then(|sig| signing::parse_signature(&String::from_utf8_lossy(&sig)).ok())
        .map(|sig| sig.key_id);
    print_json(&serde_json::json!({
        "wit": info.wit.to_string(),
        "kind": info.wit.kind,
        "size": info.size,
        "sha256": package::sha256_hex(&wasm),
        "imports": info.imports,
        "exports": info.exports,
        "manifest": manifest,
        "signer_key_id": signer,
    }))
}
