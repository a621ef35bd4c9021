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

/// Anything that owns parameters: a parameter itself, layers, blocks, whole
/// models, and lists or options of them.
///
/// A module lists its parameters once, in [`Module::visit`] (and its twin
/// [`Module::visit_mut`]), in `state_dict` order: the order of a checkpoint
/// file. Every other view follows from that list: [`Module::params`],
/// [`Module::params_mut`], the names, the count. The [`module!`](crate::module)
/// macro writes both visits from a struct's `params { … }` block, so a model's
/// parameters are listed exactly once, where they are declared.
pub trait Module<E: Float> {
    /// Hands every parameter to `f`, in order.
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Param<E>));
    /// Hands every parameter to `f`, mutably, in the same order.
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<E>));

    fn params(&self) -> Vec<&Param<E>> {
        let mut all = Vec::new();
        self.visit(&mut |p| all.push(p));
        all
    }

    fn params_mut(&mut self) -> Vec<&mut Param<E>> {
        let mut all = Vec::new();
        self.visit_mut(&mut |p| all.push(p));
        all
    }

    /// Total number of learnable numbers.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.numel()).sum()
    }

    /// The parameter with a given `state_dict` name.
    fn param_named(&self, name: &str) -> Option<&Param<E>> {
        self.params().into_iter().find(|p| p.name == name)
    }
}

/// A parameter is the smallest module: it lists itself.
impl<E: Float> Module<E> for Param<E> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Param<E>)) {
        f(self)
    }
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<E>)) {
        f(self)
    }
}

/// An optional part (a bias) lists its parameters if it is there.
impl<E: Float, M: Module<E>> Module<E> for Option<M> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Param<E>)) {
        if let Some(m) = self {
            m.visit(f)
        }
    }
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<E>)) {
        if let Some(m) = self {
            m.visit_mut(f)
        }
    }
}

/// A stack of parts (the blocks of a Transformer) lists theirs in order.
impl<E: Float, M: Module<E>> Module<E> for Vec<M> {
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Param<E>)) {
        self.iter().for_each(|m| m.visit(f))
    }
    fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<E>)) {
        self.iter_mut().for_each(|m| m.visit_mut(f))
    }
}

/// Declares a struct generic over its element type `E` (`f32` by default) and
/// implements [`Module`] for it from the fields in its `params { … }` block, in
/// the order written: that block is the module's one list of parameters.
/// The other fields (sizes, flags, constant tables) follow the block.
///
/// ```
/// use shortmem::{Module, Param, Tensor, module};
///
/// module! {
///     /// y = x·w + b
///     pub struct Affine<E> {
///         params {
///             pub w: Param<E>,
///             pub b: Option<Param<E>>,
///         }
///         pub name: &'static str,
///     }
/// }
///
/// let layer = Affine {
///     w: Param::new("w", Tensor::<f32>::zeros([3, 2])),
///     b: Some(Param::new("b", Tensor::zeros([2]))),
///     name: "affine",
/// };
/// let names: Vec<&str> = layer.params().iter().map(|p| p.name.as_str()).collect();
/// assert_eq!((names, layer.num_params()), (vec!["w", "b"], 8));
/// ```
#[macro_export]
macro_rules! module {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident<E> {
            params {
                $( $(#[$pmeta:meta])* $pvis:vis $param:ident : $pty:ty ),* $(,)?
            }
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name<E: $crate::Float = f32> {
            $( $(#[$pmeta])* $pvis $param: $pty, )*
            $( $(#[$fmeta])* $fvis $field: $fty, )*
        }

        impl<E: $crate::Float> $crate::Module<E> for $name<E> {
            fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a $crate::Param<E>)) {
                $( $crate::Module::visit(&self.$param, f); )*
            }
            fn visit_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut $crate::Param<E>)) {
                $( $crate::Module::visit_mut(&mut self.$param, f); )*
            }
        }
    };
}
