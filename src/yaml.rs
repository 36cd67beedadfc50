//! The one place mesh touches a YAML library.
//!
//! `serde_yaml` is deprecated upstream; `yaml_serde` is its maintained continuation with the same API.
//! Everything else in mesh reads and writes YAML through these functions, so a future swap is one file.
//! Every YAML or JSON text mesh reads from a user (profiles, OpenAPI/Swagger documents, endpoints
//! files) is parsed here, so a byte-order mark is stripped here, once ([`strip_bom`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

mod locate;
mod strict;
pub use locate::{locate, parse_path, path_string, Step};
/// A YAML document as a tree that keeps every field, in the order written (its mappings keep
/// insertion order), for tools that edit manifests they do not fully know (`mesh inject`).
pub use yaml_serde::{Mapping, Value as Tree};

/// The UTF-8 byte-order mark that Windows editors (Notepad, some IDEs) write at the start of a file.
const BOM: char = '\u{feff}';

/// `text` without a leading UTF-8 byte-order mark.
///
/// The YAML parser is told its input is UTF-8, so it does not skip a mark as an encoding signature:
/// it would read it as content ("more than one document", or a first key that is not `apiVersion`).
/// Kubernetes' own readers skip it, and so does mesh, wherever YAML or JSON is read.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// A YAML document that could not be read into the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Dotted field path where decoding stopped (`spec.routes[2].condition`), empty at the root.
    pub path: String,
    /// What was wrong, without location.
    pub message: String,
    /// 1-based line and column of the offending text, when the parser knows it.
    pub location: Option<(usize, usize)>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() && self.path != "." {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.location {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// Decodes every document of a (possibly multi-document) YAML text into `T`.
pub fn from_str_all<T: DeserializeOwned>(text: &str) -> Vec<Result<T, DecodeError>> {
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(strip_bom(text)) {
        let decoded = serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            decode_error(path, e.into_inner())
        });
        let failed = decoded.is_err();
        out.push(decoded);
        // After a syntax error the parser cannot find the next document; it would repeat the error.
        if failed {
            break;
        }
    }
    out
}

/// Decodes a single YAML document into `T`, reporting the field path and location on failure.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    let doc = yaml_serde::Deserializer::from_str(strip_bom(text));
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        decode_error(path, e.into_inner())
    })
}

/// Reads YAML into a generic JSON value (YAML mapping keys such as `200` become strings).
pub fn to_json_value(text: &str) -> Result<serde_json::Value, DecodeError> {
    let doc = yaml_serde::Deserializer::from_str(strip_bom(text));
    serde_json::Value::deserialize(doc).map_err(|e| decode_error(String::new(), e))
}

/// Every document of a (possibly multi-document) YAML or JSON text as a generic value (mapping keys
/// such as `200` become strings), so that a caller can check each document whole.
///
/// A document that is not YAML at all (a syntax error) gives its error and ends the list: the parser
/// cannot find the next document after it. A document that parses but is no value (a key given
/// twice in one mapping, an unknown alias) gives its error, and the documents after it are still
/// read. Empty documents (a trailing `---`, a file of comments) are `Ok(Value::Null)`. A document's
/// 1-based position in the text is its index + 1.
pub fn documents(text: &str) -> Vec<Result<serde_json::Value, DecodeError>> {
    let mut out = Vec::new();
    let mut last_error: Option<(String, Option<(usize, usize)>)> = None;
    for doc in yaml_serde::Deserializer::from_str(strip_bom(text)) {
        match serde_path_to_error::deserialize::<_, strict::StrictValue>(doc) {
            Ok(strict::StrictValue(value)) => out.push(Ok(value)),
            Err(e) => {
                let path = e.path().to_string();
                let e = decode_error(path, e.into_inner());
                // After a syntax error the parser answers every further document with the same error
                // (at the same place, whatever field the first answer was reading).
                let cause = (e.message.clone(), e.location);
                if last_error.as_ref() == Some(&cause) {
                    break;
                }
                last_error = Some(cause);
                out.push(Err(e));
            }
        }
    }
    out
}

