//! Reverse-mode automatic differentiation on a tape.
//!
//! The whole idea fits on this page:
//!
//! * A [`Graph`] is a tape: a `Vec` of nodes in the order they were computed.
//!   Each node holds its value and, unless it is a leaf, a closure that knows how
//!   to turn the gradient of its output into gradients of its inputs.
//! * A [`Var`] is an index into that `Vec` (plus a reference to the graph, so that
//!   `a + b` or `x.matmul(w)` can record themselves). Inputs always have smaller
//!   indices than the node that uses them.
//! * [`Var::backward`] seeds the loss with 1 and walks the tape once, from the end
//!   to the start, calling each node's closure. Because inputs come earlier than
//!   their users, every node's gradient is complete before its closure runs. A
//!   value used twice (an RNN's `W` at every time step) simply receives two
//!   contributions, which add up.
//!
//! There is no recursion and no reference counting between nodes: the tape owns
//! everything, and dropping the graph frees it. Parameters ([`Param`]) live
//! outside the tape, so each training step builds a fresh graph and memory stays
//! flat however long training runs.
//!
//! The operations themselves (each forward beside its backward) are in
//! [`crate::ops`].

pub mod gradcheck;
mod init;
mod param;
pub mod profile;

pub use init::{Converted, Dist, Init};
pub use param::{Module, Param, ParamId};

use crate::ops::lanes::add_into;
use crate::tensor::{Float, Shape, Tensor, scratch};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::Instant;

/// The backward closure of a node: given the gradient of the node's output,
/// it adds the gradients of the node's inputs into [`Grads`].
pub type BackwardFn<E> = Box<dyn Fn(&Tensor<E>, &mut Grads<E>)>;

struct Node<E: Float> {
    value: Tensor<E>,
    /// `None` for leaves (inputs, parameters, constants).
    backward: Option<BackwardFn<E>>,
    /// Whether any gradient needs to reach this node.
    requires_grad: bool,
    /// Keep this node's gradient after the backward pass (leaves always do).
    retain: bool,
    /// What the profiler calls this node (set only while it records).
    label: Option<String>,
}

/// The tape of one forward pass. Build one per training step.
pub struct Graph<E: Float = f32> {
    nodes: RefCell<Vec<Node<E>>>,
    /// Which node stands for which parameter, so a parameter used many times is
    /// one leaf whose gradient accumulates.
    params: RefCell<Vec<(ParamId, usize)>>,
    /// Parameters become leaves that need gradients (false in inference mode).
    track_params: bool,
    /// While the profiler records: when the previous node was pushed.
    last_push: Cell<Option<Instant>>,
}

/// A value on the tape: the index of its node and the graph it belongs to.
///
/// `Var` is `Copy`: pass it around freely. Arithmetic on it records new nodes.
#[derive(Clone, Copy)]
pub struct Var<'g, E: Float = f32> {
    pub(crate) id: usize,
    pub(crate) g: &'g Graph<E>,
}

impl<E: Float> Default for Graph<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Float> Graph<E> {
    /// A graph for training (or for gradient checks): parameters receive gradients.
    pub fn new() -> Self {
        Graph {
            nodes: RefCell::new(Vec::new()),
            params: RefCell::new(Vec::new()),
            track_params: true,
            last_push: Cell::new(profile::enabled().then(Instant::now)),
        }
    }

    /// A graph for inference: nothing needs a gradient, so no backward closure
    /// is kept and memory holds only the values.
    pub fn inference() -> Self {
        Graph {
            track_params: false,
            ..Self::new()
        }
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node, keeping the tape's allocation for the next step.
    /// (Any `Var` of this graph must be gone: the borrow checker sees to it.)
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
        self.params.get_mut().clear();
    }

