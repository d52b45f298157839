//! The org a fresh emulator starts with: the standard schema, the Organization record, three
//! profiles (each with the permission set it owns), the administrator (the configured username,
//! with its password and security token), an API-only integration user
//! ([`INTEGRATION_USERNAME`]) without object access, and the default connected app (the
//! configured client id and secret).
//!
//! Invariant: the administrator is the first entry of `auth.credentials` (so
//! [`Org::admin_user_id`] finds it) and the client-credentials user of the default app; every
//! record made here carries the system fields of a record the administrator created.

use serde_json::{Value, json};

use crate::config::EmulatorConfig;
use crate::ids::SfId;
use crate::org::{ApiUsage, AuthState, ConnectedApp, Org, OrgInfo, Record, UserCredential, now_string};

/// Callback URLs of the default connected app. The OAuth endpoints accept any redirect URI that
/// equals one of them, where `*` stands for any port and path — so every `http://localhost:PORT/...`
/// and `http://127.0.0.1:PORT/...` a local test or CLI listens on is accepted.
pub const DEFAULT_CALLBACK_URLS: &[&str] = &[
    "http://localhost/callback",
    "http://localhost:*",
    "http://127.0.0.1:*",
];

/// Name of the default connected app.
pub const DEFAULT_APP_NAME: &str = "forcebridge";

/// Profiles every org has; the administrator gets the first.
pub const PROFILES: &[&str] = &[
    "System Administrator",
    "Standard User",
    "Minimum Access - API Only Integrations",
];

fn record(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        _ => Record::new(),
    }
}

/// A new org for this configuration.
pub fn default_org(config: &EmulatorConfig) -> Org {
    org_for(config, &crate::orgs::OrgIdentity::first())
}

/// A fresh org for `identity`: the first org is the one [`default_org`] makes; each further
/// org gets its own organization id and its own pod, so record ids never repeat across orgs.
pub fn org_for(config: &EmulatorConfig, identity: &crate::orgs::OrgIdentity) -> Org {
    const PODS: &[u8] = b"ghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef";
    let n = usize::try_from(identity.number.saturating_sub(1)).unwrap_or(0);
    let second = PODS.get(n % PODS.len()).copied().unwrap_or(b'g') as char;
    let first = if n < PODS.len() { '5' } else { '6' };
    let pod = format!("{first}{second}");
    let name = if identity.number == 1 {
        "forcebridge emulator".to_string()
    } else {
        format!("forcebridge emulator {}", identity.name)
    };
    let mut org = Org {
        info: OrgInfo {
            id: SfId::generate("00D", &pod, u64::from(identity.number)),
            name,
            pod,
        },
        schema: crate::schema::standard::schema(),
        data: Default::default(),
        next_id: 1000,
        auth: AuthState::default(),
        usage: ApiUsage {
            daily_api_requests_max: config.daily_api_requests,
            daily_api_requests_used: 0,
        },
        indexes: Default::default(),
        auto_numbers: Default::default(),
        events: Default::default(),
    };
    let now = now_string();
    // The administrator creates everything, itself included: reserve its id first.
    let admin_id = SfId::generate("005", &org.info.pod, org.next_id);

    let mut profile_ids = Vec::new();
    add_profile_permission_fields(&mut org);
    for name in PROFILES {
        let mut values = record(json!({ "Name": name, "UserType": "Standard" }));
        values.extend(profile_permissions(name));
        if let Some(id) = org.insert_new("Profile", values, &admin_id, &now) {
            profile_ids.push(id);
        }
    }
    for (name, id) in PROFILES.iter().zip(&profile_ids) {
        profile_permission_set(&mut org, name, id, &admin_id, &now);
    }

    let email = if config.username.contains('@') {
        config.username.clone()
    } else {
        "admin@example.com".to_string()
    };
    let user = record(json!({
        "Username": config.username,
        "FirstName": "Admin",
        "LastName": "User",
        "CompanyName": org.info.name,
        "Email": email,
        "Alias": "admin",
        "CommunityNickname": "admin",
        "IsActive": true,
        "TimeZoneSidKey": "GMT",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "UserType": "Standard",
        "ProfileId": profile_ids.first().map(|p| p.to_string()),
    }));
    // Insert with a fresh id, then move it to the reserved one so CreatedById points at itself.
    let user_id = match org.insert_new("User", user, &admin_id, &now) {
        Some(generated) => {
            let table = org.table_mut("User");
            match table.shift_remove(&generated) {
                Some(mut rec) => {
                    rec.insert("Id".into(), Value::String(admin_id.to_string()));
                    table.insert(admin_id.clone(), rec);
                    admin_id.clone()
                }
                None => generated,
            }
        }
        None => admin_id.clone(),
    };

    let organization = record(json!({
        "Name": org.info.name,
        "Country": "US",
        "DefaultLocaleSidKey": "en_US",
        "TimeZoneSidKey": "GMT",
        "LanguageLocaleKey": "en_US",
        "OrganizationType": "Developer Edition",
        "InstanceName": "EMU1",
        "IsSandbox": false,
    }));
    if let Some(generated) = org.insert_new("Organization", organization, &user_id, &now) {
        // The Organization record's id is the org id.
        let org_id = org.info.id.clone();
        let table = org.table_mut("Organization");
        if let Some(mut rec) = table.shift_remove(&generated) {
            rec.insert("Id".into(), Value::String(org_id.to_string()));
            table.insert(org_id, rec);
        }
    }

    org.auth.credentials.push(UserCredential {
        user_id: user_id.clone(),
        username: config.username.clone(),
        password: config.password.clone(),
        security_token: config.security_token.clone(),
    });
    if let Some(profile) = profile_ids.get(2) {
        add_integration_user(&mut org, config, profile, &admin_id, &now);
    }
    org.auth.apps.push(ConnectedApp {
        name: DEFAULT_APP_NAME.into(),
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        callback_urls: DEFAULT_CALLBACK_URLS.iter().map(|s| s.to_string()).collect(),
        certificate_pem: None,
        client_credentials_user: Some(user_id),
        activation_delay_secs: 0,
        created_at: chrono::Utc::now(),
    });
    org
}

