//! Text in, batches of token ids out: the character tokenizer, the built-in
//! corpus, loading a corpus file, the train/validation split and the sampler;
//! the memory tasks (the recall of one symbol, multi-query associative recall,
//! repeated random tokens).

pub mod apps;
mod corpus;
mod induction;
mod mqar;
mod recall;
mod tokenizer;

pub use corpus::{AnswerKind, Corpus};
pub use induction::{RepeatBatch, Repeats};
pub use mqar::{Mqar, MqarBatch, MqarSequence, MqarSplits};
pub use recall::RecallTask;
pub use tokenizer::{CharTokenizer, UnknownChars, UnknownId};

use rand::RngExt;
use rand::rngs::StdRng;
use std::fmt;
use std::path::{Path, PathBuf};

/// The smallest corpus a file may hold, in characters: below this a 10 %
/// validation split cannot hold even a few windows.
pub const MIN_CORPUS_CHARS: usize = 1000;

/// The largest corpus file read, in bytes: far more than the chapters need,
/// and a bound on what a wrong path (a device, a huge file) can cost.
pub const MAX_CORPUS_BYTES: u64 = 100 << 20;

/// Why a corpus file could not be used.
#[derive(Debug)]
pub enum CorpusError {
    Missing(PathBuf),
    /// A folder, a device, a pipe: not a regular file.
    NotAFile(PathBuf),
    TooLarge {
        path: PathBuf,
        bytes: u64,
    },
    Unreadable(PathBuf, std::io::Error),
    NotUtf8 {
        path: PathBuf,
        byte: usize,
    },
    Empty(PathBuf),
    TooShort {
        path: PathBuf,
        chars: usize,
        min: usize,
    },
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorpusError::Missing(p) => write!(f, "corpus file {} does not exist", p.display()),
            CorpusError::NotAFile(p) => write!(f, "corpus {} is not a regular file", p.display()),
            CorpusError::TooLarge { path, bytes } => write!(
                f,
                "corpus file {} has {bytes} bytes, more than the {} MiB this course reads",
                path.display(),
                MAX_CORPUS_BYTES >> 20
            ),
            CorpusError::Unreadable(p, e) => write!(f, "cannot read corpus file {}: {e}", p.display()),
            CorpusError::NotUtf8 { path, byte } => write!(
                f,
                "corpus file {} is not valid UTF-8 (first bad byte at offset {byte})",
                path.display()
            ),
            CorpusError::Empty(p) => write!(f, "corpus file {} is empty", p.display()),
            CorpusError::TooShort { path, chars, min } => write!(
                f,
                "corpus file {} has only {chars} characters; at least {min} are needed",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CorpusError {}

/// Reads a UTF-8 text file to train on, with a clear error for a missing,
/// unreadable, non-UTF-8, empty or too short file.
pub fn load_text(path: impl AsRef<Path>) -> Result<String, CorpusError> {
    let path = path.as_ref().to_path_buf();
    if !path.exists() {
        return Err(CorpusError::Missing(path));
    }
    let bytes = read_file(&path, MAX_CORPUS_BYTES).map_err(|e| match e {
        ReadError::NotAFile => CorpusError::NotAFile(path.clone()),
        ReadError::TooLarge(bytes) => CorpusError::TooLarge {
            path: path.clone(),
            bytes,
        },
        ReadError::Io(e) => CorpusError::Unreadable(path.clone(), e),
    })?;
    if bytes.is_empty() {
        return Err(CorpusError::Empty(path));
    }
    let text = String::from_utf8(bytes).map_err(|e| CorpusError::NotUtf8 {
        path: path.clone(),
        byte: e.utf8_error().valid_up_to(),
    })?;
    let chars = text.chars().count();
    if chars < MIN_CORPUS_CHARS {
        return Err(CorpusError::TooShort {
            path,
            chars,
            min: MIN_CORPUS_CHARS,
        });
    }
    Ok(text)
}

/// Why [`read_file`] gave up.
#[derive(Debug)]
pub enum ReadError {
    /// A folder, a device or a pipe, whose bytes may never end.
    NotAFile,
    /// The file holds this many bytes, more than the limit.
    TooLarge(u64),
    Io(std::io::Error),
}

/// The bytes of a regular file of at most `limit` bytes: a device such as
/// `/dev/zero`, a pipe or a file too large is refused before it is read.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // (The file may grow while it is read: never read past the limit.)
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    match bytes.len() as u64 {
        n if n > limit => Err(ReadError::TooLarge(n)),
        _ => Ok(bytes),
    }
}

/// Token ids of a text, split for training and validation.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub tokenizer: CharTokenizer,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl Dataset {
    /// Tokenizes `text` with its own alphabet and keeps the last 10 % for
    /// validation (as nanoGPT does).
    pub fn from_text(text: &str) -> Dataset {
        let tokenizer = CharTokenizer::from_text(text);
        let ids = tokenizer
            .encode(text)
            .expect("the alphabet comes from this very text");
        let split = ids.len() - ids.len() / 10;
        Dataset {
            tokenizer,
            val: ids[split..].to_vec(),
            train: ids[..split].to_vec(),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }

    /// The fewest characters a text needs for its training split to hold
    /// `train` tokens and its validation split `val`.
    ///
    /// The validation split is the last `len / 10` characters, so it holds `val`
    /// from `len = 10·val` on; the training split, `len − ⌊len/10⌋`, grows by one
    /// per character except at multiples of ten, so it first holds `train` at
    /// `len = train + ⌊(train − 1)/9⌋`. (Saturates at `usize::MAX`.)
    pub fn chars_needed(train: usize, val: usize) -> usize {
        let for_train = train.saturating_add(train.saturating_sub(1) / 9);
        for_train.max(val.saturating_mul(10))
    }

    pub fn split(&self, split: Split) -> &[usize] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        }
    }
}

