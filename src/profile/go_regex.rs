//! Regular-expression text exactly as Linkerd's Go generators write it.
//!
//! Profiles must be byte-identical to Linkerd's for the same input, so escaping follows Go's
//! `regexp.QuoteMeta` (only `\.+*?()|[]{}^$`), not `regex::escape`, which escapes more characters.
//! Path templates (`{param}`) are read by `path_template`.

/// The characters Go's `regexp.QuoteMeta` escapes.
const GO_META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

/// Escapes `text` the way Go's `regexp.QuoteMeta` does.
pub fn quote_meta(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if GO_META.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`quote_meta`] when `regex` is a plain literal: `Some(text)` if every metacharacter in it is
/// escaped, `None` if it is a real pattern.
pub fn literal_of(regex: &str) -> Option<String> {
    let mut out = String::with_capacity(regex.len());
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next()?;
            if !GO_META.contains(&next) {
                return None;
            }
            out.push(next);
        } else if GO_META.contains(&c) {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_meta_escapes_only_go_metacharacters() {
        assert_eq!(
            quote_meta(r"a.b+c*d?e(f)g|h[i]j{k}l^m$n\o"),
            r"a\.b\+c\*d\?e\(f\)g\|h\[i\]j\{k\}l\^m\$n\\o"
        );
        // Characters Rust's regex::escape would escape but Go leaves alone.
        assert_eq!(quote_meta("/a-b#c&d~e"), "/a-b#c&d~e");
    }

    #[test]
    fn literal_of_inverts_quote_meta() {
        assert_eq!(literal_of(r"/api/v1\.0/x").as_deref(), Some("/api/v1.0/x"));
        assert_eq!(literal_of("/api/[^/]*"), None);
        assert_eq!(literal_of(r"/a\d"), None);
    }
}
