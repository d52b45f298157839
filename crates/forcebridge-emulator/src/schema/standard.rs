//! The standard objects integrations touch — Organization, User, Profile, Group, Account, Contact,
//! Lead, Case, Task, Opportunity — with describe metadata as Salesforce's Object Reference and a
//! real org's describe report it (types, lengths, flags, picklist values, relationships).
//!
//! Invariant: every object carries Salesforce's system fields (`Id`, `IsDeleted`, `CreatedDate`,
//! `CreatedById`, `LastModifiedDate`, `LastModifiedById`, `SystemModstamp`, and `OwnerId` where the
//! object is owned), every reference names an object defined here, and every child relationship
//! Salesforce names (`Account.Contacts`, `Contact.Cases`, ...) is declared.

use indexmap::IndexMap;
use serde_json::Value;

use super::{ChildRelationshipDef, FieldDef, FieldType as T, ObjectDef, Schema};

/// Lead sources, shared by Lead, Contact, Opportunity and Account (`AccountSource`).
const LEAD_SOURCES: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];

/// Industries, shared by Account and Lead.
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];

const SALUTATIONS: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."];
const RATINGS: &[&str] = &["Hot", "Warm", "Cold"];
const GEOCODE_ACCURACY: &[&str] = &[
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
];
const TIME_ZONES: &[&str] = &[
    "GMT",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
];
const LOCALES: &[&str] = &[
    "en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "ja_JP", "pt_BR",
];
const LANGUAGES: &[&str] = &["en_US", "de", "fr", "nl_NL", "es", "ja", "pt_BR"];
const EMAIL_ENCODINGS: &[&str] = &["UTF-8", "ISO-8859-1", "Shift_JIS", "EUC-JP", "ISO-2022-JP"];

fn f(name: &str, label: &str, ftype: T) -> FieldDef {
    FieldDef::new(name, label, ftype)
}

fn text(name: &str, label: &str, len: u32) -> FieldDef {
    f(name, label, T::String).len(len)
}

fn phone(name: &str, label: &str) -> FieldDef {
    f(name, label, T::Phone).len(40)
}

fn email(name: &str, label: &str, len: u32) -> FieldDef {
    f(name, label, T::Email).len(len)
}

fn long_text(name: &str, label: &str) -> FieldDef {
    f(name, label, T::Textarea).len(32000)
}

fn picklist(name: &str, label: &str, values: &[&str]) -> FieldDef {
    f(name, label, T::Picklist).values(values)
}

fn boolean(name: &str, label: &str) -> FieldDef {
    f(name, label, T::Boolean)
}

fn reference(name: &str, label: &str, to: &[&str], rel: &str) -> FieldDef {
    f(name, label, T::Reference).refers(to, rel)
}

fn currency(name: &str, label: &str, precision: u32, scale: u32) -> FieldDef {
    f(name, label, T::Currency).number(precision, scale)
}

fn read_only_datetime(name: &str, label: &str) -> FieldDef {
    f(name, label, T::Datetime).read_only()
}

/// `LastViewedDate` and `LastReferencedDate`, which Salesforce keeps on every MRU-enabled object.
fn viewed() -> Vec<FieldDef> {
    vec![
        read_only_datetime("LastViewedDate", "Last Viewed Date"),
        read_only_datetime("LastReferencedDate", "Last Referenced Date"),
    ]
}

/// `MasterRecordId`: the record this one was merged into.
fn master_record(object: &str) -> FieldDef {
    reference("MasterRecordId", "Master Record ID", &[object], "MasterRecord").read_only()
}

/// Data.com clean status, on Account, Contact and Lead.
fn clean_status() -> FieldDef {
    picklist(
        "CleanStatus",
        "Clean Status",
        &[
            "Matched",
            "Different",
            "Acknowledged",
            "NotFound",
            "Inactive",
            "Pending",
            "SelectMatch",
            "Skipped",
        ],
    )
    .len(40)
}

fn photo_url() -> FieldDef {
    f("PhotoUrl", "Photo URL", T::Url).len(255).read_only()
}

/// A compound address (`BillingAddress`) and its components, prefixed (`Billing`, `Mailing`, or
/// nothing for Lead's and User's own address).
fn address(prefix: &str, label: &str) -> Vec<FieldDef> {
    let lbl = |l: &str| {
        if label.is_empty() {
            l.to_string()
        } else {
            format!("{label} {l}")
        }
    };
    vec![
        f(&format!("{prefix}Street"), &lbl("Street"), T::Textarea).len(255),
        text(&format!("{prefix}City"), &lbl("City"), 40),
        text(&format!("{prefix}State"), &lbl("State/Province"), 80),
        text(&format!("{prefix}PostalCode"), &lbl("Zip/Postal Code"), 20),
        text(&format!("{prefix}Country"), &lbl("Country"), 80),
        f(&format!("{prefix}Latitude"), &lbl("Latitude"), T::Double).number(18, 15),
        f(&format!("{prefix}Longitude"), &lbl("Longitude"), T::Double).number(18, 15),
        picklist(
            &format!("{prefix}GeocodeAccuracy"),
            &lbl("Geocode Accuracy"),
            GEOCODE_ACCURACY,
        )
        .len(40),
        f(&format!("{prefix}Address"), &lbl("Address"), T::Address).read_only(),
    ]
}

