//! The Metadata types the emulator serves — `CustomObject`, `CustomField` — read from and written
//! to their XML shape (the Metadata API WSDL's element names and order).
//!
//! Invariant: reading then writing a component yields the same attributes the emulator
//! understands; attributes it does not understand are ignored on read and absent on write.

use crate::schema::custom::{FieldSpec, ObjectSpec, PicklistEntry};

use super::xml::{Node, el, opt};

/// A `CustomField` element (or an `.object` file's `fields` / `nameField`).
pub fn field_spec(node: &Node) -> FieldSpec {
    let mut values = Vec::new();
    let definition = node
        .child("valueSet")
        .and_then(|vs| vs.child("valueSetDefinition"));
    for v in definition.into_iter().flat_map(|def| def.all("value")) {
        values.push(PicklistEntry {
            // The Tooling API's JSON names the value `valueName`.
            full_name: v
                .string("fullName")
                .or_else(|| v.string("valueName"))
                .unwrap_or_default(),
            label: v.string("label"),
            default: v.flag("default"),
            is_active: v.bool_of("isActive").unwrap_or(true),
        });
    }
    // The pre-38.0 shape: `<picklist><picklistValues>`.
    if let Some(pl) = node.child("picklist") {
        for v in pl.all("picklistValues") {
            values.push(PicklistEntry {
                full_name: v.string("fullName").unwrap_or_default(),
                label: v.string("label"),
                default: v.flag("default"),
                is_active: true,
            });
        }
    }
    let vs = node.child("valueSet");
    FieldSpec {
        full_name: node.string("fullName").unwrap_or_default(),
        label: node.string("label"),
        field_type: node.string("type"),
        length: node.u32_of("length"),
        precision: node.u32_of("precision"),
        scale: node.u32_of("scale"),
        visible_lines: node.u32_of("visibleLines"),
        required: node.flag("required"),
        unique: node.flag("unique"),
        external_id: node.flag("externalId"),
        case_sensitive: node.flag("caseSensitive"),
        default_value: node.string("defaultValue"),
        reference_to: node.string("referenceTo"),
        relationship_name: node.string("relationshipName"),
        relationship_label: node.string("relationshipLabel"),
        delete_constraint: node.string("deleteConstraint"),
        values,
        restricted: vs.is_some_and(|v| v.flag("restricted")),
        sorted: vs
            .and_then(|v| v.child("valueSetDefinition"))
            .is_some_and(|d| d.flag("sorted")),
        description: node.string("description"),
        inline_help_text: node.string("inlineHelpText"),
        display_format: node.string("displayFormat"),
        starting_number: node.u32_of("startingNumber"),
        formula: node.string("formula"),
    }
}

/// A `CustomObject` element (or an `.object` file, whose name gives `full_name`).
pub fn object_spec(node: &Node) -> ObjectSpec {
    ObjectSpec {
        full_name: node.string("fullName").unwrap_or_default(),
        label: node.string("label"),
        plural_label: node.string("pluralLabel"),
        name_field: node.child("nameField").map(field_spec),
        description: node.string("description"),
        sharing_model: node.string("sharingModel"),
        deployment_status: node.string("deploymentStatus"),
        enable_activities: node.flag("enableActivities"),
        enable_feeds: node.flag("enableFeeds"),
        enable_history: node.flag("enableHistory"),
        enable_reports: node.flag("enableReports"),
        enable_search: node.bool_of("enableSearch"),
        fields: node.all("fields").map(field_spec).collect(),
    }
}

fn bool_el(out: &mut String, name: &str, value: bool) {
    el(out, name, if value { "true" } else { "false" });
}

/// The child elements of a `CustomField` (without the enclosing element), in WSDL order.
pub fn write_field(out: &mut String, spec: &FieldSpec, full_name: &str) {
    el(out, "fullName", full_name);
    let t = spec.field_type.as_deref().unwrap_or_default();
    if spec.case_sensitive {
        bool_el(out, "caseSensitive", true);
    }
    if t != "Picklist" && t != "MultiselectPicklist" {
        opt(out, "defaultValue", spec.default_value.as_deref());
    }
    opt(out, "deleteConstraint", spec.delete_constraint.as_deref());
    opt(out, "description", spec.description.as_deref());
    opt(out, "displayFormat", spec.display_format.as_deref());
    if matches!(t, "Text" | "Number" | "Email") || spec.external_id {
        bool_el(out, "externalId", spec.external_id);
    }
    opt(out, "inlineHelpText", spec.inline_help_text.as_deref());
    opt(out, "label", spec.label.as_deref());
    if let Some(l) = spec.length {
        el(out, "length", &l.to_string());
    }
    if let Some(p) = spec.precision {
        el(out, "precision", &p.to_string());
    }
    opt(out, "referenceTo", spec.reference_to.as_deref());
    opt(out, "relationshipLabel", spec.relationship_label.as_deref());
    opt(out, "relationshipName", spec.relationship_name.as_deref());
    if !matches!(t, "Checkbox" | "AutoNumber" | "") {
        bool_el(out, "required", spec.required);
    }
    if let Some(s) = spec.scale {
        el(out, "scale", &s.to_string());
    }
    if let Some(n) = spec.starting_number {
        el(out, "startingNumber", &n.to_string());
    }
    if !t.is_empty() {
        el(out, "type", t);
    }
    if spec.unique {
        bool_el(out, "unique", true);
    }
    if !spec.values.is_empty() {
        out.push_str("<valueSet>");
        if spec.restricted {
            bool_el(out, "restricted", true);
        }
        out.push_str("<valueSetDefinition>");
        bool_el(out, "sorted", spec.sorted);
        for v in &spec.values {
            out.push_str("<value>");
            el(out, "fullName", &v.full_name);
            bool_el(out, "default", v.default);
            if !v.is_active {
                bool_el(out, "isActive", false);
            }
            el(out, "label", v.label.as_deref().unwrap_or(&v.full_name));
            out.push_str("</value>");
        }
        out.push_str("</valueSetDefinition></valueSet>");
    }
    if let Some(v) = spec.visible_lines {
        el(out, "visibleLines", &v.to_string());
    }
}

/// The child elements of a `CustomObject`, in WSDL order.
pub fn write_object(out: &mut String, spec: &ObjectSpec) {
    el(out, "fullName", &spec.full_name);
    opt(out, "deploymentStatus", spec.deployment_status.as_deref());
    opt(out, "description", spec.description.as_deref());
    bool_el(out, "enableActivities", spec.enable_activities);
    bool_el(out, "enableFeeds", spec.enable_feeds);
    bool_el(out, "enableHistory", spec.enable_history);
    bool_el(out, "enableReports", spec.enable_reports);
    if let Some(s) = spec.enable_search {
        bool_el(out, "enableSearch", s);
    }
    for f in &spec.fields {
        out.push_str("<fields>");
        write_field(out, f, &f.full_name);
        out.push_str("</fields>");
    }
    opt(out, "label", spec.label.as_deref());
    if let Some(nf) = &spec.name_field {
        out.push_str("<nameField>");
        opt(out, "displayFormat", nf.display_format.as_deref());
        opt(out, "label", nf.label.as_deref());
        if let Some(n) = nf.starting_number {
            el(out, "startingNumber", &n.to_string());
        }
        el(out, "type", nf.field_type.as_deref().unwrap_or("Text"));
        out.push_str("</nameField>");
    }
    opt(out, "pluralLabel", spec.plural_label.as_deref());
    opt(out, "sharingModel", spec.sharing_model.as_deref());
}
