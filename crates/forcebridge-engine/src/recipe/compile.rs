//! Compiling the file model into [`ir::Recipe`], checking everything on the way: names, types,
//! references between steps, settings and workflows, every CEL expression against its slot's
//! scope, every template's variables, SOQL fragments, and fields against the recipe's own schema
//! and Salesforce's standard objects.
//!
//! Invariant: every problem becomes a [`Diagnostic`] pointing into the file; nothing here panics
//! or stops at the first problem, so one `check` reports all it can.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use forcebridge_salesforce::metadata::{FieldSpec, FieldType, ObjectSpec, PermissionSetSpec, SchemaSpec};

use super::expr::{Expr, Origin, VarRef};
use super::ir;
use super::model::*;
use super::span::{Map, Source, Sp};
use super::standard::{self, Kind};
use super::template::Template;
use super::{Diagnostic, Severity, duration, soql};

/// What one field of an object is, as far as checks need to know.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldFacts {
    /// Objects a lookup refers to (empty: not a lookup).
    pub lookup: Vec<String>,
    /// An external id.
    pub external_id: bool,
    /// A picklist.
    pub picklist: bool,
    /// Written by Salesforce only (`Id`, `CreatedDate`, …).
    pub system: bool,
    /// The type of a field the recipe declares.
    pub custom: Option<FieldKindName>,
    /// The kind of a standard field.
    pub standard: Option<Kind>,
    /// A declared picklist's values.
    pub values: Vec<String>,
    /// A declared text field's length.
    pub length: Option<u32>,
    /// Declared `required = true`.
    pub required: bool,
}

/// How a write step writes, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteMode {
    /// `create`, `or_create`: a new record.
    Create,
    /// `upsert`: a new record or an update.
    Upsert,
    /// `update`: an existing record.
    Update,
}

/// The objects a recipe can name: its custom objects and the standard ones, with their fields.
#[derive(Debug, Default)]
pub(super) struct SchemaIndex {
    custom: BTreeMap<String, BTreeMap<String, FieldFacts>>,
    extra: BTreeMap<String, BTreeMap<String, FieldFacts>>,
}

const SYSTEM_FIELDS: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];

impl SchemaIndex {
    /// Whether the object is known (custom in the recipe, or standard).
    pub fn knows(&self, object: &str) -> bool {
        self.custom.contains_key(object) || standard::is_standard(object)
    }

    /// The fields of `object`, if the object is known.
    pub fn fields(&self, object: &str) -> Option<BTreeMap<String, FieldFacts>> {
        let mut out = BTreeMap::new();
        if let Some(own) = self.custom.get(object) {
            for f in SYSTEM_FIELDS {
                let lookup = if f.ends_with("ById") {
                    vec!["User".to_owned()]
                } else {
                    vec![]
                };
                out.insert(
                    (*f).to_owned(),
                    FieldFacts {
                        lookup,
                        system: true,
                        ..Default::default()
                    },
                );
            }
            out.insert(
                "OwnerId".to_owned(),
                FieldFacts {
                    lookup: vec!["User".into(), "Group".into()],
                    ..Default::default()
                },
            );
            out.insert("Name".to_owned(), FieldFacts::default());
            out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            return Some(out);
        }
        let std_fields = standard::fields(object)?;
        for (name, kind) in std_fields {
            let facts = FieldFacts {
                lookup: match kind {
                    Kind::Lookup(to) => to.iter().map(|s| (*s).to_owned()).collect(),
                    _ => vec![],
                },
                picklist: kind == Kind::Picklist,
                system: SYSTEM_FIELDS.contains(&name.as_str()),
                external_id: false,
                standard: Some(kind),
                ..Default::default()
            };
            out.insert(name, facts);
        }
        if let Some(extra) = self.extra.get(object) {
            out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Some(out)
    }
}

/// A step key as written (its name and span, if present) and the step kinds it belongs to.
type KeyUse<'k> = (&'k str, Option<Range<usize>>, &'k [&'k str]);

/// Where a slot's expression may look.
#[derive(Debug, Clone, Copy)]
pub(super) struct SlotScope<'s> {
    /// The variables in scope.
    pub vars: &'static [&'static str],
    /// Ids of earlier steps (`steps.<id>`).
    pub earlier: &'s [String],
    /// Ids of this step and later ones (to say "runs later" rather than "no such step").
    pub later: &'s [String],
    /// The flow's event type, to check `event.<field>` when events are declared.
    pub event_type: Option<&'s str>,
    /// What the slot is, for messages ("a flow filter").
    pub what: &'static str,
}

const FILTER_VARS: &[&str] = &["event", "settings", "connection", "now"];
const KEY_VARS: &[&str] = &["event", "settings", "connection"];
const STEP_VARS: &[&str] = &["event", "settings", "steps", "connection", "now"];
const SYNC_VARS: &[&str] = &["record", "settings"];

/// The checker: the file, the diagnostics found, and what the recipe declares.
pub(super) struct Checker<'a> {
    pub src: &'a Source,
    pub diags: Vec<Diagnostic>,
    pub settings: Vec<String>,
    pub workflows: Vec<String>,
    pub events: BTreeMap<String, Vec<String>>,
    pub schema: SchemaIndex,
    pub correlated: bool,
    /// Settings some expression or template reads.
    pub used_settings: BTreeSet<String>,
    /// Workflows some flow, step or sync names.
    pub used_workflows: BTreeSet<String>,
    /// In the flow being checked: each step's kind and, for a `match`, the fields it reads.
    pub step_outputs: BTreeMap<String, (&'static str, Vec<String>)>,
    /// In the sync being checked: the fields its `record` has.
    pub record_fields: Vec<String>,
}

/// Why a literal value does not fit a field, and what would: `None` when it fits or the field's
/// type is not known well enough to say.
fn literal_misfit(f: &FieldFacts, lit: &serde_json::Value) -> Option<(String, String)> {
    use serde_json::Value as J;
    if lit.is_null() {
        return None;
    }
    let is_bool = matches!(f.custom, Some(FieldKindName::Checkbox)) || f.standard == Some(Kind::Bool);
    let is_number = matches!(f.custom, Some(FieldKindName::Number)) || f.standard == Some(Kind::Number);
    let is_text = matches!(
        f.custom,
        Some(
            FieldKindName::Text
                | FieldKindName::TextArea
                | FieldKindName::LongTextArea
                | FieldKindName::Url
                | FieldKindName::Email
                | FieldKindName::Phone
                | FieldKindName::Picklist
        )
    ) || matches!(f.standard, Some(Kind::Text | Kind::Picklist));
    match lit {
        J::Bool(_) if !is_bool && (is_number || is_text || !f.lookup.is_empty()) => Some((
            "true or false fits only a checkbox".into(),
            "a value of the field's type".into(),
        )),
        J::String(_) | J::Number(_) if is_bool => {
            Some(("a checkbox takes true or false".into(), "true or false".into()))
        }
        J::String(t) if is_number && t.parse::<f64>().is_err() => {
            Some(("it is not a number".into(), "a number".into()))
        }
        J::String(t)
            if matches!(f.custom, Some(FieldKindName::Picklist)) && !f.values.iter().any(|v| v == t) =>
        {
            Some((
                "it is not one of the picklist's values".into(),
                format!("one of {}", f.values.join(", ")),
            ))
        }
        J::String(t) if f.length.is_some_and(|n| t.chars().count() > n as usize) => Some((
            "it is longer than the field".into(),
            format!("at most {} characters", f.length.unwrap_or(0)),
        )),
        J::String(t) if matches!(f.custom, Some(FieldKindName::Date)) || f.standard == Some(Kind::Date) => {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .is_err()
                .then(|| ("it is not a date".into(), "\"'YYYY-MM-DD'\"".into()))
        }
        _ => None,
    }
}

/// What a step does, by the key that says it (`match` when none does: its errors are reported
/// elsewhere).
fn step_kind(sf: &StepFile) -> &'static str {
    if sf.create.is_some() {
        "create"
    } else if sf.update.is_some() {
        "update"
    } else if sf.upsert.is_some() {
        "upsert"
    } else if sf.delete.is_some() {
        "delete"
    } else if sf.chatter.is_some() {
        "chatter"
    } else if sf.undo.is_some() {
        "undo"
    } else {
        "match"
    }
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `did you mean `x`?` when a candidate is close to `name`.
pub(super) fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<String> {
    let best = candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d > 0)
        .min_by_key(|(d, _)| *d)?;
    Some(format!("did you mean `{}`?", best.1))
}

/// The CEL parser's words without ANTLR's token sets: `mismatched input '<EOF>' expecting {...}`
/// becomes `unexpected end of expression`.
fn tidy_cel_message(message: &str) -> String {
    let m = message.trim_start_matches("Syntax error: ");
    let m = match m.find(" expecting ") {
        Some(i) => &m[..i],
        None => m,
    };
    let m = m.replace("mismatched input '<EOF>'", "unexpected end of expression");
    let m = m.replace("extraneous input '<EOF>'", "unexpected end of expression");
    m.replace("mismatched input", "unexpected")
        .replace("extraneous input", "unexpected")
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_api_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.contains("___")
        && !s.trim_end_matches("__c").ends_with('_')
}

impl<'a> Checker<'a> {
    pub fn new(src: &'a Source) -> Self {
        Checker {
            src,
            diags: Vec::new(),
            settings: Vec::new(),
            workflows: Vec::new(),
            events: BTreeMap::new(),
            schema: SchemaIndex::default(),
            correlated: false,
            used_settings: BTreeSet::new(),
            used_workflows: BTreeSet::new(),
            step_outputs: BTreeMap::new(),
            record_fields: Vec::new(),
        }
    }

