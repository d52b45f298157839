//! A recipe's demo (`recipes/<name>/demo.toml`): how `forcebridge demo` connects an org for the
//! recipe, installs it, and which realistic events it feeds it. The events come from templates
//! over a deterministic pool of people, so a demo run is the same every time and can be checked.
//!
//! Invariant: a loaded [`Demo`] only produces events that its recipe declares and whose payloads
//! match the declaration (checked on a sample at load), and event `n` is always the same event.

mod generate;
mod people;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::recipe::ir::{AuthMethod, EnvironmentKind, Recipe};

pub use generate::DemoEvent;

/// The file name of a recipe's demo, beside its `recipe.toml`.
pub const FILE: &str = "demo.toml";

/// How many events are rendered and checked against the recipe when a demo loads.
const SAMPLE: u64 = 200;

/// `demo.toml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoFile {
    /// What the demo shows, one sentence.
    #[serde(default)]
    pub description: Option<String>,
    /// How the demo connects the recipe's org.
    pub connection: DemoConnection,
    /// The install's settings (workflows included), as the tenant admin would set them.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub settings: toml::Table,
    /// How many events a run sends (default 1,000; `forcebridge demo --events N` overrides).
    #[serde(default)]
    pub events: Option<u64>,
    /// How many different people the events are about (default 200): fewer people than events
    /// means people come back, as they do in a real product.
    #[serde(default)]
    pub people: Option<u64>,
    /// Seconds between two events' timestamps (`at`; default 60).
    #[serde(default)]
    pub spacing_seconds: Option<u64>,
    /// The kinds of events, each drawn with a probability proportional to its weight.
    #[serde(rename = "event")]
    pub kinds: Vec<DemoEventKind>,
}

/// `[connection]` of a demo.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoConnection {
    /// One of the recipe's auth methods: `oauth_web_server`, `client_credentials`, `password` or
    /// `jwt_bearer`.
    pub auth: String,
    /// `production`, `sandbox` or `my_domain` (one the recipe accepts).
    pub environment: String,
}

/// `[[event]]` of a demo.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoEventKind {
    /// The event type (declared in the recipe's `[events]`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Relative frequency (default 1).
    #[serde(default)]
    pub weight: Option<u32>,
    /// The payload. Strings are minijinja templates over `n` (the event's number), `person`
    /// (`first_name`, `last_name`, `name`, `email`, `company`, `title`, `phone`), `at` (the
    /// event's time, RFC 3339) and `seed`; a string that is exactly one `{{ … }}` keeps the
    /// expression's type (`"{{ n % 5 + 1 }}"` is a number). The `pick` filter chooses one item of
    /// a list, the same one for the same event.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub data: toml::Table,
}

/// A loaded, checked demo.
#[derive(Debug)]
pub struct Demo {
    /// The recipe's name.
    pub recipe: String,
    /// What it shows.
    pub description: String,
    /// The auth method the demo connects with.
    pub auth: AuthMethod,
    /// The environment of the connection (and of the org the demo makes for it).
    pub environment: EnvironmentKind,
    /// The install's settings, as JSON.
    pub settings: Value,
    /// Events a run sends unless told otherwise.
    pub default_events: u64,
    generator: generate::Generator,
}

/// Why a demo did not load.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the demo's shape.
    #[error("{path} is not a valid demo: {message}")]
    Parse { path: PathBuf, message: String },
    /// The demo does not fit its recipe (or a template does not compile or render).
    #[error("{path}: {at}: {message}")]
    Invalid {
        path: PathBuf,
        at: String,
        message: String,
    },
}

impl DemoError {
    /// Every demo error is the author's to fix: the file is refused as it is.
    pub fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

/// The demo in `recipe_dir`, if it has one.
///
/// # Errors
/// [`DemoError`] saying where the file is wrong and what to write instead.
pub fn load(recipe_dir: &Path, recipe: &Recipe) -> Result<Option<Demo>, DemoError> {
    let path = recipe_dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| DemoError::Io {
        path: path.clone(),
        source,
    })?;
    load_str(&path, &text, recipe).map(Some)
}

