//! A tensor's shape: up to [`MAX_RANK`] dimensions, stored inline so that creating
//! one never allocates (a tiny op should cost well under a microsecond).

use std::fmt;

/// The largest rank a tensor can have. Attention needs 4 (`[B, H, T, d]`).
pub const MAX_RANK: usize = 6;

/// The dimensions of a tensor, outermost first (row-major).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: usize,
}

impl Shape {
    /// Builds a shape; panics if `dims` has more than [`MAX_RANK`] entries.
    pub fn new(dims: &[usize]) -> Self {
        assert!(
            dims.len() <= MAX_RANK,
            "shape {dims:?} has rank {}, more than the maximum {MAX_RANK}",
            dims.len()
        );
        let mut d = [0; MAX_RANK];
        d[..dims.len()].copy_from_slice(dims);
        Shape {
            dims: d,
            rank: dims.len(),
        }
    }

    /// The shape of a single number: rank 0, one element.
    pub fn scalar() -> Self {
        Shape::new(&[])
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Size of the last axis (1 for a scalar).
    pub fn last(&self) -> usize {
        self.dims().last().copied().unwrap_or(1)
    }

    /// Product of all dimensions but the last: the number of rows of the last axis.
    pub fn rows(&self) -> usize {
        self.numel() / self.last().max(1)
    }

    /// The same shape with the last axis removed (`[B, T, V]` → `[B, T]`).
    pub fn drop_last(&self) -> Shape {
        Shape::new(&self.dims()[..self.rank.saturating_sub(1)])
    }

    /// The same shape with dimension `axis` replaced by `size`.
    pub fn with_dim(&self, axis: usize, size: usize) -> Shape {
        let mut s = *self;
        s.dims[axis] = size;
        s
    }

    /// Row-major strides, in elements.
    pub fn strides(&self) -> [usize; MAX_RANK] {
        let mut st = [0; MAX_RANK];
        let mut acc = 1;
        for i in (0..self.rank).rev() {
            st[i] = acc;
            acc *= self.dims[i];
        }
        st
    }

    /// Row-major offset of a multi-index; panics naming the index if out of range.
    pub fn offset(&self, index: &[usize]) -> usize {
        assert!(
            index.len() == self.rank && index.iter().zip(self.dims()).all(|(i, d)| i < d),
            "index {index:?} is out of range for shape {self}"
        );
        let st = self.strides();
        index.iter().zip(&st).map(|(i, s)| i * s).sum()
    }

    /// Splits the shape around `axis` into (outer, size, inner) element counts, the
    /// layout used by slice and concat.
    pub fn around(&self, axis: usize) -> (usize, usize, usize) {
        let d = self.dims();
        (
            d[..axis].iter().product(),
            d[axis],
            d[axis + 1..].iter().product(),
        )
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}

impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Self {
        Shape::new(d)
    }
}

impl From<&Vec<usize>> for Shape {
    fn from(d: &Vec<usize>) -> Self {
        Shape::new(d)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}
