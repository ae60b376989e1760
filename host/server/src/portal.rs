//! The admin portal: the React app built into `admin/dist` (`npm --prefix admin run build`,
//! which `make run` does), served under `/admin/`.
//!
//! Release builds embed the files in the binary, so a release binary carries the portal; debug
//! builds read them from disk on each request, so a fresh `npm run build` shows up without
//! recompiling. When nothing was built, `/admin/` answers a page that says how to build it.
//!
//! - `/admin/assets/*` are Vite's content-hashed files: cached for a year, `immutable`.
//! - `index.html` (and the SPA fallback: any `/admin/…` path without a file extension, so deep
//!   links such as `/admin/tenants/ten_…` work) is `no-store`, so a deploy is picked up at once.
//! - Every response carries a strict Content-Security-Policy (no inline scripts or styles,
//!   nothing from other origins, no framing) plus the usual hardening headers.

use std::{borrow::Cow, sync::Arc};

use axum::{
    Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// The portal's Content-Security-Policy. The build has no inline script or style (checked by
/// `admin/scripts/check-dist.mjs`), fonts are bundled, and the API is same-origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// For Vite's content-hashed files under `assets/`.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For other static files (e.g. the favicon): cache, but revalidate with the ETag.
const CACHE_REVALIDATE: &str = "no-cache";

#[derive(rust_embed::Embed)]
#[folder = "../../admin/dist"]
#[allow_missing = true]
struct Dist;

/// One file of the portal build.
#[derive(Clone, Debug)]
pub struct Asset {
    pub data: Cow<'static, [u8]>,
    pub content_type: String,
    /// Strong validator: the SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// Where the portal's files come from: the embedded build, or a fixture in tests.
pub trait AssetSource: Send + Sync + 'static {
    /// `path` is relative to the build's root, e.g. `index.html` or `assets/index-abc.js`.
    fn get(&self, path: &str) -> Option<Asset>;
}

/// The build in `admin/dist`: embedded in release builds, read from disk in debug builds.
pub struct EmbeddedDist;

impl AssetSource for EmbeddedDist {
    fn get(&self, path: &str) -> Option<Asset> {
        let file = Dist::get(path)?;
        Some(Asset {
            content_type: file.metadata.mimetype().to_owned(),
            sha256: file.metadata.sha256_hash(),
            data: file.data,
        })
    }
}

/// Routes `/admin`, `/admin/` and `/admin/*` to the embedded portal build.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    router_with(Arc::new(EmbeddedDist))
}

/// [`router`] over any [`AssetSource`].
pub fn router_with<S: Clone + Send + Sync + 'static>(source: Arc<dyn AssetSource>) -> Router<S> {
    let portal = Router::new()
        .route("/admin/", get(index))
        .route("/admin/{*path}", get(file))
        .with_state(source);
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .merge(portal)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            http::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            http::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

type Source = State<Arc<dyn AssetSource>>;

async fn index(State(source): Source) -> Response {
    serve_index(source.as_ref())
}

async fn file(State(source): Source, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(path) = clean_path(&path) else {
        return not_found();
    };
    if path.is_empty() || path == "index.html" {
        return serve_index(source.as_ref());
    }
    match source.get(path) {
        Some(asset) => serve_file(asset, cache_policy(path), &headers),
        None if is_client_route(path) => serve_index(source.as_ref()),
        None => not_found(),
    }
}

/// The request path as a build-relative file path, or `None` when it tries to leave the build
/// (`..`, absolute, backslashes, NUL). Axum has already percent-decoded it.
fn clean_path(path: &str) -> Option<&str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let bad = path.contains('\\')
        || path.contains('\0')
        || path.starts_with('/')
        || path
            .split('/')
            .any(|segment| segment == ".." || segment == ".");
    (!bad).then_some(path)
}

/// A path the React router handles: its last segment has no file extension. Missing files
/// (`.js`, `.css`, …) stay 404 rather than answering HTML with a 200.
fn is_client_route(path: &str) -> bool {
    !path.starts_with("assets/") && !path.rsplit('/').next().unwrap_or("").contains('.')
}

fn cache_policy(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    }
}

fn serve_index(source: &dyn AssetSource) -> Response {
    let Some(asset) = source.get("index.html") else {
        return not_built();
    };
    let mut response = Response::new(Body::from(asset.data));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn serve_file(asset: Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&asset.sha256[..16]));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(asset.data))
    };
    let headers = response.headers_mut();
    if !fresh {
        let content_type = with_charset(&asset.content_type);
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

fn with_charset(content_type: &str) -> Cow<'_, str> {
    let textual = content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    if textual && !content_type.contains("charset") {
        Cow::Owned(format!("{content_type}; charset=utf-8"))
    } else {
        Cow::Borrowed(content_type)
    }
}

fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// No build was found (not embedded in this binary, or `admin/dist` missing in a debug build).
const NOT_BUILT_PAGE: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Gatehouse admin portal not built</title></head>
<body>
<h1>The admin portal has not been built</h1>
<p>This Gatehouse binary does not contain the admin portal. The admin API under
<code>/v1</code> works; only the web portal is missing.</p>
<p>Build it from the source tree with:</p>
<pre>make run</pre>
<p>or, step by step:</p>
<pre>npm --prefix admin ci
npm --prefix admin run build
cargo build --release -p gatehouse-cli</pre>
<p>Release builds embed <code>admin/dist</code> when they are compiled, so rebuild the binary
after building the portal; debug builds serve <code>admin/dist</code> from disk at once.</p>
</body>
</html>
";

fn not_built() -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT_PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Nothing to load at all: no script, style or image.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::{body::to_bytes, http::Request};
    use sha2::{Digest, Sha256};
    use tower::ServiceExt;

    use super::*;

    struct Fixture(HashMap<&'static str, (&'static str, &'static str)>);

    impl AssetSource for Fixture {
        fn get(&self, path: &str) -> Option<Asset> {
            let (content_type, body) = self.0.get(path)?;
            Some(Asset {
                data: Cow::Borrowed(body.as_bytes()),
                content_type: (*content_type).to_owned(),
                sha256: Sha256::digest(body.as_bytes()).into(),
            })
        }
    }

    fn built() -> Router {
        router_with(Arc::new(Fixture(HashMap::from([
            (
                "index.html",
                ("text/html", "<!doctype html><div id=root></div>"),
            ),
            (
                "assets/index-abc123.js",
                ("text/javascript", "console.log(1)"),
            ),
            ("favicon.svg", ("image/svg+xml", "<svg/>")),
        ]))))
    }

    fn empty() -> Router {
        router_with(Arc::new(Fixture(HashMap::new())))
    }

    async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> (Response, String) {
        let mut request = Request::get(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let text = String::from_utf8(to_bytes(body, usize::MAX).await.unwrap().to_vec()).unwrap();
        (Response::from_parts(parts, Body::empty()), text)
    }

    fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn index_and_client_routes_get_index_html_uncached() {
        let router = built();
        for uri in [
            "/admin/",
            "/admin/index.html",
            "/admin/tenants",
            "/admin/tenants/ten_01J/apps/app_01J",
        ] {
            let (response, body) = get(&router, uri, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            assert!(body.contains("id=root"), "{uri}");
            assert_eq!(header(&response, "cache-control"), "no-store", "{uri}");
            assert_eq!(
                header(&response, "content-type"),
                "text/html; charset=utf-8"
            );
            assert_eq!(
                header(&response, "content-security-policy"),
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(header(&response, "x-frame-options"), "DENY");
        }
        let (response, _) = get(&router, "/admin", &[]).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&response, "location"), "/admin/");
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_revalidate_with_etag() {
        let router = built();
        let (response, body) = get(&router, "/admin/assets/index-abc123.js", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, "console.log(1)");
        assert_eq!(header(&response, "cache-control"), CACHE_IMMUTABLE);
        assert_eq!(
            header(&response, "content-type"),
            "text/javascript; charset=utf-8"
        );
        let etag = header(&response, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

        let (again, body) = get(
            &router,
            "/admin/assets/index-abc123.js",
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());

        let (favicon, _) = get(&router, "/admin/favicon.svg", &[]).await;
        assert_eq!(header(&favicon, "cache-control"), CACHE_REVALIDATE);
    }

    #[tokio::test]
    async fn missing_files_and_escapes_are_404_not_html() {
        let router = built();
        for uri in [
            "/admin/assets/gone-123.js",
            "/admin/assets/nested",
            "/admin/missing.css",
            "/admin/../Cargo.toml",
            "/admin/%2e%2e/Cargo.toml",
            "/admin/assets/..%2F..%2Fsecret",
            "/admin/a%5Cb",
        ] {
            let (response, body) = get(&router, uri, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
            assert!(!body.contains("id=root"), "{uri}");
        }
    }

    #[tokio::test]
    async fn an_unbuilt_portal_says_how_to_build_it() {
        let router = empty();
        for uri in ["/admin/", "/admin/tenants"] {
            let (response, body) = get(&router, uri, &[]).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert!(body.contains("npm --prefix admin run build"), "{body}");
            assert!(body.contains("make run"));
            assert!(header(&response, "content-security-policy").starts_with("default-src 'none'"));
        }
    }

    #[test]
    fn paths_are_confined_to_the_build() {
        assert_eq!(clean_path("assets/a.js"), Some("assets/a.js"));
        assert_eq!(clean_path("/assets/a.js"), Some("assets/a.js"));
        assert_eq!(clean_path("a/../b"), None);
        assert_eq!(clean_path("./a"), None);
        assert_eq!(clean_path("//etc/passwd"), None);
        assert_eq!(clean_path("a\\b"), None);
        assert!(is_client_route("tenants/ten_1"));
        assert!(!is_client_route("assets/x"));
        assert!(!is_client_route("robots.txt"));
    }
}
