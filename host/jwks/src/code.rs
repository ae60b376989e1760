//! The relying party's code exchange (OAuth 2.0 authorization code grant with PKCE, RFC 6749
//! §4.1.3 and RFC 7636): trades the code an IdP sent back for the ID token that [`Verifier`]
//! then checks. The client authenticates with HTTP Basic, each part form-encoded first
//! (§2.3.1), the form ZITADEL and most IdPs accept.
//!
//! [`Verifier`]: crate::Verifier

use base64::Engine;
use serde::Deserialize;

/// Token responses larger than this are refused unread (an ID token is a few KiB).
pub const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// One authorization code to exchange.
#[derive(Clone, Copy, Debug)]
pub struct CodeExchange<'a> {
    pub token_endpoint: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code: &'a str,
    /// The `redirect_uri` the authorization request named.
    pub redirect_uri: &'a str,
    /// The PKCE verifier whose challenge the authorization request carried.
    pub code_verifier: &'a str,
}

/// What the token endpoint answered.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Not yet verified: pass it to [`Verifier::verify`](crate::Verifier::verify).
    pub id_token: String,
    pub access_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No usable answer: the endpoint was unreachable, or its answer too large or cut short.
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// An error answer (`error` is the OAuth error code when the body had one).
    #[error("the token endpoint answered HTTP {status}{}", describe(.error, .description))]
    Refused {
        status: u16,
        error: Option<String>,
        description: Option<String>,
    },
    /// A success answer that is not JSON with an `id_token`.
    #[error("the token endpoint's answer has no ID token")]
    NoIdToken,
}

impl ExchangeError {
    /// The IdP does not accept the client's credentials (HTTP 401 or `invalid_client`): the
    /// client was changed or removed and its registration should be checked again.
    pub fn is_invalid_client(&self) -> bool {
        matches!(self, ExchangeError::Refused { status, error, .. }
            if *status == 401 || error.as_deref() == Some("invalid_client"))
    }
}

fn describe(error: &Option<String>, description: &Option<String>) -> String {
    match (error, description) {
        (Some(error), Some(description)) => format!(": {error} ({description})"),
        (Some(error), None) => format!(": {error}"),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
struct TokenBody {
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Exchanges the code. `http` should not follow redirects (a token endpoint has no reason to
/// send one, and following it would resend the client secret).
pub async fn exchange_code(
    http: &reqwest::Client,
    exchange: CodeExchange<'_>,
) -> Result<Tokens, ExchangeError> {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(exchange.client_id),
        encode(exchange.client_secret)
    ));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", exchange.code)
        .append_pair("redirect_uri", exchange.redirect_uri)
        .append_pair("code_verifier", exchange.code_verifier)
        .finish();
    let unreachable = |e: &dyn std::fmt::Display| ExchangeError::Unreachable(e.to_string());
    let response = http
        .post(exchange.token_endpoint)
        .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(&e))?;
    let status = response.status();
    let bytes = crate::fetch::read_capped(response, MAX_TOKEN_RESPONSE)
        .await
        .map_err(|e| unreachable(&e))?
        .ok_or_else(|| unreachable(&format!("answer over {MAX_TOKEN_RESPONSE} bytes")))?;
    if !status.is_success() {
        let body = serde_json::from_slice::<ErrorBody>(&bytes).ok();
        return Err(ExchangeError::Refused {
            status: status.as_u16(),
            error: body.as_ref().map(|b| b.error.chars().take(200).collect()),
            description: body
                .and_then(|b| b.error_description)
                .map(|d| d.chars().take(300).collect()),
        });
    }
    let body = serde_json::from_slice::<TokenBody>(&bytes).map_err(|_| ExchangeError::NoIdToken)?;
    Ok(Tokens {
        id_token: body.id_token.ok_or(ExchangeError::NoIdToken)?,
        access_token: body.access_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_recognised_by_status_or_code() {
        let refused = |status, error: Option<&str>| ExchangeError::Refused {
            status,
            error: error.map(str::to_owned),
            description: None,
        };
        assert!(refused(401, None).is_invalid_client());
        assert!(refused(400, Some("invalid_client")).is_invalid_client());
        assert!(!refused(400, Some("invalid_grant")).is_invalid_client());
        assert!(!ExchangeError::NoIdToken.is_invalid_client());
        assert_eq!(
            refused(400, Some("invalid_grant")).to_string(),
            "the token endpoint answered HTTP 400: invalid_grant"
        );
    }
}
