//! Conversions between the version-neutral types and the generated wire messages.
//!
//! tfplugin5 and tfplugin6 share most message shapes under the same names (Diagnostic,
//! AttributePath, Schema.Block, Schema.NestedBlock, DynamicValue, ServerCapabilities,
//! GetMetadata, GetProviderSchema), but they are distinct generated types. One macro holds
//! the mapping once and is expanded per version; fields a version adds (v6's
//! `Attribute.nested_type`, `write_only` under different numbers) stay at their defaults.

/// Expands, in the calling module, the wire conversions for the generated module `$pb`.
macro_rules! wire_conversions {
    ($pb:ident) => {
        use $crate::cty::{AttributePath, Diagnostics, PathStep, Severity};
        use $crate::protocol::api::{GetMetadataResponse, GetProviderSchemaResponse};
        use $crate::protocol::core::WireValue;
        use $crate::protocol::schema::{
            Attribute, Block, NestedBlock, Nesting, Schema, StringKind,
        };

        pub(crate) fn diagnostics_out(diagnostics: &Diagnostics) -> Vec<$pb::Diagnostic> {
            diagnostics
                .iter()
                .map(|d| $pb::Diagnostic {
                    severity: (match d.severity {
                        Severity::Error => $pb::diagnostic::Severity::Error,
                        Severity::Warning => $pb::diagnostic::Severity::Warning,
                    }) as i32,
                    summary: d.summary.clone(),
                    detail: d.detail.clone(),
                    attribute: d.attribute.as_ref().map(attribute_path_out),
                })
                .collect()
        }

        pub(crate) fn attribute_path_out(path: &AttributePath) -> $pb::AttributePath {
            use $pb::attribute_path::{step::Selector, Step};
            $pb::AttributePath {
                steps: path
                    .0
                    .iter()
                    .map(|step| Step {
                        selector: Some(match step {
                            PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                            PathStep::ElementKeyString(key) => {
                                Selector::ElementKeyString(key.clone())
                            }
                            PathStep::ElementKeyInt(index) => Selector::ElementKeyInt(*index),
                        }),
                    })
                    .collect(),
            }
        }

        fn string_kind_out(kind: StringKind) -> i32 {
            (match kind {
                StringKind::Plain => $pb::StringKind::Plain,
                StringKind::Markdown => $pb::StringKind::Markdown,
            }) as i32
        }

        fn attribute_out(a: &Attribute) -> $pb::schema::Attribute {
            $pb::schema::Attribute {
                name: a.name.clone(),
                r#type: a.ty.to_json_bytes(),
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: string_kind_out(a.description_kind),
                deprecated: a.deprecated,
                ..Default::default()
            }
        }

        fn nested_block_out(nb: &NestedBlock) -> $pb::schema::NestedBlock {
            use $pb::schema::nested_block::NestingMode;
            $pb::schema::NestedBlock {
                type_name: nb.type_name.clone(),
                block: Some(block_out(&nb.block)),
                nesting: (match nb.nesting {
                    Nesting::Single => NestingMode::Single,
                    Nesting::List => NestingMode::List,
                    Nesting::Set => NestingMode::Set,
                    Nesting::Map => NestingMode::Map,
                    Nesting::Group => NestingMode::Group,
                }) as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            }
        }

        fn block_out(b: &Block) -> $pb::schema::Block {
            $pb::schema::Block {
                version: b.version,
                attributes: b.attributes.iter().map(attribute_out).collect(),
                block_types: b.block_types.iter().map(nested_block_out).collect(),
                description: b.description.clone(),
                description_kind: string_kind_out(b.description_kind),
                deprecated: b.deprecated,
            }
        }

        pub(crate) fn schema_out(s: &Schema) -> $pb::Schema {
            $pb::Schema {
                version: s.version,
                block: Some(block_out(&s.block)),
            }
        }

        /// What this provider tells Terraform it needs: a schema call before use, no destroy plans.
        pub(crate) fn server_capabilities() -> $pb::ServerCapabilities {
            $pb::ServerCapabilities {
                plan_destroy: false,
                get_provider_schema_optional: false,
                ..Default::default()
            }
        }

        pub(crate) fn provider_schema_out(
            r: &GetProviderSchemaResponse,
        ) -> $pb::get_provider_schema::Response {
            $pb::get_provider_schema::Response {
                provider: Some(schema_out(&r.provider)),
                data_source_schemas: r
                    .data_sources
                    .iter()
                    .map(|(name, schema)| (name.clone(), schema_out(schema)))
                    .collect(),
                diagnostics: diagnostics_out(&r.diagnostics),
                server_capabilities: Some(server_capabilities()),
                ..Default::default()
            }
        }

        pub(crate) fn metadata_out(r: &GetMetadataResponse) -> $pb::get_metadata::Response {
            $pb::get_metadata::Response {
                server_capabilities: Some(server_capabilities()),
                diagnostics: diagnostics_out(&r.diagnostics),
                data_sources: r
                    .data_sources
                    .iter()
                    .map(|name| $pb::get_metadata::DataSourceMetadata {
                        type_name: name.clone(),
                    })
                    .collect(),
                ..Default::default()
            }
        }

        pub(crate) fn value_in(value: Option<$pb::DynamicValue>) -> Option<WireValue> {
            value.map(|v| WireValue {
                msgpack: v.msgpack,
                json: v.json,
            })
        }

        /// The response to a read. Its state travels beside the message, in the response's
        /// extensions, and is spliced into it as it is sent ([`$crate::protocol::splice`]):
        /// no copy of it is made. The read's share of the results budget rides along.
        pub(crate) fn read_data_source_out(
            outcome: $crate::protocol::core::ReadOutcome,
        ) -> tonic::Response<$pb::read_data_source::Response> {
            let mut response = tonic::Response::new($pb::read_data_source::Response {
                state: None,
                diagnostics: diagnostics_out(&outcome.diagnostics),
                deferred: None,
            });
            if let Some(state) = outcome.state {
                response.extensions_mut().insert(state);
            }
            if let Some(share) = outcome.share {
                response.extensions_mut().insert(share);
            }
            response
        }
    };
}

pub(crate) use wire_conversions;
