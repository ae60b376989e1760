//! Plugin packages: a tar (optionally gzip-compressed) holding `manifest.toml`,
//! `manifest.toml.minisig` (a minisign Ed25519 signature of the manifest, which `minisign -V`
//! accepts), `plugin.wasm` and optionally `README.md` and an icon. The manifest pins the
//! SHA-256 of every other file, so the one signature covers the whole package.
//!
//! [`verify`] refuses — with a precise message, before anything is written — unsigned
//! packages, bad signatures, unknown or removed signers, hash mismatches, unsupported kinds or
//! WIT versions, components importing anything beyond the allowed interfaces, oversize files
//! and unsafe paths. The signature is checked before the manifest or the component is parsed.
//! [`check_install`] adds the duplicate check (through the registry) and compiles the component
//! into the host's cache.

use std::{
    collections::BTreeMap,
    io::{Cursor, Read},
    path::Component as PathComponent,
};

use gatehouse_core::{
    Timestamp,
    plugin::{InstalledPlugin, PluginKind, PluginLimits, PluginStore, TrustStore, TrustedKey},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::LoadError,
    host::{Plugin, PluginHost, PluginSpec},
    inspect::{self, WitVersion},
    signing::{self, SigningError},
};

pub use crate::cache::sha256_hex;
/// The TOML parser packages use (re-exported so tools read manifests the same way).
pub use toml;

pub const MANIFEST: &str = "manifest.toml";
pub const SIGNATURE: &str = "manifest.toml.minisig";
pub const COMPONENT: &str = "plugin.wasm";

/// Every file a package may hold, with its size cap.
const FILES: &[(&str, u64)] = &[
    (MANIFEST, 64 * 1024),
    (SIGNATURE, 4 * 1024),
    (COMPONENT, inspect::MAX_COMPONENT_BYTES as u64),
    ("README.md", 256 * 1024),
    ("icon.svg", 256 * 1024),
    ("icon.png", 256 * 1024),
];

/// A package file (compressed or not) larger than this is refused unread.
pub const MAX_PACKAGE_BYTES: usize = 20 * 1024 * 1024;
/// Cap on what decompression may produce (tar headers included).
const MAX_UNPACKED_BYTES: u64 = 24 * 1024 * 1024;

/// Capabilities a package may request.
pub const KNOWN_CAPABILITIES: &[&str] = &["log"];

/// `manifest.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[a-z0-9]` then `[a-z0-9._-]`, 2–64 characters, e.g. `acme.okta`.
    pub id: String,
    /// Semantic version of the package.
    pub version: String,
    pub kind: PluginKind,
    /// WIT API version the component was built against (must match its stamp).
    pub wit_version: String,
    pub description: String,
    pub author: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Limits the author asks for; they can only lower Gatehouse's defaults.
    #[serde(default)]
    pub limits: PluginLimits,
    /// SHA-256 (hex) of every other file in the package.
    pub files: BTreeMap<String, String>,
}

/// Parses (but does not check) a manifest.
pub fn parse_manifest(text: &str) -> Result<Manifest, PackageError> {
    toml::from_str(text).map_err(|err| PackageError::Manifest(err.message().to_owned()))
}

impl Manifest {
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a manifest always serializes")
    }
}

/// Why a package was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the package is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: u64 },
    #[error("not a valid tar or tar.gz package: {0}")]
    Archive(String),
    #[error("the package entry `{path}` is not allowed: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("`{file}` is not a file a package may contain (allowed: {allowed})")]
    UnexpectedFile { file: String, allowed: String },
    #[error("`{file}` appears twice in the package")]
    DuplicateFile { file: String },
    #[error("`{file}` is {size} bytes, over the limit of {limit} bytes")]
    FileTooLarge { file: String, size: u64, limit: u64 },
    #[error("the package has no `{file}`")]
    MissingFile { file: &'static str },
    #[error("the package is unsigned: `manifest.toml.minisig` is missing")]
    Unsigned,
    #[error("the signature is invalid: {0}")]
    Signature(SigningError),
    #[error("the package is signed by key {key_id}, which is not in the trust store")]
    UnknownSigner { key_id: String },
    #[error(
        "the package is signed by key {key_id} ({name}), which was removed from the trust store"
    )]
    RemovedSigner { key_id: String, name: String },
    #[error("the trust store entry for key {key_id} is unusable: {reason}")]
    BadTrustedKey { key_id: String, reason: String },
    #[error("the trust store could not be read: {0}")]
    TrustStore(String),
    #[error("manifest.toml is invalid: {0}")]
    Manifest(String),
    #[error("`{file}` does not match its SHA-256 in the manifest")]
    HashMismatch { file: String },
    #[error("`{file}` is in the package but not listed in the manifest")]
    UnlistedFile { file: String },
    #[error("the manifest lists `{file}`, which is not in the package")]
    ListedFileMissing { file: String },
    #[error("unsupported capability `{0}` (supported: log)")]
    UnsupportedCapability(String),
    #[error("the manifest says WIT {manifest}, but the component is stamped {component}")]
    WitMismatch { manifest: String, component: String },
    #[error("{0}")]
    Component(LoadError),
    #[error("{id} {version} is already installed")]
    Duplicate { id: String, version: String },
    #[error("the plugin registry could not be read: {0}")]
    Registry(String),
}

