//! Unit tests of [`super`].

use super::*;
use crate::provider::fields::{field, Cardinality, FieldKind, REF};
use crate::provider::test_values::{attribute_paths, object};

#[test]
fn go_durations_parse() {
    for (text, secs) in [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("2h45m10s", 9910.0),
        ("+5m", 300.0),
        (" 20m ", 1200.0),
    ] {
        let d = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!((d.as_secs_f64() - secs).abs() < 1e-9, "{text}: {d:?}");
    }
    for (text, words) in [
        ("", "empty"),
        ("10", "no unit"),
        ("10 minutes", "not a unit"),
        ("1d", "not a unit"),
        ("-5m", "negative"),
        ("0s", "zero"),
        ("m", "expected a number"),
        ("1..5s", "expected a number"),
        ("99999999999h", "too long"),
    ] {
        let e = parse_duration(text).expect_err(text);
        assert!(e.contains(words), "{text}: {e}");
    }
}

#[test]
fn durations_format_as_written() {
    assert_eq!(
        format_duration(DEFAULT_READ_TIMEOUT),
        DEFAULT_READ_TIMEOUT_TEXT
    );
    assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    // Below a second and with fractions, every digit and a unit (never "0.s").
    for (d, text) in [
        (Duration::from_nanos(1), "1ns"),
        (Duration::from_nanos(999), "999ns"),
        (Duration::from_nanos(1_500), "1.5us"),
        (Duration::from_micros(250), "250us"),
        (Duration::from_millis(300), "300ms"),
        (Duration::from_nanos(1_000_001), "1.000001ms"),
        (Duration::from_nanos(1_000_400_000), "1.0004s"),
        (Duration::new(5400, 1), "5400.000000001s"),
    ] {
        assert_eq!(format_duration(d), text, "{d:?}");
        assert_eq!(parse_duration(text).unwrap(), d, "{text}");
    }
    assert_eq!(
        parse_duration(DEFAULT_READ_TIMEOUT_TEXT).unwrap(),
        DEFAULT_READ_TIMEOUT
    );
}

const THINGS: &[Field] = &[
    field("name", FieldKind::String, "The name."),
    field("when", FieldKind::DateTime, "When."),
    crate::provider::fields::block("owner", Cardinality::AtMostOne, REF, "The owner."),
];
static THING: ListDeclaration = things("test_thing", THINGS);

/// A declaration of `test/Things` with `fields`, among them `name` and the block `owner`
/// (its examples name them).
const fn things(type_name: &'static str, fields: &'static [Field]) -> ListDeclaration {
    ListDeclaration {
        type_name,
        description: "Things.",
        resource: "test/Things",
        object_type: "test.Thing",
        fields,
        examples: Examples {
            string_field: "name",
            value: "n",
            block: "owner",
            readable_as: "things",
        },
    }
}

#[test]
fn everything_is_derived_from_the_declaration() {
    let ds = ListDataSource::new(&THING);
    let block = &ds.schema().block;
    let names: Vec<&str> = block.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["filter", "id", "name", "results", "select", "when"]);
    let blocks: Vec<&str> = block
        .block_types
        .iter()
        .map(|b| b.type_name.as_str())
        .collect();
    assert_eq!(blocks, ["owner", "timeouts"]);
    let timeouts = block.block_type(TIMEOUTS).unwrap();
    assert_eq!(timeouts.nesting, Nesting::Single);
    assert!(timeouts.block.attribute(TIMEOUTS_READ).unwrap().optional);
    // the results element: the fields plus display_names
    let Type::Object(element) = ds.results_element_type() else {
        panic!()
    };
    assert_eq!(
        element.keys().map(String::as_str).collect::<Vec<_>>(),
        ["display_names", "name", "owner", "when"]
    );
    assert_eq!(
        block.attribute(RESULTS).unwrap().ty,
        Type::list(ds.results_element_type())
    );
    // date-times say RFC 3339 in their description
    assert!(block
        .attribute("when")
        .unwrap()
        .description
        .contains("RFC 3339"));
    assert_eq!(ds.config_type(), &block.value_type());
}

