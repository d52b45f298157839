//! Renders a demo's event templates into events: event `n`'s kind is drawn by weight from a hash
//! of `n`, its person from the pool, and every string of its payload is a minijinja template.
//!
//! Invariant: rendering depends only on `n` and the run's start time — no global randomness —
//! so a demo run can be repeated and its numbers compared.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use minijinja::value::Value as JValue;
use minijinja::{Environment, State, UndefinedBehavior};
use serde_json::Value;

use super::DemoFile;
use super::people::person;

/// Template fuel per string: generous for a payload value, small enough that a runaway loop stops.
const FUEL: u64 = 20_000;

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoEvent {
    /// Its type.
    pub event_type: String,
    /// Which `[[event]]` of the demo it came from.
    pub kind: usize,
    /// An idempotency key unique within one recipe's demo (`demo-<n>`).
    pub key: String,
    /// The payload.
    pub data: Value,
}

/// A payload's shape with its templates compiled into the environment.
#[derive(Debug)]
enum Node {
    Literal(Value),
    /// A template rendered to a string.
    Text(String),
    /// A `{{ expr }}` whose value keeps its type (rendered through `tojson`).
    Typed(String),
    Object(Vec<(String, Node)>),
    List(Vec<Node>),
}

#[derive(Debug)]
struct Kind {
    event_type: String,
    weight: u64,
    data: Node,
}

/// Generator of a demo's events.
pub(super) struct Generator {
    env: Environment<'static>,
    kinds: Vec<Kind>,
    total_weight: u64,
    people: u64,
    spacing: i64,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

/// SplitMix64's finaliser: a well-spread hash of a counter.
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `list | pick`: one item, chosen by the event's `seed` and the list, so the same event picks
/// the same item and different lists pick independently.
fn pick(state: &State, list: JValue) -> Result<JValue, minijinja::Error> {
    let len = list.len().unwrap_or(0);
    if len == 0 {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "pick needs a non-empty list",
        ));
    }
    let seed = state
        .lookup("seed")
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0);
    let salt = list.to_string().bytes().fold(0u64, |h, b| mix(h ^ u64::from(b)));
    let i = (mix(seed ^ salt) % len as u64) as usize;
    list.get_item(&JValue::from(i))
}

/// A TOML value as JSON (datetimes become RFC 3339 strings).
pub(super) fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

/// The expression of a string that is exactly one `{{ … }}`, if it is.
fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

impl Generator {
    pub(super) fn new(file: &DemoFile) -> Result<Generator, (String, String)> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.add_filter("pick", pick);
        let mut kinds = Vec::new();
        for (i, k) in file.kinds.iter().enumerate() {
            let at = format!("event[{i}].data");
            let data = compile(&mut env, &at, &toml::Value::Table(k.data.clone()))?;
            kinds.push(Kind {
                event_type: k.event_type.clone(),
                weight: u64::from(k.weight.unwrap_or(1)),
                data,
            });
        }
        Ok(Generator {
            env,
            total_weight: kinds.iter().map(|k| k.weight).sum(),
            kinds,
            people: file.people.unwrap_or(200).max(1),
            spacing: i64::try_from(file.spacing_seconds.unwrap_or(60)).unwrap_or(60),
        })
    }

    pub(super) fn event(&self, n: u64, start: DateTime<Utc>) -> Result<DemoEvent, (String, String)> {
        let seed = mix(n);
        let mut r = seed % self.total_weight.max(1);
        let mut kind = 0;
        for (i, k) in self.kinds.iter().enumerate() {
            if r < k.weight {
                kind = i;
                break;
            }
            r -= k.weight;
        }
        let person_index = mix(seed ^ 0xa11ce) % self.people;
        let at = start + Duration::seconds(self.spacing.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX)));
        let ctx = minijinja::context! {
            n => n,
            seed => seed,
            person => JValue::from(minijinja::value::Serde(person(person_index))),
            at => at.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let k = &self.kinds[kind];
        let data = self.render(&k.data, &ctx)?;
        Ok(DemoEvent {
            event_type: k.event_type.clone(),
            kind,
            key: format!("demo-{n}"),
            data,
        })
    }

    fn render(&self, node: &Node, ctx: &JValue) -> Result<Value, (String, String)> {
        Ok(match node {
            Node::Literal(v) => v.clone(),
            Node::Text(name) => Value::String(self.run(name, ctx)?),
            Node::Typed(name) => {
                let json = self.run(name, ctx)?;
                serde_json::from_str(&json).map_err(|e| (name.clone(), format!("not a JSON value: {e}")))?
            }
            Node::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.render(v, ctx)?)))
                    .collect::<Result<_, (String, String)>>()?,
            ),
            Node::List(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render(v, ctx))
                    .collect::<Result<_, (String, String)>>()?,
            ),
        })
    }

    fn run(&self, name: &str, ctx: &JValue) -> Result<String, (String, String)> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| (name.to_owned(), e.to_string()))?;
        t.render(ctx).map_err(|e| (name.to_owned(), describe(&e)))
    }
}

/// A minijinja error in one line, with its cause.
fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    if let Some(d) = e.detail()
        && !s.contains(d)
    {
        s.push_str(": ");
        s.push_str(d);
    }
    s
}

fn compile(env: &mut Environment<'static>, at: &str, v: &toml::Value) -> Result<Node, (String, String)> {
    Ok(match v {
        toml::Value::String(s) if s.contains("{{") || s.contains("{%") => {
            // The template's name is where it sits, so a render error names it.
            let name = at.to_owned();
            let (source, typed) = match sole_expression(s) {
                Some(expr) => (format!("{{{{ ({expr}) | tojson }}}}"), true),
                None => (s.clone(), false),
            };
            env.add_template_owned(name.clone(), source).map_err(|e| {
                (
                    at.to_owned(),
                    format!("the template does not compile: {}", describe(&e)),
                )
            })?;
            if typed {
                Node::Typed(name)
            } else {
                Node::Text(name)
            }
        }
        toml::Value::Table(t) => Node::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), compile(env, &format!("{at}.{k}"), v)?)))
                .collect::<Result<_, (String, String)>>()?,
        ),
        toml::Value::Array(a) => Node::List(
            a.iter()
                .enumerate()
                .map(|(i, v)| compile(env, &format!("{at}[{i}]"), v))
                .collect::<Result<_, (String, String)>>()?,
        ),
        other => Node::Literal(toml_to_json(other)),
    })
}
