//! Snapshots of `recipe check`'s rendered messages for a catalogue of broken recipes: each case
//! is the same small valid recipe with one mistake, and the snapshot shows the file, line and
//! column, the underlined text, what was expected and the hint. A proptest shows that loading
//! never panics whatever the text.
//!
//! Update snapshots after a deliberate change with `INSTA_UPDATE=always cargo test -p
//! forcebridge-engine --test recipe_check` and review the diff.

use std::path::{Path, PathBuf};

use forcebridge_engine::recipe::{self, Severity};
use proptest::prelude::*;

const BASE: &str = r#"[recipe]
name = "deskly"
title = "Deskly"
version = "1.0.0"

[connection]
auth = ["oauth_web_server"]
scopes = ["api", "refresh_token"]
per_owner_limit = 3
wait_for_new_app = "5m"

[settings.case_origin]
type = "choice"
choices = ["Web", "Email"]
default = "Web"

[settings.lead_status]
type = "picklist"
picklist = "Lead.Status"
default = "Open - Not Contacted"

[workflows.sync_tickets]
mandatory = true

[workflows.post_updates]
default = false

[schema.objects.Ticket__c]
label = "Ticket"
fields.Ticket_ID__c = { type = "text", length = 40, external_id = true }
fields.Contact__c = { type = "lookup", to = "Contact" }

[events."ticket.updated"]
fields = { id = "string", email = "string", name = "string", subject = "string", status = "string" }

[flows.ticket_updated]
on = "ticket.updated"
workflow = "sync_tickets"
filter = "event.status != 'spam'"
coalesce = { window = "1h", key = "event.id" }

[[flows.ticket_updated.steps]]
id = "person"
match = ["Contact", "Lead"]
by = { Email = "event.email" }
where = { Lead = "IsConverted = false" }
or_create = { object = "Lead", fields = { LastName = "event.name", Company = "'[none]'", Status = "settings.lead_status" } }

[[flows.ticket_updated.steps]]
id = "ticket"
upsert = "Ticket__c"
external_id = "Ticket_ID__c"
key = "event.id"
fields = { Name = { template = "{{ event.subject }}" }, Contact__c = "steps.person.object == 'Contact' ? steps.person.id : null" }

[[flows.ticket_updated.steps]]
id = "post"
workflow = "post_updates"
chatter = "steps.person.id"
body = "Ticket {{ event.id }} is now {{ event.status }}."
"#;

fn file() -> PathBuf {
    PathBuf::from("recipe.toml")
}

/// The base with `from` replaced by `to` (exactly once), rendered as `recipe check` shows it.
fn broken(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in the base recipe"
    );
    let text = BASE.replacen(from, to, 1);
    match recipe::load_str(&file(), &text) {
        Ok(_) => panic!("the recipe with `{to}` loaded without error"),
        Err(e) => {
            assert!(e.errors().count() > 0);
            recipe::render(&e)
        }
    }
}

#[test]
fn the_base_recipe_is_valid() {
    let (r, warnings) = recipe::load_str(&file(), BASE).unwrap_or_else(|e| panic!("{}", recipe::render(&e)));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].steps.len(), 3);
}

macro_rules! case {
    ($name:ident, $from:expr, $to:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), broken($from, $to));
        }
    };
}

