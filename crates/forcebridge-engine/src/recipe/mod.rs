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

pub mod expr;
pub mod ir;
pub mod template;

use std::fmt;
use std::path::PathBuf;

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
