//! Embedding lookup (gather rows), column lookup, and dropout.

use crate::autograd::Var;
use crate::ops::lanes::add_into;
use crate::tensor::{Float, Shape, Tensor, scratch};
use rand::{Rng, RngExt};

impl<'g, E: Float> Var<'g, E> {
    /// Embedding lookup: `self` is a table `[V, D]`, `ids` are token ids laid out
    /// as `shape` (e.g. `[B, T]`); the result is `[…shape, D]` with row `ids[i]`
    /// of the table at position i. Equals multiplying one-hot vectors by the table.
    /// Backward: scatter-add, each output row's gradient is added to row `ids[i]`.
    pub fn embedding(self, ids: &[usize], shape: impl Into<Shape>) -> Var<'g, E> {
        let table = self.value();
        let shape = shape.into();
        assert!(
            table.rank() == 2,
            "embedding: the table must be [V, D], got {}",
            table.shape()
        );
        let (v, d) = (table.dims()[0], table.dims()[1]);
        assert!(
            ids.len() == shape.numel(),
            "embedding: {} ids do not fill the shape {shape}",
            ids.len()
        );
        if let Some((pos, &id)) = ids.iter().enumerate().find(|(_, id)| **id >= v) {
            panic!("embedding: token id {id} at position {pos} is out of range for a vocabulary of {v}");
        }
        let mut y = scratch(ids.len() * d);
        for (row, &id) in y.chunks_mut(d).zip(ids) {
            row.copy_from_slice(&table.data()[id * d..(id + 1) * d]);
        }
        let mut out_dims = shape.dims().to_vec();
        out_dims.push(d);
        let ids = ids.to_vec();
        let it = self.id;
        self.g.op(
            "embedding",
            Tensor::from_vec(&out_dims, y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gt) = grads.slot(it) {
                    for (&id, dr) in ids.iter().zip(dy.data().chunks(d)) {
                        add_into(&mut gt[id * d..(id + 1) * d], dr);
                    }
                }
            }),
        )
    }

    // ANCHOR: columns
    /// Column lookup: `self` is a matrix `[H, V]`, the result `[N, H]` holds
    /// column `ids[n]` as row n: U·x for one-hot vectors x, without the product.
    /// Backward: each row of the gradient is added to column `ids[n]`.
    pub fn columns(self, ids: &[usize]) -> Var<'g, E> {
        let m = self.value();
        assert!(
            m.rank() == 2,
            "columns: the matrix must be [H, V], got {}",
            m.shape()
        );
        let (h, v) = (m.dims()[0], m.dims()[1]);
        if let Some((pos, &id)) = ids.iter().enumerate().find(|(_, id)| **id >= v) {
            panic!("columns: token id {id} at position {pos} is out of range for a vocabulary of {v}");
        }
        let mut y = scratch(ids.len() * h);
        for (row, &id) in y.chunks_mut(h.max(1)).zip(ids) {
            row.iter_mut()
                .enumerate()
                .for_each(|(r, y)| *y = m.data()[r * v + id]);
        }
        let ids = ids.to_vec();
        let im = self.id;
        self.g.op(
            "columns",
            Tensor::from_vec([ids.len(), h], y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gm) = grads.slot(im) {
                    for (&id, dr) in ids.iter().zip(dy.data().chunks(h)) {
                        for (r, &d) in dr.iter().enumerate() {
                            gm[r * v + id] += d;
                        }
                    }
                }
            }),
        )
    }

    // ANCHOR_END: columns

    /// Inverted dropout: in training (a generator `rng` is given) each element is
    /// zeroed with probability `p` and the survivors are scaled by 1/(1 − p);
    /// in evaluation (`None`), the identity. The masks come from the caller's
    /// generator, whatever the graph (an inference graph too), so the tape
    /// itself holds no randomness.
    /// Backward: dx = dy ⊙ mask / (1 − p).
    pub fn dropout(self, p: f64, rng: Option<&mut dyn Rng>) -> Var<'g, E> {
        assert!((0.0..1.0).contains(&p), "dropout: p = {p} must be in [0, 1)");
        let Some(rng) = rng.filter(|_| p > 0.0) else {
            return self;
        };
        let x = self.value();
        let keep = E::from_f64(1.0 / (1.0 - p));
        let mask: Vec<E> = (0..x.numel())
            .map(|_| if rng.random::<f64>() < p { E::ZERO } else { keep })
            .collect();
        let y = x.data().iter().zip(&mask).map(|(&x, &m)| x * m).collect();
        let ix = self.id;
        self.g.op(
            "dropout",
            Tensor::from_vec(x.shape(), y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for ((g, &d), &m) in gx.iter_mut().zip(dy.data()).zip(&mask) {
                        *g += d * m;
                    }
                }
            }),
        )
    }
}
