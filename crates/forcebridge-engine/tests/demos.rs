//! Recipe demos (`demo.toml`): the bundled ones load and render payloads their recipes accept,
//! the same every time; a demo that does not fit its recipe is refused with where and why.

mod support;

use std::path::Path;

use chrono::{TimeZone as _, Utc};
use forcebridge_engine::demo::{self, Demo, DemoError};
use forcebridge_engine::recipe::ir;
use serde_json::Value;
use support::{load_recipe, recipes_dir};

fn load(name: &str) -> ir::Recipe {
    (*load_recipe(name)).clone()
}

fn demo_of(recipe: &ir::Recipe, text: &str) -> Result<Demo, DemoError> {
    demo::load_str(Path::new("demo.toml"), text, recipe)
}

/// The message of a refused demo, with where it points.
fn refused(recipe: &ir::Recipe, text: &str) -> (String, String) {
    match demo_of(recipe, text) {
        Ok(_) => panic!("the demo loaded:\n{text}"),
        Err(DemoError::Invalid { at, message, .. }) => (at, message),
        Err(e) => ("".into(), e.to_string()),
    }
}

const SPACEIQ_OK: &str = r#"
[connection]
auth = "password"
environment = "sandbox"

[[event]]
type = "move.executed"
data = { move_id = "mv-{{ n }}", plan_id = "plan-{{ n // 10 }}", timing = "now", employee = "{{ {'name': person.name} }}", new_seat = "S-{{ seed % 9 }}" }
"#;

#[test]
fn bundled_demos_load_and_render_what_their_recipes_declare() {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let mut with_demo = Vec::new();
    for entry in std::fs::read_dir(recipes_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("recipe.toml").is_file() {
            continue;
        }
        let r = load(dir.file_name().unwrap().to_str().unwrap());
        let Some(d) = demo::load(&dir, &r).unwrap_or_else(|e| panic!("{e}")) else {
            continue;
        };
        with_demo.push(r.name.clone());
        let mut kinds = std::collections::BTreeSet::new();
        for n in 0..1_000 {
            let e = d.event(n, start).unwrap();
            let spec = r.event(&e.event_type).expect("a declared type");
            spec.check(&e.data)
                .unwrap_or_else(|(f, m)| panic!("{} event {n}: {f}: {m}", r.name));
            assert!(r.flows_for(&e.event_type).next().is_some());
            kinds.insert(e.kind);
        }
        // Every [[event]] kind occurs in a thousand events.
        let declared = std::fs::read_to_string(dir.join("demo.toml"))
            .unwrap()
            .matches("[[event]]")
            .count();
        assert_eq!(kinds.len(), declared, "{}", r.name);
    }
    for required in ["instruqt", "spaceiq"] {
        assert!(with_demo.iter().any(|n| n == required), "{required} has no demo");
    }
}

#[test]
fn event_n_is_always_the_same_and_typed_expressions_keep_their_type() {
    let r = load("instruqt");
    let d = demo::load(&recipes_dir().join("instruqt"), &r).unwrap().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    for n in [0, 1, 17, 999] {
        assert_eq!(d.event(n, start).unwrap(), d.event(n, start).unwrap());
    }
    let completed = (0..100)
        .map(|n| d.event(n, start).unwrap())
        .find(|e| e.event_type == "track.completed")
        .expect("a completed track among 100 events");
    assert!(
        completed.data["time_spent_seconds"].is_u64(),
        "{}",
        completed.data
    );
    assert!(completed.data["track"]["slug"].is_string());
    assert!(completed.data["user"]["email"].as_str().unwrap().contains('@'));
    assert!(completed.data["feedback"]["score"].is_number());
    // Keys are unique within a run; the timestamp follows n.
    assert_ne!(d.event(1, start).unwrap().key, d.event(2, start).unwrap().key);
    let e = d.event(2, start).unwrap();
    if let Some(at) = e.data.get("started_at").or_else(|| e.data.get("completed_at")) {
        assert_eq!(at, &Value::String("2026-12-01T09:02:00Z".into()));
    }
}

#[test]
fn a_demo_that_does_not_fit_its_recipe_is_refused_with_where() {
    let r = load("spaceiq");
    assert!(demo_of(&r, SPACEIQ_OK).is_ok());

    let (at, m) = refused(
        &r,
        &SPACEIQ_OK.replace(r#"auth = "password""#, r#"auth = "jwt_bearer""#),
    );
    assert_eq!(at, "connection.auth");
    assert!(m.contains("password"), "{m}");

    let (at, _) = refused(&r, &SPACEIQ_OK.replace(r#""sandbox""#, r#""moon""#));
    assert_eq!(at, "connection.environment");

    let (at, m) = refused(
        &r,
        &SPACEIQ_OK.replace(r#"type = "move.executed""#, r#"type = "move.planned""#),
    );
    assert_eq!(at, "event[0].type");
    assert!(m.contains("no flow"), "{m}");

    // A template that does not compile, one that reads an unknown name, a payload of the wrong type.
    let (at, m) = refused(&r, &SPACEIQ_OK.replace("mv-{{ n }}", "mv-{{ n "));
    assert_eq!(at, "event[0].data.move_id");
    assert!(m.contains("does not compile"), "{m}");
    let (at, m) = refused(&r, &SPACEIQ_OK.replace("mv-{{ n }}", "mv-{{ employee_id }}"));
    assert!(at.starts_with("event[0].data.move_id"), "{at}");
    assert!(m.contains("undefined") || m.contains("unknown"), "{m}");
    let (at, m) = refused(
        &r,
        &SPACEIQ_OK.replace(r#"timing = "now""#, r#"timing = "{{ n }}""#),
    );
    assert_eq!(at, "event[0].data.timing");
    assert!(m.contains("must be a string"), "{m}");

    let (_, m) = refused(
        &r,
        "event = []\n[connection]\nauth = \"password\"\nenvironment = \"sandbox\"\n",
    );
    assert!(m.contains("at least one [[event]]"), "{m}");
    let (_, m) = refused(&r, "nonsense = 1\n");
    assert!(m.contains("not a valid demo"), "{m}");
}
