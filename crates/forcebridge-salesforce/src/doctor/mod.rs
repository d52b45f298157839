//! The access check ("doctor"): given what an integration needs — objects and operations, fields
//! and read/edit access — report from the describes exactly what is missing, in words an admin can
//! act on, before anything fails at run time.
//!
//! Describes reflect the integration user's effective permissions (object permissions and
//! field-level security: a field the user cannot see is absent), so they are what the user can do.
//!
//! Invariant: the check only reads (describes); it never changes the org, and every finding names
//! the object (and field) and the remedy.

use std::fmt;

use serde::Serialize;

use crate::client::Client;
use crate::error::{ErrorKind, Result};
use crate::rest::describe::SObjectDescribe;

/// An operation on an object's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Query and read.
    Read,
    /// Create.
    Create,
    /// Update (upsert needs Create and Update).
    Update,
    /// Delete.
    Delete,
}

impl Operation {
    fn word(self) -> &'static str {
        match self {
            Operation::Read => "Read",
            Operation::Create => "Create",
            Operation::Update => "Edit",
            Operation::Delete => "Delete",
        }
    }
}

/// What access a field needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    /// Visible (readable).
    Read,
    /// Writable on the operations the object needs (create and/or update).
    Edit,
}

/// One field an integration uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldNeed {
    /// API name.
    pub name: String,
    /// Read or edit.
    pub access: FieldAccess,
    /// Used as the external id of upserts (must be an External ID / idLookup field).
    pub external_id: bool,
}

impl FieldNeed {
    /// A field that must be readable.
    pub fn read(name: &str) -> Self {
        FieldNeed {
            name: name.to_string(),
            access: FieldAccess::Read,
            external_id: false,
        }
    }

    /// A field that must be writable.
    pub fn edit(name: &str) -> Self {
        FieldNeed {
            name: name.to_string(),
            access: FieldAccess::Edit,
            external_id: false,
        }
    }

    /// A field upserts match on.
    pub fn external_id(name: &str) -> Self {
        FieldNeed {
            name: name.to_string(),
            access: FieldAccess::Edit,
            external_id: true,
        }
    }
}

/// One object an integration uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectNeed {
    /// API name.
    pub name: String,
    /// Operations on its records.
    pub operations: Vec<Operation>,
    /// Fields used.
    pub fields: Vec<FieldNeed>,
}

/// What an integration needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Requirements {
    /// Objects, in the order to report them.
    pub objects: Vec<ObjectNeed>,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum Problem {
    /// The object does not exist or the user cannot see it.
    ObjectMissing,
    /// The user lacks an object permission.
    ObjectPermission {
        /// The missing operation.
        operation: Operation,
    },
    /// The field does not exist or field-level security hides it.
    FieldHidden,
    /// The field is visible but not writable for the needed operation.
    FieldReadOnly {
        /// Create or update.
        operation: Operation,
    },
    /// The field is a formula/roll-up and can never be written.
    FieldCalculated,
    /// The field cannot be used as an external id.
    NotExternalId,
    /// The check itself failed for this object (e.g. the describe call failed).
    CheckFailed {
        /// Why.
        reason: String,
    },
}

/// One finding, with a message an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The object.
    pub object: String,
    /// The field, for field findings.
    pub field: Option<String>,
    /// What is wrong.
    #[serde(flatten)]
    pub problem: Problem,
    /// What to do, in words.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessReport {
    /// Everything missing; empty when the integration has all it needs.
    pub findings: Vec<Finding>,
}