#[test]
fn every_invalid_argument_is_reported_in_one_run() {
    let ds = ListDataSource::new(&THING);
    let config = object([
        ("when", Value::string("2024-05-01 10:20:30")),
        ("filter", Value::string("Name eq 'unclosed")),
        (
            TIMEOUTS,
            object([(TIMEOUTS_READ, Value::string("ten minutes"))]),
        ),
    ]);
    let d = ds.validate(&config);
    assert_eq!(
        attribute_paths(&d),
        ["when", "timeouts.read", "filter"],
        "{d:?}"
    );
    assert!(d.iter().all(|d| d.severity == Severity::Error));
    let filter = &d.0[2];
    assert_eq!(filter.summary, "Invalid filter expression");
    assert!(
        filter.detail.contains("`filter` is not a valid OData"),
        "{}",
        filter.detail
    );
    assert!(!filter.detail.contains("use the `filter` argument"));
    assert!(
        d.0[1].detail.contains("\"ten minutes\""),
        "{}",
        d.0[1].detail
    );
}

#[test]
fn a_query_too_long_for_a_url_is_an_error_on_the_argument_that_makes_it_long() {
    let ds = ListDataSource::new(&THING);
    let ids: Vec<String> = (0..3000).map(|i| format!("'{i:024x}'")).collect();
    let moid_in = format!("Moid in ({})", ids.join(","));
    let too_long = |config: &Value| -> Diagnostic {
        let d = ds.validate(config);
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(d.0[0].summary, "Query too long", "{d:?}");
        d.0[0].clone()
    };
    let d = too_long(&object([(FILTER, Value::string(&moid_in))]));
    assert_eq!(d.summary, "Query too long");
    assert_eq!(d.attribute, Some(AttributePath::attr(FILTER)));
    assert!(
        d.detail.contains("more than the 61440 bytes"),
        "{}",
        d.detail
    );
    assert!(
        d.detail.contains("`filter` takes 99027 bytes") && d.detail.contains("\"(Moid in ('"),
        "{}",
        d.detail
    );
    // A few hundred characters, whatever the argument's size (it was the whole URL).
    assert!(d.detail.chars().count() < 800, "{}", d.detail);
    assert!(!d.detail.contains(&ids[100]), "{}", d.detail);
    // Another argument that is longer than `filter` is the one named.
    let d = too_long(&object([
        (FILTER, Value::string("ClientName eq 'x'")),
        ("name", Value::string("n".repeat(70_000))),
    ]));
    assert_eq!(d.attribute, Some(AttributePath::attr("name")), "{d:?}");
    assert!(d.detail.contains("`name` takes 700"), "{}", d.detail);
    // Several arguments that fit alone but not together: the longest is named.
    let d = too_long(&object([
        (
            FILTER,
            Value::string(format!("Moid in ({})", ids[..1200].join(","))),
        ),
        ("name", Value::string("n".repeat(25_000))),
    ]));
    assert_eq!(d.attribute, Some(AttributePath::attr(FILTER)), "{d:?}");
    // What the advice says: about 1,860 Moids fill a request (without a `select`).
    let moids = |n: usize| {
        object([(
            FILTER,
            Value::string(format!("Moid in ({})", ids[..n].join(","))),
        )])
    };
    assert!(ds.validate(&moids(1850)).is_empty());
    assert_eq!(
        too_long(&moids(1870)).attribute,
        Some(AttributePath::attr(FILTER))
    );
    // Exactly at the bound: valid.
    let fits = |pad: usize| object([("name", Value::string("n".repeat(pad)))]);
    let query = |pad: usize| ListQuery {
        filter: build_filter(ds.query_spec(), &fits(pad), &mut Diagnostics::new()).unwrap(),
        ..ListQuery::new(THING.resource)
    };
    let base = query(0).longest_request_target().unwrap();
    let pad = MAX_REQUEST_TARGET_BYTES - base;
    assert_eq!(
        query(pad).longest_request_target().unwrap(),
        MAX_REQUEST_TARGET_BYTES
    );
    assert!(ds.validate(&fits(pad)).is_empty());
    assert_eq!(
        too_long(&fits(pad + 1)).attribute,
        Some(AttributePath::attr("name"))
    );
    // A `select` counts: `$select` is part of every page request.
    let selected = object([
        ("name", Value::string("n".repeat(pad))),
        (SELECT, Value::Set(vec![Value::string("when")])),
    ]);
    assert_eq!(
        too_long(&selected).attribute,
        Some(AttributePath::attr("name"))
    );
}

#[test]
fn selector_is_left_to_the_read_and_timeouts_are_not_filters() {
    let ds = ListDataSource::new(&THING);
    let config = object([
        (
            "owner",
            Value::List(vec![object([("selector", Value::string("Name eq 'x'"))])]),
        ),
        (TIMEOUTS, object([(TIMEOUTS_READ, Value::string("5m"))])),
    ]);
    assert!(ds.validate(&config).is_empty());
    let mut built = Diagnostics::new();
    let filter = build_filter(ds.query_spec(), &config, &mut built);
    assert_eq!(filter, Ok(None), "neither selector nor timeouts filter");
    assert_eq!(built.0.len(), 1, "{built:?}");
    assert!(built.0[0].detail.contains("ignored"));
    assert_eq!(read_timeout(&config).unwrap(), Duration::from_secs(300));
    assert_eq!(read_timeout(&Value::Null).unwrap(), DEFAULT_READ_TIMEOUT);
    let unknown = object([(TIMEOUTS, object([(TIMEOUTS_READ, Value::unknown())]))]);
    assert!(ds.validate(&unknown).is_empty());
}

