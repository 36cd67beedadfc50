//! The one reader of ServiceProfile files, shared by `mesh profile check` and the proxy's
//! `--profiles` loader, so that both refuse the same documents in the same words.
//!
//! A file is read as YAML (JSON is YAML) document by document. A `kind: List` document, which
//! `kubectl get sp -o yaml` prints, stands for its `items`. Each profile is first checked against
//! its shape (`schema`): every problem is collected, each with its field path and line,
//! and only a profile without problems is decoded into the typed [`ServiceProfile`]. A document
//! that fails never stops the next one; only a YAML syntax error ends the file, as the parser cannot
//! find the next document after it.

use std::cell::Cell;
use std::fmt::{self, Write as _};

use serde_json::Value;

use super::matcher::FieldError;
use super::model::{ServiceProfile, KIND};
use super::schema::{self, Problem};
use crate::yaml::{locate, path_string, Step};

/// Where a profile sits in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    /// 1-based position of the YAML document in the file.
    pub document: usize,
    /// 0-based position in the document's `items`, when the document is a `List`.
    pub item: Option<usize>,
}

impl fmt::Display for Place {
    /// `document 2` or `document 1, items[3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(item) = self.item {
            write!(f, ", items[{item}]")?;
        }
        Ok(())
    }
}

/// One profile of a file: decoded, or every problem found in it (in the order of the file).
#[derive(Debug, Clone)]
pub struct DecodedProfile {
    /// Where it is.
    pub place: Place,
    /// The profile, or its problems: field paths relative to the profile (`spec.routes[0].name`),
    /// messages ending with the line and column, then a hint when there is one.
    pub profile: Result<ServiceProfile, Vec<FieldError>>,
}

/// Most problems reported for one profile.
const MAX_PROBLEMS: usize = 100;

/// Most problems of one file given a line: each is located by reading the text up to its document
/// again, so a large file full of mistakes (the proxy reads files of up to 4 MiB) stays cheap.
/// `check` locates what it finds about values within the same bound, counted apart.
pub(super) const MAX_LOCATED: usize = 100;

/// Kinds of documents whose `items` are the profiles: kubectl's `List`, and the API's own list type.
const LIST_KINDS: [&str; 2] = ["List", "ServiceProfileList"];

/// Every profile of `text`, in file order. Empty documents (a trailing `---`) are skipped, so an
/// empty result means the text holds no document at all.
pub fn decode_profiles(text: &str) -> Vec<DecodedProfile> {
    let mut out = Vec::new();
    let budget = Cell::new(MAX_LOCATED);
    for (index, document) in crate::yaml::documents(text).into_iter().enumerate() {
        let place = Place {
            document: index + 1,
            item: None,
        };
        let locator = Locator {
            text,
            document: index,
            prefix: Vec::new(),
            budget: &budget,
        };
        let value = match document {
            Ok(Value::Null) => continue,
            Ok(value) => value,
            Err(e) => {
                let mut message = e.message;
                if let Some((line, column)) = e.location {
                    let _ = write!(message, " (line {line}, column {column})");
                }
                let error = FieldError::new(e.path.trim_start_matches('.'), message);
                out.push(DecodedProfile {
                    place,
                    profile: Err(vec![error]),
                });
                continue;
            }
        };
        if !is_list(&value) {
            out.push(DecodedProfile {
                place,
                profile: decode_profile(&value, &locator),
            });
            continue;
        }
        let problems = schema::check(&value, &schema::LIST);
        let items = value.get("items").and_then(Value::as_array);
        let items = match items {
            Some(items) if problems.is_empty() => items,
            _ => {
                out.push(DecodedProfile {
                    place,
                    profile: Err(locator.errors(problems)),
                });
                continue;
            }
        };
        if items.is_empty() {
            out.push(DecodedProfile {
                place,
                profile: Err(vec![FieldError::new(
                    "items",
                    "the List holds no ServiceProfile",
                )]),
            });
        }
        for (i, item) in items.iter().enumerate() {
            let locator = Locator {
                prefix: vec![Step::Key("items".into()), Step::Index(i)],
                ..locator.clone()
            };
            out.push(DecodedProfile {
                place: Place {
                    item: Some(i),
                    ..place
                },
                profile: decode_profile(item, &locator),
            });
        }
    }
    out
}

