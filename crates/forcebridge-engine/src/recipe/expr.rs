//! CEL expressions in recipes: values, filters and conditions (DESIGN.md §5). CEL cannot loop, so
//! every evaluation terminates.
//!
//! The engine closes the `cel` crate's known gaps here: JSON numbers are normalised (integers that
//! fit become `int`, others `double`, so `event.score + 1` works whatever JSON gave), the strings
//! extension is on (`lowerAscii`, `trim`, …), and a runtime error names the expression's source and
//! where it was written.
//!
//! Invariant: an [`Expr`] is compiled once (at recipe load) and evaluated many times; a [`Scope`]
//! holds values already converted to CEL, so evaluating does no JSON conversion of its inputs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::objects::{Key, Map as CelMap};
use cel::{Context, Env, Program, Value as CelValue};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// The CEL environment every recipe expression compiles and runs in.
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // The strings extension cannot clash with the standard library; if it ever did, the
        // recipes would still run on the standard library alone.
        let _ = env.add_extension(cel::extensions::strings);
        Arc::new(env)
    })
}

/// Where an expression was written: file, byte span, recipe path (`flow "x" › step "y" › when`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Origin {
    /// The recipe file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The recipe path of the slot.
    pub path: String,
    /// Byte range of the expression's text in the file (the quoted string as written); `u32`
    /// keeps [`EvalError`] small (recipe files are far below 4 GiB).
    pub span: std::ops::Range<u32>,
}

/// A variable an expression reads: its root (`event`), the member selected on it (`email` in
/// `event.email`) and the one after (`id` in `steps.person.id`), and where the root is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// The top-level name.
    pub root: String,
    /// The first member selected on it, if any.
    pub member: Option<String>,
    /// The member selected after that, if any.
    pub member2: Option<String>,
    /// Byte offset of the root in the expression's text, when known.
    pub offset: Option<usize>,
}

/// A CEL parse failure with its position in the expression's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    /// The parser's words, without its excerpt.
    pub message: String,
    /// Byte offset in the expression's text, when the parser gave one.
    pub offset: Option<usize>,
}

/// A compiled CEL expression with its source and origin.
#[derive(Clone, Serialize)]
pub struct Expr {
    source: Arc<str>,
    origin: Origin,
    #[serde(skip)]
    program: Arc<Program>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr")
            .field("source", &self.source)
            .field("origin", &self.origin)
            .finish()
    }
}

/// An expression failed while it ran (a type mismatch, a missing key, a bad call).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("expression `{text}` at {}:{}:{} ({}) failed: {message}", origin.file, origin.line, origin.column, origin.path)]
pub struct EvalError {
    /// The expression's text.
    pub text: String,
    /// Where it was written.
    pub origin: Origin,
    /// What went wrong.
    pub message: String,
}

impl Expr {
    /// Compiles `source`.
    ///
    /// # Errors
    /// The parser's message when `source` is not valid CEL.
    pub fn compile(source: &str, origin: Origin) -> Result<Self, String> {
        let program = env().compile(source).map_err(|e| e.to_string())?;
        Ok(Self {
            source: Arc::from(source),
            origin,
            program: Arc::new(program),
        })
    }

    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where it was written.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Compiles `source`, reporting where a parse failure is.
    ///
    /// # Errors
    /// [`ParseFailure`] with the first error's message and byte offset.
    pub fn compile_located(source: &str, origin: Origin) -> Result<Self, ParseFailure> {
        let program = env().compile(source).map_err(|e| {
            let first = e.errors.first();
            ParseFailure {
                message: first.map_or_else(|| e.to_string(), |f| f.msg.clone()),
                offset: first.and_then(|f| {
                    let line = usize::try_from(f.pos.0).ok()?;
                    let col = usize::try_from(f.pos.1).ok()?;
                    byte_offset(source, line, col)
                }),
            }
        })?;
        Ok(Self {
            source: Arc::from(source),
            origin,
            program: Arc::new(program),
        })
    }

    /// The variables it reads with the members selected on them, leaving out names bound by
    /// comprehensions (`x` in `list.exists(x, x > 1)`), each once, in order of appearance.
    pub fn var_refs(&self) -> Vec<VarRef> {
        let mut out = Vec::new();
        let info = self.program.source_info();
        walk(self.program.expression(), &mut Vec::new(), &mut out, &|id| {
            info.offset_for(id)
                .and_then(|(start, _)| char_to_byte(&self.source, start as usize))
        });
        let mut seen = std::collections::HashSet::new();
        out.retain(|r: &VarRef| seen.insert((r.root.clone(), r.member.clone(), r.member2.clone())));
        out
    }

    /// The top-level variables it reads (`event`, `settings`, `steps`, …).
    pub fn variables(&self) -> Vec<String> {
        self.program
            .references()
            .variables()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Evaluates it in `scope`, giving JSON.
    ///
    /// # Errors
    /// [`EvalError`] naming the expression and its origin.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        let mut ctx = Context::with_env(env().clone());
        for (name, value) in &scope.vars {
            ctx.add_variable_from_value(name.as_str(), value.clone());
        }
        let out = self
            .program
            .execute(&ctx)
            .map_err(|e| self.error(e.to_string()))?;
        cel_to_json(&out).map_err(|m| self.error(m))
    }

