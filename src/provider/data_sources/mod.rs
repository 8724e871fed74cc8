//! The registry of data sources: a new list data source is one declaration file here (a
//! [`ListDeclaration`](super::list_source::ListDeclaration) and its field table) plus one entry
//! in [`registry`].

use std::sync::Arc;

use super::list_source::ListDataSource;
use super::DataSource;

pub mod iam_o_auth_token;

/// Every data source the provider serves.
pub fn registry() -> Vec<Arc<dyn DataSource>> {
    vec![Arc::new(ListDataSource::new(
        &iam_o_auth_token::DECLARATION,
    ))]
}