/// `Id` and `IsDeleted`, first in every describe.
fn head() -> Vec<FieldDef> {
    let mut id = f("Id", "Record ID", T::Id);
    id.id_lookup = true;
    id.nillable = false;
    let deleted = boolean("IsDeleted", "Deleted").read_only();
    vec![id, deleted]
}

/// The audit fields Salesforce maintains on every object.
fn audit() -> Vec<FieldDef> {
    let mut created = f("CreatedDate", "Created Date", T::Datetime)
        .read_only()
        .defaulted();
    created.nillable = false;
    let mut created_by = reference("CreatedById", "Created By ID", &["User"], "CreatedBy")
        .read_only()
        .defaulted();
    created_by.nillable = false;
    let mut modified = f("LastModifiedDate", "Last Modified Date", T::Datetime)
        .read_only()
        .defaulted();
    modified.nillable = false;
    let mut modified_by = reference(
        "LastModifiedById",
        "Last Modified By ID",
        &["User"],
        "LastModifiedBy",
    )
    .read_only()
    .defaulted();
    modified_by.nillable = false;
    let mut stamp = f("SystemModstamp", "System Modstamp", T::Datetime)
        .read_only()
        .defaulted();
    stamp.nillable = false;
    vec![created, created_by, modified, modified_by, stamp]
}

/// `OwnerId`: the creator unless given; polymorphic User/Group (queues) on Lead and Case.
fn owner(to: &[&str]) -> FieldDef {
    let mut owner = reference("OwnerId", "Owner ID", to, "Owner").defaulted();
    owner.nillable = false;
    owner
}

/// A compound person name: read-only `Name` = FirstName + LastName.
fn person_name() -> Vec<FieldDef> {
    let mut name = text("Name", "Full Name", 121).read_only().name_field();
    name.nillable = false;
    vec![
        text("LastName", "Last Name", 80).required(),
        text("FirstName", "First Name", 40),
        picklist("Salutation", "Salutation", SALUTATIONS).len(40),
        name,
    ]
}

struct Obj {
    def: ObjectDef,
}

impl Obj {
    fn new(name: &str, label: &str, plural: &str, prefix: &str) -> Self {
        Obj {
            def: ObjectDef {
                name: name.to_string(),
                label: label.to_string(),
                label_plural: plural.to_string(),
                key_prefix: prefix.to_string(),
                custom: false,
                createable: true,
                updateable: true,
                deletable: true,
                queryable: true,
                searchable: true,
                retrieveable: true,
                undeletable: true,
                mergeable: false,
                replicateable: true,
                triggerable: true,
                feed_enabled: true,
                fields: IndexMap::new(),
            },
        }
    }

    fn fields(mut self, fields: impl IntoIterator<Item = FieldDef>) -> Self {
        for field in fields {
            self.def.fields.insert(field.name.clone(), field);
        }
        self
    }

    fn system_managed(mut self) -> Self {
        self.def.createable = false;
        self.def.deletable = false;
        self.def.undeletable = false;
        self.def.searchable = false;
        self.def.feed_enabled = false;
        self
    }

    fn done(self) -> ObjectDef {
        self.def
    }
}