/// Username of the API-only integration user every fresh org has.
pub const INTEGRATION_USERNAME: &str = "integration@forcebridge.emulator";
/// Password of the integration user.
pub const INTEGRATION_PASSWORD: &str = "integration-password";
/// Security token of the integration user (appended to the password where a client needs it).
pub const INTEGRATION_SECURITY_TOKEN: &str = "INTEGRATIONTOKEN";

/// The system permissions Profile records carry besides the two the standard schema declares.
const EXTRA_PROFILE_PERMISSIONS: &[(&str, &str)] = &[
    ("PermissionsViewAllData", "View All Data"),
    ("PermissionsCustomizeApplication", "Customize Application"),
    (
        "PermissionsModifyMetadata",
        "Modify Metadata Through Metadata API Functions",
    ),
    ("PermissionsViewSetup", "View Setup and Configuration"),
    ("PermissionsManageUsers", "Manage Users"),
];

/// Objects a Standard User may read, create, edit and delete, with every field.
const STANDARD_USER_OBJECTS: &[&str] = &["Account", "Contact", "Lead", "Opportunity", "Case"];

/// Declares the standard system permission fields on `Profile` that the schema lacks.
fn add_profile_permission_fields(org: &mut Org) {
    use crate::schema::{FieldDef, FieldType};
    if let Some(profile) = org.schema.object_mut("Profile") {
        for (name, label) in EXTRA_PROFILE_PERMISSIONS {
            if !profile.fields.contains_key(*name) {
                let f = FieldDef::new(name, label, FieldType::Boolean).read_only();
                profile.fields.insert(name.to_string(), f);
            }
        }
    }
}

/// The system permissions of a standard profile: the administrator has them all; the others
/// only API access.
fn profile_permissions(profile: &str) -> Record {
    let admin = profile == "System Administrator";
    let mut values = Record::new();
    values.insert("PermissionsApiEnabled".into(), Value::Bool(true));
    values.insert("PermissionsModifyAllData".into(), Value::Bool(admin));
    for (name, _) in EXTRA_PROFILE_PERMISSIONS {
        values.insert(name.to_string(), Value::Bool(admin));
    }
    values
}

