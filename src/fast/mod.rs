//! # The fast f64 path: population loss, gradients, velocity and one update for all N neurons
//!
//! Formulas and conventions are those of docs/conventions.md §3–§4 (loss without ½ by default,
//! learning rate ηN, mean-field time = steps·η); the derivations, the cost model and the error
//! analysis are in proofs-notes/fast-path.md, whose tests are in tests/fast_internal.rs. This
//! module is a sibling of the arbitrary-precision oracle and shares no formula code with it, so
//! that comparing the two compares two independent computations.
//!
//! ## What is computed
//! Inputs ([`Problem`]): W (N×d row-major, unit rows), output weights a (N), teacher direction θ
//! (d), the kernels κ = κ_{σ,σ}, ψ = κ_{σ,σ*}, the radial kernels κ_{zσ',σ}, κ_{zσ',σ*}
//! ([`Kernel`]: power series or closed form) and the constant κ_{σ*,σ*}(1) + ν². With
//! s_ij = ⟨w_i, w_j⟩, t_i = ⟨w_i, θ⟩, S_i = Σ_j a_j κ'(s_ij) w_j and P_i = I − w_i w_iᵀ:
//! - loss L = Σ_ij a_i a_j κ(s_ij) − 2 Σ_i a_i ψ(t_i) + constant;
//! - tangent gradient g_i = 2 a_i P_i (S_i − ψ'(t_i) θ);
//! - radial coefficient ρ_i = 2 a_i (Σ_j a_j κ_{zσ',σ}(s_ij) − κ_{zσ',σ*}(t_i)) (j = i included);
//! - velocity v_i = 2 P_i (ψ'(t_i) θ − S_i).
//!
//! Scaling: g_i = −a_i v_i exactly, so with a_j = 1/N the update w_i ← w_i − ηN g_i moves w_i
//! by η v_i: one step is mean-field time η. [`LossScale::Half`] multiplies the loss, g, ρ and v
//! by ½ (then one step is mean-field time η/2 of the default flow).
//!
//! ## Routes
//! The cost is S_i for all i. [`Route::Tiled`]: row blocks of 128 neurons against column blocks
//! of 256, each Gram tile G = W_I W_Jᵀ formed by GEMM, the kernels applied to the tile while it
//! is in cache (Horner in registers, `simd`), then S_I += (a_j κ'(G)) W_J by GEMM; the N×N matrix
//! is never stored; 4N²d flops. [`Route::Moment`] (polynomial κ, κ_{zσ',σ} only):
//! Σ_j a_j s_ij^m w_j through the symmetric tensor Σ_j a_j w_j^{⊗(m+1)}, about 6 N C(d+m, m+1)
//! flops. [`Route::Auto`] takes the cheaper by the flop model of [`choose_route`].
//!
//! ## Determinism
//! Both routes use a fixed partition into blocks (independent of the thread count), each block
//! computed by one task with single-threaded GEMM, and every reduction across blocks in a fixed
//! order: results are bit-identical for any number of rayon threads (on one machine).
//!
//! ## Accuracy contract
//! [`error_bound`] returns, for the route actually used, an a-priori bound on |fast − exact| for
//! the loss and for every entry of g, ρ and v, where "exact" is the same formula in exact
//! arithmetic on the same f64 inputs and the same kernel (series coefficients taken as given:
//! the series truncation is the caller's part).
//!
//! ## Public API (plain slices, no SIMD types)
//! [`Problem`], [`Kernel`], [`LossScale`], [`Route`], [`Quantities`], [`Update`]; [`evaluate`],
//! [`velocity`], [`step`], [`choose_route`], [`error_bound`], [`bench_cases`]; [`simd::level`]
//! tells which instruction set the kernels run on. From activation specs (`setup`):
//! [`population_kernels`] builds the kernels with their series truncation bounds, and
//! [`evaluate_population`] evaluates a [`Network`] with the complete error bound
//! ([`PopulationEvaluation`]).

// Index loops mirror the formulas (k over coordinates, λ over tensor blocks).
#![allow(clippy::needless_range_loop)]

mod bench;
pub mod deep_edges;
mod error;
pub(crate) mod gemm;
mod kernel;
mod moment;
mod setup;
pub mod simd;
pub mod tanh;
mod tiled;

