//! The registry of data sources: a new data source is one file here plus one line below.

use std::sync::Arc;

use super::DataSource;

pub mod iam_o_auth_token;

pub fn registry() -> Vec<Arc<dyn DataSource>> {
    vec![Arc::new(iam_o_auth_token::IamOAuthToken)]
}
