//! The recipe language: one folder per integration (`recipes/<name>/recipe.toml`, its tests in
//! `tests/`, long templates beside it), in TOML 1.1 (DESIGN.md §5).
//!
//! Pipeline: [`load`] reads the file into the span-carrying file model (`model`), `compile`
//! checks every name, reference, expression (CEL, `expr`) and template (minijinja, `template`)
//! against the slot's scope and Salesforce's schema, and produces the compiled form
//! [`ir::Recipe`] that the runtime executes. Every problem becomes a [`Diagnostic`] with file,
//! line, column, the offending text, what was expected and a hint; [`RecipeError`] carries them.
//!
//! Invariant: loading never panics, whatever the file holds; a [`ir::Recipe`] only exists for a
//! recipe with no error-level diagnostic, so the runtime never re-checks what compile checked.

mod compile;
pub mod docs;
mod duration;
pub mod expr;
pub mod ir;
pub mod model;
mod render;
mod soql;
pub mod span;
pub mod standard;
pub mod template;
pub mod testcase;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::Digest;

pub use render::{render, render_diagnostics};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The recipe cannot run.
    Error,
    /// It runs, but probably not as meant.
    Warning,
}

/// One problem found in a recipe, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file (the recipe's `recipe.toml` or a template beside it).
    pub file: PathBuf,
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// Byte range of the offending text in the file.
    pub span: std::ops::Range<usize>,
    /// Where in the recipe, e.g. `flow "track_completed" › step "play" › fields.Score__c`.
    pub path: String,
    /// What is wrong, lowercase, no final period.
    pub message: String,
    /// What was expected there, if that helps.
    pub expected: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

/// A recipe that could not be loaded: one or more diagnostics (errors first).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipeError {
    /// Everything found, errors before warnings, in file order within each.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file a diagnostic points into, for [`render`].
    #[serde(skip)]
    pub sources: Vec<(PathBuf, String)>,
}

impl RecipeError {
    /// The error-level diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        match self.diagnostics.first() {
            Some(d) => write!(
                f,
                "recipe has {errors} error(s); first: {}:{}:{}: {} (at {})",
                d.file.display(),
                d.line,
                d.column,
                d.message,
                d.path
            ),
            None => write!(f, "recipe could not be loaded"),
        }
    }
}

impl std::error::Error for RecipeError {}

/// Loads and compiles the recipe at `path` (its folder or its `recipe.toml`), with its test cases
/// (`tests/*.toml` beside it). Warnings come back beside the recipe.
///
/// # Errors
/// [`RecipeError`] with every problem found, when there is at least one error.
pub fn load(path: &Path) -> Result<(ir::Recipe, Vec<Diagnostic>), RecipeError> {
    let (dir, file) = if path.is_dir() {
        (path.to_path_buf(), path.join("recipe.toml"))
    } else {
        (
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
            path.to_path_buf(),
        )
    };
    let text = std::fs::read_to_string(&file).map_err(|e| io_error(&file, &e))?;
    let mut tests = Vec::new();
    let tests_dir = dir.join("tests");
    if tests_dir.is_dir() {
        let entries = std::fs::read_dir(&tests_dir).map_err(|e| io_error(&tests_dir, &e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let t = std::fs::read_to_string(&p).map_err(|e| io_error(&p, &e))?;
            tests.push((p, t));
        }
    }
    load_parts(&file, &text, &tests)
}

/// Compiles recipe text as if read from `file` (no test cases): for tests and tools.
///
/// # Errors
/// [`RecipeError`] with every problem found, when there is at least one error.
pub fn load_str(file: &Path, text: &str) -> Result<(ir::Recipe, Vec<Diagnostic>), RecipeError> {
    load_parts(file, text, &[])
}

/// Compiles recipe text and test case texts (`(path, text)`).
///
/// # Errors
/// [`RecipeError`] with every problem found, when there is at least one error.
pub fn load_parts(
    file: &Path,
    text: &str,
    tests: &[(PathBuf, String)],
) -> Result<(ir::Recipe, Vec<Diagnostic>), RecipeError> {
    let source = span::Source::new(file, text.to_owned());
    let mut sources = vec![(file.to_path_buf(), text.to_owned())];
    let mut checker = compile::Checker::new(&source);
    let parsed: Result<model::RecipeFile, toml::de::Error> = toml::from_str(text);
    let mut recipe = match parsed {
        Ok(model) => {
            let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
            Some(checker.recipe(&model, hash))
        }
        Err(e) => {
            toml_error(&mut checker, &e);
            None
        }
    };
    let mut diagnostics = std::mem::take(&mut checker.diags);
    if let Some(r) = recipe.as_mut() {
        for (path, t) in tests {
            let tsource = span::Source::new(path, t.clone());
            let mut tc = compile::Checker::new(&tsource);
            // The test checker sees the recipe's schema through a fresh compile of its names.
            tc.adopt_schema(&checker);
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match toml::from_str::<testcase::TestFile>(t) {
                Ok(tf) => {
                    let case = testcase::compile(&mut tc, &name, &tf, r);
                    r.tests.push(case);
                }
                Err(e) => toml_error(&mut tc, &e),
            }
            diagnostics.append(&mut tc.diags);
            sources.push((path.clone(), t.clone()));
        }
    }
    // Errors first, each group in file order.
    diagnostics.sort_by_key(|d| (d.severity != Severity::Error, d.file.clone(), d.span.start));
    let has_error = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match recipe {
        Some(r) if !has_error => Ok((r, diagnostics)),
        _ => Err(RecipeError { diagnostics, sources }),
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> RecipeError {
    RecipeError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            span: 0..0,
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
            expected: None,
            hint: Some("give a recipe folder or its recipe.toml".into()),
        }],
        sources: Vec::new(),
    }
}

/// Turns the TOML parser's error (syntax, unknown key, wrong type) into a diagnostic.
fn toml_error(c: &mut compile::Checker<'_>, e: &toml::de::Error) {
    let span = e.span().unwrap_or(0..0);
    let raw = e.message().trim().to_owned();
    let (message, expected) = match raw.split_once(", expected ") {
        Some((m, x)) => (m.to_owned(), Some(plain_type(x))),
        None => (raw.clone(), None),
    };
    let hint = match (raw.strip_prefix("unknown field `"), &expected) {
        (Some(rest), Some(x)) => {
            let name = rest.split('`').next().unwrap_or("");
            let candidates: Vec<&str> = x.split('`').skip(1).step_by(2).collect();
            compile::suggest(name, candidates)
        }
        _ => None,
    };
    // The table the error is in: the last header up to the end of the error's line.
    let line_end = c
        .src
        .text
        .get(span.start..)
        .and_then(|t| t.find('\n'))
        .map_or(c.src.text.len(), |i| span.start + i);
    let path = toml_path(c.src.slice(&(0..line_end)));
    c.error(span, &path, message, expected, hint);
}

/// serde's Rust type names in words a recipe author knows.
fn plain_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number ≥ 0".to_owned(),
        "i8" | "i16" | "i32" | "i64" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array `[...]`".to_owned(),
        other if other.starts_with("struct ") => "a table `{ ... }`".to_owned(),
        other => other.to_owned(),
    }
}

/// The table the offset is in, from the last `[header]` before it.
fn toml_path(before: &str) -> String {
    before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_owned())
        .unwrap_or_default()
}
