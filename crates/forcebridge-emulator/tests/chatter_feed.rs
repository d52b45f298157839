//! Chatter over real HTTP: post a feed item with text, mention, link and markup segments, read
//! the record's feed page by page, see the post through SOQL, and the errors for bad subjects.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use serde_json::{Value, json};

async fn admin_id(app: &common::App) -> String {
    let (_, q) = app.query("SELECT Id FROM User LIMIT 1").await;
    q["records"][0]["Id"].as_str().unwrap().to_string()
}

fn post_body(subject: &str, segments: Value) -> Value {
    json!({"feedElementType": "FeedItem", "subjectId": subject, "body": {"messageSegments": segments}})
}

#[tokio::test]
async fn post_read_feed_and_query() {
    let app = common::spawn().await;
    let account = app.create("Account", json!({"Name": "Acme"})).await;
    let user = admin_id(&app).await;
    let (status, item) = app
        .post(
            "chatter/feed-elements",
            post_body(
                &account,
                json!([
                    {"type": "Text", "text": "Hello "},
                    {"type": "Mention", "id": user},
                    {"type": "Text", "text": ", see "},
                    {"type": "Link", "url": "https://example.com/x"}
                ]),
            ),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    let id = item["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("0D5"), "{id}");
    assert_eq!(item["feedElementType"], json!("FeedItem"));
    assert_eq!(item["type"], json!("TextPost"));
    assert_eq!(item["parent"]["id"], json!(account));
    assert_eq!(item["parent"]["type"], json!("Account"));
    assert_eq!(item["parent"]["name"], json!("Acme"));
    assert_eq!(item["actor"]["id"], json!(user));
    assert_eq!(item["actor"]["type"], json!("User"));
    let segs = item["body"]["messageSegments"].as_array().unwrap();
    assert_eq!(segs.len(), 4);
    assert_eq!(segs[1]["type"], json!("Mention"));
    assert_eq!(segs[1]["record"]["id"], json!(user));
    let mention = segs[1]["text"].as_str().unwrap();
    assert!(mention.starts_with('@'));
    assert_eq!(segs[3]["url"], json!("https://example.com/x"));
    assert_eq!(
        item["body"]["text"],
        json!(format!("Hello {mention}, see https://example.com/x"))
    );
    assert!(item["createdDate"].as_str().unwrap().ends_with('Z'));
    assert!(item["capabilities"]["comments"]["page"]["total"].is_number());
    assert_eq!(
        item["url"],
        json!(format!("/services/data/v66.0/chatter/feed-elements/{id}"))
    );

    // The feed of the record, newest first, paged.
    let (status, second) = app
        .post(
            "chatter/feed-elements",
            post_body(
                &account,
                json!([
                    {"type": "MarkupBegin", "markupType": "Bold"},
                    {"type": "Text", "text": "bold"},
                    {"type": "MarkupEnd", "markupType": "Bold"}
                ]),
            ),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["body"]["isRichText"], json!(true));
    let (status, page) = app
        .get(&format!(
            "chatter/feeds/record/{account}/feed-elements?pageSize=1"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["elements"].as_array().unwrap().len(), 1);
    assert_eq!(page["elements"][0]["id"], second["id"]);
    let next = page["nextPageUrl"].as_str().unwrap().to_string();
    let (_, page2) = app.get(&next).await;
    assert_eq!(page2["elements"][0]["id"], json!(id));
    assert_eq!(page2["nextPageUrl"], json!(null));

    // The same post through SOQL and REST.
    let (status, q) = app
        .query(&format!("SELECT Id, Body, ParentId, Type, CreatedById FROM FeedItem WHERE ParentId = '{account}' ORDER BY CreatedDate"))
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["totalSize"], json!(2));
    assert_eq!(q["records"][0]["Id"], json!(id));
    assert_eq!(q["records"][0]["Body"], item["body"]["text"]);
    assert_eq!(q["records"][0]["Type"], json!("TextPost"));
    assert_eq!(q["records"][0]["CreatedById"], json!(user));
    assert_eq!(q["records"][1]["Body"], json!("<b>bold</b>"));
    let (status, one) = app.get(&format!("chatter/feed-elements/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["body"]["messageSegments"][1]["type"], json!("Mention"));
}

#[tokio::test]
async fn bad_subjects_and_bodies_are_refused() {
    let app = common::spawn().await;
    let text = json!([{"type": "Text", "text": "hi"}]);
    let (status, body) = app
        .post(
            "chatter/feed-elements",
            post_body("001000000000000AAA", text.clone()),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body[0]["errorCode"], json!("NOT_FOUND"));
    let (status, body) = app
        .post("chatter/feed-elements", post_body("garbage", text.clone()))
        .await;
    assert_eq!(status, 404, "{body}");
    let account = app.create("Account", json!({"Name": "Acme"})).await;
    let (status, body) = app
        .post("chatter/feed-elements", post_body(&account, json!([])))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .post(
            "chatter/feed-elements",
            post_body(&account, json!([{"type": "Mention", "id": account}])),
        )
        .await;
    assert_eq!(status, 400, "a mention must name a user: {body}");
    let (status, body) = app
        .post(
            "chatter/feed-elements",
            json!({"feedElementType": "Bundle", "subjectId": account, "body": {"messageSegments": text}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .get("chatter/feeds/record/001000000000000AAA/feed-elements")
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, page) = app
        .get(&format!("chatter/feeds/record/{account}/feed-elements"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["elements"], json!([]));
}

#[tokio::test]
async fn a_batch_posts_each_input_in_order_with_its_own_errors() {
    let app = common::spawn().await;
    let a = app.create("Account", json!({"Name": "A"})).await;
    let b = app.create("Account", json!({"Name": "B"})).await;
    let text = |t: &str| json!([{"type": "Text", "text": t}]);
    let (status, body) = app
        .post(
            "chatter/feed-elements/batch",
            json!({"inputs": [
                {"richInput": post_body(&a, text("first"))},
                {"richInput": post_body("001000000000000AAA", text("nowhere"))},
                {"richInput": post_body(&b, text("third"))},
                {"notRichInput": {}}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hasErrors"], json!(true));
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["statusCode"], json!(201));
    assert_eq!(results[0]["result"]["parent"]["id"], json!(a));
    assert_eq!(results[0]["result"]["body"]["text"], json!("first"));
    assert_eq!(results[1]["statusCode"], json!(404));
    assert_eq!(results[1]["result"][0]["errorCode"], json!("NOT_FOUND"));
    assert_eq!(results[2]["statusCode"], json!(201));
    assert_eq!(results[2]["result"]["parent"]["id"], json!(b));
    assert_eq!(results[3]["statusCode"], json!(400));
    assert_eq!(results[3]["result"][0]["errorCode"], json!("INVALID_API_INPUT"));
    // The two good posts exist, each on its own record; the failures left nothing.
    let (_, q) = app
        .query("SELECT ParentId, Body FROM FeedItem ORDER BY CreatedDate")
        .await;
    assert_eq!(q["totalSize"], json!(2), "{q}");
    let (status, body) = app
        .post(
            "chatter/feed-elements/batch",
            json!({"inputs": [{"richInput": post_body(&a, text("only"))}]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["hasErrors"], json!(false));
    // No inputs, or more than 500, fail the whole request.
    let (status, body) = app
        .post("chatter/feed-elements/batch", json!({"inputs": []}))
        .await;
    assert_eq!(status, 400, "{body}");
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"richInput": post_body(&a, text("x"))}))
        .collect();
    let (status, _) = app
        .post("chatter/feed-elements/batch", json!({ "inputs": many }))
        .await;
    assert_eq!(status, 400);
}