fn organization() -> ObjectDef {
    let mut o = Obj::new("Organization", "Organization", "Organizations", "00D").system_managed();
    o.def.updateable = false;
    o.def.triggerable = false;
    o.fields(head().into_iter().take(1))
        .fields([
            text("Name", "Name", 80).read_only().name_field(),
            text("Division", "Division", 80).read_only(),
        ])
        .fields(address("", "").into_iter().map(FieldDef::read_only))
        .fields([
            phone("Phone", "Phone").read_only(),
            phone("Fax", "Fax").read_only(),
            text("PrimaryContact", "Primary Contact", 80).read_only(),
            picklist("DefaultLocaleSidKey", "Locale", LOCALES).read_only(),
            picklist("TimeZoneSidKey", "Time Zone", TIME_ZONES).read_only(),
            picklist("LanguageLocaleKey", "Language", LANGUAGES).read_only(),
            boolean("ReceivesInfoEmails", "Info Emails").read_only(),
            boolean("ReceivesAdminInfoEmails", "Info Emails Admin").read_only(),
            boolean(
                "PreferencesRequireOpportunityProducts",
                "RequireOpportunityProducts",
            )
            .read_only(),
            boolean(
                "PreferencesTransactionSecurityPolicy",
                "TransactionSecurityPolicy",
            )
            .read_only(),
            boolean("PreferencesTerminateOldestSession", "TerminateOldestSession").read_only(),
            boolean("PreferencesConsentManagementEnabled", "ConsentManagementEnabled").read_only(),
            boolean(
                "PreferencesAutoSelectIndividualOnMerge",
                "AutoSelectIndividualOnMerge",
            )
            .read_only(),
            boolean("PreferencesLightningLoginEnabled", "LightningLoginEnabled").read_only(),
            boolean("PreferencesOnlyLLPermUserAllowed", "OnlyLLPermUserAllowed").read_only(),
            f("FiscalYearStartMonth", "Fiscal Year Starts In", T::Int)
                .digits(9)
                .read_only(),
            boolean("UsesStartDateAsFiscalYearName", "Fiscal Year Name by Start").read_only(),
            picklist(
                "DefaultAccountAccess",
                "Default Account Access",
                &["None", "Read", "Edit"],
            )
            .read_only(),
            picklist(
                "DefaultContactAccess",
                "Default Contact Access",
                &["None", "Read", "Edit", "ControlledByParent"],
            )
            .read_only(),
            picklist(
                "DefaultOpportunityAccess",
                "Default Opportunity Access",
                &["None", "Read", "Edit"],
            )
            .read_only(),
            picklist(
                "DefaultLeadAccess",
                "Default Lead Access",
                &["None", "Read", "Edit", "ReadEditTransfer"],
            )
            .read_only(),
            picklist(
                "DefaultCaseAccess",
                "Default Case Access",
                &["None", "Read", "Edit", "ReadEditTransfer"],
            )
            .read_only(),
            picklist(
                "DefaultCalendarAccess",
                "Default Calendar Access",
                &[
                    "HideDetails",
                    "HideDetailsInsert",
                    "ShowDetails",
                    "ShowDetailsInsert",
                    "AllowEdits",
                ],
            )
            .read_only(),
            picklist(
                "DefaultPricebookAccess",
                "Default Price Book Access",
                &["None", "ReadSelect"],
            )
            .read_only(),
            picklist(
                "DefaultCampaignAccess",
                "Default Campaign Access",
                &["None", "Read", "Edit", "All"],
            )
            .read_only(),
            f(
                "DelegatedAuthenticationServiceUrl",
                "Delegated Authentication Service URL",
                T::Url,
            )
            .len(1000)
            .read_only(),
            email("ComplianceBccEmail", "Compliance BCC Email", 80).read_only(),
            picklist(
                "UiSkin",
                "UI Skin",
                &["Theme1", "Theme2", "PortalDefault", "Webstore", "Theme3"],
            )
            .read_only(),
            text("SignupCountryIsoCode", "Signup Country", 2).read_only(),
            read_only_datetime("TrialExpirationDate", "Trial Expiration Date"),
            f("NumKnowledgeService", "Knowledge Licenses", T::Int)
                .digits(9)
                .read_only(),
            picklist(
                "OrganizationType",
                "Edition",
                &[
                    "Developer Edition",
                    "Enterprise Edition",
                    "Unlimited Edition",
                    "Professional Edition",
                ],
            )
            .read_only(),
            text("NamespacePrefix", "Namespace Prefix", 15).read_only(),
            text("InstanceName", "Instance Name", 5).read_only(),
            boolean("IsSandbox", "Is Sandbox").read_only(),
            picklist(
                "WebToCaseDefaultOrigin",
                "Web to Cases Default Origin",
                &["Phone", "Email", "Web"],
            )
            .read_only(),
            f("MonthlyPageViewsUsed", "Monthly Page Views Used", T::Int)
                .digits(9)
                .read_only(),
            f(
                "MonthlyPageViewsEntitlement",
                "Monthly Page Views Allowed",
                T::Int,
            )
            .digits(9)
            .read_only(),
            boolean("IsReadOnly", "Is Read Only").read_only(),
        ])
        .fields(audit())
        .done()
}

fn profile() -> ObjectDef {
    let mut o = Obj::new("Profile", "Profile", "Profiles", "00e").system_managed();
    o.def.updateable = false;
    o.fields(head().into_iter().take(1))
        .fields([
            text("Name", "Name", 255).required().name_field(),
            picklist(
                "UserType",
                "User Type",
                &[
                    "Standard",
                    "PowerPartner",
                    "CspLitePortal",
                    "CustomerSuccess",
                    "Guest",
                ],
            )
            .read_only(),
            text("Description", "Description", 255),
            boolean("PermissionsApiEnabled", "API Enabled").read_only(),
            boolean("PermissionsModifyAllData", "Modify All Data").read_only(),
        ])
        .fields(audit())
        .done()
}

