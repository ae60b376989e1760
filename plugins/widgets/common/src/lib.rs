//! The sign-in screens every built-in theme renders: markup (accessible: labels, error
//! association, live alerts), token → CSS-variable output and default strings. A theme supplies
//! its CSS, its default tokens and a few markup choices ([`Skin`]).

use gatehouse_plugin::{
    ColorScheme, FieldError, KeyValue, PluginError, RenderRequest, Rendered, ScreenInfo, Token,
    TokenSet, html::escape,
};

/// The screens the built-in themes render.
pub fn screens() -> Vec<ScreenInfo> {
    [
        (
            "sign-in",
            "Ask for the login name and offer the external providers.",
        ),
        (
            "password",
            "Ask for the password of the login name chosen before.",
        ),
        (
            "error",
            "Explain that the sign-in cannot continue, with a way back.",
        ),
    ]
    .into_iter()
    .map(|(id, description)| ScreenInfo {
        id: id.into(),
        description: description.into(),
    })
    .collect()
}

/// Default English strings. `{provider}` in `continue_with` is replaced by the provider name.
pub const STRINGS: &[(&str, &str)] = &[
    ("title", "Sign in"),
    ("subtitle", "Welcome back. Sign in to continue."),
    ("login_name_label", "Email or username"),
    ("login_name_placeholder", "you@example.com"),
    ("continue", "Continue"),
    ("or", "or"),
    ("continue_with", "Continue with {provider}"),
    ("password_title", "Enter your password"),
    ("password_label", "Password"),
    ("sign_in", "Sign in"),
    ("back", "Use another account"),
    ("error_title", "Something went wrong"),
    ("error_body", "We could not sign you in. Please try again."),
    ("try_again", "Try again"),
    ("form_error", "Please correct the highlighted fields."),
];

pub fn default_strings() -> Vec<KeyValue> {
    STRINGS
        .iter()
        .map(|(key, value)| KeyValue {
            key: (*key).into(),
            value: (*value).into(),
        })
        .collect()
}

pub fn tokens(pairs: &[(&str, &str)]) -> Vec<Token> {
    pairs
        .iter()
        .map(|(name, value)| Token {
            name: (*name).into(),
            value: (*value).into(),
        })
        .collect()
}

/// Theme-specific markup choices.
pub struct Skin {
    /// CSS class on the root element, e.g. `gh-classic`.
    pub root_class: &'static str,
    /// The theme's stylesheet; it uses only the token variables for colours and radius.
    pub css: &'static str,
    /// Text placed before the title (e.g. a prompt glyph), already safe HTML.
    pub title_prefix: &'static str,
    /// Whether provider buttons come before the login-name form.
    pub providers_first: bool,
}

/// Renders `request` with `skin`. Unknown screens are `unsupported`.
pub fn render(skin: &Skin, request: &RenderRequest) -> Result<Rendered, PluginError> {
    let text = Texts(&request.strings);
    let body = match request.screen.as_str() {
        "sign-in" => sign_in(skin, request, &text),
        "password" => password(request, &text),
        "error" => error(request, &text),
        other => {
            return Err(PluginError::Unsupported(format!(
                "unknown screen `{other}`"
            )));
        }
    };
    let scheme = match request.color_scheme {
        ColorScheme::Light => "light",
        ColorScheme::Dark => "dark",
        ColorScheme::System => "system",
    };
    let html = format!(
        "<div class=\"gh {root}\" data-scheme=\"{scheme}\"><main class=\"gh-card\" \
         aria-labelledby=\"gh-title\">{body}</main></div>",
        root = skin.root_class,
    );
    let css = format!("{}{}", tokens_css(&request.tokens), skin.css);
    Ok(Rendered { html, css })
}

/// Looks strings up: the request's first, then the defaults.
struct Texts<'a>(&'a [KeyValue]);

impl Texts<'_> {
    fn get(&self, key: &str) -> String {
        let value = gatehouse_plugin::string(self.0, key)
            .or_else(|| STRINGS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
            .unwrap_or(key);
        escape(value)
    }
}

fn value<'a>(request: &'a RenderRequest, key: &str) -> &'a str {
    gatehouse_plugin::string(&request.values, key).unwrap_or_default()
}

fn field_error<'a>(request: &'a RenderRequest, field: &str) -> Option<&'a FieldError> {
    request.errors.iter().find(|error| error.field == field)
}

/// A form-level alert for errors not tied to a field of this screen.
fn alert(request: &RenderRequest, fields: &[&str], text: &Texts<'_>) -> String {
    let general: Vec<String> = request
        .errors
        .iter()
        .filter(|error| !fields.contains(&error.field.as_str()))
        .map(|error| escape(&error.message))
        .collect();
    let field_errors = request
        .errors
        .iter()
        .any(|error| fields.contains(&error.field.as_str()));
    if general.is_empty() && !field_errors {
        return String::new();
    }
    let message = if general.is_empty() {
        text.get("form_error")
    } else {
        general.join("<br>")
    };
    format!("<div class=\"gh-alert\" role=\"alert\">{message}</div>")
}

