//! # The arbitrary-precision oracle of the reduced mean-field flow
//!
//! An MPFR (rug) integration of the exact finite-d reduction of the mean-field flow
//! (docs/conventions.md §4, [`crate::meanfield`]), independent of the f64 flow (`meanfield::flow`): the
//! only shared code is the input data [`Model`]. Proofs-note: `proofs-notes/meanfield-oracle.md`.
//! Tests: `tests/meanfield_oracle.rs`.
//!
//! ## What is computed
//! Particles are the nodes α_0 of a quadrature of the initial law (density
//! ∝ (1 − α²)^{(d−3)/2}, [`Layout`], [`initial_law`]); each carries (α, β) = (cos φ, sin φ) and
//! moves by dα/dt = βg, dβ/dt = −αg (the rotation dφ/dt = −g, written without trigonometric
//! functions), g = 2·scale·[(ψ'(α) − A)β + Bα], A and B expanded binomially in node moment sums
//! P_{p,l} = Σ_j w_j α_j^p β_j^l ([`Field`]; cost O(M·K²) per right-hand side for M nodes and
//! series degree K, O(M) for a single Hermite polynomial). Time stepping is Gragg–Bulirsch–Stoer
//! extrapolation of the modified midpoint rule with `columns` = k columns (order 2k; default
//! k = 12, order 24), adaptive steps controlled in loss units, landing exactly on every output
//! time t = i·dt_out. Each output row gives the loss L(ρ_t), E|α|, and the dissipation E[g²]
//! (= −dL/dt, see below).
//!
//! ## Accuracy contract
//! The value of a row is the main run's. Its error against the exact mean-field loss of the
//! truncated kernels is split into four *estimates* (not rigorous bounds), printed with it:
//! - `err_time`: the maximum of (i) Λ × Σ over the accepted steps up to t of the GBS local
//!   estimate Σ_j w_j max(|Δα_j|, |Δβ_j|), Δ = T_{k−1,k−1} − T_{k−1,k−2} (the error of the
//!   lower-order value: a wide margin for the returned T_{k−1,k−1}; Λ = 2·scale·(2Σk|a_k| +
//!   Σk|b_k|) turns a weighted state error into a loss error; no propagation factor), and
//!   (ii) |L − L_{H/2}|, a rerun with every step halved (`check_steps`), which sees the global
//!   error including its propagation;
//! - `err_rounding`: |L − L_{p+64}|, a rerun at 64 more bits on the same steps and nodes
//!   (`check_precision`);
//! - `err_nodes`: |L − L_{2n}|, a rerun on the layout with twice the panels on the same steps
//!   (`check_nodes`);
//! - `err_kernel`: the model's truncation and coefficient bounds,
//!   scale·(tail_κ + Σ_k bound_κ[k] + 2·tail_ψ + 2·Σ_k bound_ψ[k]) for the loss at a given
//!   state, plus the first-order effect Λ·δv·t of the velocity's kernel error
//!   δv = 2·scale·(2·(tail_κ' + Σ_k k·bound_κ[k]) + tail_ψ' + Σ_k k·bound_ψ[k]) on the
//!   trajectories (no Grönwall factor: an estimate). It is 0 for polynomial kernels up to the
//!   coefficients' rounding bounds (~10^{−digits−19}).
//!
//! `err_total` is their sum, and `digits` = −log10(err_total/|L|). A check that was switched
//! off contributes nothing and the row says so (`None`): never read a missing check as zero.
//! Node convergence is slow for information exponent ≥ 3 (docs/conventions.md §4): the default layout
//! (n = 200, q = 16, p = 3) is *not* accurate to 15 digits for h_4, d = 32, t = 15 (13 digits);
//! the proofs-note has the measured table, and [`Layout`] takes any n, q, p.
//!
//! Working precision p = ⌈digits·log2 10⌉ + 32 bits ([`working_precision`]); every MPFR
//! operation rounds to nearest at p. Results are bit-identical for any number of rayon
//! threads (fixed chunks, fixed-order reductions). When ψ is even (`use_symmetry`, default on)
//! only the α_0 > 0 half of the nodes is integrated: the mirrored law stays mirrored exactly,
//! so this changes nothing but rounding (tested against the full run).
//!
//! Measured for h_4, d = 32, t = 15 (proofs-note §8): the node error is 1.4e−10 (n = 100),
//! 2.2e−14 (n = 200, the default), 9e−21 (n = 400), with q = 16, p = 3; 15 digits need
//! n ≥ 400 (or q = 32 at n = 200).
//!
//! ## Identities used by the tests
//! dL/dt = −E_{ρ_t}[g(α)²] (both loss scales: v = −∇(δL/δρ) and ‖v‖ = |g|); A = cα, B = cβ
//! with c = E[κ'(s)s] at t = 0; α ↦ −α symmetry of the trajectories for even ψ.
//!
//! ## API
//! [`run`]`(&Model, &OracleOptions) -> Result<`[`OracleCurve`]`, `[`OracleError`]`>` (one
//! call: main run plus the requested checks); [`run_with`] (the same run with zero-weight
//! tracer nodes and an [`Observation`] of the field, the law's moments, the nodes and the tracers
//! at every output time of every pass: the local Hessian along the flow,
//! `crate::hessian::symmetric::with_interaction_rug`); [`alphas_at`] (node overlaps at one time);
//! [`initial_law`], [`gauss_legendre`], [`z_moments`], [`sphere_moments`],
//! [`sphere_normaliser`]; [`Field`] (moments, A, B, g, loss of a given state).

