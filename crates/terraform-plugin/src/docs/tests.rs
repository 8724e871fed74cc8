//! The renderer's tests: argument lists, shared block sections, object attributes,
//! placeholders and the drift check.

use super::*;

fn reference(description: &str) -> Block {
    Block {
        attributes: vec![Attribute::optional("moid", Type::String, "The Moid.")],
        description: description.to_string(),
        ..Block::default()
    }
}

fn nested(name: &str, block: Block, nesting: Nesting, max_items: i64) -> NestedBlock {
    NestedBlock {
        type_name: name.to_string(),
        block,
        nesting,
        min_items: 0,
        max_items,
    }
}

/// A list data source's shape: arguments, two blocks with the same fields, a block
/// nesting another, and a computed list of objects mirroring the arguments.
fn schema() -> Schema {
    let tag = Block {
        attributes: vec![
            Attribute::optional("key", Type::String, "The key."),
            Attribute::optional(
                "type",
                Type::String,
                "The type:\n* `A` - one kind.\n* `B` - another.",
            ),
        ],
        block_types: vec![nested(
            "definition",
            reference("Its definition."),
            Nesting::List,
            1,
        )],
        description: "Tags.".to_string(),
        ..Block::default()
    };
    let mut top = Block {
        attributes: vec![
            Attribute::optional("name", Type::String, "A name."),
            Attribute::optional("secret", Type::String, "A secret.").with_sensitive(),
            Attribute::optional("id", Type::String, "The id.").with_computed(),
        ],
        block_types: vec![
            nested("user", reference("The user."), Nesting::List, 1),
            nested("tags", tag, Nesting::List, 0),
            nested("owner", reference("The owner."), Nesting::List, 1),
            nested(
                "timeouts",
                Block {
                    attributes: vec![Attribute::optional("read", Type::String, "How long.")],
                    ..Block::default()
                },
                Nesting::Single,
                0,
            ),
        ],
        description: "Lists things.".to_string(),
        ..Block::default()
    };
    let element = match top.value_type() {
        Type::Object(mut attrs) => {
            attrs.remove("timeouts");
            attrs.remove("id");
            attrs.insert("extra".to_string(), Type::map(Type::String));
            attrs.insert(
                "odd".to_string(),
                Type::list(Type::object([("inner", Type::Bool)])),
            );
            Type::Object(attrs)
        }
        _ => unreachable!(),
    };
    top.attributes.push(Attribute::computed(
        "results",
        Type::list(element),
        "Every match.",
    ));
    Schema {
        version: 0,
        block: top,
    }
}

fn page_of<'a>(schema: &'a Schema, descriptions: &'a BTreeMap<String, String>) -> Page<'a> {
    Page {
        name: "x_things",
        schema,
        object_attribute_descriptions: descriptions,
    }
}

#[test]
fn arguments_list_attributes_and_blocks_by_name_with_types_flags_and_links() {
    let schema = schema();
    let text = arguments_markdown(&page_of(&schema, &BTreeMap::new()));
    let expected = "All arguments are optional.\n\n\
        * `id` - (String, Computed) The id.\n\
        * `name` - (String) A name.\n\
        * `owner` - (Block List, Max: 1) The owner. (see [below for nested schema](#nestedblock--owner))\n\
        * `secret` - (String, Sensitive) A secret.\n\
        * `tags` - (Block List) Tags. (see [below for nested schema](#nestedblock--tags))\n\
        * `timeouts` - (Block, Optional) (see [below for nested schema](#nestedblock--timeouts))\n\
        * `user` - (Block List, Max: 1) The user. (see [below for nested schema](#nestedblock--owner))";
    assert_eq!(text, expected);
}

#[test]
fn blocks_with_the_same_fields_share_one_section_and_descriptions_nest() {
    let schema = schema();
    let text = nested_blocks_markdown(&page_of(&schema, &BTreeMap::new()));
    let expected = "<a id=\"nestedblock--owner\"></a>\n\
        ### Nested Schema for `owner`\n\n\
        The same fields are in `tags.definition` and `user`.\n\n\
        * `moid` - (String) The Moid.\n\n\
        <a id=\"nestedblock--tags\"></a>\n\
        ### Nested Schema for `tags`\n\n\
        * `definition` - (Block List, Max: 1) Its definition. (see [below for nested schema](#nestedblock--owner))\n\
        * `key` - (String) The key.\n\
        * `type` - (String) The type:\n  * `A` - one kind.\n  * `B` - another.\n\n\
        <a id=\"nestedblock--timeouts\"></a>\n\
        ### Nested Schema for `timeouts`\n\n\
        * `read` - (String) How long.";
    assert_eq!(text, expected);
}