fn hidden_fields(request: &RenderRequest) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><input type=\"hidden\" \
         name=\"screen\" value=\"{}\">",
        escape(&request.csrf_token),
        escape(&request.screen)
    )
}

#[allow(clippy::too_many_arguments)]
fn input(
    request: &RenderRequest,
    id: &str,
    name: &str,
    kind: &str,
    autocomplete: &str,
    label: &str,
    placeholder: Option<&str>,
    value: &str,
) -> String {
    let error = field_error(request, name);
    let (invalid, described, message) = match error {
        Some(error) => (
            " aria-invalid=\"true\"",
            format!(" aria-describedby=\"{id}-error\""),
            format!(
                "<p class=\"gh-field-error\" id=\"{id}-error\">{}</p>",
                escape(&error.message)
            ),
        ),
        None => ("", String::new(), String::new()),
    };
    let placeholder = placeholder
        .map(|p| format!(" placeholder=\"{p}\""))
        .unwrap_or_default();
    format!(
        "<div class=\"gh-field\"><label class=\"gh-label\" for=\"{id}\">{label}</label>\
         <input class=\"gh-input\" id=\"{id}\" name=\"{name}\" type=\"{kind}\" \
         autocomplete=\"{autocomplete}\" required value=\"{value}\"{placeholder}{invalid}{described}>\
         {message}</div>",
        value = escape(value),
    )
}

