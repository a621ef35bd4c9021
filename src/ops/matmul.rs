//! Matrix products `A·B`, `A·Bᵀ` and `Aᵀ·B`, batched over leading axes.
//! Every product in shortmem goes through the one kernel entry point
//! ([`crate::kernels::sgemm`] for `f32`), forward and backward.

use crate::autograd::Var;
use crate::kernels::{Batched, Epilogue, Gemm};
use crate::ops::lanes::add_into;
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

    /// A, B and C as stored: their row lengths (at least 1, as the kernels ask
    /// even of an empty matrix), transposes and the distance between batch
    /// entries (0 for a shared B).
    fn stored(&self) -> [Stored; 3] {
        let (m, n, k) = (self.m, self.n, self.k);
        let a = Stored {
            ld: if self.ta { m } else { k }.max(1),
            trans: self.ta,
            stride: m * k,
        };
        let b = Stored {
            ld: if self.tb { k } else { n }.max(1),
            trans: self.tb,
            stride: if self.b_shared { 0 } else { k * n },
        };
        let c = Stored {
            ld: n.max(1),
            trans: false,
            stride: m * n,
        };
        [a, b, c]
    }

    /// The batch as the kernels run it: all entries stacked into one tall
    /// matrix when B is shared and A is not transposed (one product of
    /// `batch·m` rows), else one product per entry. Returns (entries, rows each).
    fn runs(&self) -> (usize, usize) {
        if self.b_shared && !self.ta {
            (1, self.batch * self.m)
        } else {
            (self.batch, self.m)
        }
    }

    /// C (+)= op(A)·op(B) for every batch entry; `beta` = 1 accumulates.
    fn forward<E: Float>(&self, a: &[E], b: &[E], c: &mut [E], beta: E) {
        let [sa, sb, sc] = self.stored();
        let (count, rows) = self.runs();
        gemm(
            count,
            [rows, self.n, self.k],
            (a, sa),
            (b, sb),
            (c, sc.out()),
            beta,
        );
    }

    /// C = epilogue(op(A)·op(B)) for a product with a shared B (a layer's
    /// weight), which the kernels run as one matrix of stacked rows.
    fn forward_then<E: Float>(&self, a: &[E], b: &[E], c: &mut [E], epilogue: Epilogue<E>) {
        let [sa, sb, sc] = self.stored();
        let (count, rows) = self.runs();
        assert_eq!(count, 1, "forward_then: a product of {count} separate entries");
        let product = descriptor([rows, self.n, self.k], sa, sb, sc.ld, E::ZERO);
        E::gemm_then(&product, epilogue, a, b, c);
    }

    /// dA = dC·op(B)ᵀ + beta·dA (stored as A is: transposed when `ta`).
    fn grad_a<E: Float>(&self, dc: &[E], b: &[E], da: &mut [E], beta: E) {
        let [sa, sb, sc] = self.stored();
        let (count, rows) = self.runs();
        let (m, n, k) = (self.m, self.n, self.k);
        if self.ta {
            // A is stored [k, m]: dAᵀ = op(B)·dCᵀ.
            gemm(count, [k, m, n], (b, sb), (dc, sc.t()), (da, sa.out()), beta);
        } else {
            gemm(count, [rows, k, n], (dc, sc), (b, sb.t()), (da, sa.out()), beta);
        }
    }

    /// dB = op(A)ᵀ·dC + beta·dB (stored as B is: transposed when `tb`), summed
    /// over the batch when B is shared: in one product over the stacked rows,
    /// or, entry after entry, into one B (stride 0; every entry after the
    /// first adds).
    fn grad_b<E: Float>(&self, a: &[E], dc: &[E], db: &mut [E], beta: E) {
        let [sa, sb, sc] = self.stored();
        let (count, rows) = self.runs();
        let (n, k) = (self.n, self.k);
        if self.tb {
            // B is stored [n, k]: dBᵀ = dCᵀ·op(A).
            gemm(count, [n, k, rows], (dc, sc.t()), (a, sa), (db, sb.out()), beta);
        } else {
            gemm(count, [k, n, rows], (a, sa.t()), (dc, sc), (db, sb.out()), beta);
        }
    }
}

/// How a matrix of a batched product is stored: its row length, whether it is
/// read transposed, and the distance between consecutive batch entries.
#[derive(Clone, Copy, Debug)]
struct Stored {
    ld: usize,
    trans: bool,
    stride: usize,
}

impl Stored {
    /// The same storage, read the other way round.
    fn t(self) -> Stored {
        Stored {
            trans: !self.trans,
            ..self
        }
    }

    /// Where a product writes: its row length and batch stride (an output is
    /// written as it is stored, so a transposed A's gradient is computed
    /// transposed, as dAᵀ).
    fn out(self) -> (usize, usize) {
        (self.ld, self.stride)
    }
}

/// The kernels' descriptor of `out = op(x)·op(y) + beta·out`, op(x) `m×k` and
/// op(y) `k×n`, each matrix read as its [`Stored`] says and `out` rows `ld_out` long.
fn descriptor<E: Float>([m, n, k]: [usize; 3], sx: Stored, sy: Stored, ld_out: usize, beta: E) -> Gemm<E> {
    Gemm {
        trans_a: sx.trans,
        trans_b: sy.trans,
        lda: Some(sx.ld),
        ldb: Some(sy.ld),
        ldc: Some(ld_out),
        beta,
        ..Gemm::new(m, n, k)
    }
}

