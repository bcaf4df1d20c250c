//! The `--oracle` part of the concordance report: the MPFR closed form at initialisation and
//! the tracer that follows the same particle along the flow in arbitrary precision.
//!
//! ## Contract (JSON `per_d[i].oracle` of `mforacle concordance --oracle`)
//! - `r1_at_init`, `r2_at_init`, `lambda_e`, `lambda_perp`, `speed` (D-digit strings): the MPFR
//!   interaction-free closed form (`symmetric::symmetric_hessian_rug`) of the particle "at
//!   initialisation" (exact at t = 0 also with interaction: the law is uniform, A = cα, B = cβ);
//!   `f64_relative_difference`: max relative difference of the f64 r1/r2_at_init from them.
//! - `flow` (with interaction only; absent with `--no-interaction`): the same particle along the
//!   flow in arbitrary precision. It is a zero-weight tracer node of the MPFR oracle
//!   (`meanfield::oracle::run_with`; a node of weight 0 moves with the law's field exactly and
//!   changes nothing, also in the half-node mode), on the layout `--oracle-panels` × `--oracle-order`
//!   (grading 3), at `precision_bits` = ⌈D·log2 10⌉ + 32, per-step `tolerance` (loss units;
//!   default 10^{−min(D,17)−3}), output times t = i·`dt_out`, `dt_out` = T/`--oracle-outputs`.
//!   At each time λ_e = βg', λ_⊥ = −αg/β, ‖v‖ = |g| with g, g' exact from the oracle's law
//!   (`Field::velocity_and_derivative`, `symmetric::with_interaction_rug`), R1 = ‖H‖/‖v‖,
//!   R2 = |α|R1. Per row (`rows[j]`): `t`; `alpha`, `r1`, `r2`, `lambda_e`, `lambda_perp`, `speed`
//!   as D-digit strings; `f64`: the same six from the f64 flow the command uses (`--panels`,
//!   tolerance 1e-10, the particle as a test particle, H from `ReducedLaw` and
//!   `symmetric::with_interaction`); `f64_relative_difference` = max over the six of
//!   |f64 − oracle|/|oracle|, `f64_worst_quantity` its argmax, `f64_relative_difference_eigenvalues`
//!   the max over λ_e, λ_⊥ only; the oracle's own error estimates as relative changes (max over
//!   the six) under its check reruns: `err_time` (every step halved), `err_rounding` (64 more
//!   bits), `err_nodes` (twice the panels), `relative_error_estimate` their sum; the f64 side's
//!   `f64_relative_error_estimate` (change against a flow with 2× panels and tolerance/100);
//!   `loss_digits`, the oracle's digits on the loss at t. Summary: `f64_relative_difference_max`,
//!   `f64_relative_difference_eigenvalues_max`, `relative_error_estimate_max`,
//!   `f64_relative_error_estimate_max`, `seconds`. Each side is within ~2× its estimate of the
//!   exact value, so |f64 − oracle| ≲ 2(relative_error_estimate + f64_relative_error_estimate)
//!   is the expected agreement (test `oracle_along_the_flow_with_interaction`).
//! - Limits: a relative difference needs a nonzero oracle value (the command fails with one line
//!   if λ or ‖v‖ is exactly 0 at an output time). Both flows carry (α, β), so ‖v‖, R1, R2 of a
//!   particle converged to θ keep their relative accuracy (proofs-notes/meanfield-reduction.md
//!   §9). The default coarse layout (16 panels) has
//!   node errors of 1e-7 … 1e-3 for h_4, d = 32 after the escape (measured, `err_nodes`): it is a
//!   check of the formulas and of the f64 path, not a more accurate flow; raise
//!   `--oracle-panels` for accuracy (cost linear in the panels; about 22 s for h_4, d = 32,
//!   T = 16 at the defaults on 2 shared cores).

use super::{F64Values, OracleFlow, OracleFlowRow, OracleInit, OracleLayout};
use crate::conventions::{usage, BoundKind, Error};
use crate::hessian::{self, symmetric::symmetric_hessian_rug, ConcordanceSummary, PowerSeries};
use crate::meanfield::flow::{Layout, Tolerance};
use crate::meanfield::Model;
use rug::Float;
use std::time::Instant;