    /// Evaluates it as a condition: `true` runs, `false` or `null` does not.
    ///
    /// # Errors
    /// [`EvalError`] when it fails or gives something other than a bool or null.
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        match self.eval(scope)? {
            Value::Bool(b) => Ok(b),
            Value::Null => Ok(false),
            other => Err(self.error(format!("a condition must give true or false, not {other}"))),
        }
    }

    fn error(&self, message: String) -> EvalError {
        EvalError {
            text: self.source.to_string(),
            origin: self.origin.clone(),
            message,
        }
    }
}

/// What an expression can see: `event`, `settings`, `steps` (earlier steps), `connection`, `now`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    vars: BTreeMap<String, CelValue>,
    json: BTreeMap<String, Value>,
    steps: BTreeMap<String, Value>,
}

impl Scope {
    /// A scope with the event, the install's settings, the connection and the time.
    pub fn new(event: &Value, settings: &Value, connection: &Value, now: DateTime<Utc>) -> Self {
        let mut s = Self::default();
        s.set("event", event.clone());
        s.set("settings", settings.clone());
        s.set("connection", connection.clone());
        s.set("now", Value::String(now.to_rfc3339()));
        s.set("steps", Value::Object(serde_json::Map::new()));
        s
    }

    /// Sets a top-level variable.
    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_owned(), json_to_cel(&value));
        self.json.insert(name.to_owned(), value);
    }

    /// Records a step's output (`null` for a skipped step) for later steps.
    pub fn set_step(&mut self, id: &str, output: Value) {
        self.steps.insert(id.to_owned(), output);
        let map: serde_json::Map<String, Value> =
            self.steps.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.set("steps", Value::Object(map));
    }

    /// A step's output, if it ran.
    pub fn step(&self, id: &str) -> Option<&Value> {
        self.steps.get(id)
    }

    /// The scope as JSON (for templates and debugging).
    pub fn to_json(&self) -> Value {
        Value::Object(self.json.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

/// JSON → CEL, with numbers normalised: integers that fit `i64` are `int`, the rest `double`.
pub fn json_to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => CelValue::Int(i),
            None => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Value::Object(map) => {
            let m: std::collections::HashMap<Key, CelValue> = map
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            CelValue::Map(CelMap { map: Arc::new(m) })
        }
    }
}

/// CEL → JSON; durations and timestamps become text, bytes are refused.
fn cel_to_json(v: &CelValue) -> Result<Value, String> {
    Ok(match v {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::Timestamp(t) => Value::String(t.to_rfc3339()),
        CelValue::Duration(d) => Value::String(format!("{}s", d.num_seconds())),
        CelValue::List(items) => Value::Array(items.iter().map(cel_to_json).collect::<Result<_, _>>()?),
        CelValue::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                out.insert(k.to_string(), cel_to_json(v)?);
            }
            Value::Object(out)
        }
        other => {
            return Err(format!(
                "gives a {} value, which cannot be written to Salesforce",
                other.type_of()
            ));
        }
    })
}

/// Byte offset of 1-based `line`, 0-based character `col` in `text`.
fn byte_offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    Some(start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i))
}

fn char_to_byte(text: &str, chars: usize) -> Option<usize> {
    text.char_indices()
        .nth(chars)
        .map(|(i, _)| i)
        .or((chars == text.chars().count()).then_some(text.len()))
}

/// Collects variable references under `e`; `bound` holds the names comprehensions bind here.
fn walk(
    e: &cel::common::ast::IdedExpr,
    bound: &mut Vec<String>,
    out: &mut Vec<VarRef>,
    offset: &dyn Fn(u64) -> Option<usize>,
) {
    use cel::common::ast::{EntryExpr, Expr as E};
    // A chain `a.b.c` is read from the outside in: find its root and the first two members.
    let mut chain: Vec<&str> = Vec::new();
    let mut cur = e;
    while let E::Select(sel) = &cur.expr {
        chain.push(sel.field.as_str());
        cur = &sel.operand;
    }
    if let E::Ident(name) = &cur.expr {
        if !name.starts_with('@') && !bound.iter().any(|b| b == name) {
            chain.reverse();
            out.push(VarRef {
                root: name.clone(),
                member: chain.first().map(|s| (*s).to_owned()),
                member2: chain.get(1).map(|s| (*s).to_owned()),
                offset: offset(cur.id),
            });
        }
        return;
    }
    match &cur.expr {
        E::Unspecified | E::Literal(_) | E::Ident(_) | E::Select(_) => {}
        E::Call(call) => {
            if let Some(t) = &call.target {
                walk(t, bound, out, offset);
            }
            for a in &call.args {
                walk(a, bound, out, offset);
            }
        }
        E::Comprehension(c) => {
            walk(&c.iter_range, bound, out, offset);
            let n = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                bound.push(v.clone());
            }
            bound.push(c.accu_var.clone());
            walk(&c.accu_init, bound, out, offset);
            walk(&c.loop_cond, bound, out, offset);
            walk(&c.loop_step, bound, out, offset);
            walk(&c.result, bound, out, offset);
            bound.truncate(n);
        }
        E::List(l) => {
            for x in &l.elements {
                walk(x, bound, out, offset);
            }
        }
        E::Map(m) => {
            for entry in &m.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => walk(&f.value, bound, out, offset),
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, bound, out, offset);
                        walk(&me.value, bound, out, offset);
                    }
                }
            }
        }
        E::Struct(st) => {
            for entry in &st.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => walk(&f.value, bound, out, offset),
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, bound, out, offset);
                        walk(&me.value, bound, out, offset);
                    }
                }
            }
        }
    }
}
