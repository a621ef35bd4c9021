//! Gradient checking: compare a backward pass with central finite differences.
//!
//! For a function f whose output we project onto a fixed random tensor R
//! (s = Σ f(x)⊙R, so every output element matters and no symmetry can hide an
//! error), each input element xᵢ gets the numeric derivative
//!
//! ∂s/∂xᵢ ≈ (s(xᵢ + ε) − s(xᵢ − ε)) / 2ε,
//!
//! whose error is O(ε²) plus rounding of order u/ε, with u the unit roundoff
//! (1.1e-16 in `f64`, 6e-8 in `f32`). With ε = 1e-6 that is about 1e-10 in
//! `f64`, far below any real mistake, and about 6e-2 in `f32` (an estimate from
//! that arithmetic), which is why the checks run the engine in `f64`.

use super::{Graph, Module, Var};
use crate::tensor::{Shape, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt;

/// How to check: the step ε, the tolerances, and how many elements to try.
///
/// An element passes when |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|).
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    pub eps: f64,
    pub rtol: f64,
    pub atol: f64,
    /// At most this many elements are checked per tensor (evenly spread).
    pub max_per_tensor: usize,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-6,
            rtol: 1e-6,
            atol: 1e-8,
            max_per_tensor: 200,
        }
    }
}

/// Gradients smaller than this are left out of [`Row::max_rel_err`]: there,
/// two derivatives that agree to 1e-10 can still differ by 100 %.
pub const REL_FLOOR: f64 = 1e-6;

/// What was checked for one input or parameter.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub shape: Shape,
    pub checked: usize,
    pub max_abs_err: f64,
    /// Over the elements whose gradient is at least [`REL_FLOOR`] in size.
    pub max_rel_err: f64,
}

/// A passed check: one row per input or parameter.
#[derive(Clone, Debug)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    pub fn checked(&self) -> usize {
        self.rows.iter().map(|r| r.checked).sum()
    }
    pub fn max_abs_err(&self) -> f64 {
        self.rows.iter().map(|r| r.max_abs_err).fold(0.0, f64::max)
    }
    pub fn max_rel_err(&self) -> f64 {
        self.rows.iter().map(|r| r.max_rel_err).fold(0.0, f64::max)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<32} {:>14} {:>8} {:>12} {:>12}",
            "tensor", "shape", "checked", "max abs err", "max rel err"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<32} {:>14} {:>8} {:>12.2e} {:>12.2e}",
                r.name,
                r.shape.to_string(),
                r.checked,
                r.max_abs_err,
                r.max_rel_err
            )?;
        }
        Ok(())
    }
}

/// A failed check: the first element whose two derivatives disagree.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub name: String,
    pub index: usize,
    pub analytic: f64,
    pub numeric: f64,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradient check failed for {} at element {}: backward gives {:.10e}, finite differences give {:.10e}",
            self.name, self.index, self.analytic, self.numeric
        )
    }
}

impl std::error::Error for Mismatch {}

/// The fixed random projection R, entries in [−1, 1).
fn projection(shape: Shape) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(0x5eed))
}

/// s = Σ out⊙R, in plain f64.
fn project(out: &Tensor<f64>, r: &Tensor<f64>) -> f64 {
    out.data().iter().zip(r.data()).map(|(a, b)| a * b).sum()
}

/// Compares `analytic[i]` with finite differences of `eval`, which must return s
/// after adding `delta` to element `j` of tensor `i` (and undo it afterwards).
fn compare(
    names: &[(String, Shape)],
    analytic: &[Tensor<f64>],
    tol: &GradCheck,
    mut eval: impl FnMut(usize, usize, f64) -> f64,
) -> Result<Report, Mismatch> {
    let mut rows = Vec::new();
    for (i, (name, shape)) in names.iter().enumerate() {
        let n = shape.numel();
        let stride = n.div_ceil(tol.max_per_tensor).max(1);
        let mut row = Row {
            name: name.clone(),
            shape: *shape,
            checked: 0,
            max_abs_err: 0.0,
            max_rel_err: 0.0,
        };
        for j in (0..n).step_by(stride) {
            let numeric = (eval(i, j, tol.eps) - eval(i, j, -tol.eps)) / (2.0 * tol.eps);
            let a = analytic[i].data()[j];
            let err = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            if err > tol.atol + tol.rtol * scale || !a.is_finite() {
                return Err(Mismatch {
                    name: name.clone(),
                    index: j,
                    analytic: a,
                    numeric,
                });
            }
            row.checked += 1;
            row.max_abs_err = row.max_abs_err.max(err);
            // Relative error says something only where the gradient is not ~0.
            if scale >= REL_FLOOR {
                row.max_rel_err = row.max_rel_err.max(err / scale);
            }
        }
        rows.push(row);
    }
    Ok(Report { rows })
}

