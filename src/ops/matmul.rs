//! Matrix products `A·B`, `A·Bᵀ` and `Aᵀ·B`, batched over leading axes.
//! Every product in shortmem goes through the one kernel entry point
//! ([`crate::kernels::sgemm`] for `f32`), forward and backward.

use crate::autograd::Var;
use crate::kernels::{Batched, Gemm};
use crate::tensor::{Float, Shape, Tensor, scratch};

/// Where the operands of a (batched) product sit and what it computes:
/// for each batch index, `C = op(A)·op(B)` with op(A) `[m, k]`, op(B) `[k, n]`.
#[derive(Clone, Copy, Debug)]
struct Product {
    ta: bool,
    tb: bool,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    /// B is one matrix shared by every batch entry (a weight), not a batch of its own.
    b_shared: bool,
}

impl Product {
    /// Checks the shapes and works out the product; the panic names both shapes.
    fn new(a: Shape, b: Shape, ta: bool, tb: bool) -> (Product, Shape) {
        let name = match (ta, tb) {
            (false, false) => "matmul",
            (false, true) => "matmul_t",
            (true, false) => "t_matmul",
            (true, true) => "t_matmul_t",
        };
        assert!(
            a.rank() >= 2 && b.rank() >= 2,
            "{name}: lhs {a} and rhs {b}: both need at least 2 axes"
        );
        let (ad, bd) = (a.dims(), b.dims());
        let (ar, ac) = (ad[ad.len() - 2], ad[ad.len() - 1]);
        let (br, bc) = (bd[bd.len() - 2], bd[bd.len() - 1]);
        let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
        let (kb, n) = if tb { (bc, br) } else { (br, bc) };
        assert!(
            k == kb,
            "{name}: lhs {a} and rhs {b}: inner dimensions {k} and {kb} differ"
        );
        let (a_batch, b_batch) = (&ad[..ad.len() - 2], &bd[..bd.len() - 2]);
        let b_shared = b_batch.is_empty();
        assert!(
            b_shared || a_batch == b_batch,
            "{name}: lhs {a} and rhs {b}: batch dimensions {a_batch:?} and {b_batch:?} differ"
        );
        let mut out = a_batch.to_vec();
        out.extend([m, n]);
        let batch = a_batch.iter().product();
        (
            Product {
                ta,
                tb,
                batch,
                m,
                n,
                k,
                b_shared,
            },
            Shape::new(&out),
        )
    }

    /// Row lengths (leading dimensions) of A, B and C as stored.
    fn lds(&self) -> (usize, usize, usize) {
        let lda = if self.ta { self.m } else { self.k };
        let ldb = if self.tb { self.k } else { self.n };
        (lda, ldb, self.n)
    }

    /// Element offsets between consecutive batch entries of A, B and C (0 for a
    /// shared B).
    fn strides(&self) -> (usize, usize, usize) {
        let (m, n, k) = (self.m, self.n, self.k);
        (m * k, if self.b_shared { 0 } else { k * n }, m * n)
    }

    /// The batch entries' offsets, as the kernels take them.
    fn batched(&self) -> Batched {
        let (stride_a, stride_b, stride_c) = self.strides();
        Batched {
            count: self.batch,
            stride_a,
            stride_b,
            stride_c,
        }
    }

    /// C (+)= op(A)·op(B) for every batch entry; `beta` = 1 accumulates.
    fn forward<E: Float>(&self, a: &[E], b: &[E], c: &mut [E], beta: E) {
        let (lda, ldb, ldc) = self.lds();
        let entry = Gemm {
            trans_a: self.ta,
            trans_b: self.tb,
            lda,
            ldb,
            ldc,
            beta,
            ..Gemm::new(self.m, self.n, self.k)
        };
        if self.b_shared && !self.ta {
            // All batch entries stacked are one tall matrix: a single product.
            E::gemm(
                &Gemm {
                    m: self.batch * self.m,
                    ..entry
                },
                a,
                b,
                c,
            );
            return;
        }
        // One product per batch entry (attention heads): the kernel spreads them
        // over threads.
        E::gemm_batched(&entry, &self.batched(), a, b, c);
    }