pub mod field;
mod gbs;
pub mod quadrature;

pub use field::{Field, Moments};
pub use quadrature::{
    gauss_legendre, initial_law, sphere_density, sphere_moments, sphere_normaliser, z_moments,
    Layout,
};

use crate::coeffs::digits_to_bits;
use crate::meanfield::Model;
use field::{interleave, CHUNK};
use gbs::Gbs;
use rayon::prelude::*;
use rug::{Assign, Float};
use std::time::Instant;

/// Working precision in bits for `digits` decimal digits: ⌈digits·log2 10⌉ + 32.
pub fn working_precision(digits: u32) -> u32 {
    digits_to_bits(digits) + 32
}

/// How steps are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Steps {
    /// Step-size control on the GBS estimate in loss units (Λ × state estimate ≤ tolerance per
    /// step).
    Adaptive,
    /// m equal steps per output interval, no control (for order tests).
    Fixed(usize),
}

/// Options of [`run`].
#[derive(Clone, Debug, PartialEq)]
pub struct OracleOptions {
    pub layout: Layout,
    /// Target decimal digits; sets the working precision ([`working_precision`]).
    pub digits: u32,
    /// Horizon; must be a whole number of `dt_out`.
    pub t_end: f64,
    /// Output spacing.
    pub dt_out: f64,
    /// Per-step tolerance in loss units (default 10^{−digits−3}).
    pub tolerance: Option<f64>,
    /// GBS columns k ≥ 2 (order 2k).
    pub columns: usize,
    pub steps: Steps,
    /// Rerun with 2n panels.
    pub check_nodes: bool,
    /// Rerun with every step halved.
    pub check_steps: bool,
    /// Rerun at 64 more bits.
    pub check_precision: bool,
    /// Integrate only the α_0 > 0 half when ψ is even (exact: the mirrored law stays mirrored;
    /// see [`Field::psi_is_even`]). Halves the cost; off, every node is integrated.
    pub use_symmetry: bool,
}

impl Default for OracleOptions {
    fn default() -> OracleOptions {
        OracleOptions {
            layout: Layout::default(),
            digits: 20,
            t_end: 1.0,
            dt_out: 0.1,
            tolerance: None,
            columns: 12,
            steps: Steps::Adaptive,
            check_nodes: true,
            check_steps: true,
            check_precision: true,
            use_symmetry: true,
        }
    }
}

/// One accepted step: its size (exact f64) unless it lands on an output time (then the size
/// is recomputed as t_out − t at the run's own precision).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRecord {
    pub h: f64,
    pub landing: bool,
}

/// One output time.
#[derive(Clone, Debug)]
pub struct OracleRow {
    /// t = i·dt_out.
    pub t: Float,
    pub loss: Float,
    /// E|α| over the nodes.
    pub alpha_mean_abs: Float,
    /// E[g²] = −dL/dt.
    pub dissipation: Float,
    /// Λ × accumulated GBS local estimates up to t.
    pub err_time_estimate: f64,
    /// |L − L_{H/2}| (`check_steps`).
    pub err_time_rerun: Option<f64>,
    /// max(err_time_estimate, err_time_rerun).
    pub err_time: f64,
    /// |L − L_{p+64}| (`check_precision`).
    pub err_rounding: Option<f64>,
    /// |L − L_{2n}| (`check_nodes`).
    pub err_nodes: Option<f64>,
    pub err_kernel: f64,
    /// err_time + err_rounding + err_nodes + err_kernel (missing checks count 0: see the flags).
    pub err_total: f64,
    /// −log10(err_total/|L|), +∞ if err_total = 0.
    pub digits: f64,
}