impl AccessReport {
    /// Whether nothing is missing.
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn finding(object: &str, field: Option<&str>, problem: Problem) -> Finding {
    let message = match (&problem, field) {
        (Problem::ObjectMissing, _) => format!(
            "{object}: the object does not exist or the integration user cannot see it — create it (or install \
             its package) and give Read access to {object} in the integration user's permission set"
        ),
        (Problem::ObjectPermission { operation }, _) => format!(
            "{object}: the integration user cannot {} records — add {} access on {object} in its permission set",
            operation.word().to_lowercase(),
            operation.word()
        ),
        (Problem::FieldHidden, Some(f)) => format!(
            "{object}.{f}: the field does not exist or the integration user cannot see it — create it, or add Read \
             access (field-level security) in its permission set"
        ),
        (Problem::FieldReadOnly { .. }, Some(f)) => format!(
            "{object}.{f}: the integration user cannot edit it — add Edit access in its permission set"
        ),
        (Problem::FieldCalculated, Some(f)) => format!(
            "{object}.{f}: it is a formula or roll-up field and can never be written — map the value to another field"
        ),
        (Problem::NotExternalId, Some(f)) => format!(
            "{object}.{f}: it is not an External ID field, so records cannot be matched on it — tick \"External ID\" \
             on the field (and \"Unique\" to prevent duplicates)"
        ),
        (Problem::CheckFailed { reason }, _) => format!("{object}: could not be checked ({reason})"),
        (_, None) => format!("{object}: {problem:?}"),
    };
    Finding {
        object: object.to_string(),
        field: field.map(str::to_string),
        problem,
        message,
    }
}

/// Checks one object's needs against its describe (pure; used by [`Client::check_access`]).
pub fn check_object(need: &ObjectNeed, d: &SObjectDescribe) -> Vec<Finding> {
    let mut out = Vec::new();
    let obj = need.name.as_str();
    for op in &need.operations {
        let allowed = match op {
            Operation::Read => d.queryable,
            Operation::Create => d.createable,
            Operation::Update => d.updateable,
            Operation::Delete => d.deletable,
        };
        if !allowed {
            out.push(finding(obj, None, Problem::ObjectPermission { operation: *op }));
        }
    }
    let creates = need.operations.contains(&Operation::Create);
    let updates = need.operations.contains(&Operation::Update);
    for f in &need.fields {
        let Some(fd) = d.field(&f.name) else {
            out.push(finding(obj, Some(&f.name), Problem::FieldHidden));
            continue;
        };
        if f.external_id && !(fd.external_id || fd.id_lookup) {
            out.push(finding(obj, Some(&fd.name), Problem::NotExternalId));
        }
        if f.access == FieldAccess::Edit {
            if fd.calculated {
                out.push(finding(obj, Some(&fd.name), Problem::FieldCalculated));
                continue;
            }
            // With no write operation named, "edit" means writable somehow.
            let missing = if creates && !fd.createable {
                Some(Operation::Create)
            } else if (updates && !fd.updateable && !f.external_id)
                || (!creates && !updates && !fd.createable && !fd.updateable)
            {
                Some(Operation::Update)
            } else {
                None
            };
            if let Some(operation) = missing {
                out.push(finding(obj, Some(&fd.name), Problem::FieldReadOnly { operation }));
            }
        }
    }
    out
}

impl Client {
    /// Checks that the integration user has everything `needs` lists; one describe per object
    /// (cached).
    ///
    /// # Errors
    /// Only errors that stop the whole check (sign-in, token revoked, limits, transport); problems
    /// with one object are findings.
    pub async fn check_access(&self, needs: &Requirements) -> Result<AccessReport> {
        let mut report = AccessReport::default();
        for need in &needs.objects {
            match self.describe(&need.name).await {
                Ok(d) => report.findings.extend(check_object(need, &d)),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::NotFound | ErrorKind::InvalidInput | ErrorKind::Permission
                    ) =>
                {
                    report
                        .findings
                        .push(finding(&need.name, None, Problem::ObjectMissing));
                }
                Err(e) if matches!(e.kind(), ErrorKind::Other | ErrorKind::Duplicate) => {
                    report.findings.push(finding(
                        &need.name,
                        None,
                        Problem::CheckFailed {
                            reason: e.to_string(),
                        },
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> SObjectDescribe {
        serde_json::from_value(serde_json::json!({
            "name": "Lead", "createable": true, "updateable": true, "deletable": false, "queryable": true,
            "fields": [
                {"name": "LastName", "type": "string", "createable": true, "updateable": true},
                {"name": "Title", "type": "string", "createable": false, "updateable": false},
                {"name": "Score__c", "type": "double", "calculated": true},
                {"name": "Email", "type": "email", "createable": true, "updateable": true},
                {"name": "Ext__c", "type": "string", "createable": true, "updateable": true, "externalId": true, "idLookup": true}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn reports_what_is_missing_in_words() {
        let need = ObjectNeed {
            name: "Lead".into(),
            operations: vec![
                Operation::Read,
                Operation::Create,
                Operation::Update,
                Operation::Delete,
            ],
            fields: vec![
                FieldNeed::edit("lastname"),
                FieldNeed::edit("Title"),
                FieldNeed::read("Secret__c"),
                FieldNeed::edit("Score__c"),
                FieldNeed::external_id("Email"),
                FieldNeed::external_id("Ext__c"),
            ],
        };
        let f = check_object(&need, &lead());
        let msgs: Vec<&str> = f.iter().map(|x| x.message.as_str()).collect();
        assert_eq!(f.len(), 5, "{msgs:#?}");
        assert!(msgs.contains(&"Lead: the integration user cannot delete records — add Delete access on Lead in its permission set"));
        assert!(msgs.contains(
            &"Lead.Title: the integration user cannot edit it — add Edit access in its permission set"
        ));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("Lead.Secret__c: the field does not exist"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("Lead.Score__c: it is a formula"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("Lead.Email: it is not an External ID"))
        );
    }

    #[test]
    fn all_good_is_ok() {
        let need = ObjectNeed {
            name: "Lead".into(),
            operations: vec![Operation::Read, Operation::Create],
            fields: vec![FieldNeed::edit("LastName"), FieldNeed::read("Title")],
        };
        assert!(check_object(&need, &lead()).is_empty());
    }
}
