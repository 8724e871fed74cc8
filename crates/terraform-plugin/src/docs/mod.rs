//! Reference pages rendered from a [`Schema`], in the manner of terraform-plugin-docs
//! (`tfplugindocs`): a hand-written template keeps the prose, and placeholders take what the
//! schema says (arguments, nested blocks, attributes, descriptions, flags) and the example
//! files, so the reference part of a page cannot drift from what Terraform is told.
//!
//! A template is markdown with these placeholders (tfplugindocs' names where it has one):
//!
//! | placeholder | replaced by |
//! |---|---|
//! | `{{ .Name }}` | the type name, e.g. `echo_text` |
//! | `{{ .Description }}` | the top-level block's description |
//! | `{{ tffile "path" }}` | the file at `path` (as the caller resolves it) in a ```` ```terraform ```` fence |
//! | `{{ .SchemaMarkdown }}` | `## Argument Reference`, the arguments and nested blocks, then `## Attribute Reference` and the attributes |
//! | `{{ .ArgumentsMarkdown }}` | the arguments: every attribute the configuration may set and every nested block, by name |
//! | `{{ .NestedBlocksMarkdown }}` | one section per nested block, with its fields; blocks with the same fields share one section |
//! | `{{ .AttributesMarkdown }}` | the attributes the provider sets (computed ones), with a section for each object-typed one |
//!
//! Anything else between `{{` and `}}` is an error ([`TemplateError`]), so a misspelt
//! placeholder is not copied into a page. A protocol schema carries no descriptions for the
//! attributes of an object-typed attribute (such as a list data source's `results`); the
//! caller gives them in [`Page::object_attribute_descriptions`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use terraform_plugin::cty::Type;
//! use terraform_plugin::docs::{render, Page};
//! use terraform_plugin::protocol::schema::{Attribute, Block, Schema};
//!
//! let schema = Schema {
//!     version: 0,
//!     block: Block {
//!         attributes: vec![
//!             Attribute::optional("input", Type::String, "The text to repeat."),
//!             Attribute::computed("result", Type::String, "The input, repeated."),
//!         ],
//!         description: "Repeats its input.".to_string(),
//!         ..Block::default()
//!     },
//! };
//! let page = Page {
//!     name: "echo_text",
//!     schema: &schema,
//!     object_attribute_descriptions: &BTreeMap::new(),
//! };
//! let template = "# {{ .Name }}\n\n{{ .Description }}\n\n{{ .SchemaMarkdown }}\n";
//! let text = render(template, &page, &mut |_| unreachable!("no tffile")).unwrap();
//! assert!(text.contains("* `input` - (String) The text to repeat."));
//! assert!(text.contains("## Attribute Reference\n\n* `result` - (String) The input, repeated."));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cty::Type;
use crate::protocol::schema::{Attribute, Block, NestedBlock, Nesting, Schema};

/// What a page is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The type name (`{{ .Name }}`).
    pub name: &'a str,
    /// The schema Terraform is given.
    pub schema: &'a Schema,
    /// Descriptions of the attributes of object-typed attributes, which a protocol schema
    /// cannot carry, by dotted path: `results.client_name` for the `client_name` attribute of
    /// the objects of `results`. An attribute without one is listed with its type only.
    pub object_attribute_descriptions: &'a BTreeMap<String, String>,
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// `{{` with no `}}` after it.
    #[error("line {line}: `{{{{` without a closing `}}}}`")]
    Unclosed {
        /// The template line (from 1) of the `{{`.
        line: usize,
    },
    /// A placeholder this module does not know.
    #[error("line {line}: unknown placeholder `{{{{ {text} }}}}`; see terraform_plugin::docs for the known ones")]
    UnknownPlaceholder {
        /// The template line (from 1).
        line: usize,
        /// What was between the braces, trimmed.
        text: String,
    },
    /// A `tffile` whose file could not be read.
    #[error("line {line}: could not read {path}: {source}")]
    File {
        /// The template line (from 1).
        line: usize,
        /// The path as the template gives it.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
}

/// Renders `template` for `page`; `read_file` reads the file a `{{ tffile "path" }}` names.
/// The result ends with exactly one newline.
pub fn render(
    template: &str,
    page: &Page<'_>,
    read_file: &mut dyn FnMut(&str) -> std::io::Result<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let line = template.len() - rest.len() + start;
        let line = template[..line].matches('\n').count() + 1;
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed { line })?;
        let text = after[..end].trim();
        out.push_str(placeholder(text, line, page, read_file)?.trim_end());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let mut out = out.trim_end().to_string();
    out.push('\n');
    Ok(out)
}

