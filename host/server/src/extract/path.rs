use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Path parameters. A malformed id (wrong prefix, garbage) is 422 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, m)| m)
                    .to_owned();
                Err(ApiError::invalid("path", message))
            }
        }
    }
}
