//! Reads package, services and rpcs from a `.proto` file's tokens, for files whose imports are not
//! available. Only called after `protobuf-parse` accepted the file's syntax, so the token stream is a
//! valid file and this walk only needs to find the service blocks.

use protobuf_support::lexer::parser_language::ParserLanguage;
use protobuf_support::lexer::token::Token;
use protobuf_support::lexer::tokenizer::Tokenizer;

use super::Rpc;

/// The rpcs of every service in file order, or `(line, column, message)` if the text does not
/// tokenize.
pub(super) fn rpcs(content: &str) -> Result<Vec<Rpc>, (u32, u32, String)> {
    let tokens = tokens(content)?;
    let mut package = String::new();
    let mut rpcs = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(word) if word == "package" => {
                let end = find_symbol(&tokens, i, ';');
                package = tokens[i + 1..end].iter().map(Token::format).collect();
                i = end + 1;
            }
            Token::Ident(word) if word == "service" => {
                let service = ident(&tokens, i + 1);
                let open = find_symbol(&tokens, i, '{');
                let close = matching_brace(&tokens, open);
                service_rpcs(&tokens[open + 1..close], &package, &service, &mut rpcs);
                i = close + 1;
            }
            Token::Symbol('{') => i = matching_brace(&tokens, i) + 1,
            _ => i += 1,
        }
    }
    Ok(rpcs)
}

fn service_rpcs(body: &[Token], package: &str, service: &str, out: &mut Vec<Rpc>) {
    let mut i = 0;
    while i < body.len() {
        match &body[i] {
            Token::Ident(word) if word == "rpc" => {
                let name = ident(body, i + 1);
                let end = body[i..]
                    .iter()
                    .position(|t| matches!(t, Token::Symbol(';' | '{')))
                    .map_or(body.len(), |p| i + p);
                let (options, next) = if matches!(body.get(end), Some(Token::Symbol('{'))) {
                    let close = matching_brace(body, end);
                    (&body[end + 1..close], close + 1)
                } else {
                    (&body[0..0], end + 1)
                };
                out.push(Rpc {
                    package: package.to_string(),
                    service: service.to_string(),
                    name,
                    retryable: is_retryable(options),
                });
                i = next;
            }
            Token::Symbol('{') => i = matching_brace(body, i) + 1,
            _ => i += 1,
        }
    }
}

/// `option idempotency_level = IDEMPOTENT | NO_SIDE_EFFECTS;` among an rpc's options.
fn is_retryable(options: &[Token]) -> bool {
    options.windows(4).any(|w| {
        matches!(
            w,
            [Token::Ident(opt), Token::Ident(name), Token::Symbol('='), Token::Ident(level)]
                if opt == "option" && name == "idempotency_level"
                    && (level == "IDEMPOTENT" || level == "NO_SIDE_EFFECTS")
        )
    })
}

/// Fails with the `(line, column, message)` of the first `{`, `[`, `(` or `<` nested deeper than
/// `max`. `protobuf-parse` recurses once per level, and a file nested thousands deep would overflow
/// its stack: an abort, not an error. Text that does not tokenize is left to the parser to report.
pub(super) fn check_nesting(content: &str, max: usize) -> Result<(), (u32, u32, String)> {
    let mut tokenizer = Tokenizer::new(content, ParserLanguage::Proto);
    let mut depth = 0usize;
    while let Ok(false) = tokenizer.syntax_eof() {
        let loc = tokenizer.loc();
        match tokenizer.next_some() {
            Ok(Token::Symbol('{' | '[' | '(' | '<')) => {
                depth += 1;
                if depth > max {
                    let message = format!("nested more than {max} levels deep");
                    return Err((loc.line, loc.col, message));
                }
            }
            Ok(Token::Symbol('}' | ']' | ')' | '>')) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn tokens(content: &str) -> Result<Vec<Token>, (u32, u32, String)> {
    let mut tokenizer = Tokenizer::new(content, ParserLanguage::Proto);
    let mut tokens = Vec::new();
    loop {
        let fail = |t: &Tokenizer, e: &dyn std::fmt::Display| {
            let loc = t.loc();
            (loc.line, loc.col, e.to_string())
        };
        match tokenizer.syntax_eof() {
            Ok(true) => return Ok(tokens),
            Ok(false) => {}
            Err(e) => return Err(fail(&tokenizer, &e)),
        }
        match tokenizer.next_some() {
            Ok(token) => tokens.push(token),
            Err(e) => return Err(fail(&tokenizer, &e)),
        }
    }
}

fn ident(tokens: &[Token], at: usize) -> String {
    match tokens.get(at) {
        Some(Token::Ident(name)) => name.clone(),
        _ => String::new(),
    }
}

fn find_symbol(tokens: &[Token], from: usize, symbol: char) -> usize {
    tokens[from..]
        .iter()
        .position(|t| *t == Token::Symbol(symbol))
        .map_or(tokens.len(), |p| from + p)
}

/// Index of the `}` closing the `{` at `open` (or the end, for a truncated stream).
fn matching_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Symbol('{') => depth += 1,
            Token::Symbol('}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("message M {{ option (x) = {}; }}", "{a".repeat(n));
        assert_eq!(check_nesting(&nested(5), 8), Ok(()));
        let (line, column, message) = check_nesting(&nested(8), 8).unwrap_err();
        assert_eq!((line, column), (1, 40), "the brace one level too deep");
        assert_eq!(message, "nested more than 8 levels deep");
        assert_eq!(check_nesting("/* {{{{ */ \"{{{{\" }}}}", 2), Ok(()));
    }

    #[test]
    fn finds_services_rpcs_and_idempotency() {
        let text = r#"
syntax = "proto3";
package a.b;
import "missing.proto";
message M { string service = 1; map<string, string> rpc = 2; }
service S {
  option deprecated = true;
  rpc One(other.X) returns (stream other.Y);
  rpc Two(M) returns (M) { option idempotency_level = IDEMPOTENT; option (x.y) = { a: 1 }; }
}
service T { rpc Three(M) returns (M) {} }
"#;
        let rpcs = rpcs(text).unwrap();
        let names: Vec<_> = rpcs
            .iter()
            .map(|r| (r.service.as_str(), r.name.as_str(), r.retryable))
            .collect();
        assert_eq!(
            names,
            [
                ("S", "One", false),
                ("S", "Two", true),
                ("T", "Three", false)
            ]
        );
        assert!(rpcs.iter().all(|r| r.package == "a.b"));
    }
}