fn group() -> ObjectDef {
    let mut o = Obj::new("Group", "Group", "Groups", "00G");
    o.def.undeletable = false;
    o.def.feed_enabled = false;
    o.fields(head().into_iter().take(1))
        .fields([
            text("Name", "Name", 40).required().name_field(),
            text("DeveloperName", "Developer Name", 80).defaulted(),
            picklist(
                "Type",
                "Type",
                &["Regular", "Queue", "Role", "RoleAndSubordinates", "Organization"],
            )
            .required()
            .restricted(),
            email("Email", "Email", 255),
            boolean("DoesSendEmailToMembers", "Send Email to Members"),
            reference("OwnerId", "Owner ID", &["User"], "Owner").defaulted(),
        ])
        .fields(audit())
        .done()
}

fn user() -> ObjectDef {
    let mut o = Obj::new("User", "User", "Users", "005");
    o.def.deletable = false;
    o.def.undeletable = false;
    let mut username = text("Username", "Username", 80).required().unique().id_lookup();
    username.case_sensitive = false;
    let mut name = text("Name", "Full Name", 121).read_only().name_field();
    name.nillable = false;
    o.fields(head().into_iter().take(1))
        .fields([
            username,
            text("LastName", "Last Name", 80).required(),
            text("FirstName", "First Name", 40),
            name,
            text("CompanyName", "Company Name", 80),
            text("Division", "Division", 80),
            text("Department", "Department", 80),
            text("Title", "Title", 80),
        ])
        .fields(address("", ""))
        .fields([
            email("Email", "Email", 128).required(),
            phone("Phone", "Phone"),
            phone("MobilePhone", "Mobile"),
            text("Alias", "Alias", 8).required(),
            text("CommunityNickname", "Nickname", 40)
                .required()
                .unique()
                .defaulted(),
            boolean("IsActive", "Active").default_value(Value::Bool(true)),
            picklist("TimeZoneSidKey", "Time Zone", TIME_ZONES)
                .required()
                .restricted(),
            picklist("LocaleSidKey", "Locale", LOCALES)
                .required()
                .restricted(),
            picklist("EmailEncodingKey", "Email Encoding", EMAIL_ENCODINGS)
                .required()
                .restricted(),
            reference("ProfileId", "Profile ID", &["Profile"], "Profile").required(),
            picklist(
                "UserType",
                "User Type",
                &[
                    "Standard",
                    "PowerPartner",
                    "CspLitePortal",
                    "CustomerSuccess",
                    "Guest",
                ],
            )
            .read_only()
            .defaulted(),
            picklist("LanguageLocaleKey", "Language", LANGUAGES)
                .required()
                .restricted(),
            text("EmployeeNumber", "Employee Number", 20),
            text("FederationIdentifier", "SAML Federation ID", 512).id_lookup(),
            reference("ManagerId", "Manager ID", &["User"], "Manager"),
            f("LastLoginDate", "Last Login", T::Datetime).read_only(),
        ])
        .fields(audit())
        .done()
}

fn account() -> ObjectDef {
    let mut o = Obj::new("Account", "Account", "Accounts", "001");
    o.def.mergeable = true;
    o.fields(head())
        .fields([
            master_record("Account"),
            text("Name", "Account Name", 255).required().name_field(),
            picklist(
                "Type",
                "Account Type",
                &[
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Channel Partner / Reseller",
                    "Installation Partner",
                    "Technology Partner",
                    "Other",
                ],
            )
            .len(40),
            reference("RecordTypeId", "Record Type ID", &["RecordType"], "RecordType"),
            reference("ParentId", "Parent Account ID", &["Account"], "Parent"),
        ])
        .fields(address("Billing", "Billing"))
        .fields(address("Shipping", "Shipping"))
        .fields([
            phone("Phone", "Account Phone"),
            phone("Fax", "Account Fax"),
            text("AccountNumber", "Account Number", 40),
            f("Website", "Website", T::Url).len(255),
            photo_url(),
            text("Sic", "SIC Code", 20),
            picklist("Industry", "Industry", INDUSTRIES).len(40),
            currency("AnnualRevenue", "Annual Revenue", 18, 0),
            f("NumberOfEmployees", "Employees", T::Int).digits(8),
            picklist(
                "Ownership",
                "Ownership",
                &["Public", "Private", "Subsidiary", "Other"],
            )
            .len(40),
            text("TickerSymbol", "Ticker Symbol", 20),
            long_text("Description", "Account Description"),
            picklist("Rating", "Account Rating", RATINGS).len(40),
            text("Site", "Account Site", 80),
            owner(&["User"]),
        ])
        .fields(audit())
        .fields([f("LastActivityDate", "Last Activity", T::Date).read_only()])
        .fields(viewed())
        .fields([
            text("Jigsaw", "Data.com Key", 20),
            text("JigsawCompanyId", "Jigsaw Company ID", 20).read_only(),
            clean_status(),
            picklist("AccountSource", "Account Source", LEAD_SOURCES).len(40),
            text("DunsNumber", "D-U-N-S Number", 9),
            text("Tradestyle", "Tradestyle", 255),
            text("NaicsCode", "NAICS Code", 8),
            text("NaicsDesc", "NAICS Description", 120),
            text("YearStarted", "Year Started", 4),
            text("SicDesc", "SIC Description", 80),
        ])
        .done()
}

