//! Tests of the coefficient engine as a whole (`src/coeffs/mod.rs`, `src/coeffs/quad.rs`).
//! Proofs-notes: `proofs-notes/quadrature.md`, `proofs-notes/closed-forms.md`,
//! `proofs-notes/exact-polynomials.md`.
//!
//! Identities used as independent checks: Parseval (Σ c_k² against E f² computed by
//! quadrature of f², or in closed form), Stein / derivative (c_k(f') = √(k+1) c_{k+1}(f), the
//! left side computed from the symbolic derivative, a different integrand), precision overlap
//! (the bound at D digits must cover the distance to the 2D-digit value), parity zeros.

use mforacle::activation::Spec;
use mforacle::coeffs::{
    self, hermite_coefficients, information_exponent, norm_squared, CoefficientTable,
};
use rug::float::Constant;
use rug::ops::Pow;
use rug::Float;

fn table(spec: &str, degree: usize, digits: u32) -> CoefficientTable {
    hermite_coefficients(&Spec::parse(spec).expect("valid spec"), degree, digits).expect("table")
}

/// The error bounds at D digits cover the distance to the value at 2D+10 digits (which is
/// far more accurate): |v_D − v_2D| ≤ b_D + b_2D. This is the test that the stated
/// `abs_error_bound` is never below the true error. Also: every coefficient is resolved.
fn check_bounds_cover(spec: &str, degree: usize, digits: u32) {
    let lo = table(spec, degree, digits);
    let hi = table(spec, degree, 2 * digits + 10);
    for (a, b) in lo.coefficients.iter().zip(&hi.coefficients) {
        assert!(
            a.resolved,
            "{spec}: c_{} unresolved at {digits} digits",
            a.k
        );
        assert_eq!(a.exact_zero, b.exact_zero, "{spec}: c_{} zero status", a.k);
        let d = Float::with_val(1024, &a.value - &b.value).abs();
        let allowed = Float::with_val(64, &a.abs_error_bound + &b.abs_error_bound);
        assert!(
            d <= allowed,
            "{spec}: c_{}: |Δ| = {d:.3e} > bound {allowed:.3e}",
            a.k
        );
        // and the D-digit claim itself: the bound is within half a unit of the D-th digit
        if !a.exact_zero {
            let tol = Float::with_val(64, a.value.abs_ref())
                * Float::with_val(64, 10f64).pow(-(digits as i32))
                / 2u32;
            assert!(
                d <= tol,
                "{spec}: c_{} not correct to {digits} digits: {d:.3e}",
                a.k
            );
        }
    }
}

#[test]
fn bounds_cover_true_error_quadrature_specs() {
    for spec in [
        "tanh",
        "sigmoid",
        "softplus",
        "silu",
        "tanh(2*z+0.5)",
        "relu(z)*tanh(z)",
        "log1p(z^2)",
    ] {
        check_bounds_cover(spec, 40, 30);
    }
}

#[test]
fn bounds_cover_true_error_closed_and_mixed_specs() {
    for spec in [
        "relu",
        "abs(z-1/3)",
        "step(2*z+1)",
        "sign",
        "erf(1.5*z-0.2)",
        "gelu",
        "exp(0.5*z)",
        "sin(1.5*z)",
        "0.3*relu(z-0.25)+sin(1.5*z)",
        "5*(z^2*exp(-z^2)-sqrt(3)/9)",
        "tanh(z)+relu(z)",
    ] {
        check_bounds_cover(spec, 40, 30);
    }
}

/// Σ_{k≤K} c_k² ≤ E f² + bounds, and the gap E f² − Σ c_k² shrinks as K grows; for specs
/// with fast-decaying coefficients the gap closes to the working accuracy.
#[test]
fn parseval() {
    for (spec, k_small, k_big, closes) in [
        ("tanh", 20usize, 120usize, false),
        ("exp(0.5*z)", 20, 150, true),
        ("erf(z)", 20, 200, false),
        ("he3+0.5*he1", 3, 6, true),
        ("gelu", 20, 100, false),
    ] {
        let s = Spec::parse(spec).unwrap();
        let (norm, nb) = norm_squared(&s, 40).unwrap();
        let gap = |k: usize| {
            let t = table(spec, k, 40);
            let mut sum = Float::new(300);
            let mut err = Float::new(64);
            for c in &t.coefficients {
                sum += Float::with_val(300, c.value.square_ref());
                err += Float::with_val(64, c.value.abs_ref()) * &c.abs_error_bound * 3u32;
            }
            (Float::with_val(300, &norm - &sum), err)
        };
        let (g1, e1) = gap(k_small);
        let (g2, e2) = gap(k_big);
        let slack = Float::with_val(64, &nb + &e2);
        assert!(
            g2 >= -slack.clone(),
            "{spec}: Σc² exceeds E f² by {:.3e}",
            -g2.clone()
        );
        assert!(
            g2 <= Float::with_val(300, &g1 + &e1) + &slack,
            "{spec}: gap grew"
        );
        if closes {
            assert!(
                Float::with_val(64, g2.abs_ref()) <= slack * 4u32,
                "{spec}: Parseval gap {g2:.3e}"
            );
        }
    }
}

