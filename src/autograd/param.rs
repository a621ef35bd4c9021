//! Parameters: the tensors a model learns. They live outside any graph.

use crate::tensor::{Float, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-wide unique id; optimizers key their state by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

static NEXT_PARAM: AtomicU64 = AtomicU64::new(0);

/// A learnable tensor with a name like a PyTorch `state_dict` key
/// (`blocks.0.norm1.weight`) and, after a backward pass, its gradient.
///
/// A parameter outlives the graphs that use it: each step records it on a new
/// tape with [`crate::autograd::Graph::param`], which shares its buffer.
/// `Param` is not `Clone`: two copies with one id would confuse an optimizer.
pub struct Param<E: Float = f32> {
    id: ParamId,
    pub name: String,
    pub value: Tensor<E>,
    /// Set by [`crate::autograd::Grads::assign`]; `None` if the last loss did not use it.
    pub grad: Option<Tensor<E>>,
}

impl<E: Float> Param<E> {
    pub fn new(name: impl Into<String>, value: Tensor<E>) -> Self {
        Param {
            id: ParamId(NEXT_PARAM.fetch_add(1, Ordering::Relaxed)),
            name: name.into(),
            value,
            grad: None,
        }
    }

    pub fn id(&self) -> ParamId {
        self.id
    }

    pub fn numel(&self) -> usize {
        self.value.numel()
    }
}

impl<E: Float> std::fmt::Debug for Param<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param {} {}", self.name, self.value)
    }
}

/// Anything that owns parameters: layers, blocks, whole models.
///
/// Both lists must give the parameters in the same order, which is also the
/// order of a checkpoint file.
pub trait Module<E: Float> {
    fn params(&self) -> Vec<&Param<E>>;
    fn params_mut(&mut self) -> Vec<&mut Param<E>>;

    /// Total number of learnable numbers.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.numel()).sum()
    }

    /// The parameter with a given `state_dict` name.
    fn param_named(&self, name: &str) -> Option<&Param<E>> {
        self.params().into_iter().find(|p| p.name == name)
    }
}
