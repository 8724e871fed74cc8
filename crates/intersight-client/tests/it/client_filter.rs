//! Filter rendering: the exact text for each shape, and proof with a small OData tokenizer that
//! hostile values never change the structure of the query.

use intersight_client::filter::{
    DateTime, Filter, FilterError, Literal, Number, Property, RawFilter,
};
use intersight_client::paging::{encode_query, page_path};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name, path or keyword.
    Word(String),
    /// A string literal, decoded.
    Str(String),
    Open,
    Close,
    Colon,
}

fn w(s: &str) -> Tok {
    Tok::Word(s.to_string())
}
fn s(v: &str) -> Tok {
    Tok::Str(v.to_string())
}

/// OData lexical structure as far as this client renders it.
fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            ' ' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    assert!(i < chars.len(), "unterminated string in {text:?}");
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            value.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                out.push(Tok::Str(value));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '(' | ')' | ':' | '\'') {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    out
}

fn eq(path: &str, v: &str) -> Filter {
    Filter::eq(path, Literal::string(v)).unwrap()
}

const HOSTILE: &[&str] = &[
    "",
    "'",
    "''",
    "O'Brien",
    "x') or (1 eq 1",
    "x' or 1 eq 1 or 'a' eq 'a",
    " or 1 eq 1",
    ") or (",
    "and",
    "Tags/any(t:true)",
    "ü日本🚀",
    "\\'",
    "%27 or %271%27 eq %271",
    "a\nb\tc",
    "$filter=Moid eq 'x'&$top=1",
    "'); DROP TABLE x; --",
];

#[test]
fn shapes_render_exactly() {
    let cases: Vec<(Filter, &str)> = vec![
        (eq("ClientName", "c"), "ClientName eq 'c'"),
        (eq("User.Moid", "u"), "User.Moid eq 'u'"),
        (eq("User/Moid", "u"), "User.Moid eq 'u'"),
        (eq("Name", "O'Brien"), "Name eq 'O''Brien'"),
        (
            Filter::and([eq("A", "1"), eq("B.C", "2")]),
            "A eq '1' and B.C eq '2'",
        ),
        (
            Filter::eq(
                "CreateTime",
                Literal::DateTime(DateTime::parse("2018-06-20T05:31:38.862Z").unwrap()),
            )
            .unwrap(),
            "CreateTime eq 2018-06-20T05:31:38.862Z",
        ),
        (
            Filter::eq("SysTag", Literal::Bool(true)).unwrap(),
            "SysTag eq true",
        ),
        (
            Filter::eq("SysTag", Literal::Bool(false)).unwrap(),
            "SysTag eq false",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from(5))).unwrap(),
            "N eq 5",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from(-7))).unwrap(),
            "N eq -7",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from_f64(2.5).unwrap())).unwrap(),
            "N eq 2.5",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from_f64(1e21).unwrap())).unwrap(),
            "N eq 1e21",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from_f64(-9.2e18).unwrap())).unwrap(),
            "N eq -9200000000000000000",
        ),
        (
            Filter::eq(
                "N",
                Literal::Number(Number::from_f64(-9.534557499881747e293).unwrap()),
            )
            .unwrap(),
            "N eq -9.534557499881747e293",
        ),
        (
            Filter::eq("N", Literal::Number(Number::from_f64(5.0).unwrap())).unwrap(),
            "N eq 5",
        ),
        (
            Filter::any("Tags", Filter::and([eq("Key", "k"), eq("Value", "v")])).unwrap(),
            "Tags/any(t:t/Key eq 'k' and t/Value eq 'v')",
        ),
        (
            Filter::Any {
                collection: Property::parse("Owners").unwrap(),
                predicate: Box::new(Filter::Eq(Property::it(), Literal::string("x"))),
            },
            "Owners/any(o:o eq 'x')",
        ),
        (
            Filter::any("Ancestors", eq("ObjectType", "iam.User")).unwrap(),
            "Ancestors/any(a:a/ObjectType eq 'iam.User')",
        ),
        (
            Filter::any("VersionContext.InterestedMos", eq("Moid", "m")).unwrap(),
            "VersionContext/InterestedMos/any(i:i/Moid eq 'm')",
        ),
        (
            Filter::any(
                "Tags",
                Filter::any("AncestorDefinitions", eq("Moid", "m")).unwrap(),
            )
            .unwrap(),
            "Tags/any(t:t/AncestorDefinitions/any(a:a/Moid eq 'm'))",
        ),
        // Same initial letter nested: the inner variable gets a suffix.
        (
            Filter::any(
                "Tags",
                Filter::and([eq("Key", "k"), Filter::any("Tags", eq("Key", "j")).unwrap()]),
            )
            .unwrap(),
            "Tags/any(t:t/Key eq 'k' and t/Tags/any(t1:t1/Key eq 'j'))",
        ),
        (
            Filter::any(
                "Tags",
                Filter::any("Tags", Filter::any("Tags", eq("Key", "j")).unwrap()).unwrap(),
            )
            .unwrap(),
            "Tags/any(t:t/Tags/any(t1:t1/Tags/any(t2:t2/Key eq 'j')))",
        ),
        (Filter::any("Tags", Filter::and([])).unwrap(), "Tags/any()"),
        (
            Filter::raw("A eq 1 or B eq 2").unwrap(),
            "(A eq 1 or B eq 2)",
        ),
        (
            Filter::and([eq("A", "a"), Filter::raw(" X eq 'it''s (ok' ").unwrap()]),
            "A eq 'a' and (X eq 'it''s (ok')",
        ),
        (
            Filter::and([Filter::and([eq("A", "a"), Filter::and([])]), eq("B", "b")]),
            "A eq 'a' and B eq 'b'",
        ),
        (
            Filter::Eq(Property::it(), Literal::string("x")),
            "$it eq 'x'",
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(filter.render(), expected);
        assert_eq!(filter.to_string(), expected);
    }
}