/// Every document of a (possibly multi-document) YAML text as a [`Tree`], fields in the order
/// written. A key given twice in one mapping is an error (as Kubernetes' strict decoding makes it).
/// After a syntax error the list ends with that error: the parser cannot find the next document.
/// Empty documents (a trailing `---`) are `Ok(Tree::Null)`; comments are not kept.
pub fn trees(text: &str) -> Vec<Result<Tree, DecodeError>> {
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(strip_bom(text)) {
        let tree = serde_path_to_error::deserialize::<_, Tree>(doc).map_err(|e| {
            let path = e.path().to_string();
            decode_error(path, e.into_inner())
        });
        let failed = tree.is_err();
        out.push(tree);
        if failed {
            break;
        }
    }
    out
}

/// Writes `value` as block-style YAML (two-space indent, list items at the parent's indentation).
///
/// Scalars are quoted the way Go's YAML library (and so `kubectl` and `linkerd`) does: strings that a
/// YAML 1.1 reader would take for booleans (`yes`, `on`, `N`) are double-quoted, and quoted strings use
/// double quotes.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, yaml_serde::Error> {
    Ok(yaml11_compatible(&yaml_serde::to_string(value)?))
}

/// Words YAML 1.1 reads as booleans; `yaml_serde` (YAML 1.2) writes them unquoted.
const YAML11_BOOLEANS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Whether a plain scalar that YAML 1.2 (and so `yaml_serde`) reads as a string is something else
/// to a YAML 1.1 reader (go-yaml v2 in `kubectl`, PyYAML): a boolean word, a number with `_`
/// (`1_000`), base 60 (`12:30`, `16:9`), binary (`0b101`), or a timestamp (`2006-01-02`). The
/// emitter writes real numbers in YAML 1.2's forms, which have none of these, so such a scalar
/// was a string and must be quoted to stay one.
fn yaml11_not_a_string(scalar: &str) -> bool {
    use std::sync::LazyLock;
    static OTHER: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(concat!(
            r"^(?:[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
            r"|[-+]?0b[01_]+",
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9].*)?)$",
        ))
        .expect("a valid pattern")
    });
    YAML11_BOOLEANS.contains(&scalar) || OTHER.is_match(scalar)
}

