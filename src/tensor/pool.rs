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
        self.bytes -= len * size_of::<E>();
        Some(v)
    }

    fn give(&mut self, v: Vec<E>) {
        let bytes = v.len() * size_of::<E>();
        if v.is_empty() || self.bytes + bytes > MAX_POOLED_BYTES {
            return;
        }
        self.bytes += bytes;
        self.free.entry(v.len()).or_default().push(v);
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
