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
//! | `model` | `transformer_lm`, `eq42` or `rnn` |
//! | sizes | `vocab_size` and `embed_dim`, `num_heads`, `ff_dim`, `num_layers`, `context` (Transformer); `d_model`, `d_k`, `d_ff`, `context` (Eq. 4.2); `hidden_size`, `activation` (RNN) |
//! | `causal` | `true` or `false` (always `true` for Eq. 4.2 and the RNN) |
//! | `alphabet` | the tokenizer's characters in id order, as one string |
//!
//! Loading checks the file before building anything: the header, the dtype of
//! every tensor, the metadata, then every expected name and shape. Each problem
//! is a [`CheckpointError`] naming the file and what is wrong; nothing here
//! panics, whatever the bytes.

use crate::autograd::{Module, Param};
use crate::data::CharTokenizer;
use crate::models::{Activation, Eq42, Eq42Config, Rnn, TransformerConfig, TransformerLM};
use crate::tensor::{MAX_RANK, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The `model` value of each kind of checkpoint.
pub const TRANSFORMER_LM: &str = "transformer_lm";
pub const EQ42: &str = "eq42";
pub const RNN: &str = "rnn";

/// The largest size a checkpoint's metadata may give. Sizes are checked against
/// the tensors' shapes, but only after they are read; this bound keeps every
/// computation with them far from overflow whatever a corrupt file says.
pub const MAX_SIZE: usize = 1 << 24;

/// The longest context a checkpoint may ask for: the positional table is built
/// from this number alone, so a corrupt value must not allocate without bound.
pub const MAX_CONTEXT: usize = 1 << 20;

/// Everything that can go wrong reading or writing a checkpoint. Each variant
/// carries the file's path, and its `Display` says what is wrong in one line.
#[derive(Debug)]
pub enum CheckpointError {
    /// No file at this path.
    NotFound { path: PathBuf },
    /// Any other failure to read or write the file.
    Io { path: PathBuf, source: std::io::Error },
    /// The bytes are not a valid safetensors file: truncated, bad header, wrong length.
    Corrupt { path: PathBuf, reason: String },
    /// The model has a parameter the file lacks.
    MissingTensor { path: PathBuf, name: String },
    /// The file has a tensor the model has no parameter for.
    UnexpectedTensor { path: PathBuf, name: String },
    /// A tensor's shape differs from the parameter's.
    WrongShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A tensor is not `F32` (e.g. `F16`, `BF16`, `F64`).
    WrongDtype {
        path: PathBuf,
        name: String,
        found: String,
    },
    /// A metadata key the model needs is absent.
    MissingMetadata { path: PathBuf, key: String },
    /// A metadata value cannot be used: not a number, sizes that do not fit together…
    BadMetadata {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// The file holds another kind of model.
    WrongModel {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckpointError::*;
        let path = |p: &PathBuf| p.display().to_string();
        match self {
            NotFound { path: p } => write!(f, "checkpoint {}: no such file", path(p)),
            Io { path: p, source } => write!(f, "checkpoint {}: {source}", path(p)),
            Corrupt { path: p, reason } => {
                write!(
                    f,
                    "checkpoint {}: not a valid safetensors file: {reason}",
                    path(p)
                )
            }
            MissingTensor { path: p, name } => {
                write!(f, "checkpoint {}: tensor `{name}` is missing", path(p))
            }
            UnexpectedTensor { path: p, name } => write!(
                f,
                "checkpoint {}: unexpected tensor `{name}` (the model has no parameter of that name)",
                path(p)
            ),
            WrongShape {
                path: p,
                name,
                expected,
                found,
            } => write!(
                f,
                "checkpoint {}: tensor `{name}` has shape {found:?}, expected {expected:?}",
                path(p)
            ),
            WrongDtype { path: p, name, found } => {
                write!(
                    f,
                    "checkpoint {}: tensor `{name}` is {found}, expected F32",
                    path(p)
                )
            }
            MissingMetadata { path: p, key } => {
                write!(f, "checkpoint {}: metadata key `{key}` is missing", path(p))
            }
            BadMetadata {
                path: p,
                key,
                value,
                reason,
            } => write!(
                f,
                "checkpoint {}: metadata `{key}` = {value:?}: {reason}",
                path(p)
            ),
            WrongModel {
                path: p,
                expected,
                found,
            } => write!(
                f,
                "checkpoint {}: holds a `{found}` model, expected `{expected}`",
                path(p)
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The contents of a checkpoint file, every tensor converted to a [`Tensor`].
#[derive(Debug)]
pub struct Checkpoint {
    /// Where it was read from (every error names it).
    pub path: PathBuf,
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
    /// The `__metadata__` table (empty if the file has none).
    pub metadata: BTreeMap<String, String>,
}

// ANCHOR: save
/// Writes `params` as `F32` tensors named by their `state_dict` names, with
/// `metadata` as the file's `__metadata__` table.
pub fn save(
    path: impl AsRef<Path>,
    params: &[&Param],
    metadata: &[(&str, String)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    // Each tensor's numbers as little-endian bytes, the file's layout.
    let bytes: Vec<Vec<u8>> = params
        .iter()
        .map(|p| p.value.data().iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(params.len());
    for (p, b) in params.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, p.value.dims().to_vec(), b).map_err(|e| corrupt(path, e))?;
        views.push((p.name.as_str(), view));
    }
    let metadata: HashMap<String, String> =
        metadata.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let file = safetensors::serialize(views, Some(metadata)).map_err(|e| corrupt(path, e))?;
    // Write beside the target, then rename: a crash mid-write never leaves a
    // half-written file under the checkpoint's name.
    let partial = path.with_extension("partial");
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&partial, file).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}
// ANCHOR_END: save

/// Reads a checkpoint. Fails on a missing or unreadable file, bytes that are not
/// a complete safetensors file, or a tensor that is not `F32`.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => CheckpointError::NotFound {
            path: path.to_path_buf(),
        },
        _ => CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    from_bytes(&bytes, path)
}

/// Parses the bytes of a checkpoint file; `path` is only used in error messages.
pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    let path = path.as_ref().to_path_buf();
    // Both calls validate the header: lengths, offsets, and that the numbers
    // fill the rest of the file exactly.
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(&path, e))?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| corrupt(&path, e))?;
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();

    let mut views = file.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tensors = BTreeMap::new();
    for (name, view) in views {
        if view.dtype() != Dtype::F32 {
            let found = format!("{:?}", view.dtype());
            return Err(CheckpointError::WrongDtype { path, name, found });
        }
        if view.shape().len() > MAX_RANK {
            let reason = format!(
                "tensor `{name}` has rank {}, more than shortmem's maximum of {MAX_RANK}",
                view.shape().len()
            );
            return Err(CheckpointError::Corrupt { path, reason });
        }
        let numbers = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.insert(name, Tensor::from_vec(view.shape(), numbers));
    }
    Ok(Checkpoint {
        path,
        tensors,
        metadata,
    })
}

