//! The reader's tokens: the `protobuf-support` tokenizer's output with locations, and a cursor over
//! it whose failures say what was expected and where.

use protobuf_support::lexer::parser_language::ParserLanguage;
use protobuf_support::lexer::token::Token;
use protobuf_support::lexer::tokenizer::Tokenizer;

use super::ScanError;

/// A token and where it starts.
pub(super) struct Located {
    pub token: Token,
    pub line: u32,
    pub column: u32,
}

/// A cursor over a file's tokens.
pub(super) struct Reader {
    pub tokens: Vec<Located>,
    /// Index of the current token.
    pub at: usize,
}

impl Reader {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.peek_at(0)
    }

    pub(super) fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.at + ahead).map(|t| &t.token)
    }

    /// Where the current token starts (the last token's start at the end of the file).
    pub(super) fn location(&self) -> (u32, u32) {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or((1, 1), |t| (t.line, t.column))
    }

    pub(super) fn fail<T>(&self, expected: &str) -> Result<T, ScanError> {
        let (line, column) = self.location();
        let found = match self.peek() {
            Some(token) => format!("`{}`", token.format()),
            None => "the end of the file".to_string(),
        };
        Err((line, column, format!("expected {expected}, found {found}")))
    }

    pub(super) fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    pub(super) fn eat_ident(&mut self, words: &[&str]) -> bool {
        let found = matches!(self.peek(), Some(Token::Ident(w)) if words.contains(&w.as_str()));
        self.at += usize::from(found);
        found
    }

    pub(super) fn eat_symbol(&mut self, symbol: char) -> bool {
        let found = self.peek() == Some(&Token::Symbol(symbol));
        self.at += usize::from(found);
        found
    }

    pub(super) fn expect_symbol(&mut self, symbol: char) -> Result<(), ScanError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            self.fail(&format!("`{symbol}`"))
        }
    }

    pub(super) fn ident(&mut self, what: &str) -> Result<String, ScanError> {
        match self.peek() {
            Some(Token::Ident(name)) => {
                let name = name.clone();
                self.at += 1;
                Ok(name)
            }
            _ => self.fail(what),
        }
    }

    /// `a.b.c`.
    pub(super) fn full_ident(&mut self, what: &str) -> Result<String, ScanError> {
        let mut name = self.ident(what)?;
        while self.eat_symbol('.') {
            name.push('.');
            name.push_str(&self.ident(what)?);
        }
        Ok(name)
    }

    /// `a.b.C` or `.a.b.C`.
    pub(super) fn type_name(&mut self, what: &str) -> Result<String, ScanError> {
        let absolute = self.eat_symbol('.');
        let name = self.full_ident(what)?;
        Ok(if absolute { format!(".{name}") } else { name })
    }

    pub(super) fn str_lit(&mut self, what: &str) -> Result<String, ScanError> {
        match self.peek() {
            Some(Token::StrLit(text)) => match text.decode_utf8() {
                Ok(value) => {
                    self.at += 1;
                    Ok(value)
                }
                Err(_) => self.fail(what),
            },
            _ => self.fail(what),
        }
    }

    /// Through the `;` ending the statement, skipping balanced `{…}` and `[…]` (aggregate values).
    pub(super) fn skip_statement(&mut self) -> Result<(), ScanError> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(Token::Symbol(';')) if depth == 0 => {
                    self.at += 1;
                    return Ok(());
                }
                Some(Token::Symbol('{' | '[')) => depth += 1,
                Some(Token::Symbol('}' | ']')) if depth == 0 => return self.fail("`;`"),
                Some(Token::Symbol('}' | ']')) => depth -= 1,
                None => return self.fail("`;`"),
                Some(_) => {}
            }
            self.at += 1;
        }
    }

    /// A `{…}` block with balanced braces, from its `{` through its `}`.
    pub(super) fn skip_block(&mut self) -> Result<(), ScanError> {
        self.expect_symbol('{')?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek() {
                Some(Token::Symbol('{')) => depth += 1,
                Some(Token::Symbol('}')) => depth -= 1,
                None => return self.fail("`}`"),
                Some(_) => {}
            }
            self.at += 1;
        }
        Ok(())
    }
}

/// Every token of `content` with where it starts, or where the text stops tokenizing.
pub(super) fn tokens(content: &str) -> Result<Vec<Located>, ScanError> {
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
        // After the look-ahead above, the location of the token about to be read.
        let loc = tokenizer.loc();
        match tokenizer.next_some() {
            Ok(token) => tokens.push(Located {
                token,
                line: loc.line,
                column: loc.col,
            }),
            Err(e) => return Err(fail(&tokenizer, &e)),
        }
    }
}
