//! The committed language reference and JSON Schemas are exactly what the generators produce from
//! the recipe file model, so docs cannot drift from the parser. When this fails after a deliberate
//! change, regenerate with
//! `FORCEBRIDGE_REGENERATE=1 cargo test -p forcebridge-engine --test recipe_docs` and commit.

use std::path::{Path, PathBuf};

use forcebridge_engine::recipe::docs;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(relative: &str, generated: &str) {
    let path = root().join(relative);
    if std::env::var_os("FORCEBRIDGE_REGENERATE").is_some() {
        std::fs::write(&path, generated).expect("the file can be written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} is stale: regenerate it with `FORCEBRIDGE_REGENERATE=1 cargo test -p forcebridge-engine --test recipe_docs` and commit it"
    );
}

#[test]
fn docs_recipes_md_is_current() {
    check("docs/recipes.md", &docs::reference_markdown());
}

#[test]
fn recipe_schema_json_is_current() {
    check("recipes/recipe.schema.json", &docs::recipe_schema());
}

#[test]
fn demo_schema_json_is_current() {
    check("recipes/demo.schema.json", &docs::demo_schema());
}

#[test]
fn test_schema_json_is_current() {
    check("recipes/test.schema.json", &docs::test_schema());
}

#[test]
fn the_reference_documents_every_key_of_a_step() {
    let md = docs::reference_markdown();
    for key in [
        "`match`",
        "`or_create`",
        "`external_id`",
        "`keep_previous`",
        "`body`",
        "`undo`",
        "`coalesce`",
    ] {
        assert!(md.contains(key), "{key} is not documented");
    }
}