pub use bench::{
    bench_cases, bench_one, best_after_warmup, gemm_baseline, gemm_gflops, numpy_seconds, BenchCase,
};
pub use error::{error_bound, ErrorBound};
pub use kernel::Kernel;
pub use setup::{
    check_network, evaluate_population, population_kernels, Network, PopulationEvaluation,
    PopulationKernels, Truncation, MAX_FAST_SERIES_DEGREE, POPULATION_BOUND_KIND,
};

use kernel::Func;
use rayon::prelude::*;

pub use crate::conventions::{LossScale, Update};

/// One population problem: the network, the teacher and the kernels.
#[derive(Clone, Debug)]
pub struct Problem<'a> {
    /// N×d row-major, rows on the unit sphere.
    pub w: &'a [f64],
    pub n: usize,
    pub d: usize,
    /// Output weights, N entries (1/N in the default mean-field setting).
    pub a: &'a [f64],
    /// Teacher direction, d entries, unit.
    pub theta: &'a [f64],
    /// κ = κ_{σ,σ} (student–student).
    pub kappa: Kernel,
    /// ψ = κ_{σ,σ*} (student–teacher).
    pub psi: Kernel,
    /// κ_{zσ',σ}, the radial kernel against other neurons.
    pub kappa_radial: Kernel,
    /// κ_{zσ',σ*}, the radial kernel against the teacher.
    pub psi_radial: Kernel,
    /// κ_{σ*,σ*}(1) + ν².
    pub constant: f64,
    pub loss_scale: LossScale,
}

/// Bad input, named by field and row.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FastError {
    #[error("field `{field}` has {got} entries, expected {expected}")]
    Dimension {
        field: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("N = 0: the network has no neurons")]
    NoNeurons,
    #[error("d = {0}: the dimension must be at least 2")]
    SmallDimension(usize),
    #[error("field `{field}` has a NaN or infinite entry at row {row}")]
    NotFinite { field: &'static str, row: usize },
    #[error("the moment-tensor route needs power-series κ and κ_zσ',σ of low degree in small d")]
    MomentUnavailable,
}

impl Problem<'_> {
    /// Checks dimensions and finiteness (unit norms are the caller's contract).
    pub fn validate(&self) -> Result<(), FastError> {
        if self.n == 0 {
            return Err(FastError::NoNeurons);
        }
        if self.d < 2 {
            return Err(FastError::SmallDimension(self.d));
        }
        let dim = |field, expected, got| {
            if expected == got {
                Ok(())
            } else {
                Err(FastError::Dimension {
                    field,
                    expected,
                    got,
                })
            }
        };
        dim("w", self.n * self.d, self.w.len())?;
        dim("a", self.n, self.a.len())?;
        dim("theta", self.d, self.theta.len())?;
        // In parallel blocks (the O(Nd) scan is otherwise a serial part of every evaluation),
        // each tested branch-free first; the first bad entry in index order is reported.
        const BLOCK: usize = 1 << 14;
        let bad = self
            .w
            .par_chunks(BLOCK)
            .enumerate()
            .find_map_first(|(b, blk)| {
                if blk.iter().fold(true, |ok, x| ok & x.is_finite()) {
                    None
                } else {
                    blk.iter()
                        .position(|x| !x.is_finite())
                        .map(|i| b * BLOCK + i)
                }
            });
        if let Some(i) = bad {
            return Err(FastError::NotFinite {
                field: "w",
                row: i / self.d,
            });
        }
        if let Some(i) = self.a.iter().position(|x| !x.is_finite()) {
            return Err(FastError::NotFinite { field: "a", row: i });
        }
        if let Some(i) = self.theta.iter().position(|x| !x.is_finite()) {
            return Err(FastError::NotFinite {
                field: "theta",
                row: i,
            });
        }
        for (field, k) in [
            ("kappa", &self.kappa),
            ("psi", &self.psi),
            ("kappa_radial", &self.kappa_radial),
            ("psi_radial", &self.psi_radial),
        ] {
            if !k.is_finite() {
                return Err(FastError::NotFinite { field, row: 0 });
            }
        }
        if !self.constant.is_finite() {
            return Err(FastError::NotFinite {
                field: "constant",
                row: 0,
            });
        }
        Ok(())
    }
}

/// How Σ_j a_j κ'(s_ij) w_j is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The cheaper of the two by the flop model of [`choose_route`].
    Auto,
    /// Gram tiles by GEMM, kernels in registers, tile × W by GEMM.
    Tiled,
    /// Symmetric moment tensors (polynomial kernels, small d).
    Moment,
}

