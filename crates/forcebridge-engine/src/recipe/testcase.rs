//! Test cases kept beside a recipe (`recipes/<name>/tests/*.toml`): settings, records given in the
//! org, events in, and what must hold afterwards (records by object + SOQL WHERE + count + field
//! values, event outcomes, journal operations, the most API calls allowed). They fill
//! [`ir::TestCase`]; `forcebridge recipe test` runs them against a fresh emulator.
//!
//! Invariant: a test file is checked like the recipe: unknown keys, unknown settings, event types
//! no flow handles, unknown objects and fields and bad SOQL are diagnostics with positions.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::compile::Checker;
use super::ir;
use super::span::{Map, Sp};

/// A test case file: `tests/<name>.toml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// What the case shows.
    #[serde(default)]
    pub description: Option<Sp<String>>,
    /// Settings for the install, by name (defaults fill the rest).
    #[serde(default)]
    pub settings: Map<serde_json::Value>,
    /// Workflows switched on or off for the install (`{ chatter_on_start = false }`); the others
    /// keep their default. A mandatory workflow cannot be switched off.
    #[serde(default)]
    pub workflows: Map<bool>,
    /// Records created in the org before the events (`[[given]]`).
    #[serde(default)]
    pub given: Vec<Sp<GivenFile>>,
    /// The events, in order (`[[events]]`).
    pub events: Vec<Sp<TestEventFile>>,
    /// What must hold afterwards.
    #[serde(default)]
    pub expect: Option<Sp<ExpectFile>>,
}

/// `[[given]]`: a record that exists before the events.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GivenFile {
    /// The object.
    pub object: Sp<String>,
    /// Its field values.
    pub fields: Map<serde_json::Value>,
}

/// `[[events]]`: one event sent to the engine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEventFile {
    /// The event type (`track.completed`).
    #[serde(rename = "type")]
    pub event_type: Sp<String>,
    /// Its idempotency key (default: `e<position>`, from 1); outcomes and journal name it.
    #[serde(default)]
    pub id: Option<Sp<String>>,
    /// The payload.
    #[serde(default)]
    pub data: Option<Sp<serde_json::Value>>,
    /// Time that passes before this event is sent (`"90m"`, `"2h"`): the clock moves on and the
    /// work that falls due meanwhile (a coalescing window that closes, a retry) runs first.
    #[serde(default)]
    pub after: Option<Sp<String>>,
}

/// `[expect]`: what must hold after the events.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// Records that must exist (`[[expect.records]]`).
    #[serde(default)]
    pub records: Vec<Sp<ExpectRecordsFile>>,
    /// Event id → outcome: `done`, `skipped`, `dead` or `filtered`.
    #[serde(default)]
    pub outcomes: Map<String>,
    /// Event id → the journal's operations for it, in order, each `"<operation> <Object>"`
    /// (`"create Lead"`, `"upsert Instruqt_Play__c"`, `"chatter FeedItem"`, `"delete Case"`).
    #[serde(default)]
    pub journal: Map<Vec<String>>,
    /// At most this many Salesforce API calls for all the events (provisioning excluded).
    #[serde(default)]
    pub max_api_calls: Option<Sp<u64>>,
}

/// `[[expect.records]]`: records of an object matching a condition.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectRecordsFile {
    /// The object.
    pub object: Sp<String>,
    /// SOQL WHERE condition (absent: all records).
    #[serde(rename = "where", default)]
    pub where_: Option<Sp<String>>,
    /// How many there must be.
    #[serde(default)]
    pub count: Option<Sp<u64>>,
    /// Field values every matched record has (`Parent__r.Key__c` paths allowed).
    #[serde(default)]
    pub fields: Map<serde_json::Value>,
}

const OUTCOMES: &[&str] = &["done", "skipped", "dead", "filtered"];

fn json_map(m: &Map<Value>) -> serde_json::Map<String, Value> {
    m.iter()
        .map(|(k, v)| (k.get().clone(), v.get().clone()))
        .collect()
}

