//! Tests of `src/kernel.rs`. Proofs-note: `proofs-notes/dual-kernels.md`.
//!
//! The series with its tail bound against closed forms (relu–relu, erf–erf, h_j–h_k), the
//! z·σ' coefficients against the engine applied to the spec z·σ'(z), and the refusal to give
//! a number where the tail cannot be bounded.

use mforacle::activation::{Expr, Spec};
use mforacle::coeffs::hermite_coefficients;
use mforacle::kernel::{self, closed_kernel, closed_value, series, KernelError, Side};
use rug::Float;

fn side(spec: &str, degree: usize, digits: u32) -> Side {
    Side::new(&Spec::parse(spec).unwrap(), degree, digits).unwrap()
}

fn s(x: f64) -> Float {
    Float::with_val(200, x)
}

/// |series − closed| ≤ series bound + closed bound, and the series bound is not vacuous.
fn series_vs_closed(
    a: &str,
    b: &str,
    points: &[f64],
    orders: &[usize],
    degree: usize,
    max_bound: f64,
) {
    let (sa, sb) = (side(a, degree, 30), side(b, degree, 30));
    let ck = closed_kernel(&Spec::parse(a).unwrap(), &Spec::parse(b).unwrap())
        .expect("closed form known");
    for &x in points {
        for &r in orders {
            let ser = series(&sa, &sb, &s(x), r).unwrap();
            let cl = closed_value(&ck, &s(x), r, 200).unwrap();
            let d = Float::with_val(200, &ser.value - &cl.value).abs();
            // at 200 bits: for relu at s = −1 the Cauchy–Schwarz tail bound is attained
            // (every tail term c_k²(−1)^k is positive), so a 64-bit rounding of the sum of
            // bounds could fall below |series − closed| by ~2^−64 relative.
            let allowed = Float::with_val(200, &ser.abs_error_bound + &cl.abs_error_bound);
            assert!(
                d <= allowed,
                "{a}/{b} r={r} s={x}: |series − closed| = {d:.3e} > {allowed:.3e} (excess {:.3e})",
                Float::with_val(200, &d - &allowed)
            );
            assert!(
                ser.abs_error_bound < max_bound,
                "{a}/{b} r={r} s={x}: bound {:.3e} is vacuous",
                ser.abs_error_bound
            );
        }
    }
}

#[test]
fn relu_relu_series_against_closed_form() {
    // Interior points, all three orders: geometric tail bounds.
    series_vs_closed(
        "relu",
        "relu",
        &[-0.9, -0.3, 0.0, 0.4, 0.8],
        &[0, 1, 2],
        120,
        1e-2,
    );
    // s = ±1, value only: the Parseval route (c_k² ~ k^{-5/2}, tail ~ K^{-3/2}).
    series_vs_closed("relu", "relu", &[-1.0, 1.0], &[0], 120, 1e-2);
    // κ(1) = E relu² = 1/2 exactly.
    let ck = closed_kernel(&Spec::parse("relu").unwrap(), &Spec::parse("relu").unwrap()).unwrap();
    let v = closed_value(&ck, &s(1.0), 0, 200).unwrap();
    assert!(Float::with_val(200, &v.value - 0.5).abs() <= v.abs_error_bound);
}

#[test]
fn erf_erf_series_against_closed_form() {
    // erf is analytic: the series converges geometrically even at s = ±1 for derivatives
    // (erf^{(r)} ∈ L²), so the bounds are tiny.
    series_vs_closed(
        "erf",
        "erf(2*z)",
        &[-1.0, -0.5, 0.3, 0.99, 1.0],
        &[0, 1, 2],
        150,
        1e-12,
    );
    series_vs_closed(
        "erf(0.5*z)",
        "erf(0.5*z)",
        &[0.7, 1.0],
        &[0, 1, 2],
        80,
        1e-25,
    );
}