/// The files of an archive, after the container checks only (nothing inside parsed).
pub struct PackageFiles {
    files: BTreeMap<String, Vec<u8>>,
}

impl PackageFiles {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

/// Reads a tar or tar.gz package: flat, regular files only, known names, size-capped.
pub fn read_archive(bytes: &[u8]) -> Result<PackageFiles, PackageError> {
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(PackageError::TooLarge {
            size: bytes.len(),
            limit: MAX_PACKAGE_BYTES as u64,
        });
    }
    let reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(Cursor::new(bytes)))
    } else {
        Box::new(Cursor::new(bytes))
    };
    let mut archive = tar::Archive::new(reader.take(MAX_UNPACKED_BYTES));
    let entries = archive
        .entries()
        .map_err(|err| PackageError::Archive(err.to_string()))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|err| PackageError::Archive(err.to_string()))?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = safe_name(&raw_path)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() && name.is_none() {
            continue; // `./`
        }
        let Some(name) = name else {
            return Err(PackageError::UnsafePath {
                path: raw_path,
                reason: "empty name",
            });
        };
        if !kind.is_file() {
            return Err(PackageError::UnsafePath {
                path: raw_path,
                reason: "only regular files are allowed (no links, devices or directories)",
            });
        }
        let Some((_, limit)) = FILES.iter().find(|(allowed, _)| *allowed == name) else {
            return Err(PackageError::UnexpectedFile {
                file: name,
                allowed: FILES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            });
        };
        let size = entry
            .header()
            .size()
            .map_err(|err| PackageError::Archive(err.to_string()))?;
        if size > *limit {
            return Err(PackageError::FileTooLarge {
                file: name,
                size,
                limit: *limit,
            });
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(*limit + 1)
            .read_to_end(&mut data)
            .map_err(|err| PackageError::Archive(err.to_string()))?;
        if data.len() as u64 > *limit {
            return Err(PackageError::FileTooLarge {
                file: name,
                size: data.len() as u64,
                limit: *limit,
            });
        }
        if files.insert(name.clone(), data).is_some() {
            return Err(PackageError::DuplicateFile { file: name });
        }
    }
    // Past the end-of-archive marker only zero padding may follow. Reading to the end also
    // makes the gzip decoder check its CRC: no byte of a package goes unchecked.
    let mut rest = archive.into_inner();
    let mut buffer = [0u8; 8192];
    loop {
        let read = rest
            .read(&mut buffer)
            .map_err(|err| PackageError::Archive(err.to_string()))?;
        if read == 0 {
            break;
        }
        if buffer[..read].iter().any(|b| *b != 0) {
            return Err(PackageError::Archive(
                "data after the end of the archive".into(),
            ));
        }
    }
    Ok(PackageFiles { files })
}

/// The file name of a flat entry (`name` or `./name`); `None` for `./` itself. Absolute
/// paths, `..`, nested directories and backslashes are refused.
fn safe_name(path: &str) -> Result<Option<String>, PackageError> {
    let unsafe_path = |reason| PackageError::UnsafePath {
        path: path.chars().take(200).collect(),
        reason,
    };
    if path.contains('\\') || path.contains('\0') {
        return Err(unsafe_path("backslashes and NUL are not allowed"));
    }
    let mut normal = Vec::new();
    for component in std::path::Path::new(path).components() {
        match component {
            PathComponent::Normal(part) => normal.push(part.to_string_lossy().into_owned()),
            PathComponent::CurDir => {}
            PathComponent::ParentDir => return Err(unsafe_path("`..` is not allowed")),
            PathComponent::RootDir | PathComponent::Prefix(_) => {
                return Err(unsafe_path("absolute paths are not allowed"));
            }
        }
    }
    match normal.len() {
        0 => Ok(None),
        1 => Ok(normal.pop()),
        _ => Err(unsafe_path("packages are flat: no directories")),
    }
}

