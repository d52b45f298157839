//! A small XML tree for SOAP answers, and escaping for the envelopes we write.
//!
//! Invariant: element names are kept as local names (namespace prefixes dropped), because the
//! Metadata API's answers vary in prefixes but never in local names.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{Error, Result};

/// One element: local name, text, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Concatenated text content (entities resolved).
    pub text: String,
    /// Child elements.
    pub children: Vec<Element>,
    /// Whether the element had `xsi:nil="true"`.
    pub nil: bool,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child with this name.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Depth-first search for the first descendant with this name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        for c in &self.children {
            if c.name == name {
                return Some(c);
            }
            if let Some(found) = c.find(name) {
                return Some(found);
            }
        }
        None
    }
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or_default().to_string()
}

fn resolve_ref(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Parses a document into its root element.
///
/// # Errors
/// [`Error::Decode`] when the XML is malformed.
pub fn parse(body: &[u8]) -> Result<Element> {
    let text = std::str::from_utf8(body).map_err(|e| Error::decode("xml", e, body))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let ev = reader.read_event().map_err(|e| Error::decode("xml", e, body))?;
        match ev {
            Event::Start(s) => stack.push(start(&s)),
            Event::Empty(s) => {
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(start(&s));
                }
            }
            Event::End(_) => {
                let done = stack.pop();
                match (done, stack.last_mut()) {
                    (Some(el), Some(parent)) => parent.children.push(el),
                    _ => return Err(Error::decode("xml", "unbalanced end tag", body)),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let (Some(cur), Some(ch)) = (stack.last_mut(), resolve_ref(&r.xml10_content())) {
                    cur.text.push(ch);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().unwrap_or_default();
    if !stack.is_empty() {
        return Err(Error::decode("xml", "unclosed elements", body));
    }
    root.children
        .pop()
        .filter(|_| root.children.is_empty())
        .ok_or_else(|| Error::decode("xml", "expected one root element", body))
}

fn start(s: &quick_xml::events::BytesStart<'_>) -> Element {
    let nil = s
        .attributes()
        .flatten()
        .any(|a| local(a.key.as_ref()) == "nil" && a.value.as_ref() == "true");
    Element {
        name: local(s.name().as_ref()),
        nil,
        ..Element::default()
    }
}

/// Escapes text for an element or attribute.
pub fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_soap_answers() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><readMetadataResponse><result><records xsi:type="CustomObject"><fullName>A__c</fullName><label>A &amp; B</label><fields><fullName>X__c</fullName></fields><fields><fullName>Y__c</fullName></fields></records><records xsi:nil="true"/></result></readMetadataResponse></soapenv:Body></soapenv:Envelope>"#;
        let root = parse(xml).unwrap();
        assert_eq!(root.name, "Envelope");
        let result = root.find("result").unwrap();
        let recs: Vec<_> = result.children_named("records").collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].text_of("label"), Some("A & B"));
        assert_eq!(recs[0].children_named("fields").count(), 2);
        assert!(recs[1].nil);
        assert!(parse(b"<a><b></a>").is_err());
        assert_eq!(esc("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}
