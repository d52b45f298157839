//! Span-carrying building blocks of the recipe file model: [`Sp`] (a value and the byte range it
//! was written at), [`Map`] (a TOML table whose keys keep their spans, in file order) and
//! [`Source`] (a file's text, turning byte offsets into 1-based lines and columns).
//!
//! Invariant: every span is a byte range of the file the value was read from; converting one to a
//! line and column never panics, even for a range past the end or inside a character.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// A value with the byte range of the file where it was written.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sp<T>(toml::Spanned<T>);

impl<T> Sp<T> {
    /// A value with a span (for tests and synthetic values).
    pub fn new(span: Range<usize>, value: T) -> Self {
        Sp(toml::Spanned::new(span, value))
    }

    /// The value.
    pub fn get(&self) -> &T {
        self.0.get_ref()
    }

    /// Where it was written.
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }
}

impl<T: fmt::Debug> fmt::Debug for Sp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        toml::Spanned::<T>::deserialize(d).map(Sp)
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// A TOML table with free keys (settings by name, fields by API name), keys and values spanned,
/// in the order they were written.
#[derive(Clone, Debug)]
pub struct Map<V>(pub Vec<(Sp<String>, Sp<V>)>);

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map(Vec::new())
    }
}

impl<V> Map<V> {
    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = &(Sp<String>, Sp<V>)> {
        self.0.iter()
    }

    /// The entry called `key`.
    pub fn get(&self, key: &str) -> Option<&(Sp<String>, Sp<V>)> {
        self.0.iter().find(|(k, _)| k.get() == key)
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Map<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = access.next_key::<Sp<String>>()? {
                    let value = access.next_value::<Sp<V>>()?;
                    out.push((key, value));
                }
                // The TOML parser hands tables over sorted by key; the file's order is the one
                // that means something (flows run in declaration order).
                out.sort_by_key(|(k, _)| k.span().start);
                Ok(Map(out))
            }
        }
        d.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for Map<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<V>();
        json_schema!({
            "type": "object",
            "additionalProperties": value,
        })
    }
}

/// One file's text, for turning spans into lines and columns and for rendering excerpts.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's path as given.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// Indexes `text`.
    pub fn new(path: &Path, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            path: path.to_path_buf(),
            text,
            line_starts,
        }
    }

    /// A span clamped to the text and to character boundaries.
    pub fn clamp(&self, span: &Range<usize>) -> Range<usize> {
        let mut start = span.start.min(self.text.len());
        while start > 0 && !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, self.text.len());
        while end < self.text.len() && !self.text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.clamp(&(offset..offset)).start;
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line + 1, column)
    }

    /// The text at `span` (clamped).
    pub fn slice(&self, span: &Range<usize>) -> &str {
        let r = self.clamp(span);
        self.text.get(r).unwrap_or("")
    }

    /// Where the content of the string literal written at `span` starts, when the literal has no
    /// escapes (so offsets inside its value are offsets inside the file); `None` otherwise.
    pub fn string_content_start(&self, span: &Range<usize>, value: &str) -> Option<usize> {
        let raw = self.slice(span);
        let start = self.clamp(span).start;
        for quote in ["\"\"\"", "'''", "\"", "'"] {
            if let Some(rest) = raw.strip_prefix(quote) {
                let mut skip = quote.len();
                let mut rest = rest;
                if quote.len() == 3 {
                    if let Some(r) = rest.strip_prefix("\r\n") {
                        skip += 2;
                        rest = r;
                    } else if let Some(r) = rest.strip_prefix('\n') {
                        skip += 1;
                        rest = r;
                    }
                }
                return rest.starts_with(value).then_some(start + skip);
            }
        }
        None
    }
}
