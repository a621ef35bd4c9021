//! The differentiable operations, each forward pass next to its backward pass.
//!
//! Every op is a method on [`crate::autograd::Var`]: it computes its value from
//! its inputs' values, then records that value on the tape together with a
//! closure that computes the inputs' gradients from the output's gradient. The
//! one-line doc comment of each op states the derivative that closure implements.
//!
//! | file | ops |
//! |---|---|
//! | `elementwise.rs` | `+ − × ÷` (broadcasting), scale, neg, tanh, relu, sigmoid, exp, log |
//! | `reduce.rs` | sum, mean (all, last axis) |
//! | `matmul.rs` | A·B, A·Bᵀ, Aᵀ·B, batched |
//! | `softmax.rs` | softmax, log-softmax, cross-entropy, causal mask |
//! | `norm.rs` | layer norm |
//! | `shape.rs` | reshape, transpose, split/merge heads, slice, concat |
//! | `gather.rs` | embedding lookup (rows), column lookup, dropout |
//! | `lanes.rs` | (helpers) row sums, dot products and maxima in eight lanes; `add_into` |
//! | `attention.rs` | fused multi-head self-attention (scale, mask, softmax, A·V) |

mod attention;
mod elementwise;
mod gather;
pub(crate) mod lanes;
mod matmul;
mod norm;
mod reduce;
mod shape;
mod softmax;

pub use attention::attention_cached;