fn contact() -> ObjectDef {
    let mut o = Obj::new("Contact", "Contact", "Contacts", "003");
    o.def.mergeable = true;
    o.fields(head())
        .fields([
            master_record("Contact"),
            reference("AccountId", "Account ID", &["Account"], "Account"),
        ])
        .fields(person_name())
        .fields(address("Other", "Other"))
        .fields(address("Mailing", "Mailing"))
        .fields([
            phone("Phone", "Business Phone"),
            phone("Fax", "Business Fax"),
            phone("MobilePhone", "Mobile Phone"),
            phone("HomePhone", "Home Phone"),
            phone("OtherPhone", "Other Phone"),
            phone("AssistantPhone", "Asst. Phone"),
            reference("ReportsToId", "Reports To ID", &["Contact"], "ReportsTo"),
            email("Email", "Email", 80).id_lookup(),
            text("Title", "Title", 128),
            text("Department", "Department", 80),
            text("AssistantName", "Assistant's Name", 40),
            picklist("LeadSource", "Lead Source", LEAD_SOURCES),
            f("Birthdate", "Birthdate", T::Date),
            long_text("Description", "Contact Description"),
            owner(&["User"]),
            boolean("HasOptedOutOfEmail", "Email Opt Out"),
            boolean("HasOptedOutOfFax", "Fax Opt Out"),
            boolean("DoNotCall", "Do Not Call"),
        ])
        .fields(audit())
        .fields([
            f("LastActivityDate", "Last Activity", T::Date).read_only(),
            read_only_datetime("LastCURequestDate", "Last Stay-in-Touch Request Date"),
            read_only_datetime("LastCUUpdateDate", "Last Stay-in-Touch Save Date"),
        ])
        .fields(viewed())
        .fields([
            text("EmailBouncedReason", "Email Bounced Reason", 255),
            f("EmailBouncedDate", "Email Bounced Date", T::Datetime),
            boolean("IsEmailBounced", "Is Email Bounced").read_only(),
            photo_url(),
            text("Jigsaw", "Data.com Key", 20),
            text("JigsawContactId", "Jigsaw Contact ID", 20).read_only(),
            clean_status(),
        ])
        .done()
}

fn lead() -> ObjectDef {
    let mut o = Obj::new("Lead", "Lead", "Leads", "00Q");
    o.def.mergeable = true;
    let mut status = picklist(
        "Status",
        "Status",
        &[
            "*Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted",
        ],
    )
    .required()
    .restricted();
    // LeadStatus carries a "converted" flag per value; describe does not show it, the convert
    // screen does.
    for v in &mut status.picklist_values {
        v.attribute = Some(("converted".to_string(), v.value == "Closed - Converted"));
    }
    o.fields(head())
        .fields([master_record("Lead")])
        .fields(person_name())
        .fields([
            text("Title", "Title", 128),
            text("Company", "Company", 255).required(),
        ])
        .fields(address("", ""))
        .fields([
            phone("Phone", "Phone"),
            phone("MobilePhone", "Mobile Phone"),
            phone("Fax", "Fax"),
            email("Email", "Email", 80).id_lookup(),
            f("Website", "Website", T::Url).len(255),
            photo_url(),
            long_text("Description", "Description"),
            picklist("LeadSource", "Lead Source", LEAD_SOURCES),
            status,
            picklist("Industry", "Industry", INDUSTRIES),
            picklist("Rating", "Rating", RATINGS),
            currency("AnnualRevenue", "Annual Revenue", 18, 0),
            f("NumberOfEmployees", "Employees", T::Int).digits(8),
            owner(&["Group", "User"]),
            boolean("HasOptedOutOfEmail", "Email Opt Out"),
            // Createable (a lead may be loaded already converted), never updateable.
            boolean("IsConverted", "Converted").create_only(),
            f("ConvertedDate", "Converted Date", T::Date).read_only(),
            reference(
                "ConvertedAccountId",
                "Converted Account ID",
                &["Account"],
                "ConvertedAccount",
            )
            .read_only(),
            reference(
                "ConvertedContactId",
                "Converted Contact ID",
                &["Contact"],
                "ConvertedContact",
            )
            .read_only(),
            reference(
                "ConvertedOpportunityId",
                "Converted Opportunity ID",
                &["Opportunity"],
                "ConvertedOpportunity",
            )
            .read_only(),
            boolean("IsUnreadByOwner", "Unread By Owner"),
            boolean("DoNotCall", "Do Not Call"),
            boolean("HasOptedOutOfFax", "Fax Opt Out"),
        ])
        .fields(audit())
        .fields([f("LastActivityDate", "Last Activity", T::Date).read_only()])
        .fields(viewed())
        .fields([
            text("Jigsaw", "Data.com Key", 20),
            text("JigsawContactId", "Jigsaw Contact ID", 20).read_only(),
            clean_status(),
            text("CompanyDunsNumber", "Company D-U-N-S Number", 9),
            text("EmailBouncedReason", "Email Bounced Reason", 255),
            f("EmailBouncedDate", "Email Bounced Date", T::Datetime),
        ])
        .done()
}

