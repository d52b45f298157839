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
    assert!(n >= 4, "expected at least four recipes, found {n}");
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
            chrono::DateTime::<chrono::Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
        )
    };
    assert_eq!(filter.eval_bool(&scope("now")), Ok(true));
    assert_eq!(filter.eval_bool(&scope("future")), Ok(false));
}

/// What a step's output looks like at run time, made up for evaluating later steps.
fn fake_output(step: &ir::Step, n: usize) -> serde_json::Value {
    let id = format!("a0X{n:015}");
    match &step.kind {
        ir::StepKind::Match(m) => {
            let fields: serde_json::Map<String, serde_json::Value> = m
                .read
                .iter()
                .map(|f| (f.clone(), serde_json::json!(format!("{f} value"))))
                .collect();
            serde_json::json!({
                "id": id, "object": m.objects[0], "found": true, "created": false, "fields": fields
            })
        }
        ir::StepKind::Create(w) => serde_json::json!({ "id": id, "object": w.object, "created": true }),
        ir::StepKind::Update(u) => serde_json::json!({ "id": id, "object": u.record.object }),
        ir::StepKind::Upsert(u) => {
            serde_json::json!({ "id": id, "object": u.record.object, "created": true })
        }
        ir::StepKind::Delete(d) => serde_json::json!({ "id": id, "object": d.object }),
        ir::StepKind::Chatter(_) => serde_json::json!({ "id": id }),
        ir::StepKind::Undo(_) => serde_json::json!({ "reverted": 1 }),
    }
}

fn eval_write(w: &ir::WriteStep, scope: &ir::Scope) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (field, value) in &w.fields {
        let v = match value {
            ir::FieldValue::Expr(e) => e.eval(scope).unwrap_or_else(|e| panic!("{e}")),
            ir::FieldValue::Template(t) => {
                serde_json::Value::String(t.render(scope).unwrap_or_else(|e| panic!("{e}")))
            }
        };
        out.insert(field.clone(), v);
    }
    out
}

/// Runs every flow of `recipe` on every event of its test cases without Salesforce: filters,
/// conditions, keys, field values and templates all evaluate without error. Returns, per event
/// id, the values written per step id.
fn evaluate_tests(recipe: &ir::Recipe) -> Vec<(String, String, serde_json::Map<String, serde_json::Value>)> {
    let mut written = Vec::new();
    let mut settings: serde_json::Map<String, serde_json::Value> = recipe
        .settings
        .iter()
        .filter_map(|s| Some((s.name.clone(), s.default.clone()?)))
        .collect();
    for case in &recipe.tests {
        settings.extend(case.settings.clone());
        for event in &case.events {
            for flow in recipe.flows_for(&event.event_type) {
                let mut scope = ir::Scope::new(
                    &event.data,
                    &serde_json::Value::Object(settings.clone()),
                    &serde_json::json!({ "id": "conn_1" }),
                    chrono::DateTime::<chrono::Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
                );
                if let Some(f) = &flow.filter
                    && !f.eval_bool(&scope).unwrap_or_else(|e| panic!("{e}"))
                {
                    continue;
                }
                for c in flow
                    .correlate
                    .iter()
                    .chain(flow.coalesce.as_ref().map(|c| &c.key))
                {
                    c.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                }
                for (n, step) in flow.steps.iter().enumerate() {
                    if let Some(w) = &step.when
                        && !w.eval_bool(&scope).unwrap_or_else(|e| panic!("{e}"))
                    {
                        scope.set_step(&step.id, serde_json::Value::Null);
                        continue;
                    }
                    let mut values = serde_json::Map::new();
                    match &step.kind {
                        ir::StepKind::Match(m) => {
                            for (_, e) in &m.by {
                                e.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                            }
                            if let Some(w) = &m.or_create {
                                values = eval_write(w, &scope);
                            }
                        }
                        ir::StepKind::Create(w) => values = eval_write(w, &scope),
                        ir::StepKind::Update(u) => {
                            u.id.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                            values = eval_write(&u.record, &scope);
                        }
                        ir::StepKind::Upsert(u) => {
                            let key = u.key.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                            values = eval_write(&u.record, &scope);
                            values.insert(u.external_id.clone(), key);
                        }
                        ir::StepKind::Delete(d) => {
                            d.id.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                        }
                        ir::StepKind::Chatter(c) => {
                            c.on.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                            let body = c.body.render(&scope).unwrap_or_else(|e| panic!("{e}"));
                            values.insert("Body".into(), serde_json::Value::String(body));
                        }
                        ir::StepKind::Undo(u) => {
                            u.correlation.eval(&scope).unwrap_or_else(|e| panic!("{e}"));
                        }
                    }
                    written.push((event.id.clone(), step.id.clone(), values));
                    scope.set_step(&step.id, fake_output(step, n));
                }
            }
        }
    }
    written
}

