//! Checkpoints: a model's parameters, its sizes and its alphabet in one
//! [safetensors](https://github.com/huggingface/safetensors) file that PyTorch
//! reads as it is.
//!
//! A safetensors file is three things in a row: 8 bytes giving the length N of a
//! JSON header, the N-byte header, then the raw numbers. The header maps every
//! tensor name to its dtype, shape and byte range, and may hold a table of
//! strings under `__metadata__`. shortmem writes each parameter as
//! little-endian `F32` under its `state_dict` name (`embed.weight`,
//! `blocks.0.attention.in_proj_weight`, …), so that in PyTorch
//! `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` just
//! works, and puts in the metadata what is needed to rebuild the model:
//!
//! | key | value |
//! |---|---|
//! | `model` | the kind of model: `transformer_lm`, `eq42` or `rnn` |
//! | sizes | `vocab_size` and whatever else the model's constructor needs (each model's [`Checkpointed::metadata`]) |
//! | `alphabet` | the tokenizer's characters in id order, as one string |
//!
//! This module knows the format and nothing about any model. A model says only
//! its kind, its metadata and how to rebuild itself from them, by implementing
//! [`Checkpointed`]; saving and loading are the same few lines for all of them.
//! Loading checks the file in this order: the header and the dtype of every
//! tensor as it is read; the metadata (each size bounded, and those a model
//! builds tables from tied to a tensor of the file); the alphabet; then, as the
//! model's own constructor asks for each parameter, that the file holds it with
//! the right shape (no parameter is allocated: each is the file's own tensor);
//! last, that the file holds nothing the model lacks. Each problem is a
//! [`CheckpointError`] naming the file and what is wrong.

mod error;
mod file;

pub use error::CheckpointError;
pub use file::{Checkpoint, from_bytes, load, save, serialize};

use crate::autograd::{Dist, Init, Module, Param};
use crate::data::CharTokenizer;
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::path::Path;

/// The largest size a checkpoint's metadata may give. Sizes are checked against
/// the tensors' shapes, but only after they are read; this bound keeps every
/// computation with them far from overflow whatever a corrupt file says.
pub const MAX_SIZE: usize = 1 << 24;

/// The longest context a checkpoint may ask for: 65,536 positions, far more
/// than a character model of this course reads. (Nothing is allocated for it
/// at load: the positional table and the key–value cache grow with what the
/// model reads.)
pub const MAX_CONTEXT: usize = 1 << 16;

// ANCHOR: checkpointed
/// A model that can be saved and rebuilt.
pub trait Checkpointed: Module<f32> + Sized {
    /// The `model` value of its checkpoints.
    const KIND: &'static str;

    /// The sizes and flags that rebuild it.
    type Config;

    /// Its sizes and flags as metadata entries (`vocab_size` among them).
    fn metadata(&self) -> Vec<(&'static str, String)>;

    /// The sizes and flags a checkpoint's metadata give, each checked (an error
    /// names the key), and tied to the file's tensors wherever the model builds
    /// something from them alone.
    fn config(ckpt: &Checkpoint) -> Result<Self::Config, CheckpointError>;

    /// The model of these sizes, its parameters asked of `init`.
    fn build<I: Init<f32>>(config: Self::Config, init: &mut I) -> Self;

    /// Saves the parameters under their `state_dict` names, with the metadata
    /// and the tokenizer's alphabet.
    fn save(&self, path: impl AsRef<Path>, tokenizer: &CharTokenizer) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        save(path, &self.params(), &file_metadata(self, tokenizer, path)?)
    }

    /// The bytes [`Checkpointed::save`] would write, kept in memory (read them
    /// back with [`from_bytes`]).
    fn to_bytes(&self, tokenizer: &CharTokenizer) -> Result<Vec<u8>, CheckpointError> {
        let path = Path::new("(in memory)");
        serialize(&self.params(), &file_metadata(self, tokenizer, path)?, path)
    }

    /// Loads a model and its tokenizer from a file written by [`Checkpointed::save`]
    /// (or by PyTorch: `tools/load_in_pytorch.py` shows the other direction).
    fn load(path: impl AsRef<Path>) -> Result<(Self, CharTokenizer), CheckpointError> {
        Self::from_checkpoint(&load(path)?)
    }

