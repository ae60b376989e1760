use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Failed checks, without internal detail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        problems: Vec::new(),
    })
}

/// Readiness: the database answers and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Not ready", body = Health)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut problems = Vec::new();
    match state.store.ping().await {
        Err(err) => {
            tracing::warn!(%err, "readiness: database unreachable");
            problems.push("database unreachable".to_owned());
        }
        Ok(()) => match state.store.pending_migrations().await {
            Ok(0) => {}
            Ok(n) => problems.push(format!(
                "{n} database migrations pending; run `gatehouse migrate`"
            )),
            Err(err) => {
                tracing::warn!(%err, "readiness: cannot read migration state");
                problems.push("cannot read migration state".to_owned());
            }
        },
    }
    if problems.is_empty() {
        (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                problems,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                problems,
            }),
        )
    }
}