#[test]
fn every_recipe_evaluates_its_test_events_without_error() {
    for entry in std::fs::read_dir(recipes_dir()).expect("recipes/ exists") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            let r = load(&path.file_name().expect("a name").to_string_lossy());
            assert!(!r.tests.is_empty(), "{} has no test cases", r.name);
            evaluate_tests(&r);
        }
    }
}

#[test]
fn instruqt_play_values_come_out_as_the_guide_shows() {
    let r = load("instruqt");
    let written = evaluate_tests(&r);
    let play = written
        .iter()
        .find(|(event, step, _)| event == "complete" && step == "play")
        .map(|(_, _, v)| v)
        .expect("the play of the completed track");
    assert_eq!(play["Time_Spent__c"], "0h 42m 5s");
    assert_eq!(play["Time_Spent_Seconds__c"], 2525);
    assert_eq!(play["Score__c"], 5);
    assert_eq!(play["Name"], "Kubernetes 101");
    assert_eq!(play["Participant_ID__c"], "pl_0000000001");
    assert_eq!(
        play["Lead__c"],
        serde_json::Value::Null,
        "the fake match found a Contact"
    );
    let feedback = written
        .iter()
        .find(|(event, step, _)| event == "complete" && step == "post_feedback")
        .map(|(_, _, v)| v)
        .expect("the feedback post");
    assert_eq!(
        feedback["Body"],
        "Feedback on the Instruqt track \"Kubernetes 101\": score 5/5. \"Great lab\""
    );
}

#[test]
fn inkwell_dates_are_computed_in_cel() {
    let r = load("inkwell");
    let written = evaluate_tests(&r);
    let find = |step: &str| {
        written
            .iter()
            .find(|(event, s, _)| event == "signed" && s == step)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("step {step} of the signed envelope"))
    };
    assert_eq!(find("close")["Contract_Signed_On__c"], "2026-12-03");
    assert_eq!(find("close")["Amount"], 120000.0);
    assert_eq!(find("follow_up")["ActivityDate"], "2026-12-05");
}

#[test]
fn ticketly_coalesces_by_ticket_and_maps_status() {
    let r = load("ticketly");
    let flow = r.flows_for("ticket.updated").next().expect("ticket flow");
    let c = flow.coalesce.as_ref().expect("a coalescing window");
    assert_eq!(c.window, std::time::Duration::from_secs(900));
    assert_eq!(c.key.source(), "event.ticket.id");
    let written = evaluate_tests(&r);
    let case = written
        .iter()
        .find(|(event, step, _)| event == "t1-solved" && step == "case")
        .map(|(_, _, v)| v)
        .expect("the case of the solved ticket");
    assert_eq!(case["Status"], "Closed");
    assert_eq!(case["Priority"], "High");
    assert_eq!(case["Ticketly_Tags__c"], "office stapler");
    assert_eq!(r.syncs.len(), 1);
}
