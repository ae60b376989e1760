//! Deliver an event unchanged only if it matches: its type matches one of `event_types`
//! (exact, `prefix.*` or `*`) and, if `json_path` is set, the value there equals `equals` (or
//! merely exists, when `equals` is empty). Everything else is dropped with a reason.

use gatehouse_plugin::{
    Config, Delivery, FieldKind, Outcome, PluginError, Webhook, WebhookInfo, schema,
};
use serde_json::{Value, json};

pub struct Filter;

/// `*`, exact, or `prefix.*` matching whole dot-separated segments.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => kind
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == kind,
    }
}

/// A path step: object key or array index.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses `$.data.emails[0].verified` (the `$.` is optional). Keys are any characters but
/// `.` and `[`.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let path = path.trim();
    let path = path.strip_prefix('$').unwrap_or(path);
    let path = path.strip_prefix('.').unwrap_or(path);
    let mut steps = Vec::new();
    for segment in path.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        if key.is_empty() && (rest.is_empty() || !steps.is_empty() || !segment.starts_with('[')) {
            return Err(format!("empty segment in `{path}`"));
        }
        if !key.is_empty() {
            steps.push(Step::Key(key.to_owned()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
            let index = rest[1..close]
                .parse()
                .map_err(|_| format!("`{}` is not an array index", &rest[1..close]))?;
            steps.push(Step::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected `{rest}` in `{path}`"));
            }
        }
    }
    Ok(steps)
}

fn lookup<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |current, step| match step {
        Step::Key(key) => current.get(key),
        Step::Index(index) => current.get(index),
    })
}

/// `equals` is compared as JSON when it parses as JSON (`true`, `3`, `"x"`), else as a string.
fn expected(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

impl Webhook for Filter {
    fn describe() -> WebhookInfo {
        WebhookInfo {
            id: "filter".into(),
            name: "Filter".into(),
            description: "Deliver only events of some types, optionally only when a JSON path \
                          has a given value. The payload is unchanged."
                .into(),
            config_schema: vec![
                schema::field("event_types", "Event types", FieldKind::List, false)
                    .help("Exact types or prefixes like `user.*`; empty means every type.")
                    .default_value(json!(["*"])),
                schema::field("json_path", "JSON path", FieldKind::Text, false)
                    .help("e.g. `$.data.email_verified`; leave empty to filter by type only.")
                    .placeholder("$.data.email_verified"),
                schema::field("equals", "Equals", FieldKind::Text, false).help(
                    "JSON value the path must hold (`true`, `3`, `\"admin\"`); empty means \
                           the path must merely exist.",
                ),
            ],
            event_types: vec!["*".into()],
        }
    }

    fn transform(event: &str, config: &Config) -> Result<Outcome, PluginError> {
        let parsed: Value = gatehouse_plugin::parse_event(event)?;
        let kind = parsed
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let patterns = config.list("event_types")?;
        if !patterns.is_empty() && !patterns.iter().any(|p| type_matches(p, kind)) {
            return Ok(Outcome::Drop(format!(
                "event type `{kind}` is not selected"
            )));
        }
        if let Some(path) = config.str("json_path") {
            let steps = parse_path(path).map_err(|err| PluginError::invalid("json_path", err))?;
            let found = lookup(&parsed, &steps);
            match (found, config.str("equals")) {
                (None, _) => return Ok(Outcome::Drop(format!("`{path}` is absent"))),
                (Some(actual), Some(equals)) if *actual != expected(equals) => {
                    return Ok(Outcome::Drop(format!("`{path}` is not {equals}")));
                }
                _ => {}
            }
        }
        Ok(Outcome::Deliver(Delivery {
            body: event.to_owned(),
            content_type: "application/json".into(),
            headers: Vec::new(),
        }))
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_webhook!(Filter);

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"evt_1","type":"user.created","data":{"email_verified":true,"roles":["a","admin"]}}"#;

    fn run(config: &str) -> Outcome {
        Filter::transform(EVENT, &Config::parse(config).unwrap()).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("$.data.roles[1]").unwrap(),
            [
                Step::Key("data".into()),
                Step::Key("roles".into()),
                Step::Index(1)
            ]
        );
        assert!(parse_path("data..x").is_err());
        assert!(parse_path("data[x]").is_err());
        assert!(parse_path("data[1").is_err());
    }

    #[test]
    fn filters_by_type_and_value() {
        assert!(matches!(run("{}"), Outcome::Deliver(d) if d.body == EVENT));
        assert!(matches!(
            run(r#"{"event_types":["user.*"]}"#),
            Outcome::Deliver(_)
        ));
        assert!(matches!(
            run(r#"{"event_types":["session.*"]}"#),
            Outcome::Drop(_)
        ));
        assert!(matches!(
            run(r#"{"json_path":"$.data.email_verified","equals":"true"}"#),
            Outcome::Deliver(_)
        ));
        assert!(matches!(
            run(r#"{"json_path":"data.roles[1]","equals":"admin"}"#),
            Outcome::Deliver(_)
        ));
        assert!(matches!(
            run(r#"{"json_path":"data.roles[1]","equals":"\"root\""}"#),
            Outcome::Drop(_)
        ));
        assert!(matches!(
            run(r#"{"json_path":"data.missing"}"#),
            Outcome::Drop(_)
        ));
    }

    #[test]
    fn bad_path_is_a_config_error() {
        let err = Filter::transform(EVENT, &Config::parse(r#"{"json_path":"a..b"}"#).unwrap());
        assert!(matches!(err, Err(PluginError::Invalid(e)) if e[0].field == "json_path"));
    }
}