/// What an evaluation must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantities {
    /// Loss, tangent and radial gradients, velocity.
    All,
    /// Tangent gradient and velocity only (κ' on the pairs, not κ nor κ_{zσ',σ}).
    VelocityOnly,
}

/// The result of [`evaluate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The route actually used (never `Auto`).
    pub route: Route,
    pub loss: f64,
    /// N×d row-major.
    pub tangent_gradient: Vec<f64>,
    /// N entries.
    pub radial_gradient: Vec<f64>,
    /// N×d row-major.
    pub velocity: Vec<f64>,
}

/// The evaluators of every kernel the formulas need.
pub(crate) struct Funcs {
    pub kappa: Func,
    pub kappa_prime: Func,
    pub kappa_radial: Func,
    pub psi: Func,
    pub psi_prime: Func,
    pub psi_radial: Func,
}

impl Funcs {
    pub(crate) fn new(p: &Problem) -> Self {
        Funcs {
            kappa: p.kappa.func(),
            kappa_prime: p.kappa.derivative_func(),
            kappa_radial: p.kappa_radial.func(),
            psi: p.psi.func(),
            psi_prime: p.psi.derivative_func(),
            psi_radial: p.psi_radial.func(),
        }
    }
}

/// The pair sums of a route: S_i = Σ_j a_j κ'(s_ij) w_j (N×d), and when asked for,
/// Σ_j a_j κ(s_ij) and Σ_j a_j κ_{zσ',σ}(s_ij) (N each; zeros otherwise).
pub(crate) struct Interaction {
    pub s: Vec<f64>,
    pub lsum: Vec<f64>,
    pub rsum: Vec<f64>,
}

/// The route `Auto` resolves to for this problem: the moment route when it is available and its
/// flop estimate, times 2 for its less regular memory access, is below the tiled route's.
pub fn choose_route(p: &Problem, q: Quantities) -> Route {
    let tiled = tiled::flops(p, q);
    match moment::flops(p, q) {
        Some(m) if 2.0 * m < tiled => Route::Moment,
        _ => Route::Tiled,
    }
}

fn resolve(p: &Problem, route: Route, q: Quantities) -> Result<Route, FastError> {
    match route {
        Route::Auto => Ok(choose_route(p, q)),
        Route::Moment if moment::flops(p, q).is_none() => Err(FastError::MomentUnavailable),
        r => Ok(r),
    }
}

/// Loss, tangent and radial gradients and velocity of every neuron.
pub fn evaluate(p: &Problem, route: Route) -> Result<Evaluation, FastError> {
    compute(p, route, Quantities::All)
}

/// The velocity v_i = 2 P_i(ψ'(t_i)θ − S_i) of every neuron (N×d), the cheapest evaluation:
/// only κ' is applied to the pairs.
pub fn velocity(p: &Problem, route: Route) -> Result<Vec<f64>, FastError> {
    Ok(compute_parts(p, route, Quantities::VelocityOnly, false)?.velocity)
}

/// `evaluate` restricted to `q`; with `VelocityOnly` the loss is NaN and the radial part empty.
pub(crate) fn compute(p: &Problem, route: Route, q: Quantities) -> Result<Evaluation, FastError> {
    compute_parts(p, route, q, true)
}

/// [`compute`], with the tangent gradient left empty unless `tangent` (the velocity alone
/// needs neither its N×d buffer nor its pass).
pub(crate) fn compute_parts(
    p: &Problem,
    route: Route,
    q: Quantities,
    tangent: bool,
) -> Result<Evaluation, FastError> {
    p.validate()?;
    let route = resolve(p, route, q)?;
    let f = Funcs::new(p);
    let inter = match route {
        Route::Moment => moment::interaction(p, q),
        _ => tiled::interaction(p, &f, q),
    };
    Ok(finish(p, &f, inter, q, route, tangent))
}