    /// Records a problem.
    pub fn report(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        path: &str,
        message: impl Into<String>,
        expected: Option<String>,
        hint: Option<String>,
    ) {
        let span = self.src.clamp(&span);
        let (line, column) = self.src.line_col(span.start);
        self.diags.push(Diagnostic {
            severity,
            file: self.src.path.clone(),
            line,
            column,
            span,
            path: path.to_owned(),
            message: message.into(),
            expected,
            hint,
        });
    }

    /// Records an error.
    pub fn error(
        &mut self,
        span: Range<usize>,
        path: &str,
        message: impl Into<String>,
        expected: Option<String>,
        hint: Option<String>,
    ) {
        self.report(Severity::Error, span, path, message, expected, hint);
    }

    fn origin(&self, span: &Range<usize>, path: &str) -> Origin {
        let (line, column) = self.src.line_col(span.start);
        Origin {
            file: self.src.path.display().to_string(),
            line,
            column,
            path: path.to_owned(),
            span: u32::try_from(span.start).unwrap_or(u32::MAX)..u32::try_from(span.end).unwrap_or(u32::MAX),
        }
    }

    /// The file span of `len` bytes at `offset` inside the string literal `text`, or the whole
    /// literal when its text has escapes.
    fn inner_span(&self, text: &Sp<String>, offset: usize, len: usize) -> Range<usize> {
        match self.src.string_content_start(&text.span(), text.get()) {
            Some(start) => start + offset..start + offset + len.max(1),
            None => text.span(),
        }
    }

    // ----- expressions and templates -------------------------------------------------------

    /// Compiles a CEL expression and checks its variables against the slot's scope.
    pub fn expr(&mut self, text: &Sp<String>, path: &str, scope: &SlotScope<'_>) -> Option<Expr> {
        let source = text.get();
        if source.trim().is_empty() {
            self.error(
                text.span(),
                path,
                "empty expression",
                Some("a CEL expression, e.g. \"event.email\" or \"'literal text'\"".into()),
                None,
            );
            return None;
        }
        let origin = self.origin(&text.span(), path);
        let expr = match Expr::compile_located(source, origin) {
            Ok(e) => e,
            Err(f) => {
                let span = match f.offset {
                    Some(o) => self.inner_span(text, o, 1),
                    None => text.span(),
                };
                let looks_like_text = source.contains(' ')
                    && !source.contains(['\'', '"', '(', '=', '<', '>', '?', '&', '|', '+']);
                let hint = if looks_like_text {
                    "literal text is quoted inside the string: \"'Instruqt'\"; for text with values use { template = \"...\" }"
                } else {
                    "values, filters and conditions are CEL: https://cel.dev (e.g. `event.score > 3 && has(event.email)`)"
                };
                self.error(
                    span,
                    path,
                    format!("invalid CEL expression: {}", tidy_cel_message(&f.message)),
                    Some("a CEL expression".into()),
                    Some(hint.into()),
                );
                return None;
            }
        };
        for r in expr.var_refs() {
            self.check_ref(text, &r, r.offset, path, scope, "expression");
        }
        Some(expr)
    }

    /// Checks one variable reference of an expression or template against the scope.
    fn check_ref(
        &mut self,
        text: &Sp<String>,
        r: &VarRef,
        offset: Option<usize>,
        path: &str,
        scope: &SlotScope<'_>,
        kind: &str,
    ) {
        let span = match offset {
            Some(o) => {
                let len = r.root.len()
                    + r.member.as_ref().map_or(0, |m| m.len() + 1)
                    + if r.root == "steps" {
                        r.member2.as_ref().map_or(0, |m| m.len() + 1)
                            + r.member3
                                .as_ref()
                                .filter(|_| r.member2.as_deref() == Some("fields"))
                                .map_or(0, |m| m.len() + 1)
                    } else {
                        0
                    };
                self.inner_span(text, o, len)
            }
            None => text.span(),
        };
        if !scope.vars.contains(&r.root.as_str()) {
            let all = ["event", "settings", "steps", "connection", "now", "record"];
            let (message, hint) = if all.contains(&r.root.as_str()) {
                (
                    format!("`{}` is not in scope in {}", r.root, scope.what),
                    if r.root == "steps" {
                        Some("step outputs exist only inside a flow's steps; filters, correlation and coalescing keys run before any step".to_owned())
                    } else {
                        None
                    },
                )
            } else {
                (
                    format!("unknown variable `{}` in this {kind}", r.root),
                    suggest(&r.root, scope.vars.iter().copied())
                        .or_else(|| Some("text literals are quoted: \"'Instruqt'\"".to_owned())),
                )
            };
            self.error(
                span,
                path,
                message,
                Some(format!("one of {}", list(scope.vars))),
                hint,
            );
            return;
        }
        match r.root.as_str() {
            "settings" => {
                if let Some(m) = &r.member {
                    self.used_settings.insert(m.clone());
                }
                if let Some(m) = &r.member
                    && !self.settings.contains(m)
                {
                    let declared: Vec<&str> = self.settings.iter().map(String::as_str).collect();
                    self.error(
                        span,
                        path,
                        format!("unknown setting `{m}`"),
                        Some(if declared.is_empty() {
                            "a setting declared under [settings]".to_owned()
                        } else {
                            format!("one of {}", list(&declared))
                        }),
                        suggest(m, declared.iter().copied())
                            .or_else(|| Some(format!("declare it: [settings.{m}]"))),
                    );
                }
            }
            "steps" => {
                match &r.member {
                    Some(m) if scope.earlier.contains(m) => {
                        let (kind, reads) =
                            self.step_outputs.get(m).cloned().unwrap_or(("match", Vec::new()));
                        let outputs: &[&str] = match kind {
                            "match" => &["id", "object", "found", "created", "fields"],
                            "create" | "upsert" => &["id", "object", "created"],
                            "update" | "delete" => &["id", "object"],
                            "chatter" => &["id"],
                            _ => &["reverted"],
                        };
                        match (&r.member2, &r.member3) {
                            (Some(m2), _) if !outputs.contains(&m2.as_str()) => {
                                self.error(
                                    span,
                                    path,
                                    format!("the output of `{kind}` step `{m}` has no `{m2}`"),
                                    Some(format!("one of {}", list(outputs))),
                                    suggest(m2, outputs.iter().copied()),
                                );
                            }
                            (Some(m2), Some(m3)) if m2 == "fields" && !reads.contains(m3) => {
                                self.error(
                                    span,
                                    path,
                                    format!("step `{m}` does not read `{m3}`"),
                                    Some(if reads.is_empty() {
                                        "a field listed in the match's `read`".to_owned()
                                    } else {
                                        format!(
                                            "one of {}",
                                            list(&reads.iter().map(String::as_str).collect::<Vec<_>>())
                                        )
                                    }),
                                    Some(format!("add it to step `{m}`: read = [\"{m3}\"]")),
                                );
                            }
                            _ => {}
                        }
                    }
                    Some(m) if scope.later.contains(m) => {
                        self.error(
                        span,
                        path,
                        format!("step `{m}` has not run yet here"),
                        Some("a step written before this one".into()),
                        Some("a step can only read the outputs of the steps above it; move this one below it".into()),
                    );
                    }
                    Some(m) => {
                        let earlier: Vec<&str> = scope.earlier.iter().map(String::as_str).collect();
                        self.error(
                            span,
                            path,
                            format!("no step `{m}` in this flow"),
                            Some(if earlier.is_empty() {
                                "no earlier step exists".to_owned()
                            } else {
                                format!("one of {}", list(&earlier))
                            }),
                            suggest(m, earlier.iter().copied()),
                        );
                    }
                    None => {}
                }
            }
            "connection" => {
                const CONNECTION: &[&str] = &["id", "org_id", "label"];
                if let Some(m) = &r.member
                    && !CONNECTION.contains(&m.as_str())
                {
                    self.error(
                        span,
                        path,
                        format!("a connection has no `{m}`"),
                        Some(format!("one of {}", list(CONNECTION))),
                        suggest(m, CONNECTION.iter().copied()),
                    );
                }
            }
            "record" => {
                if let Some(m) = &r.member
                    && !self.record_fields.contains(m)
                {
                    let names: Vec<&str> = self.record_fields.iter().map(String::as_str).collect();
                    self.error(
                        span,
                        path,
                        format!("the sync does not read `{m}`"),
                        Some(format!("one of {}", list(&names))),
                        suggest(m, names.iter().copied())
                            .or_else(|| Some(format!("add `{m}` to the sync's `fields`"))),
                    );
                }
            }
            "event" => {
                if let (Some(m), Some(ty)) = (&r.member, scope.event_type)
                    && let Some(fields) = self.events.get(ty)
                    && !fields.contains(m)
                {
                    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
                    self.error(
                        span,
                        path,
                        format!("event `{ty}` has no field `{m}`"),
                        Some(format!("one of {}", list(&names))),
                        suggest(m, names.iter().copied())
                            .or_else(|| Some(format!("declare it under [events.\"{ty}\".fields]"))),
                    );
                }
            }
            _ => {}
        }
    }

    /// Parses a template and checks its variables against the slot's scope.
    pub fn template(&mut self, text: &Sp<String>, path: &str, scope: &SlotScope<'_>) -> Option<Template> {
        let origin = self.origin(&text.span(), path);
        let t = match Template::compile_located(text.get(), origin) {
            Ok(t) => t,
            Err((message, range)) => {
                let span = match range {
                    Some(r) => self.inner_span(text, r.start, r.end.saturating_sub(r.start)),
                    None => text.span(),
                };
                self.error(
                    span,
                    path,
                    format!("invalid template: {message}"),
                    Some("a minijinja template, e.g. \"Track {{ event.track.title }} started\"".into()),
                    None,
                );
                return None;
            }
        };
        for (name, offset) in t.unknown_filters() {
            let span = self.inner_span(text, offset, name.len());
            let filters: Vec<&str> = super::template::FILTERS.to_vec();
            self.error(
                span,
                path,
                format!("unknown template filter `{name}`"),
                None,
                suggest(&name, filters).or_else(|| Some("see the filters listed in docs/recipes.md".into())),
            );
        }
        for p in t.variable_paths() {
            let mut parts = p.split('.');
            let r = VarRef {
                root: parts.next().unwrap_or("").to_owned(),
                member: parts.next().map(str::to_owned),
                member2: parts.next().map(str::to_owned),
                member3: parts.next().map(str::to_owned),
                offset: None,
            };
            let offset = text.get().find(&p).or_else(|| text.get().find(&r.root));
            self.check_ref(text, &r, offset, path, scope, "template");
        }
        Some(t)
    }

