//! The Salesforce standard objects recipes write to, and the fields of theirs that `recipe check`
//! knows: enough to check the seeds' and the bundled recipes' field names without an org. A field
//! missing here is reported as unknown; add it (with its type from Salesforce's object reference)
//! rather than silencing the check.
//!
//! Invariant: names are spelt exactly as Salesforce's API spells them; lookups name the object
//! they refer to, so `Account.Name` style paths can be followed.

/// What kind of value a standard field holds (enough for the checks `compile` makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The record id.
    Id,
    /// Text of any flavour (string, textarea, email, phone, url).
    Text,
    /// A picklist (values read live from the org's describe).
    Picklist,
    /// true / false.
    Bool,
    /// A number or currency.
    Number,
    /// A date.
    Date,
    /// A date and time.
    DateTime,
    /// A lookup to these objects (the relationship is the field without `Id`).
    Lookup(&'static [&'static str]),
}

/// Fields every record has.
const SYSTEM: &[(&str, Kind)] = &[
    ("Id", Kind::Id),
    ("IsDeleted", Kind::Bool),
    ("CreatedDate", Kind::DateTime),
    ("CreatedById", Kind::Lookup(&["User"])),
    ("LastModifiedDate", Kind::DateTime),
    ("LastModifiedById", Kind::Lookup(&["User"])),
    ("SystemModstamp", Kind::DateTime),
];

/// Fields of objects owned by a user or queue (and named).
const OWNED: &[(&str, Kind)] = &[
    ("OwnerId", Kind::Lookup(&["User", "Group"])),
    ("Name", Kind::Text),
];

const ADDRESS: &[&str] = &["Street", "City", "State", "PostalCode", "Country"];

const LEAD: &[(&str, Kind)] = &[
    ("FirstName", Kind::Text),
    ("LastName", Kind::Text),
    ("Salutation", Kind::Picklist),
    ("Title", Kind::Text),
    ("Company", Kind::Text),
    ("Email", Kind::Text),
    ("Phone", Kind::Text),
    ("MobilePhone", Kind::Text),
    ("Website", Kind::Text),
    ("Description", Kind::Text),
    ("LeadSource", Kind::Picklist),
    ("Status", Kind::Picklist),
    ("Industry", Kind::Picklist),
    ("Rating", Kind::Picklist),
    ("NumberOfEmployees", Kind::Number),
    ("AnnualRevenue", Kind::Number),
    ("IsConverted", Kind::Bool),
    ("ConvertedDate", Kind::Date),
    ("ConvertedAccountId", Kind::Lookup(&["Account"])),
    ("ConvertedContactId", Kind::Lookup(&["Contact"])),
    ("ConvertedOpportunityId", Kind::Lookup(&["Opportunity"])),
    ("HasOptedOutOfEmail", Kind::Bool),
    ("LastActivityDate", Kind::Date),
];

const CONTACT: &[(&str, Kind)] = &[
    ("FirstName", Kind::Text),
    ("LastName", Kind::Text),
    ("Salutation", Kind::Picklist),
    ("Title", Kind::Text),
    ("Department", Kind::Text),
    ("Email", Kind::Text),
    ("Phone", Kind::Text),
    ("MobilePhone", Kind::Text),
    ("Description", Kind::Text),
    ("LeadSource", Kind::Picklist),
    ("AccountId", Kind::Lookup(&["Account"])),
    ("ReportsToId", Kind::Lookup(&["Contact"])),
    ("Birthdate", Kind::Date),
    ("HasOptedOutOfEmail", Kind::Bool),
    ("LastActivityDate", Kind::Date),
];

const ACCOUNT: &[(&str, Kind)] = &[
    ("Type", Kind::Picklist),
    ("Industry", Kind::Picklist),
    ("Phone", Kind::Text),
    ("Website", Kind::Text),
    ("Description", Kind::Text),
    ("AccountNumber", Kind::Text),
    ("NumberOfEmployees", Kind::Number),
    ("AnnualRevenue", Kind::Number),
    ("ParentId", Kind::Lookup(&["Account"])),
    ("Rating", Kind::Picklist),
    ("LastActivityDate", Kind::Date),
];

const CASE: &[(&str, Kind)] = &[
    ("CaseNumber", Kind::Text),
    ("Subject", Kind::Text),
    ("Description", Kind::Text),
    ("Status", Kind::Picklist),
    ("Priority", Kind::Picklist),
    ("Origin", Kind::Picklist),
    ("Type", Kind::Picklist),
    ("Reason", Kind::Picklist),
    ("IsClosed", Kind::Bool),
    ("IsEscalated", Kind::Bool),
    ("ClosedDate", Kind::DateTime),
    ("ContactId", Kind::Lookup(&["Contact"])),
    ("AccountId", Kind::Lookup(&["Account"])),
    ("ParentId", Kind::Lookup(&["Case"])),
    ("SuppliedName", Kind::Text),
    ("SuppliedEmail", Kind::Text),
    ("SuppliedPhone", Kind::Text),
    ("SuppliedCompany", Kind::Text),
    ("OwnerId", Kind::Lookup(&["User", "Group"])),
];