/// `out = op(x)·op(y) + beta·out` for `count` entries, op(x) `m×k` and op(y)
/// `k×n`, each matrix read as its [`Stored`] says: one call of the kernels.
fn gemm<E: Float>(
    count: usize,
    [m, n, k]: [usize; 3],
    (x, sx): (&[E], Stored),
    (y, sy): (&[E], Stored),
    (out, (ld_out, stride_out)): (&mut [E], (usize, usize)),
    beta: E,
) {
    let product = descriptor([m, n, k], sx, sy, ld_out, beta);
    let entries = Batched {
        count,
        stride_a: sx.stride,
        stride_b: sy.stride,
        stride_c: stride_out,
    };
    E::gemm_batched(&product, &entries, x, y, out);
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
        let kind = match (ta, tb) {
            (false, false) => "matmul",
            (false, true) => "matmul_t",
            (true, false) => "t_matmul",
            (true, true) => "t_matmul_t",
        };
        self.g.op(
            kind,
            Tensor::from_vec(shape, c),
            &[self, rhs],
            Box::new(move |dc, grads| {
                // The first gradient to reach an operand is written (β = 0),
                // a later one added (β = 1).
                if let Some((da, beta)) = grads.slot_beta(ia) {
                    p.grad_a(dc.data(), b.data(), da, beta);
                }
                if let Some((db, beta)) = grads.slot_beta(ib) {
                    p.grad_b(a.data(), dc.data(), db, beta);
                }
            }),
        )
    }
}

impl<'g, E: Float> Var<'g, E> {
    // ANCHOR: linear_op
    /// A `Linear` layer in one op: y = x·Wᵀ + b, and ReLU(x·Wᵀ + b) when
    /// `relu` (the first half of the feed-forward). `x: [.., in]`, `w: [out,
    /// in]`, `b: [out]`. The bias and the ReLU are the product's epilogue,
    /// applied to each tile of the output as the kernels finish it, and the
    /// backward pass hands dY straight to the product (dZ and db made in one
    /// pass over its rows), so neither needs a node, a buffer or a gradient of its own.
    /// Equal, bit for bit, to `(x.matmul_t(w) + b).relu()` built from the
    /// separate ops (a test holds them to it).
    ///
    /// Backward: dZ = dY ⊙ \[y > 0\] (dY itself without the ReLU),
    /// dX = dZ·W, dW = dZᵀ·X, db = Σ_rows dZ.
    pub fn linear(self, w: Var<'g, E>, b: Option<Var<'g, E>>, relu: bool) -> Var<'g, E> {
        let (x, wv) = (self.value(), w.value());
        let (p, shape) = Product::new(x.shape(), wv.shape(), false, true);
        assert!(p.b_shared, "linear: the weight {} must be one matrix", wv.shape());
        let bv = b.map(|b| b.value());
        if let Some(bv) = &bv {
            assert!(
                bv.dims() == [p.n],
                "linear: bias {} for a weight {} (expected [{}])",
                bv.shape(),
                wv.shape(),
                p.n
            );
        }
        let mut y = scratch(shape.numel());
        // + b, then max(·, 0), applied by the kernels to each tile of y as it is finished.
        let epilogue = Epilogue {
            bias: bv.as_ref().map(|b| b.data()),
            relu,
        };
        p.forward_then(x.data(), wv.data(), &mut y, epilogue);
        let n = p.n.max(1);
        let y = Tensor::from_vec(shape, y);
        // The backward pass reads y only to mask dY with the ReLU.
        let yv = relu.then(|| y.clone());
        let (ix, iw, ib) = (self.id, w.id, b.map(|b| b.id));
        let mut inputs = vec![self, w];
        inputs.extend(b);
        self.g.op(
            if relu { "linear + relu" } else { "linear" },
            y,
            &inputs,
            Box::new(move |dy, grads| {
                // db: the rows of dZ summed, from zeros on the first gradient.
                let db = ib.and_then(|ib| grads.slot_beta(ib)).map(|(db, beta)| {
                    if beta == E::ZERO {
                        db.fill(E::ZERO);
                    }
                    db
                });
                // dZ: dY through the ReLU, or dY itself; either way each row
                // goes into db in the same pass.
                let masked = match &yv {
                    Some(yv) => Some(relu_grad_rows(dy, yv, n, db)),
                    None => {
                        if let Some(db) = db {
                            dy.data().chunks(n).for_each(|row| add_into(db, row));
                        }
                        None
                    }
                };
                let dz: &[E] = masked.as_ref().map_or(dy.data(), |m| m.data());
                if let Some((dx, beta)) = grads.slot_beta(ix) {
                    p.grad_a(dz, wv.data(), dx, beta);
                }
                if let Some((dw, beta)) = grads.slot_beta(iw) {
                    p.grad_b(x.data(), dz, dw, beta);
                }
            }),
        )
    }
    // ANCHOR_END: linear_op
}

/// dZ = dY ⊙ \[y > 0\], the gradient through a ReLU whose outputs are `y`
/// (its derivative is 1 where y > 0, else 0), made one row of `n` at a time,
/// each row added into `db` (when given) as soon as it is made, while it is
/// still in cache.
fn relu_grad_rows<E: Float>(dy: &Tensor<E>, y: &Tensor<E>, n: usize, mut db: Option<&mut [E]>) -> Tensor<E> {
    let mut dz = scratch(dy.numel());
    let rows = dz.chunks_mut(n).zip(dy.data().chunks(n)).zip(y.data().chunks(n));
    for ((dz, dy), y) in rows {
        for ((d, &g), &y) in dz.iter_mut().zip(dy).zip(y) {
            *d = g * if y > E::ZERO { E::ONE } else { E::ZERO };
        }
        if let Some(db) = db.as_deref_mut() {
            add_into(db, dz);
        }
    }
    Tensor::from_vec(dy.shape(), dz)
}