#[test]
fn hermite_kernels_exact() {
    // κ_{h_j,h_k}(s) = δ_jk s^k.
    let a = side("he3", 10, 30);
    let b = side("he4", 10, 30);
    let v = series(&a, &a, &s(0.7), 0).unwrap();
    // s³ for s the f64 nearest 0.7, computed exactly (200 bits hold 159 bits of s³)
    let cube = Float::with_val(200, s(0.7).square_ref()) * s(0.7);
    assert!(
        Float::with_val(200, &v.value - &cube).abs()
            <= Float::with_val(64, &v.abs_error_bound) + 1e-30
    );
    let v = series(&a, &b, &s(0.7), 0).unwrap();
    assert!(
        Float::with_val(200, v.value.abs_ref()) <= Float::with_val(64, &v.abs_error_bound) + 1e-30
    );
    // κ' = 3 s², κ'' = 6 s
    let v = series(&a, &a, &s(0.5), 1).unwrap();
    assert!(Float::with_val(200, &v.value - 0.75).abs() < 1e-25);
    let v = series(&a, &a, &s(0.5), 2).unwrap();
    assert!(Float::with_val(200, &v.value - 3.0).abs() < 1e-25);
}

#[test]
fn step_derivative_at_one_is_refused() {
    let st = side("step", 60, 20);
    // κ' at |s| = 1 has the divergent series Σ k c_k²: must be an error, not a number.
    match series(&st, &st, &s(1.0), 1) {
        Err(KernelError::Unbounded { order: 1, .. }) => {}
        other => panic!("expected an unbounded-tail error, got {other:?}"),
    }
    // inside the interval it is fine, and κ(1) = E step² = 1/2 is bounded (Parseval)
    assert!(series(&st, &st, &s(0.5), 1).is_ok());
    let v = series(&st, &st, &s(1.0), 0).unwrap();
    assert!(Float::with_val(200, &v.value - 0.5).abs() <= v.abs_error_bound);
}

#[test]
fn z_dsigma_coefficients_against_direct_engine() {
    for spec in ["tanh", "gelu", "erf(1.5*z)", "he4+he6"] {
        let sp = Spec::parse(spec).unwrap();
        let t = hermite_coefficients(&sp, 32, 30).unwrap();
        let via = kernel::z_dsigma_coefficients(&t);
        let d = sp.derivative().unwrap();
        let zd = Spec {
            source: format!("z*({})", spec),
            expr: Expr::Mul(Box::new(Expr::Z), Box::new(d.expr)),
        };
        let direct = hermite_coefficients(&zd, 30, 30).unwrap();
        for (j, v) in via.iter().enumerate() {
            let c = &direct.coefficients[j];
            let diff = Float::with_val(200, &v.value - &c.value).abs();
            let allowed = Float::with_val(64, &v.abs_error_bound + &c.abs_error_bound) + 1e-60;
            assert!(
                diff <= allowed,
                "{spec}: c_{j}(zσ'): {diff:.3e} > {allowed:.3e}"
            );
        }
    }
}

#[test]
fn pair_information_exponent() {
    let t = |x: &str| hermite_coefficients(&Spec::parse(x).unwrap(), 10, 20).unwrap();
    assert_eq!(
        kernel::pair_information_exponent(&t("he4"), &t("he4+he6")),
        Ok(Some(4))
    );
    assert_eq!(
        kernel::pair_information_exponent(&t("he4+he6"), &t("0.6*he4+0.3*he6")),
        Ok(Some(4))
    );
    // relu has c_3 = 0 exactly and he3 only c_3: no common degree.
    assert_eq!(
        kernel::pair_information_exponent(&t("relu"), &t("he3")),
        Ok(None)
    );
    assert_eq!(
        kernel::pair_information_exponent(&t("tanh"), &t("he3")),
        Ok(Some(3))
    );
}

#[test]
fn out_of_range_s() {
    let a = side("tanh", 20, 20);
    assert!(matches!(
        series(&a, &a, &s(1.5), 0),
        Err(KernelError::OutOfRange(_))
    ));
}

