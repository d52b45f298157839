//! Schema provisioning against the emulator's Metadata API: plan, apply, a second apply that
//! changes nothing, the permission set assigned, and destructive changes refused unless allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use std::time::Duration;

use common::*;
use forcebridge_salesforce::metadata::{
    ApplyOptions, Change, FieldSpec, FieldType, ObjectSpec, PermissionSetSpec, SchemaSpec,
};
use serde_json::json;

fn instruqt() -> SchemaSpec {
    SchemaSpec {
        objects: vec![
            ObjectSpec {
                api_name: "Instruqt_Track__c".into(),
                label: "Instruqt Track".into(),
                plural_label: "Instruqt Tracks".into(),
                name_label: "Title".into(),
                fields: vec![
                    FieldSpec::new("Track_Slug__c", "Track Slug", FieldType::Text { length: 255 })
                        .external_id(),
                ],
            },
            ObjectSpec {
                api_name: "Instruqt_Play__c".into(),
                label: "Instruqt Play".into(),
                plural_label: "Instruqt Plays".into(),
                name_label: "Play".into(),
                fields: vec![
                    FieldSpec::new(
                        "Lead__c",
                        "Lead",
                        FieldType::Lookup {
                            reference_to: "Lead".into(),
                            relationship_name: "Instruqt_Plays".into(),
                        },
                    ),
                    FieldSpec::new(
                        "Instruqt_Track__c",
                        "Track",
                        FieldType::Lookup {
                            reference_to: "Instruqt_Track__c".into(),
                            relationship_name: "Plays".into(),
                        },
                    ),
                    FieldSpec::new("Feedback__c", "Feedback", FieldType::TextArea),
                    FieldSpec::new("Invitation_Link__c", "Invitation Link", FieldType::Url),
                    FieldSpec::new(
                        "Participant_ID__c",
                        "Participant ID",
                        FieldType::Text { length: 15 },
                    )
                    .external_id(),
                    FieldSpec::new(
                        "Score__c",
                        "Score",
                        FieldType::Number {
                            precision: 1,
                            scale: 0,
                        },
                    ),
                    FieldSpec::new(
                        "Time_Spent_Seconds__c",
                        "Time Spent (s)",
                        FieldType::Number {
                            precision: 10,
                            scale: 0,
                        },
                    ),
                ],
            },
        ],
        extra_fields: vec![],
        permission_set: Some(PermissionSetSpec {
            name: "Instruqt_Integration".into(),
            label: "Instruqt Integration".into(),
            assign_to_current_user: true,
        }),
    }
}

fn fast() -> ApplyOptions {
    ApplyOptions {
        settle_interval: Duration::from_millis(50),
        ..Default::default()
    }
}

#[tokio::test]
async fn plan_apply_and_a_second_apply_changes_nothing() {
    let h = start(false).await;
    let c = client(&h);
    let spec = instruqt();
    let plan = c.plan_schema(&spec).await.expect("plan");
    assert!(
        plan.changes.contains(&Change::CreateObject {
            object: "Instruqt_Track__c".into()
        }),
        "{plan:?}"
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| matches!(c, Change::PermissionSet { .. }))
    );

    let applied = c.apply_schema(&spec, fast()).await.expect("apply");
    assert_eq!(applied, plan, "apply made exactly the plan");
    assert!(
        c.plan_schema(&spec).await.unwrap().is_empty(),
        "the org matches the spec"
    );
    let again = c.apply_schema(&spec, fast()).await.unwrap();
    assert!(again.is_empty(), "a second apply changes nothing: {again:?}");

    // The schema is usable: upsert by the external id, with a lookup.
    let track = c
        .upsert(
            "Instruqt_Track__c",
            "Track_Slug__c",
            "intro",
            &json!({"Name": "Intro"}),
        )
        .await
        .expect("upsert track");
    assert!(track.created);
    let play = c
        .upsert(
            "Instruqt_Play__c",
            "Participant_ID__c",
            "p-1",
            &json!({"Instruqt_Track__c": track.id.unwrap().as_str(), "Score__c": 5}),
        )
        .await
        .expect("upsert play");
    assert!(play.created);

    // A change that would lose data is refused unless allowed, and nothing is changed.
    let mut shrink = instruqt();
    shrink.objects[0].fields[0].field_type = FieldType::Text { length: 20 };
    let plan = c.plan_schema(&shrink).await.unwrap();
    assert!(plan.changes.iter().any(Change::is_destructive), "{plan:?}");
    let e = c.apply_schema(&shrink, fast()).await.unwrap_err();
    assert!(e.to_string().contains("destructive"), "{e}");
    assert!(
        c.plan_schema(&spec).await.unwrap().is_empty(),
        "nothing was changed"
    );

    // Adding a field later is a one-field plan.
    let mut more = instruqt();
    more.objects[0].fields.push(FieldSpec::new(
        "Level__c",
        "Level",
        FieldType::Picklist {
            values: vec!["Beginner".into(), "Expert".into()],
        },
    ));
    let plan = c.apply_schema(&more, fast()).await.unwrap();
    assert!(
        plan.changes.contains(&Change::CreateField {
            object: "Instruqt_Track__c".into(),
            field: "Level__c".into()
        }),
        "{plan:?}"
    );
}
