//! The data sources' reference pages, `docs/data-sources/<page>.md` (`<page>` is the type name
//! without `intersight_`), laid out as terraform-plugin-docs lays them out: each is rendered by
//! [`terraform_plugin::docs`] from the data source's schema and a hand-written template,
//! `templates/data-sources/<page>.md.tmpl`, which keeps the prose and takes the argument and
//! attribute reference and the example from `examples/` through placeholders.
//!
//! A unit test fails when a committed page is not what its template renders;
//! `UPDATE_DOCS=1 cargo test --lib provider::docs` rewrites the pages (CONTRIBUTING.md).

use std::collections::BTreeMap;
use std::path::Path;

use terraform_plugin::docs::{render, Page, TemplateError};

use super::schema::Schema;
use super::DataSource;

/// Where the templates are, relative to the repository root.
pub const TEMPLATES_DIR: &str = "templates/data-sources";
/// Where the rendered pages are, relative to the repository root.
pub const PAGES_DIR: &str = "docs/data-sources";

/// The description of each `results` element's `display_names`, the one attribute of a list
/// data source's `results` that is not an argument.
const DISPLAY_NAMES_DESCRIPTION: &str = super::list_source::DISPLAY_NAMES_FIELD.description;

/// The file name (without extension) of a data source's page and template:
/// `iam_o_auth_token` for `intersight_iam_o_auth_token`.
pub fn page_name(type_name: &str) -> &str {
    type_name.strip_prefix("intersight_").unwrap_or(type_name)
}

/// The descriptions of the attributes of a list data source's `results` elements, which the
/// protocol schema cannot carry: each is the argument of the same name (an attribute, or a
/// nested block whose objects the element holds), and `display_names`. Keyed as
/// [`Page::object_attribute_descriptions`] wants (`results.client_name`); empty for a schema
/// without `results`.
pub fn results_descriptions(schema: &Schema) -> BTreeMap<String, String> {
    let block = &schema.block;
    let element = block.attribute("results").and_then(|r| match &r.ty {
        crate::cty::Type::List(el) => match &**el {
            crate::cty::Type::Object(attrs) => Some(attrs),
            _ => None,
        },
        _ => None,
    });
    let Some(element) = element else {
        return BTreeMap::new();
    };
    element
        .keys()
        .filter_map(|name| {
            let description = match (block.attribute(name), block.block_type(name)) {
                (Some(argument), _) => argument.description.clone(),
                (None, Some(nested)) => nested.block.description.clone(),
                (None, None) if name == super::list_source::DISPLAY_NAMES => {
                    DISPLAY_NAMES_DESCRIPTION.to_string()
                }
                (None, None) => return None,
            };
            Some((format!("results.{name}"), description))
        })
        .collect()
}

/// Renders `source`'s page from `template`; `tffile` paths are relative to `root` (the
/// repository root).
pub fn render_page(
    source: &dyn DataSource,
    template: &str,
    root: &Path,
) -> Result<String, TemplateError> {
    let descriptions = results_descriptions(source.schema());
    let page = Page {
        name: source.type_name(),
        schema: source.schema(),
        object_attribute_descriptions: &descriptions,
    };
    render(template, &page, &mut |path| {
        std::fs::read_to_string(root.join(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::Type;
    use crate::provider::data_sources;
    use terraform_plugin::docs::check_page;

    const ROOT: &str = env!("CARGO_MANIFEST_DIR");

    /// Regenerate instead of failing (`UPDATE_DOCS=1`).
    fn update() -> bool {
        std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1")
    }

    #[test]
    fn every_data_source_page_is_what_its_template_renders() {
        let root = Path::new(ROOT);
        let mut problems = Vec::new();
        for source in data_sources::registry() {
            let name = page_name(source.type_name());
            let template_path = root.join(TEMPLATES_DIR).join(format!("{name}.md.tmpl"));
            let template = match std::fs::read_to_string(&template_path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{}: {e}", template_path.display()));
                    continue;
                }
            };
            let rendered = match render_page(source.as_ref(), &template, root) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{}: {e}", template_path.display()));
                    continue;
                }
            };
            let page = root.join(PAGES_DIR).join(format!("{name}.md"));
            if let Err(e) = check_page(&page, &rendered, update()) {
                problems.push(e.to_string());
            }
        }
        assert!(
            problems.is_empty(),
            "{}\n\nEdit the template (or the schema), not the page; then regenerate the pages \
             with `UPDATE_DOCS=1 cargo test --lib provider::docs` and review the diff.",
            problems.join("\n")
        );
    }

    #[test]
    fn every_page_is_a_registered_data_source() {
        let registered: Vec<String> = data_sources::registry()
            .iter()
            .map(|s| format!("{}.md", page_name(s.type_name())))
            .collect();
        let dir = Path::new(ROOT).join(PAGES_DIR);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().to_string();
            assert!(
                registered.contains(&file),
                "{PAGES_DIR}/{file} is no registered data source's page"
            );
        }
    }

    #[test]
    fn every_results_attribute_has_a_description() {
        for source in data_sources::registry() {
            let schema = source.schema();
            let descriptions = results_descriptions(schema);
            let Some(Type::List(element)) = schema.block.attribute("results").map(|r| &r.ty) else {
                panic!("{}: no results list", source.type_name())
            };
            let Type::Object(attrs) = &**element else {
                panic!("{}: results elements are not objects", source.type_name())
            };
            for name in attrs.keys() {
                let description = descriptions.get(&format!("results.{name}"));
                assert!(
                    description.is_some_and(|d| !d.trim().is_empty()),
                    "{}: results.{name} has no description",
                    source.type_name()
                );
            }
        }
    }

    #[test]
    fn results_attributes_take_their_arguments_descriptions() {
        let source = &data_sources::registry()[0];
        let descriptions = results_descriptions(source.schema());
        let block = &source.schema().block;
        assert_eq!(
            descriptions["results.client_name"],
            block.attribute("client_name").unwrap().description
        );
        assert_eq!(
            descriptions["results.user"],
            block.block_type("user").unwrap().block.description
        );
        assert_eq!(
            descriptions["results.display_names"],
            DISPLAY_NAMES_DESCRIPTION
        );
        assert!(!descriptions.contains_key("results.results"));
    }
}
