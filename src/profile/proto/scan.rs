//! The services-only reader: package, services, rpcs and their `idempotency_level`, read from a
//! `.proto` file's tokens for files `protobuf-parse` cannot turn into descriptors — imports that
//! cannot be found, syntax it does not know (`edition = "2023"`), option forms it refuses.
//!
//! It checks the shape of what it reads: top-level statements, and services and rpcs in full
//! (`rpc Name(Req) returns (Res);` or with an option block). Message, enum and extend bodies are only
//! required to balance their braces: routes need nothing from them. Any input gives a result or a
//! `(line, column, message)` error, never a panic.

use protobuf_support::lexer::parser_language::ParserLanguage;
use protobuf_support::lexer::token::Token;
use protobuf_support::lexer::tokenizer::Tokenizer;

use self::tokens::{tokens, Reader};
use super::Rpc;

mod tokens;

/// A syntax problem: `(line, column, message)`, 1-based.
pub(super) type ScanError = (u32, u32, String);

/// What the reader found in one file.
#[derive(Debug, Default)]
pub(super) struct Scanned {
    /// The rpcs of every service, in file order.
    pub rpcs: Vec<Rpc>,
    /// The file's `edition = "…"`, when it declares one.
    pub edition: Option<String>,
    /// `idempotency_level` options written in a form protoc refuses but Linkerd reads.
    pub loose_options: Vec<LooseOption>,
}

/// An `idempotency_level` option with a quoted level (`= "IDEMPOTENT"`) or a parenthesised name
/// (`(idempotency_level)`). protoc refuses both (the level is an enum, and a parenthesised name is an
/// extension); Linkerd's generator accepts both, and its tests expect them to make a route retryable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LooseOption {
    pub line: u32,
    pub column: u32,
    /// The rpc the option belongs to.
    pub rpc: String,
    /// The option as written, without its `;`.
    pub written: String,
    /// The level, unquoted.
    pub level: String,
}

/// Reads `content`; see the module documentation for what is checked.
pub(super) fn scan(content: &str) -> Result<Scanned, ScanError> {
    let mut reader = Reader {
        tokens: tokens(content)?,
        at: 0,
    };
    let mut scanned = Scanned::default();
    let mut package = String::new();
    while let Some(token) = reader.peek() {
        let word = match token {
            Token::Symbol(';') => {
                reader.at += 1;
                continue;
            }
            Token::Ident(word) => word.clone(),
            _ => return reader.fail("a top-level statement"),
        };
        reader.at += 1;
        match word.as_str() {
            "syntax" | "edition" => {
                reader.expect_symbol('=')?;
                let value = reader.str_lit(&format!("the {word} as a string"))?;
                reader.expect_symbol(';')?;
                if word == "edition" {
                    scanned.edition = Some(value);
                }
            }
            "package" => {
                package = reader.full_ident("a package name")?;
                reader.expect_symbol(';')?;
            }
            "import" => {
                reader.eat_ident(&["weak", "public", "option"]);
                reader.str_lit("the imported file as a string")?;
                reader.expect_symbol(';')?;
            }
            "option" => reader.skip_statement()?,
            "message" | "enum" | "extend" | "export" | "local" => {
                if word == "export" || word == "local" {
                    // Edition 2024 visibility: `export message M { … }`.
                    reader.eat_ident(&["message", "enum", "service"]);
                }
                reader.type_name(&format!("a name after {word}"))?;
                reader.skip_block()?;
            }
            "service" => {
                let service = reader.ident("a service name")?;
                reader.expect_symbol('{')?;
                read_service(&mut reader, &package, &service, &mut scanned)?;
            }
            _ => {
                reader.at -= 1;
                return reader.fail(
                    "a top-level statement (syntax, edition, package, import, option, message, \
                     enum, extend or service)",
                );
            }
        }
    }
    Ok(scanned)
}

/// A service's body, after its `{`, through its `}`.
fn read_service(
    reader: &mut Reader,
    package: &str,
    service: &str,
    scanned: &mut Scanned,
) -> Result<(), ScanError> {
    loop {
        match reader.peek() {
            Some(Token::Symbol('}')) => {
                reader.at += 1;
                return Ok(());
            }
            Some(Token::Symbol(';')) => reader.at += 1,
            Some(Token::Ident(w)) if w == "option" => {
                reader.at += 1;
                reader.skip_statement()?;
            }
            Some(Token::Ident(w)) if w == "rpc" => {
                reader.at += 1;
                let rpc = read_rpc(reader, package, service, &mut scanned.loose_options)?;
                scanned.rpcs.push(rpc);
            }
            _ => return reader.fail(&format!("rpc, option or `}}` in service {service}")),
        }
    }
}

