use super::ast::{CmpOp, Expr, Func, LambdaKind, Literal};
use super::eval::matches;
use super::query::{
    moid_order, parse_list_query, project, select_matching, select_matching_indices,
};
use super::{parse_filter, parse_filter_checked};
use proptest::prelude::*;
use serde_json::{json, Value};

fn token() -> Value {
    json!({
        "ClassId": "iam.OAuthToken",
        "ObjectType": "iam.OAuthToken",
        "Moid": "5f1e8d3c2b1a09f8e7d6c5b4",
        "ClientName": "O'Brien's app",
        "ClientId": "abc",
        "Count": 5,
        "Ratio": 2.5,
        "Enabled": true,
        "CreateTime": "2024-05-01T10:20:30.123Z",
        "ModTime": "2024-05-01T10:20:30Z",
        "Nothing": null,
        "User": {"ClassId": "mo.MoRef", "ObjectType": "iam.User", "Moid": "u1", "link": "https://x/api/v1/iam/Users/u1"},
        "Owners": ["acct", "u1"],
        "Tags": [
            {"Key": "Site", "Value": "London", "Type": "KeyValue", "SysTag": false, "Propagated": false,
             "AncestorDefinitions": [{"Moid": "d1"}, {"Moid": "d2"}]},
            {"Key": "Env", "Value": "prod", "Type": "KeyValue", "SysTag": true, "Propagated": false}
        ],
        "Ancestors": [{"Moid": "u1", "ObjectType": "iam.User"}, {"Moid": "a1", "ObjectType": "iam.Account"}],
        "DisplayNames": {"short": ["Zürich-Ops"]}
    })
}

fn check(filter: &str) -> bool {
    let expr = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    matches(&expr, &token())
}

#[test]
fn comparisons() {
    assert!(check("ClientId eq 'abc'"));
    assert!(!check("ClientId ne 'abc'"));
    assert!(check(
        "Count gt 4 and Count ge 5 and Count lt 6 and Count le 5"
    ));
    assert!(!check("Count gt 5"));
    assert!(check("Ratio eq 2.5 and Ratio gt 2"));
    assert!(check("Enabled eq true and not (Enabled eq false)"));
    assert!(check("Enabled"));
    assert!(check("ClientId gt 'abb' and ClientId lt 'abd'"));
}

#[test]
fn null_semantics() {
    assert!(check("Nothing eq null"));
    assert!(check("Missing eq null"));
    assert!(check("ClientId ne null"));
    assert!(!check("Nothing gt 1"));
    assert!(!check("Nothing lt 1"));
    // Type mismatch: eq is false, ne is true.
    assert!(!check("Count eq '5'"));
    assert!(check("Count ne '5'"));
}

#[test]
fn logic_and_precedence() {
    // and binds tighter than or.
    assert!(check("ClientId eq 'x' and Count eq 1 or Count eq 5"));
    assert!(!check("ClientId eq 'x' and (Count eq 1 or Count eq 5)"));
    assert!(check("not(ClientId eq 'x')"));
    assert!(check("not ClientId eq 'x'"));
    assert!(!check("not not ClientId eq 'x'"));
}

#[test]
fn functions_and_in() {
    assert!(check("contains(ClientName,'Brien')"));
    assert!(check("startswith(ClientName,'O''B')"));
    assert!(check("endswith(ClientName,'app')"));
    assert!(!check("contains(ClientName,'brien')"));
    assert!(check("contains(tolower(ClientName),'brien')"));
    assert!(check("toupper(ClientId) eq 'ABC'"));
    assert!(check("length(ClientId) eq 3 and length(Owners) eq 2"));
    assert!(check("ClientId in ('x','abc')"));
    assert!(!check("ClientId in ('x','y')"));
    assert!(check("Count in (1, 5)"));
}

#[test]
fn quoted_strings_escape_doubled_quotes() {
    assert!(check("ClientName eq 'O''Brien''s app'"));
    assert!(!check("ClientName eq 'O''Brien'"));
    let expr = parse_filter("ClientName eq ''''").unwrap();
    assert_eq!(
        expr,
        Expr::Compare(
            CmpOp::Eq,
            Box::new(Expr::Path(vec!["ClientName".into()])),
            Box::new(Expr::Literal(Literal::Str("'".into())))
        )
    );
    assert!(check("DisplayNames/short/any(s:s eq 'Zürich-Ops')"));
}

#[test]
fn paths_dot_and_slash() {
    assert!(check("User.Moid eq 'u1'"));
    assert!(check("User/Moid eq 'u1'"));
    assert!(check("User/ObjectType eq 'iam.User'"));
    assert!(check("User.Missing eq null"));
    assert_eq!(
        parse_filter("User.Moid eq 'a'").unwrap(),
        parse_filter("User/Moid eq 'a'").unwrap()
    );
}