fn case() -> ObjectDef {
    let o = Obj::new("Case", "Case", "Cases", "500");
    let mut number = text("CaseNumber", "Case Number", 30)
        .read_only()
        .name_field()
        .id_lookup();
    number.auto_number = true;
    number.defaulted_on_create = true;
    number.nillable = false;
    o.fields(head())
        .fields([
            master_record("Case"),
            number,
            reference("ContactId", "Contact ID", &["Contact"], "Contact"),
            reference("AccountId", "Account ID", &["Account"], "Account"),
            reference("ParentId", "Parent Case ID", &["Case"], "Parent"),
            text("SuppliedName", "Web Name", 80),
            email("SuppliedEmail", "Web Email", 80),
            text("SuppliedPhone", "Web Phone", 40),
            text("SuppliedCompany", "Web Company", 80),
            picklist(
                "Type",
                "Case Type",
                &["Mechanical", "Electrical", "Electronic", "Structural", "Other"],
            )
            .len(40),
            // Nillable but defaulted, as describe reports it; CaseStatus backs the values.
            picklist("Status", "Status", &["*New", "Working", "Escalated", "Closed"])
                .len(40)
                .restricted(),
            picklist(
                "Reason",
                "Case Reason",
                &[
                    "Installation",
                    "Equipment Complexity",
                    "Performance",
                    "Breakdown",
                    "Equipment Design",
                    "Feedback",
                    "Other",
                ],
            )
            .len(40),
            picklist("Origin", "Case Origin", &["Phone", "Email", "Web"]).len(40),
            text("Subject", "Subject", 255),
            picklist("Priority", "Priority", &["High", "*Medium", "Low"])
                .len(40)
                .restricted(),
            long_text("Description", "Description"),
            boolean("IsClosed", "Closed").read_only(),
            read_only_datetime("ClosedDate", "Closed Date"),
            boolean("IsEscalated", "Escalated"),
            owner(&["Group", "User"]),
        ])
        .fields(audit())
        .fields([
            phone("ContactPhone", "Contact Phone").read_only(),
            phone("ContactMobile", "Contact Mobile").read_only(),
            email("ContactEmail", "Contact Email", 80).read_only(),
            phone("ContactFax", "Contact Fax").read_only(),
            f("Comments", "Internal Comments", T::Textarea).len(4000),
        ])
        .fields(viewed())
        .done()
}

