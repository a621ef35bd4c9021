//! The tensor: a shape and a shared, contiguous, row-major buffer of numbers.
//!
//! Cloning a [`Tensor`] clones a pointer, not the numbers: the autograd tape keeps
//! the inputs an op needs for its backward pass by cloning tensors, at no copy.
//! Writing through [`Tensor::data_mut`] copies only if the buffer is shared.

mod elem;
mod pool;
mod shape;

pub use elem::{Float, exp_f32, tanh_f32};
pub use pool::{copied, recycle, scratch, zeroed};
pub use shape::{MAX_RANK, Shape};

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE_BUFFERS: AtomicIsize = AtomicIsize::new(0);

/// How many tensor buffers exist right now, across the whole process.
///
/// Tests use it to show that training does not leak: the count is the same at
/// step 10 and at step 2,000.
pub fn live_buffers() -> isize {
    LIVE_BUFFERS.load(Ordering::Relaxed)
}

/// The numbers behind a tensor. Counts itself in [`live_buffers`], and hands
/// its memory to the buffer pool when dropped.
struct Buffer<E: Float>(Vec<E>);

impl<E: Float> Buffer<E> {
    fn new(v: Vec<E>) -> Self {
        LIVE_BUFFERS.fetch_add(1, Ordering::Relaxed);
        Buffer(v)
    }
}

impl<E: Float> Clone for Buffer<E> {
    fn clone(&self) -> Self {
        Buffer::new(copied(&self.0))
    }
}

impl<E: Float> Drop for Buffer<E> {
    fn drop(&mut self) {
        LIVE_BUFFERS.fetch_sub(1, Ordering::Relaxed);
        pool::recycle(std::mem::take(&mut self.0));
    }
}

/// The error of [`Tensor::try_from_vec`]: the number of values does not fit the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub shape: Shape,
    pub len: usize,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shape {} needs {} values, got {}",
            self.shape,
            self.shape.numel(),
            self.len
        )
    }
}

impl std::error::Error for ShapeError {}

/// An n-dimensional array of `E` (`f32` unless said otherwise), contiguous and
/// row-major.
#[derive(Clone)]
pub struct Tensor<E: Float = f32> {
    shape: Shape,
    data: Arc<Buffer<E>>,
}

impl<E: Float> Tensor<E> {
    /// A tensor from values in row-major order; returns an error if their number
    /// does not match the shape.
    pub fn try_from_vec(shape: impl Into<Shape>, data: Vec<E>) -> Result<Self, ShapeError> {
        let shape = shape.into();
        if shape.numel() != data.len() {
            return Err(ShapeError {
                shape,
                len: data.len(),
            });
        }
        Ok(Tensor {
            shape,
            data: Arc::new(Buffer::new(data)),
        })
    }

    /// A tensor from values in row-major order; panics with the shape and the
    /// count if they do not match.
    pub fn from_vec(shape: impl Into<Shape>, data: Vec<E>) -> Self {
        match Self::try_from_vec(shape, data) {
            Ok(t) => t,
            Err(e) => panic!("Tensor::from_vec: {e}"),
        }
    }

    /// Copies a slice into a new tensor.
    pub fn from_slice(shape: impl Into<Shape>, data: &[E]) -> Self {
        Self::from_vec(shape, copied(data))
    }

    /// A rank-0 tensor holding one number.
    pub fn scalar(x: E) -> Self {
        Self::from_vec(Shape::scalar(), vec![x])
    }

    pub fn full(shape: impl Into<Shape>, value: E) -> Self {
        let shape = shape.into();
        Self::from_vec(shape, vec![value; shape.numel()])
    }

    pub fn zeros(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        Self::from_vec(shape, zeroed(shape.numel()))
    }

    pub fn ones(shape: impl Into<Shape>) -> Self {
        Self::full(shape, E::ONE)
    }

    /// Element `[i, j, …]` is `f(&[i, j, …])`, filled in row-major order.
    pub fn from_fn(shape: impl Into<Shape>, mut f: impl FnMut(&[usize]) -> E) -> Self {
        let shape = shape.into();
        let dims = shape.dims();
        let mut index = vec![0usize; dims.len()];
        let mut data = Vec::with_capacity(shape.numel());
        for _ in 0..shape.numel() {
            data.push(f(&index));
            // Odometer increment: the last axis moves fastest.
            for ax in (0..dims.len()).rev() {
                index[ax] += 1;
                if index[ax] < dims[ax] {
                    break;
                }
                index[ax] = 0;
            }
        }
        Self::from_vec(shape, data)
    }