/// The permission set a profile owns (`IsOwnedByProfile`), as Salesforce keeps one per profile;
/// a Standard User's carries the CRUD and field access of the sales and service objects.
fn profile_permission_set(org: &mut Org, profile: &str, profile_id: &SfId, admin: &SfId, now: &str) {
    let id15: String = profile_id.as_str().chars().take(15).collect();
    let mut values = record(json!({
        "Name": format!("X{id15}"),
        "Label": profile,
        "ProfileId": profile_id.to_string(),
        "IsOwnedByProfile": true,
        "IsCustom": false,
        "Type": "Profile",
    }));
    values.extend(profile_permissions(profile));
    let Some(set) = org.insert_new("PermissionSet", values, admin, now) else {
        return;
    };
    if profile != "Standard User" {
        return;
    }
    for object in STANDARD_USER_OBJECTS {
        let grant = record(json!({
            "ParentId": set.to_string(),
            "SobjectType": object,
            "PermissionsRead": true,
            "PermissionsCreate": true,
            "PermissionsEdit": true,
            "PermissionsDelete": true,
        }));
        org.insert_new("ObjectPermissions", grant, admin, now);
        let fields: Vec<(String, bool)> = org
            .schema
            .object(object)
            .map(|def| {
                def.fields
                    .values()
                    .filter(|f| crate::security::permissionable(f))
                    .map(|f| (f.name.clone(), f.createable || f.updateable))
                    .collect()
            })
            .unwrap_or_default();
        for (field, editable) in fields {
            let grant = record(json!({
                "ParentId": set.to_string(),
                "SobjectType": object,
                "Field": format!("{object}.{field}"),
                "PermissionsRead": true,
                "PermissionsEdit": editable,
            }));
            org.insert_new("FieldPermissions", grant, admin, now);
        }
    }
}

/// The API-only integration user ("Minimum Access - API Only Integrations": API access, no
/// object access until a permission set grants it).
fn add_integration_user(org: &mut Org, config: &EmulatorConfig, profile: &SfId, admin: &SfId, now: &str) {
    let user = record(json!({
        "Username": INTEGRATION_USERNAME,
        "FirstName": "Integration",
        "LastName": "User",
        "CompanyName": org.info.name,
        "Email": INTEGRATION_USERNAME,
        "Alias": "integ",
        "CommunityNickname": "integration",
        "IsActive": true,
        "TimeZoneSidKey": "GMT",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "UserType": "Standard",
        "ProfileId": profile.to_string(),
    }));
    // A configured administrator with the same username keeps it; the org has no second user then.
    if config.username.eq_ignore_ascii_case(INTEGRATION_USERNAME) {
        return;
    }
    if let Some(user_id) = org.insert_new("User", user, admin, now) {
        org.auth.credentials.push(UserCredential {
            user_id,
            username: INTEGRATION_USERNAME.into(),
            password: INTEGRATION_PASSWORD.into(),
            security_token: INTEGRATION_SECURITY_TOKEN.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_and_app_match_the_config() {
        let config = EmulatorConfig::default();
        let org = default_org(&config);
        let admin = org.admin_user_id().unwrap().clone();
        let user = org.record("User", &admin).unwrap();
        assert_eq!(user["Username"], json!(config.username));
        assert_eq!(user["CreatedById"], json!(admin.to_string()));
        assert_eq!(user["Name"], json!("Admin User"));
        let profile = SfId::parse(user["ProfileId"].as_str().unwrap()).unwrap();
        assert_eq!(
            org.record("Profile", &profile).unwrap()["Name"],
            json!("System Administrator")
        );
        assert!(org.record("Organization", &org.info.id).is_some());
        assert_eq!(org.auth.apps[0].client_credentials_user.as_ref(), Some(&admin));
        assert_eq!(org.data["Profile"].len(), 3);
    }
}