/// A safetensors error as a [`CheckpointError::Corrupt`], in plain words.
fn corrupt(path: &Path, e: SafeTensorError) -> CheckpointError {
    let reason = match e {
        SafeTensorError::HeaderTooSmall => {
            "shorter than the 8 bytes that give the header's length".to_string()
        }
        SafeTensorError::InvalidHeaderLength | SafeTensorError::HeaderTooLarge => {
            "the header's length runs past the end of the file (truncated?)".to_string()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "the tensors do not fill the file exactly (truncated, or extra bytes)".to_string()
        }
        e => e.to_string(),
    };
    CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

impl Checkpoint {
    /// The metadata value of `key`.
    pub fn meta(&self, key: &str) -> Result<&str, CheckpointError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CheckpointError::MissingMetadata {
                path: self.path.clone(),
                key: key.to_string(),
            })
    }

    /// The metadata value of `key`, parsed (`usize`, `bool`, …).
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<T, CheckpointError>
    where
        T::Err: fmt::Display,
    {
        let value = self.meta(key)?;
        value.parse().map_err(|e: T::Err| self.bad(key, e.to_string()))
    }

    /// A [`CheckpointError::BadMetadata`] for `key`, with its current value.
    pub fn bad(&self, key: &str, reason: impl Into<String>) -> CheckpointError {
        CheckpointError::BadMetadata {
            path: self.path.clone(),
            key: key.to_string(),
            value: self.metadata.get(key).cloned().unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// Checks that the file holds a model of this kind (`model` metadata).
    pub fn expect_model(&self, kind: &str) -> Result<(), CheckpointError> {
        let found = self.meta("model")?;
        if found == kind {
            Ok(())
        } else {
            Err(CheckpointError::WrongModel {
                path: self.path.clone(),
                expected: kind.to_string(),
                found: found.to_string(),
            })
        }
    }

    /// The tokenizer saved as `alphabet`, which must have `vocab_size` characters.
    pub fn tokenizer(&self, vocab_size: usize) -> Result<CharTokenizer, CheckpointError> {
        let alphabet = self.meta("alphabet")?;
        let tokenizer = CharTokenizer::from_alphabet(alphabet)
            .ok_or_else(|| self.bad("alphabet", "a character repeats"))?;
        if tokenizer.vocab_size() != vocab_size {
            let reason = format!(
                "{} characters, but vocab_size is {vocab_size}",
                tokenizer.vocab_size()
            );
            return Err(self.bad("alphabet", reason));
        }
        Ok(tokenizer)
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<&Tensor, CheckpointError> {
        self.tensors
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })
    }

    /// Checks that the file holds exactly these tensors (name and shape), no
    /// more: the first problem, in the order given, is the error.
    pub fn check_tensors(&self, expected: &[(String, Vec<usize>)]) -> Result<(), CheckpointError> {
        for (name, dims) in expected {
            let found = self.tensor(name)?.dims();
            if found != dims.as_slice() {
                return Err(CheckpointError::WrongShape {
                    path: self.path.clone(),
                    name: name.clone(),
                    expected: dims.clone(),
                    found: found.to_vec(),
                });
            }
        }
        if let Some(extra) = self
            .tensors
            .keys()
            .find(|k| !expected.iter().any(|(n, _)| n == *k))
        {
            return Err(CheckpointError::UnexpectedTensor {
                path: self.path.clone(),
                name: extra.clone(),
            });
        }
        Ok(())
    }

    // ANCHOR: copy_into
    /// Sets every parameter's value from the tensor of the same name, after
    /// checking that names and shapes match one to one.
    pub fn copy_into(&self, params: &mut [&mut Param]) -> Result<(), CheckpointError> {
        let expected: Vec<(String, Vec<usize>)> = params
            .iter()
            .map(|p| (p.name.clone(), p.value.dims().to_vec()))
            .collect();
        self.check_tensors(&expected)?;
        for p in params.iter_mut() {
            p.value = self.tensor(&p.name)?.clone();
        }
        Ok(())
    }
    // ANCHOR_END: copy_into

    /// A size from the metadata, at least `min` and at most [`MAX_SIZE`].
    fn size_from(&self, key: &str, min: usize) -> Result<usize, CheckpointError> {
        match self.parse::<usize>(key)? {
            n if n < min => Err(self.bad(key, format!("must be at least {min}"))),
            n if n > MAX_SIZE => Err(self.bad(key, format!("larger than the maximum of {MAX_SIZE}"))),
            n => Ok(n),
        }
    }

    /// A size from the metadata that must be positive (`0` would make no model).
    fn size(&self, key: &str) -> Result<usize, CheckpointError> {
        self.size_from(key, 1)
    }

    /// The `context` size, positive and at most [`MAX_CONTEXT`].
    fn context(&self) -> Result<usize, CheckpointError> {
        let context = self.size("context")?;
        if context > MAX_CONTEXT {
            return Err(self.bad("context", format!("larger than the maximum of {MAX_CONTEXT}")));
        }
        Ok(context)
    }

    /// `causal` for a model that always masks: it must say `true`.
    fn always_causal(&self) -> Result<(), CheckpointError> {
        match self.parse::<bool>("causal")? {
            true => Ok(()),
            false => Err(self.bad("causal", "this model always masks the future")),
        }
    }
}