    /// Parses a duration.
    pub fn duration(&mut self, text: &Sp<String>, path: &str) -> Option<std::time::Duration> {
        let d = duration::parse(text.get());
        if d.is_none() {
            self.error(
                text.span(),
                path,
                format!("`{}` is not a duration", text.get()),
                Some(duration::EXPECTED.into()),
                None,
            );
        }
        d
    }

    // ----- Salesforce objects and fields -----------------------------------------------------

    /// Checks that `object` is known; warns for a standard-looking object this table lacks.
    pub fn object(&mut self, object: &Sp<String>, path: &str) -> bool {
        let name = object.get();
        if self.schema.knows(name) {
            return true;
        }
        if name.ends_with("__c") {
            let customs: Vec<&str> = self.schema.custom.keys().map(String::as_str).collect();
            self.error(
                object.span(),
                path,
                format!("object `{name}` is not in the recipe's schema"),
                Some("a custom object declared under [schema.objects] or a standard object".into()),
                suggest(name, customs.iter().copied())
                    .or_else(|| Some(format!("declare it: [schema.objects.{name}]"))),
            );
            return false;
        }
        if !is_api_name(name) {
            self.error(
                object.span(),
                path,
                format!("`{name}` is not an object name"),
                Some("an API name such as `Lead` or `Track__c`".into()),
                None,
            );
            return false;
        }
        let known: Vec<&str> = standard::objects().collect();
        match suggest(name, known.iter().copied()) {
            Some(hint) => self.error(
                object.span(),
                path,
                format!("unknown object `{name}`"),
                Some(format!(
                    "a standard object ({}) or one of the recipe's",
                    list(&known)
                )),
                Some(hint),
            ),
            None => self.report(
                Severity::Warning,
                object.span(),
                path,
                format!("`{name}` is not a standard object recipe check knows; its fields are not checked"),
                None,
                Some("check it against the org with `forcebridge recipe plan`".into()),
            ),
        }
        false
    }

    /// Checks that `field` (plain or a `Rel.Field` path) exists on `object`; `write` refuses
    /// fields Salesforce sets itself. Returns the field's facts when known.
    pub fn field(&mut self, object: &str, field: &Sp<String>, path: &str, write: bool) -> Option<FieldFacts> {
        let fields = self.schema.fields(object)?;
        let name = field.get();
        if let Some((rel, target_field)) = name.split_once('.') {
            // `Parent__r.Key__c` (custom) or `Account.Key__c` (standard `AccountId`).
            let lookup_name = match rel.strip_suffix("__r") {
                Some(stem) => format!("{stem}__c"),
                None => format!("{rel}Id"),
            };
            let Some(lookup) = fields.get(&lookup_name).filter(|f| !f.lookup.is_empty()) else {
                self.error(
                    field.span(),
                    path,
                    format!("`{rel}` is not a relationship of {object}"),
                    Some(format!(
                        "`<Lookup>__r.<Field>` where `<Lookup>__c` is a lookup field of {object}"
                    )),
                    None,
                );
                return None;
            };
            let [target] = lookup.lookup.as_slice() else {
                self.error(
                    field.span(),
                    path,
                    format!("`{lookup_name}` refers to several objects; a path through it is ambiguous"),
                    None,
                    None,
                );
                return None;
            };
            let target = target.clone();
            let tfields = self.schema.fields(&target)?;
            let Some(tf) = tfields.get(target_field) else {
                let names: Vec<&str> = tfields.keys().map(String::as_str).collect();
                self.error(
                    field.span(),
                    path,
                    format!("{target} has no field `{target_field}`"),
                    None,
                    suggest(target_field, names.iter().copied()),
                );
                return None;
            };
            if write && !tf.external_id {
                self.error(
                    field.span(),
                    path,
                    format!("`{target}.{target_field}` is not an external id, so it cannot set `{lookup_name}`"),
                    Some("a path ending in an external id field of the parent".into()),
                    Some(format!("mark it `external_id = true` in the schema, or write `{lookup_name}` with the parent's id")),
                );
            }
            return Some(lookup.clone());
        }
        match fields.get(name.as_str()) {
            Some(f) => {
                if write && f.system {
                    self.error(
                        field.span(),
                        path,
                        format!("`{object}.{name}` is set by Salesforce and cannot be written"),
                        None,
                        None,
                    );
                }
                Some(f.clone())
            }
            None => {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                let hint = suggest(name, names.iter().copied()).or_else(|| {
                    if name.ends_with("__c") {
                        if self.schema.custom.contains_key(object) {
                            Some(format!("declare it under [schema.objects.{object}.fields]"))
                        } else {
                            Some(format!("declare it under [schema.fields.{object}]"))
                        }
                    } else {
                        None
                    }
                });
                self.error(
                    field.span(),
                    path,
                    format!("{object} has no field `{name}`"),
                    Some(format!("a field of {object}")),
                    hint,
                );
                None
            }
        }
    }

    /// Checks a SOQL WHERE fragment on `object`.
    pub fn soql_where(&mut self, object: &str, text: &Sp<String>, path: &str) -> Option<String> {
        let prefix = format!("SELECT Id FROM {object} WHERE ");
        self.soql_fragment(
            object,
            text,
            path,
            &prefix,
            "a SOQL condition, e.g. \"IsConverted = false\"",
        )
    }

    /// Checks a SOQL ORDER BY fragment on `object`.
    pub fn soql_order_by(&mut self, object: &str, text: &Sp<String>, path: &str) -> Option<String> {
        let prefix = format!("SELECT Id FROM {object} ORDER BY ");
        self.soql_fragment(
            object,
            text,
            path,
            &prefix,
            "a SOQL ordering, e.g. \"CreatedDate ASC\"",
        )
    }

    fn soql_fragment(
        &mut self,
        object: &str,
        text: &Sp<String>,
        path: &str,
        prefix: &str,
        expected: &str,
    ) -> Option<String> {
        match soql::fields_of(prefix, text.get()) {
            Err((message, offset)) => {
                let span = match offset {
                    Some(o) => self.inner_span(text, o, 1),
                    None => text.span(),
                };
                self.error(
                    span,
                    path,
                    format!("invalid SOQL: {message}"),
                    Some(expected.into()),
                    None,
                );
                None
            }
            Ok(fields) => {
                if self.schema.fields(object).is_some() {
                    for (name, offset) in fields {
                        let span = self.inner_span(text, offset, name.len());
                        let sp = Sp::new(span, name);
                        self.field(object, &sp, path, false);
                    }
                }
                Some(text.get().clone())
            }
        }
    }

    // ----- the recipe -------------------------------------------------------------------------

    /// Compiles the whole file.
    pub fn recipe(&mut self, file: &RecipeFile, content_hash: String) -> ir::Recipe {
        let header = file.recipe.get();
        if !header
            .name
            .get()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            || header.name.get().is_empty()
        {
            self.error(
                header.name.span(),
                "recipe.name",
                format!("`{}` is not a recipe name", header.name.get()),
                Some("lowercase letters, digits, `_` and `-`".into()),
                None,
            );
        }
        if header.version.get().trim().is_empty() {
            self.error(
                header.version.span(),
                "recipe.version",
                "empty version",
                Some("a version such as \"1.0.0\"".into()),
                None,
            );
        }
        let connection = self.connection(file.connection.as_ref(), file.recipe.span());
        self.workflows = file.workflows.iter().map(|(k, _)| k.get().clone()).collect();
        let workflows = file
            .workflows
            .iter()
            .map(|(name, w)| self.workflow(name, w.get()))
            .collect();
        let schema = self.schema(file.schema.as_ref());
        self.settings = file.settings.iter().map(|(k, _)| k.get().clone()).collect();
        let settings = file
            .settings
            .iter()
            .filter_map(|(n, s)| self.setting(n, s))
            .collect();
        let mut events = Vec::new();
        for (ty, ev) in file.events.iter() {
            let mut fields = Vec::new();
            let mut specs = Vec::new();
            for (name, t) in ev.get().fields.iter() {
                const TYPES: &[&str] = &["string", "number", "bool", "object", "list", "any"];
                if let Some(kind) = ir::EventFieldKind::parse(t.get()) {
                    specs.push(ir::EventField {
                        name: name.get().clone(),
                        kind,
                        optional: t.get().ends_with('?'),
                    });
                } else {
                    self.error(
                        t.span(),
                        &format!("events.\"{}\" › fields.{}", ty.get(), name.get()),
                        format!("unknown field type `{}`", t.get()),
                        Some(format!("one of {} (`?` after it: optional)", list(TYPES))),
                        None,
                    );
                }
                fields.push(name.get().clone());
            }
            self.events.insert(ty.get().clone(), fields);
            events.push(ir::EventSpec {
                name: ty.get().clone(),
                fields: specs,
            });
        }
        self.correlated = file.flows.iter().any(|(_, f)| f.get().correlate.is_some());
        let flows = file.flows.iter().filter_map(|(n, f)| self.flow(n, f)).collect();
        let syncs = file.syncs.iter().filter_map(|(n, s)| self.sync(n, s)).collect();
        // Unused names are worth a warning only in a recipe that otherwise checks: a mistake
        // elsewhere (a misspelt `settings.x`) would make them look unused.
        let clean = self.error_count() == 0;
        for (name, _) in file.settings.iter() {
            if clean && !self.used_settings.contains(name.get()) {
                self.report(
                    Severity::Warning,
                    name.span(),
                    &format!("settings.{}", name.get()),
                    format!("setting `{}` is never read", name.get()),
                    None,
                    Some(format!(
                        "use it as `settings.{}` in an expression or template, or remove it",
                        name.get()
                    )),
                );
            }
        }
        for (name, _) in file.workflows.iter() {
            if clean && !self.used_workflows.contains(name.get()) {
                self.report(
                    Severity::Warning,
                    name.span(),
                    &format!("workflows.{}", name.get()),
                    format!("workflow `{}` switches nothing", name.get()),
                    None,
                    Some(format!(
                        "name it in a flow's or a step's `workflow = \"{}\"`, or remove it",
                        name.get()
                    )),
                );
            }
        }
        ir::Recipe {
            name: header.name.get().clone(),
            title: header.title.get().clone(),
            description: header
                .description
                .as_ref()
                .map(|d| d.get().clone())
                .unwrap_or_default(),
            version: header.version.get().clone(),
            content_hash,
            connection,
            settings,
            workflows,
            schema,
            flows,
            syncs,
            events,
            tests: Vec::new(),
        }
    }

