//! Compiled-code cache: each component is compiled once (at install or first load) into
//! `<dir>/<sha256 of the wasm>-<engine compatibility hash>.cwasm` and afterwards loaded with
//! `Component::deserialize_file` (an mmap: ~0.2 ms instead of ~70 ms compiling).
//!
//! Only this module writes the directory (created 0700), and only from bytes wasmtime itself
//! produced; packages can never supply precompiled code.

use std::{
    collections::{BTreeMap, HashSet},
    fs,
    hash::{Hash, Hasher},
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, component::Component};

use crate::error::LoadError;

pub(crate) struct Cache {
    dir: Option<PathBuf>,
    compat: String,
}

impl Cache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> std::io::Result<Self> {
        if let Some(dir) = &dir {
            create_private_dir(dir)?;
        }
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat = hex::encode(&hasher.0.finalize()[..8]);
        Ok(Self { dir, compat })
    }

    pub(crate) fn path(&self, wasm_sha256: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{wasm_sha256}-{}.cwasm", self.compat)))
    }

    /// Loads the compiled component for `wasm` (whose hex SHA-256 is `sha256`), compiling and
    /// caching it first if needed; `validate` runs before any compilation (a cached artifact
    /// was compiled from the same bytes, validated then). Returns whether the cache was hit.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
        validate: impl FnOnce() -> Result<(), LoadError>,
    ) -> Result<(Component, bool), LoadError> {
        let Some(path) = self.path(sha256) else {
            validate()?;
            let component = Component::new(engine, wasm)
                .map_err(|err| LoadError::Compile(format!("{err:#}")))?;
            return Ok((component, false));
        };
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok((component, true)),
                Err(err) => {
                    // Stale or damaged (e.g. a disk error): recompile over it.
                    tracing::warn!(path = %path.display(), error = %err, "discarding a cached plugin artifact");
                }
            }
        }
        let shared_key = is_builtin(sha256).then(|| format!("{sha256}-{}", self.compat));
        let shared = shared_key
            .as_ref()
            .and_then(|key| lock(&SHARED_BUILTINS).get(key).cloned());
        let compiled: Arc<[u8]> = match shared {
            // Compiled by this process, after validation.
            Some(compiled) => compiled,
            None => {
                validate()?;
                let compiled: Arc<[u8]> = engine
                    .precompile_component(wasm)
                    .map_err(|err| LoadError::Compile(format!("{err:#}")))?
                    .into();
                if let Some(key) = shared_key {
                    lock(&SHARED_BUILTINS).insert(key, compiled.clone());
                }
                compiled
            }
        };
        write_atomically(&path, &compiled)?;
        let component = deserialize(engine, &path).map_err(LoadError::Compile)?;
        Ok((component, false))
    }
}

/// The built-ins compiled by this process, by `<wasm sha256>-<engine compatibility hash>`: a
/// process running several hosts (tests, embedders) compiles each built-in once per engine
/// configuration, not once per host. Only wasmtime's own output for the shipped built-ins is
/// kept (a few MiB at most), and it is only ever written into a host's private cache
/// directory, then loaded from there like any cached artifact.
static SHARED_BUILTINS: Mutex<BTreeMap<String, Arc<[u8]>>> = Mutex::new(BTreeMap::new());

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_builtin(sha256: &str) -> bool {
    static HASHES: OnceLock<HashSet<String>> = OnceLock::new();
    HASHES
        .get_or_init(|| {
            crate::builtin::builtin_plugins()
                .iter()
                .map(|b| b.sha256())
                .collect()
        })
        .contains(sha256)
}

fn deserialize(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: `deserialize_file` runs native code it trusts to be wasmtime's own output. Every
    // file in the cache directory was produced by `precompile_component` of an engine with
    // the same compatibility hash (part of the file name) and written atomically by this
    // module into a directory only the Gatehouse user can write.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize_file(engine, path) };
    component.map_err(|err| format!("{err:#}"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per write: two hosts of one process may fill the same directory at once.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    {
        let mut file = fs::File::create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Feeds `Hash` output into SHA-256, so the cache key is stable across processes (std's
/// `DefaultHasher` is randomly keyed).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
