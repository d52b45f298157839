//! The SOQL parser: tokens → [`SelectQuery`], by recursive descent.
//!
//! Clause order is strict, as in Salesforce: `SELECT … FROM … [USING SCOPE …] [WHERE …] [WITH …]
//! [GROUP BY …] [HAVING …] [ORDER BY …] [LIMIT n] [OFFSET n] [FOR VIEW|REFERENCE|UPDATE]
//! [UPDATE TRACKING|VIEWSTAT] [ALL ROWS]`. `AND` and `OR` may not be mixed at one level without
//! parentheses (Salesforce answers `unexpected token: 'OR'`).
//!
//! Invariant: the parser never panics and never recurses deeper than [`MAX_DEPTH`]; every failure
//! is `MALFORMED_QUERY` at the offending token.

use crate::ast::{
    AggCall, AggFunc, CmpOp, Condition, DateCall, DateFunc, DateLiteral, DateLiteralKind, DateUnit,
    FieldFunc, FieldPath, FieldsKind, From, Ident, InList, Literal, Operand, OrderItem, SelectItem,
    SelectQuery, Value,
};
use crate::error::{Pos, SoqlError};
use crate::lexer::{Tok, Token, lex};

/// Nesting limit for parentheses and subqueries, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses one SOQL statement.
///
/// # Errors
/// `MALFORMED_QUERY` at the first token that does not fit the grammar.
pub fn parse_select(text: &str) -> Result<SelectQuery, SoqlError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        text,
        tokens,
        i: 0,
        depth: 0,
    };
    let q = p.select_query(false)?;
    p.expect_eof()?;
    Ok(q)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    i: usize,
    depth: usize,
}