/// The result of [`run`].
#[derive(Clone, Debug)]
pub struct OracleCurve {
    pub rows: Vec<OracleRow>,
    pub layout: Layout,
    pub d: usize,
    /// Working precision of the main run (bits).
    pub precision: u32,
    pub columns: usize,
    pub tolerance: f64,
    /// Accepted steps of the main run (replayed by the checks).
    pub steps: Vec<StepRecord>,
    pub rejected_steps: usize,
    /// Right-hand-side evaluations of the main run.
    pub rhs_evaluations: u64,
    /// Initial nodes α_0 (ascending) and weights.
    pub alpha0: Vec<Float>,
    pub weights: Vec<Float>,
    /// (α, β) of every node at t_end (main run).
    pub alpha_end: Vec<Float>,
    pub beta_end: Vec<Float>,
    /// Whether the half-node mode was used.
    pub symmetric: bool,
    /// Loss sensitivity Λ.
    pub loss_sensitivity: f64,
    /// δv, the kernel-truncation bound on g.
    pub velocity_kernel_bound: f64,
    /// Wall-clock seconds of the main run and of everything.
    pub seconds_main: f64,
    pub seconds_total: f64,
}

/// Why the oracle refuses to run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OracleError {
    #[error("invalid option: {0}")]
    Options(String),
    #[error("step size underflow at t = {0}: the flow is too stiff for the tolerance")]
    StepUnderflow(f64),
}

/// One integration pass.
struct Pass {
    losses: Vec<Float>,
    abs_alpha: Vec<Float>,
    dissipation: Vec<Float>,
    est: Vec<f64>,
    steps: Vec<StepRecord>,
    rejected: usize,
    rhs: u64,
    y_end: Vec<Float>,
}

enum Plan<'a> {
    Adaptive {
        tol: f64,
    },
    Replay {
        steps: &'a [StepRecord],
        split: usize,
    },
}

fn validate(opts: &OracleOptions) -> Result<usize, OracleError> {
    let bad = |s: String| Err(OracleError::Options(s));
    let l = &opts.layout;
    if l.panels == 0 || l.order == 0 || l.grading == 0 {
        return bad(format!(
            "layout {l:?}: panels, order and grading must be ≥ 1"
        ));
    }
    if l.panels > 1 << 20 || l.order > 256 || l.grading > 8 {
        return bad(format!("layout {l:?} is out of range"));
    }
    if !(1..=2000).contains(&opts.digits) {
        return bad(format!("digits = {} (1..=2000)", opts.digits));
    }
    if !(opts.dt_out.is_finite() && opts.dt_out > 0.0) {
        return bad(format!("dt_out = {} must be positive", opts.dt_out));
    }
    if !(opts.t_end.is_finite() && opts.t_end >= 0.0) {
        return bad(format!("t_end = {} must be nonnegative", opts.t_end));
    }
    let n = (opts.t_end / opts.dt_out).round();
    if (n * opts.dt_out - opts.t_end).abs() > 1e-9 * opts.t_end.max(opts.dt_out) || n > 1e6 {
        return bad(format!(
            "t_end = {} is not a whole number (≤ 10^6) of dt_out = {}",
            opts.t_end, opts.dt_out
        ));
    }
    if !(2..=40).contains(&opts.columns) {
        return bad(format!("columns = {} (2..=40)", opts.columns));
    }
    if let Some(t) = opts.tolerance {
        if !(t.is_finite() && t > 0.0) {
            return bad(format!("tolerance = {t} must be positive"));
        }
    }
    if opts.steps == Steps::Fixed(0) {
        return bad("Fixed(0) steps".into());
    }
    Ok(n as usize)
}

