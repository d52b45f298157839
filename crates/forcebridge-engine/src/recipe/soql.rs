//! SOQL fragments in recipes (`match` filters, orderings, sync filters): parsed with
//! `forcebridge-soql` inside a synthetic query, so they are exactly what the runtime will send.
//!
//! Invariant: positions are byte offsets into the fragment, never into the synthetic query.

use forcebridge_soql::ast::{Condition, InList, Operand};

/// A fragment that does not parse: the parser's sentence and the offset in the fragment.
pub type FragmentError = (String, Option<usize>);

/// Parses `prefix + fragment` and returns the field paths the fragment names (dotted) with their
/// byte offsets in the fragment.
///
/// # Errors
/// The parser's sentence and, when it gives one, the offset in the fragment.
pub fn fields_of(prefix: &str, fragment: &str) -> Result<Vec<(String, usize)>, FragmentError> {
    if fragment.trim().is_empty() {
        return Err(("empty fragment".into(), None));
    }
    let text = format!("{prefix}{fragment}");
    let q = forcebridge_soql::parse(&text).map_err(|e| {
        // Salesforce's message is an excerpt, a caret line, `ERROR at Row..` and the sentence;
        // the sentence is the last line.
        let sentence = e.message.lines().last().unwrap_or("").trim().to_owned();
        let offset = position(&e.message, &text).and_then(|o| o.checked_sub(prefix.len()));
        (sentence, offset)
    })?;
    let mut out = Vec::new();
    if let Some(w) = &q.select.where_ {
        condition(w, prefix.len(), &mut out);
    }
    for item in &q.select.order_by {
        operand(&item.operand, prefix.len(), &mut out);
    }
    Ok(out)
}

/// The byte offset named by `ERROR at Row:r:Column:c` in a message about `text`.
fn position(message: &str, text: &str) -> Option<usize> {
    let at = message.find("ERROR at Row:")?;
    let rest = &message[at + "ERROR at Row:".len()..];
    let (row, rest) = rest.split_once(":Column:")?;
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let (row, col): (usize, usize) = (row.trim().parse().ok()?, col.parse().ok()?);
    let mut start = 0;
    for _ in 1..row {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let line = text.get(start..)?;
    Some(
        start
            + line
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(line.len(), |(i, _)| i),
    )
}

fn operand(op: &Operand, base: usize, out: &mut Vec<(String, usize)>) {
    if let Operand::Field(f) = op
        && let Some(offset) = f.pos().offset.checked_sub(base)
    {
        out.push((f.dotted(), offset));
    }
}

fn condition(c: &Condition, base: usize, out: &mut Vec<(String, usize)>) {
    match c {
        Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| condition(c, base, out)),
        Condition::Not(c) => condition(c, base, out),
        Condition::Compare { lhs, .. } | Condition::Includes { lhs, .. } => operand(lhs, base, out),
        Condition::In { lhs, list, .. } => {
            operand(lhs, base, out);
            // A semi-join's own fields belong to another object; they are not checked here.
            let _ = matches!(list, InList::Subquery(_));
        }
    }
}
