//! Recycled buffers.
//!
//! A training step allocates the same buffers, of the same sizes, every time:
//! activations, gradients, temporaries. Handing big buffers back to the
//! operating system at the end of a step would only mean faulting fresh,
//! zeroed pages in again at the next one. Instead, a dropped tensor's buffer
//! waits here, by length, for the next request of that length.
//! There is one pool per element type for the whole process, so a buffer freed
//! on one thread (a gradient computed on a data-parallel shard, say) serves the
//! next request on any thread.

use super::Float;
use std::collections::BTreeMap;

/// At most this many bytes wait in a pool; beyond, buffers are freed.
const MAX_POOLED_BYTES: usize = 1 << 30;

/// At most this many buffers of one length wait in a pool: a training step
/// holds a few hundred at once, and a flood of tiny buffers (a file of
/// thousands of one-number tensors) must not grow the pool's own lists.
const MAX_POOLED_PER_LENGTH: usize = 1024;

/// Free buffers by length.
pub struct Pool<E> {
    free: BTreeMap<usize, Vec<Vec<E>>>,
    bytes: usize,
}

impl<E: Copy> Pool<E> {
    pub const fn new() -> Self {
        Pool {
            free: BTreeMap::new(),
            bytes: 0,
        }
    }

    fn take(&mut self, len: usize) -> Option<Vec<E>> {
        let v = self.free.get_mut(&len)?.pop()?;
        self.bytes -= v.capacity() * size_of::<E>();
        Some(v)
    }

    /// Keeps `v` unless the pool is full (counted by what the buffers hold
    /// allocated, their capacity, not their length).
    fn give(&mut self, v: Vec<E>) {
        let bytes = v.capacity() * size_of::<E>();
        if v.is_empty() || self.bytes + bytes > MAX_POOLED_BYTES {
            return;
        }
        let same = self.free.entry(v.len()).or_default();
        if same.len() < MAX_POOLED_PER_LENGTH {
            self.bytes += bytes;
            same.push(v);
        }
    }
}

/// A buffer of `len` zeros, recycled when one of that length is free.
pub fn zeroed<E: Float>(len: usize) -> Vec<E> {
    match E::with_pool(|p| p.take(len)) {
        Some(mut v) => {
            v.fill(E::ZERO);
            v
        }
        None => vec![E::ZERO; len],
    }
}

/// A buffer of `len` numbers for a caller that overwrites every one of them:
/// a recycled buffer keeps its old (stale but valid) values, saving the zeroing.
pub fn scratch<E: Float>(len: usize) -> Vec<E> {
    E::with_pool(|p| p.take(len)).unwrap_or_else(|| vec![E::ZERO; len])
}

/// A copy of `src` in a recycled buffer when one of that length is free.
pub fn copied<E: Float>(src: &[E]) -> Vec<E> {
    match E::with_pool(|p| p.take(src.len())) {
        Some(mut v) => {
            v.copy_from_slice(src);
            v
        }
        None => src.to_vec(),
    }
}

/// Returns a buffer for reuse (done automatically when a tensor's storage is
/// dropped; call it for temporaries).
pub fn recycle<E: Float>(v: Vec<E>) {
    E::with_pool(|p| p.give(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_counts_capacity_and_keeps_a_bounded_number_of_each_length() {
        let mut pool = Pool::<f32>::new();
        let mut roomy = Vec::with_capacity(100);
        roomy.push(1.0);
        pool.give(roomy);
        assert_eq!(pool.bytes, 400, "a buffer is counted by what it holds allocated");
        for _ in 0..5000 {
            pool.give(vec![0.0; 1]);
        }
        assert_eq!(pool.free[&1].len(), MAX_POOLED_PER_LENGTH);
        assert_eq!(pool.bytes, 400 + 4 * (MAX_POOLED_PER_LENGTH - 1));
        while pool.take(1).is_some() {}
        assert_eq!(pool.bytes, 0);
    }
}
