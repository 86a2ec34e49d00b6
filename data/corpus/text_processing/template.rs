//! A tiny text template engine.
//!
//! Syntax:
//!
//! ```text
//! Hello, {{ name }}!            substitution
//! {{ name | upper }}            filters: upper, lower, trim, len
//! {{ title | default:"none" }}  fallback when the variable is missing
//! {{{{ literal braces }}        "{{{{" renders as "{{"
//! ```
//!
//! Templates are compiled once into a list of segments and can then be
//! rendered many times. Unknown variables and filters are errors that name
//! the position in the template, so mistakes are easy to find.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    Upper,
    Lower,
    Trim,
    Len,
    Default(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var {
        name: String,
        filters: Vec<Filter>,
        offset: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Unclosed { offset: usize },
    EmptyName { offset: usize },
    UnknownFilter { offset: usize, filter: String },
    Missing { offset: usize, name: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unclosed { offset } => {
                write!(f, "`{{{{` at byte {} is never closed", offset)
            }
            TemplateError::EmptyName { offset } => {
                write!(f, "empty variable name at byte {}", offset)
            }
            TemplateError::UnknownFilter { offset, filter } => {
                write!(f, "unknown filter `{}` at byte {}", filter, offset)
            }
            TemplateError::Missing { offset, name } => {
                write!(f, "variable `{}` (byte {}) has no value", name, offset)
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

fn parse_filter(raw: &str, offset: usize) -> Result<Filter, TemplateError> {
    let raw = raw.trim();
    if let Some(arg) = raw.strip_prefix("default:") {
        let value = arg.trim().trim_matches('"');
        return Ok(Filter::Default(value.to_string()));
    }
    match raw {
        "upper" => Ok(Filter::Upper),
        "lower" => Ok(Filter::Lower),
        "trim" => Ok(Filter::Trim),
        "len" => Ok(Filter::Len),
        other => Err(TemplateError::UnknownFilter {
            offset,
            filter: other.to_string(),
        }),
    }
}

impl Template {
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        let mut consumed = 0;
        while let Some(start) = rest.find("{{") {
            text.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let offset = consumed + start;
            if let Some(stripped) = after.strip_prefix("{{") {
                text.push_str("{{");
                consumed += start + 4;
                rest = stripped;
                continue;
            }
            let end = after.find("}}").ok_or(TemplateError::Unclosed { offset })?;
            let mut parts = after[..end].split('|');
            let name = parts.next().unwrap_or("").trim();
            if name.is_empty() {
                return Err(TemplateError::EmptyName { offset });
            }
            let filters = parts
                .map(|p| parse_filter(p, offset))
                .collect::<Result<Vec<_>, _>>()?;
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Var {
                name: name.to_string(),
                filters,
                offset,
            });
            consumed += start + 2 + end + 2;
            rest = &after[end + 2..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Template { segments })
    }

    /// Names of all variables used, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for seg in &self.segments {
            if let Segment::Var { name, .. } = seg {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    pub fn render(&self, values: &HashMap<&str, String>) -> Result<String, TemplateError> {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Var {
                    name,
                    filters,
                    offset,
                } => {
                    let mut value: Option<String> = values.get(name.as_str()).cloned();
                    for filter in filters {
                        value = match (filter, value) {
                            (Filter::Default(d), None) => Some(d.clone()),
                            (_, None) => None,
                            (Filter::Default(_), some) => some,
                            (Filter::Upper, Some(v)) => Some(v.to_uppercase()),
                            (Filter::Lower, Some(v)) => Some(v.to_lowercase()),
                            (Filter::Trim, Some(v)) => Some(v.trim().to_string()),
                            (Filter::Len, Some(v)) => Some(v.chars().count().to_string()),
                        };
                    }
                    let value = value.ok_or_else(|| TemplateError::Missing {
                        offset: *offset,
                        name: name.clone(),
                    })?;
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }
}

/// Convenience: compile and render in one call.
pub fn render(source: &str, values: &[(&str, &str)]) -> Result<String, TemplateError> {
    let map: HashMap<&str, String> = values.iter().map(|(k, v)| (*k, v.to_string())).collect();
    Template::compile(source)?.render(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_values() {
        assert_eq!(
            render("Hello, {{ name }}!", &[("name", "Ferris")]),
            Ok("Hello, Ferris!".into())
        );
        assert_eq!(
            render("{{a}}{{b}}", &[("a", "1"), ("b", "2")]),
            Ok("12".into())
        );
        assert_eq!(render("no tags", &[]), Ok("no tags".into()));
        assert_eq!(render("", &[]), Ok(String::new()));
    }

    #[test]
    fn filters_chain() {
        assert_eq!(
            render("{{ x | trim | upper }}", &[("x", "  hi ")]),
            Ok("HI".into())
        );
        assert_eq!(render("{{ x | len }}", &[("x", "héllo")]), Ok("5".into()));
        assert_eq!(render("{{ y | default:\"n/a\" }}", &[]), Ok("n/a".into()));
        assert_eq!(
            render("{{ y | default:\"n/a\" | upper }}", &[]),
            Ok("N/A".into())
        );
        assert_eq!(
            render("{{ y | default:zero }}", &[("y", "set")]),
            Ok("set".into())
        );
    }

    #[test]
    fn escaped_braces() {
        assert_eq!(
            render("{{{{ not a tag }}", &[]),
            Ok("{{ not a tag }}".into())
        );
        assert_eq!(render("{{{{{{v}}", &[("v", "x")]), Ok("{{x".into()));
    }

    #[test]
    fn errors_point_at_the_tag() {
        assert_eq!(
            render("ab {{ oops", &[]),
            Err(TemplateError::Unclosed { offset: 3 })
        );
        assert_eq!(
            render("{{  }}", &[]),
            Err(TemplateError::EmptyName { offset: 0 })
        );
        let err = render("x {{ v | shout }}", &[("v", "1")]).unwrap_err();
        assert_eq!(err.to_string(), "unknown filter `shout` at byte 2");
        let err = render("{{a}} and {{ b }}", &[("a", "1")]).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Missing {
                offset: 10,
                name: "b".into()
            }
        );
        assert_eq!(err.to_string(), "variable `b` (byte 10) has no value");
    }

    #[test]
    fn compile_once_render_many() {
        let t = Template::compile("{{greeting}}, {{name}}! {{greeting}} again.").unwrap();
        assert_eq!(t.variables(), vec!["greeting", "name"]);
        let mut values = HashMap::new();
        values.insert("greeting", "Hi".to_string());
        values.insert("name", "Ann".to_string());
        assert_eq!(t.render(&values).unwrap(), "Hi, Ann! Hi again.");
        values.insert("name", "Bo".to_string());
        assert_eq!(t.render(&values).unwrap(), "Hi, Bo! Hi again.");
    }
}