/// Output quantities of the state y: (loss, E|α|, E g²).
fn outputs(field: &Field, y: &[Float], w: &[Float], full: bool) -> (Float, Float, Float) {
    let factor = if field.symmetric() { 2u32 } else { 1u32 };
    let prec = field.prec();
    let mo = field.moments_interleaved(y, w);
    let loss = field.loss(&mo);
    if !full {
        return (loss, Float::new(prec), Float::new(prec));
    }
    let mut g = vec![Float::new(prec); w.len()];
    field.g_into(y, w, &mut g);
    let parts: Vec<(Float, Float)> = y
        .par_chunks(2 * CHUNK)
        .zip(w.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
        .map(|(yc, (wc, gc))| {
            let mut s1 = Float::new(prec);
            let mut s2 = Float::new(prec);
            let mut t = Float::new(prec);
            for j in 0..wc.len() {
                t.assign(yc[2 * j].abs_ref());
                t *= &wc[j];
                s1 += &t;
                t.assign(gc[j].square_ref());
                t *= &wc[j];
                s2 += &t;
            }
            (s1, s2)
        })
        .collect();
    let mut a = Float::new(prec);
    let mut d = Float::new(prec);
    for (x, z) in &parts {
        a += x;
        d += z;
    }
    (loss, a * factor, d * factor)
}

/// What one integration pass needs besides its plan.
#[derive(Clone, Copy)]
struct Setup<'a> {
    model: &'a Model,
    layout: Layout,
    prec: u32,
    columns: usize,
    dt_out: f64,
    nout: usize,
    symmetric: bool,
}

/// Zero-weight tracer nodes and an observer of the output times, for [`run_with`].
struct Watch<'a, 'b> {
    tracers: &'a [Float],
    kind: PassKind,
    observe: Option<&'a mut (dyn FnMut(&Observation) + 'b)>,
}

fn watch<'a, 'b>(
    tracers: &'a [Float],
    kind: PassKind,
    observe: &'a mut Option<&'b mut dyn FnMut(&Observation)>,
) -> Watch<'a, 'b> {
    Watch {
        tracers,
        kind,
        observe: match observe {
            Some(f) => Some(&mut **f),
            None => None,
        },
    }
}