    /// dA += dC·op(B)ᵀ (stored as A is: transposed when `ta`).
    fn grad_a<E: Float>(&self, dc: &[E], b: &[E], da: &mut [E]) {
        let &Product { ta, tb, m, n, k, .. } = self;
        let (lda, ldb, ldc) = self.lds();
        let one = E::ONE;
        if self.b_shared && !ta {
            // dA (all entries stacked) = dC·op(B)ᵀ
            let p = Gemm {
                trans_b: !tb,
                lda: ldc,
                ldb,
                ldc: lda,
                beta: one,
                ..Gemm::new(self.batch * m, k, n)
            };
            E::gemm(&p, dc, b, da);
            return;
        }
        // Entry by entry, with the batch's strides swapped to match the operands.
        let s = self.batched();
        if ta {
            // A is stored [k, m]: dAᵀ = op(B)·dCᵀ.
            let p = Gemm {
                trans_a: tb,
                trans_b: true,
                lda: ldb,
                ldb: ldc,
                ldc: lda,
                beta: one,
                ..Gemm::new(k, m, n)
            };
            let strides = Batched {
                stride_a: s.stride_b,
                stride_b: s.stride_c,
                stride_c: s.stride_a,
                ..s
            };
            E::gemm_batched(&p, &strides, b, dc, da);
        } else {
            // dA = dC·op(B)ᵀ
            let p = Gemm {
                trans_b: !tb,
                lda: ldc,
                ldb,
                ldc: lda,
                beta: one,
                ..Gemm::new(m, k, n)
            };
            let strides = Batched {
                stride_a: s.stride_c,
                stride_b: s.stride_b,
                stride_c: s.stride_a,
                ..s
            };
            E::gemm_batched(&p, &strides, dc, b, da);
        }
    }

    /// dB += op(A)ᵀ·dC (stored as B is: transposed when `tb`), summed over the
    /// batch when B is shared.
    fn grad_b<E: Float>(&self, a: &[E], dc: &[E], db: &mut [E]) {
        let &Product { ta, tb, m, n, k, .. } = self;
        let (lda, ldb, ldc) = self.lds();
        let one = E::ONE;
        if self.b_shared && !ta {
            // Σ over the batch of A_iᵀ·dC_i is one product with the batch folded into m.
            let mm = self.batch * m;
            if tb {
                // B is stored [n, k]: dBᵀ = dCᵀ·A
                let p = Gemm {
                    trans_a: true,
                    lda: ldc,
                    ldb: lda,
                    ldc: ldb,
                    beta: one,
                    ..Gemm::new(n, k, mm)
                };
                E::gemm(&p, dc, a, db);
            } else {
                // dB = Aᵀ·dC
                let p = Gemm {
                    trans_a: true,
                    lda,
                    ldb: ldc,
                    ldc: ldb,
                    beta: one,
                    ..Gemm::new(k, n, mm)
                };
                E::gemm(&p, a, dc, db);
            }
            return;
        }
        // A shared B has stride 0, so its gradient accumulates over the entries.
        let s = self.batched();
        if tb {
            // B is stored [n, k]: dBᵀ = dCᵀ·op(A).
            let p = Gemm {
                trans_a: true,
                trans_b: ta,
                lda: ldc,
                ldb: lda,
                ldc: ldb,
                beta: one,
                ..Gemm::new(n, k, m)
            };
            let strides = Batched {
                stride_a: s.stride_c,
                stride_b: s.stride_a,
                stride_c: s.stride_b,
                ..s
            };
            E::gemm_batched(&p, &strides, dc, a, db);
        } else {
            // dB = op(A)ᵀ·dC
            let p = Gemm {
                trans_a: !ta,
                lda,
                ldb: ldc,
                ldc: ldb,
                beta: one,
                ..Gemm::new(k, n, m)
            };
            let strides = Batched {
                stride_a: s.stride_a,
                stride_b: s.stride_c,
                stride_c: s.stride_b,
                ..s
            };
            E::gemm_batched(&p, &strides, a, dc, db);
        }
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// A·B: `[…, m, k]·[…, k, n]` → `[…, m, n]`; B may also be a single `[k, n]`
    /// matrix shared by every batch entry. Backward: dA = dC·Bᵀ, dB = Aᵀ·dC.
    pub fn matmul(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.product(rhs, false, false)
    }

    /// A·Bᵀ: `[…, m, k]·[…, n, k]` → `[…, m, n]` (a `Linear` layer, attention
    /// scores QKᵀ). Backward: dA = dC·B, dB = dCᵀ·A.
    pub fn matmul_t(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.product(rhs, false, true)
    }

    /// Aᵀ·B: `[…, k, m]·[…, k, n]` → `[…, m, n]`. Backward: dA = B·dCᵀ, dB = A·dC.
    pub fn t_matmul(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.product(rhs, true, false)
    }

    fn product(self, rhs: Var<'g, E>, ta: bool, tb: bool) -> Var<'g, E> {
        let (a, b) = (self.value(), rhs.value());
        let (p, shape) = Product::new(a.shape(), b.shape(), ta, tb);
        let mut c = scratch(shape.numel()); // beta = 0: C is only written
        p.forward(a.data(), b.data(), &mut c, E::ZERO);
        let (ia, ib) = (self.id, rhs.id);
        self.g.op(
            Tensor::from_vec(shape, c),
            &[self, rhs],
            Box::new(move |dc, grads| {
                if let Some(da) = grads.slot(ia) {
                    p.grad_a(dc.data(), b.data(), da);
                }
                if let Some(db) = grads.slot(ib) {
                    p.grad_b(a.data(), dc.data(), db);
                }
            }),
        )
    }
}