    /// Builds the model and tokenizer a checkpoint describes: the model's own
    /// constructor, with every parameter taken from the file.
    fn from_checkpoint(ckpt: &Checkpoint) -> Result<(Self, CharTokenizer), CheckpointError> {
        ckpt.expect_model(Self::KIND)?;
        let config = Self::config(ckpt)?;
        let tokenizer = ckpt.tokenizer(ckpt.size("vocab_size")?)?;
        let model = ckpt.build(|init| Self::build(config, init))?;
        Ok((model, tokenizer))
    }
}
// ANCHOR_END: checkpointed

/// A model's metadata, with its kind and the tokenizer's alphabet, as a file
/// holds them; `path` names the file in the error if the two do not match.
fn file_metadata<M: Checkpointed>(
    model: &M,
    tokenizer: &CharTokenizer,
    path: &Path,
) -> Result<Vec<(&'static str, String)>, CheckpointError> {
    let mut metadata = vec![("model", M::KIND.to_string())];
    metadata.extend(model.metadata());
    let vocab = metadata.iter().find(|(k, _)| *k == "vocab_size");
    if vocab.is_none_or(|(_, v)| *v != tokenizer.vocab_size().to_string()) {
        // Such a pair would make a file that cannot be loaded.
        return Err(CheckpointError::BadMetadata {
            path: path.to_path_buf(),
            key: "alphabet".to_string(),
            value: tokenizer.alphabet(),
            reason: format!(
                "{} characters, but the model's vocabulary has {}",
                tokenizer.vocab_size(),
                vocab.map_or("no size", |(_, v)| v.as_str())
            ),
        });
    }
    metadata.push(("alphabet", tokenizer.alphabet()));
    Ok(metadata)
}

impl Checkpoint {
    /// Runs a constructor with this file as its [`Init`]: every parameter it asks
    /// for is the file's tensor of that name (shared, not copied). Fails on the
    /// first parameter, in the module's own order, that the file lacks or holds
    /// in another shape, then on any tensor the module has no parameter for.
    pub fn build<M: Module<f32>>(&self, make: impl FnOnce(&mut FromFile) -> M) -> Result<M, CheckpointError> {
        let mut from_file = FromFile {
            ckpt: self,
            problems: HashMap::new(),
        };
        let module = make(&mut from_file);
        from_file.finish(&module)?;
        Ok(module)
    }

    /// Checks that the file holds the tensor `name` with shape `dims`, for sizes a
    /// model builds something from before it asks for its parameters.
    pub fn expect_shape(&self, name: &str, dims: &[usize]) -> Result<(), CheckpointError> {
        match self.tensor(name)?.dims() {
            found if found == dims => Ok(()),
            found => Err(CheckpointError::WrongShape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: dims.to_vec(),
                found: found.to_vec(),
            }),
        }
    }
}

/// The [`Init`] of a model being loaded ([`Checkpoint::build`]): each parameter
/// its constructor asks for is the file's tensor of that name. A missing tensor
/// or one of another shape is noted and the constructor gets an empty
/// placeholder; the first problem is reported once the module is built.
pub struct FromFile<'c> {
    ckpt: &'c Checkpoint,
    problems: HashMap<String, CheckpointError>,
}

impl FromFile<'_> {
    /// The first parameter (in `state_dict` order) the file could not give, then
    /// the first tensor of the file the model has no parameter for.
    fn finish(mut self, module: &impl Module<f32>) -> Result<(), CheckpointError> {
        let params = module.params();
        if let Some(e) = params.iter().find_map(|p| self.problems.remove(&p.name)) {
            return Err(e);
        }
        match self
            .ckpt
            .tensors
            .keys()
            .find(|k| params.iter().all(|p| p.name != **k))
        {
            Some(extra) => Err(CheckpointError::UnexpectedTensor {
                path: self.ckpt.path.clone(),
                name: extra.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Init<f32> for FromFile<'_> {
    fn param(&mut self, name: &str, dims: &[usize], _: Dist) -> Param {
        let problem = match self.ckpt.tensor(name) {
            Ok(t) if t.dims() == dims => return Param::new(name, t.clone()),
            Ok(t) => CheckpointError::WrongShape {
                path: self.ckpt.path.clone(),
                name: name.to_string(),
                expected: dims.to_vec(),
                found: t.dims().to_vec(),
            },
            Err(missing) => missing,
        };
        self.problems.insert(name.to_string(), problem);
        Param::new(name, Tensor::zeros([0]))
    }

    fn reset(&mut self, _: &mut Param, _: Dist) {}
}