/// `scalar` double-quoted for YAML.
fn double_quoted(scalar: &str) -> String {
    format!("\"{}\"", scalar.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Rewrites single-line scalars of emitted YAML for YAML 1.1 readers, leaving block scalars alone.
fn yaml11_compatible(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut block_indent: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(block) = block_indent {
            if line.trim().is_empty() || indent > block {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            block_indent = None;
        }
        let (head, scalar) = split_scalar(line);
        if scalar.starts_with('|') || scalar.starts_with('>') {
            block_indent = Some(indent);
        }
        out.push_str(&quote_key(head));
        if yaml11_not_a_string(scalar) {
            out.push_str(&double_quoted(scalar));
        } else if let Some(inner) = scalar.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            out.push('"');
            out.push_str(
                &inner
                    .replace("''", "'")
                    .replace('\\', "\\\\")
                    .replace('"', "\\\""),
            );
            out.push('"');
        } else {
            out.push_str(scalar);
        }
        out.push('\n');
    }
    out
}

/// `head` (`  - key: `, `  key:`), with a plain key a YAML 1.1 reader would not read as a string
/// (`on`, `no`, `1_000`) quoted.
fn quote_key(head: &str) -> String {
    let body_start = head.len() - head.trim_start_matches([' ', '-']).len();
    let (indent, body) = head.split_at(body_start);
    let (key, rest) = match body.strip_suffix(": ") {
        Some(key) => (key, ": "),
        None => match body.strip_suffix(':') {
            Some(key) => (key, ":"),
            None => return head.to_string(),
        },
    };
    if yaml11_not_a_string(key) {
        format!("{indent}{}{rest}", double_quoted(key))
    } else {
        head.to_string()
    }
}

/// Splits `  key: value` / `  - value` into the part before the value and the value.
fn split_scalar(line: &str) -> (&str, &str) {
    let body_start = line.len() - line.trim_start_matches([' ', '-']).len();
    let body = &line[body_start..];
    let value_start = if body.starts_with(['\'', '"']) {
        0
    } else {
        body.find(": ").map_or(0, |i| i + 2)
    };
    line.split_at(body_start + value_start)
}

fn decode_error(path: String, err: yaml_serde::Error) -> DecodeError {
    let location = err.location().map(|l| (l.line(), l.column()));
    // The library appends " at line L column C"; the location is reported separately.
    let mut message = err.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    // The library prefixes its own (shorter) field path; the caller reports the full one. For an
    // error in a mapping key (one given twice) the caller's path stops at the mapping, and the
    // library's, which names the key, is the better one.
    let mut path = path;
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.contains(char::is_whitespace) {
            if matches!(path.as_str(), "" | ".") || prefix.starts_with(path.as_str()) {
                path = prefix.to_string();
            }
            if path.starts_with(prefix) {
                message = rest.to_string();
            }
        }
    }
    DecodeError {
        path,
        message,
        location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_yaml_1_1_reads_as_no_string_is_quoted_keys_included() {
        let value = serde_json::json!({
            "data": {"on": "1_000", "no": "x", "off": "2006-01-02", "plain": "10m"},
            "env": [{"name": "A", "value": "1_000"}, {"name": "B", "value": "12:30"},
                    {"name": "C", "value": "16:9"}, {"name": "D", "value": "0b101"}],
            "port": 8080,
            "ratio": 1.5,
        });
        let text = to_string(&value).unwrap();
        for quoted in [
            "\"on\": \"1_000\"",
            "\"no\": x",
            "\"off\": \"2006-01-02\"",
            "plain: 10m",
            "value: \"1_000\"",
            "value: \"12:30\"",
            "value: \"16:9\"",
            "value: \"0b101\"",
            "port: 8080",
            "ratio: 1.5",
        ] {
            assert!(text.contains(quoted), "{quoted:?} not in:\n{text}");
        }
        // Read back, everything is what it was.
        let back: serde_json::Value = from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_byte_order_mark_is_not_content() {
        let expected = serde_json::json!({"kind": "ServiceProfile", "b": ["x"]});
        for text in [
            "\u{feff}kind: ServiceProfile\nb: [x]\n",
            "\u{feff}---\nkind: ServiceProfile\nb: [x]\n",
            "\u{feff}{\"kind\": \"ServiceProfile\", \"b\": [\"x\"]}",
        ] {
            let value: serde_json::Value = from_str(text).unwrap();
            assert_eq!(value, expected, "{text:?}");
            assert_eq!(to_json_value(text).unwrap(), expected, "{text:?}");
            assert_eq!(documents(text), vec![Ok(expected.clone())], "{text:?}");
            let all = from_str_all::<serde_json::Value>(text);
            assert_eq!(all, vec![Ok(expected.clone())], "{text:?}");
        }
    }

    #[test]
    fn documents_go_on_after_a_bad_value_but_not_after_a_syntax_error() {
        let docs = documents("a: 1\na: 2\n---\nb: 1\n---\nc: [\n---\nd: 1\n");
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(
            docs[0].as_ref().unwrap_err().to_string(),
            "a: given twice in the same mapping (line 2, column 1)"
        );
        assert_eq!(docs[1], Ok(serde_json::json!({"b": 1})));
        let nested = documents("metadata:\n  name: a\n  name: b\n");
        assert_eq!(
            nested[0].as_ref().unwrap_err().to_string(),
            "metadata.name: given twice in the same mapping (line 3, column 3)"
        );
        assert!(docs[2].is_err());
        assert_eq!(
            documents("# only a comment\n"),
            vec![Ok(serde_json::Value::Null)]
        );
    }

    #[test]
    fn quotes_like_go_yaml() {
        let v = serde_json::json!({"a": "yes", "b": "1", "c": ["on", "it's"], "d": true, "e": "x: y", "f": "a\nb\nyes"});
        let text = to_string(&v).unwrap();
        assert_eq!(
            text,
            "a: \"yes\"\nb: \"1\"\nc:\n- \"on\"\n- it's\nd: true\ne: \"x: y\"\nf: |-\n  a\n  b\n  yes\n"
        );
        let back: serde_json::Value = from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