/// Sides of unequal degree: the series stops at the shorter table, so the tail bound must use
/// the remainders from that degree on (a regression: the longer side's remainder was taken
/// over its whole table, giving a zero tail bound for a polynomial partner).
#[test]
fn unequal_degrees_tail_covers_the_missing_terms() {
    let relu_short = side("relu", 10, 30);
    let he20 = side("he20", 22, 30);
    // κ_{relu, h_20}(s) = c_20(relu) s^20 exactly; c_20 from a longer relu table.
    let c20 = hermite_coefficients(&Spec::parse("relu").unwrap(), 20, 40)
        .unwrap()
        .coefficients[20]
        .value
        .clone();
    for x in [0.5, 0.99, 1.0, -1.0] {
        let v = series(&relu_short, &he20, &s(x), 0).unwrap();
        let exact = Float::with_val(200, &c20 * Float::with_val(200, s(x).pow_ref_u(20)));
        let d = Float::with_val(200, &v.value - &exact).abs();
        assert!(
            d <= v.abs_error_bound,
            "s = {x}: |Δ| = {d:.3e} > bound {:.3e}",
            v.abs_error_bound
        );
    }
}

trait PowU {
    fn pow_ref_u(&self, n: u32) -> Float;
}
impl PowU for Float {
    fn pow_ref_u(&self, n: u32) -> Float {
        use rug::ops::Pow;
        Float::with_val(self.prec(), self.pow(n))
    }
}

/// Bound kinds (`crate::conventions::BoundKind`): a kernel value is an enclosure only when its
/// inputs are exact or enclosures; the claim is then checked against the exact value.
/// Polynomials (exact coefficients, exact norms) give enclosures that contain the exact
/// rational value κ^{(r)}(1/3); the closed forms are enclosures (their proven a-priori bound);
/// a quadrature-based table (tanh) or norm (relu's E relu², a quadrature) makes an estimate.
#[test]
fn bound_kinds_follow_the_inputs() {
    use mforacle::conventions::BoundKind;
    use rug::Rational;
    // σ = h_2 + h_1, τ = h_2 + ½h_1: κ(s) = s² + ½s, κ' = 2s + ½, κ'' = 2.
    let (a, b) = (side("he2+he1", 12, 30), side("he2+0.5*he1", 12, 30));
    let third = Rational::from((1, 3));
    let x = Float::with_val(300, &third);
    let exact = [
        Rational::from((1, 9)) + Rational::from((1, 6)),
        Rational::from((2, 3)) + Rational::from((1, 2)),
        Rational::from(2),
    ];
    for (r, e) in exact.iter().enumerate() {
        let v = series(&a, &b, &x, r).unwrap();
        assert_eq!(v.kind, BoundKind::Enclosure, "order {r}");
        // x is 1/3 rounded to 300 bits: the kernel's change over that is ≤ 3·2^−300, far
        // below the bound's own rounding term, so it is added explicitly.
        let err = Float::with_val(400, &v.value - e).abs();
        let slack = Float::with_val(64, 3) >> 299u32;
        assert!(
            err <= Float::with_val(64, &v.abs_error_bound + &slack),
            "order {r}: |value − exact| = {err} > bound {}",
            v.abs_error_bound
        );
    }
    let relu = Spec::parse("relu").unwrap();
    let ck = closed_kernel(&relu, &relu).unwrap();
    assert_eq!(
        closed_value(&ck, &s(0.5), 0, 100).unwrap().kind,
        BoundKind::Enclosure
    );
    // tanh and relu: tables and norms by the enclosure route
    let t = side("tanh", 40, 30);
    assert_eq!(
        series(&t, &t, &s(0.5), 0).unwrap().kind,
        BoundKind::Enclosure
    );
    let r = side("relu", 40, 30);
    assert_eq!(
        series(&r, &a, &s(0.5), 0).unwrap().kind,
        BoundKind::Enclosure
    );
    // log1p is outside the enclosure theorem: its table and norm are estimates
    let l = side("log1p(z^2)", 40, 30);
    assert_eq!(
        series(&l, &a, &s(0.5), 0).unwrap().kind,
        BoundKind::Estimate,
        "an estimated table makes an estimate"
    );
}