fn opportunity() -> ObjectDef {
    let o = Obj::new("Opportunity", "Opportunity", "Opportunities", "006");
    let mut expected = currency("ExpectedRevenue", "Expected Amount", 18, 2).read_only();
    expected.calculated = true;
    let mut category = picklist(
        "ForecastCategory",
        "Forecast Category",
        &[
            "Omitted",
            "Pipeline",
            "BestCase",
            "MostLikely",
            "Forecast",
            "Closed",
        ],
    )
    .len(40)
    .read_only();
    category.nillable = false;
    // Createable only, and without a relationship name, as describe reports it.
    let mut contact = f("ContactId", "Contact ID", T::Reference).create_only();
    contact.reference_to = vec!["Contact".to_string()];
    o.fields(head())
        .fields([
            reference("AccountId", "Account ID", &["Account"], "Account"),
            boolean("IsPrivate", "Private"),
            text("Name", "Name", 120).required().name_field().id_lookup(),
            long_text("Description", "Description"),
            picklist(
                "StageName",
                "Stage",
                &[
                    "Prospecting",
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Id. Decision Makers",
                    "Perception Analysis",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                ],
            )
            .required()
            .restricted(),
            currency("Amount", "Amount", 18, 2),
            f("Probability", "Probability (%)", T::Percent)
                .number(3, 0)
                .defaulted(),
            expected,
            f("TotalOpportunityQuantity", "Quantity", T::Double).number(18, 2),
            f("CloseDate", "Close Date", T::Date).required(),
            picklist(
                "Type",
                "Opportunity Type",
                &[
                    "Existing Customer - Upgrade",
                    "Existing Customer - Replacement",
                    "Existing Customer - Downgrade",
                    "New Customer",
                ],
            ),
            text("NextStep", "Next Step", 255),
            picklist("LeadSource", "Lead Source", LEAD_SOURCES),
            boolean("IsClosed", "Closed").read_only(),
            boolean("IsWon", "Won").read_only(),
            category,
            picklist(
                "ForecastCategoryName",
                "Forecast Category",
                &["Omitted", "Pipeline", "Best Case", "Commit", "Closed"],
            )
            .defaulted(),
            boolean("HasOpportunityLineItem", "Has Line Item").read_only(),
            owner(&["User"]),
        ])
        .fields(audit())
        .fields([
            f("LastActivityDate", "Last Activity", T::Date).read_only(),
            read_only_datetime("LastStageChangeDate", "Last Stage Change Date"),
            f("FiscalQuarter", "Fiscal Quarter", T::Int).digits(8).read_only(),
            f("FiscalYear", "Fiscal Year", T::Int).digits(8).read_only(),
            text("Fiscal", "Fiscal Period", 6).read_only(),
            contact,
        ])
        .fields(viewed())
        .fields([
            boolean("HasOpenActivity", "Has Open Activity").read_only(),
            boolean("HasOverdueTask", "Has Overdue Task").read_only(),
        ])
        .done()
}

fn event() -> ObjectDef {
    let mut o = Obj::new("Event", "Event", "Events", "00U");
    o.def.feed_enabled = false;
    let mut subject = f("Subject", "Subject", T::Combobox).values(&[
        "Call",
        "Email",
        "Meeting",
        "Send Letter/Quote",
        "Other",
    ]);
    subject.length = 255;
    let mut id = f("Id", "Activity ID", T::Id);
    id.id_lookup = true;
    id.nillable = false;
    o.fields([id])
        .fields([
            reference("WhoId", "Name ID", &["Contact", "Lead"], "Who"),
            reference(
                "WhatId",
                "Related To ID",
                &["Account", "Opportunity", "Case"],
                "What",
            ),
            subject,
            text("Location", "Location", 255),
            boolean("IsAllDayEvent", "All-Day Event"),
            f("ActivityDateTime", "Due Date Time", T::Datetime),
            f("ActivityDate", "Due Date Only", T::Date),
            f("DurationInMinutes", "Duration", T::Int).digits(8),
            f("StartDateTime", "Start Date Time", T::Datetime),
            f("EndDateTime", "End Date Time", T::Datetime),
            f("EndDate", "End Date", T::Date).read_only(),
            long_text("Description", "Description"),
            reference("AccountId", "Account ID", &["Account"], "Account").read_only(),
            {
                let mut owner = reference("OwnerId", "Assigned To ID", &["User"], "Owner").defaulted();
                owner.nillable = false;
                owner
            },
            boolean("IsPrivate", "Private"),
            picklist("ShowAs", "Show Time As", &["*Busy", "OutOfOffice", "Free"]).len(40),
            boolean("IsDeleted", "Deleted").read_only(),
            boolean("IsChild", "Is Child").read_only(),
            boolean("IsGroupEvent", "Is Group Event").read_only(),
        ])
        .fields(audit())
        .fields([
            boolean("IsArchived", "Archived").read_only(),
            f("ReminderDateTime", "Reminder Date/Time", T::Datetime),
            boolean("IsReminderSet", "Reminder Set"),
            picklist("EventSubtype", "Event Subtype", &["Event"])
                .len(40)
                .create_only(),
        ])
        .done()
}

fn record_type() -> ObjectDef {
    let mut o = Obj::new("RecordType", "Record Type", "Record Types", "012").system_managed();
    o.def.updateable = false;
    o.def.triggerable = false;
    o.fields(head().into_iter().take(1))
        .fields([
            text("Name", "Name", 80).required().name_field().read_only(),
            text("DeveloperName", "Record Type Name", 80).read_only(),
            text("NamespacePrefix", "Namespace Prefix", 15).read_only(),
            text("Description", "Description", 255).read_only(),
            f("SobjectType", "SObject Type Name", T::Picklist)
                .len(40)
                .read_only(),
            boolean("IsActive", "Active").read_only(),
        ])
        .fields(audit())
        .done()
}

