//! Suite `concordance`: the local Hessian of the interaction-free symmetric velocity and the
//! self-concordance ratios (docs/conventions.md §5): for a particle at overlap α with θ,
//! λ_e = 2·scale·(β²ψ''(α) − αψ'(α)), λ_⊥ = −2·scale·αψ'(α), ‖v‖ = 2·scale·β|ψ'(α)|
//! (β = √(1 − α²)), R1 = max(|λ_e|, |λ_⊥|)/‖v‖ and R2 = |α|·R1.
//!
//! Cases: he4/he4 (ψ = s⁴, information exponent 4) at d = 16, 64, 256 with α = ±c/√d,
//! c ∈ {0.5, 1, 2, 3} (the scale of the initial overlaps, where R1 ≈ 3/|α| ≈ 3√d/c; all dyadic,
//! exact in f64); erf/erf (ψ = (2/π)·asin(2s/3), information exponent 1) with the half loss
//! scale on α ∈ [−0.9, 0.9] (away from 0, where λ_⊥ and λ_e vanish exactly and no relative
//! statement is possible). In the interaction-free closed form d enters only through α; it is
//! recorded in the parameters.
//!
//! Inputs: `alpha.npy`, `psi_series.npy` (ψ's power-series coefficients of s^k in f64; for erf
//! truncated at degree [`ERF_DEGREE`], truncation below tolerance/100, and the closed form in
//! the parameters), `scale.npy` (1 or ½).
//!
//! Golden values: [`crate::hessian::symmetric::symmetric_hessian_rug`] at
//! `digits_to_bits(45) + 64` bits on the MPFR coefficients ψ_k = c_k(σ)c_k(σ*) of the oracle's
//! Hermite tables (exact for he4), then R1, R2 in MPFR. Bounds: 2^{−p+12}·M (the Horner sums of
//! ≤ 2K terms and a few operations, K ≤ 120), plus the coefficients' bounds b_k through
//! E_r = Σ k^{(r)}|α|^{k−r}b_k, plus the truncation tail
//! T_r ≤ (K+1)^{(r)}|α|^{K+1−r}·√(R_σ R_σ*) (R = Σ_{k>K} c_k², the Parseval remainders; valid
//! when k^{(r)}|α|^{k−r} decreases for k > K, checked), propagated like the rounding below.
//!
//! ## Tolerances (ULPS·u·M per entry)
//! With the absolute series P̄_r(α) = Σ_k k^{(r)}|ψ_k||α|^{k−r} (the magnitude of the terms of
//! the f64 Horner sums of ψ' and ψ'', which also covers the f64 rounding of the coefficients):
//! - λ_⊥: M = 2·scale·|α|·P̄_1;
//! - λ_e: M = 2·scale·(P̄_2 + |α|P̄_1) (β² = 1 − α² ≤ 1 with error ≤ 2u);
//! - ‖v‖: M = 2·scale·P̄_1 (β ≤ 1, relative error of √ ≤ u);
//! - R1 = N/‖v‖, N = max(|λ_e|, |λ_⊥|): to first order δR1 ≤ (δN + R1·δ‖v‖)/‖v‖ + u·R1 and
//!   δN ≤ max(δλ_e, δλ_⊥), so M = (max(M_e, M_⊥) + R1·M_v)/‖v‖ + R1;
//! - R2 = |α|·R1: M = |α|·M_R1 + R2.
//!
//! ULPS = 512 covers γ_{2K} of Horner's scheme for K ≤ 120 and the handful of further
//! operations. The first-order expansion of the quotient needs ULPS·u·M_v ≪ ‖v‖: the build
//! refuses an α where ULPS·u·M_v > 10⁻³‖v‖ (near a zero of ψ', where R1 is ill-conditioned).
//! The α are exact f64 inputs, so no argument error enters. Checked by `tests/golden.rs`
//! (`f64_closed_form_passes_concordance`: `hessian::symmetric::interaction_free` in f64).
//! Proofs-note: `proofs-notes/golden-files.md`.

use super::{scalar, vector, Case, Quantity, SuiteEntry, ULPS, UNIT_ROUNDOFF};
use crate::activation::Spec;
use crate::coeffs::digits_to_bits;
use crate::hessian::symmetric::symmetric_hessian_rug;
use crate::kernel::Side;
use rug::Float;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "concordance",
    description: "local Hessian of the interaction-free symmetric velocity: lambda_e, lambda_perp, |v|, R1 = |H|/|v|, R2 = |alpha| R1; he4/he4 at alpha = +-c/sqrt(d), d = 16, 64, 256; erf/erf (half loss scale) on [-0.9, 0.9]",
    build,
};

/// Series degree of the erf–erf ψ.
pub const ERF_DEGREE: usize = 120;
const COEFF_DIGITS: u32 = 45;