/// Which part of a [`Dataset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
}

/// A batch of `batch` windows of `time` tokens: `inputs[b·time + t]` is followed
/// by `targets[b·time + t]` in the text.
#[derive(Clone, Debug)]
pub struct Batch {
    pub inputs: Vec<usize>,
    pub targets: Vec<usize>,
    pub batch: usize,
    pub time: usize,
}

/// `batch` windows of `time` + 1 tokens starting at uniformly random positions.
pub fn random_batch(tokens: &[usize], batch: usize, time: usize, rng: &mut StdRng) -> Batch {
    assert!(
        tokens.len() > time + 1,
        "random_batch: {} tokens cannot hold a window of {} (+1 for the target)",
        tokens.len(),
        time
    );
    let starts: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(0..tokens.len() - time))
        .collect();
    windows(tokens, &starts, time)
}

/// The windows starting at `starts`, each `time` inputs and `time` targets.
pub fn windows(tokens: &[usize], starts: &[usize], time: usize) -> Batch {
    let mut inputs = Vec::with_capacity(starts.len() * time);
    let mut targets = Vec::with_capacity(starts.len() * time);
    for &s in starts {
        inputs.extend_from_slice(&tokens[s..s + time]);
        targets.extend_from_slice(&tokens[s + 1..s + time + 1]);
    }
    Batch {
        inputs,
        targets,
        batch: starts.len(),
        time,
    }
}

/// Consecutive windows for recurrent models (truncated backpropagation through
/// time): the text is cut into `batch` streams, and each call returns the next
/// `time` tokens of every stream, so a hidden state can carry over.
#[derive(Clone, Debug)]
pub struct StreamSampler {
    starts: Vec<usize>,
    stream_len: usize,
    offset: usize,
    time: usize,
}

