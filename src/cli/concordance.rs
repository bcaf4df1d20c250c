//! `mforacle concordance --student SPEC [--teacher SPEC] --d LIST [--t-end T|auto]
//!  [--oracle --digits D [--oracle-panels 16] [--oracle-order 16] [--oracle-outputs 16]
//!  [--oracle-tolerance TOL]] [--certify --alpha-min A --alpha-max B] [--format json|csv]
//!  [--out FILE]`
//!
//! The self-concordance constants of docs/conventions.md §5 along the reduced mean-field flow
//! (`crate::hessian`), for every d of the list, with power-law fits in d. Definitions (also in
//! proofs-notes/local-hessian.md §6):
//! - particles: the family ±Q((i + ½)/M), i < M, of quantiles of |α_0| under the uniform law on
//!   S^{d−1} (`--particles M`), followed as test particles of the flow with interaction (default;
//!   `--no-interaction` uses the interaction-free flow dα/dt = 2·scale·β²ψ'(α));
//! - "at initialisation": the particle at α_0 = +median|α_0| (~0.674/√d), t = 0;
//! - r1_sup, r2_sup: suprema over the family and over the times with |α(t)| ≤ `--alpha-cut`
//!   (R2 ~ 1/β is unbounded as particles converge to ±θ); beta_r2_sup: sup of β·R2 over all times;
//! - velocity_sign_changes: the number of family particles whose signed velocity coefficient g
//!   (v = g·e) changes sign between two consecutive samples with |α| ≤ `--alpha-cut`. Then v
//!   passed through 0 while H did not, so R1, R2 and β·R2 are unbounded on that trajectory:
//!   `sups_bounded` is false, `first_sign_change_{t,alpha0,alpha}` says where, the three sampled
//!   suprema are only grid-dependent lower bounds, and their power-law fits are omitted (listed
//!   in `fits.omitted` with the reason). This happens with interaction for h_4 (the interaction
//!   term cancels 2ψ'(α)β at small α once the law has moved; proofs-notes/local-hessian.md §7);
//!   never for the interaction-free flow;
//! - integral_h: ∫_0^T ‖H_t(w̄_i)‖dt per particle (median and quantiles over the family), the
//!   growth factor exp of it, and the Grönwall factor exp(Lip·T) with Lip = sup over the sphere
//!   of ‖H‖ of the interaction-free velocity; both also as log10 (the factors overflow f64 for
//!   long horizons and are then omitted, never written as inf);
//! - t-end auto: max(ln d, 0.5·d^{k/2−1}) with k the pair's information exponent (docs/conventions.md §7).
//!
//! ## `--oracle` (JSON `per_d[i].oracle`)
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

