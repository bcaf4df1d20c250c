//! Suite `meanfield`: the exact mean-field flow from a uniform start (docs/conventions.md §4), as an
//! f64 backend of the reduced flow should reproduce it: the loss curve L(ρ_t), E|α_t| (even ψ
//! only) and trajectories α_t(α_0) of test particles.
//!
//! Golden values: the MPFR oracle [`crate::meanfield::oracle::run`] (Gragg–Bulirsch–Stoer,
//! graded composite Gauss–Legendre nodes in α, `proofs-notes/meanfield-oracle.md`). Two oracle
//! runs per case and output time set: the *fine* run (n panels, grading 3, odd order
//! `order_fine`, [`DIGITS_FINE`] digits, per-step tolerance [`STEP_TOL_FINE`]) gives the values;
//! the *coarse* run (same panels, odd order `order_coarse`, [`DIGITS_COARSE`] digits, per-step
//! tolerance [`STEP_TOL_COARSE`], its own adaptive steps) gives the error estimate:
//! bound = |fine − coarse| + 10^−15 (for the loss at least the fine run's `err_total`). The
//! coarse run is worse in every respect (nodes, steps, precision), so the difference estimates
//! the fine run's error from above (an estimate, like the oracle's own). Measured: at most
//! 3.6e−4 of the tolerance (he4 loss at t = 4, where the front α_0 ≈ 1/(4√t) is a fifth of a
//! panel wide; the f64 flow puts the coarse order-25 run's node error there at 4e−12);
//! `golden::build` checks bound ≤ tolerance/100.
//!
//! Test particles. The oracle has no test particles; the listed α_0 are chosen as nodes of both
//! runs: with n = 2^m panels, grading 3 and an odd order q, the middle Gauss–Legendre node of
//! panel j is exactly its midpoint ((j³ + (j+1)³)/(2n³), a dyadic rational, exact in f64 and in
//! MPFR), the same in both runs. A node is a particle of the law, but an infinitesimal one: its
//! trajectory is the test particle's.
//!
//! Inputs of every case: `t.npy` (output times), `alpha0.npy` (test particles' initial
//! overlaps), `t_traj.npy` (times of the trajectory columns), `kappa_series.npy`,
//! `psi_series.npy` (κ and ψ as power series in s, exact in f64 for the polynomial pairs used
//! here), `constant.npy` (E σ*², ν² = 0); parameters: student, teacher, d, loss scale, and the
//! formulas.
//!
//! ## Tolerances
//! These are not rounding tolerances: an f64 backend of the reduced flow discretises the initial
//! law (M nodes) and time (an adaptive integrator), and those errors dominate rounding (a few
//! u per step and per node sum). The tolerance is a stated accuracy demand on the backend's state, propagated
//! exactly to each output:
//! - ε_α = [`EPS_ALPHA`] = 1e−9: every particle's overlap α_t to within ε_α (global time error);
//! - ε_q = [`EPS_QUAD`] = 1e−10: the initial-law quadrature integrates the (smooth, bounded by 1)
//!   functions of α_0 the outputs need to within ε_q relative to their sup.
//!
//! Then, with κ = Σa_k s^k, ψ = Σb_k s^k:
//! - loss: Λ·ε_α + Q·ε_q, Λ = 2·scale·(2Σk|a_k| + Σk|b_k|) the loss sensitivity
//!   (|δL| ≤ Λ·Σ_i w_i|δα_i|, proofs-notes/meanfield-oracle.md §5) and Q = scale·(Σ|a_k| +
//!   2Σ|b_k|) the sup of the loss integrands;
//! - alpha_mean_abs: ε_α + ε_q (|·| is 1-Lipschitz; the kink at α = 0 sits at α_0 = 0 for even
//!   ψ, where every sensible rule has a breakpoint — for odd ψ the kink moves inside the law and
//!   a node sum converges only to first order, so the quantity is omitted);
//! - trajectory α_t(α_0): ε_α·(1 + S), S = |∂α_t/∂α_0| the sensitivity of the particle to its
//!   initial value (central difference of the oracle's node map at the two neighbouring nodes).
//!   For a scalar autonomous flow ∂α_t/∂α_s = f(α_t)/f(α_s), so a local error made at any time
//!   s on the rising branch (f(α_s) ≥ f(α_0)) grows at most by S; here S ≤ 12.
//!
//! Why ε_α = 1e−9 is what an honest backend reaches: Dormand–Prince 5(4) with error-per-step
//! control at rtol = atol = 1e−10 (the crate's `meanfield::flow::Flow` defaults) has global
//! loss error ≤ 4e−12 over t ≤ 15 at h_4, d = 32 (module doc of `meanfield::flow`), i.e.
//! state errors ~1e−13 (Λ = 24); `tests/golden.rs` (`f64_flow_passes_meanfield`) runs it on
//! this suite and prints its largest error/tolerance. ε_q = 1e−10 is met by 200 graded panels
//! of 16 nodes (node error ≤ 1e−13 at d = 32, t = 15); a single Gauss rule of a few hundred
//! nodes is not (docs/conventions.md §4), and that is a true defect of such a backend at later times;
//! here 32 panels of 15 nodes miss L(4) by 3.1e−8 and fail. The swapped loss scale moves every
//! quantity by 2e7 to 5e8 tolerances. Proofs-note: `proofs-notes/golden-files.md`.