fn integrate(su: Setup, plan: Plan, full: bool, watch: Watch) -> Result<Pass, OracleError> {
    let Watch {
        tracers,
        kind,
        mut observe,
    } = watch;
    let Setup {
        model,
        layout,
        prec,
        columns,
        dt_out,
        nout,
        symmetric,
    } = su;
    let field = Field::new(model, prec).with_symmetry(symmetric);
    let (mut alpha0, mut w) = initial_law(&layout, model.d, prec);
    if symmetric {
        let half = alpha0.len() / 2;
        alpha0.drain(..half);
        w.drain(..half);
    }
    // Tracers: extra nodes of weight exactly 0 after the law's nodes. They add exact zeros to
    // every weighted sum (moments, E|α|, E g², the GBS estimate), so the law, the steps and the
    // outputs are bit-identical with and without them, and each tracer moves with the field of
    // the law like any particle (also in the half-node mode: g is evaluated at its own (α, β)).
    let nlaw = w.len();
    for a in tracers {
        alpha0.push(Float::with_val(prec, a));
        w.push(Float::new(prec));
    }
    let beta0: Vec<Float> = alpha0
        .iter()
        .map(|a| {
            let mut u = Float::with_val(prec, 1 - a.clone());
            u *= Float::with_val(prec, 1 + a.clone());
            u.sqrt()
        })
        .collect();
    let mut y = interleave(&alpha0, &beta0, prec);
    let mut ynew = y.clone();
    let lam = field.loss_sensitivity().max(f64::MIN_POSITIVE);
    let factor = if symmetric { 2.0 } else { 1.0 };
    let mut gbs = Gbs::new(&field, &w, columns, factor);
    let mut pass = Pass {
        losses: Vec::with_capacity(nout + 1),
        abs_alpha: Vec::with_capacity(nout + 1),
        dissipation: Vec::with_capacity(nout + 1),
        est: Vec::with_capacity(nout + 1),
        steps: Vec::new(),
        rejected: 0,
        rhs: 0,
        y_end: Vec::new(),
    };
    let mut est = 0.0f64;
    let push = |pass: &mut Pass, y: &[Float], est: f64| {
        let (l, a, d) = outputs(&field, y, &w, full);
        pass.losses.push(l);
        pass.abs_alpha.push(a);
        pass.dissipation.push(d);
        pass.est.push(est);
    };
    let dt = Float::with_val(prec, dt_out);
    let mut watch_at = |index: usize, y: &[Float]| {
        if let Some(f) = observe.as_mut() {
            let t = Float::with_val(prec, &dt * index as u32);
            let mo = field.moments_interleaved(y, &w);
            f(&Observation {
                kind,
                index,
                t: &t,
                field: &field,
                moments: &mo,
                nodes: &y[..2 * nlaw],
                weights: &w[..nlaw],
                tracers: &y[2 * nlaw..],
            });
        }
    };
    push(&mut pass, &y, est);
    watch_at(0, &y);
    let mut t = Float::new(prec);
    let mut h = Float::new(prec);
    let expo = 1.0 / (2.0 * columns as f64 - 1.0);
    let mut hctl = dt_out.min(0.25);
    let mut cursor = 0usize;
    for out in 1..=nout {
        let target = Float::with_val(prec, &dt * out as u32);
        match plan {
            Plan::Adaptive { tol } => loop {
                let rem = Float::with_val(prec, &target - &t);
                let remf = rem.to_f64();
                let landing = hctl >= remf * (1.0 - 1e-12);
                let hf = if landing {
                    h.assign(&rem);
                    remf
                } else {
                    let hf = if 2.0 * hctl > remf { remf / 2.0 } else { hctl };
                    h.assign(hf);
                    hf
                };
                let err = gbs.step(&y, &h, &mut ynew) * lam;
                let fac = if err > 0.0 {
                    (0.9 * (tol / err).powf(expo)).clamp(0.2, 4.0)
                } else {
                    4.0
                };
                if err <= tol {
                    std::mem::swap(&mut y, &mut ynew);
                    est += err;
                    pass.steps.push(StepRecord { h: hf, landing });
                    if landing {
                        t.assign(&target);
                        if hf >= 0.5 * hctl {
                            hctl = hf * fac;
                        }
                        break;
                    }
                    t += &h;
                    hctl = hf * fac;
                } else {
                    pass.rejected += 1;
                    hctl = hf * fac;
                    if hctl < 1e-14 * dt_out {
                        return Err(OracleError::StepUnderflow(t.to_f64()));
                    }
                }
            },
            Plan::Replay { steps, split } => loop {
                let rec = steps[cursor];
                cursor += 1;
                for s in 0..split {
                    let last = rec.landing && s + 1 == split;
                    if last {
                        h.assign(&target - &t);
                    } else if rec.landing {
                        h.assign(&target - &t);
                        h /= (split - s) as u32;
                    } else {
                        h.assign(rec.h / split as f64);
                    }
                    let err = gbs.step(&y, &h, &mut ynew) * lam;
                    std::mem::swap(&mut y, &mut ynew);
                    est += err;
                    if last {
                        t.assign(&target);
                    } else {
                        t += &h;
                    }
                }
                if rec.landing {
                    break;
                }
            },
        }
        push(&mut pass, &y, est);
        watch_at(out, &y);
    }
    pass.rhs = gbs.rhs_count;
    y.truncate(2 * nlaw);
    if symmetric {
        // Mirror back: node i of the lower half is the image of node M/2 − 1 − i.
        let mut full_y = Vec::with_capacity(2 * y.len());
        for pair in y.chunks(2).rev() {
            full_y.push(Float::with_val(prec, -&pair[0]));
            full_y.push(pair[1].clone());
        }
        full_y.extend(y);
        pass.y_end = full_y;
    } else {
        pass.y_end = y;
    }
    Ok(pass)
}

fn fixed_plan(nout: usize, per_output: usize, dt_out: f64) -> Vec<StepRecord> {
    let mut v = Vec::with_capacity(nout * per_output);
    for _ in 0..nout {
        for s in 0..per_output {
            v.push(StepRecord {
                h: dt_out / per_output as f64,
                landing: s + 1 == per_output,
            });
        }
    }
    v
}