#[test]
fn lambdas() {
    assert!(check("Tags/any(t:t/Key eq 'Site' and t/Value eq 'London')"));
    assert!(!check("Tags/any(t:t/Key eq 'Site' and t/Value eq 'prod')"));
    assert!(check("Owners/any(o:o eq 'acct')"));
    assert!(!check("Owners/any(o:o eq 'nobody')"));
    assert!(check("Tags/any()"));
    assert!(check("Tags/all(t:t/Type eq 'KeyValue')"));
    assert!(!check("Tags/all(t:t/SysTag eq true)"));
    // Nested lambdas see the outer variable.
    assert!(check(
        "Tags/any(t:t/AncestorDefinitions/any(d:d/Moid eq 'd2' and t/Key eq 'Site'))"
    ));
    assert!(!check(
        "Tags/any(t:t/AncestorDefinitions/any(d:d/Moid eq 'd2' and t/Key eq 'Env'))"
    ));
    assert!(check("Ancestors/any(a:a/ObjectType eq 'iam.Account')"));
    assert!(!check("Missing/any(a:a eq 1)"));
}

#[test]
fn datetimes_compare_as_instants() {
    assert!(check("CreateTime gt 2024-05-01T10:20:30Z"));
    assert!(check("CreateTime lt 2024-05-01T10:20:30.124Z"));
    assert!(check("CreateTime eq 2024-05-01T10:20:30.123000Z"));
    assert!(check("CreateTime eq 2024-05-01T12:20:30.123+02:00"));
    assert!(check("ModTime eq 2024-05-01T10:20:30.000Z"));
    // A quoted time is a string and compares as text.
    assert!(!check("ModTime eq '2024-05-01T10:20:30.000Z'"));
}

