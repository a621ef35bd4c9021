//! Code generation (§6.4): a description in words becomes an arithmetic
//! program, and the program is judged by running it (functional correctness,
//! as code benchmarks score generated code), not by comparing its text.
//!
//! ```text
//! take 27, add 45, double it=(27+45)*2      eval → 144
//! ```
//!
//! [`eval`] is the interpreter: integers, `+ - *` and parentheses, with the
//! usual precedence. The memory an example demands is its number of operations.

use super::Example;
use rand::RngExt;
use rand::rngs::StdRng;

/// The code task: `min_ops..=max_ops` operations on a starting number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arithmetic {
    pub min_ops: usize,
    pub max_ops: usize,
}

impl Arithmetic {
    pub fn new(min_ops: usize, max_ops: usize) -> Self {
        assert!(
            1 <= min_ops && min_ops <= max_ops,
            "Arithmetic: operations {min_ops}..={max_ops} must be a non-empty range from 1"
        );
        Arithmetic { min_ops, max_ops }
    }

    /// One description and the program that computes it.
    pub fn example(&self, rng: &mut StdRng) -> Example {
        let n = rng.random_range(self.min_ops..=self.max_ops);
        let start = rng.random_range(1..100);
        let mut words = vec![format!("take {start}")];
        let mut program = start.to_string();
        // Whether `program` ends in a sum or difference outside parentheses.
        let mut sum = false;
        for _ in 0..n {
            let factor = |program: &str, sum: bool, k: i64| {
                if sum {
                    format!("({program})*{k}")
                } else {
                    format!("{program}*{k}")
                }
            };
            match rng.random_range(0..4) {
                0 => {
                    let b = rng.random_range(1..100);
                    words.push(format!("add {b}"));
                    program = format!("{program}+{b}");
                    sum = true;
                }
                1 => {
                    let b = rng.random_range(1..100);
                    words.push(format!("subtract {b}"));
                    program = format!("{program}-{b}");
                    sum = true;
                }
                2 => {
                    let k = rng.random_range(3..10);
                    words.push(format!("multiply by {k}"));
                    program = factor(&program, sum, k);
                    sum = false;
                }
                _ => {
                    words.push("double it".to_string());
                    program = factor(&program, sum, 2);
                    sum = false;
                }
            }
        }
        Example {
            prompt: words.join(", "),
            answer: program,
            demand: n,
        }
    }
}

/// Why a program could not be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// An unexpected character (or the end) at this byte.
    Syntax {
        at: usize,
    },
    Overflow,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Syntax { at } => write!(f, "syntax error at character {at}"),
            EvalError::Overflow => write!(f, "the value overflows 64 bits"),
        }
    }
}

impl std::error::Error for EvalError {}

/// Runs a program: `expr := term (('+' | '-') term)*`,
/// `term := factor ('*' factor)*`, `factor := digits | '(' expr ')'`.
pub fn eval(program: &str) -> Result<i64, EvalError> {
    let mut p = Parser {
        s: program.as_bytes(),
        at: 0,
    };
    let v = p.expr()?;
    if p.at == p.s.len() {
        Ok(v)
    } else {
        Err(EvalError::Syntax { at: p.at })
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn expr(&mut self) -> Result<i64, EvalError> {
        let mut v = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.at += 1;
            let t = self.term()?;
            v = if op == b'+' {
                v.checked_add(t)
            } else {
                v.checked_sub(t)
            }
            .ok_or(EvalError::Overflow)?;
        }
        Ok(v)
    }

    fn term(&mut self) -> Result<i64, EvalError> {
        let mut v = self.factor()?;
        while self.peek() == Some(b'*') {
            self.at += 1;
            v = v.checked_mul(self.factor()?).ok_or(EvalError::Overflow)?;
        }
        Ok(v)
    }

    fn factor(&mut self) -> Result<i64, EvalError> {
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                let v = self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(EvalError::Syntax { at: self.at });
                }
                self.at += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() => {
                let mut v: i64 = 0;
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i64::from(d - b'0')))
                        .ok_or(EvalError::Overflow)?;
                    self.at += 1;
                }
                Ok(v)
            }
            _ => Err(EvalError::Syntax { at: self.at }),
        }
    }
}
