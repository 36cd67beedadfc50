//! Where a field sits in a YAML text: line and column of a path such as `spec.routes[0].name`.
//!
//! Checks walk a generic value (see [`super::documents`]), which has no positions. The line is found
//! afterwards, only for the fields reported: the document is read again, descending along the path
//! and failing on purpose at its end, and the parser's error carries the position of the node it was
//! reading. A report has a handful of errors, so a few extra reads cost far less than keeping a
//! position for every node of every document.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into a document: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A key of a mapping (`spec`).
    Key(String),
    /// A 0-based position in a list (`[2]`).
    Index(usize),
}

/// Renders a path as mesh prints field paths: `spec.routes[0].condition` (empty for the root).
pub fn path_string(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) if out.is_empty() => out.push_str(key),
            Step::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// Reads a path as [`path_string`] renders it (`spec.routes[0].condition`) back into steps. Keys
/// are taken as written between dots, so a key that itself holds a `.` or `[` does not round-trip;
/// the field paths mesh reports never have such keys.
pub fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|part| !part.is_empty()) {
        let (key, mut indexes) = match part.find('[') {
            Some(open) => (&part[..open], &part[open..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while let Some(rest) = indexes.strip_prefix('[') {
            let Some(close) = rest.find(']') else { break };
            match rest[..close].parse() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) => break,
            }
            indexes = &rest[close + 1..];
        }
    }
    steps
}

/// 1-based line and column of the node at `path` in document `document` (0-based) of `text`, or of
/// the key that names it when `at_key` (an unknown field is pointed at by its key). `None` when the
/// path is not in the document.
pub fn locate(text: &str, document: usize, path: &[Step], at_key: bool) -> Option<(usize, usize)> {
    let doc = yaml_serde::Deserializer::from_str(super::strip_bom(text)).nth(document)?;
    let probe = Probe { path, at_key };
    match probe.deserialize(doc) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| (l.line(), l.column())),
    }
}

/// The marker error a probe fails with once it reaches its node.
const HERE: &str = "here";

/// Descends along `path`; at its end, fails on the node (or on the key naming it).
struct Probe<'a> {
    path: &'a [Step],
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.path.first() {
            // Reading the node in any way fails, so the error carries the node's position.
            None => d.deserialize_any(Fail),
            Some(Step::Key(key)) => d.deserialize_map(InMap {
                key,
                rest: &self.path[1..],
                at_key: self.at_key,
            }),
            Some(Step::Index(index)) => d.deserialize_seq(InSeq {
                index: *index,
                rest: &self.path[1..],
                at_key: self.at_key,
            }),
        }
    }
}

/// Fails on whatever node it is given.
struct Fail;

impl Visitor<'_> for Fail {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HERE)
    }
}

/// Looks for `key` in a mapping.
struct InMap<'a> {
    key: &'a str,
    rest: &'a [Step],
    at_key: bool,
}

impl<'de> Visitor<'de> for InMap<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fail_on_key = self.at_key && self.rest.is_empty();
        // Every entry is read: the parser counts them, and a mapping left half-read is an error.
        while let Some(found) = map.next_key_seed(Key {
            wanted: self.key,
            fail: fail_on_key,
        })? {
            if found {
                map.next_value_seed(Probe {
                    path: self.rest,
                    at_key: self.at_key,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A mapping key: whether it is the one wanted; failing on it when `fail`.
struct Key<'a> {
    wanted: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl Key<'_> {
    fn compare<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.fail => Err(E::custom(HERE)),
            matched => Ok(matched),
        }
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.compare(v)
    }

    // Keys such as `200` or `true` appear in the generic value as their text.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.compare(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.compare(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.compare(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.compare(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.compare("null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Looks for position `index` in a list.
struct InSeq<'a> {
    index: usize,
    rest: &'a [Step],
    at_key: bool,
}

impl<'de> Visitor<'de> for InSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Probe {
            path: self.rest,
            at_key: self.at_key,
        })?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    const TEXT: &str =
        "a: 1\n---\nspec:\n  routes:\n  - name: x\n    condition: {method: GET}\n  - name: 404\n";

    #[test]
    fn finds_values_keys_and_list_items_in_the_right_document() {
        let name = [key("spec"), key("routes"), Step::Index(1), key("name")];
        assert_eq!(locate(TEXT, 1, &name, false), Some((7, 11)));
        assert_eq!(locate(TEXT, 1, &name, true), Some((7, 5)));
        let method = [
            key("spec"),
            key("routes"),
            Step::Index(0),
            key("condition"),
            key("method"),
        ];
        assert_eq!(locate(TEXT, 1, &method, false), Some((6, 25)));
        assert_eq!(locate(TEXT, 0, &[key("a")], false), Some((1, 4)));
        assert_eq!(locate(TEXT, 1, &[key("nope")], false), None);
        assert_eq!(locate(TEXT, 2, &[], false), None);
        assert_eq!(path_string(&name), "spec.routes[1].name");
    }

    #[test]
    fn a_byte_order_mark_does_not_shift_positions() {
        let text = format!("\u{feff}{TEXT}");
        let name = [key("spec"), key("routes"), Step::Index(1), key("name")];
        assert_eq!(locate(&text, 1, &name, false), Some((7, 11)));
    }

    #[test]
    fn a_rendered_path_reads_back_into_its_steps() {
        let path = [
            key("spec"),
            key("routes"),
            Step::Index(12),
            key("responseClasses"),
            Step::Index(0),
            key("condition"),
        ];
        assert_eq!(parse_path(&path_string(&path)), path);
        assert_eq!(parse_path(""), vec![]);
        assert_eq!(
            parse_path("items[2][3].x"),
            vec![key("items"), Step::Index(2), Step::Index(3), key("x")]
        );
    }
}