fn error(filter: &str) -> String {
    match parse_filter(filter) {
        Ok(expr) => panic!("{filter} parsed as {expr:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn syntax_errors_say_what_and_where() {
    assert_eq!(
        error("ClientId eq 'abc"),
        "unterminated string literal at offset 12"
    );
    assert_eq!(
        error("ClientId eq"),
        "expected a value, found the end of the filter at offset 11"
    );
    assert_eq!(
        error("ClientId eq 'a' and"),
        "expected a value, found the end of the filter at offset 19"
    );
    assert_eq!(
        error("(ClientId eq 'a'"),
        "expected ')', found the end of the filter at offset 16"
    );
    assert_eq!(
        error("ClientId eq 'a')"),
        "expected an operator or the end of the filter, found ')' at offset 15"
    );
    assert_eq!(
        error("frobnicate(ClientId)"),
        "unknown function 'frobnicate' at offset 0"
    );
    assert_eq!(
        error("contains(ClientId)"),
        "function 'contains' takes 2 argument(s), got 1 at offset 0"
    );
    assert_eq!(
        error("ClientId eq #"),
        "unexpected character '#' at offset 12"
    );
    assert_eq!(
        error("'abc'"),
        "the filter is not a boolean expression at offset 0"
    );
    assert_eq!(
        error("Count eq 5 and 7"),
        "operand of 'and' is not a boolean expression at offset 11"
    );
    assert_eq!(error(""), "empty filter at offset 0");
    assert_eq!(
        error("CreateTime gt 2024-13-01T00:00:00Z")
            .split(':')
            .next(),
        Some("invalid date-time literal 2024-13-01T00")
    );
    assert_eq!(
        error("Count eq 99999999999999999999"),
        "integer literal 99999999999999999999 is out of range at offset 9"
    );
    assert_eq!(
        error("Tags/all()"),
        "'all' needs a lambda expression at offset 5"
    );
    assert_eq!(
        error("eq eq 1"),
        "expected a value, found the keyword 'eq' at offset 0"
    );
}

#[test]
fn nesting_is_limited() {
    let deep = format!("{}Count eq 1{}", "(".repeat(200), ")".repeat(200));
    assert!(error(&deep).contains("nested deeper than 64 levels"));
    let nots = format!("{}Count eq 1", "not ".repeat(200));
    assert!(error(&nots).contains("nested deeper"));
}

#[test]
fn unknown_properties_are_rejected_outside_lambdas() {
    let known = |name: &str| matches!(name, "Tags" | "ClientId");
    assert!(parse_filter_checked("Tags/any(t:t/Key eq 'a') and ClientId eq 'x'", &known).is_ok());
    let err = parse_filter_checked("ClientID eq 'x'", &known).unwrap_err();
    assert_eq!(err.to_string(), "unknown property 'ClientID' at offset 0");
    // A lambda variable only exists inside its lambda.
    assert!(parse_filter_checked("Tags/any(t:t/Key eq 'a') and t/Key eq 'b'", &known).is_err());
}

fn items() -> Vec<Value> {
    vec![
        json!({"ClassId": "c", "ObjectType": "o", "Moid": "b", "Name": "two", "N": 2, "T": "2024-01-01T00:00:00.5Z"}),
        json!({"ClassId": "c", "ObjectType": "o", "Moid": "a", "Name": "one", "N": 1, "T": "2024-01-01T00:00:00.25Z"}),
        json!({"ClassId": "c", "ObjectType": "o", "Moid": "c", "Name": "three", "N": 2, "T": "2024-01-01T00:00:01Z"}),
        json!({"ClassId": "c", "ObjectType": "o", "Moid": "d", "Name": "four", "N": null}),
    ]
}

fn known(name: &str) -> bool {
    matches!(name, "Moid" | "Name" | "N" | "T" | "ClassId" | "ObjectType")
}

fn moids(query: &str) -> Vec<String> {
    let q = parse_list_query(Some(query), &known).unwrap();
    let all = items();
    select_matching(&q, &all)
        .into_iter()
        .skip(q.skip)
        .take(q.top)
        .map(|v| v["Moid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_presorted_moid_order_gives_what_sorting_gives() {
    // Moids out of order, one repeated (ties keep their original order), with filters.
    let all: Vec<serde_json::Value> = ["k", "b", "z", "b", "a", "m"]
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"Moid": m, "N": i}))
        .collect();
    let order = moid_order(&all);
    for text in [
        "$orderby=Moid",
        "$orderby=Moid&$filter=N gt 1",
        "$orderby=Moid desc",
        "$orderby=N desc",
        "$filter=N lt 4",
    ] {
        let q = parse_list_query(Some(text), &known).unwrap();
        assert_eq!(
            select_matching_indices(&q, &all, Some(&order)),
            select_matching_indices(&q, &all, None),
            "{text}"
        );
    }
    assert_eq!(order, [4, 1, 3, 0, 5, 2]);
}

#[test]
fn orderby_skip_top() {
    assert_eq!(moids(""), vec!["b", "a", "c", "d"]);
    assert_eq!(moids("$orderby=Moid"), vec!["a", "b", "c", "d"]);
    assert_eq!(moids("$orderby=Moid%20desc"), vec!["d", "c", "b", "a"]);
    assert_eq!(moids("$orderby=-Moid"), vec!["d", "c", "b", "a"]);
    // Nulls first, then ties broken by the second key.
    assert_eq!(moids("$orderby=N,Moid+desc"), vec!["d", "a", "c", "b"]);
    // Time strings with different precision order as instants.
    assert_eq!(
        moids("$orderby=T%20desc&$filter=T%20ne%20null"),
        vec!["c", "b", "a"]
    );
    assert_eq!(moids("$orderby=Moid&$skip=1&$top=2"), vec!["b", "c"]);
    assert_eq!(moids("$orderby=Moid&$skip=10"), Vec::<String>::new());
    assert_eq!(moids("%24filter=Name+eq+%27one%27"), vec!["a"]);
}

fn query_error(query: &str) -> String {
    parse_list_query(Some(query), &known).unwrap_err().0
}

#[test]
fn query_option_errors() {
    assert_eq!(
        query_error("$top=1001"),
        "$top 1001 exceeds the maximum of 1000"
    );
    assert_eq!(
        query_error("$top=-1"),
        "$top must be a non-negative integer, got '-1'"
    );
    assert_eq!(
        query_error("$skip=x"),
        "$skip must be a non-negative integer, got 'x'"
    );
    assert_eq!(
        query_error("$frobnicate=1"),
        "unknown query option $frobnicate"
    );
    assert_eq!(
        query_error("$top=1&$top=2"),
        "query option $top is given more than once"
    );
    assert_eq!(
        query_error("$count=yes"),
        "$count must be true or false, got 'yes'"
    );
    assert_eq!(
        query_error("$inlinecount=all"),
        "$inlinecount must be allpages or none, got 'all'"
    );
    assert_eq!(
        query_error("$orderby=Nope"),
        "$orderby names an unknown property 'Nope'"
    );
    assert_eq!(
        query_error("$orderby=Moid%20sideways"),
        "invalid $orderby direction 'sideways' (use asc or desc)"
    );
    assert_eq!(
        query_error("$select=Nope"),
        "$select names an unknown property 'Nope'"
    );
    assert_eq!(
        query_error("$expand=User"),
        "query option $expand is not supported by this simulator"
    );
    assert_eq!(
        query_error("$filter=Name%20eq"),
        "invalid $filter: expected a value, found the end of the filter at offset 7 in 'Name eq'"
    );
    assert_eq!(
        query_error("$filter=Nope%20eq%201"),
        "invalid $filter: unknown property 'Nope' at offset 0 in 'Nope eq 1'"
    );
}

#[test]
fn query_option_values() {
    let q = parse_list_query(
        Some("$count=True&$inlinecount=allpages&$top=1000&at=x"),
        &known,
    )
    .unwrap();
    assert!(q.count_only && q.inline_count && q.top == 1000);
    let q = parse_list_query(None, &known).unwrap();
    assert_eq!(
        (q.top, q.skip, q.count_only, q.inline_count),
        (100, 0, false, false)
    );
    let q = parse_list_query(Some("$select=Name"), &known).unwrap();
    assert_eq!(
        project(&q, &items()[0]).into_owned(),
        json!({"ClassId": "c", "ObjectType": "o", "Moid": "b", "Name": "two"})
    );
}

// ---- property tests ----

fn ident() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9_]{0,6}"
}

