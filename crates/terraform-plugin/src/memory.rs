//! Returning freed memory to the operating system after large, short-lived allocations.

/// Hands free heap pages back to the kernel. glibc keeps memory freed by many small blocks
/// (a read's page buffers, its per-object result encodings) resident for reuse; after a read of
/// 10,000 objects that is tens of MiB the provider would hold while Terraform processes the
/// state. A no-op elsewhere.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it has no preconditions
    // and does not touch live allocations.
    unsafe {
        libc::malloc_trim(0);
    }
}
