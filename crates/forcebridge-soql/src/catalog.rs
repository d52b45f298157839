//! The seam between SOQL and whatever holds the records.
//!
//! The evaluator never sees an org, a user or a permission: it sees a [`Catalog`], which answers
//! only what that caller may see. The emulator implements it per request, so a field hidden by
//! field-level security simply does not exist for the query (Salesforce answers `INVALID_FIELD`).
//!
//! Invariant: every name a `Catalog` returns is canonical (the case Salesforce uses in describe);
//! every name it accepts is matched case-insensitively.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// One record as Salesforce puts it on the wire: canonical field name → JSON value.
/// Dates are `"YYYY-MM-DD"`, datetimes `"YYYY-MM-DDTHH:MM:SS.sss+0000"`, ids 18-character strings.
pub type Record = Map<String, Value>;

/// The type of a field, as far as SOQL cares (literal typing, comparison, grouping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `Id` and reference fields: compared as ids (15 or 18 characters match).
    Id,
    /// Text, text area, email, phone, URL, picklist and similar: compared as strings.
    String,
    /// Multi-select picklist: `INCLUDES` / `EXCLUDES` apply.
    MultiPicklist,
    /// Checkbox.
    Boolean,
    /// Integer, double, currency, percent.
    Number,
    /// Date only.
    Date,
    /// Date and time.
    DateTime,
    /// Time of day.
    Time,
    /// Long text and other fields that cannot be filtered on.
    Unfilterable,
}

/// What the evaluator needs to know about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Canonical name, e.g. `AccountId`, `Track_Slug__c`.
    pub name: String,
    pub kind: FieldKind,
    /// For reference fields: the objects it may point to (several for polymorphic `OwnerId`, `WhoId`).
    pub reference_to: Vec<String>,
    /// For reference fields: the relationship name used in dotted paths (`Account`, `Lead__r`).
    pub relationship_name: Option<String>,
    /// Whether the field may be used in `GROUP BY`.
    pub groupable: bool,
    /// Whether the field may be used in `ORDER BY` and `WHERE`.
    pub sortable: bool,
}

/// A child relationship of an object, as used in a subquery (`SELECT (SELECT Id FROM Contacts) FROM Account`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRelationship {
    /// Canonical relationship name, e.g. `Contacts`, `Instruqt_Plays__r`.
    pub name: String,
    /// The child object, e.g. `Contact`.
    pub child_object: String,
    /// The child's reference field that points at the parent, e.g. `AccountId`.
    pub field: String,
}

/// The records and schema one query may see.
pub trait Catalog {
    /// The canonical name of a queryable object, or `None` when it does not exist for this caller.
    fn object(&self, name: &str) -> Option<String>;

    /// A field of `object` (canonical object name), or `None` when it does not exist for this caller.
    fn field(&self, object: &str, field: &str) -> Option<FieldInfo>;

    /// All fields of `object` visible to this caller, in describe order (for `FIELDS(ALL)` and the like).
    fn fields(&self, object: &str) -> Vec<FieldInfo>;

    /// The reference field of `object` whose relationship name is `relationship` (case-insensitive).
    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo>;

    /// The child relationship of `object` named `relationship` (case-insensitive).
    fn child_relationship(&self, object: &str, relationship: &str) -> Option<ChildRelationship>;

    /// Every record of `object`; deleted ones (`IsDeleted = true`) only when `include_deleted`.
    ///
    /// A catalog implements either this and [`Catalog::get`] (it holds [`Record`]s to lend), or
    /// [`Catalog::scan_rows`] and [`Catalog::get_row`] (it builds records on demand). The
    /// evaluator reads only through the latter, whose defaults lend from these; the defaults
    /// here see nothing.
    fn scan<'a>(&'a self, object: &str, include_deleted: bool) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        let _ = (object, include_deleted);
        Box::new(std::iter::empty())
    }

    /// The record with this 18-character id, whatever its object, deleted or not (see
    /// [`Catalog::scan`] about which pair to implement).
    fn get(&self, id: &str) -> Option<(&str, &Record)> {
        let _ = id;
        None
    }

    /// [`Catalog::scan`] for a catalog that may build each record as it is reached: the
    /// evaluator keeps only what a query needs of each row (its output, its sort keys, or its
    /// id to read it again with [`Catalog::get_row`]), so a scan never holds a whole object.
    ///
    /// `fields`, when given, are all the fields the query reads of these rows (canonical names,
    /// `Id` among them): a catalog may build each row with only those (and may give more).
    fn scan_rows<'a>(
        &'a self,
        object: &str,
        include_deleted: bool,
        fields: Option<&[&str]>,
    ) -> Box<dyn Iterator<Item = Cow<'a, Record>> + 'a> {
        let _ = fields;
        Box::new(self.scan(object, include_deleted).map(Cow::Borrowed))
    }

    /// [`Catalog::get`] for a catalog that may build the record on demand.
    fn get_row<'a>(&'a self, id: &str) -> Option<(&'a str, Cow<'a, Record>)> {
        self.get(id).map(|(object, r)| (object, Cow::Borrowed(r)))
    }

    /// The `attributes` object Salesforce puts on each record: `{"type": ..., "url": ...}`.
    fn attributes(&self, object: &str, id: Option<&str>) -> Value;

    /// "Now" for date literals (`TODAY`, `LAST_N_DAYS:7`), in the org's time zone (UTC here).
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}
