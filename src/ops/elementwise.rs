//! Elementwise operations: `+ − × ÷` with broadcasting, and the unary functions
//! (tanh, ReLU, sigmoid, exp, log, scale, negation).

use crate::autograd::Var;
use crate::tensor::{Float, Shape, Tensor, scratch};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The output shape of a binary op. Either the shapes are equal, or the smaller
/// operand is repeated over the larger one: it is a single number, or its shape
/// is the tail of the larger shape (a bias `[D]` over `[B, T, D]`, a positional
/// table `[T, D]` over `[B, T, D]`).
pub(crate) fn broadcast_shape(op: &str, a: Shape, b: Shape) -> Shape {
    let fits = |small: Shape, big: Shape| {
        small.numel() == 1 || big.dims().ends_with(small.dims()) && small.numel() > 0
    };
    if a == b || (b.numel() <= a.numel() && fits(b, a)) {
        a
    } else if fits(a, b) {
        b
    } else {
        panic!(
            "{op}: lhs {a} and rhs {b} do not broadcast (the smaller shape must be a single \
             number or equal the trailing dimensions of the larger)"
        )
    }
}

/// Calls `f(i, ia, ib)` for every output element `i`, where `ia`, `ib` index the
/// operands; the smaller operand's buffer repeats every `min(na, nb)` elements.
#[inline(always)]
fn for_each_broadcast(n: usize, na: usize, nb: usize, mut f: impl FnMut(usize, usize, usize)) {
    if na == n && nb == n {
        (0..n).for_each(|i| f(i, i, i));
    } else if na == n {
        for start in (0..n).step_by(nb) {
            (0..nb).for_each(|j| f(start + j, start + j, j));
        }
    } else {
        for start in (0..n).step_by(na) {
            (0..na).for_each(|j| f(start + j, j, start + j));
        }
    }
}

