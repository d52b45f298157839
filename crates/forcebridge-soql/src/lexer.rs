//! The SOQL lexer: text → tokens with their row and column.
//!
//! Keywords are not tokens of their own: SOQL keywords are case-insensitive and several of them
//! (`Group`, `Order`, date literals) are also valid names, so the parser decides by context. The
//! lexer only recognises the shapes that cannot be names: quoted strings (with Salesforce's
//! backslash escapes), numbers, dates and datetimes, operators and punctuation.
//!
//! Invariant: every token carries the position of its first character; the lexer never panics and
//! reports the first character it cannot read as `MALFORMED_QUERY` at that position.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::{Pos, SoqlError};

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword, as written (`Account`, `select`, `Owner.Name` is three tokens).
    Ident(String),
    /// A quoted string, escapes decoded except `\%` and `\_`, which stay escaped for `LIKE`.
    Str(String),
    /// A number, as written (sign included); parsed by the evaluator against the field's type.
    Number(String),
    /// `YYYY-MM-DD`.
    Date(NaiveDate),
    /// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh[:]mm)`.
    DateTime(DateTime<FixedOffset>),
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `:`
    Colon,
    /// `=`
    Eq,
    /// `!=` or `<>`; the text is kept for error messages.
    Ne(&'static str),
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// End of input.
    Eof,
}

impl Tok {
    /// The token as Salesforce quotes it in `unexpected token: '...'`.
    pub fn display(&self, text: &str, pos: Pos) -> String {
        match self {
            Tok::Eof => "<EOF>".to_string(),
            Tok::Ident(s) => s.clone(),
            // Literals are quoted back as written in the query text.
            Tok::Str(_) | Tok::Number(_) | Tok::Date(_) | Tok::DateTime(_) => {
                text.get(pos.offset..).map(first_lexeme).unwrap_or_default()
            }
            Tok::Comma => ",".into(),
            Tok::Dot => ".".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Colon => ":".into(),
            Tok::Eq => "=".into(),
            Tok::Ne(s) => (*s).into(),
            Tok::Lt => "<".into(),
            Tok::Le => "<=".into(),
            Tok::Gt => ">".into(),
            Tok::Ge => ">=".into(),
        }
    }
}

