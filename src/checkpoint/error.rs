//! What can go wrong with a checkpoint, each error naming the file.

use std::fmt;
use std::path::PathBuf;

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
    /// A tensor holds a NaN or an infinity.
    NotFinite {
        path: PathBuf,
        name: String,
        index: usize,
        value: f32,
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
                "checkpoint {}: metadata `{key}` = {}: {reason}",
                path(p),
                quoted(value)
            ),
            NotFinite {
                path: p,
                name,
                index,
                value,
            } => write!(
                f,
                "checkpoint {}: tensor `{name}` holds {value} at element {index}; a model's numbers must be finite",
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

/// A metadata value as an error quotes it: whole if short, else its first 100
/// characters and how long it is (a corrupt value may be megabytes long).
fn quoted(value: &str) -> String {
    const SHOWN: usize = 100;
    let chars = value.chars().count();
    if chars <= SHOWN {
        return format!("{value:?}");
    }
    let start: String = value.chars().take(SHOWN).collect();
    format!("{start:?}… ({chars} characters)")
}