/// `Name(Req) returns (Res)` then `;` or an option block, after `rpc`.
fn read_rpc(
    reader: &mut Reader,
    package: &str,
    service: &str,
    loose: &mut Vec<LooseOption>,
) -> Result<Rpc, ScanError> {
    let name = reader.ident("an rpc name")?;
    for (i, what) in ["the request type", "the response type"]
        .into_iter()
        .enumerate()
    {
        if i == 1 && !reader.eat_ident(&["returns"]) {
            return reader.fail("`returns`");
        }
        reader.expect_symbol('(')?;
        // `stream` is a keyword only when a type follows it.
        if reader.is_ident("stream")
            && matches!(
                reader.peek_at(1),
                Some(Token::Ident(_) | Token::Symbol('.'))
            )
        {
            reader.at += 1;
        }
        reader.type_name(what)?;
        reader.expect_symbol(')')?;
    }
    let mut rpc = Rpc {
        package: package.to_string(),
        service: service.to_string(),
        name,
        retryable: false,
    };
    if reader.eat_symbol(';') {
        return Ok(rpc);
    }
    reader.expect_symbol('{')?;
    loop {
        match reader.peek() {
            Some(Token::Symbol('}')) => {
                reader.at += 1;
                return Ok(rpc);
            }
            Some(Token::Symbol(';')) => reader.at += 1,
            Some(Token::Ident(w)) if w == "option" => {
                let (line, column) = reader.location();
                reader.at += 1;
                if let Some(level) = read_idempotency(reader, &rpc.name, (line, column), loose)? {
                    rpc.retryable = is_retryable_level(&level);
                }
            }
            _ => return reader.fail(&format!("option or `}}` in rpc {}", rpc.name)),
        }
    }
}

/// One rpc option, after `option`, through its `;`: the level when it is `idempotency_level`, in the
/// standard form or a loose one (recorded in `loose`).
fn read_idempotency(
    reader: &mut Reader,
    rpc: &str,
    (line, column): (u32, u32),
    loose: &mut Vec<LooseOption>,
) -> Result<Option<String>, ScanError> {
    let start = reader.at;
    while !matches!(reader.peek(), Some(Token::Symbol('='))) {
        match reader.peek() {
            None | Some(Token::Symbol(';' | '{' | '}')) => return reader.fail("`=` in the option"),
            Some(_) => reader.at += 1,
        }
    }
    if reader.at == start {
        return reader.fail("an option name");
    }
    let name = &reader.tokens[start..reader.at];
    let plain = matches!(name, [t] if t.token == Token::Ident("idempotency_level".into()));
    let parenthesised = matches!(
        name,
        [a, b, c] if a.token == Token::Symbol('(')
            && b.token == Token::Ident("idempotency_level".into())
            && c.token == Token::Symbol(')')
    );
    let written_name: String = name.iter().map(|t| t.token.format()).collect();
    reader.at += 1;
    let value = match (reader.peek(), reader.peek_at(1)) {
        (Some(value @ (Token::Ident(_) | Token::StrLit(_))), Some(Token::Symbol(';'))) => {
            value.clone()
        }
        _ => {
            // An aggregate or numeric value: not an idempotency level.
            reader.skip_statement()?;
            return Ok(None);
        }
    };
    reader.at += 2;
    if !plain && !parenthesised {
        return Ok(None);
    }
    let level = match &value {
        Token::Ident(level) => level.clone(),
        Token::StrLit(text) => text.decode_utf8().unwrap_or_default(),
        _ => return Ok(None),
    };
    if parenthesised || matches!(value, Token::StrLit(_)) {
        loose.push(LooseOption {
            line,
            column,
            rpc: rpc.to_string(),
            written: format!("option {written_name} = {}", value.format()),
            level: level.clone(),
        });
    }
    Ok(Some(level))
}

/// Whether an `idempotency_level` makes a route retryable: `IDEMPOTENT` or `NO_SIDE_EFFECTS`.
pub(super) fn is_retryable_level(level: &str) -> bool {
    level == "IDEMPOTENT" || level == "NO_SIDE_EFFECTS"
}

/// Fails with the `(line, column, message)` of the first `{`, `[`, `(` or `<` nested deeper than
/// `max`. `protobuf-parse` recurses once per level, and a file nested thousands deep would overflow
/// its stack: an abort, not an error. Text that does not tokenize is left to the parser to report.
pub(super) fn check_nesting(content: &str, max: usize) -> Result<(), ScanError> {
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

#[cfg(test)]
mod tests;