use super::{vector, Array, Case, Quantity, SuiteEntry};
use crate::activation::Spec;
use crate::meanfield::oracle::{self, Layout, OracleCurve, OracleOptions};
use crate::meanfield::Model;
use crate::population::LossScale;
use rug::Float;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "meanfield",
    description: "exact mean-field flow from a uniform start (reduced to the overlap): loss curve, E|alpha_t| and test-particle trajectories alpha_t(alpha_0); he4/he4 d = 17 to t = 4, he3+he4 vs 0.5he3+0.8he4 (half loss scale) d = 9 to t = 2",
    build,
};

/// Demanded accuracy of every particle's overlap.
pub const EPS_ALPHA: f64 = 1e-9;
/// Demanded relative accuracy of the initial-law quadrature.
pub const EPS_QUAD: f64 = 1e-10;
/// Oracle digits and Gauss–Legendre order per panel of the fine and the coarse run.
pub const DIGITS_FINE: u32 = 17;
pub const DIGITS_COARSE: u32 = 15;
/// Per-step tolerances (loss units) of the fine and the coarse run.
pub const STEP_TOL_FINE: f64 = 1e-18;
pub const STEP_TOL_COARSE: f64 = 1e-15;
const GRADING: u32 = 3;

struct FlowCase {
    name: &'static str,
    student: &'static str,
    teacher: &'static str,
    d: usize,
    scale: LossScale,
    t_end: f64,
    dt_out: f64,
    t_traj: &'static [f64],
    /// A power of two.
    panels: usize,
    /// Odd Gauss–Legendre orders of the fine and the coarse run.
    order_fine: usize,
    order_coarse: usize,
    /// Panels whose midpoints are the test particles (positive side).
    particles: &'static [usize],
    /// Also the mirror images −α_0 (ψ not even).
    mirrored: bool,
    /// E|α_t| is a quantity (ψ even).
    mean_abs: bool,
}

const CASES: &[FlowCase] = &[
    FlowCase {
        name: "he4-d17-t4",
        student: "he4",
        teacher: "he4",
        d: 17,
        scale: LossScale::Full,
        t_end: 4.0,
        dt_out: 0.5,
        t_traj: &[1.0, 2.0, 3.0, 4.0],
        panels: 32,
        order_fine: 31,
        order_coarse: 25,
        particles: &[12, 16, 18, 20, 24],
        mirrored: false,
        mean_abs: true,
    },
    FlowCase {
        name: "misspecified-d9-half-t2",
        student: "he3+he4",
        teacher: "0.5*he3+0.8*he4",
        d: 9,
        scale: LossScale::Half,
        t_end: 2.0,
        dt_out: 0.5,
        t_traj: &[1.0, 2.0],
        panels: 16,
        order_fine: 21,
        order_coarse: 11,
        particles: &[6, 9, 12],
        mirrored: true,
        mean_abs: false,
    },
];

/// The midpoint of panel j of the graded layout with n panels: ((j/n)³ + ((j+1)/n)³)/2.
fn midpoint(j: usize, n: usize) -> f64 {
    let (a, b, c) = (j as f64, (j + 1) as f64, n as f64);
    (a * a * a + b * b * b) / (2.0 * c * c * c)
}

fn options(
    panels: usize,
    order: usize,
    digits: u32,
    step_tol: f64,
    t_end: f64,
    dt_out: f64,
) -> OracleOptions {
    OracleOptions {
        layout: Layout {
            panels,
            order,
            grading: GRADING,
        },
        digits,
        t_end,
        dt_out,
        tolerance: Some(step_tol),
        check_nodes: false,
        check_steps: false,
        check_precision: false,
        ..OracleOptions::default()
    }
}

/// Index of the node α_0 = a (exact) in the curve's initial nodes.
fn node_index(c: &OracleCurve, a: f64) -> Result<usize, String> {
    c.alpha0
        .iter()
        .position(|x| *x == a)
        .ok_or_else(|| format!("alpha_0 = {a} is not a node of the oracle layout"))
}