/// The words that end a FROM clause (and so cannot be an alias).
const CLAUSE_WORDS: &[&str] = &[
    "WHERE", "WITH", "GROUP", "ORDER", "LIMIT", "OFFSET", "FOR", "ALL", "USING", "UPDATE", "HAVING",
];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> &Tok {
        self.tokens.get(self.i + k).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> Pos {
        self.tokens
            .get(self.i)
            .or_else(|| self.tokens.last())
            .map(|t| t.pos)
            .unwrap_or_default()
    }

    fn advance(&mut self) {
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
    }

    /// `unexpected token` at the current token.
    fn unexpected(&self) -> SoqlError {
        let pos = self.pos();
        SoqlError::unexpected(self.text, pos, &self.peek().display(self.text, pos))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn is_kw_at(&self, k: usize, kw: &str) -> bool {
        matches!(self.peek_at(k), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), SoqlError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_eof(&self) -> Result<(), SoqlError> {
        if matches!(self.peek(), Tok::Eof) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<Ident, SoqlError> {
        let pos = self.pos();
        match self.peek() {
            Tok::Ident(s) => {
                let name = s.clone();
                self.advance();
                Ok(Ident { name, pos })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn enter(&mut self) -> Result<(), SoqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SoqlError::malformed_at(
                self.text,
                self.pos(),
                "the query is nested too deeply",
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `SELECT … FROM …` and the clauses after it. `nested` queries stop before their `)`.
    fn select_query(&mut self, nested: bool) -> Result<SelectQuery, SoqlError> {
        self.enter()?;
        self.expect_kw("SELECT")?;
        let select = self.select_list()?;
        self.expect_kw("FROM")?;
        let mut object = self.ident()?;
        // `FROM Account.Contacts` in a child subquery: the relationship is the last name.
        while matches!(self.peek(), Tok::Dot) {
            self.advance();
            object = self.ident()?;
        }
        let alias = match self.peek() {
            Tok::Ident(s) if !CLAUSE_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) => Some(self.ident()?),
            _ => None,
        };
        let mut q = SelectQuery {
            select,
            from: From { object, alias },
            where_: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            all_rows: false,
        };
        if self.is_kw("USING") && self.is_kw_at(1, "SCOPE") {
            self.advance();
            self.advance();
            self.ident()?;
        }
        if self.eat_kw("WHERE") {
            q.where_ = Some(self.condition()?);
        }
        while self.is_kw("WITH") {
            self.advance();
            // WITH SECURITY_ENFORCED / USER_MODE / SYSTEM_MODE: accepted; the catalog already
            // answers only what the caller may see.
            self.ident()?;
        }
        if self.is_kw("GROUP") {
            self.advance();
            self.expect_kw("BY")?;
            if self.is_kw("ROLLUP") || self.is_kw("CUBE") {
                return Err(self.unexpected());
            }
            loop {
                let item = self.operand()?;
                if let Operand::Aggregate(call) = &item {
                    return Err(SoqlError::malformed_at(
                        self.text,
                        call.pos,
                        "aggregate functions are not allowed in GROUP BY",
                    ));
                }
                q.group_by.push(item);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        if self.eat_kw("HAVING") {
            q.having = Some(self.condition()?);
        }
        if self.is_kw("ORDER") {
            self.advance();
            self.expect_kw("BY")?;
            loop {
                q.order_by.push(self.order_item()?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        if self.eat_kw("LIMIT") {
            q.limit = Some(self.unsigned()?);
        }
        if self.eat_kw("OFFSET") {
            q.offset = Some(self.unsigned()?);
        }
        if self.eat_kw("FOR") {
            loop {
                if self.is_kw("VIEW") || self.is_kw("REFERENCE") || self.is_kw("UPDATE") {
                    self.advance();
                } else {
                    return Err(self.unexpected());
                }
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        if self.is_kw("UPDATE") {
            self.advance();
            if self.is_kw("TRACKING") || self.is_kw("VIEWSTAT") {
                self.advance();
            } else {
                return Err(self.unexpected());
            }
        }
        if self.is_kw("ALL") {
            self.advance();
            self.expect_kw("ROWS")?;
            q.all_rows = true;
        }
        if nested && !matches!(self.peek(), Tok::RParen) {
            return Err(self.unexpected());
        }
        self.leave();
        Ok(q)
    }

    fn unsigned(&mut self) -> Result<(u64, Pos), SoqlError> {
        let pos = self.pos();
        match self.peek() {
            Tok::Number(n) => match n.parse::<u64>() {
                Ok(v) => {
                    self.advance();
                    Ok((v, pos))
                }
                Err(_) => Err(self.unexpected()),
            },
            _ => Err(self.unexpected()),
        }
    }

    fn select_list(&mut self) -> Result<Vec<SelectItem>, SoqlError> {
        let mut items = Vec::new();
        loop {
            items.push(self.select_item()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(items)
    }

    fn select_item(&mut self) -> Result<SelectItem, SoqlError> {
        let pos = self.pos();
        if matches!(self.peek(), Tok::LParen) {
            self.advance();
            let sub = self.select_query(true)?;
            self.expect(&Tok::RParen)?;
            return Ok(SelectItem::Subquery(Box::new(sub)));
        }
        let Tok::Ident(name) = self.peek().clone() else {
            return Err(self.unexpected());
        };
        if name.eq_ignore_ascii_case("FROM") {
            return Err(self.unexpected());
        }
        if matches!(self.peek_at(1), Tok::LParen) {
            if name.eq_ignore_ascii_case("FIELDS") {
                self.advance();
                self.advance();
                let kind_pos = self.pos();
                let kind = match self.peek() {
                    Tok::Ident(k) if k.eq_ignore_ascii_case("ALL") => FieldsKind::All,
                    Tok::Ident(k) if k.eq_ignore_ascii_case("STANDARD") => FieldsKind::Standard,
                    Tok::Ident(k) if k.eq_ignore_ascii_case("CUSTOM") => FieldsKind::Custom,
                    _ => {
                        return Err(SoqlError::unexpected(
                            self.text,
                            kind_pos,
                            &self.peek().display(self.text, kind_pos),
                        ));
                    }
                };
                self.advance();
                self.expect(&Tok::RParen)?;
                return Ok(SelectItem::Fields { kind, pos });
            }
            if DateFunc::from_name(&name).is_some() {
                let call = self.date_call()?;
                let alias = self.alias()?;
                return Ok(SelectItem::Date { call, alias });
            }
            if let Some(func) = FieldFunc::from_name(&name) {
                let path = self.wrapped_field()?;
                let alias = self.alias()?;
                return Ok(SelectItem::Function { func, path, alias });
            }
            let call = self.agg_call()?;
            let alias = self.alias()?;
            return Ok(SelectItem::Aggregate { call, alias });
        }
        if name.eq_ignore_ascii_case("TYPEOF") && self.is_kw_at(2, "WHEN") {
            return self.type_of(pos);
        }
        let path = self.field_path()?;
        let alias = self.alias()?;
        Ok(SelectItem::Field { path, alias })
    }

    /// `TYPEOF rel WHEN Obj THEN f, … [WHEN …] [ELSE f, …] END`.
    fn type_of(&mut self, pos: Pos) -> Result<SelectItem, SoqlError> {
        self.advance();
        let relationship = self.ident()?;
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let object = self.ident()?;
            self.expect_kw("THEN")?;
            whens.push((object, self.type_of_fields()?));
        }
        let otherwise = if self.eat_kw("ELSE") {
            Some(self.type_of_fields()?)
        } else {
            None
        };
        self.expect_kw("END")?;
        Ok(SelectItem::TypeOf {
            relationship,
            whens,
            otherwise,
            pos,
        })
    }

    fn type_of_fields(&mut self) -> Result<Vec<FieldPath>, SoqlError> {
        let mut out = vec![self.field_path()?];
        while self.eat(&Tok::Comma) {
            out.push(self.field_path()?);
        }
        Ok(out)
    }

    /// An alias after a select item: a name followed by `,` or `FROM` (so that a misspelt `FROM`,
    /// as in `SELECT Id FORM Account`, is reported itself rather than taken for an alias).
    fn alias(&mut self) -> Result<Option<Ident>, SoqlError> {
        match self.peek() {
            Tok::Ident(s) if !s.eq_ignore_ascii_case("FROM") => {
                let next_ok = matches!(self.peek_at(1), Tok::Comma) || self.is_kw_at(1, "FROM");
                if next_ok {
                    Ok(Some(self.ident()?))
                } else {
                    Ok(None)
                }
            }
            _ => Ok(None),
        }
    }

    /// `COUNT()`, `COUNT(path)`, `SUM(path)`…; other functions are not supported.
    fn agg_call(&mut self) -> Result<AggCall, SoqlError> {
        let name = self.ident()?;
        let Some(func) = AggFunc::from_name(&name.name) else {
            return Err(SoqlError::malformed_at(
                self.text,
                name.pos,
                &format!("function '{}' is not supported by this emulator", name.name),
            ));
        };
        self.expect(&Tok::LParen)?;
        let arg = if matches!(self.peek(), Tok::RParen) {
            if func != AggFunc::Count {
                return Err(self.unexpected());
            }
            None
        } else {
            Some(self.field_path()?)
        };
        self.expect(&Tok::RParen)?;
        Ok(AggCall {
            func,
            arg,
            pos: name.pos,
        })
    }

    fn field_path(&mut self) -> Result<FieldPath, SoqlError> {
        let mut parts = vec![self.ident()?];
        while matches!(self.peek(), Tok::Dot) {
            self.advance();
            parts.push(self.ident()?);
        }
        Ok(FieldPath { parts })
    }

    fn operand(&mut self) -> Result<Operand, SoqlError> {
        if let Tok::Ident(name) = self.peek()
            && matches!(self.peek_at(1), Tok::LParen)
        {
            if DateFunc::from_name(name).is_some() {
                return Ok(Operand::Date(self.date_call()?));
            }
            // `toLabel(Status) = 'Open'`: labels are the API values here, so it is the field.
            if FieldFunc::from_name(name) == Some(FieldFunc::ToLabel) {
                return Ok(Operand::Field(self.wrapped_field()?));
            }
            return Ok(Operand::Aggregate(self.agg_call()?));
        }
        Ok(Operand::Field(self.field_path()?))
    }

    /// `f(path)`: the path inside a field function.
    fn wrapped_field(&mut self) -> Result<FieldPath, SoqlError> {
        self.advance();
        self.expect(&Tok::LParen)?;
        let path = self.field_path()?;
        self.expect(&Tok::RParen)?;
        Ok(path)
    }

    /// `CALENDAR_YEAR(field)` or `CALENDAR_YEAR(convertTimezone(field))`.
    fn date_call(&mut self) -> Result<DateCall, SoqlError> {
        let name = self.ident()?;
        let Some(func) = DateFunc::from_name(&name.name) else {
            return Err(SoqlError::unexpected(self.text, name.pos, &name.name));
        };
        self.expect(&Tok::LParen)?;
        let converted = self.is_kw("convertTimezone") && matches!(self.peek_at(1), Tok::LParen);
        if converted {
            self.advance();
            self.advance();
        }
        let arg = self.field_path()?;
        if converted {
            self.expect(&Tok::RParen)?;
        }
        self.expect(&Tok::RParen)?;
        Ok(DateCall {
            func,
            arg,
            pos: name.pos,
        })
    }

    fn order_item(&mut self) -> Result<OrderItem, SoqlError> {
        let operand = self.operand()?;
        let descending = if self.eat_kw("DESC") {
            true
        } else {
            self.eat_kw("ASC");
            false
        };
        let nulls_first = if self.eat_kw("NULLS") {
            if self.eat_kw("FIRST") {
                Some(true)
            } else if self.eat_kw("LAST") {
                Some(false)
            } else {
                return Err(self.unexpected());
            }
        } else {
            None
        };
        Ok(OrderItem {
            operand,
            descending,
            nulls_first,
        })
    }

    /// A condition: unary terms joined by one kind of operator (`AND` or `OR`, not both).
    fn condition(&mut self) -> Result<Condition, SoqlError> {
        self.enter()?;
        let first = self.unary()?;
        let mut terms = vec![first];
        let mut joiner: Option<&'static str> = None;
        loop {
            let op = if self.is_kw("AND") {
                "AND"
            } else if self.is_kw("OR") {
                "OR"
            } else {
                break;
            };
            match joiner {
                Some(j) if j != op => return Err(self.unexpected()),
                _ => joiner = Some(op),
            }
            self.advance();
            terms.push(self.unary()?);
        }
        self.leave();
        Ok(match (joiner, terms.len()) {
            (Some("OR"), _) => Condition::Or(terms),
            (Some(_), _) => Condition::And(terms),
            (None, _) => terms.pop().unwrap_or(Condition::And(Vec::new())),
        })
    }

    fn unary(&mut self) -> Result<Condition, SoqlError> {
        if self.eat_kw("NOT") {
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Condition::Not(Box::new(inner)));
        }
        if matches!(self.peek(), Tok::LParen) {
            self.advance();
            let c = self.condition()?;
            self.expect(&Tok::RParen)?;
            return Ok(c);
        }
        self.simple()
    }

    fn simple(&mut self) -> Result<Condition, SoqlError> {
        let lhs = self.operand()?;
        let op = match self.peek() {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne(_) => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            Tok::Ident(s) if s.eq_ignore_ascii_case("LIKE") => Some(CmpOp::Like),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let value = self.value()?;
            return Ok(Condition::Compare { lhs, op, value });
        }
        let negated = if self.is_kw("NOT") && self.is_kw_at(1, "IN") {
            self.advance();
            true
        } else {
            false
        };
        if self.eat_kw("IN") {
            self.expect(&Tok::LParen)?;
            let list = if self.is_kw("SELECT") {
                InList::Subquery(Box::new(self.select_query(true)?))
            } else {
                InList::Values(self.values()?)
            };
            self.expect(&Tok::RParen)?;
            return Ok(Condition::In { lhs, negated, list });
        }
        let pos = self.pos();
        let includes = if self.is_kw("INCLUDES") {
            Some(false)
        } else if self.is_kw("EXCLUDES") {
            Some(true)
        } else {
            None
        };
        if let Some(negated) = includes {
            self.advance();
            self.expect(&Tok::LParen)?;
            let values = self.values()?;
            self.expect(&Tok::RParen)?;
            return Ok(Condition::Includes {
                lhs,
                negated,
                values,
                pos,
            });
        }
        Err(self.unexpected())
    }

    fn values(&mut self) -> Result<Vec<Value>, SoqlError> {
        let mut out = Vec::new();
        loop {
            out.push(self.value()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<Value, SoqlError> {
        let pos = self.pos();
        let literal = match self.peek().clone() {
            Tok::Str(s) => Literal::String(s),
            Tok::Number(n) => Literal::Number(n),
            Tok::Date(d) => Literal::Date(d),
            Tok::DateTime(d) => Literal::DateTime(d),
            Tok::Colon => {
                return Err(SoqlError::malformed_at(
                    self.text,
                    pos,
                    "Bind variables only allowed in Apex code",
                ));
            }
            Tok::Ident(w) => match w.to_ascii_uppercase().as_str() {
                "TRUE" => Literal::Bool(true),
                "FALSE" => Literal::Bool(false),
                "NULL" => Literal::Null,
                upper => {
                    let Some((kind, takes_n)) = date_literal(upper) else {
                        return Err(self.unexpected());
                    };
                    self.advance();
                    let n = if takes_n {
                        self.expect(&Tok::Colon)?;
                        let npos = self.pos();
                        match self.peek() {
                            Tok::Number(n) => match n.parse::<i64>() {
                                Ok(v) if v >= 0 => {
                                    self.advance();
                                    v
                                }
                                _ => return Err(SoqlError::unexpected(self.text, npos, n)),
                            },
                            _ => return Err(self.unexpected()),
                        }
                    } else {
                        fixed_n(upper)
                    };
                    return Ok(Value {
                        literal: Literal::DateLiteral(DateLiteral { kind, n }),
                        pos,
                    });
                }
            },
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(Value { literal, pos })
    }
}

/// The `n` that fixed-width literals imply (`LAST_90_DAYS` is `LAST_N_DAYS:90`).
fn fixed_n(upper: &str) -> i64 {
    if upper.contains("90_DAYS") { 90 } else { 1 }
}

/// The date literal named `upper` (already upper-case) and whether it takes `:n`.
fn date_literal(upper: &str) -> Option<(DateLiteralKind, bool)> {
    use DateLiteralKind as K;
    let fixed = match upper {
        "YESTERDAY" => Some(K::Yesterday),
        "TODAY" => Some(K::Today),
        "TOMORROW" => Some(K::Tomorrow),
        "LAST_90_DAYS" => Some(K::LastNDays),
        "NEXT_90_DAYS" => Some(K::NextNDays),
        _ => None,
    };
    if let Some(k) = fixed {
        return Some((k, false));
    }
    if upper == "LAST_N_DAYS" {
        return Some((K::LastNDays, true));
    }
    if upper == "NEXT_N_DAYS" {
        return Some((K::NextNDays, true));
    }
    let unit = |u: &str| -> Option<DateUnit> {
        Some(match u {
            "DAY" | "DAYS" => DateUnit::Day,
            "WEEK" | "WEEKS" => DateUnit::Week,
            "MONTH" | "MONTHS" => DateUnit::Month,
            "QUARTER" | "QUARTERS" | "FISCAL_QUARTER" | "FISCAL_QUARTERS" => DateUnit::Quarter,
            "YEAR" | "YEARS" | "FISCAL_YEAR" | "FISCAL_YEARS" => DateUnit::Year,
            _ => return None,
        })
    };
    if let Some(rest) = upper.strip_prefix("N_").and_then(|r| r.strip_suffix("_AGO")) {
        return unit(rest)
            .filter(|u| *u != DateUnit::Day || rest == "DAYS")
            .map(|u| (K::Ago(u), true));
    }
    if let Some(rest) = upper.strip_prefix("LAST_N_") {
        return unit(rest)
            .filter(|u| *u != DateUnit::Day)
            .map(|u| (K::Last(u), true));
    }
    if let Some(rest) = upper.strip_prefix("NEXT_N_") {
        return unit(rest)
            .filter(|u| *u != DateUnit::Day)
            .map(|u| (K::Next(u), true));
    }
    // Single units: the plural forms take `:n` and were handled above.
    let single = |u: &str| unit(u).filter(|_| !u.ends_with('S'));
    if let Some(rest) = upper.strip_prefix("LAST_") {
        return single(rest)
            .filter(|u| *u != DateUnit::Day)
            .map(|u| (K::Last(u), false));
    }
    if let Some(rest) = upper.strip_prefix("THIS_") {
        return single(rest)
            .filter(|u| *u != DateUnit::Day)
            .map(|u| (K::This(u), false));
    }
    if let Some(rest) = upper.strip_prefix("NEXT_") {
        return single(rest)
            .filter(|u| *u != DateUnit::Day)
            .map(|u| (K::Next(u), false));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> String {
        parse_select(q).unwrap_err().message
    }

    #[test]
    fn full_grammar_parses() {
        let q = parse_select(
            "select Id, Account.Owner.Name, (SELECT Id FROM Contacts WHERE LastName != null ORDER BY LastName LIMIT 5), \
             COUNT(Id) cnt FROM Account a USING SCOPE Everything WHERE (Name LIKE 'A%' OR Name = 'x') AND NOT Type IN ('a','b') \
             AND Id IN (SELECT AccountId FROM Contact) AND CreatedDate = LAST_N_DAYS:7 AND Tags__c INCLUDES ('a;b','c') \
             WITH SECURITY_ENFORCED GROUP BY Name HAVING COUNT(Id) > 1 ORDER BY Name DESC NULLS LAST, Id \
             LIMIT 10 OFFSET 5 FOR VIEW ALL ROWS",
        )
        .unwrap();
        assert_eq!(q.select.len(), 4);
        assert_eq!(q.from.alias.as_ref().unwrap().name, "a");
        assert_eq!(q.limit.unwrap().0, 10);
        assert_eq!(q.offset.unwrap().0, 5);
        assert!(q.all_rows);
        assert_eq!(q.order_by.len(), 2);
        assert!(q.order_by[0].descending);
        assert_eq!(q.order_by[0].nulls_first, Some(false));
        match q.where_.unwrap() {
            Condition::And(terms) => assert_eq!(terms.len(), 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn misspelt_from_is_reported_where_salesforce_reports_it() {
        assert_eq!(
            err("SELECT Id FORM Account"),
            "\nSELECT Id FORM Account\n         ^\nERROR at Row:1:Column:10\nunexpected token: 'FORM'"
        );
    }

    #[test]
    fn syntax_errors_count_columns_from_zero_as_recorded() {
        // A recorded response: `From` at index 50 is reported at Column:50, the caret one before it.
        assert_eq!(
            err("SELECT Id, Name, HG_Insights__HG_Match_Status__c, From Account LIMIT 10"),
            format!(
                "\nHG_Insights__HG_Match_Status__c, From Account LIMIT 10\n{}^\nERROR at Row:1:Column:50\n\
                 unexpected token: 'From'",
                " ".repeat(32)
            )
        );
    }

    #[test]
    fn mixing_and_or_without_parentheses_is_rejected_at_the_second_operator() {
        let m = err("SELECT Id FROM Contact WHERE A = 1 AND B = 2 OR C = 3");
        assert!(
            m.ends_with("ERROR at Row:1:Column:45\nunexpected token: 'OR'"),
            "{m}"
        );
    }

    #[test]
    fn end_of_input_and_trailing_garbage() {
        assert!(err("SELECT Id FROM").ends_with("unexpected token: <EOF>"));
        assert!(err("SELECT Id FROM Account LIMIT 5 garbage").ends_with("unexpected token: 'garbage'"));
        assert!(err("SELECT Id, FROM Account").ends_with("unexpected token: 'FROM'"));
        assert!(err("SELECT Id FROM Account WHERE Name = 'abc").contains("Column:36"));
    }

    #[test]
    fn date_literals() {
        for (text, kind, n) in [
            ("TODAY", DateLiteralKind::Today, 1),
            ("LAST_90_DAYS", DateLiteralKind::LastNDays, 90),
            ("LAST_N_DAYS:7", DateLiteralKind::LastNDays, 7),
            ("N_DAYS_AGO:3", DateLiteralKind::Ago(DateUnit::Day), 3),
            ("LAST_N_MONTHS:2", DateLiteralKind::Last(DateUnit::Month), 2),
            ("THIS_QUARTER", DateLiteralKind::This(DateUnit::Quarter), 1),
            ("last_year", DateLiteralKind::Last(DateUnit::Year), 1),
            ("NEXT_FISCAL_YEAR", DateLiteralKind::Next(DateUnit::Year), 1),
        ] {
            let q = parse_select(&format!("SELECT Id FROM Account WHERE CreatedDate = {text}")).unwrap();
            let Some(Condition::Compare { value, .. }) = q.where_ else {
                panic!()
            };
            assert_eq!(
                value.literal,
                Literal::DateLiteral(DateLiteral { kind, n }),
                "{text}"
            );
        }
        assert!(
            err("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS")
                .ends_with("unexpected token: <EOF>")
        );
        assert!(err("SELECT Id FROM Account WHERE Name = Bogus").ends_with("unexpected token: 'Bogus'"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'{}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert_eq!(parse_select(&q).unwrap_err().code(), "MALFORMED_QUERY");
    }
}