struct Pair {
    name: &'static str,
    activation: &'static str,
    degree: usize,
    half: bool,
    d: Option<usize>,
    alpha: Vec<f64>,
    closed_form: Option<&'static str>,
}

fn pairs() -> Vec<Pair> {
    let mut out = Vec::new();
    for d in [16usize, 64, 256] {
        let r = (d as f64).sqrt();
        let mut alpha: Vec<f64> = [-3.0, -1.0, 0.5, 1.0, 2.0, 3.0]
            .iter()
            .map(|c| c / r)
            .collect();
        alpha.sort_by(f64::total_cmp);
        out.push(Pair {
            name: match d {
                16 => "he4-d16",
                64 => "he4-d64",
                _ => "he4-d256",
            },
            activation: "he4",
            degree: 4,
            half: false,
            d: Some(d),
            alpha,
            closed_form: None,
        });
    }
    out.push(Pair {
        name: "erf-half",
        activation: "erf",
        degree: ERF_DEGREE,
        half: true,
        d: None,
        alpha: vec![-0.9, -0.5, -0.0625, 0.0625, 0.25, 0.5, 0.75, 0.9],
        closed_form: Some("psi(s) = (2/pi) asin(2 s / 3)"),
    });
    out
}

const NAMES: [&str; 5] = ["lambda_e", "lambda_perp", "speed", "r1", "r2"];

