//! HTML helpers for widget themes. Everything a theme interpolates into markup (strings, values,
//! provider names, URLs) must go through [`escape`]: tenants edit those texts.

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Whether `value` is safe inside a CSS custom-property value: no characters that could close
/// the declaration or the rule, open a comment or load a resource.
pub fn is_safe_css_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 200
        && !value.contains("/*")
        && !value.to_ascii_lowercase().contains("url(")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " #%.,()-+/".contains(c))
}

/// Whether `name` is a valid token (custom property) name: lowercase letters, digits, `-`.
pub fn is_safe_css_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn css_values_cannot_break_out() {
        assert!(is_safe_css_value("hsl(222 47% 11%)"));
        assert!(is_safe_css_value("0.5rem"));
        assert!(!is_safe_css_value("red; } body { color: red"));
        assert!(!is_safe_css_value("url(https://evil)"));
        assert!(!is_safe_css_value("red /* x */"));
        assert!(is_safe_css_name("primary-foreground"));
        assert!(!is_safe_css_name("x;y"));
    }
}