const USER: &[(&str, Kind)] = &[
    ("Username", Kind::Text),
    ("FirstName", Kind::Text),
    ("LastName", Kind::Text),
    ("Name", Kind::Text),
    ("Email", Kind::Text),
    ("Alias", Kind::Text),
    ("Title", Kind::Text),
    ("Department", Kind::Text),
    ("CompanyName", Kind::Text),
    ("Phone", Kind::Text),
    ("IsActive", Kind::Bool),
    ("UserType", Kind::Picklist),
    ("ProfileId", Kind::Lookup(&["Profile"])),
    ("UserRoleId", Kind::Lookup(&["UserRole"])),
    ("ManagerId", Kind::Lookup(&["User"])),
    ("TimeZoneSidKey", Kind::Picklist),
    ("LanguageLocaleKey", Kind::Picklist),
    ("LastLoginDate", Kind::DateTime),
];

const OPPORTUNITY: &[(&str, Kind)] = &[
    ("AccountId", Kind::Lookup(&["Account"])),
    ("StageName", Kind::Picklist),
    ("CloseDate", Kind::Date),
    ("Amount", Kind::Number),
    ("Probability", Kind::Number),
    ("Type", Kind::Picklist),
    ("LeadSource", Kind::Picklist),
    ("NextStep", Kind::Text),
    ("Description", Kind::Text),
    ("IsClosed", Kind::Bool),
    ("IsWon", Kind::Bool),
    ("ForecastCategoryName", Kind::Picklist),
    ("ContactId", Kind::Lookup(&["Contact"])),
];

const TASK: &[(&str, Kind)] = &[
    ("Subject", Kind::Text),
    ("Description", Kind::Text),
    ("Status", Kind::Picklist),
    ("Priority", Kind::Picklist),
    ("ActivityDate", Kind::Date),
    ("WhoId", Kind::Lookup(&["Contact", "Lead"])),
    ("WhatId", Kind::Lookup(&["Account", "Opportunity", "Case"])),
    ("OwnerId", Kind::Lookup(&["User", "Group"])),
    ("IsClosed", Kind::Bool),
    ("TaskSubtype", Kind::Picklist),
    ("Type", Kind::Picklist),
];

const FEED_ITEM: &[(&str, Kind)] = &[
    (
        "ParentId",
        Kind::Lookup(&["Account", "Contact", "Lead", "Case", "Opportunity", "User"]),
    ),
    ("Body", Kind::Text),
    ("Title", Kind::Text),
    ("Type", Kind::Picklist),
    ("LinkUrl", Kind::Text),
    ("IsRichText", Kind::Bool),
];

/// One standard object: its name, its own fields, whether it has `OwnerId`/`Name`, and the
/// prefix of its address fields, if it has an address.
type ObjectRow = (
    &'static str,
    &'static [(&'static str, Kind)],
    bool,
    Option<&'static str>,
);

/// The standard objects known.
const OBJECTS: &[ObjectRow] = &[
    ("Lead", LEAD, true, Some("")),
    ("Contact", CONTACT, true, Some("Mailing")),
    ("Account", ACCOUNT, true, Some("Billing")),
    ("Case", CASE, false, None),
    ("User", USER, false, None),
    ("Opportunity", OPPORTUNITY, true, None),
    ("Task", TASK, false, None),
    ("FeedItem", FEED_ITEM, false, None),
];

/// Whether `object` is a standard object this table knows.
pub fn is_standard(object: &str) -> bool {
    OBJECTS.iter().any(|(name, ..)| *name == object)
}

/// The standard objects known, for hints.
pub fn objects() -> impl Iterator<Item = &'static str> {
    OBJECTS.iter().map(|(name, ..)| *name)
}

/// The kind of `object.field`, if both are known.
pub fn field(object: &str, field: &str) -> Option<Kind> {
    fields(object)?
        .into_iter()
        .find(|(f, _)| f == field)
        .map(|(_, k)| k)
}

/// Every field of `object` the table knows, if it knows the object.
pub fn fields(object: &str) -> Option<Vec<(String, Kind)>> {
    let (_, own, owned, address) = OBJECTS.iter().find(|(name, ..)| *name == object)?;
    let mut out: Vec<(String, Kind)> = SYSTEM.iter().map(|(f, k)| ((*f).to_owned(), *k)).collect();
    if *owned {
        out.extend(OWNED.iter().map(|(f, k)| ((*f).to_owned(), *k)));
    }
    if let Some(prefix) = address {
        out.extend(ADDRESS.iter().map(|f| (format!("{prefix}{f}"), Kind::Text)));
    }
    for (f, k) in own.iter() {
        if !out.iter().any(|(g, _)| g == f) {
            out.push(((*f).to_owned(), *k));
        }
    }
    Some(out)
}