/// The text of one placeholder.
fn placeholder(
    text: &str,
    line: usize,
    page: &Page<'_>,
    read_file: &mut dyn FnMut(&str) -> std::io::Result<String>,
) -> Result<String, TemplateError> {
    let unknown = || TemplateError::UnknownPlaceholder {
        line,
        text: text.to_string(),
    };
    if let Some(arg) = text.strip_prefix("tffile ") {
        let path = arg
            .trim()
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .ok_or_else(unknown)?;
        let content = read_file(path).map_err(|source| TemplateError::File {
            line,
            path: path.to_string(),
            source,
        })?;
        return Ok(format!("```terraform\n{}\n```", content.trim_end()));
    }
    Ok(match text {
        ".Name" => page.name.to_string(),
        ".Description" => page.schema.block.description.trim().to_string(),
        ".SchemaMarkdown" => schema_markdown(page),
        ".ArgumentsMarkdown" => arguments_markdown(page),
        ".NestedBlocksMarkdown" => nested_blocks_markdown(page),
        ".AttributesMarkdown" => attributes_markdown(page),
        _ => return Err(unknown()),
    })
}

/// `## Argument Reference` with the arguments and nested blocks, then `## Attribute Reference`
/// with the attributes.
pub fn schema_markdown(page: &Page<'_>) -> String {
    let mut out = format!("## Argument Reference\n\n{}\n", arguments_markdown(page));
    let nested = nested_blocks_markdown(page);
    if !nested.is_empty() {
        let _ = write!(out, "\n{nested}\n");
    }
    let _ = write!(
        out,
        "\n## Attribute Reference\n\n{}",
        attributes_markdown(page)
    );
    out
}

/// The arguments: every attribute the configuration may set (required or optional) and every
/// nested block, in name order, one list item each, after a sentence saying when none is
/// required. A nested block links to its section.
pub fn arguments_markdown(page: &Page<'_>) -> String {
    let sections = Sections::of(&page.schema.block);
    let block = &page.schema.block;
    let mut out = String::new();
    if !block.attributes.iter().any(|a| a.required)
        && !block.block_types.iter().any(|b| b.min_items > 0)
    {
        out.push_str("All arguments are optional.\n\n");
    }
    out.push_str(&fields(block, "", &sections, |a| a.required || a.optional));
    out
}

/// One section per nested block (at any depth), in the order the argument lists name them;
/// a block whose fields are those of an earlier one is named in that one's section instead.
pub fn nested_blocks_markdown(page: &Page<'_>) -> String {
    let sections = Sections::of(&page.schema.block);
    let mut out = String::new();
    for section in &sections.list {
        let _ = write!(
            out,
            "<a id=\"{}\"></a>\n### Nested Schema for `{}`\n\n",
            block_anchor(&section.path),
            section.path
        );
        if !section.aliases.is_empty() {
            let names: Vec<String> = section.aliases.iter().map(|a| format!("`{a}`")).collect();
            let _ = write!(out, "The same fields are in {}.\n\n", join_words(&names));
        }
        out.push_str(&fields(section.block, &section.path, &sections, |_| true));
        out.push_str("\n\n");
    }
    out.trim_end().to_string()
}

/// The attributes the provider sets (computed ones, optional or not), in name order; an
/// object-typed one (or a list, set or map of objects) links to a section listing its
/// objects' attributes, whose descriptions come from [`Page::object_attribute_descriptions`].
pub fn attributes_markdown(page: &Page<'_>) -> String {
    let sections = Sections::of(&page.schema.block);
    let block = &page.schema.block;
    let computed: Vec<&Attribute> = block.attributes.iter().filter(|a| a.computed).collect();
    if computed.is_empty() {
        return "No attributes beyond the arguments.".to_string();
    }
    let mut out = String::new();
    let mut objects = Vec::new();
    let mut sorted = computed;
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for a in sorted {
        let mut label = type_label(&a.ty);
        flags(&mut label, a.sensitive, a.deprecated, false, false);
        let mut text = a.description.trim().to_string();
        if let Some(object) = object_of(&a.ty) {
            let anchor = attribute_anchor(&a.name);
            let _ = write!(text, " (see [below for nested schema](#{anchor}))");
            objects.push((a.name.clone(), object));
        }
        item(&mut out, &a.name, &label, &text);
    }
    while let Some((path, object)) = objects.pop() {
        out.push('\n');
        let _ = write!(
            out,
            "<a id=\"{}\"></a>\n### Nested Schema for `{path}`\n\n",
            attribute_anchor(&path)
        );
        let mut inner = Vec::new();
        for (name, ty) in object {
            let here = format!("{path}.{name}");
            let mut text = page
                .object_attribute_descriptions
                .get(&here)
                .map(|d| d.trim().to_string())
                .unwrap_or_default();
            if let Some(fields) = object_of(ty) {
                let link = match sections.with_value_type(name, fields) {
                    Some(section) => format!(
                        "the fields of the [`{}` block](#{})",
                        section.path,
                        block_anchor(&section.path)
                    ),
                    None => {
                        inner.push((here.clone(), fields));
                        format!(
                            "see [below for nested schema](#{})",
                            attribute_anchor(&here)
                        )
                    }
                };
                text = with_note(&text, &format!("({link})"));
            }
            item(&mut out, name, &type_label(ty), &text);
        }
        // Depth first, in name order.
        objects.extend(inner.into_iter().rev());
    }
    out.trim_end().to_string()
}