    fn connection(&mut self, c: Option<&Sp<ConnectionFile>>, header: Range<usize>) -> ir::ConnectionSpec {
        let Some(c) = c else {
            self.error(
                header,
                "connection",
                "the recipe has no [connection] table",
                Some("[connection] with `auth = [...]`".into()),
                Some("add `[connection]` with `auth = [\"oauth_web_server\"]`".into()),
            );
            return ir::ConnectionSpec {
                auth: vec![ir::AuthMethod::OauthWebServer],
                environments: vec![ir::EnvironmentKind::Production, ir::EnvironmentKind::Sandbox],
                scopes: vec![],
                personal: true,
                shared: true,
                per_owner_limit: 5,
                wait_for_new_app: None,
            };
        };
        let cf = c.get();
        if cf.auth.is_empty() {
            self.error(
                c.span(),
                "connection.auth",
                "no auth method",
                Some(
                    "at least one of `oauth_web_server`, `client_credentials`, `password`, `jwt_bearer`"
                        .into(),
                ),
                None,
            );
        }
        let auth: Vec<ir::AuthMethod> = cf
            .auth
            .iter()
            .map(|a| match a.get() {
                AuthMethodName::OauthWebServer => ir::AuthMethod::OauthWebServer,
                AuthMethodName::ClientCredentials => ir::AuthMethod::ClientCredentials,
                AuthMethodName::Password => ir::AuthMethod::Password,
                AuthMethodName::JwtBearer => ir::AuthMethod::JwtBearer,
            })
            .collect();
        if !cf.scopes.is_empty() && !auth.contains(&ir::AuthMethod::OauthWebServer) {
            self.report(
                Severity::Warning,
                cf.scopes[0].span(),
                "connection.scopes",
                "scopes are only asked for by the web-server flow, which this recipe does not accept",
                None,
                Some("remove `scopes` or add \"oauth_web_server\" to `auth`".into()),
            );
        }
        let environments = match &cf.environments {
            Some(e) => e
                .iter()
                .map(|e| match e.get() {
                    EnvironmentName::Production => ir::EnvironmentKind::Production,
                    EnvironmentName::Sandbox => ir::EnvironmentKind::Sandbox,
                    EnvironmentName::MyDomain => ir::EnvironmentKind::MyDomain,
                })
                .collect(),
            None => vec![ir::EnvironmentKind::Production, ir::EnvironmentKind::Sandbox],
        };
        let per_owner_limit = cf.per_owner_limit.as_ref().map_or(5, |l| *l.get());
        if per_owner_limit == 0
            && let Some(l) = &cf.per_owner_limit
        {
            self.error(
                l.span(),
                "connection.per_owner_limit",
                "the limit must be at least 1",
                Some("a whole number ≥ 1".into()),
                None,
            );
        }
        let wait_for_new_app = cf
            .wait_for_new_app
            .as_ref()
            .and_then(|w| self.duration(w, "connection.wait_for_new_app"));
        ir::ConnectionSpec {
            auth,
            environments,
            scopes: cf.scopes.iter().map(|s| s.get().clone()).collect(),
            personal: cf.personal.as_ref().is_none_or(|p| *p.get()),
            shared: cf.shared.as_ref().is_none_or(|p| *p.get()),
            per_owner_limit,
            wait_for_new_app,
        }
    }

    fn workflow(&mut self, name: &Sp<String>, w: &WorkflowFile) -> ir::Workflow {
        let path = format!("workflows.{}", name.get());
        if !is_ident(name.get()) {
            self.error(
                name.span(),
                &path,
                format!("`{}` is not a workflow name", name.get()),
                Some("lowercase letters, digits and `_`".into()),
                None,
            );
        }
        let mandatory = w.mandatory.as_ref().is_some_and(|m| *m.get());
        if let (true, Some(d)) = (mandatory, &w.default)
            && !d.get()
        {
            self.error(
                d.span(),
                &path,
                "a mandatory workflow cannot be off by default",
                None,
                Some("remove `default = false` or `mandatory = true`".into()),
            );
        }
        ir::Workflow {
            name: name.get().clone(),
            label: w
                .label
                .as_ref()
                .map_or_else(|| name.get().clone(), |l| l.get().clone()),
            help: w.help.as_ref().map(|h| h.get().clone()),
            mandatory,
            default_on: mandatory || w.default.as_ref().is_none_or(|d| *d.get()),
        }
    }

    fn workflow_ref(&mut self, w: &Sp<String>, path: &str) -> Option<String> {
        if self.workflows.contains(w.get()) {
            self.used_workflows.insert(w.get().clone());
            return Some(w.get().clone());
        }
        let names: Vec<&str> = self.workflows.iter().map(String::as_str).collect();
        self.error(
            w.span(),
            path,
            format!("unknown workflow `{}`", w.get()),
            Some(if names.is_empty() {
                "a workflow declared under [workflows]".to_owned()
            } else {
                format!("one of {}", list(&names))
            }),
            suggest(w.get(), names.iter().copied())
                .or_else(|| Some(format!("declare it: [workflows.{}]", w.get()))),
        );
        None
    }

