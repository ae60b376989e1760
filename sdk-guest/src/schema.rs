//! Form schemas: builders for [`FormField`] and a generic check of a [`Config`] against them.

use serde_json::Value;

use crate::{Config, FieldErrors, FieldKind, FormField, PluginError, SelectOption};

/// A field with no help, placeholder, default or options.
pub fn field(name: &str, label: &str, kind: FieldKind, required: bool) -> FormField {
    FormField {
        name: name.into(),
        label: label.into(),
        kind,
        required,
        help: None,
        placeholder: None,
        default_json: None,
        options: Vec::new(),
    }
}

impl FormField {
    pub fn help(mut self, help: &str) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn placeholder(mut self, placeholder: &str) -> Self {
        self.placeholder = Some(placeholder.into());
        self
    }

    /// Sets the default (any JSON value).
    pub fn default_value(mut self, value: Value) -> Self {
        self.default_json = Some(value.to_string());
        self
    }

    /// Adds `(value, label)` choices (for `select` fields).
    pub fn options(mut self, options: &[(&str, &str)]) -> Self {
        self.options = options
            .iter()
            .map(|(value, label)| SelectOption {
                value: (*value).into(),
                label: (*label).into(),
            })
            .collect();
        self
    }
}

/// Checks `config` against `fields`: required values present; text/secret/url/select values
/// are strings (URLs absolute http(s), selects one of the options); bools are booleans; lists
/// are arrays of strings. Unknown keys are errors too, so a typo never goes unnoticed.
pub fn check(fields: &[FormField], config: &Config) -> Result<(), PluginError> {
    let mut errors = FieldErrors::new();
    for field in fields {
        let name = field.name.as_str();
        match config.get(name) {
            None => {
                if field.required {
                    errors.add(name, format!("{} is required", field.label));
                }
            }
            Some(value) => check_value(field, value, &mut errors),
        }
    }
    for key in config.as_map().keys() {
        if !fields.iter().any(|field| &field.name == key) {
            errors.add(key.as_str(), "unknown field");
        }
    }
    errors.finish()
}

fn check_value(field: &FormField, value: &Value, errors: &mut FieldErrors) {
    let name = field.name.as_str();
    match field.kind {
        FieldKind::Text | FieldKind::Secret | FieldKind::Url | FieldKind::Select => {
            let Some(text) = value.as_str() else {
                errors.add(name, "must be a string");
                return;
            };
            let text = text.trim();
            if text.is_empty() {
                if field.required {
                    errors.add(name, format!("{} is required", field.label));
                }
                return;
            }
            if matches!(field.kind, FieldKind::Url) && !is_http_url(text) {
                errors.add(name, "must be an absolute http(s) URL");
            }
            if matches!(field.kind, FieldKind::Select)
                && !field.options.iter().any(|option| option.value == text)
            {
                let allowed: Vec<&str> = field.options.iter().map(|o| o.value.as_str()).collect();
                errors.add(name, format!("must be one of: {}", allowed.join(", ")));
            }
        }
        FieldKind::Bool => {
            if !value.is_boolean() {
                errors.add(name, "must be true or false");
            }
        }
        FieldKind::List => match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        errors.add(format!("{name}[{i}]"), "must be a string");
                    }
                }
                if field.required && items.is_empty() {
                    errors.add(name, format!("{} needs at least one entry", field.label));
                }
            }
            None => errors.add(name, "must be a list of strings"),
        },
    }
}

/// `https://host…` or `http://host…` with a non-empty host and no spaces.
pub fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<FormField> {
        vec![
            field("client_id", "Client ID", FieldKind::Text, true),
            field("secret", "Secret", FieldKind::Secret, true),
            field("issuer", "Issuer", FieldKind::Url, false),
            field("tenant", "Tenant", FieldKind::Select, false)
                .options(&[("common", "Common"), ("consumers", "Consumers")]),
            field("pkce", "PKCE", FieldKind::Bool, false),
            field("scopes", "Scopes", FieldKind::List, false),
        ]
    }

    fn invalid_fields(result: Result<(), PluginError>) -> Vec<String> {
        match result {
            Err(PluginError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_valid_config() {
        let config = Config::parse(
            r#"{"client_id":"a","secret":"b","issuer":"https://x.example","tenant":"common",
                "pkce":true,"scopes":["openid"]}"#,
        )
        .unwrap();
        check(&schema(), &config).unwrap();
    }

    #[test]
    fn reports_every_problem() {
        let config = Config::parse(
            r#"{"client_id":" ","issuer":"ftp://x","tenant":"nope","pkce":"yes",
                "scopes":[1],"typo":1}"#,
        )
        .unwrap();
        assert_eq!(
            invalid_fields(check(&schema(), &config)),
            [
                "client_id",
                "secret",
                "issuer",
                "tenant",
                "pkce",
                "scopes[0]",
                "typo"
            ]
        );
    }

    #[test]
    fn url_check() {
        assert!(is_http_url("https://login.example/path"));
        assert!(!is_http_url("https:///path"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("https://a b"));
    }
}