pub fn oracle_init(model: &Model, digits: u32, s: &ConcordanceSummary) -> OracleInit {
    let prec = crate::coeffs::digits_to_bits(digits) + 32;
    let alpha = Float::with_val(prec, s.alpha0_median);
    let scale = Float::with_val(prec, model.scale());
    let [le, lp, sp] = symmetric_hessian_rug(&model.psi.coefficients, &scale, &alpha, prec);
    let norm = if Float::with_val(prec, le.abs_ref()) > Float::with_val(prec, lp.abs_ref()) {
        Float::with_val(prec, le.abs_ref())
    } else {
        Float::with_val(prec, lp.abs_ref())
    };
    let r1 = Float::with_val(prec, &norm / &sp);
    let r2 = Float::with_val(prec, &r1 * Float::with_val(prec, alpha.abs_ref()));
    let rel = |x: f64, y: &Float| ((Float::with_val(prec, x) - y) / y).to_f64().abs();
    let dec = |x: &Float| crate::output::decimal(x, digits);
    OracleInit {
        digits,
        r1_at_init: dec(&r1),
        r2_at_init: dec(&r2),
        lambda_e: dec(&le),
        lambda_perp: dec(&lp),
        speed: dec(&sp),
        f64_relative_difference: rel(s.r1_at_init, &r1).max(rel(s.r2_at_init, &r2)),
        flow: None,
    }
}

/// The six reported quantities of the test particle, in the order α, R1, R2, λ_e, λ_⊥, ‖v‖.
pub const QUANTITIES: [&str; 6] = ["alpha", "r1", "r2", "lambda_e", "lambda_perp", "speed"];

/// What the oracle flow needs besides the models.
pub struct OracleFlowSetup {
    pub panels: usize,
    pub order: usize,
    pub outputs: usize,
    pub tolerance: Option<f64>,
    pub f64_panels: usize,
    pub f64_tolerance: f64,
}

