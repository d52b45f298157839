//! Text templates in recipes (Chatter bodies, subjects, names): minijinja with strict undefined
//! variables and a fuel limit, so a template can neither read a misspelt variable silently nor run
//! without end.
//!
//! Invariant: a [`Template`] is parsed once, at recipe load; rendering never re-parses.

use std::fmt;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::expr::{EvalError, Origin, Scope};

/// The filters a template may use: minijinja's built-in ones and the engine's own.
pub const FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "int",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "bool",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "tojson",
    "urlencode",
    "truncate",
];

/// `truncate(length, end="…")`: at most `length` characters, `end` included when cut (Salesforce
/// text fields have a length; a Name is 80).
fn truncate(value: &str, length: usize, end: Option<&str>) -> String {
    if value.chars().count() <= length {
        return value.to_owned();
    }
    let end = end.unwrap_or("…");
    let keep = length.saturating_sub(end.chars().count());
    let mut out: String = value.chars().take(keep).collect();
    out.push_str(end);
    out
}

/// A template environment with the engine's settings and filters.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.add_filter("truncate", truncate);
    env
}

/// Fuel per render: enough for any Chatter post, far too little for a runaway loop.
const FUEL: u64 = 50_000;
const NAME: &str = "t";

/// A compiled template with its source and origin.
#[derive(Clone, Serialize)]
pub struct Template {
    source: Arc<str>,
    origin: Origin,
    #[serde(skip)]
    env: Arc<Environment<'static>>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Template {
    /// Parses `source`.
    ///
    /// # Errors
    /// minijinja's message when the template does not parse.
    pub fn compile(source: &str, origin: Origin) -> Result<Self, String> {
        let mut env = environment();
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            source: Arc::from(source),
            origin,
            env: Arc::new(env),
        })
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where it was written.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Parses `source`, reporting where a syntax error is.
    ///
    /// # Errors
    /// The message and the byte range in `source` of a syntax error, when minijinja gives it.
    pub fn compile_located(
        source: &str,
        origin: Origin,
    ) -> Result<Self, (String, Option<std::ops::Range<usize>>)> {
        let mut env = environment();
        env.add_template_owned(NAME, source.to_owned()).map_err(|e| {
            let message = e.detail().map_or_else(|| e.kind().to_string(), str::to_owned);
            (message, e.range())
        })?;
        Ok(Self {
            source: Arc::from(source),
            origin,
            env: Arc::new(env),
        })
    }

    /// The variables it reads, dotted as deep as written (`event.track.title`), sorted, leaving
    /// out minijinja's own globals (`range`, `dict`, `namespace`, …).
    pub fn variable_paths(&self) -> Vec<String> {
        const GLOBALS: &[&str] = &["range", "dict", "namespace", "debug", "loop", "self"];
        match self.env.get_template(NAME) {
            Ok(t) => {
                let mut v: Vec<String> = t
                    .undeclared_variables(true)
                    .into_iter()
                    .filter(|p| !GLOBALS.contains(&p.split('.').next().unwrap_or("")))
                    .collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        }
    }

    /// Filters it calls that do not exist (minijinja only notices when it renders), with their
    /// byte offsets in the source.
    pub fn unknown_filters(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let src = self.source.as_bytes();
        let mut i = 0;
        let mut in_tag = false;
        let mut quote: Option<u8> = None;
        while i < src.len() {
            let c = src[i];
            if !in_tag {
                if c == b'{' && matches!(src.get(i + 1), Some(b'{' | b'%')) {
                    in_tag = true;
                    i += 1;
                }
            } else if let Some(q) = quote {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            } else if c == b'\'' || c == b'"' {
                quote = Some(c);
            } else if matches!(c, b'}' | b'%') && src.get(i + 1) == Some(&b'}') {
                in_tag = false;
                i += 1;
            } else if c == b'|' {
                let mut j = i + 1;
                while src.get(j).is_some_and(u8::is_ascii_whitespace) {
                    j += 1;
                }
                let start = j;
                while src
                    .get(j)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    j += 1;
                }
                if let Some(name) = self.source.get(start..j)
                    && !name.is_empty()
                    && !FILTERS.contains(&name)
                {
                    out.push((name.to_owned(), start));
                }
                i = j;
                continue;
            }
            i += 1;
        }
        out
    }

    /// The top-level variables it reads.
    pub fn variables(&self) -> Vec<String> {
        match self.env.get_template(NAME) {
            Ok(t) => {
                let mut v: Vec<String> = t.undeclared_variables(false).into_iter().collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        }
    }

    /// Renders it in `scope`.
    ///
    /// # Errors
    /// [`EvalError`] naming the template and its origin (an undefined variable, out of fuel).
    pub fn render(&self, scope: &Scope) -> Result<String, EvalError> {
        let err = |message: String| EvalError {
            text: self.source.to_string(),
            origin: self.origin.clone(),
            message,
        };
        let t = self.env.get_template(NAME).map_err(|e| err(e.to_string()))?;
        t.render(minijinja::Value::from(minijinja::value::Serde(scope.to_json())))
            .map_err(|e| err(e.to_string()))
    }
}
