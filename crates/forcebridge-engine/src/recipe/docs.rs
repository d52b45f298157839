//! Generators for the recipe language's reference (`docs/recipes.md`) and its JSON Schema
//! (`recipes/recipe.schema.json`), both from the file model's types and doc comments, so the
//! documentation cannot drift from what the parser accepts (a test compares them with the
//! committed files).
//!
//! Invariant: generation is deterministic: the same types give byte-identical output.

use schemars::generate::SchemaSettings;

use super::model::RecipeFile;
use super::testcase::TestFile;

/// The JSON Schema of `recipe.toml`, pretty-printed with a final newline.
pub fn recipe_schema() -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<RecipeFile>();
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// The JSON Schema of a test case file.
pub fn test_schema() -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<TestFile>();
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