    fn push_node(
        &self,
        value: Tensor<E>,
        backward: Option<BackwardFn<E>>,
        requires_grad: bool,
        label: Option<String>,
    ) -> Var<'_, E> {
        if let Some(last) = self.last_push.get() {
            let now = Instant::now();
            let kind = label.as_deref().unwrap_or("between ops (leaves, model code)");
            profile::record(kind, profile::Phase::Forward, (now - last).as_secs_f64());
            self.last_push.set(Some(now));
        }
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            value,
            backward,
            requires_grad,
            retain: false,
            label,
        });
        Var {
            id: nodes.len() - 1,
            g: self,
        }
    }

    /// A leaf that needs no gradient (data, masks, positional tables).
    pub fn constant(&self, value: Tensor<E>) -> Var<'_, E> {
        self.push_node(value, None, false, None)
    }

    /// A leaf that receives a gradient (what gradient checks differentiate by).
    pub fn input(&self, value: Tensor<E>) -> Var<'_, E> {
        self.push_node(value, None, true, None)
    }

    /// The leaf standing for a parameter. Calling it again for the same
    /// parameter returns the same leaf, so all its uses accumulate into one gradient.
    pub fn param(&self, p: &Param<E>) -> Var<'_, E> {
        if let Some(&(_, id)) = self.params.borrow().iter().find(|(pid, _)| *pid == p.id()) {
            return Var { id, g: self };
        }
        // The tensor is shared with the parameter, not copied.
        let v = self.push_node(p.value.clone(), None, self.track_params, None);
        self.params.borrow_mut().push((p.id(), v.id));
        v
    }

    /// Records the result of an operation: its kind (what the [`profile`]r
    /// calls it), its value, its inputs, and the closure that back-propagates
    /// through it. This is how every op in [`crate::ops`] is written, and how
    /// you can add your own.
    ///
    /// If no input needs a gradient, the closure is dropped right away.
    pub fn op(
        &self,
        kind: &'static str,
        value: Tensor<E>,
        inputs: &[Var<'_, E>],
        backward: BackwardFn<E>,
    ) -> Var<'_, E> {
        for v in inputs {
            assert!(std::ptr::eq(v.g, self), "op: an input belongs to another graph");
        }
        let (requires_grad, label) = {
            let nodes = self.nodes.borrow();
            let label = self.last_push.get().map(|_| match kind {
                // Products are told apart by the shapes of their operands.
                _ if profile::PRODUCT_KINDS.contains(&kind) => {
                    let shapes: Vec<String> = inputs
                        .iter()
                        .map(|v| nodes[v.id].value.shape().to_string())
                        .collect();
                    format!("{kind} {}", shapes.join("·"))
                }
                _ => kind.to_string(),
            });
            (inputs.iter().any(|v| nodes[v.id].requires_grad), label)
        };
        let backward = if requires_grad { Some(backward) } else { None };
        self.push_node(value, backward, requires_grad, label)
    }

    /// The value of a node (a cheap clone: the buffer is shared).
    pub fn value(&self, v: Var<'_, E>) -> Tensor<E> {
        self.nodes.borrow()[v.id].value.clone()
    }

    /// Whether a gradient flows to this node.
    pub fn requires_grad(&self, v: Var<'_, E>) -> bool {
        self.nodes.borrow()[v.id].requires_grad
    }

    /// The reverse sweep: gradients of `root` with respect to every node that
    /// needs one, seeded with `seed` (same shape as `root`).
    pub fn backward_with(&self, root: Var<'_, E>, seed: Tensor<E>) -> Grads<E> {
        let nodes = self.nodes.borrow();
        let root_node = &nodes[root.id];
        assert!(
            seed.shape() == root_node.value.shape(),
            "backward: seed of shape {} for a value of shape {}",
            seed.shape(),
            root_node.value.shape()
        );
        let mut grads = Grads {
            slots: (0..=root.id).map(|_| None).collect(),
            shapes: nodes[..=root.id].iter().map(|n| n.value.shape()).collect(),
            needs: nodes[..=root.id].iter().map(|n| n.requires_grad).collect(),
            params: self.params.borrow().clone(),
        };
        if !root_node.requires_grad {
            return grads;
        }
        grads.slots[root.id] = Some(seed);
        // ANCHOR: backward_sweep
        // One pass, last node first. Inputs have smaller indices than their users,
        // so when we reach node i, every contribution to its gradient is in.
        for i in (0..=root.id).rev() {
            let node = &nodes[i];
            let Some(backward) = &node.backward else {
                continue; // a leaf: its gradient stays in `grads`
            };
            let Some(dout) = grads.slots[i].take() else {
                continue; // nothing flowed back to this node
            };
            profile::backward_of(node.label.as_deref(), || backward(&dout, &mut grads));
            if node.retain {
                grads.slots[i] = Some(dout);
            }
        }
        // ANCHOR_END: backward_sweep
        grads
    }

    /// Keeps the gradient of an intermediate value after the backward pass
    /// (e.g. ∂L/∂h_t for every hidden state of an RNN).
    pub fn retain_grad(&self, v: Var<'_, E>) {
        self.nodes.borrow_mut()[v.id].retain = true;
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// The graph this value lives on.
    pub fn graph(&self) -> &'g Graph<E> {
        self.g
    }

    /// Index of this value's node on the tape.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The value (shares the buffer, no copy).
    pub fn value(&self) -> Tensor<E> {
        self.g.value(*self)
    }

    pub fn shape(&self) -> Shape {
        self.g.nodes.borrow()[self.id].value.shape()
    }

    /// The single number of a one-element value, as `f64`.
    pub fn item(&self) -> f64 {
        self.value().item().to_f64()
    }

    /// Back-propagates from this value, which must hold a single number (a loss).
    pub fn backward(&self) -> Grads<E> {
        let shape = self.shape();
        assert!(
            shape.numel() == 1,
            "backward: the loss must be a single number, got shape {shape}; use Graph::backward_with to seed a tensor"
        );
        self.g.backward_with(*self, Tensor::ones(shape))
    }

    /// See [`Graph::retain_grad`].
    pub fn retain_grad(self) -> Self {
        self.g.retain_grad(self);
        self
    }
}

