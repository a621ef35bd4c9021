//! The worker threads: how many a program uses, and the pool they run on.
//!
//! Two things are split across them: a large matrix product (cut into
//! rectangles of C by [`crate::kernels`]) and a training step (cut into one
//! shard of the batch per thread by [`crate::train`]). Both run on one `rayon`
//! pool, built on first use and kept for the life of the program, so no step
//! pays for spawning a thread. The pool is shortmem's own (not rayon's global
//! pool) so that whatever else the program runs on rayon cannot delay a matrix
//! product, and its size follows `SHORTMEM_THREADS` rather than
//! `RAYON_NUM_THREADS`.
//!
//! The calling thread always does a share of the work itself. The shares are
//! claimed from a counter rather than assigned, so if a worker is slow to wake
//! (another program is using its core) the caller simply takes its share too
//! instead of waiting for it.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The thread count in force; 0 until it is first read or set.
static THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of threads a large product is split across: the last
/// [`set_threads`], else `SHORTMEM_THREADS`, else the number of available cores.
///
/// # Panics
/// If `SHORTMEM_THREADS` is set to something other than a positive integer
/// (programs check it at start-up with [`from_env`]).
pub fn threads() -> usize {
    let local = LOCAL_THREADS.with(Cell::get);
    if local != 0 {
        return local;
    }
    let current = THREADS.load(Ordering::Relaxed);
    if current != 0 {
        return current;
    }
    let from_env = from_env().unwrap_or_else(|e| panic!("{e}"));
    // If set_threads raced us, its value wins.
    match THREADS.compare_exchange(0, from_env, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => from_env,
        Err(set) => set,
    }
}

/// The thread count `SHORTMEM_THREADS` asks for (all cores if it is not set),
/// or why it cannot be used.
///
/// More threads than cores are capped at the cores (each would otherwise be an
/// operating-system thread of the pool, and share a core with another).
pub fn from_env() -> Result<usize, String> {
    match std::env::var("SHORTMEM_THREADS") {
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(cores())),
            _ => Err(format!(
                "SHORTMEM_THREADS={value:?}: expected a positive whole number of threads"
            )),
        },
        Err(_) => Ok(cores()),
    }
}

/// Sets the number of threads used by every later product (e.g. from a
/// `--threads` flag). Best called before the first product: the pool is built at
/// the first product that is split, with `max(n, cores) - 1` workers besides the
/// caller, and a later, larger `n` still splits work into `n` shares but runs them
/// on that pool.
///
/// # Panics
/// If `n` is 0.
pub fn set_threads(n: usize) {
    assert!(n >= 1, "set_threads: the thread count must be at least 1, got 0");
    THREADS.store(n, Ordering::Relaxed);
}

thread_local! {
    /// A limit for products started on this thread (0: none), set by [`with_threads`].
    static LOCAL_THREADS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with the products it starts on this thread limited to `n` threads,
/// e.g. `n = 1` inside a data-parallel shard that already has a core to itself.
/// The previous limit is restored afterwards, even if `f` panics.
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    assert!(n >= 1, "with_threads: the thread count must be at least 1, got 0");
    /// Puts the previous limit back when dropped, on return or on unwinding.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL_THREADS.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(LOCAL_THREADS.with(|c| c.replace(n)));
    f()
}

fn pool() -> &'static rayon::ThreadPool {
    POOL.get_or_init(|| {
        let workers = threads().max(cores()).saturating_sub(1).max(1);
        rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("shortmem-{i}"))
            .build()
            .expect("shortmem: could not start the worker threads")
    })
}

/// Runs `job(0)`, …, `job(shares - 1)` on up to `threads` threads (the caller and
/// `threads - 1` pool workers) and returns when all are done. Panics in a job are
/// passed on to the caller.
pub fn run_shares(shares: usize, threads: usize, job: impl Fn(usize) + Sync) {
    let helpers = threads.min(shares).saturating_sub(1);
    if helpers == 0 {
        (0..shares).for_each(job);
        return;
    }
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= shares {
                break;
            }
            job(i);
        }
    };
    pool().in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| work());
        }
        work();
    });
}
