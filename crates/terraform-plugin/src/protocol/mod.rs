//! tfplugin5 and tfplugin6 servers, both translating into the one [`api::Provider`].
//!
//! - [`api`]: the version-neutral requests, responses and the [`api::Provider`] trait.
//! - [`schema`]: schemas of the provider block and of data sources.
//! - [`budget`]: the results budget a read's response holds until it has been sent.
//! - [`limits`]: the largest budget and the gRPC message limits, one derived from the other.
//! - [`core`]: what each RPC does, version-neutral (decode, call the provider, encode).
//! - `convert`: one macro mapping neutral types to wire messages, expanded per version.
//! - `v5`, [`v6`]: the two thin gRPC adapters.
//! - `hold`, `splice`: a layer around both servers that keeps a read's share of the results
//!   budget until its response has been sent, and sends its state without copying it.

pub mod api;
pub mod budget;
mod convert;
pub mod core;
pub(crate) mod hold;
pub mod limits;
pub mod schema;
pub(crate) mod splice;
pub(crate) mod v5;
pub mod v6;

/// Generated tfplugin5 messages, server and client.
#[allow(clippy::all, missing_docs)]
pub mod tfplugin5 {
    include!("../generated/tfplugin5.rs");
}

/// Generated tfplugin6 messages, server and client.
#[allow(clippy::all, missing_docs)]
pub mod tfplugin6 {
    include!("../generated/tfplugin6.rs");
}

pub use limits::{
    MAX_DECODING_MESSAGE_SIZE, MAX_ENCODING_MESSAGE_SIZE, MAX_RESULTS_MIB_LIMIT, RESPONSE_SLACK,
};

#[cfg(test)]
mod tests {
    use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema, StringKind};
    use super::{tfplugin5 as pb5, tfplugin6 as pb6, v5, v6};
    use crate::cty::{AttributePath, Diagnostic, Diagnostics, Type};

    fn sample_schema() -> Schema {
        let inner = Block {
            attributes: vec![Attribute::computed("moid", Type::String, "The moid.")],
            ..Block::default()
        };
        Schema {
            version: 2,
            block: Block {
                attributes: vec![
                    Attribute::optional("secretkey", Type::String, "Key.").with_sensitive()
                ],
                block_types: vec![NestedBlock {
                    type_name: "user".into(),
                    block: inner,
                    nesting: Nesting::List,
                    min_items: 0,
                    max_items: 3,
                }],
                description: "d".into(),
                description_kind: StringKind::Plain,
                ..Block::default()
            },
        }
    }

    #[test]
    fn schema_maps_the_same_in_both_versions() {
        let s5 = v5::schema_out(&sample_schema());
        let s6 = v6::schema_out(&sample_schema());
        assert_eq!(s5.version, 2);
        assert_eq!(s6.version, 2);
        let (b5, b6) = (s5.block.unwrap(), s6.block.unwrap());
        let (a5, a6) = (&b5.attributes[0], &b6.attributes[0]);
        assert_eq!(
            (a5.name.as_str(), a5.sensitive, a5.optional),
            ("secretkey", true, true)
        );
        assert_eq!(
            (a6.name.as_str(), a6.sensitive, a6.optional),
            ("secretkey", true, true)
        );
        assert_eq!(a5.r#type, Type::String.to_json_bytes());
        assert_eq!(a5.description_kind, pb5::StringKind::Markdown as i32);
        assert_eq!(a6.description_kind, pb6::StringKind::Markdown as i32);
        assert!(a6.nested_type.is_none());
        assert_eq!(b5.description_kind, pb5::StringKind::Plain as i32);
        let (n5, n6) = (&b5.block_types[0], &b6.block_types[0]);
        assert_eq!(
            n5.nesting,
            pb5::schema::nested_block::NestingMode::List as i32
        );
        assert_eq!(
            n6.nesting,
            pb6::schema::nested_block::NestingMode::List as i32
        );
        assert_eq!((n5.min_items, n5.max_items), (0, 3));
        let inner = n6.block.as_ref().unwrap();
        assert_eq!(inner.attributes[0].name, "moid");
        assert!(inner.attributes[0].computed);
    }

    #[test]
    fn diagnostics_carry_severity_and_path_steps() {
        let mut diags = Diagnostics::new();
        diags.push(
            Diagnostic::warning("careful", "details")
                .at(AttributePath::attr("user").index(1).key("k")),
        );
        diags.push(Diagnostic::error("broken", ""));
        let d6 = v6::diagnostics_out(&diags);
        assert_eq!(d6[0].severity, pb6::diagnostic::Severity::Warning as i32);
        assert_eq!(d6[1].severity, pb6::diagnostic::Severity::Error as i32);
        assert_eq!(
            (d6[0].summary.as_str(), d6[0].detail.as_str()),
            ("careful", "details")
        );
        assert!(d6[1].attribute.is_none());
        use pb6::attribute_path::step::Selector;
        let steps: Vec<_> = d6[0]
            .attribute
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .map(|s| s.selector.clone().unwrap())
            .collect();
        assert_eq!(
            steps,
            [
                Selector::AttributeName("user".into()),
                Selector::ElementKeyInt(1),
                Selector::ElementKeyString("k".into())
            ]
        );
        let d5 = v5::diagnostics_out(&diags);
        assert_eq!(d5[0].severity, pb5::diagnostic::Severity::Warning as i32);
        assert_eq!(d5[0].attribute.as_ref().unwrap().steps.len(), 3);
    }

    #[test]
    fn metadata_lists_data_sources_with_capabilities() {
        let response = super::api::GetMetadataResponse {
            data_sources: vec!["example_thing".into()],
            diagnostics: Diagnostics::new(),
        };
        let m5 = v5::metadata_out(&response);
        assert_eq!(m5.data_sources[0].type_name, "example_thing");
        let caps = m5.server_capabilities.unwrap();
        assert!(!caps.plan_destroy && !caps.get_provider_schema_optional);
    }
}
