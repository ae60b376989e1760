//! The seam between delivery and the plugin runtime: the pipeline calls a [`Transformer`] for
//! endpoints that name a transform; the server implements it over the WebAssembly plugin host.

use async_trait::async_trait;
use gatehouse_core::{Error, webhook::Transform};

/// What a transform made of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transformed {
    /// Send this instead of the event JSON.
    Deliver {
        body: String,
        content_type: String,
        /// Extra request headers. The pipeline drops any that would clash with the ones it
        /// controls (`webhook-*`, `content-type`, hop-by-hop).
        headers: Vec<(String, String)>,
    },
    /// Send nothing; the delivery is recorded as skipped with this reason.
    Drop { reason: String },
}

/// Why a transform produced nothing. Messages are shown to tenants: no host internals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The runtime disabled the plugin (repeated faults) or an admin did: deliveries to the
    /// endpoint stop until both are enabled again.
    #[error("transform plugin {plugin} is disabled: {reason}")]
    Disabled { plugin: String, reason: String },
    /// This call failed (trap, deadline, bad output, plugin error, plugin missing): a failed
    /// attempt, retried on the schedule.
    #[error("transform plugin {plugin} failed: {message}")]
    Failed { plugin: String, message: String },
}

/// Runs webhook transform plugins.
#[async_trait]
pub trait Transformer: Send + Sync {
    /// Checks a transform before an endpoint is saved: the plugin exists and transforms
    /// webhooks, and the config satisfies its `describe` schema. Errors are
    /// [`Error::Invalid`] naming `transform.plugin` or `transform.config.<field>`.
    async fn check(&self, transform: &Transform) -> Result<(), Error>;

    /// Transforms one event (its JSON, as the feed shows it) for one endpoint.
    async fn transform(
        &self,
        transform: &Transform,
        event_json: &str,
    ) -> Result<Transformed, TransformError>;
}

/// For servers without a plugin runtime: endpoints with a transform are refused at save time.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTransforms;

#[async_trait]
impl Transformer for NoTransforms {
    async fn check(&self, _transform: &Transform) -> Result<(), Error> {
        Err(Error::invalid(
            "transform",
            "webhook transforms are not available on this server",
        ))
    }

    async fn transform(
        &self,
        transform: &Transform,
        _event_json: &str,
    ) -> Result<Transformed, TransformError> {
        Err(TransformError::Failed {
            plugin: transform.plugin.clone(),
            message: "webhook transforms are not available on this server".into(),
        })
    }
}