fn var_name() -> impl Strategy<Value = String> {
    "[t-z][0-9]?"
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::Str),
        any::<i64>().prop_map(Literal::Int),
        (prop::num::f64::NORMAL | prop::num::f64::ZERO).prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
        prop::sample::select(vec![
            "2024-05-01T10:20:30.123Z",
            "2018-06-20T05:31:38Z",
            "2030-01-01T00:00:00.123456+02:00",
        ])
        .prop_map(|text| {
            let instant =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            Literal::DateTime(text.to_string(), instant)
        }),
    ]
}

fn operand() -> impl Strategy<Value = Expr> {
    let path = prop::collection::vec(ident(), 1..3).prop_map(Expr::Path);
    let leaf = prop_oneof![literal().prop_map(Expr::Literal), path];
    leaf.prop_recursive(2, 4, 1, |inner| {
        (
            prop::sample::select(vec![Func::ToLower, Func::ToUpper, Func::Length]),
            inner,
        )
            .prop_map(|(func, arg)| Expr::Call(func, vec![arg]))
    })
}

fn predicate() -> impl Strategy<Value = Expr> {
    let ops = prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Lt,
        CmpOp::Le,
    ]);
    let leaf = prop_oneof![
        (ops, operand(), operand()).prop_map(|(op, l, r)| Expr::Compare(
            op,
            Box::new(l),
            Box::new(r)
        )),
        (operand(), prop::collection::vec(operand(), 1..4))
            .prop_map(|(v, items)| Expr::In(Box::new(v), items)),
        (
            prop::sample::select(vec![Func::Contains, Func::StartsWith, Func::EndsWith]),
            operand(),
            operand()
        )
            .prop_map(|(func, a, b)| Expr::Call(func, vec![a, b])),
        any::<bool>().prop_map(|b| Expr::Literal(Literal::Bool(b))),
        prop::collection::vec(ident(), 1..3).prop_map(Expr::Path),
        prop::collection::vec(ident(), 1..3).prop_map(|collection| Expr::Lambda {
            collection,
            kind: LambdaKind::Any,
            body: None
        }),
    ];
    leaf.prop_recursive(5, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Expr::Not(Box::new(a))),
            (
                prop::collection::vec(ident(), 1..3),
                prop::sample::select(vec![LambdaKind::Any, LambdaKind::All]),
                var_name(),
                inner
            )
                .prop_map(|(collection, kind, var, body)| Expr::Lambda {
                    collection,
                    kind,
                    body: Some((var, Box::new(body)))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn print_then_parse_round_trips(expr in predicate()) {
        let text = expr.to_string();
        let parsed = parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, expr, "{}", text);
    }

    #[test]
    fn evaluation_never_panics(expr in predicate()) {
        let _ = matches(&expr, &token());
        let _ = matches(&expr, &Value::Null);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_filter(&text);
    }

    #[test]
    fn parser_never_panics_on_token_soup(
        parts in prop::collection::vec(prop::sample::select(vec![
            "(", ")", ",", "/", ".", ":", "'", "''", " ", "eq", "and", "or", "not", "in", "any", "all",
            "Tags", "t", "contains", "1", "-", "2.5", "1e", "2024-05-01T", "2024-05-01T10:20:30Z", "null", "true", "'x'",
        ]), 0..30)
    ) {
        let text: String = parts.concat();
        let _ = parse_filter(&text);
    }

    #[test]
    fn list_query_never_panics(text in "[$a-z=&%0-9A-F+' ()]{0,40}") {
        let _ = parse_list_query(Some(&text), &|_| true);
    }
}
