//! The hosted login page: plain, accessible HTML with inline styles and no external resources.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f4f5;color:#18181b;margin:0;padding:2rem 1rem}\
main{max-width:24rem;margin:0 auto;background:#fff;border:1px solid #d4d4d8;border-radius:.5rem;padding:1.5rem}\
h1{font-size:1.25rem;margin:0 0 1rem}\
.dev{background:#fef3c7;border:1px solid #d97706;color:#78350f;border-radius:.375rem;padding:.5rem .75rem;font-size:.875rem;margin-bottom:1rem}\
.error{background:#fee2e2;border:1px solid #b91c1c;color:#7f1d1d;border-radius:.375rem;padding:.5rem .75rem;margin-bottom:1rem}\
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #71717a;border-radius:.375rem;font-size:1rem}\
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}\
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:.375rem;background:#1d4ed8;color:#fff;font-size:1rem;font-weight:600;cursor:pointer}\
p.meta{font-size:.8125rem;color:#52525b}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <p class=\"dev\" role=\"note\"><strong>Development IdP.</strong> This is Gatehouse's embedded \
         ZITADEL emulator, meant for development and tests only.</p>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title)
    )
}

/// Headers for every HTML page: no framing, no caching, no external loads.
pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub struct LoginForm<'a> {
    pub action: &'a str,
    pub auth_request_id: &'a str,
    pub csrf: &'a str,
    pub login_name: &'a str,
    pub app_name: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(form: &LoginForm<'_>) -> String {
    let error = form
        .error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"login-error\">{}</div>\n",
                escape(e)
            )
        })
        .unwrap_or_default();
    let described = if form.error.is_some() {
        " aria-describedby=\"login-error\" aria-invalid=\"true\""
    } else {
        ""
    };
    let autofocus_name = if form.login_name.is_empty() {
        " autofocus"
    } else {
        ""
    };
    let autofocus_pw = if form.login_name.is_empty() {
        ""
    } else {
        " autofocus"
    };
    let body = format!(
        "<h1>Sign in</h1>\n<p class=\"meta\">to continue to {app}</p>\n{error}\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"authRequestID\" value=\"{id}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <label for=\"loginName\">Username or email</label>\n\
         <input type=\"text\" id=\"loginName\" name=\"loginName\" value=\"{login}\" autocomplete=\"username\" required{autofocus_name}{described}>\n\
         <label for=\"password\">Password</label>\n\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required{autofocus_pw}{described}>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
        app = escape(form.app_name),
        action = escape(form.action),
        id = escape(form.auth_request_id),
        csrf = escape(form.csrf),
        login = escape(form.login_name),
    );
    document("Sign in", &body)
}

/// A page for errors the browser must not be redirected with (e.g. a bad redirect URI).
pub fn error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<h1>Sign-in error</h1>\n<div class=\"error\" role=\"alert\"><p><strong>{}</strong></p><p>{}</p></div>\n",
        escape(error),
        escape(description)
    );
    html_response(status, document("Sign-in error", &body))
}

pub fn signed_out() -> Response {
    html_response(
        StatusCode::OK,
        document(
            "Signed out",
            "<h1>You are signed out</h1>\n<p>You can close this window.</p>\n",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped() {
        let html = login(&LoginForm {
            action: "/ui/login/login",
            auth_request_id: "1",
            csrf: "c",
            login_name: "\"><script>alert(1)</script>",
            app_name: "<b>app</b>",
            error: Some("<img src=x>"),
        });
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>app"));
        assert!(!html.contains("<img"));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<label for=\"password\">"));
        assert!(html.contains("Development IdP"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