use super::{emit, CliError};
use crate::activation::Spec;
use crate::hessian::{
    self, certify_r2, symmetric::symmetric_hessian_rug, CertifyError, ConcordanceSummary,
    PowerSeries, Weight,
};
use crate::meanfield::flow::{Layout, Tolerance};
use crate::meanfield::Model;
use crate::output::finite;
use crate::population::LossScale;
use rug::Float;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    student: String,
    /// Default: the student.
    #[arg(long)]
    teacher: Option<String>,
    /// Dimensions, comma separated (each ≥ 3).
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        allow_negative_numbers = true
    )]
    d: Vec<i64>,
    /// Horizon T, or `auto` = max(ln d, 0.5·d^{k/2−1}).
    #[arg(long, default_value = "auto", allow_hyphen_values = true)]
    t_end: String,
    /// Also evaluate the constants at initialisation with the MPFR closed form.
    #[arg(long)]
    oracle: bool,
    /// Significant digits of the coefficient tables and of the oracle.
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    digits: i64,
    /// Prove an upper bound on sup R2 over [alpha-min, alpha-max] (interaction-free velocity).
    #[arg(long)]
    certify: bool,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    alpha_min: f64,
    /// R2 ~ 1/β is unbounded as α → 1, so the range stops at alpha-max < 1.
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    alpha_max: f64,
    /// Relative gap between the certified upper bound and the best proved lower value.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    gap: f64,
    /// R1, R2 suprema only over times with |α(t)| ≤ alpha-cut.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    alpha_cut: f64,
    /// M: the family has 2M test particles.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    particles: i64,
    /// Use the interaction-free flow (no A, B terms).
    #[arg(long)]
    no_interaction: bool,
    /// Series degree of non-polynomial kernels.
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    degree: i64,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    /// Panels per side of the flow's node layout (with interaction; 16 nodes each). For h_4 at
    /// d = 256 the median integral of ||H|| moves by 4e-5 relative from 50 panels/dt 0.02 to
    /// 200 panels/dt 0.01.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    panels: i64,
    /// Time-grid step for sampling H along the flow with interaction.
    #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
    dt: f64,
    /// `--oracle` with interaction: panels per side of the MPFR oracle's node layout (order
    /// `--oracle-order`, grading 3); its node check reruns with twice as many.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_panels: i64,
    /// `--oracle` with interaction: Gauss–Legendre nodes per panel of the oracle's layout.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_order: i64,
    /// `--oracle` with interaction: number of output intervals on [0, t-end] (the oracle's
    /// output times are t-end·i/n).
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_outputs: i64,
    /// `--oracle` with interaction: the oracle's per-step tolerance in loss units (default
    /// 10^{−min(digits, 17)−3}: the coarse layout's node error is far larger; 10^{−digits−3}
    /// makes every printed digit one of the node system).
    #[arg(long, allow_negative_numbers = true)]
    oracle_tolerance: Option<f64>,
    #[arg(long, value_enum, default_value_t = OutFormat::Json)]
    format: OutFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

use crate::conventions::usage;

fn finite_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => finite(v, s),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
struct PerD {
    d: usize,
    #[serde(serialize_with = "finite")]
    t_end: f64,
    #[serde(serialize_with = "finite")]
    alpha0_median: f64,
    #[serde(serialize_with = "finite")]
    r1_at_init: f64,
    #[serde(serialize_with = "finite")]
    r2_at_init: f64,
    #[serde(serialize_with = "finite")]
    r1_sup: f64,
    #[serde(serialize_with = "finite")]
    r1_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    r1_sup_t: f64,
    #[serde(serialize_with = "finite")]
    r2_sup: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_t: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_alpha: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_sup: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_sup_alpha: f64,
    velocity_sign_changes: usize,
    sups_bounded: bool,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    first_sign_change_t: Option<f64>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    first_sign_change_alpha0: Option<f64>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    first_sign_change_alpha: Option<f64>,
    #[serde(serialize_with = "finite")]
    integral_h_median: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q10: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q25: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q75: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q90: f64,
    #[serde(serialize_with = "finite")]
    integral_h_max: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    growth_factor_median: Option<f64>,
    #[serde(serialize_with = "finite")]
    growth_factor_median_log10: f64,
    #[serde(serialize_with = "finite")]
    integral_lambda_max_median: f64,
    #[serde(serialize_with = "finite")]
    ln_gap_e_median: f64,
    #[serde(serialize_with = "finite")]
    ln_gap_perp_median: f64,
    #[serde(serialize_with = "finite")]
    lipschitz: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    gronwall_factor: Option<f64>,
    #[serde(serialize_with = "finite")]
    gronwall_factor_log10: f64,
    particles: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    oracle: Option<OracleInit>,
    #[serde(serialize_with = "finite")]
    seconds: f64,
}

#[derive(Serialize)]
struct OracleInit {
    digits: u32,
    r1_at_init: String,
    r2_at_init: String,
    lambda_e: String,
    lambda_perp: String,
    speed: String,
    /// max relative difference of the f64 r1_at_init, r2_at_init from the oracle's.
    #[serde(serialize_with = "finite")]
    f64_relative_difference: f64,
    /// With interaction: the same particle along the flow (see the module doc).
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<OracleFlow>,
}