/// E[erf(Z)²] = (2/π) arcsin(2/3) (the erf kernel at s = 1): the quadrature norm against a
/// closed form.
#[test]
fn norm_of_erf_closed_form() {
    let (v, b) = norm_squared(&Spec::parse("erf").unwrap(), 50).unwrap();
    let p = 400;
    let want = Float::with_val(p, Float::with_val(p, 2) / 3u32).asin() * 2u32
        / Float::with_val(p, Constant::Pi);
    let d = Float::with_val(p, &v - &want).abs();
    assert!(d <= b, "E erf² off by {d:.3e} > {b:.3e}");
    assert!(d < Float::with_val(64, 1e-49), "E erf² off by {d:.3e}");
}

/// Stein: c_k(f') = √(k+1)·c_{k+1}(f); f' is the symbolic derivative, a different integrand.
#[test]
fn stein_derivative_identity() {
    for spec in [
        "tanh",
        "sigmoid",
        "softplus",
        "gelu",
        "silu",
        "tanh(2*z+0.5)",
        "erf(1.5*z)",
        "sin(z)*exp(-z^2/8)",
    ] {
        let s = Spec::parse(spec).unwrap();
        let ds = s.derivative().expect("smooth spec");
        let t = hermite_coefficients(&s, 31, 35).unwrap();
        let td = hermite_coefficients(&ds, 30, 35).unwrap();
        for k in 0..=30 {
            let lhs = &td.coefficients[k];
            let rhs = &t.coefficients[k + 1];
            let root = Float::with_val(300, (k + 1) as u32).sqrt();
            let d =
                Float::with_val(300, &lhs.value - Float::with_val(300, &rhs.value * &root)).abs();
            let allowed = Float::with_val(
                64,
                &lhs.abs_error_bound + Float::with_val(64, &rhs.abs_error_bound * &root),
            ) + Float::with_val(64, 1e-300);
            assert!(d <= allowed, "{spec}: k = {k}: {d:.3e} > {allowed:.3e}");
        }
    }
}

#[test]
fn parity_zeros_are_exact() {
    let t = table("tanh", 30, 20);
    for c in &t.coefficients {
        assert_eq!(c.exact_zero, c.k % 2 == 0, "tanh c_{}", c.k);
    }
    let t = table("exp(-z^2/4)*cos(z)", 30, 20);
    for c in &t.coefficients {
        assert_eq!(c.exact_zero, c.k % 2 == 1, "even spec c_{}", c.k);
    }
    // relu is neither even nor odd, but c_k = 0 for odd k ≥ 3 by its closed form.
    let t = table("relu", 30, 20);
    for c in &t.coefficients {
        assert_eq!(c.exact_zero, c.k % 2 == 1 && c.k >= 3, "relu c_{}", c.k);
    }
}

#[test]
fn information_exponents() {
    assert_eq!(information_exponent(&table("he4", 10, 20)), Ok(Some(4)));
    assert_eq!(information_exponent(&table("he3", 10, 20)), Ok(Some(3)));
    assert_eq!(information_exponent(&table("relu", 10, 20)), Ok(Some(1)));
    assert_eq!(information_exponent(&table("cos", 10, 20)), Ok(Some(2)));
    assert_eq!(information_exponent(&table("he4+he6", 10, 20)), Ok(Some(4)));
    // the paper's non-polynomial example: c_1 = c_3 = 0 by parity, c_2 = 0 exactly
    assert_eq!(
        information_exponent(&table("5*(z^2*exp(-z^2)-sqrt(3)/9)", 10, 20)),
        Ok(Some(4))
    );
}

#[test]
fn bad_ranges_are_errors() {
    let s = Spec::parse("tanh").unwrap();
    assert!(hermite_coefficients(&s, 10, 0).is_err());
    assert!(hermite_coefficients(&s, 10, coeffs::MAX_DIGITS + 1).is_err());
    assert!(hermite_coefficients(&s, coeffs::MAX_QUAD_DEGREE + 1, 10).is_err());
}

/// The accuracy range for the quadrature route: degree 200 at 100 digits. The
/// 100-digit table's bounds must cover its distance to a 120-digit table (computed at other
/// precisions and levels), and every coefficient must be resolved.
#[test]
fn quadrature_degree_200_at_100_digits() {
    let lo = table("tanh", 200, 100);
    let hi = table("tanh", 200, 120);
    for (a, b) in lo.coefficients.iter().zip(&hi.coefficients) {
        assert!(a.resolved, "tanh c_{} unresolved", a.k);
        let d = Float::with_val(2048, &a.value - &b.value).abs();
        let allowed = Float::with_val(256, &a.abs_error_bound + &b.abs_error_bound);
        assert!(d <= allowed, "tanh c_{}: {d:.3e} > {allowed:.3e}", a.k);
    }
}