/// A demo from its text (`path` is for messages).
///
/// # Errors
/// As [`load`].
pub fn load_str(path: &Path, text: &str, recipe: &Recipe) -> Result<Demo, DemoError> {
    let file: DemoFile = toml::from_str(text).map_err(|e| DemoError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let invalid = |at: &str, message: String| DemoError::Invalid {
        path: path.to_path_buf(),
        at: at.to_owned(),
        message,
    };
    // One of the names the recipe accepts, or an error listing them.
    fn one_of<T: Copy>(accepted: &[T], name: fn(T) -> &'static str, given: &str) -> Result<T, String> {
        accepted
            .iter()
            .copied()
            .find(|a| name(*a) == given)
            .ok_or_else(|| {
                let names: Vec<&str> = accepted.iter().map(|a| name(*a)).collect();
                format!("use one of {}", names.join(", "))
            })
    }
    let refused = |at: &str, given: &str, hint: String| {
        invalid(
            at,
            format!("recipe {} does not accept {given:?}; {hint}", recipe.name),
        )
    };
    let auth = one_of(&recipe.connection.auth, AuthMethod::as_str, &file.connection.auth)
        .map_err(|hint| refused("connection.auth", &file.connection.auth, hint))?;
    let environment = one_of(
        &recipe.connection.environments,
        EnvironmentKind::as_str,
        &file.connection.environment,
    )
    .map_err(|hint| refused("connection.environment", &file.connection.environment, hint))?;
    if file.kinds.is_empty() {
        return Err(invalid(
            "event",
            "a demo needs at least one [[event]] with a type and its data".into(),
        ));
    }
    for (i, k) in file.kinds.iter().enumerate() {
        let at = format!("event[{i}].type");
        if recipe.flows_for(&k.event_type).next().is_none() {
            return Err(invalid(
                &at,
                format!(
                    "no flow of recipe {} handles {:?}; the demo would send events nothing applies",
                    recipe.name, k.event_type
                ),
            ));
        }
        if k.weight == Some(0) {
            return Err(invalid(
                &format!("event[{i}].weight"),
                "weight must be at least 1".into(),
            ));
        }
    }
    if file.people == Some(0) {
        return Err(invalid("people", "people must be at least 1".into()));
    }
    let generator = generate::Generator::new(&file).map_err(|(at, message)| invalid(&at, message))?;
    let demo = Demo {
        recipe: recipe.name.clone(),
        description: file.description.clone().unwrap_or_default(),
        auth,
        environment,
        settings: Value::Object(
            file.settings
                .iter()
                .map(|(k, v)| (k.clone(), generate::toml_to_json(v)))
                .collect(),
        ),
        default_events: file.events.unwrap_or(1_000),
        generator,
    };
    // Render a sample now: a template error or a payload the recipe does not declare is the
    // author's mistake, shown at load rather than halfway through a run.
    let base = DateTime::<Utc>::UNIX_EPOCH;
    for n in 0..SAMPLE {
        let e = demo
            .event(n, base)
            .map_err(|(at, message)| invalid(&at, format!("event {n}: {message}")))?;
        if let Some(spec) = recipe.event(&e.event_type)
            && let Err((field, message)) = spec.check(&e.data)
        {
            return Err(invalid(
                &format!("event[{}].data.{field}", e.kind),
                format!("event {n} renders a payload the recipe refuses: {message}"),
            ));
        }
    }
    Ok(demo)
}

impl Demo {
    /// Event number `n` of a run that started at `start` (the same event every time).
    ///
    /// # Errors
    /// `(where, message)` when a template fails to render (out of fuel, an undefined name).
    pub fn event(&self, n: u64, start: DateTime<Utc>) -> Result<DemoEvent, (String, String)> {
        self.generator.event(n, start)
    }
}
