//! The memory budget for results: `max_results_mib`, one for the whole provider instance.
//!
//! Every read takes what its decoded `results` hold from the provider's one budget, object by
//! object as its pages are decoded, and gives it all back when its response has been encoded
//! (or it failed). While an object is being decoded, the buffers it is built in are reserved
//! from the same budget as they grow (every byte written, each copy counted), so one object
//! of millions of nested elements is refused before it is built, not after (a 24 MB page of
//! empty tags took 2.2 GiB before it was refused). A read that would take the total past the budget fails at once: it does
//! not wait for others to finish, since reads waiting for each other's memory could wait for
//! ever (two reads each holding half, each needing more).
//!
//! The bound is per provider, not per read: Terraform reads up to `-parallelism` (10) data
//! sources at once, and a per-read bound multiplied by that exhausted machines (four reads of
//! 600,000 tokens peaked at 1.8 GiB).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Bytes per MiB.
pub const MIB: u64 = 1 << 20;

/// The budget of one provider instance (one `ConfigureProvider`).
#[derive(Debug)]
pub struct ResultsBudget {
    limit: u64,
    used: AtomicU64,
}

impl ResultsBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<ResultsBudget> {
        Arc::new(ResultsBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// A new read's share: nothing yet.
    pub fn share(self: &Arc<Self>) -> ResultsShare {
        ResultsShare {
            budget: self.clone(),
            held: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            refused: OnceLock::new(),
        }
    }

    /// Bytes held by all reads together.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// What one read holds of its provider's [`ResultsBudget`]; all of it is given back when the
/// share is dropped (the read's response has been encoded, or the read failed).
#[derive(Debug)]
pub struct ResultsShare {
    budget: Arc<ResultsBudget>,
    held: AtomicU64,
    /// How many takes (objects) `held` is made of.
    objects: AtomicU64,
    /// Set when the read was refused more (the first refusal is the one reported).
    refused: OnceLock<Refused>,
}

/// A read was refused more of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The budget (`max_results_mib`) in bytes.
    pub limit: u64,
    /// What the read held, with what it asked for.
    pub this_read: u64,
    /// What the other reads of the provider held at that moment.
    pub other_reads: u64,
    /// The objects the read held.
    pub objects: u64,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the results of this read would pass `max_results_mib` ({} MiB)",
            self.limit / MIB
        )
    }
}

impl ResultsShare {
    /// Takes `bytes` more for this read (one object), or refuses (and remembers the refusal) when that would
    /// take all reads together past the budget.
    pub fn take(&self, bytes: u64) -> Result<(), Refused> {
        self.charge(bytes)?;
        self.objects.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Takes `bytes` for work in progress (the buffers of an object being decoded, before the
    /// object exists), refused as [`take`](Self::take) is; the caller gives it back with
    /// [`release`](Self::release) when the work is done. This is what makes the budget a
    /// bound on memory while an object is built, not only on the objects once built.
    pub fn reserve(&self, bytes: u64) -> Result<(), Refused> {
        self.charge(bytes)
    }

    /// Gives back `bytes` taken by [`reserve`](Self::reserve) (never more than was reserved).
    pub fn release(&self, bytes: u64) {
        let bytes = bytes.min(self.held());
        self.held.fetch_sub(bytes, Ordering::AcqRel);
        self.budget.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Gives back what [`take`](Self::take) took for `objects` objects of `bytes` in all: a
    /// page decoded a second time drops the objects of its first decode.
    pub fn untake(&self, bytes: u64, objects: u64) {
        self.release(bytes);
        let _ = self
            .objects
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(objects))
            });
    }

    fn charge(&self, bytes: u64) -> Result<(), Refused> {
        let budget = &self.budget;
        let mut used = budget.used.load(Ordering::Acquire);
        loop {
            let total = used.saturating_add(bytes);
            if total > budget.limit {
                let this_read = self.held().saturating_add(bytes);
                let refused = Refused {
                    limit: budget.limit,
                    this_read,
                    other_reads: used.saturating_sub(self.held()),
                    objects: self.objects.load(Ordering::Acquire),
                };
                let _ = self.refused.set(refused);
                return Err(refused);
            }
            match budget.used.compare_exchange_weak(
                used,
                total,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => used = now,
            }
        }
        self.held.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Bytes this read holds.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// The refusal that ended this read, if one did.
    pub fn refused(&self) -> Option<Refused> {
        self.refused.get().copied()
    }
}

impl Drop for ResultsShare {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        self.budget.used.fetch_sub(held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_share_one_budget_and_give_it_back_when_done() {
        let budget = ResultsBudget::new(100);
        let (a, b) = (budget.share(), budget.share());
        assert!(a.take(60).is_ok());
        assert!(b.take(20).is_ok());
        assert!(b.take(10).is_ok());
        assert_eq!(budget.used(), 90);
        // b would take the total to 101: refused at once, nothing taken, the refusal kept.
        let refused = b.take(11).unwrap_err();
        assert_eq!(
            refused,
            Refused {
                limit: 100,
                this_read: 41,
                other_reads: 60,
                objects: 2,
            }
        );
        assert_eq!(b.refused(), Some(refused));
        assert_eq!((budget.used(), b.held()), (90, 30));
        assert!(b.take(10).is_ok(), "exactly the budget is allowed");
        drop(a);
        assert_eq!(budget.used(), 40);
        let c = budget.share();
        assert!(c.take(60).is_ok());
        drop((b, c));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn work_in_progress_is_reserved_refused_and_given_back() {
        let budget = ResultsBudget::new(100);
        let (a, b) = (budget.share(), budget.share());
        assert!(a.reserve(70).is_ok());
        // Reserved bytes count against every read, as taken ones do.
        let refused = b.take(31).unwrap_err();
        assert_eq!((refused.this_read, refused.other_reads), (31, 70));
        a.release(70);
        assert_eq!((budget.used(), a.held()), (0, 0));
        assert!(a.take(40).is_ok());
        // A reservation is not an object.
        assert!(a.reserve(61).is_err());
        assert_eq!(
            a.refused().map(|r| (r.objects, r.this_read)),
            Some((1, 101))
        );
        a.release(1000);
        assert_eq!(budget.used(), 0, "never more than was held is given back");
    }

    #[test]
    // Every thread must be spawned before the first is joined: the collect is the point.
    #[allow(clippy::needless_collect)]
    fn concurrent_takes_never_pass_the_budget() {
        let budget = ResultsBudget::new(10_000);
        let taken: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let share = budget.share();
                    s.spawn(move || {
                        let mut n = 0;
                        while share.take(7).is_ok() {
                            n += 7;
                        }
                        assert_eq!(share.held(), n);
                        // Keep the share alive until every thread has been refused.
                        (n, share)
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert!(budget.used() <= 10_000);
            results.into_iter().map(|(n, _share)| n).collect()
        });
        assert!(taken.iter().sum::<u64>() <= 10_000);
        assert!(taken.iter().sum::<u64>() > 10_000 - 8 * 7);
        assert_eq!(budget.used(), 0);
    }
}
