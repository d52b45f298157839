//! Field paths resolved against the catalog: `Account.Owner.Name` → hops over reference fields,
//! then one field.
//!
//! Invariant: a [`Resolved`] holds canonical names only; following it for one record costs one
//! [`Catalog::get`](crate::Catalog::get) per hop, never a scan.

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::ast::FieldPath;
use crate::catalog::{FieldInfo, Record};
use crate::error::{Pos, SoqlError};

use super::Ctx;

/// One step over a reference field.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// The reference field, e.g. `AccountId`.
    pub field: String,
    /// Its relationship name, e.g. `Account`.
    pub relationship: String,
    /// The objects it may point to (several when polymorphic).
    pub targets: Vec<String>,
}

/// A field path with every name resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub hops: Vec<Hop>,
    pub field: FieldInfo,
    /// Where the path starts in the text (for later errors).
    pub pos: Pos,
}

impl Resolved {
    /// A key that is equal for two paths naming the same field (for GROUP BY matching).
    pub fn key(&self) -> String {
        let mut k = String::new();
        for h in &self.hops {
            k.push_str(&h.field.to_ascii_lowercase());
            k.push('.');
        }
        k.push_str(&self.field.name.to_ascii_lowercase());
        k
    }
}

impl<'a> Ctx<'a> {
    /// Resolves `path` from `object`; a leading `alias.` (or `Object.`) prefix is skipped.
    pub fn resolve(
        &self,
        object: &str,
        alias: Option<&str>,
        path: &FieldPath,
    ) -> Result<Resolved, SoqlError> {
        let pos = path.pos();
        let Some((last, prefix)) = path.parts.split_last() else {
            return Err(SoqlError::malformed_at(self.text, pos, "unexpected token: <EOF>"));
        };
        let mut rels = prefix;
        if let Some((first, rest)) = prefix.split_first() {
            let is_alias = alias.is_some_and(|a| a.eq_ignore_ascii_case(&first.name));
            let is_self = first.name.eq_ignore_ascii_case(object)
                && self.catalog.parent_relationship(object, &first.name).is_none();
            if is_alias || is_self {
                rels = rest;
            }
        }
        if rels.len() > super::MAX_HOPS {
            return Err(SoqlError::at(
                crate::error::SoqlErrorKind::InvalidField,
                self.text,
                pos,
                &format!(
                    "a relationship path may have at most {} levels of parent relationships: {}",
                    super::MAX_HOPS,
                    path.dotted()
                ),
            ));
        }
        let mut objects = vec![object.to_string()];
        let mut hops = Vec::with_capacity(rels.len());
        for part in rels {
            let found = objects
                .iter()
                .find_map(|o| self.catalog.parent_relationship(o, &part.name));
            let Some(f) = found else {
                return Err(SoqlError::bad_relationship(self.text, pos, &part.name));
            };
            objects = f.reference_to.clone();
            hops.push(Hop {
                relationship: f.relationship_name.clone().unwrap_or_else(|| part.name.clone()),
                field: f.name,
                targets: f.reference_to,
            });
        }
        let field = objects.iter().find_map(|o| self.catalog.field(o, &last.name));
        match field {
            Some(field) => Ok(Resolved { hops, field, pos }),
            None => Err(SoqlError::no_such_column(
                self.text,
                pos,
                &last.name,
                objects.first().map_or(object, String::as_str),
            )),
        }
    }

    /// The record at the end of `hops` from `rec`, with its object; `None` when a reference on
    /// the way is empty or dangling.
    pub fn follow<'r>(
        &self,
        object: &'r str,
        rec: &'r Record,
        hops: &[Hop],
    ) -> Option<(&'r str, Cow<'r, Record>)>
    where
        'a: 'r,
    {
        let mut cur = (object, Cow::Borrowed(rec));
        for h in hops {
            let next = {
                let id = cur.1.get(&h.field)?.as_str()?;
                self.catalog
                    .get_row(id)
                    .or_else(|| self.catalog.get_row(&crate::ids::key(id)))?
            };
            cur = next;
        }
        Some(cur)
    }

    /// The value of `path` for `rec` (of `object`): `None` when missing or null.
    pub fn value<'r>(&self, object: &'r str, rec: &'r Record, path: &Resolved) -> Option<Cow<'r, Json>>
    where
        'a: 'r,
    {
        let non_null = |v: &&Json| !v.is_null();
        match self.follow(object, rec, &path.hops)?.1 {
            Cow::Borrowed(r) => r.get(&path.field.name).filter(non_null).map(Cow::Borrowed),
            Cow::Owned(r) => r.get(&path.field.name).filter(non_null).cloned().map(Cow::Owned),
        }
    }
}