/// One operand's part of a binary op's backward pass: `g[own(ia, ib)]` gets
/// `term(i, ia, ib)` for every output element `i`. On the operand's first
/// gradient (β = 0) an operand of the output's size is written, one term per
/// element; a repeated one (a broadcast bias) sums its repeats from zeros.
/// Later gradients add.
#[inline(always)]
fn operand_grad<E: Float>(
    g: &mut [E],
    beta: E,
    (n, na, nb): (usize, usize, usize),
    own: impl Fn(usize, usize) -> usize,
    term: impl Fn(usize, usize, usize) -> E,
) {
    if beta == E::ZERO && g.len() == n {
        for_each_broadcast(n, na, nb, |i, ja, jb| g[own(ja, jb)] = term(i, ja, jb));
    } else {
        if beta == E::ZERO {
            g.fill(E::ZERO);
        }
        for_each_broadcast(n, na, nb, |i, ja, jb| g[own(ja, jb)] += term(i, ja, jb));
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// A binary elementwise op `y = f(a, b)` with broadcasting. `da(a, b)` and
    /// `db(a, b)` are the partial derivatives ∂y/∂a and ∂y/∂b; the backward pass
    /// sums them over the positions where an operand was repeated.
    pub fn zip_with(
        self,
        rhs: Var<'g, E>,
        name: &'static str,
        f: impl Fn(E, E) -> E + 'static,
        da: impl Fn(E, E) -> E + 'static,
        db: impl Fn(E, E) -> E + 'static,
    ) -> Var<'g, E> {
        let (a, b) = (self.value(), rhs.value());
        let shape = broadcast_shape(name, a.shape(), b.shape());
        let (n, na, nb) = (shape.numel(), a.numel(), b.numel());
        let mut out = scratch(n);
        let (ad, bd) = (a.data(), b.data());
        for_each_broadcast(n, na, nb, |i, ia, ib| out[i] = f(ad[ia], bd[ib]));
        let (ia, ib) = (self.id, rhs.id);
        self.g.op(
            "elementwise",
            Tensor::from_vec(shape, out),
            &[self, rhs],
            Box::new(move |dy, grads| {
                let (ad, bd, dy) = (a.data(), b.data(), dy.data());
                if let Some((ga, beta)) = grads.slot_beta(ia) {
                    operand_grad(
                        ga,
                        beta,
                        (n, na, nb),
                        |ja, _| ja,
                        |i, ja, jb| dy[i] * da(ad[ja], bd[jb]),
                    );
                }
                if let Some((gb, beta)) = grads.slot_beta(ib) {
                    operand_grad(
                        gb,
                        beta,
                        (n, na, nb),
                        |_, jb| jb,
                        |i, ja, jb| dy[i] * db(ad[ja], bd[jb]),
                    );
                }
            }),
        )
    }

    /// A unary elementwise op `y = f(x)`; `df(x, y)` is the derivative dy/dx
    /// (given `y` too, since tanh, sigmoid and exp are cheapest in terms of it).
    pub fn map(self, f: impl Fn(E) -> E + 'static, df: impl Fn(E, E) -> E + 'static) -> Var<'g, E> {
        let x = self.value();
        let mut y = scratch(x.numel());
        y.iter_mut().zip(x.data()).for_each(|(y, &v)| *y = f(v));
        let y = Tensor::from_vec(x.shape(), y);
        let yv = y.clone();
        let ix = self.id;
        self.g.op(
            "elementwise",
            y,
            &[self],
            Box::new(move |dy, grads| {
                if let Some((gx, beta)) = grads.slot_beta(ix) {
                    let each = gx.iter_mut().zip(dy.data()).zip(x.data()).zip(yv.data());
                    if beta == E::ZERO {
                        each.for_each(|(((g, &d), &x), &y)| *g = d * df(x, y));
                    } else {
                        each.for_each(|(((g, &d), &x), &y)| *g += d * df(x, y));
                    }
                }
            }),
        )
    }

    /// s·x for a constant s. Backward: dy/dx = s.
    pub fn scale(self, s: f64) -> Var<'g, E> {
        let s = E::from_f64(s);
        self.map(move |x| s * x, move |_, _| s)
    }

    // ANCHOR: unary_examples
    /// tanh x. Backward: dy/dx = 1 − y².
    pub fn tanh(self) -> Var<'g, E> {
        self.map(|x| x.tanh(), |_, y| E::ONE - y * y)
    }

    // ANCHOR_END: unary_examples

    /// max(x, 0). Backward: dy/dx = 1 if x > 0, else 0.
    pub fn relu(self) -> Var<'g, E> {
        self.map(
            |x| if x > E::ZERO { x } else { E::ZERO },
            |x, _| if x > E::ZERO { E::ONE } else { E::ZERO },
        )
    }

    /// σ(x) = 1 / (1 + e^−x), computed without overflow. Backward: dy/dx = y(1 − y).
    pub fn sigmoid(self) -> Var<'g, E> {
        self.map(
            |x| {
                if x >= E::ZERO {
                    E::ONE / (E::ONE + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (E::ONE + e)
                }
            },
            |_, y| y * (E::ONE - y),
        )
    }

    /// eˣ. Backward: dy/dx = y.
    pub fn exp(self) -> Var<'g, E> {
        self.map(|x| x.exp(), |_, y| y)
    }

    /// ln x. Backward: dy/dx = 1/x.
    pub fn log(self) -> Var<'g, E> {
        self.map(|x| x.ln(), |x, _| E::ONE / x)
    }
}

// The arithmetic operators record themselves like any other op: `a + b`, `a * b`.

impl<'g, E: Float> Add for Var<'g, E> {
    type Output = Var<'g, E>;
    /// a + b. Backward: ∂/∂a = 1, ∂/∂b = 1.
    fn add(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.zip_with(rhs, "add", |a, b| a + b, |_, _| E::ONE, |_, _| E::ONE)
    }
}

impl<'g, E: Float> Sub for Var<'g, E> {
    type Output = Var<'g, E>;
    /// a − b. Backward: ∂/∂a = 1, ∂/∂b = −1.
    fn sub(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.zip_with(rhs, "sub", |a, b| a - b, |_, _| E::ONE, |_, _| -E::ONE)
    }
}

impl<'g, E: Float> Mul for Var<'g, E> {
    type Output = Var<'g, E>;
    /// a ⊙ b. Backward: ∂/∂a = b, ∂/∂b = a.
    fn mul(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.zip_with(rhs, "mul", |a, b| a * b, |_, b| b, |a, _| a)
    }
}

impl<'g, E: Float> Div for Var<'g, E> {
    type Output = Var<'g, E>;
    /// a / b. Backward: ∂/∂a = 1/b, ∂/∂b = −a/b².
    fn div(self, rhs: Var<'g, E>) -> Var<'g, E> {
        self.zip_with(rhs, "div", |a, b| a / b, |_, b| E::ONE / b, |a, b| -a / (b * b))
    }
}

impl<'g, E: Float> Neg for Var<'g, E> {
    type Output = Var<'g, E>;
    /// −x. Backward: dy/dx = −1.
    fn neg(self) -> Var<'g, E> {
        self.map(|x| -x, |_, _| -E::ONE)
    }
}