fn task() -> ObjectDef {
    let mut o = Obj::new("Task", "Task", "Tasks", "00T");
    o.def.feed_enabled = false;
    let mut subject =
        f("Subject", "Subject", T::Combobox).values(&["Call", "Send Letter", "Send Quote", "Other"]);
    subject.length = 255;
    let who = reference("WhoId", "Name ID", &["Contact", "Lead"], "Who");
    let what = reference(
        "WhatId",
        "Related To ID",
        &["Account", "Opportunity", "Case"],
        "What",
    );
    o.fields(head())
        .fields([
            who,
            what,
            subject,
            f("ActivityDate", "Due Date Only", T::Date),
            picklist(
                "Status",
                "Status",
                &[
                    "*Not Started",
                    "In Progress",
                    "Completed",
                    "Waiting on someone else",
                    "Deferred",
                ],
            )
            .len(40)
            .required()
            .restricted(),
            picklist("Priority", "Priority", &["High", "*Normal", "Low"])
                .len(40)
                .required()
                .restricted(),
            boolean("IsHighPriority", "High Priority").read_only(),
            owner(&["User"]),
            long_text("Description", "Description"),
            picklist("Type", "Type", &["Call", "Email", "Meeting", "Other"]).len(40),
            boolean("IsClosed", "Closed").read_only(),
            reference("AccountId", "Account ID", &["Account"], "Account").read_only(),
            f("CallDurationInSeconds", "Call Duration", T::Int).digits(8),
            picklist("CallType", "Call Type", &["Internal", "Inbound", "Outbound"]).len(40),
            picklist(
                "TaskSubtype",
                "Task Subtype",
                &["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"],
            )
            .len(40)
            .create_only(),
            f("CompletedDateTime", "Completed Date/Time", T::Datetime).read_only(),
        ])
        .fields(audit())
        .done()
}

/// The standard schema of a new org.
pub fn schema() -> Schema {
    let mut schema = Schema::default();
    for object in [
        organization(),
        profile(),
        group(),
        user(),
        account(),
        contact(),
        lead(),
        case(),
        opportunity(),
        task(),
        event(),
        record_type(),
    ] {
        schema.insert(object);
    }
    // Child relationship names as Salesforce spells them; reference fields not listed here
    // appear in describe with `relationshipName: null`.
    let rels: &[(&str, &str, &str, &str, bool)] = &[
        ("Account", "Contact", "AccountId", "Contacts", false),
        ("Account", "Opportunity", "AccountId", "Opportunities", true),
        ("Account", "Case", "AccountId", "Cases", false),
        ("Account", "Account", "ParentId", "ChildAccounts", false),
        ("Account", "Task", "WhatId", "Tasks", true),
        ("Contact", "Case", "ContactId", "Cases", false),
        ("Contact", "Opportunity", "ContactId", "Opportunities", false),
        ("Contact", "Task", "WhoId", "Tasks", true),
        ("Lead", "Task", "WhoId", "Tasks", true),
        ("Case", "Case", "ParentId", "Cases", false),
        ("Case", "Task", "WhatId", "Tasks", true),
        ("Opportunity", "Task", "WhatId", "Tasks", true),
        ("Account", "Event", "WhatId", "Events", true),
        ("Contact", "Event", "WhoId", "Events", true),
        ("Lead", "Event", "WhoId", "Events", true),
        ("Case", "Event", "WhatId", "Events", true),
        ("Opportunity", "Event", "WhatId", "Events", true),
        ("Profile", "User", "ProfileId", "Users", false),
        ("User", "User", "ManagerId", "ManagedUsers", false),
    ];
    for (parent, child, field, name, cascade) in rels {
        schema.add_child_relationship(
            parent,
            ChildRelationshipDef {
                child_sobject: child.to_string(),
                field: field.to_string(),
                relationship_name: Some(name.to_string()),
                cascade_delete: *cascade,
            },
        );
    }
    super::security::register(&mut schema);
    super::feed::register(&mut schema);
    crate::streaming::topic::register(&mut schema);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_known_objects() {
        let s = schema();
        for o in s.objects() {
            for fd in o.fields.values() {
                for to in &fd.reference_to {
                    assert!(s.object(to).is_some(), "{}.{} -> {to}", o.name, fd.name);
                }
            }
        }
    }

    #[test]
    fn documented_lengths_and_requirements() {
        let s = schema();
        let lead = s.object("Lead").unwrap();
        assert_eq!(lead.field("LastName").unwrap().length, 80);
        assert_eq!(lead.field("Company").unwrap().length, 255);
        assert_eq!(lead.field("Email").unwrap().length, 80);
        assert!(lead.field("LastName").unwrap().required_on_create());
        assert!(!lead.field("Status").unwrap().required_on_create());
        assert_eq!(s.object("Account").unwrap().field("Name").unwrap().length, 255);
        assert_eq!(s.object_by_prefix("00Q").unwrap().name, "Lead");
    }
}