#[test]
fn select_names_results_attributes_with_a_hint_for_typos() {
    let ds = ListDataSource::new(&THING);
    let element = &*ds.0;
    let set = |names: &[&str]| {
        object([(
            SELECT,
            Value::Set(names.iter().map(|n| Value::string(*n)).collect()),
        )])
    };
    assert_eq!(selection(element, &object([])).unwrap(), None);
    assert_eq!(
        selection(element, &set(&["name", "owner"])).unwrap(),
        Some(["name".to_string(), "owner".to_string()].into())
    );
    let unknown = object([(
        SELECT,
        Value::Set(vec![Value::string("name"), Value::unknown()]),
    )]);
    assert_eq!(selection(element, &unknown).unwrap(), None);
    let e = selection(element, &set(&["nmae", "whne", "zzzzzz"])).unwrap_err();
    assert_eq!(e.attribute, Some(AttributePath::attr(SELECT)));
    assert!(
        e.detail.contains("\"nmae\" (did you mean \"name\"?)"),
        "{}",
        e.detail
    );
    assert!(
        e.detail.contains("\"whne\" (did you mean \"when\"?)"),
        "{}",
        e.detail
    );
    assert!(e.detail.contains("\"zzzzzz\". "), "{}", e.detail);
    assert!(
        e.detail
            .contains("Selectable: display_names, name, owner, when"),
        "{}",
        e.detail
    );
    let d = ds.validate(&set(&["Name"]));
    assert!(d.0[0].detail.contains("did you mean \"name\""), "{d:?}");
}

#[path = "derived_tests.rs"]
mod derived;

/// A table where one name means different things at different depths: what the declaration
/// says of each field decides, not its name.
const DETAIL: &[Field] = &[
    field("selector", FieldKind::String, "Not write-only here."),
    field("when", FieldKind::String, "Not a date-time here."),
];
const PER_FIELD: &[Field] = &[
    field("name", FieldKind::String, "The name."),
    field("count", FieldKind::Integer, "How many."),
    field("when", FieldKind::DateTime, "When."),
    crate::provider::fields::block("detail", Cardinality::AtMostOne, DETAIL, "Detail."),
    crate::provider::fields::block("owner", Cardinality::AtMostOne, REF, "The owner."),
];
static PER_FIELD_THING: ListDeclaration = things("test_per_field", PER_FIELD);

#[test]
fn kinds_and_write_only_are_the_declared_fields_not_their_names() {
    let ds = ListDataSource::new(&PER_FIELD_THING);
    let config = object([
        ("when", Value::string("2024-05-01T10:20:30Z")),
        ("count", Value::Number(crate::cty::Number::Int(3))),
        (
            "detail",
            Value::List(vec![object([
                ("selector", Value::string("s")),
                ("when", Value::string("soon")),
            ])]),
        ),
        (
            "owner",
            Value::List(vec![object([("selector", Value::string("Name eq 'x'"))])]),
        ),
    ]);
    assert!(
        ds.validate(&config).is_empty(),
        "{:?}",
        ds.validate(&config)
    );
    let mut diags = Diagnostics::new();
    let filter = build_filter(ds.query_spec(), &config, &mut diags)
        .unwrap()
        .unwrap();
    assert_eq!(
        Filter::render(&filter),
        "Count eq 3 and When eq 2024-05-01T10:20:30Z and Detail.Selector eq 's' and \
         Detail.When eq 'soon'"
    );
    // Only the reference's `selector` is write-only: one warning, at its path.
    assert_eq!(diags.0.len(), 1, "{diags:?}");
    assert_eq!(
        diags.0[0].attribute,
        Some(AttributePath::attr("owner").index(0).attribute("selector"))
    );
    // An integer field takes whole numbers only.
    let d = ds.validate(&object([(
        "count",
        Value::Number(crate::cty::Number::Float(1.5)),
    )]));
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("count")));
}