fn is_list(value: &Value) -> bool {
    value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| LIST_KINDS.contains(&kind))
}

/// One profile: its shape checked, then decoded.
fn decode_profile(value: &Value, locator: &Locator) -> Result<ServiceProfile, Vec<FieldError>> {
    // Another kind of object (a Deployment in the same manifest) gets one error, not one per field.
    if let Some(kind) = value.get("kind").and_then(Value::as_str) {
        if kind != KIND {
            return Err(locator.errors(vec![Problem {
                path: vec![Step::Key("kind".into())],
                at_key: false,
                message: format!("expected {KIND}, found {kind:?}"),
                hint: None,
                number_shown: None,
            }]));
        }
    }
    let problems = schema::check(value, &schema::SERVICE_PROFILE);
    if !problems.is_empty() {
        return Err(locator.errors(problems));
    }
    // The shape holds, so the typed model reads it; if it ever did not, that is still reported.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                _ => None,
            })
            .collect();
        locator.errors(vec![Problem {
            path,
            at_key: false,
            message: e.into_inner().to_string(),
            hint: None,
            number_shown: None,
        }])
    })
}

/// Turns problems of one profile into errors naming their field and line.
#[derive(Clone)]
struct Locator<'a> {
    text: &'a str,
    /// 0-based document index.
    document: usize,
    /// Path of the profile within its document (`items[2]` in a List).
    prefix: Vec<Step>,
    /// How many more problems of the file may be located.
    budget: &'a Cell<usize>,
}

impl Locator<'_> {
    fn errors(&self, mut problems: Vec<Problem>) -> Vec<FieldError> {
        let hidden = problems.len().saturating_sub(MAX_PROBLEMS);
        problems.truncate(MAX_PROBLEMS);
        let mut located: Vec<(Option<(usize, usize)>, FieldError)> = problems
            .into_iter()
            .map(|p| {
                let full: Vec<Step> = self.prefix.iter().chain(&p.path).cloned().collect();
                let at = match self.budget.get() {
                    0 => None,
                    left => {
                        self.budget.set(left - 1);
                        locate(self.text, self.document, &full, p.at_key)
                    }
                };
                let mut message = p.message;
                // A number the parser had to round (past 64-bit integers) is shown as written.
                if let (Some(shown), Some((line, column))) = (&p.number_shown, at) {
                    if let Some(written) = plain_number_at(self.text, line, column) {
                        message = message.replacen(
                            &format!("the number {shown}"),
                            &format!("the number {written}"),
                            1,
                        );
                    }
                }
                if let Some((line, column)) = at {
                    let _ = write!(message, " (line {line}, column {column})");
                }
                if let Some(hint) = p.hint {
                    let _ = write!(message, "; {hint}");
                }
                (at, FieldError::new(path_string(&p.path), message))
            })
            .collect();
        // In the order of the file; the walk visits keys in its own (sorted) order.
        located.sort_by_key(|(at, _)| at.unwrap_or((usize::MAX, usize::MAX)));
        let mut errors: Vec<FieldError> = located.into_iter().map(|(_, e)| e).collect();
        if hidden > 0 {
            errors.push(FieldError::new(
                "",
                format!("{hidden} more problems not shown"),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests;

/// The plain (unquoted) number that begins at 1-based `line` and `column` of `text`, as written:
/// the characters up to the end of the scalar (a flow separator, a comment or the line's end).
/// `None` when what is there is quoted or not a number.
fn plain_number_at(text: &str, line: usize, column: usize) -> Option<&str> {
    let line = crate::yaml::strip_bom(text)
        .lines()
        .nth(line.checked_sub(1)?)?;
    let start = line.char_indices().nth(column.checked_sub(1)?)?.0;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| matches!(c, ',' | ']' | '}' | '#') || c.is_whitespace())
        .unwrap_or(rest.len());
    let token = &rest[..end];
    let numeric = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    (numeric && token.parse::<f64>().is_ok()).then_some(token)
}