/// Checks a parsed test file against the compiled recipe and builds the test case.
pub(super) fn compile(c: &mut Checker<'_>, name: &str, t: &TestFile, recipe: &ir::Recipe) -> ir::TestCase {
    let path = format!("test \"{name}\"");
    for (k, _) in t.settings.iter() {
        if recipe.setting(k.get()).is_none() {
            let names: Vec<&str> = recipe.settings.iter().map(|s| s.name.as_str()).collect();
            c.error(
                k.span(),
                &path,
                format!("unknown setting `{}`", k.get()),
                None,
                super::compile::suggest(k.get(), names),
            );
        }
    }
    for (k, on) in t.workflows.iter() {
        match recipe.workflows.iter().find(|w| w.name == *k.get()) {
            None => {
                let names: Vec<&str> = recipe.workflows.iter().map(|w| w.name.as_str()).collect();
                c.error(
                    k.span(),
                    &path,
                    format!("unknown workflow `{}`", k.get()),
                    None,
                    super::compile::suggest(k.get(), names),
                );
            }
            Some(w) if w.mandatory && !*on.get() => {
                c.error(
                    on.span(),
                    &path,
                    format!("workflow `{}` is mandatory and cannot be switched off", k.get()),
                    None,
                    None,
                );
            }
            Some(_) => {}
        }
    }
    for g in &t.given {
        let gp = format!("{path} › given {}", g.get().object.get());
        if c.object(&g.get().object, &gp) {
            for (f, _) in g.get().fields.iter() {
                c.field(g.get().object.get(), f, &gp, true);
            }
        }
    }
    let mut events = Vec::new();
    for (i, e) in t.events.iter().enumerate() {
        let ef = e.get();
        if recipe.flows_for(ef.event_type.get()).next().is_none() {
            let names: Vec<&str> = recipe.flows.iter().map(|f| f.on.as_str()).collect();
            c.report(
                super::Severity::Warning,
                ef.event_type.span(),
                &path,
                format!("no flow handles `{}`", ef.event_type.get()),
                None,
                super::compile::suggest(ef.event_type.get(), names),
            );
        }
        events.push(ir::TestEvent {
            event_type: ef.event_type.get().clone(),
            id: ef
                .id
                .as_ref()
                .map_or_else(|| format!("e{}", i + 1), |s| s.get().clone()),
            data: ef
                .data
                .as_ref()
                .map_or(Value::Object(Default::default()), |d| d.get().clone()),
            after: ef.after.as_ref().and_then(|a| {
                let d = super::duration::parse(a.get());
                if d.is_none() {
                    c.report(
                        super::Severity::Error,
                        a.span(),
                        &path,
                        format!("`{}` is not a duration", a.get()),
                        Some("a duration such as \"90s\", \"15m\" or \"2h\"".into()),
                        None,
                    );
                }
                d
            }),
        });
    }
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let mut expect_records = Vec::new();
    let mut expect_outcomes = Vec::new();
    let mut expect_journal = Vec::new();
    let mut max_api_calls = None;
    if let Some(x) = &t.expect {
        let xf = x.get();
        for r in &xf.records {
            let rf = r.get();
            let rp = format!("{path} › expect.records {}", rf.object.get());
            if c.object(&rf.object, &rp) {
                if let Some(w) = &rf.where_ {
                    c.soql_where(rf.object.get(), w, &rp);
                }
                for (f, _) in rf.fields.iter() {
                    c.field(rf.object.get(), f, &rp, false);
                }
            }
            expect_records.push(ir::ExpectRecords {
                object: rf.object.get().clone(),
                filter: rf.where_.as_ref().map(|w| w.get().clone()),
                count: rf.count.as_ref().map(|n| *n.get()),
                fields: json_map(&rf.fields),
            });
        }
        for (id, outcome) in xf.outcomes.iter() {
            if !ids.contains(id.get()) {
                c.error(
                    id.span(),
                    &path,
                    format!("no event has the id `{}`", id.get()),
                    Some(format!("one of {}", ids.join(", "))),
                    None,
                );
            }
            if !OUTCOMES.contains(&outcome.get().as_str()) {
                c.error(
                    outcome.span(),
                    &path,
                    format!("unknown outcome `{}`", outcome.get()),
                    Some(format!("one of {}", OUTCOMES.join(", "))),
                    None,
                );
            }
            expect_outcomes.push((id.get().clone(), outcome.get().clone()));
        }
        for (id, ops) in xf.journal.iter() {
            if !ids.contains(id.get()) {
                c.error(
                    id.span(),
                    &path,
                    format!("no event has the id `{}`", id.get()),
                    Some(format!("one of {}", ids.join(", "))),
                    None,
                );
            }
            expect_journal.push((id.get().clone(), ops.get().clone()));
        }
        max_api_calls = xf.max_api_calls.as_ref().map(|m| *m.get());
    }
    ir::TestCase {
        name: name.to_owned(),
        settings: json_map(&t.settings),
        workflows: t
            .workflows
            .iter()
            .map(|(k, v)| (k.get().clone(), *v.get()))
            .collect(),
        given: t
            .given
            .iter()
            .map(|g| (g.get().object.get().clone(), json_map(&g.get().fields)))
            .collect(),
        events,
        expect_records,
        expect_journal,
        max_api_calls,
        expect_outcomes,
    }
}
