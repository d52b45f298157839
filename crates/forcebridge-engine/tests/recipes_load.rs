//! Every recipe folder in `recipes/` loads with no error, and the bundled recipes compile into
//! what their guides describe.

use std::path::{Path, PathBuf};

use forcebridge_engine::recipe::{self, ir};

fn recipes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes")
}

fn load(name: &str) -> ir::Recipe {
    match recipe::load(&recipes_dir().join(name)) {
        Ok((r, _)) => r,
        Err(e) => panic!("{name} does not load:\n{}", recipe::render(&e)),
    }
}

#[test]
fn every_recipe_folder_loads_without_error() {
    let mut n = 0;
    for entry in std::fs::read_dir(recipes_dir()).expect("recipes/ exists") {
        let path = entry.expect("readable entry").path();
        if !path.is_dir() {
            continue;
        }
        n += 1;
        if let Err(e) = recipe::load(&path) {
            panic!("{} does not load:\n{}", path.display(), recipe::render(&e));
        }
    }
    assert!(n >= 2, "expected at least four recipes, found {n}");
}

#[test]
fn instruqt_compiles_to_its_guide() {
    let r = load("instruqt");
    assert_eq!(r.connection.auth, vec![ir::AuthMethod::OauthWebServer]);
    assert!(r.connection.scopes.iter().any(|s| s == "chatter_api"));
    let status = r.setting("new_lead_status").expect("the lead status setting");
    assert_eq!(
        status.kind,
        ir::SettingType::Picklist {
            object: "Lead".into(),
            field: "Status".into()
        }
    );
    assert_eq!(status.default, Some(serde_json::json!("Open - Not Contacted")));
    let create_lead = r
        .workflows
        .iter()
        .find(|w| w.name == "create_lead")
        .expect("create_lead");
    assert!(create_lead.mandatory);
    let names: Vec<&str> = r.schema.objects.iter().map(|o| o.api_name.as_str()).collect();
    assert_eq!(names, ["Instruqt_Track__c", "Instruqt_Play__c"]);
    let play = &r.schema.objects[1];
    assert!(
        play.fields
            .iter()
            .any(|f| f.api_name == "Participant_ID__c" && f.external_id)
    );
    assert_eq!(
        r.schema.permission_set.as_ref().map(|p| p.name.as_str()),
        Some("Instruqt_Integration")
    );
    let form = r.flows_for("invite.form_submitted").next().expect("form flow");
    let ir::StepKind::Match(m) = &form.steps[0].kind else {
        panic!("first step is a match")
    };
    assert_eq!(m.objects, ["Contact", "Lead"]);
    let by: Vec<&str> = m.by.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(by, ["Email", "FirstName", "LastName"]);
    assert_eq!(m.or_create.as_ref().map(|w| w.object.as_str()), Some("Lead"));
    let completed = r.flows_for("track.completed").next().expect("completed flow");
    let ids: Vec<&str> = completed.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["track", "person", "play", "post_completed", "post_feedback"]
    );
    assert_eq!(
        completed.steps[4].workflow.as_deref(),
        Some("chatter_on_feedback")
    );
}

#[test]
fn spaceiq_compiles_to_its_guide() {
    let r = load("spaceiq");
    assert_eq!(r.connection.auth, vec![ir::AuthMethod::Password]);
    assert_eq!(
        r.connection.wait_for_new_app,
        Some(std::time::Duration::from_secs(600))
    );
    let case_fields: Vec<&str> = r
        .schema
        .extra_fields
        .iter()
        .filter(|(o, _)| o == "Case")
        .map(|(_, f)| f.api_name.as_str())
        .collect();
    assert_eq!(case_fields.len(), 7);
    let moved = r.flows_for("move.executed").next().expect("move flow");
    assert!(moved.filter.is_some());
    assert_eq!(
        moved.correlate.as_ref().map(|c| c.source()),
        Some("event.plan_id")
    );
    let ir::StepKind::Upsert(u) = &moved.steps[0].kind else {
        panic!("an upsert")
    };
    assert_eq!(u.external_id, "ExternalID__c");
    let undone = r.flows_for("move_plan.undone").next().expect("undo flow");
    assert!(matches!(undone.steps[0].kind, ir::StepKind::Undo(_)));
}

#[test]
fn spaceiq_filter_keeps_only_now_moves() {
    let r = load("spaceiq");
    let moved = r.flows_for("move.executed").next().expect("move flow");
    let filter = moved.filter.as_ref().expect("a filter");
    let scope = |timing: &str| {
        ir::Scope::new(
            &serde_json::json!({ "timing": timing, "move_id": "m1", "plan_id": "p1" }),
            &serde_json::json!({}),
            &serde_json::json!({}),
            chrono::Utc::now(),
        )
    };
    assert_eq!(filter.eval_bool(&scope("now")), Ok(true));
    assert_eq!(filter.eval_bool(&scope("future")), Ok(false));
}
