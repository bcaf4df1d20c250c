//! The rug (MPFR) coefficient engine against the independent num-bigfloat path
//! (`src/coeffs/bigfloat/`: different arithmetic, different quadrature rule — composite
//! Gauss–Legendre instead of split double-exponential/trapezoid or closed forms — and
//! different function and Hermite code). Proofs-notes: `proofs-notes/quadrature.md`,
//! `proofs-notes/bigfloat-path.md`, `proofs-notes/closed-forms.md`.
//!
//! Tolerance: the bigfloat path's contract is |error| ≤ 1e−32·S_σ (S_σ = max(‖σ‖, E|σ(√2Z)|,
//! growth constant); ≤ 3 for every spec here), and the rug value's own bound is added.

use mforacle::activation::Spec;
use mforacle::coeffs::bigfloat::bigfloat_coefficients_strings;
use mforacle::coeffs::hermite_coefficients;
use rug::Float;

fn cross_check(spec: &str, degree: usize) {
    let s = Spec::parse(spec).unwrap();
    let ours = hermite_coefficients(&s, degree, 45).unwrap();
    let theirs = bigfloat_coefficients_strings(&s.expr, degree).unwrap();
    for (c, t) in ours.coefficients.iter().zip(&theirs) {
        let b = Float::with_val(300, Float::parse(t).unwrap());
        let d = Float::with_val(300, &c.value - &b).abs();
        let allowed = Float::with_val(64, &c.abs_error_bound) + 3e-32;
        assert!(
            d <= allowed,
            "{spec}: c_{}: rug {:.40e} vs bigfloat {t}: |Δ| = {d:.3e}",
            c.k,
            c.value
        );
    }
}

#[test]
fn quadrature_route_against_bigfloat() {
    for spec in [
        "tanh",
        "sigmoid",
        "softplus",
        "silu",
        "tanh(2*z+0.5)",
        "log1p(z^2)",
        "relu(z)*tanh(z)",
        "abs(z-0.5)*tanh(z)",
    ] {
        cross_check(spec, 60);
    }
}

#[test]
fn closed_form_route_against_bigfloat() {
    for spec in [
        "relu",
        "abs(z-1/3)",
        "step(2*z+1)",
        "sign",
        "erf(1.5*z-0.2)",
        "gelu",
        "exp(0.5*z)",
        "sin(1.5*z)",
        "cos(z+1)",
        "0.3*relu(z-0.25)+sin(1.5*z)",
        "5*(z^2*exp(-z^2)-sqrt(3)/9)",
        "exp(-z^2/3+z/2)",
    ] {
        cross_check(spec, 60);
    }
}

#[test]
fn exact_route_against_bigfloat() {
    for spec in ["he4+he6", "0.6*he4+0.3*he6", "z^5-2*z^2+pi", "he10(z/2)"] {
        cross_check(spec, 30);
    }
}

#[test]
fn mixed_route_against_bigfloat() {
    for spec in ["tanh(z)+relu(z)", "sigmoid(z)*z^2+he3"] {
        cross_check(spec, 40);
    }
}