/// `--oracle` with interaction: the particle at α_0 = `alpha0` (the median one of `oracle_init`)
/// followed in MPFR as a zero-weight tracer node of the oracle (`meanfield::oracle::run_with`),
/// with λ_e, λ_⊥, ‖v‖ from the exact g, g' of the oracle's law
/// (`Field::velocity_and_derivative`, `symmetric::with_interaction_rug`) at every output time of
/// every pass, against the f64 flow's test particle (`meanfield::flow::Flow`, `ReducedLaw`,
/// `symmetric::with_interaction`) at the same times.
pub fn oracle_flow(
    oracle_model: &Model,
    model: &Model,
    digits: u32,
    t_end: f64,
    alpha0: f64,
    su: &OracleFlowSetup,
) -> Result<OracleFlow, Error> {
    use crate::hessian::symmetric::{ratios_rug, with_interaction_rug};
    use crate::meanfield::flow::Flow;
    use crate::meanfield::oracle::{self, OracleOptions, PassKind};
    let start = Instant::now();
    let n = su.outputs;
    let dt_out = t_end / n as f64;
    let opts = OracleOptions {
        layout: oracle::Layout {
            panels: su.panels,
            order: su.order,
            grading: 3,
        },
        digits,
        t_end,
        dt_out,
        tolerance: su.tolerance,
        check_nodes: true,
        check_steps: true,
        check_precision: true,
        ..OracleOptions::default()
    };
    let prec = oracle::working_precision(digits);
    let tracer = [Float::with_val(prec, alpha0)];
    // values[pass][time] = [α, R1, R2, λ_e, λ_⊥, ‖v‖]
    let pass_index = |k: PassKind| match k {
        PassKind::Main => 0,
        PassKind::HalvedSteps => 1,
        PassKind::Precision => 2,
        PassKind::RefinedNodes => 3,
    };
    let mut values: Vec<Vec<[Float; 6]>> = vec![Vec::new(); 4];
    let curve = oracle::run_with(oracle_model, &opts, &tracer, &mut |o| {
        let p = o.field.prec();
        let (al, be) = (&o.tracers[0], &o.tracers[1]);
        let (g, gp) = o.field.velocity_and_derivative(o.moments, al, be);
        let h = with_interaction_rug(al, be, &g, &gp, p);
        let [r1, r2] = ratios_rug(al, &h, p);
        let [le, lp, sp] = h;
        values[pass_index(o.kind)].push([al.clone(), r1, r2, le, lp, sp]);
    })
    .map_err(|e| usage(format!("--oracle: {e}")))?;
    // f64: the command's flow (same panels and tolerance as the family) with the same particle,
    // and a reference flow (2× panels, tolerance/100) for its error estimate.
    let f64_run = |panels: usize, tol: f64| -> Result<Vec<[f64; 6]>, Error> {
        let layout = Layout {
            panels,
            ..Layout::default()
        };
        let fail = |e: crate::meanfield::flow::FlowError| Error::Failure(format!("--oracle: {e}"));
        let mut flow = Flow::new(model, layout, Tolerance::new(tol)).map_err(fail)?;
        flow.add_test_particles(&[alpha0]).map_err(fail)?;
        let psi = PowerSeries::new(model.psi.to_f64());
        let kappa = model.kappa.to_f64();
        let weights = flow.nodes().weights.clone();
        let mut out = Vec::with_capacity(n + 1);
        for i in 0..=n {
            flow.advance_to(i as f64 * dt_out).map_err(fail)?;
            let law = hessian::ReducedLaw::from_pairs(
                &kappa,
                model.d,
                flow.alpha(),
                flow.beta(),
                &weights,
            );
            let (a, b) = (flow.test_alpha()[0], flow.test_beta()[0]);
            let h = law.hessian_at(&psi, model.scale(), a, b);
            out.push([a, h.r1(), h.r2(), h.lambda_e, h.lambda_perp, h.speed]);
        }
        Ok(out)
    };
    let f = f64_run(su.f64_panels, su.f64_tolerance)?;
    let fref = f64_run(2 * su.f64_panels, su.f64_tolerance / 100.0)?;
    let bad = |what: String| Error::Failure(format!("--oracle: {what}"));
    // |x − y|/|y| for the oracle value y ≠ 0.
    let rel = |x: &Float, y: &Float, what: &str, i: usize| -> Result<f64, Error> {
        if y.is_zero() || !y.is_finite() {
            return Err(bad(format!(
                "the oracle's {what} at t = {} is {y}: no relative difference",
                i as f64 * dt_out
            )));
        }
        let big = prec + 64;
        Ok((Float::with_val(big, x - y) / y).to_f64().abs())
    };
    let dec = |x: &Float| crate::output::decimal(x, digits);
    let mut rows = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let main = &values[0][i];
        let mut diff = 0.0f64;
        let mut worst = QUANTITIES[0];
        let mut diff_eig = 0.0f64;
        let mut errs = [0.0f64; 3];
        let mut ferr = 0.0f64;
        for q in 0..6 {
            let y = &main[q];
            let r = rel(&Float::with_val(prec, f[i][q]), y, QUANTITIES[q], i)?;
            if r > diff {
                diff = r;
                worst = QUANTITIES[q];
            }
            if q == 3 || q == 4 {
                diff_eig = diff_eig.max(r);
            }
            for (e, pass) in errs.iter_mut().zip(1..4) {
                *e = e.max(rel(&values[pass][i][q], y, QUANTITIES[q], i)?);
            }
            if f[i][q] != 0.0 {
                ferr = ferr.max(((f[i][q] - fref[i][q]) / f[i][q]).abs());
            }
        }
        if !diff.is_finite() || !ferr.is_finite() {
            return Err(bad(format!(
                "non-finite f64 value at t = {} (the particle reached a pole or v = 0)",
                i as f64 * dt_out
            )));
        }
        rows.push(OracleFlowRow {
            t: i as f64 * dt_out,
            alpha: dec(&main[0]),
            r1: dec(&main[1]),
            r2: dec(&main[2]),
            lambda_e: dec(&main[3]),
            lambda_perp: dec(&main[4]),
            speed: dec(&main[5]),
            f64: F64Values {
                alpha: f[i][0],
                r1: f[i][1],
                r2: f[i][2],
                lambda_e: f[i][3],
                lambda_perp: f[i][4],
                speed: f[i][5],
            },
            f64_relative_difference: diff,
            f64_worst_quantity: worst,
            f64_relative_difference_eigenvalues: diff_eig,
            err_time: errs[0],
            err_rounding: errs[1],
            err_nodes: errs[2],
            relative_error_estimate: errs.iter().sum(),
            f64_relative_error_estimate: ferr,
            loss_digits: curve.rows[i].digits.min(1e6),
        });
    }
    let max = |g: &dyn Fn(&OracleFlowRow) -> f64| rows.iter().map(g).fold(0.0, f64::max);
    Ok(OracleFlow {
        alpha0: dec(&tracer[0]),
        layout: OracleLayout {
            panels: su.panels,
            order: su.order,
            grading: 3,
        },
        precision_bits: curve.precision,
        tolerance: curve.tolerance,
        dt_out,
        f64_panels: su.f64_panels,
        f64_tolerance: su.f64_tolerance,
        f64_relative_difference_max: max(&|r| r.f64_relative_difference),
        f64_relative_difference_eigenvalues_max: max(&|r| r.f64_relative_difference_eigenvalues),
        relative_error_estimate_max: max(&|r| r.relative_error_estimate),
        f64_relative_error_estimate_max: max(&|r| r.f64_relative_error_estimate),
        rows,
        bound_kind: BoundKind::Estimate,
        seconds: start.elapsed().as_secs_f64(),
    })
}
