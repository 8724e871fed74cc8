//! The second data source's page (`second_data_source/iam_user.md`) is rendered from its
//! schema and template by the same generator as `docs/data-sources/`, and a test fails when
//! the committed page drifts; `UPDATE_DOCS=1` rewrites it.

use std::path::Path;

use terraform_plugin::docs::check_page;
use terraform_provider_intersight::provider::docs::render_page;
use terraform_provider_intersight::provider::list_source::ListDataSource;
use terraform_provider_intersight::provider::DataSource;

#[test]
fn the_second_data_sources_page_is_what_its_template_renders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The directory of this file (and of the declaration, the template and the page), wherever
    // the test binary that includes it lives.
    let dir = root.join(Path::new(file!()).parent().unwrap_or_else(|| Path::new("")));
    let template = std::fs::read_to_string(dir.join("iam_user.md.tmpl")).unwrap();
    let source = ListDataSource::new(&super::iam_user::DECLARATION);
    let rendered = render_page(&source, &template, root).unwrap();
    // Generic: its own arguments, blocks and results attributes, with their descriptions.
    assert!(rendered.contains("# intersight_iam_user (Data Source)"));
    assert!(
        rendered.contains("* `user_type` - (String) Type of the user: `Internal` or `External`.")
    );
    assert!(rendered
        .contains("* `parent` - (Block List, Max: 1) A reference to the parent managed object."));
    assert!(rendered.contains("* `email` - (String) Email of the user.\n"));
    assert_eq!(source.type_name(), "intersight_iam_user");
    let update = std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1");
    if let Err(e) = check_page(&dir.join("iam_user.md"), &rendered, update) {
        panic!(
            "{e}\n\nEdit the template (or the declaration), not the page; then regenerate it by running \
             this test with UPDATE_DOCS=1 (CONTRIBUTING.md) and review the diff."
        );
    }
}
