//! The reduced flow's input data (src/meanfield/model.rs) against exact kernels.

use mforacle::activation::Spec;
use mforacle::meanfield::Model;
use mforacle::population::LossScale;

fn model(s: &str, t: &str, degree: usize) -> Model {
    Model::new(
        &Spec::parse(s).unwrap(),
        &Spec::parse(t).unwrap(),
        32,
        degree,
        30,
        LossScale::Full,
        0.0,
    )
    .unwrap()
}

/// h_4 with h_4: κ = ψ = s^4 exactly, κ_rad = ψ_rad = 4 s^4 (c_j(zσ') = j c_j + √((j+1)(j+2)) c_{j+2},
/// so c_2(zh_4') = √12 and c_4(zh_4') = 4; only the degree-4 product survives), zero tails.
#[test]
fn he4_kernels_are_exact_monomials() {
    let m = model("he4", "he4", 2);
    assert!(m.exact);
    assert!(m.degree >= 6);
    for (k, c) in m.kappa.to_f64().iter().enumerate() {
        let want = if k == 4 { 1.0 } else { 0.0 };
        assert!((c - want).abs() < 1e-25, "kappa[{k}] = {c}");
    }
    for (k, c) in m.kappa_radial.to_f64().iter().enumerate() {
        let want = if k == 4 { 4.0 } else { 0.0 };
        assert!((c - want).abs() < 1e-25, "kappa_radial[{k}] = {c}");
    }
    assert_eq!(m.kappa.tail, [0.0; 3]);
    assert_eq!(m.psi_radial.tail, [0.0; 3]);
    assert!((m.teacher_norm.0.to_f64() - 1.0).abs() < 1e-25);
}

/// Misspecified: σ = h4 + h6 against 0.6 h4 + 0.3 h6: ψ = 0.6 s^4 + 0.3 s^6, κ = s^4 + s^6,
/// E σ*² = 0.36 + 0.09.
#[test]
fn misspecified_polynomials() {
    let m = model("he4+he6", "0.6*he4+0.3*he6", 2);
    let psi = m.psi.to_f64();
    let kappa = m.kappa.to_f64();
    for k in 0..psi.len() {
        let wp = [(4, 0.6), (6, 0.3)]
            .iter()
            .find(|x| x.0 == k)
            .map_or(0.0, |x| x.1);
        let wk = [(4, 1.0), (6, 1.0)]
            .iter()
            .find(|x| x.0 == k)
            .map_or(0.0, |x| x.1);
        assert!((psi[k] - wp).abs() < 1e-25, "psi[{k}]");
        assert!((kappa[k] - wk).abs() < 1e-25, "kappa[{k}]");
    }
    assert!((m.teacher_norm.0.to_f64() - 0.45).abs() < 1e-25);
}

/// A non-polynomial student: the tail bound of κ after degree 60 against an independent
/// reference, the explicit sum Σ_{k=61}^{240} c_k² of a longer coefficient table (which never
/// touches E σ², from which the bound is built).
/// - Lower side (rigorous): every term is ≥ 0, so the true tail is at least the explicit sum
///   of the coefficients' lower bounds (|c_k| − bound_k)²; the tail bound must not be below it.
/// - Upper side: the bound is the Parseval remainder E σ² − Σ_{k≤60} c_k² computed to ~30
///   digits, so it exceeds the true tail by at most ~1e−25 (table bounds, the (1 + 1e−12) guard
///   factor: 1.3e−22); the terms beyond 240 decay like |c_k| ≤ 3e−11 near k = 240 and a factor
///   ≈ 2e−3 per 60 degrees in Σ c_k², so Σ_{k>240} c_k² ≈ 1e−21 (an estimate). A slack of 1e−18
///   covers both and still checks the bound (≈ 1.27e−10) to 8 digits.
#[test]
fn tanh_series_tail_bound_against_explicit_tail() {
    let m = model("tanh", "tanh", 60);
    assert!(!m.exact);
    assert_eq!(m.degree, 60);
    let tail = m.kappa.tail[0];
    assert!(tail > 0.0 && tail.is_finite());
    let spec = Spec::parse("tanh").unwrap();
    let table = mforacle::coeffs::hermite_coefficients(&spec, 240, 30).unwrap();
    let (mut lower, mut mid) = (0.0f64, 0.0f64);
    for c in &table.coefficients[61..=240] {
        let v = c.value.to_f64().abs();
        let lo = (v - c.abs_error_bound.to_f64()).max(0.0);
        lower += lo * lo;
        mid += v * v;
    }
    // f64 summation of 180 positive terms: relative rounding ≤ 180·2^−53 ≈ 2e−14.
    assert!(
        tail >= lower * (1.0 - 1e-13),
        "tail bound {tail:e} below explicit tail {lower:e}"
    );
    assert!(
        tail <= mid * (1.0 + 1e-13) + 1e-18,
        "tail bound {tail:e} far above explicit tail {mid:e}"
    );
}

#[test]
fn bad_input() {
    let s = Spec::parse("he4").unwrap();
    assert!(Model::new(&s, &s, 2, 10, 30, LossScale::Full, 0.0).is_err());
    assert!(Model::new(&s, &s, 32, 1, 30, LossScale::Full, 0.0).is_err());
    let step = Spec::parse("step(z)").unwrap();
    assert!(Model::new(&step, &s, 32, 10, 30, LossScale::Full, 0.0).is_err());
}
