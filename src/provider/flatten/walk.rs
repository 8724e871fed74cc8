//! What the decoding of one object carries through its nested values: cancellation checks,
//! the results budget's reservations and reused buffers.

use std::cell::{Cell, RefCell};

use serde::de;
use tokio_util::sync::CancellationToken;

use super::{ScalarMode, Slots};
use crate::provider::budget::ResultsShare;

/// How many bytes an object's decoding writes between two reservations from the results
/// budget: an object smaller than this never touches the budget's shared counter until it is
/// built; a larger one holds at most this much that is not reserved.
pub(crate) const RESERVE_EVERY: u64 = 64 * 1024;

/// How many members and array elements are decoded between two looks at the cancellation token
/// (it also is looked at once per object). A look takes the token's lock.
pub(crate) const CANCEL_CHECK_EVERY: u32 = 1024;

/// What the decoding of one object carries through its nested values: the count of members and
/// elements until the next look at the cancellation token, and the buffers of finished nested
/// objects and lists, which the next ones reuse (a token has a dozen references and lists: an
/// allocation each cost more than the checks this decoding makes).
pub(super) struct Walk<'p> {
    /// How scalars are decoded (see [`ScalarMode`]).
    pub(super) mode: ScalarMode,
    cancel: Option<&'p CancellationToken>,
    share: Option<&'p ResultsShare>,
    /// Bytes written since the last reservation.
    pending: Cell<u64>,
    /// Bytes reserved from `share`, given back when the walk ends.
    reserved: Cell<u64>,
    /// Steps until the next look; 0: look at the next step.
    countdown: Cell<u32>,
    spare_bytes: RefCell<Vec<Vec<u8>>>,
    spare_slots: RefCell<Vec<Slots>>,
}

impl<'p> Walk<'p> {
    pub(super) fn new(
        mode: ScalarMode,
        cancel: Option<&'p CancellationToken>,
        share: Option<&'p ResultsShare>,
    ) -> Walk<'p> {
        Walk {
            mode,
            cancel,
            share,
            pending: Cell::new(0),
            reserved: Cell::new(0),
            countdown: Cell::new(0),
            spare_bytes: RefCell::new(Vec::new()),
            spare_slots: RefCell::new(Vec::new()),
        }
    }

    /// One more member or element: an error once the read is cancelled.
    pub(super) fn step<E: de::Error>(&self) -> Result<(), E> {
        let Some(cancel) = self.cancel else {
            return Ok(());
        };
        match self.countdown.get() {
            0 if cancel.is_cancelled() => Err(E::custom("the read was cancelled")),
            0 => {
                self.countdown.set(CANCEL_CHECK_EVERY - 1);
                Ok(())
            }
            left => {
                self.countdown.set(left - 1);
                Ok(())
            }
        }
    }

    /// `bytes` more were (or are about to be) written to the object's buffers: reserved from
    /// the results budget every [`RESERVE_EVERY`] bytes, an error once the budget refuses.
    ///
    /// Every byte an element or a member writes is counted once where it is written and once
    /// more for each copy into an enclosing buffer (a list's elements, an object's members in
    /// attribute order): the buffers alive at once hold about that many bytes, so what is
    /// reserved follows the memory the object takes, whatever its shape (a list of millions of
    /// empty objects, each written as all its attributes null, took 95 times its JSON).
    pub(super) fn wrote<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let Some(share) = self.share else {
            return Ok(());
        };
        let pending = self.pending.get().saturating_add(bytes as u64);
        if pending < RESERVE_EVERY {
            self.pending.set(pending);
            return Ok(());
        }
        share.reserve(pending).map_err(E::custom)?;
        self.pending.set(0);
        self.reserved.set(self.reserved.get() + pending);
        Ok(())
    }

    /// An empty byte buffer, reused when one is spare.
    pub(super) fn bytes(&self) -> Vec<u8> {
        match self.spare_bytes.borrow_mut().pop() {
            Some(mut bytes) => {
                bytes.clear();
                bytes
            }
            None => Vec::with_capacity(1024),
        }
    }

    /// `n` empty slots, reused when a buffer is spare.
    pub(super) fn slots(&self, n: usize) -> Slots {
        let mut slots = self.spare_slots.borrow_mut().pop().unwrap_or_default();
        slots.clear();
        slots.resize(n, None);
        slots
    }

    pub(super) fn give_back(&self, bytes: Vec<u8>, slots: Option<Slots>) {
        self.spare_bytes.borrow_mut().push(bytes);
        if let Some(slots) = slots {
            self.spare_slots.borrow_mut().push(slots);
        }
    }
}

/// The buffers are freed with the walk: what was reserved for them goes back to the budget
/// (the built object is then taken whole, by its size).
impl Drop for Walk<'_> {
    fn drop(&mut self) {
        if let Some(share) = self.share {
            share.release(self.reserved.get());
        }
    }
}
