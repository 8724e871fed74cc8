//! The `/_sim/` control API: statistics, OAuth settings and issued tokens, faults, reset, and
//! the dataset (read, replaced, or mutated between pages by `apply_mutation`).

use super::api::read_body;
use super::{json_response, AppState, Dataset, SimBody};
use crate::dataset::parse_dataset;
use crate::faults::{FaultConfig, FaultState};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::PoisonError;

/// Deletes `delete` objects from the start of the collection, then inserts `insert` new
/// ones there, so `$skip` paging without `$orderby` repeats or drops objects.
pub fn apply_mutation(state: &AppState, insert: usize, delete: usize) {
    let new_items = state
        .generator
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tokens(insert);
    let mut dataset = state.write_dataset();
    let delete = delete.min(dataset.items.len());
    dataset.items.drain(..delete);
    dataset.items.splice(0..0, new_items);
    let rebuilt = Dataset::new(std::mem::take(&mut dataset.items));
    *dataset = rebuilt;
}

pub(super) async fn control(state: &AppState, request: Request<Incoming>) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": message})),
    };
    let bad = |message: String| json_response(StatusCode::BAD_REQUEST, &json!({"error": message}));
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/_sim/stats") => {
            let mut stats = state.stats.to_json();
            if let (Some(stats), Value::Object(oauth)) =
                (stats.as_object_mut(), state.oauth.stats_json())
            {
                stats.extend(oauth);
            }
            json_response(StatusCode::OK, &stats)
        }
        (&Method::GET, "/_sim/oauth/tokens") => {
            json_response(StatusCode::OK, &json!(state.oauth.issued_tokens()))
        }
        (&Method::GET, "/_sim/oauth") => json_response(
            StatusCode::OK,
            &serde_json::to_value(state.oauth.config()).unwrap_or_default(),
        ),
        (&Method::PUT, "/_sim/oauth") => {
            match serde_json::from_slice::<crate::oauth::OAuthConfig>(&body) {
                Ok(config) => match config.validate() {
                    Ok(()) => {
                        state.oauth.set_config(config.clone());
                        json_response(
                            StatusCode::OK,
                            &serde_json::to_value(config).unwrap_or_default(),
                        )
                    }
                    Err(e) => bad(e),
                },
                Err(e) => bad(format!("invalid OAuth configuration: {e}")),
            }
        }
        (&Method::GET, "/_sim/faults") => {
            let config = state.faults().config.clone();
            json_response(
                StatusCode::OK,
                &serde_json::to_value(config).unwrap_or_default(),
            )
        }
        (&Method::PUT, "/_sim/faults") => match serde_json::from_slice::<FaultConfig>(&body) {
            Ok(config) => {
                if let Err(message) = config.validate() {
                    return bad(message);
                }
                *state.faults() = FaultState::new(config.clone());
                json_response(
                    StatusCode::OK,
                    &serde_json::to_value(config).unwrap_or_default(),
                )
            }
            Err(e) => bad(format!("invalid fault configuration: {e}")),
        },
        (&Method::POST, "/_sim/reset") => {
            *state.faults() = FaultState::new(state.initial_faults.clone());
            *state.write_dataset() = Dataset::new(state.initial_dataset.clone());
            state.stats.reset();
            state.oauth.reset();
            json_response(StatusCode::OK, &json!({"reset": true}))
        }
        (&Method::GET, "/_sim/dataset/users") => {
            json_response(StatusCode::OK, &Value::Array(state.users.items.clone()))
        }
        (&Method::GET, "/_sim/dataset") => {
            let dataset = state.read_dataset();
            json_response(StatusCode::OK, &Value::Array(dataset.items.clone()))
        }
        (&Method::PUT, "/_sim/dataset") => match std::str::from_utf8(&body)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_dataset(text).map_err(|e| e.to_string()))
        {
            Ok(items) => {
                let count = items.len();
                *state.write_dataset() = Dataset::new(items);
                json_response(StatusCode::OK, &json!({"tokens": count}))
            }
            Err(message) => bad(message),
        },
        (&Method::GET, "/_sim/info") => {
            let info = state
                .info
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            json_response(StatusCode::OK, &info)
        }
        (_, path) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no control endpoint {} {path}", parts.method)}),
        ),
    }
}