/// The attributes of `ty` when it is an object or a list, set or map of objects.
fn object_of(ty: &Type) -> Option<&BTreeMap<String, Type>> {
    match ty {
        Type::Object(attrs) => Some(attrs),
        Type::List(el) | Type::Set(el) | Type::Map(el) => match &**el {
            Type::Object(attrs) => Some(attrs),
            _ => None,
        },
        _ => None,
    }
}

/// A block's attributes (those `pick` keeps) and nested blocks as list items, in name order.
fn fields(
    block: &Block,
    path: &str,
    sections: &Sections<'_>,
    pick: fn(&Attribute) -> bool,
) -> String {
    enum Field<'b> {
        Attribute(&'b Attribute),
        Block(&'b NestedBlock),
    }
    let mut all: Vec<(&str, Field<'_>)> = block
        .attributes
        .iter()
        .filter(|a| pick(a))
        .map(|a| (a.name.as_str(), Field::Attribute(a)))
        .chain(
            block
                .block_types
                .iter()
                .map(|b| (b.type_name.as_str(), Field::Block(b))),
        )
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (name, field) in all {
        match field {
            Field::Attribute(a) => {
                let mut label = type_label(&a.ty);
                flags(
                    &mut label,
                    a.sensitive,
                    a.deprecated,
                    a.required,
                    a.optional && a.computed,
                );
                item(&mut out, name, &label, a.description.trim());
            }
            Field::Block(b) => {
                let here = join_path(path, name);
                let anchor = sections
                    .anchor_of(&here)
                    .map(|p| block_anchor(&p))
                    .unwrap_or_else(|| block_anchor(&here));
                let mut label = block_label(b);
                flags(&mut label, false, b.block.deprecated, false, false);
                let link = format!("(see [below for nested schema](#{anchor}))");
                item(
                    &mut out,
                    name,
                    &label,
                    &with_note(b.block.description.trim(), &link),
                );
            }
        }
    }
    out.trim_end().to_string()
}

/// Appends `* `name` - (label) text`, continuation lines indented under the item (a markdown
/// list in a description becomes a nested list).
fn item(out: &mut String, name: &str, label: &str, text: &str) {
    let _ = write!(out, "* `{name}` - ({label})");
    let mut lines = text.lines();
    if let Some(first) = lines.next() {
        let _ = write!(out, " {first}");
    }
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = write!(out, "\n  {}", line.trim_end());
        }
    }
    out.push('\n');
}

fn flags(label: &mut String, sensitive: bool, deprecated: bool, required: bool, computed: bool) {
    for (on, word) in [
        (required, "Required"),
        (computed, "Computed"),
        (sensitive, "Sensitive"),
        (deprecated, "Deprecated"),
    ] {
        if on {
            let _ = write!(label, ", {word}");
        }
    }
}

/// A type as tfplugindocs names it: `String`, `List of String`, `Map of List of String`,
/// `List of Object`.
pub fn type_label(ty: &Type) -> String {
    match ty {
        Type::String => "String".to_string(),
        Type::Number => "Number".to_string(),
        Type::Bool => "Boolean".to_string(),
        Type::Dynamic => "Dynamic".to_string(),
        Type::List(el) => format!("List of {}", type_label(el)),
        Type::Set(el) => format!("Set of {}", type_label(el)),
        Type::Map(el) => format!("Map of {}", type_label(el)),
        Type::Object(_) => "Object".to_string(),
        Type::Tuple(_) => "Tuple".to_string(),
    }
}

/// A nested block's kind and item limits: `Block List, Max: 1`, `Block Set, Min: 1`, `Block`.
fn block_label(b: &NestedBlock) -> String {
    let mut label = match b.nesting {
        Nesting::Single => "Block, Optional".to_string(),
        Nesting::Group => "Block".to_string(),
        Nesting::List => "Block List".to_string(),
        Nesting::Set => "Block Set".to_string(),
        Nesting::Map => "Block Map".to_string(),
    };
    if matches!(b.nesting, Nesting::List | Nesting::Set | Nesting::Map) {
        if b.min_items > 0 {
            let _ = write!(label, ", Min: {}", b.min_items);
        }
        if b.max_items > 0 {
            let _ = write!(label, ", Max: {}", b.max_items);
        }
    }
    label
}

