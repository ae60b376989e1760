//! Small validators shared by the domain services. Each returns an [`Error::Invalid`] that names
//! the field, so the API can point at it.

use std::sync::LazyLock;

use regex::Regex;

use crate::Error;

static SLUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$").expect("slug regex"));
static DNS_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$").expect("dns label regex")
});

/// A display name: 1–200 characters after trimming, no control characters (ZITADEL's limit).
pub fn name(field: &'static str, value: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > 200 {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most 200 characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A URL-safe identifier: lowercase letters, digits and inner hyphens, 1–63 characters.
pub fn slug(field: &'static str, value: &str) -> Result<String, Error> {
    if SLUG.is_match(value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{field} must be 1-63 lowercase letters, digits or hyphens, starting and ending \
                 with a letter or digit"
            ),
        ))
    }
}

/// A DNS domain name such as `example.com` (lowercased, no scheme, port or trailing dot).
pub fn domain(field: String, value: &str) -> Result<String, Error> {
    let lower = value.trim().to_ascii_lowercase();
    let ok = lower.len() <= 253
        && lower.contains('.')
        && lower.split('.').all(|label| DNS_LABEL.is_match(label))
        && !lower
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(lower)
    } else {
        Err(Error::invalid(
            field,
            format!("`{}` is not a valid domain name", truncate(value)),
        ))
    }
}

/// Validates a list with `each`, naming the failing element as `field[i]`.
pub fn list<T>(
    field: &'static str,
    values: &[String],
    max: usize,
    mut each: impl FnMut(String, &str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    if values.len() > max {
        return Err(Error::invalid(
            field,
            format!("{field} may hold at most {max} entries"),
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| each(format!("{field}[{i}]"), v))
        .collect()
}

/// Shortens user input before echoing it in an error message.
pub fn truncate(value: &str) -> String {
    let mut out: String = value.chars().take(100).collect();
    if value.chars().count() > 100 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(slug("slug", "acme").is_ok());
        assert!(slug("slug", "acme-corp-2").is_ok());
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac me",
            "ac_me",
            &"a".repeat(64),
        ] {
            assert!(slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("name", "  Acme  ").unwrap(), "Acme");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(domain("d".into(), "Acme.COM").unwrap(), "acme.com");
        for bad in [
            "acme",
            "http://acme.com",
            "acme.com:80",
            "-a.com",
            "1.2.3.4",
            "a..com",
        ] {
            assert!(domain("d".into(), bad).is_err(), "{bad}");
        }
    }
}