/// Kernel error terms: (static loss bound, velocity bound δv).
fn kernel_bounds(model: &Model) -> (f64, f64) {
    let scale = model.scale();
    let sum = |b: &[Float], weighted: bool| -> f64 {
        b.iter()
            .enumerate()
            .map(|(k, x)| x.to_f64().abs() * if weighted { k as f64 } else { 1.0 })
            .sum()
    };
    let (kt, pt) = (model.kappa.tail, model.psi.tail);
    let stat = scale
        * (kt[0] + sum(&model.kappa.bound, false) + 2.0 * (pt[0] + sum(&model.psi.bound, false)));
    let dv = 2.0
        * scale
        * (2.0 * (kt[1] + sum(&model.kappa.bound, true)) + pt[1] + sum(&model.psi.bound, true));
    (stat, dv)
}

/// Runs the oracle: the main integration and the requested checks (each a full rerun on the
/// main run's steps). Rows at t = 0, dt_out, …, t_end.
pub fn run(model: &Model, opts: &OracleOptions) -> Result<OracleCurve, OracleError> {
    run_inner(model, opts, &[], None)
}

/// Which integration pass of [`run_with`] an [`Observation`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassKind {
    /// The main run (its values are the curve's rows).
    Main,
    /// The rerun with every step halved (`check_steps`).
    HalvedSteps,
    /// The rerun at 64 more bits (`check_precision`).
    Precision,
    /// The rerun with twice the panels (`check_nodes`).
    RefinedNodes,
}

/// What the observer of [`run_with`] sees at one output time t = index·dt_out of one pass.
pub struct Observation<'a> {
    pub kind: PassKind,
    pub index: usize,
    pub t: &'a Float,
    /// The pass's field (its precision; half-node mode as the pass runs).
    pub field: &'a Field,
    /// The law's moment sums P_{p,l} at t (already symmetrised in the half-node mode): with
    /// [`Field::velocity`], [`Field::velocity_and_derivative`], [`Field::interaction`] they give
    /// the velocity of any particle under the law at t.
    pub moments: &'a Moments,
    /// The law's node states, interleaved (α_0, β_0, α_1, β_1, …), in the pass's representation:
    /// in the half-node mode only the α_0 > 0 half (each carrying its own weight; the mirror
    /// images are implied).
    pub nodes: &'a [Float],
    pub weights: &'a [Float],
    /// The tracers' states, interleaved (α, β), in the order given to [`run_with`].
    pub tracers: &'a [Float],
}

/// [`run`] with zero-weight tracers and an observer. Each initial overlap in `tracers` (in
/// (−1, 1), rounded to each pass's precision) becomes an extra node of weight exactly 0: it moves with the law's field like every
/// node but adds exact zeros to every weighted sum, so the law, the accepted steps and the
/// returned curve are bit-identical to [`run`]'s (test `oracle_tracers_do_not_change_the_run`
/// in tests/hessian.rs, which also checks a tracer against the node it duplicates). Its accuracy is not controlled by the step-size control (which
/// weighs nodes by their mass); the checks' reruns see it. `observe` is called at every output
/// time of every pass (main run first, then the enabled checks in the order halved steps,
/// precision, nodes), sequentially.
pub fn run_with(
    model: &Model,
    opts: &OracleOptions,
    tracers: &[Float],
    observe: &mut dyn FnMut(&Observation),
) -> Result<OracleCurve, OracleError> {
    if let Some(a) = tracers
        .iter()
        .find(|a| !(a.is_finite() && *a.as_abs() < 1u32))
    {
        return Err(OracleError::Options(format!(
            "tracer alpha_0 = {a} must be in (-1, 1)"
        )));
    }
    run_inner(model, opts, tracers, Some(observe))
}