/// `text` followed by `note`, or `note` alone when there is no text.
fn with_note(text: &str, note: &str) -> String {
    if text.is_empty() {
        note.to_string()
    } else {
        format!("{text} {note}")
    }
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn block_anchor(path: &str) -> String {
    format!("nestedblock--{}", path.replace('.', "--"))
}

fn attribute_anchor(path: &str) -> String {
    format!("nestedatt--{}", path.replace('.', "--"))
}

/// `a`, `a and b`, `a, b and c`.
fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The nested block sections of a schema: one per distinct block content.
struct Sections<'b> {
    list: Vec<Section<'b>>,
    /// Each nested block's path, to the index of the section describing it.
    by_path: BTreeMap<String, usize>,
}

struct Section<'b> {
    /// The path of the first block with these fields, e.g. `tags.definition`.
    path: String,
    block: &'b Block,
    /// The paths of the later blocks with the same fields.
    aliases: Vec<String>,
}

impl<'b> Sections<'b> {
    fn of(top: &'b Block) -> Sections<'b> {
        let mut sections = Sections {
            list: Vec::new(),
            by_path: BTreeMap::new(),
        };
        sections.walk(top, "");
        sections
    }

    /// Depth first, in name order (the order the argument lists use).
    fn walk(&mut self, block: &'b Block, path: &str) {
        let mut nested: Vec<&NestedBlock> = block.block_types.iter().collect();
        nested.sort_by(|a, b| a.type_name.cmp(&b.type_name));
        for nb in nested {
            let here = join_path(path, &nb.type_name);
            let same = self
                .list
                .iter()
                .position(|s| same_fields(s.block, &nb.block));
            match same {
                Some(i) => {
                    self.list[i].aliases.push(here.clone());
                    self.by_path.insert(here, i);
                }
                None => {
                    self.by_path.insert(here.clone(), self.list.len());
                    self.list.push(Section {
                        path: here.clone(),
                        block: &nb.block,
                        aliases: Vec::new(),
                    });
                    self.walk(&nb.block, &here);
                }
            }
        }
    }

    /// The path whose section describes the block at `path`.
    fn anchor_of(&self, path: &str) -> Option<String> {
        self.by_path.get(path).map(|&i| self.list[i].path.clone())
    }

    /// The section of a top-level block whose value has the attributes `object`: the block
    /// named `name` if it has them, else the first with them.
    fn with_value_type(&self, name: &str, object: &BTreeMap<String, Type>) -> Option<&Section<'b>> {
        let matches =
            |s: &&Section<'b>| matches!(s.block.value_type(), Type::Object(ref a) if a == object);
        self.by_path
            .get(name)
            .map(|&i| &self.list[i])
            .filter(matches)
            .or_else(|| self.list.iter().find(matches))
    }
}

/// Whether two blocks have the same fields (attributes and nested blocks, with their
/// descriptions and flags); the blocks' own descriptions may differ.
fn same_fields(a: &Block, b: &Block) -> bool {
    a.attributes == b.attributes && a.block_types == b.block_types && a.deprecated == b.deprecated
}

/// What [`check_page`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCheck {
    /// The committed page is what the template renders.
    Same,
    /// The page differed (or was missing) and was rewritten.
    Updated,
}

/// Why [`check_page`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The committed page is not what the template renders.
    #[error(
        "{path} is not what its template and the schema render: first difference at line \
         {line}:\n  committed: {committed:?}\n  rendered:  {rendered:?}"
    )]
    Drift {
        /// The page.
        path: PathBuf,
        /// The first line (from 1) that differs.
        line: usize,
        /// That line of the committed page (empty past its end).
        committed: String,
        /// That line as rendered (empty past its end).
        rendered: String,
    },
    /// The page could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The page.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Compares the committed page at `path` with `rendered`; with `update`, rewrites a page that
/// differs (or is missing) instead of failing. For a drift test and its regeneration switch.
pub fn check_page(path: &Path, rendered: &str, update: bool) -> Result<PageCheck, PageError> {
    let io = |source| PageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    if committed == rendered {
        return Ok(PageCheck::Same);
    }
    if update {
        std::fs::write(path, rendered).map_err(io)?;
        return Ok(PageCheck::Updated);
    }
    let (mut ours, mut theirs) = (committed.lines(), rendered.lines());
    let mut line = 1;
    loop {
        match (ours.next(), theirs.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                return Err(PageError::Drift {
                    path: path.to_path_buf(),
                    line,
                    committed: a.unwrap_or_default().to_string(),
                    rendered: b.unwrap_or_default().to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