case!(
    unknown_key,
    "title = \"Deskly\"",
    "title = \"Deskly\"\ntilte = \"x\""
);
case!(
    unknown_key_in_step,
    "\nkey = \"event.id\"",
    "\nkey = \"event.id\"\nupsert_key = \"event.id\""
);
case!(wrong_type, "per_owner_limit = 3", "per_owner_limit = \"three\"");
case!(toml_syntax_error, "version = \"1.0.0\"", "version = \"1.0.0");
case!(
    unknown_enum_value,
    "auth = [\"oauth_web_server\"]",
    "auth = [\"oauth\"]"
);
case!(missing_required_key, "on = \"ticket.updated\"\n", "");
case!(
    bad_cel,
    "filter = \"event.status != 'spam'\"",
    "filter = \"event.status != \""
);
case!(
    literal_text_not_quoted,
    "Company = \"'[none]'\"",
    "Company = \"Not provided\""
);
case!(unknown_variable, "\nkey = \"event.id\"", "\nkey = \"evnt.id\"");
case!(
    steps_not_in_scope_of_filter,
    "filter = \"event.status != 'spam'\"",
    "filter = \"steps.person.found\""
);
case!(
    reference_to_later_step,
    "chatter = \"steps.person.id\"",
    "chatter = \"steps.post.id\""
);
case!(
    unknown_step,
    "chatter = \"steps.person.id\"",
    "chatter = \"steps.persn.id\""
);
case!(
    unknown_step_output,
    "chatter = \"steps.person.id\"",
    "chatter = \"steps.person.record_id\""
);
case!(
    unknown_setting,
    "Status = \"settings.lead_status\"",
    "Status = \"settings.lead_state\""
);
case!(
    unknown_workflow,
    "workflow = \"post_updates\"",
    "workflow = \"post_update\""
);
case!(
    unknown_field_on_lead,
    "LastName = \"event.name\"",
    "Surname = \"event.name\""
);
case!(
    unknown_match_field,
    "by = { Email = \"event.email\" }",
    "by = { EmailAddress = \"event.email\" }"
);
case!(
    unknown_object,
    "match = [\"Contact\", \"Lead\"]",
    "match = [\"Contact\", \"Leed\"]"
);
case!(
    custom_object_not_in_schema,
    "upsert = \"Ticket__c\"",
    "upsert = \"Tickets__c\""
);
case!(bad_soql, "IsConverted = false", "IsConverted = = false");
case!(unknown_soql_field, "IsConverted = false", "Converted = false");
case!(
    bad_template_syntax,
    "{{ event.id }} is now",
    "{{ event.id }} is now {% if %}"
);
case!(
    bad_template_variable,
    "{{ event.status }}.",
    "{{ ticket.status }}."
);
case!(
    unknown_event_field_in_template,
    "{{ event.subject }}",
    "{{ event.title }}"
);
case!(bad_duration, "window = \"1h\"", "window = \"1 hour\"");
case!(
    bad_connection_duration,
    "wait_for_new_app = \"5m\"",
    "wait_for_new_app = \"5\""
);
case!(
    step_with_two_kinds,
    "chatter = \"steps.person.id\"",
    "chatter = \"steps.person.id\"\ndelete = \"Lead\""
);
case!(
    key_not_for_this_step,
    "body = \"Ticket",
    "by = { Email = \"event.email\" }\nbody = \"Ticket"
);
case!(
    upsert_by_non_external_id,
    "external_id = \"Ticket_ID__c\"",
    "external_id = \"Contact__c\""
);
case!(duplicate_step_id, "id = \"post\"", "id = \"ticket\"");
case!(default_not_a_choice, "default = \"Web\"", "default = \"Phone\"");
case!(
    picklist_setting_on_text_field,
    "picklist = \"Lead.Status\"",
    "picklist = \"Lead.Company\""
);
case!(
    text_field_without_length,
    "{ type = \"text\", length = 40, external_id = true }",
    "{ type = \"text\", external_id = true }"
);
case!(
    unknown_event_type,
    "on = \"ticket.updated\"",
    "on = \"ticket.update\""
);
case!(
    write_system_field,
    "LastName = \"event.name\"",
    "LastName = \"event.name\", CreatedDate = \"now\""
);
case!(
    mandatory_workflow_off_by_default,
    "mandatory = true",
    "mandatory = true\ndefault = false"
);
case!(
    lookup_path_to_non_external_id,
    "Contact__c = \"steps",
    "\"Contact__r.Email\" = \"event.email\", Contact__c = \"steps"
);
case!(step_does_nothing, "chatter = \"steps.person.id\"\n", "");

#[test]
fn a_test_file_with_mistakes_is_reported_in_its_own_file() {
    let test = r#"
settings = { lead_stauts = "Working" }

[[events]]
type = "ticket.updated"
id = "t1"
data = { id = "T-1", email = "a@example.com", name = "Ada", subject = "Printer", status = "open" }

[[expect.records]]
object = "Ticket__c"
where = "Ticket_ID__c = 'T-1'"
count = 1
fields = { Ticket_Id__c = "T-1" }

[expect.outcomes]
t2 = "done"
"#;
    let tests = vec![(PathBuf::from("tests/one_ticket.toml"), test.to_owned())];
    let Err(e) = recipe::load_parts(&file(), BASE, &tests) else {
        panic!("the test file's mistakes were not reported")
    };
    assert!(
        e.diagnostics
            .iter()
            .all(|d| d.file == Path::new("tests/one_ticket.toml"))
    );
    insta::assert_snapshot!("test_file_mistakes", recipe::render(&e));
}

