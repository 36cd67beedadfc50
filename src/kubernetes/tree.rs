//! Small reads and edits of YAML trees, by path, that keep every other field where it was.

use crate::yaml::{Mapping, Tree};

use super::FieldError;

/// The node at `path` below `map`.
pub(crate) fn get<'a>(map: &'a Mapping, path: &[&str]) -> Option<&'a Tree> {
    let (last, parents) = path.split_last()?;
    let mut here = map;
    for key in parents {
        here = here.get(*key)?.as_mapping()?;
    }
    here.get(*last)
}

/// The string at `path` below `map`.
pub(crate) fn get_str<'a>(map: &'a Mapping, path: &[&str]) -> Option<&'a str> {
    get(map, path)?.as_str()
}

/// The mapping under `key`, created (at the end) when absent. `field` names `key` in errors.
pub(crate) fn mapping_mut<'a>(
    map: &'a mut Mapping,
    key: &str,
    field: &str,
) -> Result<&'a mut Mapping, FieldError> {
    let node = map
        .entry(Tree::String(key.to_string()))
        .or_insert_with(|| Tree::Mapping(Mapping::new()));
    if node.is_null() {
        // `annotations:` with nothing after it reads as null; Kubernetes takes it as empty.
        *node = Tree::Mapping(Mapping::new());
    }
    node.as_mapping_mut()
        .ok_or_else(|| FieldError::new(field, "not a mapping"))
}

/// The list under `key`, created (at the end) when absent.
pub(crate) fn sequence_mut<'a>(
    map: &'a mut Mapping,
    key: &str,
    field: &str,
) -> Result<&'a mut Vec<Tree>, FieldError> {
    let node = map
        .entry(Tree::String(key.to_string()))
        .or_insert_with(|| Tree::Sequence(Vec::new()));
    if node.is_null() {
        *node = Tree::Sequence(Vec::new());
    }
    node.as_sequence_mut()
        .ok_or_else(|| FieldError::new(field, "not a list"))
}

/// Removes `key` from `map` keeping the order of the other keys.
pub(crate) fn remove(map: &mut Mapping, key: &str) -> Option<Tree> {
    map.shift_remove(key)
}

/// Removes the mapping or list under `key` if it is empty (one inject created, now emptied).
pub(crate) fn remove_if_empty(map: &mut Mapping, key: &str) {
    let empty = match map.get(key) {
        Some(Tree::Mapping(m)) => m.is_empty(),
        Some(Tree::Sequence(s)) => s.is_empty(),
        _ => false,
    };
    if empty {
        remove(map, key);
    }
}

/// The `name` of a container (or volume) entry.
pub(crate) fn name_of(entry: &Tree) -> Option<&str> {
    entry.as_mapping()?.get("name")?.as_str()
}

/// A string node.
pub(crate) fn s(text: impl Into<String>) -> Tree {
    Tree::String(text.into())
}

/// A number node.
pub(crate) fn n(number: u64) -> Tree {
    Tree::Number(number.into())
}

/// A mapping node with these entries, in this order.
pub(crate) fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Tree)>) -> Tree {
    Tree::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Tree::String(k.to_string()), v))
            .collect(),
    )
}

/// A list of strings.
pub(crate) fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Tree {
    Tree::Sequence(items.into_iter().map(|i| s(i)).collect())
}
