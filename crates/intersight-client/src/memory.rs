//! Freeing what a read collected off the async runtime.

/// Drops `value` on tokio's blocking pool when called inside the runtime (else here). Freeing
/// a read's results is one deallocation per object, some 100 ms for a million of them: on an
/// async worker that would hold up every other RPC, timer and cancellation meanwhile.
pub(crate) fn drop_off_runtime<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        // The handle is not needed: nothing waits for a drop.
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}

/// A value that scales with a read's results (its objects, the Moids seen), dropped through
/// [`drop_off_runtime`] wherever it goes out of scope, including in a read that is abandoned
/// mid-way (a timeout or a StopProvider drops the read's future, and its locals with it).
#[derive(Debug, Default)]
pub(crate) struct OffRuntimeDrop<T: Default + Send + 'static>(T);

impl<T: Default + Send + 'static> OffRuntimeDrop<T> {
    pub(crate) fn new(value: T) -> Self {
        OffRuntimeDrop(value)
    }

    /// The value itself, to keep (it is then dropped wherever its new owner drops it).
    pub(crate) fn take(mut self) -> T {
        std::mem::take(&mut self.0)
    }
}

impl<T: Default + Send + 'static> std::ops::Deref for OffRuntimeDrop<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Default + Send + 'static> std::ops::DerefMut for OffRuntimeDrop<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Default + Send + 'static> Drop for OffRuntimeDrop<T> {
    fn drop(&mut self) {
        drop_off_runtime(std::mem::take(&mut self.0));
    }
}