    fn setting(&mut self, name: &Sp<String>, s: &Sp<SettingFile>) -> Option<ir::Setting> {
        let path = format!("settings.{}", name.get());
        let sf = s.get();
        if !is_ident(name.get()) {
            self.error(
                name.span(),
                &path,
                format!("`{}` is not a setting name", name.get()),
                Some("lowercase letters, digits and `_` (it is used as `settings.<name>`)".into()),
                None,
            );
        }
        let kind = *sf.kind.get();
        let kname = format!("{kind:?}").to_lowercase();
        // Keys that only some types take.
        let only = |this: &mut Self, present: Option<Range<usize>>, key: &str, ok: &[SettingKind]| {
            if let Some(span) = present
                && !ok.contains(&kind)
            {
                this.error(
                    span,
                    &path,
                    format!("`{key}` does not apply to a `{kname}` setting"),
                    None,
                    Some("remove it".into()),
                );
            }
        };
        only(
            self,
            sf.max_length.as_ref().map(Sp::span),
            "max_length",
            &[SettingKind::Text],
        );
        only(self, sf.max.as_ref().map(Sp::span), "max", &[SettingKind::Number]);
        only(
            self,
            sf.min.as_ref().map(Sp::span),
            "min",
            &[SettingKind::Number, SettingKind::Objects],
        );
        only(
            self,
            sf.choices.as_ref().and_then(|c| c.first()).map(Sp::span),
            "choices",
            &[SettingKind::Choice, SettingKind::Objects],
        );
        only(
            self,
            sf.picklist.as_ref().map(Sp::span),
            "picklist",
            &[SettingKind::Picklist],
        );
        only(
            self,
            sf.object.as_ref().map(Sp::span),
            "object",
            &[SettingKind::FieldMapping],
        );
        only(
            self,
            sf.sources.as_ref().and_then(|c| c.first()).map(Sp::span),
            "sources",
            &[SettingKind::FieldMapping],
        );
        let strings = |v: &Option<Vec<Sp<String>>>| {
            v.as_ref()
                .map(|c| c.iter().map(|x| x.get().clone()).collect::<Vec<_>>())
        };
        let kind_ir = match kind {
            SettingKind::Bool => ir::SettingType::Bool,
            SettingKind::Text => ir::SettingType::Text {
                max_length: sf.max_length.as_ref().map(|m| *m.get()),
            },
            SettingKind::Number => ir::SettingType::Number {
                min: sf.min.as_ref().map(|m| *m.get()),
                max: sf.max.as_ref().map(|m| *m.get()),
            },
            SettingKind::Choice | SettingKind::Objects => {
                let choices = strings(&sf.choices).unwrap_or_default();
                if choices.is_empty() {
                    self.error(
                        s.span(),
                        &path,
                        format!("a `{kname}` setting needs `choices`"),
                        Some("choices = [\"a\", \"b\"]".into()),
                        None,
                    );
                }
                if kind == SettingKind::Objects {
                    for c in sf.choices.iter().flatten() {
                        self.object(c, &path);
                    }
                    ir::SettingType::Objects {
                        choices,
                        min: sf.min.as_ref().map_or(0, |m| m.get().max(0.0) as u32),
                    }
                } else {
                    ir::SettingType::Choice { choices }
                }
            }
            SettingKind::Picklist => {
                let Some(p) = &sf.picklist else {
                    self.error(
                        s.span(),
                        &path,
                        "a `picklist` setting needs `picklist = \"Object.Field\"`",
                        Some("picklist = \"Lead.Status\"".into()),
                        None,
                    );
                    return None;
                };
                let Some((object, field)) = p.get().split_once('.') else {
                    self.error(
                        p.span(),
                        &path,
                        format!("`{}` is not `Object.Field`", p.get()),
                        Some("picklist = \"Lead.Status\"".into()),
                        None,
                    );
                    return None;
                };
                let osp = Sp::new(p.span(), object.to_owned());
                if self.object(&osp, &path) {
                    let fsp = Sp::new(p.span(), field.to_owned());
                    if let Some(f) = self.field(object, &fsp, &path, false)
                        && !f.picklist
                    {
                        self.error(
                            p.span(),
                            &path,
                            format!("`{}` is not a picklist", p.get()),
                            Some("a picklist field".into()),
                            None,
                        );
                    }
                }
                ir::SettingType::Picklist {
                    object: object.to_owned(),
                    field: field.to_owned(),
                }
            }
            SettingKind::FieldMapping => {
                let Some(o) = &sf.object else {
                    self.error(
                        s.span(),
                        &path,
                        "a `field_mapping` setting needs `object`",
                        Some("object = \"Contact\"".into()),
                        None,
                    );
                    return None;
                };
                self.object(o, &path);
                ir::SettingType::FieldMapping {
                    object: o.get().clone(),
                    sources: strings(&sf.sources).unwrap_or_default(),
                }
            }
        };
        if let Some(d) = &sf.default {
            let v = d.get();
            let ok = match &kind_ir {
                ir::SettingType::Bool => v.is_boolean(),
                ir::SettingType::Text { max_length } => v
                    .as_str()
                    .is_some_and(|t| max_length.is_none_or(|m| t.chars().count() <= m as usize)),
                ir::SettingType::Number { min, max } => v
                    .as_f64()
                    .is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)),
                ir::SettingType::Choice { choices } => {
                    v.as_str().is_some_and(|t| choices.iter().any(|c| c == t))
                }
                ir::SettingType::Picklist { .. } => v.is_string(),
                ir::SettingType::Objects { choices, .. } => v.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|x| x.as_str().is_some_and(|t| choices.iter().any(|c| c == t)))
                }),
                ir::SettingType::FieldMapping { .. } => v.is_object(),
            };
            if !ok {
                self.error(
                    d.span(),
                    &path,
                    format!("the default {v} does not fit a `{kname}` setting"),
                    Some(format!("a value of the setting's type ({kname})")),
                    None,
                );
            }
        }
        Some(ir::Setting {
            name: name.get().clone(),
            label: sf
                .label
                .as_ref()
                .map_or_else(|| name.get().clone(), |l| l.get().clone()),
            help: sf.help.as_ref().map(|h| h.get().clone()),
            kind: kind_ir,
            default: sf.default.as_ref().map(|d| d.get().clone()),
        })
    }

    fn schema(&mut self, s: Option<&Sp<SchemaFile>>) -> SchemaSpec {
        let mut spec = SchemaSpec::default();
        let Some(s) = s else { return spec };
        let sf = s.get();
        // First pass: names, so lookups between the recipe's objects resolve in any order.
        for (name, o) in sf.objects.iter() {
            let facts = o
                .get()
                .fields
                .iter()
                .map(|(f, ff)| (f.get().clone(), Self::facts(ff.get())))
                .collect();
            self.schema.custom.insert(name.get().clone(), facts);
        }
        for (object, fields) in sf.fields.iter() {
            let facts: BTreeMap<String, FieldFacts> = fields
                .get()
                .iter()
                .map(|(f, ff)| (f.get().clone(), Self::facts(ff.get())))
                .collect();
            self.schema
                .extra
                .entry(object.get().clone())
                .or_default()
                .extend(facts);
        }
        for (name, o) in sf.objects.iter() {
            let path = format!("schema.objects.{}", name.get());
            if !name.get().ends_with("__c") || !is_api_name(name.get()) {
                self.error(
                    name.span(),
                    &path,
                    format!("`{}` is not a custom object name", name.get()),
                    Some("an API name ending in `__c` (`Instruqt_Track__c`)".into()),
                    None,
                );
            }
            let of = o.get();
            let mut relationships = BTreeSet::new();
            let fields = of
                .fields
                .iter()
                .filter_map(|(f, ff)| self.field_spec(name.get(), f, ff, &path, &mut relationships))
                .collect();
            let label = of.label.get().clone();
            spec.objects.push(ObjectSpec {
                api_name: name.get().clone(),
                plural_label: of
                    .plural
                    .as_ref()
                    .map_or_else(|| format!("{label}s"), |p| p.get().clone()),
                label,
                name_label: of
                    .name_label
                    .as_ref()
                    .map_or_else(|| "Name".to_owned(), |n| n.get().clone()),
                fields,
            });
        }
        for (object, fields) in sf.fields.iter() {
            let path = format!("schema.fields.{}", object.get());
            if self.schema.custom.contains_key(object.get()) {
                self.error(
                    object.span(),
                    &path,
                    format!("`{}` is one of the recipe's objects", object.get()),
                    None,
                    Some(format!(
                        "declare its fields under [schema.objects.{}.fields]",
                        object.get()
                    )),
                );
                continue;
            }
            if !standard::is_standard(object.get()) {
                self.object(object, &path);
            }
            let mut relationships = BTreeSet::new();
            for (f, ff) in fields.get().iter() {
                if let Some(spec_f) = self.field_spec(object.get(), f, ff, &path, &mut relationships) {
                    if standard::field(object.get(), f.get()).is_some() {
                        self.error(
                            f.span(),
                            &path,
                            format!("{} already has a standard field `{}`", object.get(), f.get()),
                            None,
                            None,
                        );
                    }
                    spec.extra_fields.push((object.get().clone(), spec_f));
                }
            }
        }
        if let Some(p) = &sf.permission_set {
            let pf = p.get();
            if !is_api_name(pf.name.get()) {
                self.error(
                    pf.name.span(),
                    "schema.permission_set.name",
                    format!("`{}` is not an API name", pf.name.get()),
                    Some("letters, digits and single `_` (`Instruqt_Integration`)".into()),
                    None,
                );
            }
            spec.permission_set = Some(PermissionSetSpec {
                name: pf.name.get().clone(),
                label: pf
                    .label
                    .as_ref()
                    .map_or_else(|| pf.name.get().replace('_', " "), |l| l.get().clone()),
                assign_to_current_user: pf.assign.as_ref().is_none_or(|a| *a.get()),
            });
        }
        if let Err(e) = spec.validate()
            && !self.diags.iter().any(|d| d.severity == Severity::Error)
        {
            self.error(
                s.span(),
                "schema",
                format!("the schema is not valid: {e}"),
                None,
                None,
            );
        }
        spec
    }

    fn facts(f: &FieldFile) -> FieldFacts {
        FieldFacts {
            lookup: f
                .to
                .as_ref()
                .filter(|_| *f.kind.get() == FieldKindName::Lookup)
                .map(|t| vec![t.get().clone()])
                .unwrap_or_default(),
            external_id: f.external_id.as_ref().is_some_and(|e| *e.get()),
            picklist: *f.kind.get() == FieldKindName::Picklist,
            system: false,
            custom: Some(*f.kind.get()),
            standard: None,
            values: f.values.iter().flatten().map(|v| v.get().clone()).collect(),
            required: f.required.as_ref().is_some_and(|r| *r.get()),
            length: f.length.as_ref().map(|l| *l.get()),
        }
    }

    fn field_spec(
        &mut self,
        object: &str,
        name: &Sp<String>,
        f: &Sp<FieldFile>,
        parent: &str,
        relationships: &mut BTreeSet<(String, String)>,
    ) -> Option<FieldSpec> {
        let path = format!("{parent} › fields.{}", name.get());
        let ff = f.get();
        if !name.get().ends_with("__c") || !is_api_name(name.get()) {
            self.error(
                name.span(),
                &path,
                format!("`{}` is not a custom field name", name.get()),
                Some("an API name ending in `__c` (`Track_Slug__c`)".into()),
                None,
            );
            return None;
        }
        let kind = *ff.kind.get();
        let kname = format!("{kind:?}");
        let only = |this: &mut Self, span: Option<Range<usize>>, key: &str, ok: &[FieldKindName]| {
            if let Some(span) = span
                && !ok.contains(&kind)
            {
                this.error(
                    span,
                    &path,
                    format!("`{key}` does not apply to a {kname} field"),
                    None,
                    Some("remove it".into()),
                );
            }
        };
        use FieldKindName as K;
        only(
            self,
            ff.length.as_ref().map(Sp::span),
            "length",
            &[K::Text, K::LongTextArea],
        );
        only(
            self,
            ff.visible_lines.as_ref().map(Sp::span),
            "visible_lines",
            &[K::LongTextArea],
        );
        only(
            self,
            ff.precision.as_ref().map(Sp::span),
            "precision",
            &[K::Number],
        );
        only(self, ff.scale.as_ref().map(Sp::span), "scale", &[K::Number]);
        only(
            self,
            ff.values.as_ref().and_then(|v| v.first()).map(Sp::span),
            "values",
            &[K::Picklist],
        );
        only(self, ff.to.as_ref().map(Sp::span), "to", &[K::Lookup]);
        only(
            self,
            ff.relationship.as_ref().map(Sp::span),
            "relationship",
            &[K::Lookup],
        );
        let need = |this: &mut Self,
                    v: Option<u32>,
                    key: &str,
                    range: std::ops::RangeInclusive<u32>,
                    span: Option<Range<usize>>|
         -> u32 {
            match v {
                Some(n) if range.contains(&n) => n,
                Some(n) => {
                    this.error(
                        span.unwrap_or_else(|| f.span()),
                        &path,
                        format!("`{key}` = {n} is out of range"),
                        Some(format!("{}..={}", range.start(), range.end())),
                        None,
                    );
                    *range.start()
                }
                None => {
                    this.error(
                        f.span(),
                        &path,
                        format!("a {kname} field needs `{key}`"),
                        Some(format!("{key} = a number in {}..={}", range.start(), range.end())),
                        None,
                    );
                    *range.start()
                }
            }
        };
        let length = ff.length.as_ref().map(|l| *l.get());
        let lspan = ff.length.as_ref().map(Sp::span);
        let field_type = match kind {
            K::Text => FieldType::Text {
                length: need(self, length, "length", 1..=255, lspan),
            },
            K::TextArea => FieldType::TextArea,
            K::LongTextArea => FieldType::LongTextArea {
                length: need(self, length, "length", 256..=131_072, lspan),
                visible_lines: ff.visible_lines.as_ref().map_or(3, |v| *v.get()),
            },
            K::Url => FieldType::Url,
            K::Email => FieldType::Email,
            K::Phone => FieldType::Phone,
            K::Number => {
                let precision = need(
                    self,
                    ff.precision.as_ref().map(|p| *p.get()),
                    "precision",
                    1..=18,
                    ff.precision.as_ref().map(Sp::span),
                );
                let scale = ff.scale.as_ref().map_or(0, |s| *s.get());
                if scale > precision
                    && let Some(s) = &ff.scale
                {
                    self.error(
                        s.span(),
                        &path,
                        format!("scale {scale} is larger than precision {precision}"),
                        Some(format!("0..={precision}")),
                        None,
                    );
                }
                FieldType::Number { precision, scale }
            }
            K::Checkbox => FieldType::Checkbox,
            K::Date => FieldType::Date,
            K::DateTime => FieldType::DateTime,
            K::Picklist => {
                let values: Vec<String> = ff.values.iter().flatten().map(|v| v.get().clone()).collect();
                if values.is_empty() {
                    self.error(
                        f.span(),
                        &path,
                        "a Picklist field needs `values`",
                        Some("values = [\"A\", \"B\"]".into()),
                        None,
                    );
                }
                FieldType::Picklist { values }
            }
            K::Lookup => {
                let Some(to) = &ff.to else {
                    self.error(
                        f.span(),
                        &path,
                        "a Lookup field needs `to`",
                        Some("to = \"Lead\" (the object referred to)".into()),
                        None,
                    );
                    return None;
                };
                self.object(to, &path);
                let relationship_name = match &ff.relationship {
                    Some(r) => r.get().clone(),
                    None => {
                        if self.schema.custom.contains_key(object) {
                            object.trim_end_matches("__c").to_owned() + "s"
                        } else {
                            format!("{}_{}", object, name.get().trim_end_matches("__c"))
                        }
                    }
                };
                if !relationships.insert((to.get().clone(), relationship_name.clone())) {
                    self.error(
                        ff.relationship.as_ref().map_or_else(|| f.span(), Sp::span),
                        &path,
                        format!("another lookup from {object} to {} already uses the relationship name `{relationship_name}`", to.get()),
                        None,
                        Some("set a distinct `relationship = \"...\"`".into()),
                    );
                }
                FieldType::Lookup {
                    reference_to: to.get().clone(),
                    relationship_name,
                }
            }
        };
        let label = ff.label.as_ref().map_or_else(
            || name.get().trim_end_matches("__c").replace('_', " "),
            |l| l.get().clone(),
        );
        let external_id = ff.external_id.as_ref().is_some_and(|e| *e.get());
        if external_id && !matches!(kind, K::Text | K::Number | K::Email) {
            self.error(
                ff.external_id.as_ref().map_or_else(|| f.span(), Sp::span),
                &path,
                format!("a {kname} field cannot be an external id"),
                Some("a Text, Number or Email field".into()),
                None,
            );
        }
        Some(FieldSpec {
            api_name: name.get().clone(),
            label,
            field_type,
            required: ff.required.as_ref().is_some_and(|r| *r.get()),
            external_id,
            unique: external_id || ff.unique.as_ref().is_some_and(|u| *u.get()),
            description: ff.description.as_ref().map(|d| d.get().clone()),
        })
    }

    fn flow(&mut self, name: &Sp<String>, f: &Sp<FlowFile>) -> Option<ir::Flow> {
        let path = format!("flow \"{}\"", name.get());
        let ff = f.get();
        if !is_ident(name.get()) {
            self.error(
                name.span(),
                &path,
                format!("`{}` is not a flow name", name.get()),
                Some("lowercase letters, digits and `_`".into()),
                None,
            );
        }
        let on = ff.on.get().clone();
        if on.trim().is_empty() {
            self.error(
                ff.on.span(),
                &format!("{path} › on"),
                "empty event type",
                Some("the event type handled, e.g. \"track.completed\"".into()),
                None,
            );
        } else if !self.events.is_empty() && !self.events.contains_key(&on) {
            let names: Vec<&str> = self.events.keys().map(String::as_str).collect();
            self.error(
                ff.on.span(),
                &format!("{path} › on"),
                format!("unknown event type `{on}`"),
                Some(format!("one of {}", list(&names))),
                suggest(&on, names.iter().copied())
                    .or_else(|| Some(format!("declare it: [events.\"{on}\"]"))),
            );
        }
        let event_type = Some(on.as_str());
        let filter_scope = SlotScope {
            vars: FILTER_VARS,
            earlier: &[],
            later: &[],
            event_type,
            what: "a flow filter",
        };
        let filter = ff
            .filter
            .as_ref()
            .and_then(|e| self.expr(e, &format!("{path} › filter"), &filter_scope));
        let workflow = ff
            .workflow
            .as_ref()
            .and_then(|w| self.workflow_ref(w, &format!("{path} › workflow")));
        let corr_scope = SlotScope {
            what: "a correlation key",
            ..filter_scope
        };
        let correlate = ff
            .correlate
            .as_ref()
            .and_then(|e| self.expr(e, &format!("{path} › correlate"), &corr_scope));
        let coalesce = ff.coalesce.as_ref().and_then(|c| {
            let cp = format!("{path} › coalesce");
            let window = self.duration(&c.get().window, &format!("{cp}.window"));
            let key_scope = SlotScope {
                vars: KEY_VARS,
                what: "a coalescing key",
                ..filter_scope
            };
            let key = self.expr(&c.get().key, &format!("{cp}.key"), &key_scope);
            Some(ir::Coalesce {
                window: window?,
                key: key?,
            })
        });
        if ff.steps.is_empty() {
            self.error(
                f.span(),
                &path,
                "the flow has no steps",
                Some("at least one [[flows.<name>.steps]]".into()),
                None,
            );
        }
        let ids: Vec<String> = ff.steps.iter().map(|s| s.get().id.get().clone()).collect();
        self.step_outputs.clear();
        let mut steps = Vec::new();
        let mut failed = false;
        for (i, s) in ff.steps.iter().enumerate() {
            let id = s.get().id.get();
            if ids[..i].contains(id) {
                self.error(
                    s.get().id.span(),
                    &format!("{path} › step \"{id}\""),
                    format!("a step `{id}` is already in this flow"),
                    Some("a step id unique in the flow".into()),
                    None,
                );
            }
            if !is_ident(id) {
                self.error(
                    s.get().id.span(),
                    &format!("{path} › step \"{id}\""),
                    format!("`{id}` is not a step id"),
                    Some("lowercase letters, digits and `_` (it is read as `steps.<id>`)".into()),
                    None,
                );
            }
            let scope = SlotScope {
                vars: STEP_VARS,
                earlier: &ids[..i],
                later: &ids[i..],
                event_type,
                what: "a step",
            };
            let result = self.step(&path, s, &scope);
            let sf = s.get();
            let reads = sf.read.iter().flatten().map(|r| r.get().clone()).collect();
            self.step_outputs.insert(id.clone(), (step_kind(sf), reads));
            match result {
                Some(step) => steps.push(step),
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        Some(ir::Flow {
            name: name.get().clone(),
            on,
            filter,
            workflow,
            correlate,
            coalesce,
            steps,
        })
    }

    fn step(&mut self, flow_path: &str, s: &Sp<StepFile>, scope: &SlotScope<'_>) -> Option<ir::Step> {
        let sf = s.get();
        let path = format!("{flow_path} › step \"{}\"", sf.id.get());
        let kinds: Vec<(&str, Range<usize>)> = [
            (
                "match",
                sf.match_
                    .as_ref()
                    .map(|m| m.first().map_or_else(|| s.span(), Sp::span)),
            ),
            ("create", sf.create.as_ref().map(Sp::span)),
            ("update", sf.update.as_ref().map(Sp::span)),
            ("upsert", sf.upsert.as_ref().map(Sp::span)),
            ("delete", sf.delete.as_ref().map(Sp::span)),
            ("chatter", sf.chatter.as_ref().map(Sp::span)),
            ("undo", sf.undo.as_ref().map(Sp::span)),
        ]
        .into_iter()
        .filter_map(|(k, span)| Some((k, span?)))
        .collect();
        const KINDS: &[&str] = &["match", "create", "update", "upsert", "delete", "chatter", "undo"];
        let kind = match kinds.as_slice() {
            [] => {
                self.error(
                    sf.id.span(),
                    &path,
                    "the step does nothing",
                    Some(format!("one of {}", list(KINDS))),
                    Some("e.g. `create = \"Lead\"` with `fields = { ... }`".into()),
                );
                return None;
            }
            [(k, _)] => *k,
            [(k, _), (k2, span2), ..] => {
                self.error(
                    span2.clone(),
                    &path,
                    format!("a step does one thing; this one says both `{k}` and `{k2}`"),
                    Some(format!("exactly one of {}", list(KINDS))),
                    Some("split it into two steps".into()),
                );
                return None;
            }
        };
        // Keys that belong to other kinds of step.
        let keyed: Vec<KeyUse<'_>> = vec![
            (
                "by",
                sf.by.as_ref().and_then(|m| m.0.first()).map(|(k, _)| k.span()),
                &["match"],
            ),
            (
                "where",
                sf.where_
                    .as_ref()
                    .and_then(|m| m.0.first())
                    .map(|(k, _)| k.span()),
                &["match"],
            ),
            ("normalise", sf.normalise.as_ref().map(Sp::span), &["match"]),
            ("on_many", sf.on_many.as_ref().map(Sp::span), &["match"]),
            ("order_by", sf.order_by.as_ref().map(Sp::span), &["match"]),
            (
                "read",
                sf.read.as_ref().and_then(|r| r.first()).map(Sp::span),
                &["match"],
            ),
            ("or_create", sf.or_create.as_ref().map(Sp::span), &["match"]),
            ("record", sf.record.as_ref().map(Sp::span), &["update", "delete"]),
            ("external_id", sf.external_id.as_ref().map(Sp::span), &["upsert"]),
            ("key", sf.key.as_ref().map(Sp::span), &["upsert"]),
            (
                "keep_previous",
                sf.keep_previous.as_ref().map(Sp::span),
                &["upsert"],
            ),
            (
                "fields",
                sf.fields
                    .as_ref()
                    .and_then(|m| m.0.first())
                    .map(|(k, _)| k.span()),
                &["create", "update", "upsert"],
            ),
            (
                "clear",
                sf.clear.as_ref().and_then(|c| c.first()).map(Sp::span),
                &["create", "update", "upsert"],
            ),
            ("body", sf.body.as_ref().map(Sp::span), &["chatter"]),
            (
                "objects",
                sf.objects.as_ref().and_then(|c| c.first()).map(Sp::span),
                &["undo"],
            ),
        ];
        for (key, span, ok) in keyed {
            if let Some(span) = span
                && !ok.contains(&kind)
            {
                self.error(
                    span,
                    &path,
                    format!("`{key}` does not apply to a `{kind}` step"),
                    None,
                    Some(format!(
                        "`{key}` belongs to a {} step; remove it here",
                        ok.join(" or ")
                    )),
                );
            }
        }
        let when = sf
            .when
            .as_ref()
            .and_then(|w| self.expr(w, &format!("{path} › when"), scope));
        let workflow = sf
            .workflow
            .as_ref()
            .and_then(|w| self.workflow_ref(w, &format!("{path} › workflow")));
        let errors_before = self.error_count();
        let missing = |this: &mut Self, key: &str, example: &str| {
            this.error(
                sf.id.span(),
                &path,
                format!("a `{kind}` step needs `{key}`"),
                Some(example.to_owned()),
                None,
            );
        };
        let kind_ir = match kind {
            "match" => {
                let objects = sf.match_.clone().unwrap_or_default();
                if objects.is_empty() {
                    self.error(
                        s.span(),
                        &path,
                        "`match` names no object",
                        Some("match = [\"Contact\", \"Lead\"]".into()),
                        None,
                    );
                }
                let known: Vec<bool> = objects
                    .iter()
                    .map(|o| self.object(o, &format!("{path} › match")))
                    .collect();
                let mut by = Vec::new();
                match &sf.by {
                    Some(m) if !m.is_empty() => {
                        for (field, value) in m.iter() {
                            let fp = format!("{path} › by.{}", field.get());
                            self.fields_on_all(&objects, &known, field, &fp);
                            let vsp = Sp::new(value.span(), value.get().clone());
                            if let Some(e) = self.expr(&vsp, &fp, scope) {
                                by.push((field.get().clone(), e));
                            }
                        }
                    }
                    _ => missing(self, "by", "by = { Email = \"event.email\" }"),
                }
                let mut filter = BTreeMap::new();
                for (object, cond) in sf.where_.iter().flat_map(|m| m.iter()) {
                    let wp = format!("{path} › where.{}", object.get());
                    if !objects.iter().any(|o| o.get() == object.get()) {
                        self.error(
                            object.span(),
                            &wp,
                            format!("`{}` is not one of the objects matched", object.get()),
                            Some(format!(
                                "one of {}",
                                list(&objects.iter().map(|o| o.get().as_str()).collect::<Vec<_>>())
                            )),
                            None,
                        );
                        continue;
                    }
                    let csp = Sp::new(cond.span(), cond.get().clone());
                    if let Some(c) = self.soql_where(object.get(), &csp, &wp) {
                        filter.insert(object.get().clone(), c);
                    }
                }
                let on_many = match sf.on_many.as_ref().map(|o| *o.get()).unwrap_or(OnManyName::First) {
                    OnManyName::First => {
                        let order = sf
                            .order_by
                            .clone()
                            .unwrap_or_else(|| Sp::new(s.span(), "CreatedDate ASC".to_owned()));
                        for (o, k) in objects.iter().zip(&known) {
                            if *k {
                                self.soql_order_by(o.get(), &order, &format!("{path} › order_by"));
                            }
                        }
                        ir::OnMany::First {
                            order_by: order.get().clone(),
                        }
                    }
                    OnManyName::Skip => ir::OnMany::Skip,
                    OnManyName::Fail => ir::OnMany::Fail,
                };
                if let (Some(o), Some(OnManyName::Skip | OnManyName::Fail)) =
                    (&sf.order_by, sf.on_many.as_ref().map(|o| *o.get()))
                {
                    self.error(
                        o.span(),
                        &path,
                        "`order_by` only applies with `on_many = \"first\"`",
                        None,
                        Some("remove it".into()),
                    );
                }
                let mut read = Vec::new();
                for r in sf.read.iter().flatten() {
                    self.fields_on_all(&objects, &known, r, &format!("{path} › read"));
                    read.push(r.get().clone());
                }
                let or_create = sf.or_create.as_ref().and_then(|w| {
                    let wf = w.get();
                    self.write(
                        &wf.object,
                        &wf.fields,
                        &wf.clear,
                        &format!("{path} › or_create"),
                        scope,
                        WriteMode::Create,
                    )
                });
                if let (Some(w), Some(by_map)) = (&sf.or_create, &sf.by) {
                    let missing: Vec<&str> = by_map
                        .iter()
                        .map(|(f, _)| f.get().as_str())
                        .filter(|f| w.get().fields.get(f).is_none())
                        .collect();
                    if !missing.is_empty() {
                        self.report(
                            Severity::Warning,
                            w.span(),
                            &format!("{path} › or_create"),
                            format!(
                                "`or_create` does not write {}, so this match will not find the record it creates",
                                list(&missing)
                            ),
                            None,
                            Some("a later event for the same key would create another record; write every `by` field".into()),
                        );
                    }
                }
                ir::StepKind::Match(ir::MatchStep {
                    objects: objects.iter().map(|o| o.get().clone()).collect(),
                    by,
                    filter,
                    normalise: match sf.normalise.as_ref().map(|n| *n.get()) {
                        Some(NormaliseName::Exact) => ir::Normalise::Exact,
                        _ => ir::Normalise::TrimCaseless,
                    },
                    on_many,
                    read,
                    or_create,
                })
            }
            "create" => {
                let object = sf.create.clone()?;
                let empty = Map::default();
                let record = self.write(
                    &object,
                    sf.fields.as_ref().unwrap_or(&empty),
                    sf.clear.as_deref().unwrap_or(&[]),
                    &path,
                    scope,
                    WriteMode::Create,
                )?;
                ir::StepKind::Create(record)
            }
            "update" => {
                let object = sf.update.clone()?;
                let id = match &sf.record {
                    Some(r) => self.expr(r, &format!("{path} › record"), scope),
                    None => {
                        missing(self, "record", "record = \"steps.person.id\"");
                        None
                    }
                };
                let empty = Map::default();
                let record = self.write(
                    &object,
                    sf.fields.as_ref().unwrap_or(&empty),
                    sf.clear.as_deref().unwrap_or(&[]),
                    &path,
                    scope,
                    WriteMode::Update,
                )?;
                ir::StepKind::Update(ir::UpdateStep { id: id?, record })
            }
            "upsert" => {
                let object = sf.upsert.clone()?;
                // `write` below reports an unknown object; here only look.
                let known = self.schema.knows(object.get());
                let external_id = match &sf.external_id {
                    Some(x) => {
                        if known
                            && let Some(f) =
                                self.field(object.get(), x, &format!("{path} › external_id"), false)
                            && !f.external_id
                        {
                            self.error(
                                x.span(),
                                &format!("{path} › external_id"),
                                format!("`{}.{}` is not an external id", object.get(), x.get()),
                                Some("a field marked `external_id = true`".into()),
                                Some("mark it `external_id = true` in the schema".into()),
                            );
                        }
                        Some(x.get().clone())
                    }
                    None => {
                        missing(self, "external_id", "external_id = \"ExternalID__c\"");
                        None
                    }
                };
                let key = match &sf.key {
                    Some(k) => self.expr(k, &format!("{path} › key"), scope),
                    None => {
                        missing(self, "key", "key = \"event.id\"");
                        None
                    }
                };
                let empty = Map::default();
                let record = self.write(
                    &object,
                    sf.fields.as_ref().unwrap_or(&empty),
                    sf.clear.as_deref().unwrap_or(&[]),
                    &path,
                    scope,
                    WriteMode::Upsert,
                )?;
                if let Some(x) = &external_id
                    && let Some((k, _)) = sf.fields.as_ref().and_then(|m| m.get(x))
                {
                    self.error(
                        k.span(),
                        &path,
                        format!("`{x}` is set from `key`; do not write it in `fields` too"),
                        None,
                        Some("remove it from `fields`".into()),
                    );
                }
                ir::StepKind::Upsert(ir::UpsertStep {
                    external_id: external_id?,
                    key: key?,
                    record,
                    keep_previous: sf.keep_previous.as_ref().is_some_and(|k| *k.get()),
                })
            }
            "delete" => {
                let object = sf.delete.clone()?;
                self.object(&object, &format!("{path} › delete"));
                let id = match &sf.record {
                    Some(r) => self.expr(r, &format!("{path} › record"), scope),
                    None => {
                        missing(self, "record", "record = \"steps.found.id\"");
                        None
                    }
                };
                ir::StepKind::Delete(ir::DeleteStep {
                    object: object.get().clone(),
                    id: id?,
                })
            }
            "chatter" => {
                let on = sf
                    .chatter
                    .as_ref()
                    .and_then(|c| self.expr(c, &format!("{path} › chatter"), scope));
                let body = match &sf.body {
                    Some(b) => self.template(b, &format!("{path} › body"), scope),
                    None => {
                        missing(self, "body", "body = \"Track {{ event.track.title }} started\"");
                        None
                    }
                };
                ir::StepKind::Chatter(ir::ChatterStep { on: on?, body: body? })
            }
            _ => {
                let correlation = sf
                    .undo
                    .as_ref()
                    .and_then(|c| self.expr(c, &format!("{path} › undo"), scope));
                if !self.correlated
                    && let Some(u) = &sf.undo
                {
                    self.report(
                        Severity::Warning,
                        u.span(),
                        &path,
                        "no flow declares `correlate`, so there is nothing for this undo to find",
                        None,
                        Some(
                            "add `correlate = \"event.<key>\"` to the flows whose writes this undoes".into(),
                        ),
                    );
                }
                let mut objects = Vec::new();
                for o in sf.objects.iter().flatten() {
                    self.object(o, &format!("{path} › objects"));
                    objects.push(o.get().clone());
                }
                ir::StepKind::Undo(ir::UndoStep {
                    correlation: correlation?,
                    objects,
                })
            }
        };
        if self.error_count() > errors_before {
            return None;
        }
        Some(ir::Step {
            id: sf.id.get().clone(),
            when,
            workflow,
            kind: kind_ir,
        })
    }

    /// Checks that `field` exists on every object a `match` looks in, with one diagnostic naming
    /// all the objects that lack it.
    fn fields_on_all(&mut self, objects: &[Sp<String>], known: &[bool], field: &Sp<String>, path: &str) {
        let mut lacking = Vec::new();
        let mut hint = None;
        for (o, k) in objects.iter().zip(known) {
            if !*k {
                continue;
            }
            let Some(fields) = self.schema.fields(o.get()) else {
                continue;
            };
            if !fields.contains_key(field.get()) && !field.get().contains('.') {
                lacking.push(o.get().as_str());
                hint = hint.or_else(|| suggest(field.get(), fields.keys().map(String::as_str)));
            } else if field.get().contains('.') {
                self.field(o.get(), field, path, false);
            }
        }
        if !lacking.is_empty() {
            self.error(
                field.span(),
                path,
                format!(
                    "{} {} no field `{}`",
                    lacking.join(" and "),
                    if lacking.len() == 1 { "has" } else { "have" },
                    field.get()
                ),
                Some(format!(
                    "a field every matched object has ({})",
                    objects
                        .iter()
                        .map(|o| o.get().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                hint,
            );
        }
    }

    fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    fn write(
        &mut self,
        object: &Sp<String>,
        fields: &Map<FieldValueFile>,
        clear: &[Sp<String>],
        path: &str,
        scope: &SlotScope<'_>,
        mode: WriteMode,
    ) -> Option<ir::WriteStep> {
        let known = self.object(object, path);
        let before = self.error_count();
        let mut out = Vec::new();
        for (name, value) in fields.iter() {
            let fp = format!("{path} › fields.{}", name.get());
            let facts = if known {
                self.field(object.get(), name, &fp, true)
            } else {
                None
            };
            let v = match value.get() {
                FieldValueFile::Expr(text) => {
                    let sp = Sp::new(value.span(), text.clone());
                    let e = self.expr(&sp, &fp, scope);
                    if let (Some(e), Some(f)) = (&e, &facts)
                        && !name.get().contains('.')
                        && let Some(lit) = e.literal()
                        && let Some((problem, expected)) = literal_misfit(f, &lit)
                    {
                        self.error(
                            value.span(),
                            &fp,
                            format!("{lit} does not fit {}.{}: {problem}", object.get(), name.get()),
                            Some(expected),
                            None,
                        );
                    }
                    e.map(ir::FieldValue::Expr)
                }
                FieldValueFile::Template(t) => self
                    .template(&t.template, &fp, scope)
                    .map(ir::FieldValue::Template),
            };
            if let Some(v) = v {
                out.push((name.get().clone(), v));
            }
        }
        for c in clear {
            if known {
                self.field(object.get(), c, &format!("{path} › clear"), true);
            }
            if fields.get(c.get()).is_some() {
                self.error(
                    c.span(),
                    &format!("{path} › clear"),
                    format!("`{}` is both written and cleared", c.get()),
                    None,
                    None,
                );
            }
        }
        if known && mode != WriteMode::Update {
            self.required_fields(object, fields, path, mode);
        }
        if self.error_count() > before {
            return None;
        }
        Some(ir::WriteStep {
            object: object.get().clone(),
            fields: out,
            clear: clear.iter().map(|c| c.get().clone()).collect(),
        })
    }

    /// A record created without a field Salesforce requires is refused
    /// (`REQUIRED_FIELD_MISSING`): an error for `create`, a warning for `upsert` (which only
    /// creates when the key is new).
    fn required_fields(
        &mut self,
        object: &Sp<String>,
        fields: &Map<FieldValueFile>,
        path: &str,
        mode: WriteMode,
    ) {
        let mut required: Vec<String> = standard::required(object.get())
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if let Some(own) = self.schema.custom.get(object.get()) {
            required.push("Name".to_owned());
            required.extend(own.iter().filter(|(_, f)| f.required).map(|(k, _)| k.clone()));
        }
        if let Some(extra) = self.schema.extra.get(object.get()) {
            required.extend(extra.iter().filter(|(_, f)| f.required).map(|(k, _)| k.clone()));
        }
        let written: Vec<String> = fields
            .iter()
            .map(|(k, _)| match k.get().split_once('.') {
                Some((rel, _)) => rel
                    .strip_suffix("__r")
                    .map_or_else(|| format!("{rel}Id"), |s| format!("{s}__c")),
                None => k.get().clone(),
            })
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .filter(|r| !written.contains(r))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return;
        }
        let severity = if mode == WriteMode::Create {
            Severity::Error
        } else {
            Severity::Warning
        };
        self.report(
            severity,
            object.span(),
            path,
            format!(
                "{} requires {} on a new record, and this {} does not write {}",
                object.get(),
                list(&missing),
                if mode == WriteMode::Create {
                    "create"
                } else {
                    "upsert"
                },
                if missing.len() == 1 { "it" } else { "them" }
            ),
            None,
            Some(format!("add {} to `fields`", list(&missing))),
        );
    }

    fn sync(&mut self, name: &Sp<String>, s: &Sp<SyncFile>) -> Option<ir::Sync> {
        let path = format!("sync \"{}\"", name.get());
        let sf = s.get();
        let known = self.object(&sf.object, &format!("{path} › object"));
        if known {
            for f in &sf.fields {
                self.field(sf.object.get(), f, &format!("{path} › fields"), false);
            }
        }
        let filter = sf
            .filter
            .as_ref()
            .and_then(|f| self.soql_where(sf.object.get(), f, &format!("{path} › filter")));
        if let Some(sch) = &sf.schedule
            && sch.get().split_whitespace().count() != 5
        {
            self.error(
                sch.span(),
                &format!("{path} › schedule"),
                format!("`{}` is not a cron schedule", sch.get()),
                Some("five fields: minute hour day month weekday (\"0 * * * *\")".into()),
                None,
            );
        }
        let workflow = sf
            .workflow
            .as_ref()
            .and_then(|w| self.workflow_ref(w, &format!("{path} › workflow")));
        self.record_fields = sf.fields.iter().map(|f| f.get().clone()).collect();
        let scope = SlotScope {
            vars: SYNC_VARS,
            earlier: &[],
            later: &[],
            event_type: None,
            what: "a sync mapping",
        };
        let mut mapping = Vec::new();
        for (k, v) in sf.mapping.iter() {
            let vsp = Sp::new(v.span(), v.get().clone());
            if let Some(e) = self.expr(&vsp, &format!("{path} › mapping.{}", k.get()), &scope) {
                mapping.push((k.get().clone(), e));
            }
        }
        Some(ir::Sync {
            name: name.get().clone(),
            object: sf.object.get().clone(),
            fields: sf.fields.iter().map(|f| f.get().clone()).collect(),
            filter,
            mode: match sf.mode.get() {
                SyncModeName::Full => ir::SyncMode::Full,
                SyncModeName::Incremental => ir::SyncMode::Incremental,
                SyncModeName::Realtime => ir::SyncMode::Realtime,
            },
            schedule: sf.schedule.as_ref().map(|s| s.get().clone()),
            workflow,
            mapping,
        })
    }
}

impl Checker<'_> {
    /// Takes over what another checker learnt about the recipe (schema, settings, workflows), so
    /// test files are checked against the recipe they belong to.
    pub fn adopt_schema(&mut self, other: &Checker<'_>) {
        self.schema.custom = other.schema.custom.clone();
        self.schema.extra = other.schema.extra.clone();
        self.settings = other.settings.clone();
        self.workflows = other.workflows.clone();
        self.events = other.events.clone();
    }
}