fn build() -> Result<Vec<Case>, String> {
    let prec = digits_to_bits(COEFF_DIGITS) + 64;
    let mut out = Vec::new();
    for p in pairs() {
        let spec = Spec::parse(p.activation).map_err(|e| e.to_string())?;
        let side = Side::new(&spec, p.degree, COEFF_DIGITS).map_err(|e| e.to_string())?;
        let k = p.degree;
        // ψ_k = c_k², with bound 2|c_k|b_k + b_k² (σ = σ*).
        let (psi, psi_b): (Vec<Float>, Vec<f64>) = side
            .table
            .coefficients
            .iter()
            .take(k + 1)
            .map(|c| {
                let v = Float::with_val(prec, c.value.square_ref());
                let b = c.abs_error_bound.to_f64();
                let b = 2.0 * c.value.to_f64().abs() * b + b * b;
                (v, b)
            })
            .unzip();
        // Σ_{k>K} c_k²: exactly 0 for a polynomial of degree ≤ K, else the Parseval remainder.
        let polynomial = spec.as_polynomial().is_some_and(|c| c.len() <= k + 1);
        let rem = if polynomial {
            0.0
        } else {
            side.remainder(0, prec, k)
                .ok_or("no Parseval remainder")?
                .to_f64()
        };
        let psi64: Vec<f64> = psi.iter().map(|x| x.to_f64()).collect();
        let scale = if p.half { 0.5 } else { 1.0 };
        let scale_f = Float::with_val(prec, scale);
        let mut vals: [Vec<Float>; 5] = Default::default();
        let mut bnds: [Vec<f64>; 5] = Default::default();
        let mut mags: [Vec<f64>; 5] = Default::default();
        for &a in &p.alpha {
            let x = a.abs();
            // absolute series, coefficient-bound sums, truncation tails, for r = 1, 2
            let series = |c: &[f64], r: usize| -> f64 {
                c.iter()
                    .enumerate()
                    .skip(r)
                    .map(|(k, ck)| falling(k, r) * ck.abs() * x.powi((k - r) as i32))
                    .sum()
            };
            let abs_psi: Vec<f64> = psi64.iter().map(|v| v.abs()).collect();
            let (p1, p2) = (series(&abs_psi, 1), series(&abs_psi, 2));
            let (e1, e2) = (series(&psi_b, 1), series(&psi_b, 2));
            let tail = |r: usize| -> Result<f64, String> {
                if rem == 0.0 {
                    return Ok(0.0);
                }
                let kk = (k + 1) as f64;
                // k^{(r)} x^{k−r} decreases for k > K iff (K+2)/(K+2−r)·x ≤ 1
                if (kk + 1.0) / (kk + 1.0 - r as f64) * x > 1.0 {
                    return Err(format!(
                        "case {}: alpha = {a}: the truncation tail bound needs a higher degree",
                        p.name
                    ));
                }
                Ok(falling(k + 1, r) * x.powi((k + 1 - r) as i32) * rem)
            };
            let (t1, t2) = (tail(1)?, tail(2)?);
            let af = Float::with_val(prec, a);
            let [le, lp, sp] = symmetric_hessian_rug(&psi, &scale_f, &af, prec);
            let n = if Float::with_val(prec, le.abs_ref()) >= Float::with_val(prec, lp.abs_ref()) {
                Float::with_val(prec, le.abs_ref())
            } else {
                Float::with_val(prec, lp.abs_ref())
            };
            let r1 = Float::with_val(prec, &n / &sp);
            let r2 = Float::with_val(prec, &r1 * x);
            let (vf, r1f, r2f) = (sp.to_f64(), r1.to_f64(), r2.to_f64());
            // magnitudes of the f64 evaluation
            let two_s = 2.0 * scale;
            let m_perp = two_s * x * p1;
            let m_e = two_s * (p2 + x * p1);
            let m_v = two_s * p1;
            if vf.is_nan() || vf <= 0.0 || ULPS * UNIT_ROUNDOFF * m_v > 1e-3 * vf {
                return Err(format!(
                    "case {}: alpha = {a}: |v| = {vf:e} is too small for a relative statement on R1",
                    p.name
                ));
            }
            let m_r1 = (m_e.max(m_perp) + r1f * m_v) / vf + r1f;
            let m_r2 = x * m_r1 + r2f;
            // oracle bounds: rounding 2^{−p+12}·M, coefficient bounds and tails
            let ulp = (2.0f64).powi(-(prec as i32) + 12);
            let (d1, d2) = (e1 + t1, e2 + t2);
            let b_perp = ulp * m_perp + two_s * x * d1;
            let b_e = ulp * m_e + two_s * (d2 + x * d1);
            let b_v = ulp * m_v + two_s * d1;
            let b_r1 = (b_e.max(b_perp) + r1f * b_v) / vf * (1.0 + 1e-3) + ulp * r1f;
            let b_r2 = x * b_r1 + ulp * r2f;
            for (i, (v, b, m)) in [
                (le, b_e, m_e),
                (lp, b_perp, m_perp),
                (sp, b_v, m_v),
                (r1, b_r1, m_r1),
                (r2, b_r2, m_r2),
            ]
            .into_iter()
            .enumerate()
            {
                vals[i].push(v);
                bnds[i].push(b);
                mags[i].push(m);
            }
        }
        let na = p.alpha.len();
        let rules = [
            "M = 2*scale*(Pb2(alpha) + |alpha| Pb1(alpha)), Pb_r(alpha) = sum_k k(k-1)..(k-r+1) |psi_k| |alpha|^(k-r)",
            "M = 2*scale*|alpha|*Pb1(alpha)",
            "M = 2*scale*Pb1(alpha)",
            "M = (max(M_lambda_e, M_lambda_perp) + r1*M_speed)/speed + r1",
            "M = |alpha|*M_r1 + r2",
        ];
        let descriptions = [
            "eigenvalue of H along e (towards theta): 2*scale*(beta^2 psi''(alpha) - alpha psi'(alpha))",
            "eigenvalue of H on the d - 2 directions orthogonal to w and e: -2*scale*alpha*psi'(alpha)",
            "|v| = 2*scale*beta*|psi'(alpha)|, beta = sqrt(1 - alpha^2)",
            "R1 = max(|lambda_e|, |lambda_perp|)/|v|",
            "R2 = |alpha| R1",
        ];
        let quantities = (0..5)
            .map(|i| Quantity {
                name: NAMES[i].into(),
                description: format!("{}; one per alpha, shape [{na}]", descriptions[i]),
                shape: vec![na],
                values: std::mem::take(&mut vals[i]),
                bounds: bnds[i].iter().map(|b| Float::with_val(64, *b)).collect(),
                tolerance: Quantity::tolerances(&mags[i]),
                tolerance_rule: rules[i].into(),
                // bounds propagated in f64 with round-to-nearest from the tables: a-posteriori
                bound_kind: crate::conventions::BoundKind::Estimate,
            })
            .collect();
        let parameters = serde_json::json!({
            "student": p.activation,
            "teacher": p.activation,
            "d": p.d,
            "loss_scale": if p.half { "half" } else { "full" },
            "psi_series_degree": k,
            "psi_closed_form": p.closed_form,
            "psi_truncation_parseval_remainder": rem,
            "formulas": "beta = sqrt(1 - alpha^2); psi(s) = sum_k psi_series[k] s^k; lambda_e = 2*scale*(beta^2 psi''(alpha) - alpha psi'(alpha)); \
        lambda_perp = -2*scale*alpha*psi'(alpha); speed = 2*scale*beta*|psi'(alpha)|; r1 = max(|lambda_e|, |lambda_perp|)/speed; r2 = |alpha|*r1",
        });
        out.push(Case {
            name: p.name.into(),
            description: format!(
                "interaction-free local Hessian, sigma = sigma* = {}, {} loss scale{}",
                p.activation,
                if p.half { "half" } else { "full" },
                p.d.map(|d| format!(", alpha = c/sqrt({d})"))
                    .unwrap_or_default()
            ),
            parameters,
            inputs: vec![
                ("alpha".into(), vector(p.alpha.clone())),
                ("psi_series".into(), vector(psi64)),
                ("scale".into(), scalar(scale)),
            ],
            quantities,
        });
    }
    Ok(out)
}

/// k(k−1)…(k−r+1) as f64.
fn falling(k: usize, r: usize) -> f64 {
    (0..r).map(|i| k.saturating_sub(i) as f64).product()
}
