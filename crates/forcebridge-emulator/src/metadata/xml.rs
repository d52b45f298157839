//! A small element tree for Metadata API documents — SOAP envelopes, `.object` and
//! `.permissionset` files — and for the Tooling API's JSON `Metadata`, so both APIs read
//! components with the same code.
//!
//! Invariant: names are local names (namespace prefixes dropped, since clients pick their own),
//! text is unescaped, `xsi:type` is kept without its prefix, and nesting deeper than
//! [`MAX_DEPTH`] is refused rather than followed.

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

/// Deepest nesting accepted; Metadata documents are a handful of levels deep.
pub const MAX_DEPTH: usize = 64;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the request is not UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("the document nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the document has no root element")]
    Empty,
}

/// One element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// `xsi:type`, without its namespace prefix.
    pub xsi_type: Option<String>,
    /// `xsi:nil="true"`.
    pub nil: bool,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child named `name`, when present and not empty.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .filter(|c| !c.nil)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// A child's text as owned string.
    pub fn string(&self, name: &str) -> Option<String> {
        self.text_of(name).map(str::to_string)
    }

    /// A child's boolean (`true` / `false`, as xsd:boolean; `1` / `0` too).
    pub fn bool_of(&self, name: &str) -> Option<bool> {
        // Case-insensitive: simple-salesforce's deploy template writes Python's `True` / `False`,
        // which Salesforce accepts.
        match self.text_of(name)? {
            t if t.eq_ignore_ascii_case("true") || t == "1" => Some(true),
            t if t.eq_ignore_ascii_case("false") || t == "0" => Some(false),
            _ => None,
        }
    }

    /// A child's boolean, `false` when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.bool_of(name).unwrap_or(false)
    }

    /// A child's unsigned integer (`18` or `18.0`).
    pub fn u32_of(&self, name: &str) -> Option<u32> {
        let t = self.text_of(name)?;
        t.parse::<u32>().ok().or_else(|| {
            t.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u32)
        })
    }
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

fn start(e: &BytesStart<'_>) -> Node {
    let mut node = Node {
        name: local(e.local_name().as_ref()),
        ..Node::default()
    };
    for attr in e.attributes().flatten() {
        let key = local(attr.key.as_ref());
        let value = attr.value.to_string();
        match key.as_str() {
            "type" => node.xsi_type = Some(local(&value)),
            "nil" => node.nil = value == "true" || value == "1",
            _ => {}
        }
    }
    node
}

/// Parses a document and returns its root element.
///
/// # Errors
/// [`XmlError`] for text that is not UTF-8, not well-formed, or nested too deep.
pub fn parse(bytes: &[u8]) -> Result<Node, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let close = |stack: &mut Vec<Node>, root: &mut Option<Node>, node: Node| match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => {
            if root.is_none() {
                *root = Some(node);
            }
        }
    };
    loop {
        match reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?
        {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(start(&e));
            }
            Event::Empty(e) => {
                let node = start(&e);
                close(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        top.text.push(c);
                    } else {
                        let name = r.xml10_content();
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError::Malformed(format!("unknown entity &{name};")))?;
                        top.text.push_str(resolved);
                    }
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                close(&mut stack, &mut root, node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("the document ends inside an element".into()));
    }
    root.ok_or(XmlError::Empty)
}

/// The element tree of a JSON value named `name`: object members become children, arrays become
/// repeated children, scalars become text (the Tooling API's `Metadata` mirrors the XML).
pub fn from_json(name: &str, value: &Value) -> Node {
    fn fill(node: &mut Node, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::Array(items) => {
                            for item in items {
                                let mut child = Node {
                                    name: k.clone(),
                                    ..Node::default()
                                };
                                fill(&mut child, item, depth + 1);
                                node.children.push(child);
                            }
                        }
                        Value::Null => {}
                        other => {
                            let mut child = Node {
                                name: k.clone(),
                                ..Node::default()
                            };
                            fill(&mut child, other, depth + 1);
                            node.children.push(child);
                        }
                    }
                }
            }
            Value::String(s) => node.text = s.clone(),
            Value::Bool(b) => node.text = b.to_string(),
            Value::Number(n) => node.text = n.to_string(),
            Value::Null | Value::Array(_) => {}
        }
    }
    let mut node = Node {
        name: name.to_string(),
        ..Node::default()
    };
    fill(&mut node, value, 0);
    node
}

/// Escapes text for an element or attribute.
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// Appends `<name>text</name>`.
pub fn el(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&esc(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Appends `<name>text</name>` when there is a value.
pub fn opt(out: &mut String, name: &str, text: Option<&str>) {
    if let Some(t) = text {
        el(out, name, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prefixed_envelopes() {
        let doc = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body><m:createMetadata><m:metadata xsi:type="m:CustomObject"><m:fullName>A&amp;B__c</m:fullName><m:x xsi:nil="true"/></m:metadata></m:createMetadata></s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let md = root
            .child("Body")
            .unwrap()
            .child("createMetadata")
            .unwrap()
            .child("metadata")
            .unwrap();
        assert_eq!(md.xsi_type.as_deref(), Some("CustomObject"));
        assert_eq!(md.text_of("fullName"), Some("A&B__c"));
        assert!(md.child("x").unwrap().nil);
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn json_mirrors_xml() {
        let n = from_json(
            "Metadata",
            &serde_json::json!({"label": "X", "length": 10, "values": [{"a": 1}, {"a": 2}]}),
        );
        assert_eq!(n.text_of("label"), Some("X"));
        assert_eq!(n.u32_of("length"), Some(10));
        assert_eq!(n.all("values").count(), 2);
    }
}