#[test]
fn empty_conjunctions_are_empty() {
    assert!(Filter::and([]).is_empty());
    assert!(Filter::And(vec![Filter::And(vec![])]).is_empty());
    assert_eq!(Filter::and([]).render(), "");
    assert!(!eq("A", "").is_empty());
    assert!(!Filter::raw("A eq 1").unwrap().is_empty());
}

#[test]
fn hostile_values_never_change_the_structure() {
    for v in HOSTILE {
        let f = Filter::and([
            eq("User.Moid", v),
            Filter::any("Tags", Filter::and([eq("Key", v), eq("Value", v)])).unwrap(),
            Filter::Any {
                collection: Property::parse("Owners").unwrap(),
                predicate: Box::new(Filter::Eq(Property::it(), Literal::string(*v))),
            },
        ]);
        let text = f.render();
        let expected = vec![
            w("User.Moid"),
            w("eq"),
            s(v),
            w("and"),
            w("Tags/any"),
            Tok::Open,
            w("t"),
            Tok::Colon,
            w("t/Key"),
            w("eq"),
            s(v),
            w("and"),
            w("t/Value"),
            w("eq"),
            s(v),
            Tok::Close,
            w("and"),
            w("Owners/any"),
            Tok::Open,
            w("o"),
            Tok::Colon,
            w("o"),
            w("eq"),
            s(v),
            Tok::Close,
        ];
        assert_eq!(tokenize(&text), expected, "value {v:?} rendered as {text}");
    }
}

#[test]
fn invalid_parts_are_rejected() {
    for bad in [
        "",
        "User..Moid",
        "1Name",
        "Name eq 'x'",
        "Name)",
        "Na me",
        "A.",
        "ü",
        // OData keywords and literals would change or break the expression.
        "and",
        "true",
        "null",
        "User.not",
        "Tags/any",
    ] {
        assert_eq!(
            Property::parse(bad),
            Err(FilterError::Property(bad.to_string())),
            "{bad:?}"
        );
        assert!(Filter::eq(bad, Literal::Bool(true)).is_err());
        assert!(Filter::any(bad, eq("A", "b")).is_err());
    }
    for bad in [
        "",
        "yesterday",
        "2018-06-20",
        "2018-06-20T05:31:38",
        "2018-06-20T05:31:38.862Z or 1 eq 1",
        "2018-13-20T05:31:38Z",
        " 2018-06-20T05:31:38Z",
    ] {
        assert!(DateTime::parse(bad).is_err(), "{bad:?}");
    }
    for good in [
        "2018-06-20T05:31:38.862Z",
        "2018-06-20T05:31:38Z",
        "2018-06-20T07:31:38.8621234+02:00",
        "2018-06-20t05:31:38z",
    ] {
        assert_eq!(DateTime::parse(good).unwrap().as_str(), good);
    }
    assert!(Number::from_f64(f64::NAN).is_err());
    assert!(Number::from_f64(f64::INFINITY).is_err());
    for bad in [
        "",
        "   ",
        "A eq 1) or (B eq 2",
        "(A eq 1",
        "A eq 'x",
        ")(",
        "A eq 'x'')",
    ] {
        assert!(RawFilter::parse(bad).is_err(), "{bad:?}");
        assert!(Filter::raw(bad).is_err(), "{bad:?}");
    }
    for good in [
        "A eq 1",
        "(A eq 1) or (B eq 2)",
        "A eq ')('",
        "A eq 'it''s'",
        "contains(Name,'x')",
    ] {
        assert!(RawFilter::parse(good).is_ok(), "{good:?}");
    }
}

/// A raw filter never escapes its parentheses: its tokens are bracketed by one pair.
#[test]
fn raw_filter_stays_inside_its_parentheses() {
    let raw = "A eq 1 or (B eq 'x'' or (' and C eq 2)";
    let f = Filter::and([eq("X", "y"), Filter::raw(raw).unwrap()]);
    let toks = tokenize(&f.render());
    assert_eq!(&toks[..4], &[w("X"), w("eq"), s("y"), w("and")]);
    assert_eq!(toks[4], Tok::Open);
    // The matching close of that parenthesis is the very last token.
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(4) {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    assert_eq!(i, toks.len() - 1);
                }
            }
            _ => {}
        }
    }
}

fn decode_query(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn hostile_values_survive_url_encoding() {
    for v in HOSTILE {
        let text = eq("Name", v).render();
        let path = page_path("iam/OAuthTokens", Some(&text), 10, 20);
        let (p, q) = path.split_once('?').unwrap();
        assert_eq!(p, "/api/v1/iam/OAuthTokens");
        assert!(
            q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%+=&".contains(&b)),
            "{q}"
        );
        let params = decode_query(q);
        assert_eq!(params.len(), 5, "{q}");
        assert_eq!(params[0], ("$filter".to_string(), text));
        assert_eq!(params[4], ("$skip".to_string(), "20".to_string()));
    }
}

proptest! {
    #[test]
    fn any_string_value_is_one_literal(v in any::<String>(), k in "\\PC*") {
        let f = Filter::and([eq("ClientName", &v), Filter::any("Tags", eq("Key", &k)).unwrap()]);
        let text = f.render();
        prop_assert_eq!(tokenize(&text), vec![
            w("ClientName"), w("eq"), s(&v), w("and"),
            w("Tags/any"), Tok::Open, w("t"), Tok::Colon, w("t/Key"), w("eq"), s(&k), Tok::Close,
        ]);
        let q = encode_query(&[("$filter", &text)]);
        prop_assert_eq!(decode_query(&q), vec![("$filter".to_string(), text)]);
    }
}
