//! The kernel series and the population oracle on enclosed inputs (issue 13, item 3):
//! tables by `coeffs::proven_table` and norms by `coeffs::norm_enclosure` make relu, erf and
//! tanh kernels and population values `enclosure`s. Each claim is checked against an
//! independently computed value: the closed-form relu–relu and erf–erf kernels (at several s,
//! s = ±(1 − 2^−40) and ±1 included), closed-form norms, a run at higher degree and precision,
//! and the exact rational kernel of a polynomial pair; and a mutation (a norm whose bound is
//! dropped) must make the containment check fail. Proofs-note: `proofs-notes/bound-kinds.md`.

use mforacle::activation::Spec;
use mforacle::coeffs::{norm_enclosure, BoundKind};
use mforacle::kernel::{closed_kernel, closed_value, series, KernelValue, Side};
use mforacle::population::{Oracle, Teacher};
use rug::float::Constant;
use rug::{Float, Rational};

const P: u32 = 300;

fn spec(s: &str) -> Spec {
    Spec::parse(s).unwrap()
}

fn side(s: &str, degree: usize, digits: u32) -> Side {
    Side::new(&spec(s), degree, digits).unwrap()
}

/// s = ±(1 − 2^−40), exactly.
fn near_one(sign: i32) -> Float {
    let x = Float::with_val(P, 1) - (Float::with_val(P, 1) >> 40u32);
    if sign < 0 {
        -x
    } else {
        x
    }
}

fn points() -> Vec<Float> {
    let mut v: Vec<Float> = [0.0, 0.5, -0.3, 0.9, -0.95]
        .iter()
        .map(|x| Float::with_val(P, *x))
        .collect();
    v.extend([
        near_one(1),
        near_one(-1),
        Float::with_val(P, 1),
        Float::with_val(P, -1),
    ]);
    v
}

/// The two enclosures intersect: |a − b| ≤ bound_a + bound_b.
fn intersect(a: &KernelValue, b_value: &Float, b_bound: &Float) -> bool {
    let d = Float::with_val(P, &a.value - b_value).abs();
    d <= Float::with_val(P, &a.abs_error_bound + b_bound)
}

/// Series on enclosed sides against the closed form, at every point and order given.
fn check_against_closed(a: &Side, b: &Side, sa: &str, sb: &str, orders: &[usize]) -> bool {
    let ck = closed_kernel(&spec(sa), &spec(sb)).unwrap();
    let mut all = true;
    for s in points() {
        for &r in orders {
            let Ok(c) = closed_value(&ck, &s, r, 200) else {
                continue; // relu'' at ±1: infinite
            };
            assert_eq!(c.kind, BoundKind::Enclosure);
            let Ok(v) = series(a, b, &s, r) else {
                continue; // no tail bound at |s| = 1 for this order
            };
            assert_eq!(v.kind, BoundKind::Enclosure, "{sa}–{sb} r = {r} s = {s}");
            all &= intersect(&v, &c.value, &c.abs_error_bound);
        }
    }
    all
}

#[test]
fn relu_and_erf_series_enclose_the_closed_forms() {
    let (r, e) = (side("relu", 60, 30), side("erf", 60, 30));
    assert!(check_against_closed(&r, &r, "relu", "relu", &[0, 1, 2]));
    assert!(check_against_closed(&e, &e, "erf", "erf", &[0, 1, 2]));
    let (e2, e5) = (side("erf(2*z)", 60, 30), side("erf(0.5*z)", 60, 30));
    assert!(check_against_closed(
        &e2,
        &e5,
        "erf(2*z)",
        "erf(0.5*z)",
        &[0, 1, 2]
    ));
    // the bounds are informative: erf–erf at s = 1 − 2^−40 to well below 1e−8
    let v = series(&e, &e, &near_one(1), 0).unwrap();
    assert!(v.abs_error_bound < 1e-8, "{}", v.abs_error_bound);
}

/// The mutation: relu's E[σ²] replaced by the truncated Parseval sum Σ_{k≤K} c_k² with bound
/// 0 (the tail of the norm dropped, a weakened bound) makes the series bound miss the truth
/// near s = 1, so the same check fails.
#[test]
fn a_weakened_norm_bound_is_caught() {
    let r = side("relu", 60, 30);
    let mut m = r.clone();
    let mut sum = Float::new(P);
    for c in &m.table.coefficients {
        sum += Float::with_val(P, c.value.square_ref());
    }
    m.norms[0] = Some((sum, Float::new(64)));
    assert!(!check_against_closed(&m, &m, "relu", "relu", &[0]));
}

