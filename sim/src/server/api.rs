//! The signed API routes: the token endpoint, single objects, the users collection and
//! the token list with its per-page faults.

use super::control::apply_mutation;
use super::shaping::{
    flood_page, mark_bad_string, mark_hostile_member, pad_object, prepend_null_ancestor,
    replace_hostile_marker, replace_marker, set_object_type,
};
use super::{
    error_response, full, json_response, status_code_name, unix_secs, AbortMidBody, AppState,
    Dataset, InjectedReset, PageItem, SimBody, COLLECTION_PATH, MAX_BODY_BYTES, USERS_PATH,
};
use crate::auth::{self, RequestParts};
use crate::faults::{ListDecision, WRONG_OBJECT_TYPE};
use crate::odata::query::{
    parse_list_query, project, select_matching_indices, ListQuery, QueryError,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use rand::RngExt;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::time::Duration;

/// `POST /iam/token` (other methods: 405).
pub(super) async fn token_endpoint(
    state: &AppState,
    request: Request<Incoming>,
) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return method_not_allowed(&parts.method);
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &message),
    };
    state
        .oauth
        .token_endpoint(&parts.headers, &body)
        .await
        .map(full)
}

pub(super) async fn read_body(body: Incoming) -> Result<Bytes, String> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(format!("cannot read the request body: {e}")),
    }
}

pub(super) async fn api(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<Response<SimBody>, InjectedReset> {
    let (latency, jitter) = {
        let faults = state.faults();
        (faults.config.latency_ms, faults.config.jitter_ms)
    };
    let extra = if jitter > 0 {
        rand::rng().random_range(0..=jitter)
    } else {
        0
    };
    if latency + extra > 0 {
        tokio::time::sleep(Duration::from_millis(latency + extra)).await;
    }

    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if !path.starts_with("/api/") {
        return Ok(error_response(
            StatusCode::NOT_FOUND,
            "InvalidUrl",
            &format!("no such URL: {path}"),
        ));
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &message,
            ))
        }
    };
    let raw_target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let request_parts = RequestParts {
        method: parts.method.as_str(),
        raw_target,
        authority: parts.uri.authority().map(|a| a.as_str()),
        headers: &parts.headers,
        body: &body,
    };
    // A Bearer token from `/iam/token`, or an HTTP signature.
    let verified = match crate::oauth::bearer_token(&parts.headers) {
        Some(token) => state.oauth.verify_bearer(&token),
        None => auth::verify(
            &state.keys,
            &request_parts,
            unix_secs(state.now()),
            state.max_skew,
        )
        .map(|_| ())
        .map_err(|failure| failure.to_string()),
    };
    if let Err(failure) = verified {
        state.stats.lock().auth_failures += 1;
        return Ok(error_response(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailure",
            &failure,
        ));
    }

    let query = parts.uri.query();
    let trimmed = path.trim_end_matches('/');
    if trimmed == COLLECTION_PATH {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return list(state, query).await;
    }
    if trimmed == USERS_PATH {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return Ok(list_users(&state.users, query));
    }
    if let Some(moid) = trimmed
        .strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return Ok(single(state, moid, query));
    }
    Ok(error_response(
        StatusCode::NOT_FOUND,
        "InvalidUrl",
        &format!("no such URL: {path}"),
    ))
}

fn method_not_allowed(method: &Method) -> Response<SimBody> {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        &format!("method {method} is not allowed here (this simulator is read-only)"),
    )
}

fn parse_query(state: &AppState, raw: Option<&str>) -> Result<ListQuery, QueryError> {
    let dataset = state.read_dataset();
    parse_list_query(raw, &|name| dataset.known.contains(name))
}

fn bad_query(error: QueryError) -> Response<SimBody> {
    error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &error.0)
}

fn single(state: &AppState, moid: &str, raw_query: Option<&str>) -> Response<SimBody> {
    let query = match parse_query(state, raw_query) {
        Ok(query) => query,
        Err(error) => return bad_query(error),
    };
    let pad = state.faults().config.pad_object_bytes;
    let dataset = state.read_dataset();
    match dataset
        .items
        .iter()
        .find(|item| item.get("Moid").and_then(Value::as_str) == Some(moid))
    {
        Some(item) => {
            let mut object = project(&query, item);
            if pad > 0 {
                pad_object(object.to_mut(), pad);
            }
            json_response(StatusCode::OK, &object)
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!(
                "The requested object of type iam.OAuthToken with Moid '{moid}' was not found"
            ),
        ),
    }
}

/// `GET iam/Users`: the OData query options as for tokens, no faults.
fn list_users(users: &Dataset, raw_query: Option<&str>) -> Response<SimBody> {
    let query = match parse_list_query(raw_query, &|name| users.known.contains(name)) {
        Ok(query) => query,
        Err(error) => return bad_query(error),
    };
    let matching = select_matching_indices(&query, &users.items, Some(&users.by_moid));
    let count = matching.len() as i64;
    if query.count_only {
        return json_response(
            StatusCode::OK,
            &json!({"ObjectType": "mo.DocumentCount", "Count": count}),
        );
    }
    let page: Vec<PageItem<'_>> = matching
        .iter()
        .skip(query.skip)
        .take(query.top)
        .map(|&i| PageItem::Value(project(&query, &users.items[i])))
        .collect();
    let body = ListBody {
        object_type: "iam.User.List",
        count: query.inline_count.then_some(count),
        results: Some(page),
    };
    json_response(
        StatusCode::OK,
        &serde_json::to_value(&body).unwrap_or_default(),
    )
}

