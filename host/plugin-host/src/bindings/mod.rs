//! Host bindings, one module per frozen WIT version (the Zed model): `v0_1` is generated from
//! `wit/since_v0.1.0/`. A breaking WIT change adds `wit/since_vX.Y.Z/` and a module here whose
//! types convert into the version-independent [`crate::types`]; `latest` names the newest.
//! Old modules stay, so plugins built against them keep loading.

pub(crate) mod v0_1;

pub(crate) use v0_1 as latest;

use gatehouse_core::plugin::PluginKind;
use wasmtime::{
    Store,
    component::{Component, Linker},
};

use crate::{
    call::{Output, Request},
    error::{LoadError, PluginFailure},
    inspect::{WitVersion, compatible},
    state::CallState,
};

/// The WIT versions with bindings, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    V0_1,
}

pub(crate) const SUPPORTED: &[Binding] = &[Binding::V0_1];

/// The newest WIT version (what the SDK in this repository stamps).
pub(crate) fn latest_version() -> semver::Version {
    latest::VERSION
}

impl Binding {
    pub(crate) fn version(self) -> semver::Version {
        match self {
            Self::V0_1 => v0_1::VERSION,
        }
    }

    /// The bindings for a stamp: the newest compatible version not newer than it. A stamp
    /// newer than every binding on its track was built against an API this host does not
    /// have, and is refused.
    pub(crate) fn select(wit: &WitVersion) -> Result<Self, LoadError> {
        let newest_on_track = SUPPORTED
            .iter()
            .copied()
            .filter(|b| compatible(&b.version(), &wit.version))
            .max_by(|a, b| a.version().cmp(&b.version()));
        match newest_on_track {
            Some(binding) if wit.version <= binding.version() => SUPPORTED
                .iter()
                .copied()
                .filter(|b| compatible(&b.version(), &wit.version) && b.version() <= wit.version)
                .max_by(|a, b| a.version().cmp(&b.version()))
                .ok_or_else(|| unsupported(wit)),
            _ => Err(unsupported(wit)),
        }
    }
}

fn unsupported(wit: &WitVersion) -> LoadError {
    LoadError::UnsupportedWitVersion {
        kind: wit.kind,
        version: wit.version.to_string(),
        supported: SUPPORTED
            .iter()
            .map(|b| b.version().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A component linked and ready to instantiate, per version and kind.
pub(crate) enum Pre {
    V0_1(v0_1::Pre),
}

impl Pre {
    pub(crate) fn new(
        binding: Binding,
        kind: PluginKind,
        linker: &Linker<CallState>,
        component: &Component,
    ) -> Result<Self, LoadError> {
        match binding {
            Binding::V0_1 => v0_1::Pre::new(kind, linker, component).map(Self::V0_1),
        }
    }

    /// Instantiates into `store` and makes the call. The outer error is a trap or an
    /// interface violation; the inner one is the plugin's own.
    pub(crate) fn call(
        &self,
        store: &mut Store<CallState>,
        request: &Request,
    ) -> wasmtime::Result<Result<Output, PluginFailure>> {
        match self {
            Self::V0_1(pre) => pre.call(store, request),
        }
    }
}

/// Adds every version's host imports (today: the `log` interface) to the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    v0_1::add_to_linker(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit(version: &str) -> WitVersion {
        WitVersion {
            kind: PluginKind::Webhook,
            version: semver::Version::parse(version).unwrap(),
        }
    }

    #[test]
    fn selects_compatible_bindings_only() {
        assert_eq!(Binding::select(&wit("0.1.0")).unwrap(), Binding::V0_1);
        for refused in ["0.1.1", "0.2.0", "1.0.0", "0.0.9"] {
            assert!(
                matches!(
                    Binding::select(&wit(refused)),
                    Err(LoadError::UnsupportedWitVersion { .. })
                ),
                "{refused}"
            );
        }
    }
}
