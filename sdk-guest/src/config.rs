//! Configuration parsing. The host passes a configuration as one JSON object keyed by the
//! `name` of each [`FormField`](crate::FormField); these helpers turn missing or mistyped values
//! into [`PluginError::Invalid`] naming the field.

use serde_json::{Map, Value};

use crate::{FieldError, PluginError};

/// A parsed configuration object.
#[derive(Clone, Debug, Default)]
pub struct Config {
    values: Map<String, Value>,
}

impl Config {
    /// Parses the host's JSON. An empty string counts as `{}`; anything but an object is an
    /// error on field `config`.
    pub fn parse(json: &str) -> Result<Self, PluginError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(values)) => Ok(Self { values }),
            Ok(_) => Err(PluginError::invalid(
                "config",
                "configuration must be a JSON object",
            )),
            Err(err) => Err(PluginError::invalid(
                "config",
                format!("configuration is not valid JSON: {err}"),
            )),
        }
    }

    pub fn empty() -> Self {
        Self::default()
    }

    pub fn from_value(values: Map<String, Value>) -> Self {
        Self { values }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|value| !value.is_null())
    }

    /// A non-empty (after trimming) string value.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    }

    /// Like [`str`](Self::str) but an error when missing or empty.
    pub fn require_str(&self, name: &str) -> Result<&str, PluginError> {
        self.str(name)
            .ok_or_else(|| PluginError::invalid(name, format!("`{name}` is required")))
    }

    /// A boolean, `default` when absent. A non-boolean is an error.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, PluginError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(PluginError::invalid(
                name,
                format!("`{name}` must be true or false"),
            )),
        }
    }

    /// A list of non-empty strings (empty entries dropped), empty when absent. A comma- or
    /// whitespace-separated string is accepted too.
    pub fn list(&self, name: &str) -> Result<Vec<String>, PluginError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(text) if text.trim().is_empty() => None,
                    Value::String(text) => Some(Ok(text.trim().to_owned())),
                    _ => Some(Err(PluginError::invalid(
                        format!("{name}[{i}]"),
                        "must be a string",
                    ))),
                })
                .collect(),
            Some(Value::String(text)) => Ok(text
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()),
            Some(_) => Err(PluginError::invalid(
                name,
                format!("`{name}` must be a list of strings"),
            )),
        }
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.values
    }
}

/// Collects several field errors before failing, so an admin sees every problem at once.
#[derive(Debug, Default)]
pub struct FieldErrors {
    errors: Vec<FieldError>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records the error of `result` (if any) and returns its value.
    pub fn check<T>(&mut self, result: Result<T, PluginError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(PluginError::Invalid(errors)) => {
                self.errors.extend(errors);
                None
            }
            Err(other) => {
                self.add("", error_message(&other));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else `PluginError::Invalid` with every error.
    pub fn finish(self) -> Result<(), PluginError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(PluginError::Invalid(self.errors))
        }
    }
}

fn error_message(err: &PluginError) -> String {
    match err {
        PluginError::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        PluginError::Unsupported(message) | PluginError::Internal(message) => message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: PluginError) -> Vec<String> {
        match err {
            PluginError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn parses_objects_only() {
        assert!(Config::parse("").unwrap().as_map().is_empty());
        assert_eq!(fields(Config::parse("[1]").unwrap_err()), ["config"]);
        assert_eq!(fields(Config::parse("{").unwrap_err()), ["config"]);
    }

    #[test]
    fn typed_getters_name_the_field() {
        let config =
            Config::parse(r#"{"a":" x ","b":"","c":true,"d":["p"," ","q"],"e":"r, s t","f":3}"#)
                .unwrap();
        assert_eq!(config.str("a"), Some("x"));
        assert_eq!(config.str("b"), None);
        assert_eq!(fields(config.require_str("b").unwrap_err()), ["b"]);
        assert!(config.bool("c", false).unwrap());
        assert!(config.bool("zz", true).unwrap());
        assert_eq!(fields(config.bool("a", false).unwrap_err()), ["a"]);
        assert_eq!(config.list("d").unwrap(), ["p", "q"]);
        assert_eq!(config.list("e").unwrap(), ["r", "s", "t"]);
        assert_eq!(fields(config.list("f").unwrap_err()), ["f"]);
    }

    #[test]
    fn field_errors_accumulate() {
        let config = Config::parse("{}").unwrap();
        let mut errors = FieldErrors::new();
        assert!(errors.check(config.require_str("x")).is_none());
        assert!(errors.check(config.require_str("y")).is_none());
        assert_eq!(fields(errors.finish().unwrap_err()), ["x", "y"]);
        assert!(FieldErrors::new().finish().is_ok());
    }
}
