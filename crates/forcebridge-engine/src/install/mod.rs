//! Installing a recipe on a connection: settings validated against the recipe, the provisioning
//! plan (objects, fields, permission set) computed against the org, applied only after consent,
//! the permission set assigned to the integration user, the access doctor run afterwards.
//!
//! Invariant: nothing is written to an org before the tenant consented to the exact plan shown.