impl GradCheck {
    /// A fresh graph for one evaluation. (A function with dropout must draw the
    /// same masks at every evaluation: seed its generator inside `f`.)
    fn graph(&self) -> Graph<f64> {
        Graph::new()
    }

    /// Checks the gradient of `f` with respect to each of `inputs`.
    ///
    /// ```
    /// use shortmem::autograd::gradcheck::GradCheck;
    /// use shortmem::Tensor;
    /// let x = Tensor::<f64>::from_vec([3], vec![0.3, -1.2, 2.0]);
    /// let report = GradCheck::default().check_inputs(&[x], |_g, v| v[0].tanh()).unwrap();
    /// assert_eq!(report.checked(), 3);
    /// ```
    pub fn check_inputs<F>(&self, inputs: &[Tensor<f64>], f: F) -> Result<Report, Mismatch>
    where
        F: for<'g> Fn(&'g Graph<f64>, &[Var<'g, f64>]) -> Var<'g, f64>,
    {
        let run = |xs: &[Tensor<f64>]| -> (Tensor<f64>, Vec<Tensor<f64>>) {
            let g = self.graph();
            let vars: Vec<Var<f64>> = xs.iter().map(|x| g.input(x.clone())).collect();
            let out = f(&g, &vars);
            let value = out.value();
            let grads = g.backward_with(out, projection(value.shape()));
            let ga = vars
                .iter()
                .zip(xs)
                .map(|(v, x)| grads.wrt(*v).cloned().unwrap_or_else(|| Tensor::zeros(x.shape())))
                .collect();
            (value, ga)
        };
        let (out, analytic) = run(inputs);
        let r = projection(out.shape());
        let names: Vec<(String, Shape)> = inputs
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("input {i}"), x.shape()))
            .collect();
        let mut xs: Vec<Tensor<f64>> = inputs.to_vec();
        compare(&names, &analytic, self, |i, j, delta| {
            xs[i].data_mut()[j] += delta;
            let g = self.graph();
            let vars: Vec<Var<f64>> = xs.iter().map(|x| g.constant(x.clone())).collect();
            let s = project(&f(&g, &vars).value(), &r);
            drop(vars);
            drop(g);
            xs[i].data_mut()[j] -= delta;
            s
        })
    }

    /// Checks the gradient of `f` with respect to every parameter of `model`
    /// (a whole model, run in `f64`). Each row of the report is one parameter.
    pub fn check_module<M, F>(&self, model: &mut M, f: F) -> Result<Report, Mismatch>
    where
        M: Module<f64>,
        F: for<'g> Fn(&M, &'g Graph<f64>) -> Var<'g, f64>,
    {
        let (r, analytic) = {
            let g = self.graph();
            let out = f(model, &g);
            let value = out.value();
            let r = projection(value.shape());
            let grads = g.backward_with(out, r.clone());
            let analytic: Vec<Tensor<f64>> = model
                .params()
                .iter()
                .map(|p| {
                    grads
                        .param(p)
                        .cloned()
                        .unwrap_or_else(|| Tensor::zeros(p.value.shape()))
                })
                .collect();
            (r, analytic)
        };
        let names: Vec<(String, Shape)> = model
            .params()
            .iter()
            .map(|p| (p.name.clone(), p.value.shape()))
            .collect();
        compare(&names, &analytic, self, |i, j, delta| {
            model.params_mut()[i].value.data_mut()[j] += delta;
            let s = {
                let g = self.graph();
                let out = f(model, &g);
                project(&out.value(), &r)
            };
            model.params_mut()[i].value.data_mut()[j] -= delta;
            s
        })
    }
}
