//! What a product is, named: the [`Gemm`] descriptor and, for many products of
//! one shape, [`Batched`].
//!
//! A call reads like the formula it computes. `S = Q·Kᵀ/√d` over `rows` query
//! rows and `seen` keys, with Q and K read in place from a packed buffer whose
//! rows are `ld` long, into a score matrix whose rows are `t` long:
//!
//! ```
//! use shortmem::kernels::{Gemm, sgemm};
//! let (rows, seen, d, ld, t) = (2, 3, 4, 12, 3);
//! let (q, k) = (vec![1.0f32; rows * ld], vec![0.5f32; seen * ld]);
//! let mut s = vec![0.0f32; rows * t];
//! let scores = Gemm::new(rows, seen, d).alpha(0.5).lda(ld).transpose_b().ldb(ld).ldc(t);
//! sgemm(&scores, &q, &k, &mut s);
//! assert_eq!(s, vec![1.0; rows * t]); // 0.5 · (4 · 1 · 0.5)
//! ```

// ANCHOR: gemm
/// `C = α·op(A)·op(B) + β·C` in row-major storage, op(X) being X or Xᵀ: op(A) is
/// `m×k`, op(B) is `k×n`, C is `m×n`.
///
/// Each matrix is stored row after row with its *leading dimension*: the
/// distance between the starts of two consecutive stored rows, at least the
/// stored width (a transposed A is stored `k×m`, so its rows are `m` long). A
/// leading dimension larger than the width reads a block of a wider matrix in
/// place; `None` means the matrix is dense (see [`Gemm::leading_dims`]). As in
/// BLAS, `β = 0` means C is only written, never read, so NaNs already in C do
/// not leak into the result.
///
/// [`Gemm::new`] starts from the plainest product (α = 1, β = 0, nothing
/// transposed, every matrix dense) and the other methods change one setting
/// each, in any order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub beta: T,
    /// A is stored transposed (`k×m`).
    pub trans_a: bool,
    /// B is stored transposed (`n×k`).
    pub trans_b: bool,
    pub lda: Option<usize>,
    pub ldb: Option<usize>,
    pub ldc: Option<usize>,
}
// ANCHOR_END: gemm

impl<T: Copy + From<f32>> Gemm<T> {
    /// `C = A·B` with A `m×k`, B `k×n`, C `m×n`, each dense.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Gemm {
            m,
            n,
            k,
            alpha: T::from(1.0),
            beta: T::from(0.0),
            trans_a: false,
            trans_b: false,
            lda: None,
            ldb: None,
            ldc: None,
        }
    }

    /// Scales the product: `C = α·op(A)·op(B) + β·C`.
    pub fn alpha(self, alpha: T) -> Self {
        Gemm { alpha, ..self }
    }

    /// Keeps β times the old C (β = 1 accumulates into it).
    pub fn beta(self, beta: T) -> Self {
        Gemm { beta, ..self }
    }

    /// A is stored transposed, `k×m`.
    pub fn transpose_a(self) -> Self {
        Gemm {
            trans_a: true,
            ..self
        }
    }

    /// B is stored transposed, `n×k`.
    pub fn transpose_b(self) -> Self {
        Gemm {
            trans_b: true,
            ..self
        }
    }

    /// A's stored rows start `lda` elements apart.
    pub fn lda(self, lda: usize) -> Self {
        Gemm {
            lda: Some(lda),
            ..self
        }
    }

    /// B's stored rows start `ldb` elements apart.
    pub fn ldb(self, ldb: usize) -> Self {
        Gemm {
            ldb: Some(ldb),
            ..self
        }
    }

    /// C's rows start `ldc` elements apart.
    pub fn ldc(self, ldc: usize) -> Self {
        Gemm {
            ldc: Some(ldc),
            ..self
        }
    }
}

impl<T> Gemm<T> {
    /// A's stored shape `(rows, columns)`: `m×k`, or `k×m` when transposed.
    pub fn a_stored(&self) -> (usize, usize) {
        if self.trans_a {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        }
    }

    /// B's stored shape: `k×n`, or `n×k` when transposed.
    pub fn b_stored(&self) -> (usize, usize) {
        if self.trans_b {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        }
    }

    /// The leading dimensions of A, B and C: each one given, or, for a dense
    /// matrix, its stored width (at least 1, as BLAS asks).
    pub fn leading_dims(&self) -> (usize, usize, usize) {
        let dense = |cols: usize| cols.max(1);
        (
            self.lda.unwrap_or(dense(self.a_stored().1)),
            self.ldb.unwrap_or(dense(self.b_stored().1)),
            self.ldc.unwrap_or(dense(self.n)),
        )
    }
}

/// `count` independent products of one [`Gemm`] shape: entry `i` reads A at
/// `a[i·stride_a..]`, B at `b[i·stride_b..]` and writes C at `c[i·stride_c..]`.
///
/// A stride of 0 reuses one matrix for every entry; `stride_c = 0` sums every
/// product into one C, in order: C = β·C + Σᵢ α·op(Aᵢ)·op(Bᵢ), β applied once
/// (with the first entry; the later ones add), so β = 0 writes the sum without
/// reading C. Otherwise the entries of C must not overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batched {
    pub count: usize,
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
}

// ANCHOR: epilogue
/// What a product does to each entry of C once it is complete: add a bias per
/// column, then clamp at zero, `C[i][j] = relu(C[i][j] + bias[j])` (either step
/// may be left out). A `Linear` layer's `ReLU(x·Wᵀ + b)` in the product's own
/// pass: the kernels apply it to each tile of C as soon as its last K block is
/// stored, while the tile is still in L1, instead of a second pass over C
/// through memory ([`crate::kernels::sgemm_then`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epilogue<'a, T> {
    /// Added to every row of C: one value per column (`n` of them).
    pub bias: Option<&'a [T]>,
    /// `max(·, 0)` after the bias (a NaN becomes 0).
    pub relu: bool,
}
// ANCHOR_END: epilogue

impl<T: Copy + PartialOrd + std::ops::Add<Output = T> + From<f32>> Epilogue<'_, T> {
    /// Whether there is anything to do.
    pub fn is_some(&self) -> bool {
        self.bias.is_some() || self.relu
    }

    /// Applies the epilogue to `row`, the part of one row of C that starts at column `col`.
    ///
    /// # Panics
    /// If the bias has fewer than `col + row.len()` values.
    #[inline(always)]
    pub fn apply(&self, row: &mut [T], col: usize) {
        let zero = T::from(0.0);
        match (self.bias, self.relu) {
            (Some(bias), relu) => {
                let bias = &bias[col..][..row.len()];
                row.iter_mut()
                    .zip(bias)
                    .for_each(|(v, &b)| *v = finish(*v + b, relu));
            }
            // x + 0 is x, but a new value: every entry is stored (see `finish`).
            (None, true) => row.iter_mut().for_each(|v| *v = finish(*v + zero, true)),
            (None, false) => {}
        }
    }
}

/// The ReLU of the epilogue, `max(v, 0)` (NaN and −0 become +0), or `v`.
///
/// Always applied to a value just computed, never to C's entry as stored:
/// `c = if c > 0 { c } else { 0 }` in place lets the compiler store only the
/// zeros, as a masked store, which is microcoded on AMD's cores and made the
/// epilogue cost more than a second pass over C (`layer_products`, Zen 3).
#[inline(always)]
pub(super) fn finish<T: Copy + PartialOrd + From<f32>>(v: T, relu: bool) -> T {
    let zero = T::from(0.0);
    if !relu || v > zero { v } else { zero }
}
