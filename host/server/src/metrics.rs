//! HTTP server metrics (OpenTelemetry's `http.server.request.duration`), exported over OTLP
//! when the binary installs a meter provider (a no-op otherwise). Routes are the matched
//! templates (`/v1/tenants/{id}`), never raw paths, so the attributes stay bounded.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::Method,
    middleware::Next,
    response::Response,
};
use opentelemetry::{KeyValue, global, metrics::Histogram};

fn duration() -> &'static Histogram<f64> {
    static DURATION: OnceLock<Histogram<f64>> = OnceLock::new();
    DURATION.get_or_init(|| {
        global::meter("gatehouse.http")
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("Duration of HTTP server requests")
            .build()
    })
}

/// Middleware: records each request's duration with its method, route and status.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_name(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    let mut attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        ),
    ];
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    duration().record(started.elapsed().as_secs_f64(), &attributes);
    response
}

/// The method, or `_OTHER` for one outside the standard set (as the semantic conventions ask,
/// so a client cannot mint attribute values).
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_one_value() {
        assert_eq!(method_name(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_name(&odd), "_OTHER");
    }
}