#[test]
fn an_undo_without_any_correlate_is_a_warning_not_an_error() {
    let text = BASE.replacen(
        "[[flows.ticket_updated.steps]]\nid = \"post\"",
        "[[flows.ticket_updated.steps]]\nid = \"revert\"\nundo = \"event.id\"\n\n[[flows.ticket_updated.steps]]\nid = \"post\"",
        1,
    );
    let (_, warnings) = recipe::load_str(&file(), &text).unwrap_or_else(|e| panic!("{}", recipe::render(&e)));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert!(
        warnings[0].message.contains("correlate"),
        "{}",
        warnings[0].message
    );
}

#[test]
fn diagnostics_serialise_to_json_with_positions() {
    let text = BASE.replacen("\nkey = \"event.id\"", "\nkey = \"evnt.id\"", 1);
    let Err(e) = recipe::load_str(&file(), &text) else {
        panic!("no error")
    };
    let json = serde_json::to_value(&e).expect("serialisable");
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "recipe.toml");
    assert_eq!(d["path"], "flow \"ticket_updated\" › step \"ticket\" › key");
    let line = BASE
        .lines()
        .position(|l| l == "key = \"event.id\"")
        .expect("the key line")
        + 1;
    assert_eq!(d["line"], line);
    assert_eq!(d["column"], 8);
}

/// Text edits a fuzzer would make: cut, duplicate, insert a TOML-significant character.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    const CHARS: &[u8] = b"\"'[]{}=.,\n #\\{}%()?:!<>_$0123456789abcdefxyzAZ";
    for &(at, op, c) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        let c = CHARS[c as usize % CHARS.len()];
        match op % 4 {
            0 => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, c),
            2 => bytes[at] = c,
            _ => {
                let end = (at + 1 + (c as usize % 40)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn load_str_never_panics_on_mutated_recipes(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let text = mutate(BASE, &edits);
        match recipe::load_str(&file(), &text) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(e.errors().count() > 0);
                let rendered = recipe::render(&e);
                prop_assert!(!rendered.is_empty());
            }
        }
    }

    #[test]
    fn load_str_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = recipe::load_str(&file(), &text).map_err(|e| recipe::render(&e));
    }
}

/// Expression-ish text: CEL and template syntax, names in and out of scope, deep nesting.
fn expression_text() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("event".to_owned()),
        Just("steps.person.id".to_owned()),
        Just("settings.lead_status".to_owned()),
        Just("has(event.a.b)".to_owned()),
        Just("'text'".to_owned()),
        Just("[1, 2, 3].exists(x, x > 2)".to_owned()),
        Just("{{ event.x }}".to_owned()),
        Just("{% if event.y is defined %}y{% endif %}".to_owned()),
        Just("{% for i in range(100000) %}{{ i }}{% endfor %}".to_owned()),
        Just("| truncate(3)".to_owned()),
        "[a-z_.()\\[\\]{}%|'\"!?:<>=+*/0-9 -]{0,12}",
    ];
    proptest::collection::vec(atoms, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn expressions_and_templates_never_panic_and_terminate(source in expression_text()) {
        use forcebridge_engine::recipe::expr::{Expr, Origin, Scope};
        use forcebridge_engine::recipe::template::Template;
        let scope = Scope::new(
            &serde_json::json!({ "x": 1, "a": { "b": "c" }, "email": " A@B.c " }),
            &serde_json::json!({ "lead_status": "Open" }),
            &serde_json::json!({}),
            chrono::DateTime::<chrono::Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
        );
        if let Ok(e) = Expr::compile_located(&source, Origin::default()) {
            let _ = e.var_refs();
            let _ = e.eval(&scope);
        }
        if let Ok(t) = Template::compile_located(&source, Origin::default()) {
            let _ = t.variable_paths();
            let _ = t.unknown_filters();
            let _ = t.render(&scope);
        }
    }
}