/// α_t of the nodes at index i − 1, i, i + 1 (for the value and the sensitivity).
fn node_map(c: &OracleCurve, a: f64) -> Result<[(Float, Float); 3], String> {
    let i = node_index(c, a)?;
    if i == 0 || i + 1 >= c.alpha0.len() {
        return Err(format!("alpha_0 = {a} is an end node"));
    }
    Ok([i - 1, i, i + 1].map(|k| (c.alpha0[k].clone(), c.alpha_end[k].clone())))
}

fn sum_abs(c: &[Float], weight: impl Fn(usize) -> f64) -> f64 {
    c.iter()
        .enumerate()
        .map(|(k, x)| weight(k) * x.to_f64().abs())
        .sum()
}

fn diff(a: &Float, b: &Float) -> f64 {
    Float::with_val(a.prec().max(b.prec()) + 64, a - b)
        .to_f64()
        .abs()
}

fn build() -> Result<Vec<Case>, String> {
    CASES.iter().map(build_case).collect()
}

fn build_case(fc: &FlowCase) -> Result<Case, String> {
    let student = Spec::parse(fc.student).map_err(|e| e.to_string())?;
    let teacher = Spec::parse(fc.teacher).map_err(|e| e.to_string())?;
    let model =
        Model::new(&student, &teacher, fc.d, 10, 40, fc.scale, 0.0).map_err(|e| e.to_string())?;
    if !model.exact {
        return Err(format!(
            "case {}: the suite expects polynomial pairs",
            fc.name
        ));
    }
    let scale = model.scale();
    let (ka, kb) = (&model.kappa.coefficients, &model.psi.coefficients);
    let lam = 2.0 * scale * (2.0 * sum_abs(ka, |k| k as f64) + sum_abs(kb, |k| k as f64));
    let q = scale * (sum_abs(ka, |_| 1.0) + 2.0 * sum_abs(kb, |_| 1.0));
    let floor = |digits: u32| 10f64.powi(-(digits as i32));
    // The fine run (values) and the coarse run (error estimate) to t_end with outputs every dt.
    let run = |fine: bool, t_end: f64, dt_out: f64| {
        let o = if fine {
            options(
                fc.panels,
                fc.order_fine,
                DIGITS_FINE,
                STEP_TOL_FINE,
                t_end,
                dt_out,
            )
        } else {
            options(
                fc.panels,
                fc.order_coarse,
                DIGITS_COARSE,
                STEP_TOL_COARSE,
                t_end,
                dt_out,
            )
        };
        oracle::run(&model, &o).map_err(|e| format!("case {}: oracle: {e}", fc.name))
    };
    let fine = run(true, fc.t_end, fc.dt_out)?;
    let coarse = run(false, fc.t_end, fc.dt_out)?;
    let nt = fine.rows.len();

    // Test particles, ascending.
    let mut alpha0: Vec<f64> = fc
        .particles
        .iter()
        .map(|&j| midpoint(j, fc.panels))
        .collect();
    if fc.mirrored {
        let neg: Vec<f64> = alpha0.iter().rev().map(|a| -a).collect();
        alpha0 = neg.into_iter().chain(alpha0).collect();
    }
    let na = alpha0.len();
    let nj = fc.t_traj.len();
    // Trajectories: per time, the fine and the coarse node maps.
    let mut traj_v = vec![Float::new(64); na * nj];
    let mut traj_b = vec![Float::new(64); na * nj];
    let mut traj_tol = vec![0.0; na * nj];
    for (c, &t) in fc.t_traj.iter().enumerate() {
        let (f, g) = if t == fc.t_end {
            (None, None)
        } else {
            (Some(run(true, t, t)?), Some(run(false, t, t)?))
        };
        let (f, g) = (f.as_ref().unwrap_or(&fine), g.as_ref().unwrap_or(&coarse));
        for (r, &a) in alpha0.iter().enumerate() {
            let mf = node_map(f, a)?;
            let mg = node_map(g, a)?;
            let sens = Float::with_val(128, &mf[2].1 - &mf[0].1)
                / Float::with_val(128, &mf[2].0 - &mf[0].0);
            let k = r * nj + c;
            traj_v[k] = mf[1].1.clone();
            traj_b[k] = Float::with_val(64, diff(&mf[1].1, &mg[1].1) + floor(DIGITS_COARSE));
            traj_tol[k] = EPS_ALPHA * (1.0 + sens.to_f64().abs());
        }
    }

    let mut loss_b = Vec::with_capacity(nt);
    let mut abs_b = Vec::with_capacity(nt);
    for (rf, rc) in fine.rows.iter().zip(&coarse.rows) {
        let b = diff(&rf.loss, &rc.loss).max(rf.err_total) + floor(DIGITS_COARSE);
        loss_b.push(Float::with_val(64, b));
        abs_b.push(Float::with_val(
            64,
            diff(&rf.alpha_mean_abs, &rc.alpha_mean_abs) + floor(DIGITS_COARSE),
        ));
    }
    let times: Vec<f64> = fine.rows.iter().map(|r| r.t.to_f64()).collect();
    let mut quantities = vec![Quantity {
        name: "loss".into(),
        description: format!(
            "L(rho_t) = scale*(E kappa(a a' + b b' z) - 2 E psi(a) + E sigma*^2) at the times t.npy, shape [{nt}]"
        ),
        shape: vec![nt],
        values: fine.rows.iter().map(|r| r.loss.clone()).collect(),
        bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
        bounds: loss_b,
        tolerance: vec![lam * EPS_ALPHA + q * EPS_QUAD; nt],
        tolerance_rule: format!(
            "Lambda*eps_alpha + Q*eps_q, Lambda = 2*scale*(2 sum k|a_k| + sum k|b_k|) = {lam}, Q = scale*(sum|a_k| + 2 sum|b_k|) = {q}, eps_alpha = {EPS_ALPHA:e}, eps_q = {EPS_QUAD:e}"
        ),
    }];
    if fc.mean_abs {
        quantities.push(Quantity {
            name: "alpha_mean_abs".into(),
            description: format!("E|alpha_t| at the times t.npy, shape [{nt}]"),
            shape: vec![nt],
            values: fine.rows.iter().map(|r| r.alpha_mean_abs.clone()).collect(),
            bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
            bounds: abs_b,
            tolerance: vec![EPS_ALPHA + EPS_QUAD; nt],
            tolerance_rule: format!("eps_alpha + eps_q = {EPS_ALPHA:e} + {EPS_QUAD:e}"),
        });
    }
    quantities.push(Quantity {
        name: "alpha_t".into(),
        description: format!(
            "trajectories: entry [i, j] = alpha at time t_traj[j] of the test particle started at alpha0[i], shape [{na}, {nj}]"
        ),
        shape: vec![na, nj],
        values: traj_v,
        bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
        bounds: traj_b,
        tolerance: traj_tol,
        tolerance_rule: format!(
            "eps_alpha*(1 + |d alpha_t/d alpha_0|), eps_alpha = {EPS_ALPHA:e}, the sensitivity from the oracle's neighbouring nodes"
        ),
    });
    let inputs: Vec<(String, Array)> = vec![
        ("t".into(), vector(times)),
        ("alpha0".into(), vector(alpha0)),
        ("t_traj".into(), vector(fc.t_traj.to_vec())),
        ("kappa_series".into(), vector(model.kappa.to_f64())),
        ("psi_series".into(), vector(model.psi.to_f64())),
        (
            "constant".into(),
            super::scalar(model.teacher_norm.0.to_f64()),
        ),
    ];
    let parameters = serde_json::json!({
        "student": fc.student,
        "teacher": fc.teacher,
        "d": fc.d,
        "loss_scale": fc.scale.name(),
        "scale": scale,
        "noise_variance": 0.0,
        "initial_law": "w uniform on S^{d-1}: alpha = <w, theta> has density (1 - alpha^2)^((d-3)/2) / Z on [-1, 1]",
        "formulas": "kappa(s) = sum_k kappa_series[k] s^k, psi likewise; beta = sqrt(1 - alpha^2); z independent of the law with density prop. to (1 - z^2)^((d-4)/2), E z^(2j) = prod_{i<j} (2i+1)/(d-1+2i); \
    A(alpha) = E[kappa'(alpha alpha' + beta beta' z) alpha'], B(alpha) = E[kappa'(alpha alpha' + beta beta' z) beta' z] (alpha' from the law at time t); \
    g = 2*scale*((psi'(alpha) - A) beta + B alpha); d alpha/dt = beta g; \
    loss = scale*(E kappa(alpha alpha' + beta beta' z) - 2 E psi(alpha) + constant); test particles follow the same velocity field without entering the law",
        "accuracy_demand": {"eps_alpha": EPS_ALPHA, "eps_quadrature": EPS_QUAD},
        "oracle": {
            "layout": {"panels": fc.panels, "order_fine": fc.order_fine, "order_coarse": fc.order_coarse, "grading": GRADING},
            "digits_fine": DIGITS_FINE,
            "digits_coarse": DIGITS_COARSE,
            "step_tolerance_fine": STEP_TOL_FINE,
            "step_tolerance_coarse": STEP_TOL_COARSE,
        },
    });
    Ok(Case {
        name: fc.name.into(),
        description: format!(
            "mean-field flow, student {}, teacher {}, d = {}, {} loss scale, t = 0..{} step {}",
            fc.student,
            fc.teacher,
            fc.d,
            if scale == 1.0 { "full" } else { "half" },
            fc.t_end,
            fc.dt_out
        ),
        parameters,
        inputs,
        quantities,
    })
}