/// `(name, shape)` pairs for the parameters of a model.
fn shapes<'a>(params: impl IntoIterator<Item = (&'a str, Vec<usize>)>) -> Vec<(String, Vec<usize>)> {
    params.into_iter().map(|(n, s)| (n.to_string(), s)).collect()
}

/// An error if the tokenizer does not match the model's vocabulary (saving
/// such a pair would write a file that cannot be loaded).
fn check_alphabet(path: &Path, tokenizer: &CharTokenizer, vocab_size: usize) -> Result<(), CheckpointError> {
    if tokenizer.vocab_size() == vocab_size {
        return Ok(());
    }
    Err(CheckpointError::BadMetadata {
        path: path.to_path_buf(),
        key: "alphabet".to_string(),
        value: tokenizer.alphabet(),
        reason: format!(
            "{} characters, but the model's vocabulary has {vocab_size}",
            tokenizer.vocab_size()
        ),
    })
}

// ---------------------------------------------------------------- §5 TransformerLM

// ANCHOR: transformer_save_load
impl TransformerLM {
    /// Saves the parameters under their PyTorch `state_dict` names, with the
    /// configuration and the tokenizer's alphabet as metadata.
    pub fn save(&self, path: impl AsRef<Path>, tokenizer: &CharTokenizer) -> Result<(), CheckpointError> {
        let c = &self.config;
        check_alphabet(path.as_ref(), tokenizer, c.vocab_size)?;
        let metadata = [
            ("model", TRANSFORMER_LM.to_string()),
            ("vocab_size", c.vocab_size.to_string()),
            ("embed_dim", c.embed_dim.to_string()),
            ("num_heads", c.num_heads.to_string()),
            ("ff_dim", c.ff_dim.to_string()),
            ("num_layers", c.num_layers.to_string()),
            ("context", c.context.to_string()),
            ("causal", c.causal.to_string()),
            ("alphabet", tokenizer.alphabet()),
        ];
        save(path, &self.params(), &metadata)
    }