#[test]
fn object_attributes_take_given_descriptions_and_link_blocks_of_the_same_type() {
    let schema = schema();
    let descriptions: BTreeMap<String, String> = [
        ("results.name", "A name."),
        ("results.user", "The user."),
        ("results.odd", "Odd ones."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let text = attributes_markdown(&page_of(&schema, &descriptions));
    let expected = "* `id` - (String) The id.\n\
        * `results` - (List of Object) Every match. (see [below for nested schema](#nestedatt--results))\n\n\
        <a id=\"nestedatt--results\"></a>\n\
        ### Nested Schema for `results`\n\n\
        * `extra` - (Map of String)\n\
        * `name` - (String) A name.\n\
        * `odd` - (List of Object) Odd ones. (see [below for nested schema](#nestedatt--results--odd))\n\
        * `owner` - (List of Object) (the fields of the [`owner` block](#nestedblock--owner))\n\
        * `secret` - (String)\n\
        * `tags` - (List of Object) (the fields of the [`tags` block](#nestedblock--tags))\n\
        * `user` - (List of Object) The user. (the fields of the [`owner` block](#nestedblock--owner))\n\n\
        <a id=\"nestedatt--results--odd\"></a>\n\
        ### Nested Schema for `results.odd`\n\n\
        * `inner` - (Boolean)";
    assert_eq!(text, expected);
}

#[test]
fn a_template_takes_placeholders_and_files_and_refuses_unknown_ones() {
    let schema = schema();
    let descriptions = BTreeMap::new();
    let page = page_of(&schema, &descriptions);
    let mut files = |path: &str| match path {
        "ex/main.tf" => Ok("data \"x_things\" \"all\" {}\n\n".to_string()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    let text = render(
        "# {{ .Name }}\n\n{{.Description}}\n\n{{ tffile \"ex/main.tf\" }}\n\n{{ .SchemaMarkdown }}\n\n\n",
        &page,
        &mut files,
    )
    .unwrap();
    assert!(text.starts_with(
        "# x_things\n\nLists things.\n\n```terraform\ndata \"x_things\" \"all\" {}\n```\n\n\
         ## Argument Reference\n\nAll arguments are optional.\n\n* `id`"
    ));
    assert!(text.contains("\n\n<a id=\"nestedblock--owner\"></a>\n"));
    assert!(text.contains("\n\n## Attribute Reference\n\n* `id` - (String) The id.\n"));
    assert!(text.ends_with("* `inner` - (Boolean)\n"));

    for (template, want) in [
        ("a\n{{ .Nme }}", "line 2: unknown placeholder `{{ .Nme }}`"),
        ("{{ .Name", "line 1: `{{` without a closing `}}`"),
        ("{{ tffile ex/main.tf }}", "unknown placeholder"),
    ] {
        let err = render(template, &page, &mut files).unwrap_err().to_string();
        assert!(err.contains(want), "{template}: {err}");
    }
    let err = render("\n\n{{ tffile \"nope.tf\" }}", &page, &mut files).unwrap_err();
    assert!(matches!(err, TemplateError::File { line: 3, ref path, .. } if path == "nope.tf"));
}

#[test]
fn required_arguments_are_flagged_and_the_optional_sentence_goes() {
    let mut schema = schema();
    schema.block.attributes[0].required = true;
    schema.block.attributes[0].optional = false;
    let text = arguments_markdown(&page_of(&schema, &BTreeMap::new()));
    assert!(!text.contains("All arguments are optional"));
    assert!(text.contains("* `name` - (String, Required) A name.\n"));
}

#[test]
fn check_page_finds_the_first_difference_and_updates_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.md");
    assert_eq!(
        check_page(&path, "a\nb\n", true).unwrap(),
        PageCheck::Updated
    );
    assert_eq!(check_page(&path, "a\nb\n", false).unwrap(), PageCheck::Same);
    match check_page(&path, "a\nc\n", false) {
        Err(PageError::Drift {
            line: 2,
            committed,
            rendered,
            ..
        }) => {
            assert_eq!((committed.as_str(), rendered.as_str()), ("b", "c"));
        }
        other => panic!("{other:?}"),
    }
    match check_page(&path, "a\nb\nmore\n", false) {
        Err(PageError::Drift {
            line: 3, committed, ..
        }) => assert!(committed.is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_page(&dir.path().join("missing.md"), "x\n", false),
        Err(PageError::Drift { line: 1, .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
}