    /// Samples from N(mean, std²), drawing in `f64` so that `f32` and `f64`
    /// tensors made from the same seed hold the same numbers (up to rounding).
    pub fn randn<R: Rng + ?Sized>(shape: impl Into<Shape>, mean: f64, std: f64, rng: &mut R) -> Self {
        let normal = Normal::new(mean, std).expect("randn: std must be finite and >= 0");
        let shape = shape.into();
        let data = (0..shape.numel())
            .map(|_| E::from_f64(normal.sample(rng)))
            .collect();
        Self::from_vec(shape, data)
    }

    /// Samples from U[low, high), drawing in `f64` (see [`Tensor::randn`]).
    pub fn rand_uniform<R: Rng + ?Sized>(shape: impl Into<Shape>, low: f64, high: f64, rng: &mut R) -> Self {
        let uniform = Uniform::new(low, high).expect("rand_uniform: need low < high, both finite");
        let shape = shape.into();
        let data = (0..shape.numel())
            .map(|_| E::from_f64(uniform.sample(rng)))
            .collect();
        Self::from_vec(shape, data)
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The numbers, row-major.
    pub fn data(&self) -> &[E] {
        &self.data.0
    }

    /// Mutable access to the numbers; copies them first if another tensor (or the
    /// tape) shares the buffer, so no one else sees the change.
    pub fn data_mut(&mut self) -> &mut [E] {
        &mut Arc::make_mut(&mut self.data).0
    }

    /// The numbers as a `Vec` (no copy when the buffer is not shared).
    pub fn into_vec(self) -> Vec<E> {
        match Arc::try_unwrap(self.data) {
            Ok(mut buf) => std::mem::take(&mut buf.0),
            Err(shared) => copied(&shared.0),
        }
    }

    /// Element at a multi-index; panics naming the index and shape if out of range.
    pub fn at(&self, index: &[usize]) -> E {
        self.data()[self.shape.offset(index)]
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> E {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {} has {} elements, not 1",
            self.shape,
            self.numel()
        );
        self.data()[0]
    }

    /// The same numbers under a new shape (no copy); panics if the counts differ.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        assert!(
            shape.numel() == self.numel(),
            "reshape: cannot view {} ({} elements) as {} ({} elements)",
            self.shape,
            self.numel(),
            shape,
            shape.numel()
        );
        Tensor {
            shape,
            data: Arc::clone(&self.data),
        }
    }

    /// Converts every element to another float type (e.g. `f32` → `f64`).
    pub fn cast<F: Float>(&self) -> Tensor<F> {
        Tensor::from_vec(
            self.shape,
            self.data().iter().map(|x| F::from_f64(x.to_f64())).collect(),
        )
    }

    /// Whether two tensors share one buffer (a clone or a reshape of each other).
    pub fn shares_buffer(&self, other: &Tensor<E>) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// Largest absolute difference to another tensor of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor<E>) -> f64 {
        assert_eq!(
            self.shape, other.shape,
            "max_abs_diff: shapes {} and {} differ",
            self.shape, other.shape
        );
        self.data()
            .iter()
            .zip(other.data())
            .map(|(a, b)| (a.to_f64() - b.to_f64()).abs())
            .fold(0.0, f64::max)
    }
}

/// How many values `Display` shows before eliding the rest.
const DISPLAY_VALUES: usize = 6;

impl<E: Float> fmt::Display for Tensor<E> {
    /// Compact form: `Tensor[2, 3] f32 [0.1000, -1.2000, …]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{} {} [", self.shape, E::NAME)?;
        for (i, x) in self.data().iter().take(DISPLAY_VALUES).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{:.4}", x.to_f64())?;
        }
        if self.numel() > DISPLAY_VALUES {
            write!(f, ", … {} more", self.numel() - DISPLAY_VALUES)?;
        }
        write!(f, "]")
    }
}

impl<E: Float> fmt::Debug for Tensor<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