fn run_inner(
    model: &Model,
    opts: &OracleOptions,
    tracers: &[Float],
    mut observe: Option<&mut dyn FnMut(&Observation)>,
) -> Result<OracleCurve, OracleError> {
    let nout = validate(opts)?;
    let start = Instant::now();
    let prec = working_precision(opts.digits);
    let tol = opts
        .tolerance
        .unwrap_or_else(|| 10f64.powi(-(opts.digits as i32) - 3));
    let fixed = match opts.steps {
        Steps::Adaptive => Vec::new(),
        Steps::Fixed(m) => fixed_plan(nout, m, opts.dt_out),
    };
    let plan = match opts.steps {
        Steps::Adaptive => Plan::Adaptive { tol },
        Steps::Fixed(_) => Plan::Replay {
            steps: &fixed,
            split: 1,
        },
    };
    let (c, dt) = (opts.columns, opts.dt_out);
    let symmetric = opts.use_symmetry && Field::new(model, prec).psi_is_even();
    let su = Setup {
        model,
        layout: opts.layout,
        prec,
        columns: c,
        dt_out: dt,
        nout,
        symmetric,
    };
    let mut main = integrate(su, plan, true, watch(tracers, PassKind::Main, &mut observe))?;
    if let Steps::Fixed(_) = opts.steps {
        main.steps = fixed.clone();
    }
    let seconds_main = start.elapsed().as_secs_f64();
    let replay = |split| Plan::Replay {
        steps: &main.steps,
        split,
    };
    let halved = if opts.check_steps {
        Some(integrate(
            su,
            replay(2),
            false,
            watch(tracers, PassKind::HalvedSteps, &mut observe),
        )?)
    } else {
        None
    };
    let precise = if opts.check_precision {
        let su = Setup {
            prec: prec + 64,
            ..su
        };
        Some(integrate(
            su,
            replay(1),
            false,
            watch(tracers, PassKind::Precision, &mut observe),
        )?)
    } else {
        None
    };
    let refined = if opts.check_nodes {
        let su = Setup {
            layout: opts.layout.refined(),
            ..su
        };
        Some(integrate(
            su,
            replay(1),
            false,
            watch(tracers, PassKind::RefinedNodes, &mut observe),
        )?)
    } else {
        None
    };
    let field = Field::new(model, prec);
    let lam = field.loss_sensitivity();
    let (kstat, dv) = kernel_bounds(model);
    let diff = |other: &Option<Pass>, i: usize| -> Option<f64> {
        other.as_ref().map(|p| {
            let big = Float::with_val(prec + 64, &main.losses[i] - &p.losses[i]);
            big.to_f64().abs()
        })
    };
    let dtf = Float::with_val(prec, dt);
    let rows = (0..=nout)
        .map(|i| {
            let t = Float::with_val(prec, &dtf * i as u32);
            let err_time_rerun = diff(&halved, i);
            let err_time = err_time_rerun.map_or(main.est[i], |r| r.max(main.est[i]));
            let err_rounding = diff(&precise, i);
            let err_nodes = diff(&refined, i);
            let err_kernel = kstat + lam * dv * t.to_f64();
            let err_total =
                err_time + err_rounding.unwrap_or(0.0) + err_nodes.unwrap_or(0.0) + err_kernel;
            let lf = main.losses[i].to_f64().abs();
            let digits = if err_total > 0.0 {
                -(err_total / lf).log10()
            } else {
                f64::INFINITY
            };
            OracleRow {
                t,
                loss: main.losses[i].clone(),
                alpha_mean_abs: main.abs_alpha[i].clone(),
                dissipation: main.dissipation[i].clone(),
                err_time_estimate: main.est[i],
                err_time_rerun,
                err_time,
                err_rounding,
                err_nodes,
                err_kernel,
                err_total,
                digits,
            }
        })
        .collect();
    let (alpha0, weights) = initial_law(&opts.layout, model.d, prec);
    let alpha_end = main.y_end.iter().step_by(2).cloned().collect();
    let beta_end = main.y_end.iter().skip(1).step_by(2).cloned().collect();
    Ok(OracleCurve {
        rows,
        layout: opts.layout,
        d: model.d,
        precision: prec,
        columns: c,
        tolerance: tol,
        steps: main.steps,
        rejected_steps: main.rejected,
        rhs_evaluations: main.rhs,
        symmetric,
        alpha0,
        weights,
        alpha_end,
        beta_end,
        loss_sensitivity: lam,
        velocity_kernel_bound: dv,
        seconds_main,
        seconds_total: start.elapsed().as_secs_f64(),
    })
}

/// The nodes' initial overlaps α_0 (ascending, as in [`initial_law`]) and their overlaps α_t at
/// time t (adaptive GBS, default columns and tolerance 10^{−digits−3}, no checks).
pub fn alphas_at(
    model: &Model,
    layout: &Layout,
    digits: u32,
    t: f64,
) -> Result<(Vec<Float>, Vec<Float>), OracleError> {
    let opts = OracleOptions {
        layout: *layout,
        digits,
        t_end: t,
        dt_out: if t > 0.0 { t } else { 1.0 },
        check_nodes: false,
        check_steps: false,
        check_precision: false,
        ..OracleOptions::default()
    };
    let c = run(model, &opts)?;
    Ok((c.alpha0, c.alpha_end))
}