/// A list response: `Results` null when `None`.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    #[serde(rename = "ObjectType")]
    object_type: &'static str,
    #[serde(rename = "Count", skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    #[serde(rename = "Results")]
    results: Option<Vec<PageItem<'a>>>,
}

async fn list(
    state: &AppState,
    raw_query: Option<&str>,
) -> Result<Response<SimBody>, InjectedReset> {
    state.stats.lock().list_requests += 1;
    let query = match parse_query(state, raw_query) {
        Ok(query) => query,
        Err(error) => return Ok(bad_query(error)),
    };
    let now = state.now();
    let decision: ListDecision = state.faults().decide_list(now);
    if decision.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.delay_ms)).await;
    }
    if decision.reset_before_headers {
        return Err(InjectedReset);
    }
    if let Some((status, location)) = &decision.redirect {
        let mut response = Response::new(full(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND);
        if let Ok(value) = HeaderValue::from_str(location) {
            response
                .headers_mut()
                .insert(hyper::header::LOCATION, value);
        }
        return Ok(response);
    }
    if let Some((status, retry_after)) = &decision.status {
        let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = error_response(
            code,
            status_code_name(*status),
            &format!("injected {status} response"),
        );
        if let Some(value) = retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }

    let (count_delta, duplicate, null_empty, pad, page_cap, null_ancestor) = {
        let faults = state.faults();
        (
            faults.config.count_delta,
            faults.config.duplicate_across_pages,
            faults.config.null_empty_results,
            faults.config.pad_object_bytes,
            faults.config.page_cap,
            faults.config.null_in_ancestors,
        )
    };
    // The page is serialized while the dataset is borrowed: objects are written as they are
    // stored, copied only when a fault changes them.
    let mut bytes = {
        let dataset = state.read_dataset();
        let matching = select_matching_indices(&query, &dataset.items, Some(&dataset.by_moid));
        let count = (matching.len() as i64 + count_delta).max(0);
        if let (Some(bytes), false) = (decision.flood_bytes, query.count_only) {
            Ok(flood_page(count, bytes))
        } else if query.count_only {
            serde_json::to_vec(&json!({"ObjectType": "mo.DocumentCount", "Count": count}))
        } else {
            let start = if duplicate && query.skip > 0 {
                query.skip - 1
            } else {
                query.skip
            };
            let top = if page_cap > 0 {
                query.top.min(page_cap)
            } else {
                query.top
            };
            let window = matching.iter().skip(start).take(top);
            let changed = decision.wrong_object_type
                || decision.drop_object_type
                || pad > 0
                || null_ancestor
                || decision.bad_string.is_some()
                || decision.hostile_member.is_some();
            let page: Vec<PageItem<'_>> = if query.select.is_none() && !changed {
                window
                    .map(|&i| PageItem::Stored(&dataset.texts[i]))
                    .collect()
            } else {
                let mut page: Vec<Cow<'_, Value>> = window
                    .map(|&i| project(&query, &dataset.items[i]))
                    .collect();
                if decision.wrong_object_type || pad > 0 || null_ancestor {
                    for object in &mut page {
                        if decision.wrong_object_type {
                            set_object_type(object.to_mut(), WRONG_OBJECT_TYPE);
                        }
                        pad_object(object.to_mut(), pad);
                        if null_ancestor {
                            prepend_null_ancestor(object.to_mut());
                        }
                    }
                }
                if let (true, Some(Value::Object(first))) =
                    (decision.drop_object_type, page.first_mut().map(Cow::to_mut))
                {
                    first.remove("ObjectType");
                }
                if let (Some((_, property)), Some(first)) = (&decision.bad_string, page.first_mut())
                {
                    mark_bad_string(first.to_mut(), property.as_deref());
                }
                if let (Some(hostile), Some(first)) = (&decision.hostile_member, page.first_mut()) {
                    mark_hostile_member(first.to_mut(), hostile);
                }
                page.into_iter().map(PageItem::Value).collect()
            };
            let results = if page.is_empty() && null_empty {
                None
            } else {
                Some(page)
            };
            serde_json::to_vec(&ListBody {
                object_type: "iam.OAuthToken.List",
                count: query.inline_count.then_some(count),
                results,
            })
        }
        .unwrap_or_default()
    };
    if !query.count_only && query.skip == 0 {
        let mutation = state.faults().take_mutation();
        if let Some(mutation) = mutation {
            apply_mutation(state, mutation.insert, mutation.delete);
        }
    }

    if let Some((kind, _)) = &decision.bad_string {
        bytes = replace_marker(&bytes, *kind);
    }
    if let Some(hostile) = &decision.hostile_member {
        bytes = replace_hostile_marker(&bytes, hostile);
    }
    if decision.invalid_json {
        let mut response = Response::new(full(
            &b"{\"ObjectType\":\"iam.OAuthToken.List\",\"Results\":[{\"Moid\": oops}"[..],
        ));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    if decision.truncated_body {
        let cut = Bytes::from(bytes[..bytes.len() / 2].to_vec());
        let mut response = Response::new(full(cut));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    if decision.reset_mid_body {
        let total = bytes.len();
        let half = Bytes::from(bytes[..total / 2].to_vec());
        let body = AbortMidBody {
            chunk: Some(half),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        };
        let mut response = Response::new(body.boxed());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(total));
        return Ok(response);
    }
    let mut response = Response::new(full(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