/// The O(Nd) rest of the formulas: teacher terms, projection, scaling, and the loss sum, in one
/// parallel pass over the neurons. The velocity is written over S_i (the interaction's buffer),
/// the tangent gradient (when asked for) into a new one.
fn finish(
    p: &Problem,
    f: &Funcs,
    it: Interaction,
    q: Quantities,
    route: Route,
    tangent: bool,
) -> Evaluation {
    let (n, d) = (p.n, p.d);
    let scale = p.loss_scale.factor();
    let all = q == Quantities::All;
    let Interaction {
        s: mut vel,
        lsum,
        rsum,
    } = it;
    let mut grad = vec![0.0; if tangent { n * d } else { 0 }];
    let mut radial = vec![0.0; n];
    let mut terms = vec![0.0; n];
    // Row i: v ← S_i − ψ'(t) θ = u, then P_i u = u − ⟨w, u⟩ w, g = 2λ a_i P_i u, v = −2λ P_i u.
    let row = |i: usize, v: &mut [f64], g: Option<&mut [f64]>, term: &mut f64, r: &mut f64| {
        let w = &p.w[i * d..(i + 1) * d];
        let t = dot_seq(w, p.theta);
        let dpsi = f.psi_prime.eval(t);
        for k in 0..d {
            v[k] -= dpsi * p.theta[k];
        }
        let c = dot_seq(w, v);
        let ga = 2.0 * scale * p.a[i];
        match g {
            Some(g) => {
                for k in 0..d {
                    let pu = v[k] - c * w[k];
                    g[k] = ga * pu;
                    v[k] = -(2.0 * scale) * pu;
                }
            }
            None => {
                for k in 0..d {
                    v[k] = -(2.0 * scale) * (v[k] - c * w[k]);
                }
            }
        }
        if all {
            *term = p.a[i] * (lsum[i] - 2.0 * f.psi.eval(t));
            *r = 2.0 * scale * p.a[i] * (rsum[i] - f.psi_radial.eval(t));
        }
    };
    let rows = vel
        .par_chunks_mut(d)
        .zip(terms.par_iter_mut())
        .zip(radial.par_iter_mut())
        .enumerate();
    if tangent {
        rows.zip(grad.par_chunks_mut(d))
            .for_each(|((i, ((v, term), r)), g)| row(i, v, Some(g), term, r));
    } else {
        rows.for_each(|(i, ((v, term), r))| row(i, v, None, term, r));
    }
    let loss = if all {
        scale * (terms.iter().sum::<f64>() + p.constant)
    } else {
        radial = Vec::new();
        f64::NAN
    };
    Evaluation {
        route,
        loss,
        tangent_gradient: grad,
        radial_gradient: radial,
        velocity: vel,
    }
}

/// Σ_k x_k y_k in index order.
pub(crate) fn dot_seq(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// One update of every neuron with learning rate ηN (N = `p.n`); returns the new W (N×d).
pub fn step(p: &Problem, eta: f64, update: Update, route: Route) -> Result<Vec<f64>, FastError> {
    let q = if update == Update::Euclidean {
        Quantities::All
    } else {
        Quantities::VelocityOnly
    };
    let ev = compute(p, route, q)?;
    Ok(apply_update(p, &ev, eta, update))
}

/// The update of [`step`] from an evaluation already made (with [`evaluate`] for
/// `Update::Euclidean`, which needs the radial part): one training step that also reports the
/// loss at the current weights costs one evaluation.
pub fn apply_update(p: &Problem, ev: &Evaluation, eta: f64, update: Update) -> Vec<f64> {
    assert!(
        update != Update::Euclidean || ev.radial_gradient.len() == p.n,
        "the Euclidean update needs an evaluation with the radial part (fast::evaluate)"
    );
    let lr = eta * p.n as f64;
    let d = p.d;
    let mut out = vec![0.0; p.n * d];
    out.par_chunks_mut(d).enumerate().for_each(|(i, x)| {
        let w = &p.w[i * d..(i + 1) * d];
        let g = &ev.tangent_gradient[i * d..(i + 1) * d];
        match update {
            Update::Euclidean => {
                let shrink = 1.0 - lr * ev.radial_gradient[i];
                for k in 0..d {
                    x[k] = shrink * w[k] - lr * g[k];
                }
            }
            Update::Tangent => {
                for k in 0..d {
                    x[k] = w[k] - lr * g[k];
                }
            }
            Update::Geodesic => {
                let norm_g = dot_seq(g, g).sqrt();
                if norm_g == 0.0 {
                    x.copy_from_slice(w);
                } else {
                    let phi = lr * norm_g;
                    let (sin, cos) = phi.sin_cos();
                    for k in 0..d {
                        x[k] = cos * w[k] - (sin / norm_g) * g[k];
                    }
                }
            }
        }
        let norm = dot_seq(x, x).sqrt();
        x.iter_mut().for_each(|xk| *xk /= norm);
    });
    out
}
