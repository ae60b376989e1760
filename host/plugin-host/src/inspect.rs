//! Reads a component without instantiating it: validates the whole binary first (wasmtime must
//! never see an unvalidated one), then reads the `gatehouse:wit-version` stamp, the top-level
//! imports and exports, and checks the imports against what plugins may use. The host's load
//! path reads first and validates only before compiling: a cached artifact was compiled from
//! bytes with the same SHA-256, validated then.

use std::fmt;

use gatehouse_core::plugin::PluginKind;
use serde::Serialize;
use wasmparser::{Encoding, Parser, Payload, Validator};

use crate::error::LoadError;

/// The custom section the SDK's export macros write: UTF-8 `gatehouse:<kind>@<semver>`.
pub const WIT_VERSION_SECTION: &str = "gatehouse:wit-version";

/// Components larger than this are refused before parsing.
pub const MAX_COMPONENT_BYTES: usize = 16 * 1024 * 1024;

/// The WIT API version a component was built against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WitVersion {
    pub kind: PluginKind,
    pub version: semver::Version,
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gatehouse:{}@{}", self.kind, self.version)
    }
}

impl WitVersion {
    /// Parses `gatehouse:<kind>@<semver>`.
    pub fn parse(text: &str) -> Result<Self, LoadError> {
        let bad =
            || LoadError::BadStamp(format!("`{}`", text.chars().take(64).collect::<String>()));
        let rest = text.strip_prefix("gatehouse:").ok_or_else(bad)?;
        let (kind, version) = rest.split_once('@').ok_or_else(bad)?;
        let kind = kind.parse::<PluginKind>().map_err(|_| bad())?;
        let version = semver::Version::parse(version).map_err(|_| bad())?;
        Ok(Self { kind, version })
    }

    /// The interface a component of this kind must export, e.g.
    /// `gatehouse:webhook/transformer@0.1.0`.
    pub fn export_name(&self) -> String {
        let interface = match self.kind {
            PluginKind::Provider => "provider",
            PluginKind::Widget => "widget",
            PluginKind::Webhook => "transformer",
        };
        format!("gatehouse:{}/{interface}@{}", self.kind, self.version)
    }
}

/// The WIT versions this host has bindings for, per kind (every kind shares one list today).
/// A component stamped `X.Y.Z` loads with the newest bindings whose version is ≤ it and
/// semver-compatible (same major, or same minor while the major is 0).
pub fn supported_wit_versions() -> Vec<semver::Version> {
    crate::bindings::SUPPORTED
        .iter()
        .map(|v| v.version())
        .collect()
}

/// The newest WIT version this host supports (what the SDK of the same release stamps).
pub fn latest_wit_version() -> semver::Version {
    crate::bindings::latest_version()
}

/// What [`inspect`] learned.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentInfo {
    pub wit: WitVersion,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub size: usize,
}

/// Validates `wasm`, reads its stamp and its imports and exports, and checks that every import
/// is allowed and the kind's interface is exported.
pub fn inspect(wasm: &[u8]) -> Result<ComponentInfo, LoadError> {
    check_header(wasm)?;
    validate(wasm)?;
    interface(wasm)
}

/// The whole binary checked by wasmparser's validator, as wasmtime requires before compiling.
pub(crate) fn validate(wasm: &[u8]) -> Result<(), LoadError> {
    Validator::new()
        .validate_all(wasm)
        .map(drop)
        .map_err(|err| LoadError::Invalid(err.to_string()))
}

/// [`inspect`] without the validation: the size, the encoding, the stamp, imports and exports.
/// Parsing an unvalidated binary is safe (errors are returned); compiling one is not.
pub(crate) fn read_interface(wasm: &[u8]) -> Result<ComponentInfo, LoadError> {
    check_header(wasm)?;
    interface(wasm)
}

fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
    if wasm.len() > MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge {
            size: wasm.len(),
            limit: MAX_COMPONENT_BYTES,
        });
    }
    match Parser::new(0).parse_all(wasm).next() {
        Some(Ok(Payload::Version {
            encoding: Encoding::Component,
            ..
        })) => {}
        Some(Ok(Payload::Version {
            encoding: Encoding::Module,
            ..
        })) => return Err(LoadError::CoreModule),
        _ => return Err(LoadError::NotWasm),
    }
    Ok(())
}

