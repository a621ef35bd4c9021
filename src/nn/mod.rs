//! Layers built from the ops, with parameters named and initialised as in PyTorch.
//!
//! A layer owns its [`Param`]s; its `forward` records them on the graph it is
//! given. Names follow PyTorch's `state_dict` keys (`ff.0.weight`, `norm1.bias`),
//! so checkpoints map one to one onto the reference models.

mod embedding;
mod feed_forward;
mod layer_norm;
mod linear;
mod positional;

pub use crate::autograd::{Module, Param};
pub use embedding::Embedding;
pub use feed_forward::FeedForward;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use positional::{Positions, sinusoidal};

/// `prefix.name`, or just `name` when the prefix is empty.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
