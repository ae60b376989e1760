//! `gatehouse jwks …`: JWKS bundles for apps that verify tokens offline — export one from an IdP,
//! and verify a token against one (for ops debugging: "why is this token refused?").

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow, bail};
use gatehouse_config::ZitadelTarget;
use gatehouse_jwks::{Alg, JwksBundle, JwksCache, KeySetLimits, Verifier, VerifyOptions};
use serde_json::Value;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Fetch the IdP's signing keys into a bundle file for app SDKs that cannot reach the IdP.
    ///
    /// The source is tried as an issuer first (OpenID discovery finds the JWKS), else as a JWKS
    /// URL. Re-export after the IdP rotates its keys.
    Export {
        /// Issuer or JWKS URL (default: this server's IdP — the embedded emulator at
        /// <public_url>/zitadel, or zitadel_url when a real ZITADEL is configured).
        #[arg(long, value_name = "ISSUER_OR_JWKS_URL")]
        issuer: Option<String>,
        /// The bundle file to write (replaced atomically; nothing is written on error).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify a token offline against a bundle and print its claims (JSON on stdout).
    ///
    /// Applies the same rules as the server: algorithm allowlist, key type, signature, issuer,
    /// audience, expiry (30 s leeway). Refusals name the rule and exit non-zero.
    Verify {
        /// A bundle written by `gatehouse jwks export`.
        #[arg(long, value_name = "FILE")]
        bundle: PathBuf,
        /// Expected issuer (default: the issuer recorded in the bundle).
        #[arg(long)]
        issuer: Option<String>,
        /// An accepted audience (repeatable; the token must name at least one).
        #[arg(long = "audience", value_name = "AUD", required = true)]
        audiences: Vec<String>,
        /// An accepted algorithm (repeatable; default RS256, ES256, EdDSA).
        #[arg(long = "alg", value_name = "ALG")]
        algorithms: Vec<String>,
        /// The token (a leading `Bearer ` is ignored). `-` or absent: read it from stdin, which
        /// keeps it out of shell history and `ps`.
        token: Option<String>,
    },
}

pub async fn run(config: Option<&Path>, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Export { issuer, out } => export(config, issuer, &out).await,
        Command::Verify {
            bundle,
            issuer,
            audiences,
            algorithms,
            token,
        } => verify(&bundle, issuer, audiences, &algorithms, token).await,
    }
}

async fn export(config: Option<&Path>, issuer: Option<String>, out: &Path) -> anyhow::Result<()> {
    let source = match issuer {
        Some(issuer) => issuer,
        None => default_issuer(config)?,
    };
    // gatehouse-jwks errors already include their cause in their text, so they are shown with
    // `{e}` rather than chained (which would print the cause twice).
    let bundle = gatehouse_jwks::export(&source, out)
        .await
        .map_err(|e| anyhow!("cannot export the JWKS of `{source}`: {e}"))?;
    let kids: Vec<&str> = bundle
        .jwks
        .keys
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or("(no kid)"))
        .collect();
    println!(
        "wrote {}: {} key(s) [{}] of issuer {} from {}, fetched {}",
        out.display(),
        kids.len(),
        kids.join(", "),
        bundle.issuer.as_deref().unwrap_or("(none recorded)"),
        bundle.jwks_uri.as_deref().unwrap_or("?"),
        rfc3339(&bundle),
    );
    Ok(())
}

/// The IdP this server's configuration points at: the embedded emulator is mounted at
/// `<public_url>/zitadel`; a real ZITADEL's issuer is its base URL.
fn default_issuer(config: Option<&Path>) -> anyhow::Result<String> {
    let settings = crate::commands::settings(config)
        .context("no --issuer given; the default comes from the configuration")?;
    Ok(match &settings.zitadel {
        ZitadelTarget::Embedded => format!(
            "{}/zitadel",
            settings.public_url.as_str().trim_end_matches('/')
        ),
        ZitadelTarget::External { url, .. } => url.as_str().trim_end_matches('/').to_owned(),
    })
}

async fn verify(
    bundle_path: &Path,
    issuer: Option<String>,
    audiences: Vec<String>,
    algorithms: &[String],
    token: Option<String>,
) -> anyhow::Result<()> {
    let bundle =
        JwksBundle::read(bundle_path, &KeySetLimits::default()).map_err(|e| anyhow!("{e}"))?;
    let issuer = issuer.or_else(|| bundle.issuer.clone()).ok_or_else(|| {
        anyhow!(
            "the bundle records no issuer (it was exported from a bare JWKS URL): pass --issuer"
        )
    })?;
    let mut options = VerifyOptions::new(issuer, audiences);
    if !algorithms.is_empty() {
        let algs = algorithms
            .iter()
            .map(|a| a.parse::<Alg>())
            .collect::<Result<Vec<_>, _>>()?;
        options = options.with_algorithms(&algs);
    }
    let keys = JwksCache::from_bundle(&bundle).map_err(|e| anyhow!("{e}"))?;
    let verifier = Verifier::new(options, keys).map_err(|e| anyhow!("{e}"))?;

    let token = read_token(token)?;
    let verified = verifier
        .verify(&token)
        .await
        .map_err(|e| anyhow!("token refused ({}): {e}", e.code()))?;
    eprintln!(
        "valid {} token (kid {}), subject {}, expires at {} (unix); bundle keys fetched {}",
        verified.alg,
        verified.kid.as_deref().unwrap_or("none"),
        verified.claims.sub.as_deref().unwrap_or("(none)"),
        verified.claims.exp,
        rfc3339(&bundle),
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(verified.claims.raw))?
    );
    Ok(())
}

/// The token from the argument, or stdin when it is absent or `-`.
fn read_token(arg: Option<String>) -> anyhow::Result<String> {
    let text = match arg.filter(|t| t != "-") {
        Some(token) => token,
        None => {
            let mut buf = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut buf)
                .context("cannot read the token from stdin")?;
            buf
        }
    };
    let text = text.trim();
    let token = match text.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => text[7..].trim_start(),
        _ => text,
    };
    if token.is_empty() {
        bail!("no token given (pass it as an argument or on stdin)");
    }
    Ok(token.to_owned())
}

/// The bundle's fetch time as RFC 3339 (its serialised form).
fn rfc3339(bundle: &JwksBundle) -> String {
    serde_json::to_value(bundle)
        .ok()
        .and_then(|v| v["fetched_at"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