/// The oracle's layout.
#[derive(Serialize)]
struct OracleLayout {
    panels: usize,
    order: usize,
    grading: u32,
}

/// f64 values of one row.
#[derive(Serialize)]
struct F64Values {
    #[serde(serialize_with = "finite")]
    alpha: f64,
    #[serde(serialize_with = "finite")]
    r1: f64,
    #[serde(serialize_with = "finite")]
    r2: f64,
    #[serde(serialize_with = "finite")]
    lambda_e: f64,
    #[serde(serialize_with = "finite")]
    lambda_perp: f64,
    #[serde(serialize_with = "finite")]
    speed: f64,
}

#[derive(Serialize)]
struct OracleFlowRow {
    #[serde(serialize_with = "finite")]
    t: f64,
    alpha: String,
    r1: String,
    r2: String,
    lambda_e: String,
    lambda_perp: String,
    speed: String,
    f64: F64Values,
    #[serde(serialize_with = "finite")]
    f64_relative_difference: f64,
    /// The quantity attaining `f64_relative_difference`.
    f64_worst_quantity: &'static str,
    /// max over λ_e, λ_⊥ only.
    #[serde(serialize_with = "finite")]
    f64_relative_difference_eigenvalues: f64,
    #[serde(serialize_with = "finite")]
    err_time: f64,
    #[serde(serialize_with = "finite")]
    err_rounding: f64,
    #[serde(serialize_with = "finite")]
    err_nodes: f64,
    #[serde(serialize_with = "finite")]
    relative_error_estimate: f64,
    #[serde(serialize_with = "finite")]
    f64_relative_error_estimate: f64,
    #[serde(serialize_with = "finite")]
    loss_digits: f64,
}

#[derive(Serialize)]
struct OracleFlow {
    alpha0: String,
    layout: OracleLayout,
    precision_bits: u32,
    #[serde(serialize_with = "finite")]
    tolerance: f64,
    #[serde(serialize_with = "finite")]
    dt_out: f64,
    f64_panels: usize,
    #[serde(serialize_with = "finite")]
    f64_tolerance: f64,
    rows: Vec<OracleFlowRow>,
    #[serde(serialize_with = "finite")]
    f64_relative_difference_max: f64,
    #[serde(serialize_with = "finite")]
    f64_relative_difference_eigenvalues_max: f64,
    #[serde(serialize_with = "finite")]
    relative_error_estimate_max: f64,
    #[serde(serialize_with = "finite")]
    f64_relative_error_estimate_max: f64,
    #[serde(serialize_with = "finite")]
    seconds: f64,
}

#[derive(Serialize)]
struct CertOut {
    #[serde(serialize_with = "finite")]
    alpha_min: f64,
    #[serde(serialize_with = "finite")]
    alpha_max: f64,
    #[serde(serialize_with = "finite")]
    upper: f64,
    #[serde(serialize_with = "finite")]
    lower: f64,
    #[serde(serialize_with = "finite")]
    argmax: f64,
    #[serde(serialize_with = "finite")]
    gap: f64,
    boxes: usize,
    order_of_psi_prime_at_zero: usize,
    #[serde(serialize_with = "finite")]
    beta_r2_upper_to_one: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_lower_to_one: f64,
    statement: String,
}

#[derive(Serialize)]
struct Report {
    student: String,
    teacher: String,
    loss_scale: &'static str,
    interaction: bool,
    information_exponent: usize,
    #[serde(serialize_with = "finite")]
    alpha_cut: f64,
    per_d: Vec<PerD>,
    fits: serde_json::Map<String, serde_json::Value>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    certified_r2_bound: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<CertOut>,
}

use crate::conventions::default_horizon;

fn parse_spec(s: &str, what: &str) -> Result<Spec, CliError> {
    Spec::parse(s).map_err(|e| usage(format!("--{what}: {e}")))
}

