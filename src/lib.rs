//! # shortmem
//!
//! How language models remember what came before, built from scratch: an `f32`
//! tensor, reverse-mode autograd, matrix kernels, neural-network layers and
//! optimizers, and on top of them the RNN and the Transformer of the tutorial
//! this crate follows.
//!
//! The crate is split by concern, and the folders read bottom-up:
//!
//! | module | what it holds |
//! |---|---|
//! | [`tensor`] | the n-dimensional array and its element type |
//! | [`kernels`] | `sgemm`, the matrix product everything else calls |
//! | [`autograd`] | the tape, `Var`, parameters, gradient checking |
//! | [`ops`] | every differentiable op, forward beside backward |
//! | [`nn`] | layers: `Linear`, `Embedding`, `LayerNorm`, `FeedForward` |
//! | [`optim`] | SGD, Adam, AdamW, gradient clipping, learning-rate schedules |
//! | [`data`] | character tokenizer, the built-in corpus, batches |
//! | [`threads`] | the worker threads products and training steps are split across |
//! | [`train`] | the training loop every model shares |
//! | [`tasks`] | what the models are asked to do, and how each task is scored |
//! | [`checkpoint`] | saving and loading models as safetensors files PyTorch reads |
//! | [`plot`] | SVG figures: loss curves, bars, heatmaps |
//! | [`chapter`] | the shell every chapter program runs in: flags, sections, figures, summaries |
//! | [`chapters`] | the chapter programs themselves (`chapters/`), compiled once |

/// The chapter programs are written as any program using this crate would be
/// (`use shortmem::…`), so the crate can name itself.
extern crate self as shortmem;

pub mod autograd;
pub mod chapter;
#[path = "../chapters/mod.rs"]
pub mod chapters;
pub mod checkpoint;
pub mod data;
pub mod kernels;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod sample;
pub mod tasks;
pub mod tensor;
pub mod threads;
pub mod train;

pub use autograd::{Grads, Graph, Init, Module, Param, Var};
pub use tensor::{Float, Shape, Tensor};

/// The README's code examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