/// A package whose signature, hashes, manifest and component all checked out.
#[derive(Clone, Debug)]
pub struct VerifiedPackage {
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
    /// Hex SHA-256 of `plugin.wasm`.
    pub sha256: String,
    pub signer: TrustedKey,
    pub wit: WitVersion,
    pub readme: Option<String>,
}

impl VerifiedPackage {
    /// The record to store for this package (enabled, installed now).
    pub fn record(&self, installed_at: Timestamp) -> InstalledPlugin {
        InstalledPlugin {
            id: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            kind: self.manifest.kind,
            wit_version: self.manifest.wit_version.clone(),
            sha256: self.sha256.clone(),
            signer_key_id: Some(self.signer.key_id.clone()),
            description: self.manifest.description.clone(),
            author: self.manifest.author.clone(),
            capabilities: self.manifest.capabilities.clone(),
            manifest_limits: self.manifest.limits,
            limits: PluginLimits::default(),
            enabled: true,
            disabled_reason: None,
            installed_at,
            updated_at: installed_at,
            builtin: false,
        }
    }
}

/// Verifies a package against the trust store (see the module docs for the order of checks).
pub async fn verify(bytes: &[u8], trust: &dyn TrustStore) -> Result<VerifiedPackage, PackageError> {
    let files = read_archive(bytes)?;
    let manifest_bytes = files
        .get(MANIFEST)
        .ok_or(PackageError::MissingFile { file: MANIFEST })?;
    let signature_text = files.get(SIGNATURE).ok_or(PackageError::Unsigned)?;
    let signer = verify_signature(manifest_bytes, signature_text, trust).await?;

    // Only now, with the manifest authenticated, parse it.
    let manifest_text = std::str::from_utf8(manifest_bytes)
        .map_err(|_| PackageError::Manifest("not UTF-8".into()))?;
    let manifest = parse_manifest(manifest_text)?;
    check_manifest(&manifest)?;
    for name in files.names() {
        if name == MANIFEST || name == SIGNATURE {
            continue;
        }
        let expected = manifest
            .files
            .get(name)
            .ok_or_else(|| PackageError::UnlistedFile { file: name.into() })?;
        let data = files.get(name).unwrap_or_default();
        if !sha256_hex(data).eq_ignore_ascii_case(expected) {
            return Err(PackageError::HashMismatch { file: name.into() });
        }
    }
    for name in manifest.files.keys() {
        if files.get(name).is_none() {
            return Err(PackageError::ListedFileMissing { file: name.clone() });
        }
    }
    let wasm = files
        .get(COMPONENT)
        .ok_or(PackageError::MissingFile { file: COMPONENT })?
        .to_vec();
    // Checked against the bytes above (every file is listed, every listed hash matched).
    let sha256 = manifest
        .files
        .get(COMPONENT)
        .ok_or(PackageError::UnlistedFile {
            file: COMPONENT.into(),
        })?
        .to_ascii_lowercase();
    let info = inspect::inspect(&wasm).map_err(PackageError::Component)?;
    if info.wit.kind != manifest.kind {
        return Err(PackageError::Component(LoadError::KindMismatch {
            expected: manifest.kind,
            actual: info.wit.kind,
        }));
    }
    if info.wit.version.to_string() != manifest.wit_version {
        return Err(PackageError::WitMismatch {
            manifest: manifest.wit_version.clone(),
            component: info.wit.version.to_string(),
        });
    }
    crate::bindings::Binding::select(&info.wit).map_err(PackageError::Component)?;
    let readme = files
        .get("README.md")
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    Ok(VerifiedPackage {
        sha256,
        manifest,
        wasm,
        signer,
        wit: info.wit,
        readme,
    })
}

async fn verify_signature(
    manifest: &[u8],
    signature_text: &[u8],
    trust: &dyn TrustStore,
) -> Result<TrustedKey, PackageError> {
    let text = std::str::from_utf8(signature_text)
        .map_err(|_| PackageError::Signature(SigningError::SignatureFormat("not UTF-8".into())))?;
    let signature = signing::parse_signature(text).map_err(PackageError::Signature)?;
    let key = trust
        .get_trusted_key(&signature.key_id)
        .await
        .map_err(|err| PackageError::TrustStore(err.to_string()))?
        .ok_or_else(|| PackageError::UnknownSigner {
            key_id: signature.key_id.clone(),
        })?;
    if !key.is_active() {
        return Err(PackageError::RemovedSigner {
            key_id: key.key_id,
            name: key.name,
        });
    }
    let public_key =
        signing::parse_public_key(&key.public_key).map_err(|err| PackageError::BadTrustedKey {
            key_id: key.key_id.clone(),
            reason: err.to_string(),
        })?;
    signing::verify(&public_key, &signature, manifest).map_err(PackageError::Signature)?;
    Ok(key)
}