fn information_exponent(s: &Spec, t: &Spec, digits: u32) -> Result<usize, CliError> {
    let deg = 24;
    let a = crate::kernel::Side::new(s, deg, digits).map_err(|e| usage(e.to_string()))?;
    let b = crate::kernel::Side::new(t, deg, digits).map_err(|e| usage(e.to_string()))?;
    match crate::kernel::pair_information_exponent(&a.table, &b.table) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(usage(format!(
            "the pair has no information exponent up to degree {deg} (psi' = 0 to that degree)"
        ))),
        Err(k) => Err(usage(format!(
            "the information exponent is unresolved at k = {k} (raise --digits)"
        ))),
    }
}

fn log10_factor(ln: f64) -> (Option<f64>, f64) {
    let v = ln.exp();
    ((v.is_finite()).then_some(v), ln / std::f64::consts::LN_10)
}

fn oracle_init(model: &Model, digits: u32, s: &ConcordanceSummary) -> OracleInit {
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
const QUANTITIES: [&str; 6] = ["alpha", "r1", "r2", "lambda_e", "lambda_perp", "speed"];

/// What the oracle flow needs besides the models.
struct OracleFlowSetup {
    panels: usize,
    order: usize,
    outputs: usize,
    tolerance: Option<f64>,
    f64_panels: usize,
    f64_tolerance: f64,
}

/// `--oracle` with interaction: the particle at α_0 = `alpha0` (the median one of `oracle_init`)
/// followed in MPFR as a zero-weight tracer node of the oracle (`meanfield::oracle::run_with`),
/// with λ_e, λ_⊥, ‖v‖ from the exact g, g' of the oracle's law
/// (`Field::velocity_and_derivative`, `symmetric::with_interaction_rug`) at every output time of
/// every pass, against the f64 flow's test particle (`meanfield::flow::Flow`, `ReducedLaw`,
/// `symmetric::with_interaction`) at the same times.
fn oracle_flow(
    oracle_model: &Model,
    model: &Model,
    digits: u32,
    t_end: f64,
    alpha0: f64,
    su: &OracleFlowSetup,
) -> Result<OracleFlow, CliError> {
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
    let f64_run = |panels: usize, tol: f64| -> Result<Vec<[f64; 6]>, CliError> {
        let layout = Layout {
            panels,
            ..Layout::default()
        };
        let fail =
            |e: crate::meanfield::flow::FlowError| CliError::Failure(format!("--oracle: {e}"));
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
    let bad = |what: String| CliError::Failure(format!("--oracle: {what}"));
    // |x − y|/|y| for the oracle value y ≠ 0.
    let rel = |x: &Float, y: &Float, what: &str, i: usize| -> Result<f64, CliError> {
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
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn certify(
    student: &Spec,
    teacher: &Spec,
    model: &Model,
    a: &Args,
    digits: u32,
) -> Result<CertOut, CliError> {
    if !(a.gap > 0.0 && a.gap < 1.0) {
        return Err(usage(format!("--gap must be in (0, 1), got {}", a.gap)));
    }
    let prec = 128.max(crate::coeffs::digits_to_bits(digits.min(60)));
    let refuse = |e: CertifyError| -> CliError {
        match e {
            CertifyError::NoSecondDerivative(why) => {
                let mut kinks = Vec::new();
                for (name, s) in [("student", student), ("teacher", teacher)] {
                    for k in s.kinks() {
                        kinks.push(format!(
                            "{name} {} has a kink at z = {:.6}",
                            s.source,
                            k.location(64).to_f64()
                        ));
                    }
                }
                let reason = if kinks.is_empty() {
                    why
                } else {
                    format!(
                        "{}: its second derivative is a Dirac mass there, so {why} \
                         (the sum of k^2 c_k c*_k diverges); --certify needs psi'' on the range",
                        kinks.join(", ")
                    )
                };
                usage(format!("--certify refused: {reason}"))
            }
            CertifyError::Budget(_) => CliError::Failure(format!("--certify: {e}")),
            other => usage(format!("--certify: {other}")),
        }
    };
    let c = certify_r2(
        &model.psi,
        a.alpha_min,
        a.alpha_max,
        a.gap,
        Weight::R2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let cb = certify_r2(
        &model.psi,
        a.alpha_min,
        1.0,
        a.gap,
        Weight::BetaR2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let statement = format!(
        "for every alpha in [{}, {}], R2(alpha) = |alpha|·||H||/||v|| of the interaction-free \
         velocity of this pair is <= {:e} (and some alpha has R2 >= {:e}); for every alpha in \
         [{}, 1], beta·R2 <= {:e}; R2 is unbounded on [alpha_min, 1) (beta·R2 -> 1 as alpha -> 1)",
        a.alpha_min, a.alpha_max, c.upper, c.lower, a.alpha_min, cb.upper
    );
    Ok(CertOut {
        alpha_min: a.alpha_min,
        alpha_max: a.alpha_max,
        upper: c.upper,
        lower: c.lower,
        argmax: c.argmax,
        gap: a.gap,
        boxes: c.boxes + cb.boxes,
        order_of_psi_prime_at_zero: c.order_at_zero,
        beta_r2_upper_to_one: cb.upper,
        beta_r2_lower_to_one: cb.lower,
        statement,
    })
}

pub fn run(a: Args) -> Result<(), CliError> {
    let student = parse_spec(&a.student, "student")?;
    let teacher = match &a.teacher {
        Some(t) => parse_spec(t, "teacher")?,
        None => student.clone(),
    };
    if a.d.is_empty() || a.d.iter().any(|&d| !(3..=1_000_000).contains(&d)) {
        return Err(usage(format!(
            "--d: every dimension must be an integer in 3..=1000000 (got {:?})",
            a.d
        )));
    }
    let ds: Vec<usize> = a.d.iter().map(|&d| d as usize).collect();
    if !(8..=1000).contains(&a.digits) {
        return Err(usage(format!(
            "--digits must be in 8..=1000, got {}",
            a.digits
        )));
    }
    let digits = a.digits as u32;
    if !(2..=400).contains(&a.degree) {
        return Err(usage(format!(
            "--degree must be in 2..=400, got {}",
            a.degree
        )));
    }
    if !(1..=100_000).contains(&a.particles) {
        return Err(usage(format!(
            "--particles must be in 1..=100000, got {}",
            a.particles
        )));
    }
    if !(a.alpha_cut > 0.0 && a.alpha_cut <= 1.0) {
        return Err(usage(format!(
            "--alpha-cut must be in (0, 1], got {}",
            a.alpha_cut
        )));
    }
    if !(a.dt > 0.0 && a.dt <= 1.0) {
        return Err(usage(format!("--dt must be in (0, 1], got {}", a.dt)));
    }
    if !(1..=100_000).contains(&a.panels) {
        return Err(usage(format!(
            "--panels must be in 1..=100000, got {}",
            a.panels
        )));
    }
    for (name, v, hi) in [
        ("--oracle-panels", a.oracle_panels, 10_000),
        ("--oracle-order", a.oracle_order, 64),
        ("--oracle-outputs", a.oracle_outputs, 10_000),
    ] {
        if !(1..=hi).contains(&v) {
            return Err(usage(format!("{name} must be in 1..={hi}, got {v}")));
        }
    }
    if let Some(t) = a.oracle_tolerance {
        if !(t > 0.0 && t < 1.0) {
            return Err(usage(format!(
                "--oracle-tolerance must be in (0, 1), got {t}"
            )));
        }
    }
    let t_fixed = if a.t_end == "auto" {
        None
    } else {
        let t: f64 = a.t_end.parse().map_err(|_| {
            usage(format!(
                "--t-end must be a number or `auto`, got {:?}",
                a.t_end
            ))
        })?;
        if !(t > 0.0 && t.is_finite() && t <= 1e6) {
            return Err(usage(format!("--t-end must be in (0, 1e6], got {t}")));
        }
        Some(t)
    };
    let scale = a.loss_scale;
    let k = information_exponent(&student, &teacher, digits)?;
    let mk = |d: usize| {
        Model::new(&student, &teacher, d, a.degree as usize, digits, scale, 0.0)
            .map_err(|e| usage(e.to_string()))
    };
    let certificate = if a.certify {
        Some(certify(&student, &teacher, &mk(ds[0])?, &a, digits)?)
    } else {
        None
    };
    let mut per_d = Vec::new();
    for &d in &ds {
        let start = Instant::now();
        let model = mk(d)?;
        let t_end = t_fixed.unwrap_or_else(|| default_horizon(d, k));
        let psi = PowerSeries::new(model.psi.to_f64());
        let m = a.particles as usize;
        let s = if a.no_interaction {
            hessian::concordance_interaction_free(&psi, model.scale(), d, t_end, m, a.alpha_cut)
        } else {
            let layout = Layout {
                panels: a.panels as usize,
                ..Layout::default()
            };
            hessian::concordance_flow(
                &model,
                layout,
                Tolerance::new(1e-10),
                t_end,
                m,
                a.alpha_cut,
                a.dt,
            )
            .map_err(|e| CliError::Failure(format!("d = {d}: {e}")))?
        };
        let mut oracle = a.oracle.then(|| oracle_init(&model, digits, &s));
        if let (Some(o), false) = (oracle.as_mut(), a.no_interaction) {
            // The oracle's tables carry 10 guard digits (as `mforacle meanfield --oracle`).
            let table_digits = (digits + 10).min(crate::coeffs::MAX_DIGITS);
            let om = Model::new(
                &student,
                &teacher,
                d,
                a.degree as usize,
                table_digits,
                scale,
                0.0,
            )
            .map_err(|e| usage(e.to_string()))?;
            let su = OracleFlowSetup {
                panels: a.oracle_panels as usize,
                order: a.oracle_order as usize,
                outputs: a.oracle_outputs as usize,
                tolerance: Some(
                    a.oracle_tolerance
                        .unwrap_or_else(|| 10f64.powi(-(digits.min(17) as i32) - 3)),
                ),
                f64_panels: a.panels as usize,
                f64_tolerance: 1e-10,
            };
            o.flow = Some(oracle_flow(
                &om,
                &model,
                digits,
                t_end,
                s.alpha0_median,
                &su,
            )?);
        }
        let q = s.integral_h_quantiles;
        let (gf, gf10) = log10_factor(q[2]);
        let (gw, gw10) = log10_factor(s.lipschitz * t_end);
        if !s.r1_sup.0.value.is_finite() || !s.r2_sup.0.value.is_finite() {
            return Err(CliError::Failure(format!(
                "d = {d}: no particle has |alpha| <= alpha-cut = {} at any time, or R1 is \
                 infinite (psi' = 0 at a particle)",
                a.alpha_cut
            )));
        }
        per_d.push(PerD {
            d,
            t_end,
            alpha0_median: s.alpha0_median,
            r1_at_init: s.r1_at_init,
            r2_at_init: s.r2_at_init,
            r1_sup: s.r1_sup.0.value,
            r1_sup_alpha0: s.r1_sup.1,
            r1_sup_t: s.r1_sup.0.t,
            r2_sup: s.r2_sup.0.value,
            r2_sup_alpha0: s.r2_sup.1,
            r2_sup_t: s.r2_sup.0.t,
            r2_sup_alpha: s.r2_sup.0.alpha,
            beta_r2_sup: s.beta_r2_sup.0.value,
            beta_r2_sup_alpha: s.beta_r2_sup.0.alpha,
            velocity_sign_changes: s.velocity_sign_changes,
            sups_bounded: s.velocity_sign_changes == 0,
            first_sign_change_t: s.first_sign_change.map(|c| c.0),
            first_sign_change_alpha0: s.first_sign_change.map(|c| c.1),
            first_sign_change_alpha: s.first_sign_change.map(|c| c.2),
            integral_h_median: q[2],
            integral_h_q10: q[0],
            integral_h_q25: q[1],
            integral_h_q75: q[3],
            integral_h_q90: q[4],
            integral_h_max: s.integral_h_max,
            growth_factor_median: gf,
            growth_factor_median_log10: gf10,
            integral_lambda_max_median: s.integral_lambda_max_median,
            ln_gap_e_median: s.ln_gap_e_median,
            ln_gap_perp_median: s.ln_gap_perp_median,
            lipschitz: s.lipschitz,
            gronwall_factor: gw,
            gronwall_factor_log10: gw10,
            particles: s.particles,
            oracle,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let mut fits = serde_json::Map::new();
    if ds.len() >= 2 {
        let x: Vec<f64> = ds.iter().map(|&d| d as f64).collect();
        let cols: [(&str, Vec<f64>); 6] = [
            ("r1_at_init", per_d.iter().map(|p| p.r1_at_init).collect()),
            ("r2_at_init", per_d.iter().map(|p| p.r2_at_init).collect()),
            ("r1_sup", per_d.iter().map(|p| p.r1_sup).collect()),
            ("r2_sup", per_d.iter().map(|p| p.r2_sup).collect()),
            ("beta_r2_sup", per_d.iter().map(|p| p.beta_r2_sup).collect()),
            (
                "integral_h_median",
                per_d.iter().map(|p| p.integral_h_median).collect(),
            ),
        ];
        let unbounded: Vec<usize> = per_d
            .iter()
            .filter(|p| !p.sups_bounded)
            .map(|p| p.d)
            .collect();
        let mut omitted = Vec::new();
        for (name, y) in cols {
            if !unbounded.is_empty() && matches!(name, "r1_sup" | "r2_sup" | "beta_r2_sup") {
                omitted.push(serde_json::Value::from(format!("{name}_exponent")));
                continue;
            }
            if let Some(f) = hessian::fit_power_law(&x, &y) {
                if f.exponent.is_finite() {
                    fits.insert(format!("{name}_exponent"), f.exponent.into());
                }
                if let Some(e) = f.exponent_error.filter(|e| e.is_finite()) {
                    fits.insert(format!("{name}_exponent_error"), e.into());
                }
            }
        }
        if !omitted.is_empty() {
            fits.insert("omitted".into(), omitted.into());
            fits.insert(
                "omitted_reason".into(),
                format!(
                    "the velocity changes sign along the flow at d = {unbounded:?}, so R1, R2 and \
                 beta*R2 are unbounded there and their sampled suprema are not fitted"
                )
                .into(),
            );
        }
    }
    let report = Report {
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        loss_scale: scale.name(),
        interaction: !a.no_interaction,
        information_exponent: k,
        alpha_cut: a.alpha_cut,
        per_d,
        fits,
        certified_r2_bound: certificate.as_ref().map(|c| c.upper),
        certificate,
    };
    let text = match a.format {
        OutFormat::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Failure(e.to_string()))?
                + "\n"
        }
        OutFormat::Csv => {
            let mut s = String::from(
                "d,t_end,alpha0_median,r1_at_init,r2_at_init,r1_sup,r2_sup,beta_r2_sup,\
                 integral_h_median,growth_factor_median_log10,integral_lambda_max_median,\
                 lipschitz,gronwall_factor_log10,sups_bounded,velocity_sign_changes,seconds\n",
            );
            for p in &report.per_d {
                s += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    p.d,
                    p.t_end,
                    p.alpha0_median,
                    p.r1_at_init,
                    p.r2_at_init,
                    p.r1_sup,
                    p.r2_sup,
                    p.beta_r2_sup,
                    p.integral_h_median,
                    p.growth_factor_median_log10,
                    p.integral_lambda_max_median,
                    p.lipschitz,
                    p.gronwall_factor_log10,
                    p.sups_bounded,
                    p.velocity_sign_changes,
                    p.seconds
                );
            }
            s
        }
    };
    emit(&text, a.out.as_deref())
}
