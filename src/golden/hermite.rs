//! Suite `hermite`: c_0..c_30 of he4, tanh, relu, gelu and the primary paper's
//! 5(z²e^{−z²} − √3/9), from the oracle's tables (40 digits).
//!
//! Tolerance (per entry): ULPS·u·(k+2)^{3/2}·‖σ‖, ‖σ‖ = √E[σ(Z)²]. An f64 quadrature
//! Σ_j w_j σ(z_j) h_k(z_j) with the normalised three-term recurrence has, per node, an error in
//! h_k(z) of at most 4(k+1)u·max_{i≤k}|h_i(z)|, and E[|σ|·max_{i≤k}|h_i|] ≤ ‖σ‖·√(k+1) by
//! Cauchy–Schwarz (Σ_{i≤k} E h_i² = k+1); the summation adds γ_n·E|σ h_k| ≤ n·u·‖σ‖. So
//! |error| ≲ (4(k+1)^{3/2} + n)·u·‖σ‖, below ULPS·u·(k+2)^{3/2}‖σ‖ for n up to a few hundred
//! nodes. Closed forms and exact polynomial coefficients do better. The tolerance is absolute:
//! the coefficients of tanh decay, and no f64 quadrature gives them small relative error.

use super::{Case, Quantity, SuiteEntry};
use crate::activation::Spec;
use crate::coeffs;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "hermite",
    description:
        "Hermite coefficients c_0..c_30 of he4, tanh, relu, gelu and 5*(z^2*exp(-z^2)-sqrt(3)/9)",
    build,
};

/// Largest degree.
pub const DEGREE: usize = 30;

const CASES: &[(&str, &str)] = &[
    ("he4", "he4"),
    ("tanh", "tanh"),
    ("relu", "relu"),
    ("gelu", "gelu"),
    ("paper-sigma", "5*(z^2*exp(-z^2)-sqrt(3)/9)"),
];

fn build() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (name, src) in CASES {
        let spec = Spec::parse(src).map_err(|e| e.to_string())?;
        let table =
            coeffs::proven_table(&spec, DEGREE, super::DIGITS + 5).map_err(|e| e.to_string())?;
        let (norm, _) = coeffs::norm_squared(&spec, 20)?;
        let l2 = norm.to_f64().sqrt();
        let magnitudes: Vec<f64> = (0..=DEGREE)
            .map(|k| ((k + 2) as f64).powf(1.5) * l2)
            .collect();
        let q = Quantity {
            name: "c".into(),
            description: "c_k = E[sigma(Z) h_k(Z)], k = 0..30".into(),
            shape: vec![DEGREE + 1],
            values: table.coefficients.iter().map(|c| c.value.clone()).collect(),
            bounds: table
                .coefficients
                .iter()
                .map(|c| c.abs_error_bound.clone())
                .collect(),
            tolerance: Quantity::tolerances(&magnitudes),
            tolerance_rule: "M_k = (k+2)^{3/2} * sqrt(E[sigma(Z)^2]) (f64 quadrature with the normalised Hermite recurrence)".into(),
            bound_kind: crate::conventions::BoundKind::weakest_of(
                table.coefficients.iter().map(|c| c.bound_kind),
            ),
        };
        out.push(Case {
            name: name.to_string(),
            description: format!("Hermite coefficients of {src}"),
            parameters: serde_json::json!({
                "activation": src,
                "degree": DEGREE,
                "norm_squared": crate::output::decimal(&norm, 20),
                "convention": crate::conventions::HERMITE,
            }),
            inputs: vec![],
            quantities: vec![q],
        });
    }
    Ok(out)
}