fn check_manifest(manifest: &Manifest) -> Result<(), PackageError> {
    let invalid = |message: String| Err(PackageError::Manifest(message));
    let id = &manifest.id;
    let id_ok = (2..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !id_ok {
        return invalid(format!(
            "`id` must be 2-64 characters of a-z, 0-9, `.`, `_`, `-`, starting with a letter or \
             digit (got `{}`)",
            id.chars().take(64).collect::<String>()
        ));
    }
    if id.starts_with("gatehouse.") {
        return invalid("the `gatehouse.` id prefix is reserved for built-in plugins".into());
    }
    if semver::Version::parse(&manifest.version).is_err() {
        return invalid(format!(
            "`version` `{}` is not a semantic version",
            manifest.version
        ));
    }
    if semver::Version::parse(&manifest.wit_version).is_err() {
        return invalid(format!(
            "`wit_version` `{}` is not a semantic version",
            manifest.wit_version
        ));
    }
    if manifest.description.len() > 1000 || manifest.author.len() > 200 {
        return invalid("`description` (1000) or `author` (200) too long".into());
    }
    for capability in &manifest.capabilities {
        if !KNOWN_CAPABILITIES.contains(&capability.as_str()) {
            return Err(PackageError::UnsupportedCapability(capability.clone()));
        }
    }
    if !manifest.files.contains_key(COMPONENT) {
        return invalid("`files` must list plugin.wasm".into());
    }
    for name in manifest.files.keys() {
        if name == MANIFEST || name == SIGNATURE {
            return invalid(format!("`files` must not list `{name}`"));
        }
    }
    Ok(())
}

/// [`verify`], then the duplicate check through the registry, then compile into the host's
/// cache. On success the server stores [`VerifiedPackage::record`] and the wasm; on any error
/// nothing was written.
pub async fn check_install(
    bytes: &[u8],
    trust: &dyn TrustStore,
    registry: &dyn PluginStore,
    host: &PluginHost,
) -> Result<(VerifiedPackage, Plugin), PackageError> {
    let package = verify(bytes, trust).await?;
    let existing = registry
        .get_plugin(&package.manifest.id, &package.manifest.version)
        .await
        .map_err(|err| PackageError::Registry(err.to_string()))?;
    if existing.is_some() {
        return Err(PackageError::Duplicate {
            id: package.manifest.id.clone(),
            version: package.manifest.version.clone(),
        });
    }
    // `verify` validated these bytes: the load need not do it again before compiling.
    let mut spec = PluginSpec::new(
        package.manifest.id.clone(),
        package.manifest.version.clone(),
        package.wasm.clone(),
    )
    .validated(&package.sha256);
    spec.expected_kind = Some(package.manifest.kind);
    spec.expected_sha256 = Some(package.sha256.clone());
    spec.limits = package.manifest.limits;
    let plugin = host.load(spec).await.map_err(PackageError::Component)?;
    Ok((package, plugin))
}

/// Orders package versions by semantic-version precedence; text that is not a semantic version
/// sorts before every version (and by text among itself), so a malformed stored value never
/// wins "newest".
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp_precedence(&b).then_with(|| a.cmp(&b)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
        (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Metadata for [`build`].
#[derive(Clone, Debug)]
pub struct PackageMeta {
    pub id: String,
    pub version: String,
    pub description: String,
    pub author: String,
    pub capabilities: Vec<String>,
    pub limits: PluginLimits,
}

/// Builds the manifest for a component and optional extra files (README, icon), reading kind
/// and WIT version from the component itself.
pub fn manifest_for(
    meta: &PackageMeta,
    wasm: &[u8],
    extra: &[(&str, &[u8])],
) -> Result<Manifest, PackageError> {
    let info = inspect::inspect(wasm).map_err(PackageError::Component)?;
    let mut files = BTreeMap::new();
    files.insert(COMPONENT.to_owned(), sha256_hex(wasm));
    for (name, data) in extra {
        files.insert((*name).to_owned(), sha256_hex(data));
    }
    let manifest = Manifest {
        id: meta.id.clone(),
        version: meta.version.clone(),
        kind: info.wit.kind,
        wit_version: info.wit.version.to_string(),
        description: meta.description.clone(),
        author: meta.author.clone(),
        capabilities: meta.capabilities.clone(),
        limits: meta.limits,
        files,
    };
    check_manifest(&manifest)?;
    Ok(manifest)
}

/// Writes a `.tar.gz` package from a manifest (as signed), its signature (`None`: an unsigned
/// package, which installs refuse) and the files it lists.
pub fn write_archive(
    manifest_toml: &str,
    signature: Option<&str>,
    files: &[(&str, &[u8])],
) -> Result<Vec<u8>, PackageError> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    let mut append = |name: &str, data: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append_data(&mut header, name, data)
    };
    let io = |err: std::io::Error| PackageError::Archive(err.to_string());
    append(MANIFEST, manifest_toml.as_bytes()).map_err(io)?;
    if let Some(signature) = signature {
        append(SIGNATURE, signature.as_bytes()).map_err(io)?;
    }
    for (name, data) in files {
        append(name, data).map_err(io)?;
    }
    builder
        .into_inner()
        .and_then(|encoder| encoder.finish())
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(
            safe_name("plugin.wasm").unwrap().as_deref(),
            Some("plugin.wasm")
        );
        assert_eq!(
            safe_name("./plugin.wasm").unwrap().as_deref(),
            Some("plugin.wasm")
        );
        assert_eq!(safe_name("./").unwrap(), None);
        for bad in [
            "../plugin.wasm",
            "/etc/passwd",
            "a/plugin.wasm",
            "a\\b",
            "x/../../y",
        ] {
            assert!(
                matches!(safe_name(bad), Err(PackageError::UnsafePath { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_byte_of_an_archive_is_checked() {
        let good = write_archive("id = \"x\"\n", Some("sig"), &[(COMPONENT, b"\0asm")]).unwrap();
        let files = read_archive(&good).unwrap();
        assert_eq!(files.get(COMPONENT), Some(b"\0asm".as_slice()));
        // The gzip trailer (CRC-32, then length) is verified.
        for back in [5, 8] {
            let mut bad = good.clone();
            let at = bad.len() - back;
            bad[at] ^= 0x01;
            assert!(
                matches!(read_archive(&bad), Err(PackageError::Archive(_))),
                "a changed trailer byte {back} from the end was accepted"
            );
        }
        // Uncompressed: anything but zeros after the end marker is refused.
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(good.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        read_archive(&tar).unwrap();
        let mut trailing = tar.clone();
        trailing.extend_from_slice(b"hidden");
        assert!(matches!(
            read_archive(&trailing),
            Err(PackageError::Archive(message)) if message.contains("after the end")
        ));
    }

    #[test]
    fn versions_order_by_precedence() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_versions("1.0.0-rc.1", "1.0.0"), Less);
        assert_eq!(compare_versions("1.0.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("junk", "0.0.1"), Less);
        let mut versions = vec!["2.0.0", "10.0.0", "1.0.0-alpha", "x"];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(versions, ["x", "1.0.0-alpha", "2.0.0", "10.0.0"]);
    }

    #[test]
    fn manifest_rules() {
        let mut manifest = Manifest {
            id: "acme.okta".into(),
            version: "1.0.0".into(),
            kind: PluginKind::Provider,
            wit_version: "0.1.0".into(),
            description: "Okta".into(),
            author: "Acme".into(),
            capabilities: vec!["log".into()],
            limits: PluginLimits::default(),
            files: [(COMPONENT.to_owned(), "00".to_owned())].into(),
        };
        check_manifest(&manifest).unwrap();
        let toml = manifest.to_toml();
        assert_eq!(toml::from_str::<Manifest>(&toml).unwrap(), manifest);
        manifest.id = "gatehouse.google".into();
        assert!(check_manifest(&manifest).is_err());
        manifest.id = "../x".into();
        assert!(check_manifest(&manifest).is_err());
        manifest.id = "acme.okta".into();
        manifest.version = "1.0".into();
        assert!(check_manifest(&manifest).is_err());
        manifest.version = "1.0.0".into();
        manifest.capabilities = vec!["network".into()];
        assert!(matches!(
            check_manifest(&manifest),
            Err(PackageError::UnsupportedCapability(_))
        ));
        assert!(toml::from_str::<Manifest>(&format!("{toml}\nextra = 1\n")).is_err());
    }
}
