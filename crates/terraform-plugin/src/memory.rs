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

/// Allocations of this size and more get pages of their own from the system ([`map_large_blocks`]).
const MMAP_THRESHOLD: usize = 128 << 10;

/// Has glibc map every allocation of [`MMAP_THRESHOLD`] (its initial default) or more to pages
/// of its own, which go back to the system as soon as the block is freed. By default glibc
/// raises that threshold to the size of each mapped block freed (up to 32 MiB), so after a
/// read's first page buffer (MiBs of JSON) the next ones come from the heap and leave free
/// holes between the results decoded around them, resident until a trim: 10 MiB at 10,000
/// tokens (BENCHMARKS.md, issue 18 item 1). Idempotent; a no-op elsewhere than glibc.
pub fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes a tuning parameter of the allocator; it has no
    // preconditions, touches no live allocation, and glibc serialises it with allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes glibc holds in mapped blocks of their own, and free bytes in its heaps.
    fn mapped_and_free_bytes() -> (usize, usize) {
        #[allow(unsafe_code)]
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let info = unsafe { libc::mallinfo2() };
        (info.hblkhd, info.fordblks)
    }

    /// After a large block (30 MiB) is freed, a smaller block that no free space of the heaps
    /// can hold still gets pages of its own: glibc's own rule would have raised the threshold
    /// to 30 MiB and grown the heap instead. (glibc serves a large block from free heap space
    /// when it fits, so the block is made larger than that.) Other tests allocate at the same
    /// time, so a few tries are allowed.
    #[test]
    fn large_blocks_stay_mapped_after_a_larger_one_is_freed() {
        map_large_blocks();
        drop(std::hint::black_box(vec![1u8; 30 << 20]));
        let mapped = (0..20).any(|_| {
            let (before, free) = mapped_and_free_bytes();
            let size = free + (1 << 20);
            if size > 24 << 20 {
                std::thread::sleep(std::time::Duration::from_millis(10));
                return false;
            }
            let block = std::hint::black_box(vec![1u8; size]);
            let (during, _) = mapped_and_free_bytes();
            drop(block);
            during >= before + size
        });
        assert!(mapped, "a large block came from the heap");
    }
}
