//! What a schema problem says: what was expected and what was found, in the words of the YAML the
//! user wrote (`expected a string, found the number 404`), and how to fix it when that is clear.

use serde_json::Value;

use super::{Field, Problem, Shape};
use crate::yaml::Step;

/// `value` does not have `shape`.
pub(super) fn mismatch(path: &[Step], shape: &Shape, value: &Value) -> Problem {
    let found = found(value);
    let (message, hint) = match (shape, value) {
        (Shape::Integer { min, max }, Value::Number(n)) if n.is_i64() || n.is_u64() => (
            format!("expected a whole number from {min} to {max}, found {n}"),
            None,
        ),
        // YAML reads a number past the largest float (`1e400`, unquoted) as a string: neither
        // "remove the quotes" nor "the string" would be true.
        (Shape::Number | Shape::Integer { .. }, Value::String(s)) if is_out_of_range(s) => (
            format!(
                "expected {}, found {s}, beyond the largest number there is (about 1.8e308)",
                expected(shape)
            ),
            None,
        ),
        (Shape::Time, Value::String(_)) => (
            format!("expected a date and time such as \"2024-05-01T12:00:00Z\" (RFC 3339), found {found}"),
            None,
        ),
        _ => (
            format!("expected {}, found {found}", expected(shape)),
            hint(shape, value),
        ),
    };
    Problem {
        path: path.to_vec(),
        at_key: false,
        message,
        hint,
        number_shown: match value {
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
    }
}

/// Whether `text` is written as a number but is too large for one (`1e400`).
fn is_out_of_range(text: &str) -> bool {
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    numeric && text.parse::<f64>().is_ok_and(f64::is_infinite)
}

/// `key` is not one of `fields`.
pub(super) fn unknown_field(path: &[Step], key: &str, fields: &[Field]) -> Problem {
    let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.name)).collect();
    let hint = meant(key, fields).map(|name| format!("did you mean `{name}`?"));
    Problem {
        path: path.to_vec(),
        at_key: true,
        message: format!(
            "unknown field `{key}`, expected one of {}",
            names.join(", ")
        ),
        hint,
        number_shown: None,
    }
}

/// The field a user most likely meant by `key`: the same word in another case convention
/// (`path_regex`, `PathRegex`), else the one closest by at most two typed letters (`namepsace`), if
/// only one is that close. Short names get no guess (`all` and `any` are two letters apart).
fn meant(key: &str, fields: &[Field]) -> Option<&'static str> {
    let folded = fold(key);
    if let Some(field) = fields.iter().find(|f| fold(f.name) == folded) {
        return Some(field.name);
    }
    let most = 2.min(folded.chars().count() / 3);
    let mut close = fields
        .iter()
        .map(|f| (strsim::levenshtein(&fold(f.name), &folded), f.name))
        .filter(|(distance, _)| *distance <= most);
    match (close.next(), close.next()) {
        (Some((_, name)), None) => Some(name),
        _ => None,
    }
}

/// A field name without case or separators.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn expected(shape: &Shape) -> &'static str {
    match shape {
        Shape::String => "a string",
        Shape::Duration => "a duration string such as \"500ms\" or \"10s\"",
        Shape::Time => "a date and time such as \"2024-05-01T12:00:00Z\"",
        Shape::Integer { .. } => "a whole number",
        Shape::Number => "a number",
        Shape::Boolean => "true or false",
        Shape::IntOrString => "a whole number or a quantity such as \"500m\"",
        Shape::StringMap => "a mapping of names to strings",
        Shape::List(_) => "a list",
        Shape::Object(_) => "a mapping",
        Shape::Any => "a value",
    }
}

fn found(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// `text` quoted, or, past [`SHOWN_CHARS`], its start quoted and its length: a pasted blob (a
/// certificate, a whole document) would bury the message, and its start is enough to recognise it.
pub(crate) fn quoted(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}… ({} characters)", &text[..cut], text.chars().count()),
        None => format!("{text:?}"),
    }
}

/// How many characters of a wrong string value a message repeats.
const SHOWN_CHARS: usize = 40;

fn hint(shape: &Shape, value: &Value) -> Option<String> {
    let hint = match (shape, value) {
        // YAML reads `404`, `true`, `1.5` as a number or a boolean; quoted, they are text. A
        // quoted boolean is no quantity, so `weight: true` gets no such hint.
        (Shape::String, Value::Number(_) | Value::Bool(_))
        | (Shape::IntOrString, Value::Number(_)) => "quote it",
        // A Go duration needs its unit: `0` is not one, `"0s"` is.
        (Shape::Duration, Value::Number(n)) => {
            return Some(format!("write it with a unit: \"{n}s\""))
        }
        (Shape::Boolean, Value::String(s)) if matches!(s.as_str(), "true" | "false") => {
            "remove the quotes"
        }
        (Shape::Integer { .. } | Shape::Number, Value::String(s)) if s.parse::<f64>().is_ok() => {
            "remove the quotes"
        }
        (Shape::List(_), Value::Object(_)) => "start each item of the list with `- `",
        _ => return None,
    };
    Some(hint.to_string())
}