    /// Loads a model and its tokenizer saved by [`TransformerLM::save`] or by
    /// PyTorch (`tools/load_in_pytorch.py` shows the other direction).
    pub fn load(path: impl AsRef<Path>) -> Result<(TransformerLM, CharTokenizer), CheckpointError> {
        Self::from_checkpoint(&load(path)?)
    }

    /// Builds the model and tokenizer a checkpoint describes, checking it first.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<(TransformerLM, CharTokenizer), CheckpointError> {
        ckpt.expect_model(TRANSFORMER_LM)?;
        let config = TransformerConfig {
            vocab_size: ckpt.size("vocab_size")?,
            embed_dim: ckpt.size("embed_dim")?,
            num_heads: ckpt.size("num_heads")?,
            ff_dim: ckpt.size("ff_dim")?,
            num_layers: ckpt.size_from("num_layers", 0)?,
            context: ckpt.context()?,
            causal: ckpt.parse("causal")?,
        };
        if let Err(reason) = config.check() {
            let divides = config.embed_dim.is_multiple_of(config.num_heads);
            return Err(ckpt.bad(if divides { "embed_dim" } else { "num_heads" }, reason));
        }
        let tokenizer = ckpt.tokenizer(config.vocab_size)?;
        if config.num_layers > ckpt.tensors.len() {
            let reason = format!("{} tensors cannot hold that many blocks", ckpt.tensors.len());
            return Err(ckpt.bad("num_layers", reason));
        }
        // Check every name and shape before allocating the model.
        ckpt.check_tensors(&transformer_shapes(&config))?;
        let mut model = TransformerLM::new(config, &mut StdRng::seed_from_u64(0));
        ckpt.copy_into(&mut model.params_mut())?;
        Ok((model, tokenizer))
    }
}
// ANCHOR_END: transformer_save_load

/// The `state_dict` of a [`TransformerLM`]: every name and shape, in order.
fn transformer_shapes(c: &TransformerConfig) -> Vec<(String, Vec<usize>)> {
    let (v, d, f) = (c.vocab_size, c.embed_dim, c.ff_dim);
    let mut out = shapes([("embed.weight", vec![v, d])]);
    for i in 0..c.num_layers {
        let block = [
            ("attention.in_proj_weight", vec![3 * d, d]),
            ("attention.in_proj_bias", vec![3 * d]),
            ("attention.out_proj.weight", vec![d, d]),
            ("attention.out_proj.bias", vec![d]),
            ("ff.0.weight", vec![f, d]),
            ("ff.0.bias", vec![f]),
            ("ff.2.weight", vec![d, f]),
            ("ff.2.bias", vec![d]),
            ("norm1.weight", vec![d]),
            ("norm1.bias", vec![d]),
            ("norm2.weight", vec![d]),
            ("norm2.bias", vec![d]),
        ];
        out.extend(block.into_iter().map(|(n, s)| (format!("blocks.{i}.{n}"), s)));
    }
    out.extend(shapes([("out.weight", vec![v, d]), ("out.bias", vec![v])]));
    out
}

// ---------------------------------------------------------------- §4.2

