//! Fuzz target: any bytes as `recipe.toml` — loading and rendering the diagnostics never panic,
//! and an error always carries at least one error-level diagnostic.
#![no_main]

use std::path::Path;

use forcebridge_engine::recipe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = recipe::load_str(Path::new("recipe.toml"), &text) {
        assert!(e.errors().count() > 0);
        let _ = recipe::render(&e);
    }
});
