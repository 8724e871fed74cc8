//! The client's two limits on page bodies: requests in flight, and bodies that have arrived and
//! wait for or are under decode.
//!
//! A page request holds a *request* permit from before it is sent until its body has been read
//! to the end (at most the body cap). It then takes a *decode* permit, while still holding the
//! request permit, and only then gives the request permit up, so the next request can go out
//! while this body is decoded. The decode permit goes with the body to the blocking pool and is
//! given back when the decode ends and the body is freed, however the request ends (a dropped
//! or cancelled request's decode runs to its next check of the token with its permit).
//!
//! So every page body held by a client is covered by one of its permits: at most
//! `parallelism` bodies being received and at most `parallelism` bodies that have arrived
//! (waiting for a decode permit while holding a request permit, or decoding while holding a
//! decode permit), 2 × `parallelism` bodies of at most the body cap each, for all reads of the
//! client together.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// The client's permits, shared by every request of every read (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Permits {
    /// Requests in flight: held from before an attempt is sent until its body has been read.
    requests: Arc<Semaphore>,
    /// Bodies that have arrived: held from then until their decode ends.
    decodes: Arc<Semaphore>,
}

impl Permits {
    /// `parallelism` of each kind (at least one).
    pub(crate) fn new(parallelism: usize) -> Permits {
        let n = parallelism.max(1);
        Permits {
            requests: Arc::new(Semaphore::new(n)),
            decodes: Arc::new(Semaphore::new(n)),
        }
    }

    /// Waits for a request permit. Tokio's semaphore is fair: permits are given in the order
    /// they were asked for, so a read that asks page by page sends its pages in that order.
    /// Cancel-safe (dropping the future gives up the place in the queue).
    pub(crate) async fn request(&self) -> Result<OwnedSemaphorePermit, Error> {
        // The semaphore is never closed; a closed one would mean the client is going away.
        self.requests
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)
    }

    async fn decode(&self) -> Result<OwnedSemaphorePermit, Error> {
        self.decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)
    }
}

/// One GET's hold on the client's [`Permits`]: the request permit it holds, if any. Attempts
/// take one before they are sent (unless one is held already, as when the read's driver
/// acquired it in page order) and exchange it for a decode permit once their body has arrived.
pub(crate) struct RequestPermit {
    permits: Permits,
    // Never locked across an await.
    held: Mutex<Option<OwnedSemaphorePermit>>,
}

impl RequestPermit {
    /// A hold on `permits`, starting with `held` when the caller already took a request permit.
    pub(crate) fn new(permits: &Permits, held: Option<OwnedSemaphorePermit>) -> RequestPermit {
        RequestPermit {
            permits: permits.clone(),
            held: Mutex::new(held),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<OwnedSemaphorePermit>> {
        // The guarded value is an Option of a permit: a panic elsewhere cannot leave it torn.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes sure a request permit is held before an attempt is sent.
    pub(crate) async fn before_sending(&self) -> Result<(), Error> {
        if self.slot().is_some() {
            return Ok(());
        }
        let permit = self.permits.request().await?;
        *self.slot() = Some(permit);
        Ok(())
    }

    /// The body has been read: takes a decode permit (waiting, with the request permit still
    /// held, while `parallelism` bodies are decoded), then gives the request permit up. The
    /// caller moves the decode permit to where the body is decoded and freed.
    pub(crate) async fn body_arrived(&self) -> Result<OwnedSemaphorePermit, Error> {
        let decode = self.permits.decode().await?;
        drop(self.slot().take());
        Ok(decode)
    }

    /// Whether a request permit is held (for tests).
    #[cfg(test)]
    pub(crate) fn holds_request_permit(&self) -> bool {
        self.slot().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_takes_a_decode_permit_before_its_request_permit_is_given_up() {
        let permits = Permits::new(1);
        let first = RequestPermit::new(&permits, None);
        first.before_sending().await.unwrap();
        assert!(first.holds_request_permit());
        assert_eq!(permits.requests.available_permits(), 0);

        // The first body is decoding: the request permit is free for the next request.
        let decoding = first.body_arrived().await.unwrap();
        assert!(!first.holds_request_permit());
        assert_eq!(permits.requests.available_permits(), 1);

        // A second body that arrives meanwhile waits for the decode permit and keeps its
        // request permit: no third body can be asked for.
        let second = RequestPermit::new(&permits, Some(permits.request().await.unwrap()));
        let waiting = second.body_arrived();
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        assert!(second.holds_request_permit());
        assert_eq!(permits.requests.available_permits(), 0);

        // The first decode ends: the second body is decoded and its request permit freed.
        drop(decoding);
        let _second_decoding = waiting.await.unwrap();
        assert!(!second.holds_request_permit());
        assert_eq!(permits.requests.available_permits(), 1);
        assert_eq!(permits.decodes.available_permits(), 0);
    }

    #[tokio::test]
    async fn a_held_permit_is_used_and_a_repeat_takes_a_new_one() {
        let permits = Permits::new(2);
        let given = permits.request().await.unwrap();
        let hold = RequestPermit::new(&permits, Some(given));
        hold.before_sending().await.unwrap();
        assert_eq!(permits.requests.available_permits(), 1);
        let decoded = hold.body_arrived().await.unwrap();
        drop(decoded);
        // A repeat after the body (a cut one) takes a request permit again.
        hold.before_sending().await.unwrap();
        assert_eq!(permits.requests.available_permits(), 1);
        drop(hold);
        assert_eq!(permits.requests.available_permits(), 2);
    }
}