impl<E: Float> fmt::Debug for Var<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var#{} {}", self.id, self.value())
    }
}

/// Gradients produced by one backward pass: one optional buffer per node.
///
/// During the sweep, backward closures write into it with [`Grads::slot`]; after
/// it, read the results with [`Grads::wrt`] (any leaf or retained node) or
/// [`Grads::param`], or hand them to the parameters with [`Grads::assign`].
pub struct Grads<E: Float = f32> {
    slots: Vec<Option<Tensor<E>>>,
    shapes: Vec<Shape>,
    needs: Vec<bool>,
    params: Vec<(ParamId, usize)>,
}

impl<E: Float> Grads<E> {
    /// Whether node `id` needs a gradient (whether [`Grads::slot`] would give a buffer).
    pub fn needs(&self, id: usize) -> bool {
        self.needs[id]
    }

    /// The gradient buffer of node `id`, created as zeros on first use, to which
    /// a backward closure adds its contribution. `None` if the node needs no
    /// gradient: the closure then skips that computation.
    pub fn slot(&mut self, id: usize) -> Option<&mut [E]> {
        if !self.needs[id] {
            return None;
        }
        let shape = self.shapes[id];
        Some(
            self.slots[id]
                .get_or_insert_with(|| Tensor::zeros(shape))
                .data_mut(),
        )
    }

    /// The gradient buffer of node `id` and the β to write into it with:
    /// `E::ZERO` for the first contribution, whose buffer holds unspecified
    /// (stale) values that the closure must overwrite, every one of them, and
    /// `E::ONE` for a later one, which adds. A product then writes its
    /// gradient with β = 0 the first time, as the kernels allow, instead of
    /// zero-filling the buffer and reading the zeros back. `None` if the node
    /// needs no gradient.
    pub fn slot_beta(&mut self, id: usize) -> Option<(&mut [E], E)> {
        if !self.needs[id] {
            return None;
        }
        let shape = self.shapes[id];
        let first = self.slots[id].is_none();
        let buf = self.slots[id].get_or_insert_with(|| Tensor::from_vec(shape, scratch(shape.numel())));
        Some((buf.data_mut(), if first { E::ZERO } else { E::ONE }))
    }

    /// Adds `g` (same number of elements) into the gradient of node `id`.
    pub fn add(&mut self, id: usize, g: &[E]) {
        if let Some(s) = self.slot(id) {
            add_into(s, g);
        }
    }

    /// Gradient with respect to a leaf or retained value, if any reached it.
    pub fn wrt(&self, v: Var<'_, E>) -> Option<&Tensor<E>> {
        self.slots.get(v.id).and_then(|s| s.as_ref())
    }

    /// Gradient with respect to a parameter, if it was used and reached.
    pub fn param(&self, p: &Param<E>) -> Option<&Tensor<E>> {
        let &(_, id) = self.params.iter().find(|(pid, _)| *pid == p.id())?;
        self.slots[id].as_ref()
    }

    /// Adds each parameter's gradient to its `grad` field (setting it if empty):
    /// how the gradients of several shards of one batch are combined.
    pub fn accumulate(mut self, params: &mut [&mut Param<E>]) {
        for p in params.iter_mut() {
            let Some(g) = self
                .params
                .iter()
                .find(|(pid, _)| *pid == p.id())
                .and_then(|&(_, id)| self.slots[id].take())
            else {
                continue;
            };
            match p.grad.as_mut() {
                Some(acc) => add_into(acc.data_mut(), g.data()),
                None => p.grad = Some(g),
            }
        }
    }

    /// Moves each parameter's gradient into its `grad` field (`None` for a
    /// parameter the loss did not depend on), ready for an optimizer.
    pub fn assign(mut self, params: &mut [&mut Param<E>]) {
        for p in params.iter_mut() {
            p.grad = self
                .params
                .iter()
                .find(|(pid, _)| *pid == p.id())
                .and_then(|&(_, id)| self.slots[id].take());
        }
    }
}