/// The literal at the start of `s` as written (a quoted string up to its closing quote, else up to
/// the next separator).
fn first_lexeme(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('\'') {
        let mut out = String::from("'");
        let mut escaped = false;
        for c in rest.chars() {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '\'' {
                break;
            }
        }
        return out;
    }
    s.chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '(' | ')'))
        .collect()
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
///
/// # Errors
/// `MALFORMED_QUERY` at the first character that starts no token, or an unterminated string.
pub fn lex(text: &str) -> Result<Vec<Token>, SoqlError> {
    let mut lx = Lexer {
        text,
        chars: text.char_indices().collect(),
        i: 0,
        row: 1,
        col: 1,
        out: Vec::new(),
    };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    row: usize,
    col: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).map(|&(_, c)| c)
    }

    fn pos(&self) -> Pos {
        Pos {
            offset: self.chars.get(self.i).map_or(self.text.len(), |&(o, _)| o),
            row: self.row,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == '\n' {
            self.row += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn push(&mut self, tok: Tok, pos: Pos) {
        self.out.push(Token { tok, pos });
    }

    fn run(&mut self) -> Result<(), SoqlError> {
        while let Some(c) = self.peek(0) {
            let pos = self.pos();
            match c {
                c if c.is_whitespace() => {
                    self.bump();
                }
                ',' => self.single(Tok::Comma, pos),
                '.' => self.single(Tok::Dot, pos),
                '(' => self.single(Tok::LParen, pos),
                ')' => self.single(Tok::RParen, pos),
                ':' => self.single(Tok::Colon, pos),
                '=' => self.single(Tok::Eq, pos),
                '!' if self.peek(1) == Some('=') => {
                    self.bump();
                    self.single(Tok::Ne("!="), pos);
                }
                '<' => {
                    self.bump();
                    match self.peek(0) {
                        Some('=') => self.single(Tok::Le, pos),
                        Some('>') => self.single(Tok::Ne("<>"), pos),
                        _ => self.push(Tok::Lt, pos),
                    }
                }
                '>' => {
                    self.bump();
                    if self.peek(0) == Some('=') {
                        self.single(Tok::Ge, pos);
                    } else {
                        self.push(Tok::Gt, pos);
                    }
                }
                '\'' => self.string(pos)?,
                c if c.is_ascii_digit() => self.number_or_date(pos),
                '-' | '+' if self.peek(1).is_some_and(|d| d.is_ascii_digit() || d == '.') => {
                    self.number_or_date(pos)
                }
                c if c.is_alphabetic() || c == '_' => {
                    let mut s = String::new();
                    while let Some(c) = self.peek(0) {
                        if c.is_alphanumeric() || c == '_' {
                            s.push(c);
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    self.push(Tok::Ident(s), pos);
                }
                other => {
                    return Err(SoqlError::no_viable_alternative(self.text, pos, other));
                }
            }
        }
        let pos = self.pos();
        self.push(Tok::Eof, pos);
        Ok(())
    }

    fn single(&mut self, tok: Tok, pos: Pos) {
        self.bump();
        self.push(tok, pos);
    }

    fn string(&mut self, pos: Pos) -> Result<(), SoqlError> {
        self.bump();
        let mut s = String::new();
        loop {
            let Some(c) = self.bump() else {
                // An unterminated string: the quote that opens it is the token that cannot be read.
                return Err(SoqlError::unexpected(self.text, pos, "'"));
            };
            match c {
                '\'' => break,
                '\\' => {
                    let esc_pos = self.pos();
                    let Some(e) = self.bump() else { continue };
                    match e {
                        'n' | 'N' => s.push('\n'),
                        't' | 'T' => s.push('\t'),
                        'r' | 'R' => s.push('\r'),
                        'b' | 'B' => s.push('\u{8}'),
                        'f' | 'F' => s.push('\u{c}'),
                        '"' => s.push('"'),
                        '\'' => s.push('\''),
                        '\\' => s.push('\\'),
                        // Kept escaped: only LIKE gives them a meaning (a literal % or _).
                        '%' | '_' => {
                            s.push('\\');
                            s.push(e);
                        }
                        'u' | 'U' => {
                            let mut hex = String::new();
                            for _ in 0..4 {
                                match self.peek(0) {
                                    Some(h) if h.is_ascii_hexdigit() => {
                                        hex.push(h);
                                        self.bump();
                                    }
                                    _ => break,
                                }
                            }
                            let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                            match ch {
                                Some(ch) if hex.len() == 4 => s.push(ch),
                                _ => {
                                    return Err(SoqlError::malformed_at(
                                        self.text,
                                        esc_pos,
                                        "Invalid unicode escape sequence in string literal",
                                    ));
                                }
                            }
                        }
                        _ => {
                            return Err(SoqlError::malformed_at(
                                self.text,
                                esc_pos,
                                &format!(
                                    "Invalid string literal '\\{e}'. Illegal character sequence '\\{e}' in string literal."
                                ),
                            ));
                        }
                    }
                }
                c => s.push(c),
            }
        }
        self.push(Tok::Str(s), pos);
        Ok(())
    }

    /// A number, a date or a datetime: all start with a digit (or a sign) and run until a
    /// separator. The longest valid reading wins.
    fn number_or_date(&mut self, pos: Pos) {
        let start = self.i;
        let mut lexeme = String::new();
        if let Some(c @ ('-' | '+')) = self.peek(0) {
            lexeme.push(c);
            self.bump();
        }
        while let Some(c) = self.peek(0) {
            // `:` belongs to a datetime (`10:00:00`), and `+`/`-` to a date or an offset, never to a
            // plain number.
            if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '+') {
                lexeme.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if let Some(d) = parse_date(&lexeme) {
            self.push(Tok::Date(d), pos);
            return;
        }
        if let Some(dt) = parse_datetime(&lexeme) {
            self.push(Tok::DateTime(dt), pos);
            return;
        }
        // Not a date: take the longest numeric prefix only, and lex the rest again.
        let digits: String = {
            let mut seen_dot = false;
            let mut out = String::new();
            for (k, c) in lexeme.chars().enumerate() {
                if (k == 0 && matches!(c, '-' | '+')) || c.is_ascii_digit() {
                    out.push(c);
                } else if c == '.' && !seen_dot {
                    seen_dot = true;
                    out.push(c);
                } else {
                    break;
                }
            }
            out
        };
        // Rewind to just after the numeric prefix.
        self.i = start;
        self.row = pos.row;
        self.col = pos.col;
        for _ in 0..digits.chars().count() {
            self.bump();
        }
        self.push(Tok::Number(digits), pos);
    }
}

/// `YYYY-MM-DD`, exactly.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// `YYYY-MM-DDThh:mm:ss[.fff]` followed by `Z`, `±hh:mm` or `±hhmm`.
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    let date = parse_date(s.get(..10)?)?;
    let rest = s.get(10..)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t'))?;
    let (time_part, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => return None,
    };
    let time = NaiveTime::parse_from_str(time_part, "%H:%M:%S%.f").ok()?;
    let offset = if zone.eq_ignore_ascii_case("z") {
        FixedOffset::east_opt(0)?
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits: String = zone.get(1..)?.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let h: i32 = digits.get(..2)?.parse().ok()?;
        let m: i32 = digits.get(2..)?.parse().ok()?;
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))?
    };
    NaiveDateTime::new(date, time).and_local_timezone(offset).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn strings_decode_escapes_and_keep_like_escapes() {
        assert_eq!(
            toks(r"'Bob\'s \\ \n \u00e9 50\%'"),
            vec![Tok::Str("Bob's \\ \n é 50\\%".into()), Tok::Eof]
        );
    }

    #[test]
    fn dates_datetimes_and_numbers() {
        let t = toks(
            "2024-01-31 2024-01-31T10:00:00Z 2024-01-31T10:00:00.000+0000 2024-01-31T10:00:00+01:00 -1.5 42",
        );
        assert!(matches!(t[0], Tok::Date(_)));
        assert!(matches!(t[1], Tok::DateTime(_)));
        assert!(matches!(t[2], Tok::DateTime(_)));
        match &t[3] {
            Tok::DateTime(dt) => assert_eq!(dt.offset().local_minus_utc(), 3600),
            other => panic!("{other:?}"),
        }
        assert_eq!(t[4], Tok::Number("-1.5".into()));
        assert_eq!(t[5], Tok::Number("42".into()));
    }

    #[test]
    fn operators_and_positions() {
        let t = lex("a<>b\n  !=<= >=").unwrap();
        assert_eq!(t[1].tok, Tok::Ne("<>"));
        assert_eq!(t[3].tok, Tok::Ne("!="));
        assert_eq!((t[3].pos.row, t[3].pos.col), (2, 3));
        assert_eq!(t[4].tok, Tok::Le);
        assert_eq!(t[5].tok, Tok::Ge);
    }

    #[test]
    fn bad_character_is_malformed_with_position() {
        let e = lex("SELECT Id FROM Account WHERE Name = #").unwrap_err();
        assert_eq!(e.code(), "MALFORMED_QUERY");
        // Recorded: `select Id from Account where id = $sfid` → `Column:34` and
        // `line 1:34 no viable alternative at character '$'`.
        let e = lex("select Id from Account where id = $sfid").unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "\nselect Id from Account where id = $sfid\n{}^\nERROR at Row:1:Column:34\n\
                 line 1:34 no viable alternative at character '$'",
                " ".repeat(33)
            )
        );
    }
}