fn providers(request: &RenderRequest, text: &Texts<'_>) -> String {
    if request.providers.is_empty() {
        return String::new();
    }
    let template = text.get("continue_with");
    let items: String = request
        .providers
        .iter()
        .filter(|provider| is_safe_href(&provider.href))
        .map(|provider| {
            let label = template.replace("{provider}", &escape(&provider.name));
            format!(
                "<li><a class=\"gh-btn gh-btn-outline\" data-provider=\"{kind}\" \
                 href=\"{href}\"><span class=\"gh-provider-mark\" aria-hidden=\"true\">{mark}\
                 </span>{label}</a></li>",
                kind = escape(&provider.kind),
                href = escape(&provider.href),
                mark = escape(&initial(&provider.name)),
            )
        })
        .collect();
    format!("<ul class=\"gh-providers\" role=\"list\">{items}</ul>")
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// Provider links must be http(s) or same-origin paths: never `javascript:` or `data:`.
fn is_safe_href(href: &str) -> bool {
    href.starts_with("https://")
        || href.starts_with("http://")
        || (href.starts_with('/') && !href.starts_with("//"))
}

fn separator(text: &Texts<'_>) -> String {
    format!(
        "<div class=\"gh-separator\"><span>{}</span></div>",
        text.get("or")
    )
}

fn header(title: &str, subtitle: Option<&str>, prefix: &str) -> String {
    let subtitle = subtitle
        .map(|s| format!("<p class=\"gh-subtitle\">{s}</p>"))
        .unwrap_or_default();
    format!(
        "<header class=\"gh-header\"><h1 class=\"gh-title\" id=\"gh-title\">{prefix}{title}</h1>{subtitle}</header>"
    )
}

fn sign_in(skin: &Skin, request: &RenderRequest, text: &Texts<'_>) -> String {
    let form = format!(
        "<form class=\"gh-form\" method=\"post\" action=\"{action}\" novalidate>{hidden}{field}\
         <button class=\"gh-btn gh-btn-primary\" type=\"submit\">{continue_}</button></form>",
        action = escape(&request.action_url),
        hidden = hidden_fields(request),
        field = input(
            request,
            "gh-login-name",
            "login_name",
            "text",
            "username",
            &text.get("login_name_label"),
            Some(&text.get("login_name_placeholder")),
            value(request, "login_name"),
        ),
        continue_ = text.get("continue"),
    );
    let providers = providers(request, text);
    let body = match (providers.is_empty(), skin.providers_first) {
        (true, _) => form,
        (false, true) => format!("{providers}{}{form}", separator(text)),
        (false, false) => format!("{form}{}{providers}", separator(text)),
    };
    format!(
        "{}{}{body}",
        header(
            &text.get("title"),
            Some(&text.get("subtitle")),
            skin.title_prefix
        ),
        alert(request, &["login_name"], text)
    )
}

fn password(request: &RenderRequest, text: &Texts<'_>) -> String {
    let login_name = value(request, "login_name");
    let who = if login_name.is_empty() {
        None
    } else {
        Some(escape(login_name))
    };
    format!(
        "{header}{alert}<form class=\"gh-form\" method=\"post\" action=\"{action}\" novalidate>\
         {hidden}<input type=\"hidden\" name=\"login_name\" value=\"{login}\" \
         autocomplete=\"username\">{field}<button class=\"gh-btn gh-btn-primary\" \
         type=\"submit\">{sign_in}</button></form><p class=\"gh-footer\"><a class=\"gh-link\" \
         href=\"?screen=sign-in\">{back}</a></p>",
        header = header(&text.get("password_title"), who.as_deref(), ""),
        alert = alert(request, &["password"], text),
        action = escape(&request.action_url),
        hidden = hidden_fields(request),
        login = escape(login_name),
        field = input(
            request,
            "gh-password",
            "password",
            "password",
            "current-password",
            &text.get("password_label"),
            None,
            "",
        ),
        sign_in = text.get("sign_in"),
        back = text.get("back"),
    )
}

fn error(request: &RenderRequest, text: &Texts<'_>) -> String {
    let details: String = request
        .errors
        .iter()
        .map(|error| format!("<p>{}</p>", escape(&error.message)))
        .collect();
    format!(
        "{header}<div class=\"gh-alert\" role=\"alert\"><p>{body}</p>{details}</div>\
         <p class=\"gh-footer\"><a class=\"gh-btn gh-btn-primary\" href=\"?screen=sign-in\">{again}</a></p>",
        header = header(&text.get("error_title"), None, ""),
        body = text.get("error_body"),
        again = text.get("try_again"),
    )
}

/// Token variables: light on `.gh`, dark on `[data-scheme=dark]` and, for `system`, under
/// `prefers-color-scheme: dark`. Tokens with unsafe names or values are skipped: tenants edit
/// them and they must not be able to break out of the declaration.
pub fn tokens_css(tokens: &TokenSet) -> String {
    let decls = |set: &[Token]| -> String {
        set.iter()
            .filter(|t| {
                gatehouse_plugin::html::is_safe_css_name(&t.name)
                    && gatehouse_plugin::html::is_safe_css_value(&t.value)
            })
            .map(|t| format!("--{}:{};", t.name, t.value))
            .collect()
    };
    let light = decls(&tokens.light);
    let dark = decls(&tokens.dark);
    format!(
        ".gh{{{light}}}.gh[data-scheme=dark]{{{dark}}}\
         @media (prefers-color-scheme:dark){{.gh[data-scheme=system]{{{dark}}}}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_plugin::ProviderButton;

    const SKIN: Skin = Skin {
        root_class: "gh-test",
        css: ".gh-test{}",
        title_prefix: "",
        providers_first: false,
    };

    fn request(screen: &str) -> RenderRequest {
        RenderRequest {
            screen: screen.into(),
            tokens: TokenSet {
                light: tokens(&[("primary", "hsl(0 0% 9%)"), ("evil", "red;}body{x:y")]),
                dark: tokens(&[("primary", "hsl(0 0% 98%)")]),
            },
            color_scheme: ColorScheme::System,
            strings: vec![KeyValue {
                key: "title".into(),
                value: "Hi <there>".into(),
            }],
            providers: vec![
                ProviderButton {
                    id: "prv_1".into(),
                    name: "Google".into(),
                    kind: "google".into(),
                    href: "/login/idp/prv_1".into(),
                },
                ProviderButton {
                    id: "prv_2".into(),
                    name: "Evil".into(),
                    kind: "oidc".into(),
                    href: "javascript:alert(1)".into(),
                },
            ],
            errors: vec![FieldError {
                field: "login_name".into(),
                message: "Unknown user".into(),
            }],
            values: vec![KeyValue {
                key: "login_name".into(),
                value: "\"><script>".into(),
            }],
            action_url: "/login/submit".into(),
            csrf_token: "tok".into(),
        }
    }

    #[test]
    fn sign_in_is_escaped_and_accessible() {
        let out = render(&SKIN, &request("sign-in")).unwrap();
        assert!(out.html.contains("Hi &lt;there&gt;"));
        assert!(!out.html.contains("<script>"));
        assert!(out.html.contains("aria-invalid=\"true\""));
        assert!(
            out.html
                .contains("aria-describedby=\"gh-login-name-error\"")
        );
        assert!(out.html.contains("role=\"alert\""));
        assert!(out.html.contains("Continue with Google"));
        assert!(
            !out.html.contains("javascript:"),
            "unsafe hrefs are dropped"
        );
        assert!(out.html.contains("name=\"csrf_token\" value=\"tok\""));
        assert!(out.css.contains("--primary:hsl(0 0% 9%);"));
        assert!(!out.css.contains("evil"));
        assert!(out.css.contains("prefers-color-scheme:dark"));
    }

    #[test]
    fn other_screens() {
        let pw = render(&SKIN, &request("password")).unwrap();
        assert!(pw.html.contains("autocomplete=\"current-password\""));
        let err = render(&SKIN, &request("error")).unwrap();
        assert!(err.html.contains("Unknown user"));
        assert!(matches!(
            render(&SKIN, &request("nope")),
            Err(PluginError::Unsupported(_))
        ));
    }
}