impl StreamSampler {
    pub fn new(tokens_len: usize, batch: usize, time: usize) -> Self {
        let stream_len = (tokens_len - 1) / batch;
        assert!(
            stream_len > time,
            "StreamSampler: {tokens_len} tokens in {batch} streams leave {stream_len} per stream, need more than {time}"
        );
        StreamSampler {
            starts: (0..batch).map(|b| b * stream_len).collect(),
            stream_len,
            offset: 0,
            time,
        }
    }

    /// The next windows, and whether the streams just wrapped to their start
    /// (the carried state should then be reset).
    pub fn next_batch(&mut self, tokens: &[usize]) -> (Batch, bool) {
        let wrapped = self.offset + self.time >= self.stream_len;
        if wrapped {
            self.offset = 0;
        }
        let starts: Vec<usize> = self.starts.iter().map(|s| s + self.offset).collect();
        self.offset += self.time;
        (windows(tokens, &starts, self.time), wrapped)
    }
}

/// How a model reads a text longer than its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Windows at random positions, each read from its start (a model that
    /// carries nothing from one window to the next).
    RandomWindows,
    /// Consecutive windows of parallel streams, so that what a model carries
    /// (an RNN's hidden state) flows from one window into the next.
    Streams,
}

/// The windows a training or evaluation run reads, in the way its model reads
/// a text: the sampler is chosen once, from the model's [`Reading`].
#[derive(Debug)]
pub enum Windows {
    Random {
        rng: Box<StdRng>,
        batch: usize,
        time: usize,
    },
    Streams(StreamSampler),
}

impl Windows {
    /// `batch` windows of `time` tokens per call from a text of `tokens_len`
    /// tokens (random positions drawn from `seed`).
    pub fn new(reading: Reading, tokens_len: usize, batch: usize, time: usize, seed: u64) -> Self {
        match reading {
            Reading::RandomWindows => Windows::Random {
                rng: Box::new(rand::SeedableRng::seed_from_u64(seed)),
                batch,
                time,
            },
            Reading::Streams => Windows::Streams(StreamSampler::new(tokens_len, batch, time)),
        }
    }

    /// The next batch of `tokens`, and whether what the model carries must start
    /// afresh (always, for random windows; when the streams wrap around, for streams).
    pub fn next_batch(&mut self, tokens: &[usize]) -> (Batch, bool) {
        match self {
            Windows::Random { rng, batch, time } => (random_batch(tokens, *batch, *time, rng), true),
            Windows::Streams(streams) => streams.next_batch(tokens),
        }
    }
}

/// The opening of `text` a sample starts from: at most `chars` characters,
/// beginning at a line (after the first line break among the first `4 · chars`
/// characters) or, failing that, a word (after the first space), and ending
/// before a word cut in two. A text cut at an arbitrary place, as the
/// validation split is, would otherwise start the sample mid-word.
pub fn opening(text: &str, chars: usize) -> &str {
    let head: Vec<(usize, char)> = text.char_indices().take(4 * chars.max(1)).collect();
    let after = |found: Option<usize>| {
        found.and_then(|i| {
            head[i..]
                .iter()
                .find(|(_, c)| !c.is_whitespace())
                .map(|&(at, _)| at)
        })
    };
    let start = after(head.iter().position(|&(_, c)| c == '\n'))
        .or_else(|| after(head.iter().position(|&(_, c)| c.is_whitespace())))
        .unwrap_or(0);
    let rest = &text[start..];
    let end = rest.char_indices().nth(chars).map_or(rest.len(), |(at, _)| at);
    let cut = &rest[..end];
    let mid_word = rest[end..].chars().next().is_some_and(|c| !c.is_whitespace())
        && cut.chars().last().is_some_and(|c| !c.is_whitespace());
    match cut.rfind(char::is_whitespace) {
        // Keep the space: the model goes on with a new word.
        Some(space) if mid_word => &cut[..space + cut[space..].chars().next().map_or(0, char::len_utf8)],
        _ => cut,
    }
}