#[test]
fn example_text_in_generic_messages_comes_from_the_declaration() {
    let ds = ListDataSource::new(&PER_FIELD_THING);
    let block = &ds.schema().block;
    let filter = &block.attribute(FILTER).unwrap().description;
    assert!(filter.contains("`startswith(Name,'n')`"), "{filter}");
    let select = &block.attribute(SELECT).unwrap().description;
    assert!(select.contains("`[\"name\", \"owner\"]`"), "{select}");
    // No additional-properties field here: nothing to say about selecting it.
    assert!(!select.contains("cannot be selected"), "{select}");
    let d = ds.validate(&object([(FILTER, Value::string(" "))]));
    assert!(d.0[0].detail.contains("such as `Name eq 'n'`"), "{d:?}");
    let d = ds.validate(&object([(FILTER, Value::string("Name eq 'x"))]));
    assert!(d.0[0].detail.contains("e.g. `Name eq 'n' and"), "{d:?}");
    let subject = ds.0.read_subject();
    assert_eq!(subject.example_property, "Name");
    assert_eq!(subject.readable_as, "things");
    let text = crate::provider::errors::advice(403, &subject);
    assert!(text.contains("can read things"), "{text}");
    assert!(!text.contains("IAM"), "{text}");
    for text in [filter, select] {
        assert!(!text.contains("ClientName") && !text.contains("client_name"));
    }
}

/// A test-only table whose `ipv4_address` is the API's `IPv4Address` (the rule would say
/// `Ipv4Address`), at top level and in a nested block.
const ADDRESSED: &[Field] = &[
    crate::provider::fields::MOID,
    crate::provider::fields::CONCRETE_OBJECT_TYPE,
    crate::provider::fields::ADDITIONAL_PROPERTIES,
    field("name", FieldKind::String, "The name."),
    field("ipv4_address", FieldKind::String, "The address.").with_property("IPv4Address"),
    crate::provider::fields::block("owner", Cardinality::AtMostOne, ADDRESSED_OWNER, "Owner."),
];
const ADDRESSED_OWNER: &[Field] =
    &[field("ipv4_address", FieldKind::String, "Its address.").with_property("IPv4Address")];
static ADDRESSED_THING: ListDeclaration = ListDeclaration {
    type_name: "test_addressed_thing",
    description: "Things with addresses.",
    resource: "test/Things",
    object_type: "test.Thing",
    fields: ADDRESSED,
    examples: Examples {
        string_field: "ipv4_address",
        value: "10.0.0.1",
        block: "owner",
        readable_as: "things",
    },
};

/// A declared property is the one the read decodes, the filter names and `select` requests
/// (and the example in the messages names): each breaks on its own if it used the rule.
#[test]
fn a_declared_property_is_used_by_decode_filter_and_select() {
    assert_eq!(crate::provider::declaration::check(&ADDRESSED_THING), []);
    let ds = ListDataSource::new(&ADDRESSED_THING);
    // Decode.
    let flat = flatten::flatten_object(
        &ds.plan(),
        r#"{"Moid":"m","ObjectType":"test.Thing","IPv4Address":"10.0.0.1",
            "Owner":{"IPv4Address":"10.0.0.2"},"Ipv4Address":"by the rule"}"#,
    )
    .unwrap();
    let element = crate::cty::msgpack::decode(&flat.msgpack, &ds.results_element_type()).unwrap();
    assert_eq!(
        element.get_attr("ipv4_address"),
        Some(&Value::string("10.0.0.1"))
    );
    let owner = &element
        .get_attr("owner")
        .and_then(Value::as_elements)
        .unwrap()[0];
    assert_eq!(
        owner.get_attr("ipv4_address"),
        Some(&Value::string("10.0.0.2"))
    );
    assert_eq!(
        element.get_attr("additional_properties"),
        Some(&Value::string(r#"{"Ipv4Address":"by the rule"}"#))
    );
    // Filter.
    let config = object([
        ("ipv4_address", Value::string("10.0.0.1")),
        (
            "owner",
            Value::List(vec![object([("ipv4_address", Value::string("10.0.0.2"))])]),
        ),
    ]);
    let mut diags = Diagnostics::new();
    let filter = build_filter(ds.query_spec(), &config, &mut diags)
        .unwrap()
        .unwrap();
    assert_eq!(
        Filter::render(&filter),
        "IPv4Address eq '10.0.0.1' and Owner.IPv4Address eq '10.0.0.2'"
    );
    // Select.
    let selected = BTreeSet::from(["ipv4_address".to_string()]);
    assert_eq!(
        selected_properties(ds.results_fields(), &selected),
        ["IPv4Address", "Moid", "ObjectType"]
    );
    // The example in the generic messages.
    assert_eq!(ds.0.read_subject().example_property, "IPv4Address");
}