/// The stamp, imports and exports of a binary whose header [`check_header`] accepted.
fn interface(wasm: &[u8]) -> Result<ComponentInfo, LoadError> {
    let mut depth = 0usize;
    let mut stamp: Option<&[u8]> = None;
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|err| LoadError::Invalid(err.to_string()))?;
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|err| LoadError::Invalid(err.to_string()))?;
                    imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|err| LoadError::Invalid(err.to_string()))?;
                    exports.push(export.name.name.to_owned());
                }
            }
            // The stamp lives in the embedded core module, so it is found at any depth.
            Payload::CustomSection(reader) if reader.name() == WIT_VERSION_SECTION => {
                let data = reader.data();
                match stamp {
                    Some(previous) if previous != data => {
                        return Err(LoadError::BadStamp("several different stamps".to_owned()));
                    }
                    _ => stamp = Some(data),
                }
            }
            _ => {}
        }
    }
    let stamp = stamp.ok_or(LoadError::MissingStamp)?;
    let text =
        std::str::from_utf8(stamp).map_err(|_| LoadError::BadStamp("not UTF-8".to_owned()))?;
    let wit = WitVersion::parse(text)?;
    for import in &imports {
        if !import_allowed(import) {
            return Err(LoadError::DisallowedImport {
                import: import.clone(),
            });
        }
    }
    // An unsupported version says so, rather than "missing export" of a name it never had.
    crate::bindings::Binding::select(&wit)?;
    let export = wit.export_name();
    if !exports.contains(&export) {
        return Err(LoadError::MissingExport { export });
    }
    Ok(ComponentInfo {
        wit,
        imports,
        exports,
        size: wasm.len(),
    })
}

/// Plugins may import the Gatehouse types and log, and the WASI p2 interfaces a std guest
/// needs (streams, clocks, randomness, CLI stdio/environment/exit) — never the filesystem or
/// sockets.
pub fn import_allowed(name: &str) -> bool {
    let Some((interface, version)) = name.split_once('@') else {
        return false;
    };
    let Ok(version) = semver::Version::parse(version) else {
        return false;
    };
    let Some((package, _)) = interface.split_once('/') else {
        return false;
    };
    match package {
        "gatehouse:types" => {
            matches!(interface, "gatehouse:types/types" | "gatehouse:types/log")
                && crate::bindings::SUPPORTED
                    .iter()
                    .any(|v| compatible(&v.version(), &version))
        }
        "wasi:io" | "wasi:clocks" | "wasi:random" | "wasi:cli" => {
            version.major == 0 && version.minor == 2 && version.pre.is_empty()
        }
        _ => false,
    }
}

/// Semver compatibility as the component model links: same major, and same minor while the
/// major is 0.
pub fn compatible(host: &semver::Version, guest: &semver::Version) -> bool {
    host.major == guest.major && (host.major != 0 || host.minor == guest.minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_parse() {
        let v = WitVersion::parse("gatehouse:webhook@0.1.0").unwrap();
        assert_eq!(v.kind, PluginKind::Webhook);
        assert_eq!(v.export_name(), "gatehouse:webhook/transformer@0.1.0");
        assert_eq!(v.to_string(), "gatehouse:webhook@0.1.0");
        for bad in [
            "webhook@0.1.0",
            "gatehouse:theme@0.1.0",
            "gatehouse:widget@x",
            "gatehouse:widget",
        ] {
            assert!(
                matches!(WitVersion::parse(bad), Err(LoadError::BadStamp(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn import_allowlist() {
        for ok in [
            "gatehouse:types/log@0.1.0",
            "gatehouse:types/types@0.1.3",
            "wasi:io/streams@0.2.6",
            "wasi:cli/environment@0.2.0",
            "wasi:clocks/monotonic-clock@0.2.12",
            "wasi:random/random@0.2.3",
        ] {
            assert!(import_allowed(ok), "{ok}");
        }
        for refused in [
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "gatehouse:types/log@0.2.0",
            "gatehouse:types/secrets@0.1.0",
            "wasi:io/streams@0.3.0",
            "env",
            "wasi:io/streams",
        ] {
            assert!(!import_allowed(refused), "{refused}");
        }
    }

    #[test]
    fn rejects_non_components() {
        assert!(matches!(
            inspect(b"\x7fELF\x02\x01"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(
            inspect(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(matches!(inspect(b""), Err(LoadError::NotWasm)));
        let truncated = b"\0asm\x0d\0\x01\0\x01\xff";
        assert!(matches!(inspect(truncated), Err(LoadError::Invalid(_))));
    }
}
