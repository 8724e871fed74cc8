//! A small token model for client tests, decoded with serde (the product decodes pages straight
//! into Terraform's encoding instead: `provider::list_read::ResultsDecoder`). Test binaries
//! include it with `#[path = "client_common/tokens.rs"] mod tokens;` and list with
//! `client.list::<IamOAuthToken>(&query, &cancel)` through [`ListTyped`].

use intersight_client::paging::{Page, PageDecoder};
use intersight_client::{Cancellation, Client, Error, HasMoid, ListQuery, Listing};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The token properties that the client tests and the root package's tests against the simulator
/// read (`client_sim` adds the owner and the tags to it).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IamOAuthToken {
    #[serde(rename = "Moid", default)]
    pub(crate) moid: Option<String>,
    #[serde(rename = "ClientName", default)]
    pub(crate) client_name: Option<String>,
}

impl HasMoid for IamOAuthToken {
    fn moid(&self) -> &str {
        self.moid.as_deref().unwrap_or("")
    }
}

/// Pages of `T` as serde decodes them, refused when they hold more than `$top` objects.
pub(crate) struct SerdePages<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Clone for SerdePages<T> {
    fn clone(&self) -> Self {
        SerdePages(std::marker::PhantomData)
    }
}

impl<T: DeserializeOwned + HasMoid + Send + 'static> PageDecoder for SerdePages<T> {
    type Item = T;

    fn decode_page(
        &self,
        body: &[u8],
        max_items: usize,
        _: &Cancellation,
    ) -> serde_json::Result<Page<T>> {
        let page: Page<T> = serde_json::from_slice(body)?;
        match &page.results {
            Some(results) if results.len() > max_items => Err(serde::de::Error::custom(
                format_args!("the page holds more than the {max_items} objects asked for"),
            )),
            _ => Ok(page),
        }
    }
}

/// `Client::list::<T>` for tests: [`Client::list_with`] and [`SerdePages`].
pub(crate) trait ListTyped {
    #[allow(async_fn_in_trait)]
    async fn list<T>(&self, query: &ListQuery, cancel: &Cancellation) -> Result<Listing<T>, Error>
    where
        T: DeserializeOwned + HasMoid + Send + 'static;
}

impl ListTyped for Client {
    async fn list<T>(&self, query: &ListQuery, cancel: &Cancellation) -> Result<Listing<T>, Error>
    where
        T: DeserializeOwned + HasMoid + Send + 'static,
    {
        self.list_with(query, &SerdePages(std::marker::PhantomData), cancel)
            .await
    }
}
