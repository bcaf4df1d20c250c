//! The self-concordance report of `mforacle concordance` and of the `concordance` recipe: the
//! constants of docs/conventions.md §5 along the reduced mean-field flow (`crate::hessian`) per d,
//! their power-law fits in d, and the CSV schema both write. The MPFR tracer of `--oracle` is in
//! [`tracer`], the certified bound of `--certify` in [`certify`].
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
//! Accuracy contract: this module formats and fits; every number in a row is computed by
//! `crate::hessian` (whose contracts state their accuracy: sampled suprema are estimates on the
//! time grid, the integrals are quadratures of the flow's samples) and the fits are least-squares
//! estimates with their standard errors, never bounds.

pub mod certify;
pub mod tracer;

pub use certify::certify;
pub use tracer::{oracle_flow, oracle_init, OracleFlowSetup};

use crate::activation::Spec;
use crate::conventions::{failure, usage, BoundKind, Error};
use crate::hessian::{self, ConcordanceSummary};
use crate::output::finite;
use serde::Serialize;

pub fn finite_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => finite(v, s),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
pub struct PerD {
    pub d: usize,
    #[serde(serialize_with = "finite")]
    pub t_end: f64,
    #[serde(serialize_with = "finite")]
    pub alpha0_median: f64,
    #[serde(serialize_with = "finite")]
    pub r1_at_init: f64,
    #[serde(serialize_with = "finite")]
    pub r2_at_init: f64,
    #[serde(serialize_with = "finite")]
    pub r1_sup: f64,
    #[serde(serialize_with = "finite")]
    pub r1_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    pub r1_sup_t: f64,
    #[serde(serialize_with = "finite")]
    pub r2_sup: f64,
    #[serde(serialize_with = "finite")]
    pub r2_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    pub r2_sup_t: f64,
    #[serde(serialize_with = "finite")]
    pub r2_sup_alpha: f64,
    #[serde(serialize_with = "finite")]
    pub beta_r2_sup: f64,
    #[serde(serialize_with = "finite")]
    pub beta_r2_sup_alpha: f64,
    pub velocity_sign_changes: usize,
    pub sups_bounded: bool,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub first_sign_change_t: Option<f64>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub first_sign_change_alpha0: Option<f64>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub first_sign_change_alpha: Option<f64>,
    #[serde(serialize_with = "finite")]
    pub integral_h_median: f64,
    #[serde(serialize_with = "finite")]
    pub integral_h_q10: f64,
    #[serde(serialize_with = "finite")]
    pub integral_h_q25: f64,
    #[serde(serialize_with = "finite")]
    pub integral_h_q75: f64,
    #[serde(serialize_with = "finite")]
    pub integral_h_q90: f64,
    #[serde(serialize_with = "finite")]
    pub integral_h_max: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub growth_factor_median: Option<f64>,
    #[serde(serialize_with = "finite")]
    pub growth_factor_median_log10: f64,
    #[serde(serialize_with = "finite")]
    pub integral_lambda_max_median: f64,
    #[serde(serialize_with = "finite")]
    pub ln_gap_e_median: f64,
    #[serde(serialize_with = "finite")]
    pub ln_gap_perp_median: f64,
    #[serde(serialize_with = "finite")]
    pub lipschitz: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub gronwall_factor: Option<f64>,
    #[serde(serialize_with = "finite")]
    pub gronwall_factor_log10: f64,
    pub particles: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle: Option<OracleInit>,
    #[serde(serialize_with = "finite")]
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct OracleInit {
    pub digits: u32,
    pub r1_at_init: String,
    pub r2_at_init: String,
    pub lambda_e: String,
    pub lambda_perp: String,
    pub speed: String,
    /// max relative difference of the f64 r1_at_init, r2_at_init from the oracle's.
    #[serde(serialize_with = "finite")]
    pub f64_relative_difference: f64,
    /// With interaction: the same particle along the flow (see the module doc).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<OracleFlow>,
}

/// The oracle's layout.
#[derive(Serialize)]
pub struct OracleLayout {
    pub panels: usize,
    pub order: usize,
    pub grading: u32,
}

/// f64 values of one row.
#[derive(Serialize)]
pub struct F64Values {
    #[serde(serialize_with = "finite")]
    pub alpha: f64,
    #[serde(serialize_with = "finite")]
    pub r1: f64,
    #[serde(serialize_with = "finite")]
    pub r2: f64,
    #[serde(serialize_with = "finite")]
    pub lambda_e: f64,
    #[serde(serialize_with = "finite")]
    pub lambda_perp: f64,
    #[serde(serialize_with = "finite")]
    pub speed: f64,
}

#[derive(Serialize)]
pub struct OracleFlowRow {
    #[serde(serialize_with = "finite")]
    pub t: f64,
    pub alpha: String,
    pub r1: String,
    pub r2: String,
    pub lambda_e: String,
    pub lambda_perp: String,
    pub speed: String,
    pub f64: F64Values,
    #[serde(serialize_with = "finite")]
    pub f64_relative_difference: f64,
    /// The quantity attaining `f64_relative_difference`.
    pub f64_worst_quantity: &'static str,
    /// max over λ_e, λ_⊥ only.
    #[serde(serialize_with = "finite")]
    pub f64_relative_difference_eigenvalues: f64,
    #[serde(serialize_with = "finite")]
    pub err_time: f64,
    #[serde(serialize_with = "finite")]
    pub err_rounding: f64,
    #[serde(serialize_with = "finite")]
    pub err_nodes: f64,
    #[serde(serialize_with = "finite")]
    pub relative_error_estimate: f64,
    #[serde(serialize_with = "finite")]
    pub f64_relative_error_estimate: f64,
    #[serde(serialize_with = "finite")]
    pub loss_digits: f64,
}

#[derive(Serialize)]
pub struct OracleFlow {
    pub alpha0: String,
    pub layout: OracleLayout,
    pub precision_bits: u32,
    #[serde(serialize_with = "finite")]
    pub tolerance: f64,
    #[serde(serialize_with = "finite")]
    pub dt_out: f64,
    pub f64_panels: usize,
    #[serde(serialize_with = "finite")]
    pub f64_tolerance: f64,
    pub rows: Vec<OracleFlowRow>,
    #[serde(serialize_with = "finite")]
    pub f64_relative_difference_max: f64,
    #[serde(serialize_with = "finite")]
    pub f64_relative_difference_eigenvalues_max: f64,
    #[serde(serialize_with = "finite")]
    pub relative_error_estimate_max: f64,
    #[serde(serialize_with = "finite")]
    pub f64_relative_error_estimate_max: f64,
    /// The kind of the rows' `err_*` and `relative_error_estimate`: "estimate" (step-halving,
    /// +64-bit and panel-doubling differences).
    pub bound_kind: BoundKind,
    #[serde(serialize_with = "finite")]
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct CertOut {
    #[serde(serialize_with = "finite")]
    pub alpha_min: f64,
    #[serde(serialize_with = "finite")]
    pub alpha_max: f64,
    #[serde(serialize_with = "finite")]
    pub upper: f64,
    #[serde(serialize_with = "finite")]
    pub lower: f64,
    #[serde(serialize_with = "finite")]
    pub argmax: f64,
    #[serde(serialize_with = "finite")]
    pub gap: f64,
    pub boxes: usize,
    pub order_of_psi_prime_at_zero: usize,
    #[serde(serialize_with = "finite")]
    pub beta_r2_upper_to_one: f64,
    #[serde(serialize_with = "finite")]
    pub beta_r2_lower_to_one: f64,
    pub statement: String,
    /// The kind of `upper` and `beta_r2_upper_to_one`: the interval arithmetic rounds outward,
    /// so they are proved given ψ's coefficients and tail bound; "enclosure" when those are
    /// exact (both activations polynomials of degree ≤ K), else "estimate", the kind of the
    /// coefficient tables they rest on.
    pub bound_kind: BoundKind,
}

#[derive(Serialize)]
pub struct Report {
    pub student: String,
    pub teacher: String,
    pub loss_scale: &'static str,
    pub interaction: bool,
    pub information_exponent: usize,
    #[serde(serialize_with = "finite")]
    pub alpha_cut: f64,
    pub per_d: Vec<PerD>,
    pub fits: serde_json::Map<String, serde_json::Value>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    pub certified_r2_bound: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertOut>,
}

pub fn information_exponent(s: &Spec, t: &Spec, digits: u32) -> Result<usize, Error> {
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

pub fn log10_factor(ln: f64) -> (Option<f64>, f64) {
    let v = ln.exp();
    ((v.is_finite()).then_some(v), ln / std::f64::consts::LN_10)
}

impl PerD {
    /// The row of dimension d from the flow's summary `s` at horizon `t_end` (suprema over the
    /// times with |α| ≤ `alpha_cut`); `seconds` is the time it took. Fails when no particle has
    /// |α| ≤ `alpha_cut` at any time or R1 is infinite.
    pub fn new(
        d: usize,
        t_end: f64,
        s: &ConcordanceSummary,
        alpha_cut: f64,
        oracle: Option<OracleInit>,
        seconds: f64,
    ) -> Result<PerD, Error> {
        let q = s.integral_h_quantiles;
        let (gf, gf10) = log10_factor(q[2]);
        let (gw, gw10) = log10_factor(s.lipschitz * t_end);
        if !s.r1_sup.0.value.is_finite() || !s.r2_sup.0.value.is_finite() {
            return Err(failure(format!(
                "d = {d}: no particle has |alpha| <= alpha-cut = {} at any time, or R1 is \
                 infinite (psi' = 0 at a particle)",
                alpha_cut
            )));
        }
        Ok(PerD {
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
            seconds,
        })
    }
}

/// Power-law fits in d (least squares on log–log, estimates) of the constants over the rows,
/// when there are at least two dimensions; the sampled suprema are omitted (and listed, with the
/// reason) when the velocity changes sign at some d.
pub fn fits(ds: &[usize], per_d: &[PerD]) -> serde_json::Map<String, serde_json::Value> {
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
    fits
}

/// The CSV columns of the concordance table (`mforacle concordance --format csv` and the
/// recipe's `concordance.csv`), without the timing column `seconds`.
pub const CSV_HEADER: &str =
    "d,t_end,alpha0_median,r1_at_init,r2_at_init,r1_sup,r2_sup,beta_r2_sup,\
                 integral_h_median,growth_factor_median_log10,integral_lambda_max_median,\
                 lipschitz,gronwall_factor_log10,sups_bounded,velocity_sign_changes";

/// The concordance table as CSV: [`CSV_HEADER`] and one row per d, numbers in Rust's shortest
/// round-trip decimal form; with `seconds`, a last column with each row's computing time (the
/// command prints it; the recipe keeps its data files free of timings, which go to its
/// `timing.json`).
pub fn csv(per_d: &[PerD], seconds: bool) -> String {
    let mut s = String::from(CSV_HEADER);
    s += if seconds { ",seconds\n" } else { "\n" };
    for p in per_d {
        s += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
        );
        if seconds {
            s += &format!(",{}", p.seconds);
        }
        s.push('\n');
    }
    s
}