#[test]
fn enclosed_norms_contain_their_closed_forms() {
    let pi = Float::with_val(P, Constant::Pi);
    let half = Float::with_val(P, 0.5);
    // E[erf(z)²] = (2/π) asin(2/3); E[erf'(z)²] = (4/π)/√5; E[erf'(2z)²] = (16/π)/√17
    let erf0 = Float::with_val(P, Float::with_val(P, Rational::from((2, 3))).asin()) * 2u32 / &pi;
    let erf1 = Float::with_val(P, 4u32) / &pi / Float::with_val(P, 5u32).sqrt();
    let erf2_1 = Float::with_val(P, 16u32) / &pi / Float::with_val(P, 17u32).sqrt();
    let relu = spec("relu");
    let erf = spec("erf");
    let cases = [
        (relu.clone(), half.clone()),
        (relu.derivative().unwrap(), half.clone()),
        (erf.clone(), erf0),
        (erf.derivative().unwrap(), erf1),
        (spec("erf(2*z)").derivative().unwrap(), erf2_1),
    ];
    for (f, truth) in cases {
        let (v, b, k) = norm_enclosure(&f, 30).unwrap();
        assert_eq!(k, BoundKind::Enclosure, "{}", f.source);
        let d = Float::with_val(P, &v - &truth).abs();
        assert!(d <= b, "{}: |{v} − {truth}| > {b}", f.source);
        assert!(b < 1e-29, "{}: bound {b}", f.source);
    }
    // polynomials stay exact; outside the theorem (log1p) an estimate
    assert_eq!(
        norm_enclosure(&spec("he3+z"), 30).unwrap().2,
        BoundKind::Exact
    );
    assert_eq!(
        norm_enclosure(&spec("log1p(z^2)"), 20).unwrap().2,
        BoundKind::Estimate
    );
}

/// tanh–tanh and gelu–silu at degree 40, 20 digits against degree 90, 40 digits: both are
/// enclosures, so they must intersect, and the finer one is tighter.
#[test]
fn series_against_a_higher_precision_run() {
    for (a, b) in [("tanh", "tanh"), ("gelu", "silu")] {
        let (ca, cb) = (side(a, 40, 20), side(b, 40, 20));
        let (fa, fb) = (side(a, 90, 40), side(b, 90, 40));
        for s in [
            Float::with_val(P, 0.3),
            Float::with_val(P, -0.8),
            near_one(1),
        ] {
            for r in 0..=1 {
                let c = series(&ca, &cb, &s, r).unwrap();
                let f = series(&fa, &fb, &s, r).unwrap();
                assert_eq!(c.kind, BoundKind::Enclosure);
                assert_eq!(f.kind, BoundKind::Enclosure);
                assert!(
                    intersect(&c, &f.value, &f.abs_error_bound),
                    "{a}–{b} s = {s} r = {r}"
                );
                assert!(f.abs_error_bound <= c.abs_error_bound);
            }
        }
    }
}

/// σ = h_2 + h_1, τ = h_2 + ½h_1 at s = 1 − 2^−40 (exact dyadic): κ = s² + s/2,
/// κ' = 2s + 1/2, exactly.
#[test]
fn polynomial_pair_near_one_is_the_exact_rational() {
    let (a, b) = (side("he2+he1", 12, 30), side("he2+0.5*he1", 12, 30));
    let s = near_one(1);
    let q = Rational::from(1) - Rational::from((1, 1u64 << 40));
    let exact = [
        Rational::from(&q * &q) + Rational::from(&q / 2u32),
        Rational::from(&q * 2u32) + Rational::from((1, 2)),
    ];
    for (r, e) in exact.iter().enumerate() {
        let v = series(&a, &b, &s, r).unwrap();
        assert_eq!(v.kind, BoundKind::Enclosure);
        let d = Float::with_val(P, &v.value - e).abs();
        assert!(d <= v.abs_error_bound, "order {r}");
    }
}

/// The population oracle for tanh, erf and relu–tanh: every kind `enclosure`, and the coarse
/// run (degree 30, 20 digits) encloses the fine one (degree 80, 40 digits).
#[test]
fn population_enclosures_against_a_finer_run() {
    let w: Vec<Vec<Float>> = [[0.6, 0.8, 0.0], [0.0, 0.6, -0.8], [0.48, 0.64, 0.6]]
        .iter()
        .map(|r| r.iter().map(|x| Float::with_val(P, *x)).collect())
        .collect();
    let theta: Vec<Float> = [0.0, 0.0, 1.0]
        .iter()
        .map(|x| Float::with_val(P, *x))
        .collect();
    let a: Vec<Float> = (0..3).map(|_| Float::with_val(P, 1) / 3u32).collect();
    for (s, t) in [("tanh", "tanh"), ("erf", "erf"), ("relu", "tanh")] {
        let teacher = Teacher::single_index(spec(t), theta.clone());
        let coarse = Oracle::new(&spec(s), &teacher.specs(), 30, 20).unwrap();
        let fine = Oracle::new(&spec(s), &teacher.specs(), 80, 40).unwrap();
        let rc = coarse.evaluate(&a, &w, &teacher).unwrap();
        let rf = fine.evaluate(&a, &w, &teacher).unwrap();
        assert_eq!(rc.loss_kind, BoundKind::Enclosure, "{s}–{t}");
        assert_eq!(rc.gradient_kind, BoundKind::Enclosure, "{s}–{t}");
        let meets = |x: &mforacle::population::Bounded, y: &mforacle::population::Bounded| {
            let d = Float::with_val(P, &x.value - &y.value).abs();
            d <= Float::with_val(P, &x.abs_error_bound + &y.abs_error_bound)
        };
        assert!(meets(&rc.loss, &rf.loss), "{s}–{t} loss");
        for i in 0..3 {
            assert!(meets(&rc.radial_gradient[i], &rf.radial_gradient[i]));
            for k in 0..3 {
                assert!(meets(
                    &rc.tangent_gradient[i][k],
                    &rf.tangent_gradient[i][k]
                ));
                assert!(meets(&rc.velocity[i][k], &rf.velocity[i][k]));
            }
        }
    }
}
