//! Tests that measure the heap: a counting allocator records the peak of live heap bytes.
//!
//! Each test runs in a process of its own (this binary started again with only that test), so
//! that no other test allocates meanwhile; the allocator counts only in that process.

mod client_memory;
mod decode_memory;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set in the process that runs one measuring test.
static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The variable naming the test a child process runs and measures.
const MEASURE_ENV: &str = "INTERSIGHT_TEST_MEASURE";

struct Counting;

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

fn shrank(bytes: usize) {
    // Memory allocated before counting started may be freed after: never wrap below zero.
    let _ = LIVE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
        Some(live.saturating_sub(bytes))
    });
}

// SAFETY: every method forwards to the system allocator with the caller's own arguments,
// unchanged; the counting around it touches only atomics, never the memory handed out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            shrank(layout.size());
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// Starts a measurement: the peak from here on is measured against the bytes live now.
fn start_measuring() -> usize {
    assert!(
        COUNTING.load(Ordering::SeqCst),
        "the allocator counts only in a test's own process (see `in_own_process`)"
    );
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    base
}

/// The peak of live heap bytes since [`start_measuring`] returned `base`, above `base`.
fn peak_since(base: usize) -> usize {
    PEAK.load(Ordering::SeqCst).saturating_sub(base)
}

/// Runs `test` (the test function `name` of module `module`, from `module_path!()`) in a
/// process of its own with the allocator counting; in that process, runs it.
fn in_own_process(module: &str, name: &str, test: impl FnOnce()) {
    // `module_path!()` starts with the crate's name; the test harness names tests without it.
    let path = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{name}"),
        None => name.to_string(),
    };
    if std::env::var(MEASURE_ENV).as_deref() == Ok(path.as_str()) {
        COUNTING.store(true, Ordering::SeqCst);
        test();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([path.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(MEASURE_ENV, &path)
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{path} in its own process:\n{stdout}\n{stderr}"
    );
}
