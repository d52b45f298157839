//! Fuzz target: any bytes as a CEL expression and a template (split at the first NUL), evaluated
//! against an event built from the rest: compiling, listing variables, evaluating and rendering
//! never panic and always terminate.
#![no_main]

use forcebridge_engine::recipe::expr::{Expr, Origin, Scope};
use forcebridge_engine::recipe::template::Template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (source, rest) = text.split_once('\0').unwrap_or((&text, ""));
    let event = serde_json::from_str::<serde_json::Value>(rest)
        .unwrap_or_else(|_| serde_json::json!({ "email": "a@example.com", "n": 3, "tags": ["x"] }));
    let scope = Scope::new(
        &event,
        &serde_json::json!({ "s": true }),
        &serde_json::json!({}),
        chrono::DateTime::<chrono::Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
    );
    if let Ok(e) = Expr::compile_located(source, Origin::default()) {
        let _ = e.var_refs();
        let _ = e.eval(&scope);
        let _ = e.eval_bool(&scope);
    }
    if let Ok(t) = Template::compile_located(source, Origin::default()) {
        let _ = t.variable_paths();
        let _ = t.unknown_filters();
        let _ = t.render(&scope);
    }
});
