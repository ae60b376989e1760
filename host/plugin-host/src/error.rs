//! Typed errors: loading a component, calling a plugin, creating the host.

use gatehouse_core::plugin::PluginKind;
use serde::{Deserialize, Serialize};

use crate::types::FieldError;

/// What a plugin reported through its own `plugin-error` (it ran fine and said no).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PluginFailure {
    #[error("invalid input: {}", describe_fields(.errors))]
    Invalid { errors: Vec<FieldError> },
    #[error("unsupported: {message}")]
    Unsupported { message: String },
    #[error("{message}")]
    Internal { message: String },
}

fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin reported an error itself. Not a fault: does not count toward auto-disable.
    #[error("plugin error: {0}")]
    Plugin(PluginFailure),
    /// The call ran past its deadline and was interrupted.
    #[error("plugin exceeded its deadline of {deadline_ms} ms")]
    Deadline { deadline_ms: u64 },
    /// The plugin tried to grow its memory past its cap.
    #[error("plugin exceeded its memory cap of {limit_bytes} bytes")]
    Memory { limit_bytes: u64 },
    /// The plugin trapped (panic, unreachable, stack overflow, exit, a host call it misused).
    #[error("plugin trapped: {message}")]
    Trap { message: String },
    /// The plugin returned something the host refuses: values the interface cannot carry
    /// (invalid UTF-8…), malformed JSON, forbidden headers or paths, oversize output.
    #[error("plugin returned invalid output: {message}")]
    BadOutput { message: String },
    /// The input is larger than the plugin's input cap; the plugin was not called.
    #[error("input is {size} bytes, over the plugin's limit of {limit} bytes")]
    InputTooLarge { size: usize, limit: usize },
    /// The plugin is disabled (by an admin, or automatically after repeated faults).
    #[error("plugin {plugin} is disabled: {reason}")]
    Disabled { plugin: String, reason: String },
    /// The call does not exist for this plugin's kind.
    #[error("plugin {plugin} is a {actual} plugin; this call needs a {expected} plugin")]
    WrongKind {
        plugin: String,
        expected: PluginKind,
        actual: PluginKind,
    },
    /// Instantiation failed for a reason that is not the plugin's fault (e.g. the pool is
    /// exhausted), or the call failed in the host.
    #[error("plugin host error: {0}")]
    Host(String),
}

impl PluginError {
    /// Faults count toward automatic disabling: the plugin misbehaved, not its input.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Self::Deadline { .. }
                | Self::Memory { .. }
                | Self::Trap { .. }
                | Self::BadOutput { .. }
        )
    }

    /// A short machine code, for metrics and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Plugin(_) => "plugin_error",
            Self::Deadline { .. } => "plugin_deadline",
            Self::Memory { .. } => "plugin_memory",
            Self::Trap { .. } => "plugin_trap",
            Self::BadOutput { .. } => "plugin_bad_output",
            Self::InputTooLarge { .. } => "plugin_input_too_large",
            Self::Disabled { .. } => "plugin_disabled",
            Self::WrongKind { .. } => "plugin_wrong_kind",
            Self::Host(_) => "plugin_host_error",
        }
    }

    pub(crate) fn bad_output(message: impl Into<String>) -> Self {
        Self::BadOutput {
            message: message.into(),
        }
    }
}

/// Why a component could not be loaded. Every message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "not a WebAssembly component (precompiled or native code is never accepted; ship the \
         .wasm built for wasm32-wasip2)"
    )]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build for the wasm32-wasip2 target"
    )]
    CoreModule,
    #[error("the component is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "the component carries no `gatehouse:wit-version` section: build it with the \
         gatehouse-plugin SDK's export macro"
    )]
    MissingStamp,
    #[error("invalid `gatehouse:wit-version` section: {0}")]
    BadStamp(String),
    #[error(
        "WIT version {kind}@{version} is not supported by this Gatehouse (supported: {supported})"
    )]
    UnsupportedWitVersion {
        kind: PluginKind,
        version: String,
        supported: String,
    },
    #[error("the component's SHA-256 is {actual}, not the recorded {expected}")]
    HashMismatch { expected: String, actual: String },
    #[error("the component is a {actual} plugin, but {expected} was expected")]
    KindMismatch {
        expected: PluginKind,
        actual: PluginKind,
    },
    #[error(
        "the component imports `{import}`, which plugins may not use (allowed: gatehouse:types/*, \
         wasi:io, wasi:clocks, wasi:random, wasi:cli)"
    )]
    DisallowedImport { import: String },
    #[error("the component does not export `{export}`")]
    MissingExport { export: String },
    #[error("compiling the component failed: {0}")]
    Compile(String),
    #[error("the component does not match its WIT world: {0}")]
    Link(String),
    #[error("plugin cache error: {0}")]
    Cache(#[from] std::io::Error),
}

/// Creating the host failed (engine configuration, virtual memory for the pool).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid plugin host configuration: {0}")]
    Config(String),
    #[error("creating the wasmtime engine failed: {0}")]
    Engine(String),
    #[error("plugin cache directory: {0}")]
    Cache(#[from] std::io::Error),
}
