//! The safetensors format: reading and writing the tensors and metadata of a
//! file, and reading values out of its metadata, each failure a
//! [`CheckpointError`] naming the file.

use super::{CheckpointError, MAX_CONTEXT, MAX_SIZE};
use crate::autograd::Param;
use crate::data::CharTokenizer;
use crate::data::{ReadError, read_file};
use crate::tensor::{MAX_RANK, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// Writes `params` as `F32` tensors named by their `state_dict` names, with
/// `metadata` as the file's `__metadata__` table.
pub fn save(
    path: impl AsRef<Path>,
    params: &[&Param],
    metadata: &[(&str, String)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let file = serialize(params, metadata, path)?;
    // Write beside the target under a name no one else uses, then rename: a
    // crash mid-write never leaves a half-written file under the checkpoint's
    // name, and no file of the user's is replaced but the checkpoint itself.
    let partial = unique_partial(path);
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Err(e) = std::fs::write(&partial, file) {
        let _ = std::fs::remove_file(&partial);
        return Err(io(e));
    }
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io(e)
    })
}

/// The bytes of the file [`save`] writes (`path` names it in errors).
pub fn serialize(
    params: &[&Param],
    metadata: &[(&str, String)],
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
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
    safetensors::serialize(views, Some(metadata)).map_err(|e| corrupt(path, e))
}

/// `name.<process>-<n>.partial` beside `path`: unique to this write.
fn unique_partial(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or("checkpoint".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}-{n}.partial", std::process::id()))
}

/// The largest checkpoint file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The largest header a checkpoint may have, in bytes: room for thousands of
/// tensors and a long alphabet, and a bound on what parsing a header can cost.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Reads a checkpoint. Fails on a missing or unreadable file, one that is not a
/// regular file or is over 1 GiB, bytes that are not a complete safetensors
/// file, or a tensor that is not `F32`.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    let path = path.as_ref();
    let bytes = read_file(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::Io(source) if source.kind() == std::io::ErrorKind::NotFound => CheckpointError::NotFound {
            path: path.to_path_buf(),
        },
        ReadError::Io(source) => CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        },
        ReadError::NotAFile => CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: "not a regular file (a folder, a device or a pipe)".into(),
        },
        ReadError::TooLarge(bytes) => CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "{bytes} bytes, more than the {} MiB a checkpoint may have",
                MAX_FILE_BYTES >> 20
            ),
        },
    })?;
    from_bytes(&bytes, path)
}

/// Parses the bytes of a checkpoint file; `path` is only used in error messages.
pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
    let path = path.as_ref().to_path_buf();
    if let Some(claimed) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    {
        let after = bytes.len() - 8;
        if claimed > MAX_HEADER_BYTES {
            let reason = format!(
                "the header's length, in its first 8 bytes, is {claimed} bytes, more than the {} KiB a checkpoint's header may have",
                MAX_HEADER_BYTES >> 10
            );
            return Err(CheckpointError::Corrupt { path, reason });
        }
        if claimed > after as u64 {
            let reason = format!(
                "the header's length, in its first 8 bytes, is {claimed} bytes, but only {after} bytes follow (truncated, or not a checkpoint?)"
            );
            return Err(CheckpointError::Corrupt { path, reason });
        }
    }
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
        let numbers: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(index) = numbers.iter().position(|x| !x.is_finite()) {
            let value = numbers[index];
            return Err(CheckpointError::NotFinite {
                path,
                name,
                index,
                value,
            });
        }
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
        // Counted first: a long wrong alphabet costs nothing to refuse.
        let chars = alphabet.chars().count();
        if chars != vocab_size {
            let reason = format!("{chars} characters, but vocab_size is {vocab_size}");
            return Err(self.bad("alphabet", reason));
        }
        CharTokenizer::from_alphabet(alphabet).ok_or_else(|| self.bad("alphabet", "a character repeats"))
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

    /// A size from the metadata, at least `min` and at most [`MAX_SIZE`].
    pub fn size_from(&self, key: &str, min: usize) -> Result<usize, CheckpointError> {
        match self.parse::<usize>(key)? {
            n if n < min => Err(self.bad(key, format!("must be at least {min}"))),
            n if n > MAX_SIZE => Err(self.bad(key, format!("larger than the maximum of {MAX_SIZE}"))),
            n => Ok(n),
        }
    }

    /// A size from the metadata that must be positive (`0` would make no model).
    pub fn size(&self, key: &str) -> Result<usize, CheckpointError> {
        self.size_from(key, 1)
    }

    /// The `context` size, positive and at most [`MAX_CONTEXT`].
    pub fn context(&self) -> Result<usize, CheckpointError> {
        let context = self.size("context")?;
        if context > MAX_CONTEXT {
            return Err(self.bad("context", format!("larger than the maximum of {MAX_CONTEXT}")));
        }
        Ok(context)
    }

    /// `causal` for a model that always masks: it must say `true`.
    pub fn always_causal(&self) -> Result<(), CheckpointError> {
        match self.parse::<bool>("causal")? {
            true => Ok(()),
            false => Err(self.bad("causal", "this model always masks the future")),
        }
    }
}