impl Eq42 {
    /// Saves the parameters (`E`, `W_Q`, …, `b_o`), the sizes and the alphabet.
    pub fn save(&self, path: impl AsRef<Path>, tokenizer: &CharTokenizer) -> Result<(), CheckpointError> {
        let c = &self.config;
        check_alphabet(path.as_ref(), tokenizer, c.vocab_size)?;
        let metadata = [
            ("model", EQ42.to_string()),
            ("vocab_size", c.vocab_size.to_string()),
            ("d_model", c.d_model.to_string()),
            ("d_k", c.d_k.to_string()),
            ("d_ff", c.d_ff.to_string()),
            ("context", c.context.to_string()),
            ("causal", "true".to_string()),
            ("alphabet", tokenizer.alphabet()),
        ];
        save(path, &self.params(), &metadata)
    }

    /// Loads a model and its tokenizer saved by [`Eq42::save`] (or by
    /// `tools/make_fixtures.py`).
    pub fn load(path: impl AsRef<Path>) -> Result<(Eq42, CharTokenizer), CheckpointError> {
        Self::from_checkpoint(&load(path)?)
    }

    /// Builds the model and tokenizer a checkpoint describes, checking it first.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<(Eq42, CharTokenizer), CheckpointError> {
        ckpt.expect_model(EQ42)?;
        let config = Eq42Config {
            vocab_size: ckpt.size("vocab_size")?,
            d_model: ckpt.size("d_model")?,
            d_k: ckpt.size("d_k")?,
            d_ff: ckpt.size("d_ff")?,
            context: ckpt.context()?,
        };
        if !config.d_model.is_multiple_of(2) {
            return Err(ckpt.bad(
                "d_model",
                "must be even (sin/cos pairs of the positional encoding)",
            ));
        }
        ckpt.always_causal()?;
        let tokenizer = ckpt.tokenizer(config.vocab_size)?;
        let Eq42Config {
            vocab_size: v,
            d_model: dm,
            d_k: dk,
            d_ff: df,
            ..
        } = config;
        ckpt.check_tensors(&shapes([
            ("E", vec![dm, v]),
            ("W_Q", vec![dm, dk]),
            ("W_K", vec![dm, dk]),
            ("W_V", vec![dm, dk]),
            ("W_1", vec![dk, df]),
            ("b_1", vec![df]),
            ("W_2", vec![df, dm]),
            ("b_2", vec![dm]),
            ("W_o", vec![dm, v]),
            ("b_o", vec![v]),
        ]))?;
        let mut model = Eq42::new(config, &mut StdRng::seed_from_u64(0));
        ckpt.copy_into(&mut model.params_mut())?;
        Ok((model, tokenizer))
    }
}

// ---------------------------------------------------------------- §4.1

impl Rnn {
    /// Saves `U`, `W`, `b`, `V`, `c`, the sizes, f and the alphabet.
    pub fn save(&self, path: impl AsRef<Path>, tokenizer: &CharTokenizer) -> Result<(), CheckpointError> {
        check_alphabet(path.as_ref(), tokenizer, self.vocab())?;
        let activation = match self.f {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        };
        let metadata = [
            ("model", RNN.to_string()),
            ("vocab_size", self.vocab().to_string()),
            ("hidden_size", self.hidden_size().to_string()),
            ("activation", activation.to_string()),
            ("causal", "true".to_string()),
            ("alphabet", tokenizer.alphabet()),
        ];
        save(path, &self.params(), &metadata)
    }

    /// Loads a model and its tokenizer saved by [`Rnn::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<(Rnn, CharTokenizer), CheckpointError> {
        Self::from_checkpoint(&load(path)?)
    }

    /// Builds the model and tokenizer a checkpoint describes, checking it first.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<(Rnn, CharTokenizer), CheckpointError> {
        ckpt.expect_model(RNN)?;
        let (v, h) = (ckpt.size("vocab_size")?, ckpt.size("hidden_size")?);
        let f = match ckpt.meta("activation")? {
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            _ => return Err(ckpt.bad("activation", "expected `tanh` or `relu`")),
        };
        ckpt.always_causal()?;
        let tokenizer = ckpt.tokenizer(v)?;
        ckpt.check_tensors(&shapes([
            ("U", vec![h, v]),
            ("W", vec![h, h]),
            ("b", vec![h]),
            ("V", vec![v, h]),
            ("c", vec![v]),
        ]))?;
        let mut model = Rnn::new(v, h, f, &mut StdRng::seed_from_u64(0));
        ckpt.copy_into(&mut model.params_mut())?;
        Ok((model, tokenizer))
    }
}
