//! Chatter's sObjects: `FeedItem` (key prefix `0D5`, a post on a record's feed) and
//! `FeedComment` (`0D7`), with the fields the Object Reference lists for them, plus
//! `DuplicateRule` (`0Bm`), which the duplicate-rule switch of the control API writes.
//!
//! Invariant: `FeedItem.ParentId` and `FeedComment.ParentId` refer only to objects of the
//! standard schema, so `schema::standard`'s reference check holds; `Body` keeps the post's plain
//! text (or its HTML when `IsRichText`), as SOQL returns it.

use indexmap::IndexMap;

use super::{FieldDef, FieldType as T, ObjectDef, Schema};

/// Objects a feed item can be posted to in the standard schema.
pub const FEED_PARENTS: &[&str] = &[
    "Account",
    "Contact",
    "Lead",
    "Case",
    "Opportunity",
    "User",
    "Group",
];

fn f(name: &str, label: &str, t: T) -> FieldDef {
    FieldDef::new(name, label, t)
}

fn object(name: &str, label: &str, plural: &str, prefix: &str) -> ObjectDef {
    ObjectDef {
        name: name.into(),
        label: label.into(),
        label_plural: plural.into(),
        key_prefix: prefix.into(),
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: false,
        retrieveable: true,
        undeletable: false,
        mergeable: false,
        replicateable: true,
        triggerable: true,
        feed_enabled: false,
        fields: IndexMap::new(),
    }
}

/// `Id`, `IsDeleted` and the audit fields, as every object has them.
fn system(fields: &mut Vec<FieldDef>, tail: bool) {
    if !tail {
        let mut id = f("Id", "Feed Item ID", T::Id);
        id.id_lookup = true;
        id.nillable = false;
        fields.push(id);
        fields.push(f("IsDeleted", "Deleted", T::Boolean).read_only());
        return;
    }
    let by = |n: &str, l: &str, rel: &str| {
        let mut fd = f(n, l, T::Reference)
            .refers(&["User"], rel)
            .read_only()
            .defaulted();
        fd.nillable = false;
        fd
    };
    let at = |n: &str, l: &str| {
        let mut fd = f(n, l, T::Datetime).read_only().defaulted();
        fd.nillable = false;
        fd
    };
    fields.push(at("CreatedDate", "Created Date"));
    fields.push(by("CreatedById", "Created By ID", "CreatedBy"));
    fields.push(at("LastModifiedDate", "Last Modified Date"));
    fields.push(by("LastModifiedById", "Last Modified By ID", "LastModifiedBy"));
    fields.push(at("SystemModstamp", "System Modstamp"));
}

/// `FeedItem`.
pub fn feed_item() -> ObjectDef {
    let mut o = object("FeedItem", "Feed Item", "Feed Items", "0D5");
    let mut fields = Vec::new();
    system(&mut fields, false);
    let mut parent = f("ParentId", "Parent ID", T::Reference)
        .refers(FEED_PARENTS, "Parent")
        .create_only();
    parent.nillable = false;
    fields.push(parent);
    fields.push(
        f("Type", "Feed Item Type", T::Picklist)
            .values(&[
                "*TextPost",
                "LinkPost",
                "ContentPost",
                "PollPost",
                "QuestionPost",
                "TrackedChange",
                "AdvancedTextPost",
            ])
            .len(40)
            .create_only(),
    );
    fields.push(f("Title", "Title", T::String).len(255));
    fields.push(f("Body", "Body", T::Textarea).len(10000));
    fields.push(f("LinkUrl", "Link Url", T::Url).len(1000));
    fields.push(f("IsRichText", "Is Rich Text", T::Boolean));
    fields.push(f("RelatedRecordId", "Related Record ID", T::Reference).refers(&["User"], "RelatedRecord"));
    fields.push(f("CommentCount", "Comment Count", T::Int).read_only());
    fields.push(f("LikeCount", "Like Count", T::Int).read_only());
    fields.push(
        f("Visibility", "Visibility", T::Picklist)
            .values(&["*InternalUsers", "AllUsers"])
            .len(40),
    );
    fields.push(
        f("Status", "Status", T::Picklist)
            .values(&["*Published", "PendingReview", "Draft"])
            .len(40),
    );
    fields.push(f("HasContent", "Has Content", T::Boolean).read_only());
    fields.push(f("HasLink", "Has Link", T::Boolean).read_only());
    fields.push(
        f("InsertedById", "InsertedBy ID", T::Reference)
            .refers(&["User"], "InsertedBy")
            .read_only(),
    );
    system(&mut fields, true);
    o.fields = fields.into_iter().map(|fd| (fd.name.clone(), fd)).collect();
    o
}

/// `FeedComment`.
pub fn feed_comment() -> ObjectDef {
    let mut o = object("FeedComment", "Feed Comment", "Feed Comments", "0D7");
    let mut fields = Vec::new();
    system(&mut fields, false);
    if let Some(id) = fields.first_mut() {
        id.label = "Feed Comment ID".into();
    }
    let mut item = f("FeedItemId", "Feed Item ID", T::Reference)
        .refers(&["FeedItem"], "FeedItem")
        .create_only();
    item.nillable = false;
    fields.push(item);
    fields.push(
        f("ParentId", "Parent ID", T::Reference)
            .refers(FEED_PARENTS, "Parent")
            .read_only(),
    );
    let mut body = f("CommentBody", "Comment Body", T::Textarea).len(10000);
    body.nillable = false;
    fields.push(body);
    fields.push(
        f("CommentType", "Comment Type", T::Picklist)
            .values(&["*TextComment", "ContentComment"])
            .len(40),
    );
    fields.push(f("IsRichText", "Is Rich Text", T::Boolean));
    fields.push(
        f("InsertedById", "InsertedBy ID", T::Reference)
            .refers(&["User"], "InsertedBy")
            .read_only(),
    );
    system(&mut fields, true);
    o.fields = fields.into_iter().map(|fd| (fd.name.clone(), fd)).collect();
    o
}

/// Adds `FeedItem`, `FeedComment` and `DuplicateRule` to a schema.
pub fn register(schema: &mut Schema) {
    schema.insert(feed_item());
    schema.insert(feed_comment());
    schema.insert(crate::duplicates::rule_object());
    schema.add_child_relationship(
        "FeedItem",
        super::ChildRelationshipDef {
            child_sobject: "FeedComment".into(),
            field: "FeedItemId".into(),
            relationship_name: Some("FeedComments".into()),
            cascade_delete: true,
        },
    );
}
