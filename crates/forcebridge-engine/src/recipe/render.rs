//! Rendering diagnostics as a compiler does: `file:line:col`, the offending text underlined,
//! what was expected, a hint — through `miette`'s graphical handler, without colour so that the
//! output is the same in a terminal, a log and a snapshot.
//!
//! Invariant: rendering never fails: a diagnostic whose file text is unknown is rendered as one
//! plain line.

use std::fmt::Write as _;
use std::path::PathBuf;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

use super::{Diagnostic, RecipeError, Severity};

/// Renders every diagnostic of `err`, then a summary line.
pub fn render(err: &RecipeError) -> String {
    render_diagnostics(&err.diagnostics, &err.sources)
}

/// Renders `diagnostics` against the files' texts (`(path, text)`), then a summary line.
pub fn render_diagnostics(diagnostics: &[Diagnostic], sources: &[(PathBuf, String)]) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for d in diagnostics {
        let text = sources.iter().find(|(p, _)| *p == d.file).map(|(_, t)| t.clone());
        let Some(text) = text else {
            let _ = writeln!(out, "{}:{}:{}: {}", d.file.display(), d.line, d.column, d.message);
            if let Some(h) = &d.hint {
                let _ = writeln!(out, "  hint: {h}");
            }
            out.push('\n');
            continue;
        };
        let mut help = String::new();
        if let Some(x) = &d.expected {
            let _ = write!(help, "expected {x}");
        }
        if let Some(h) = &d.hint {
            if !help.is_empty() {
                help.push('\n');
            }
            help.push_str(h);
        }
        let label = if d.path.is_empty() {
            "here".to_owned()
        } else {
            d.path.clone()
        };
        let len = d.span.end.saturating_sub(d.span.start);
        let mut diag = MietteDiagnostic::new(d.message.clone())
            .with_severity(match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            })
            .with_label(LabeledSpan::at(d.span.start..d.span.start + len, label));
        if !help.is_empty() {
            diag = diag.with_help(help);
        }
        let report = miette::Report::new(diag)
            .with_source_code(NamedSource::new(d.file.display().to_string(), text).with_language("toml"));
        let mut rendered = String::new();
        if handler.render_report(&mut rendered, report.as_ref()).is_err() {
            rendered = format!("  at {}\n", d.path);
        }
        out.push_str(&rendered);
        out.push('\n');
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let _ = writeln!(out, "{errors} error(s), {warnings} warning(s)");
    out
}
