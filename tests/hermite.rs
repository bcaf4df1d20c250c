//! Tests of `src/hermite.rs`. Proofs-note: `proofs-notes/hermite.md`.
//!
//! Every check compares two independent computations: the recurrence against the explicit
//! sum formula, exact Gaussian moments for orthonormality, exact rational evaluation against
//! the normalised floating recurrence.

use mforacle::hermite::{
    he_coefficient_table, he_coefficients, hermite_to_monomial, monomial_to_hermite,
    sqrt_factorial_parts, NormalisedHermite,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use rug::{Float, Integer, Rational};

fn factorial(n: u32) -> Integer {
    Integer::from(Integer::factorial(n))
}

/// He_k(z) = Σ_m (−1)^m k!/(m!(k−2m)! 2^m) z^{k−2m}: the explicit formula, independent of
/// the three-term recurrence used by the crate.
fn explicit_he(k: u32) -> Vec<Integer> {
    let mut c = vec![Integer::new(); k as usize + 1];
    for m in 0..=k / 2 {
        let num = factorial(k);
        let den = factorial(m) * factorial(k - 2 * m) * Integer::from(Integer::u_pow_u(2, m));
        let (q, r) = num.div_rem(den);
        assert_eq!(r, 0, "the explicit coefficient is an integer");
        c[(k - 2 * m) as usize] = if m % 2 == 0 { q } else { -q };
    }
    c
}

#[test]
fn recurrence_matches_explicit_formula() {
    let table = he_coefficient_table(60);
    for k in 0..=60u32 {
        assert_eq!(table[k as usize], explicit_he(k), "He_{k}");
    }
    for k in [200u32, 577, 1000] {
        assert_eq!(he_coefficients(k as usize), explicit_he(k), "He_{k}");
    }
}

/// E[Z^{2m}] = (2m−1)!!, E[Z^{odd}] = 0.
fn gaussian_moment(n: usize) -> Integer {
    if n % 2 == 1 {
        return Integer::new();
    }
    let mut r = Integer::from(1);
    let mut j = 1u64;
    while j < n as u64 {
        r *= j;
        j += 2;
    }
    r
}

#[test]
fn orthogonality_exact() {
    // E[He_j He_k] = k! δ_jk, in exact integer arithmetic from Gaussian moments.
    let t = he_coefficient_table(24);
    for j in 0..=24 {
        for k in 0..=24 {
            let mut e = Integer::new();
            for (a, ca) in t[j].iter().enumerate() {
                for (b, cb) in t[k].iter().enumerate() {
                    if *ca != 0 && *cb != 0 {
                        e += Integer::from(ca * cb) * gaussian_moment(a + b);
                    }
                }
            }
            let want = if j == k {
                factorial(k as u32)
            } else {
                Integer::new()
            };
            assert_eq!(e, want, "E[He_{j} He_{k}]");
        }
    }
}

#[derive(Clone, Debug)]
struct SmallPoly(Vec<Rational>);

impl Arbitrary for SmallPoly {
    fn arbitrary(g: &mut Gen) -> Self {
        let deg = usize::arbitrary(g) % 41;
        SmallPoly(
            (0..=deg)
                .map(|_| {
                    let n = i32::arbitrary(g) % 1000;
                    let d = (u32::arbitrary(g) % 999) + 1;
                    Rational::from((n, d))
                })
                .collect(),
        )
    }
}

#[test]
fn basis_round_trip_property() {
    fn prop(p: SmallPoly) -> bool {
        hermite_to_monomial(&monomial_to_hermite(&p.0)) == p.0
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(SmallPoly) -> bool);
}

#[test]
fn monomial_to_hermite_against_definition() {
    // Σ_j q_j He_j(z) must reproduce z^m exactly, for m up to 1000: compare monomial
    // coefficients after expanding with the (independently tested) integer table.
    for m in [0usize, 1, 7, 30, 1000] {
        let mut p = vec![Rational::new(); m + 1];
        p[m] = Rational::from(1);
        let q = monomial_to_hermite(&p);
        // z^m = Σ_i m!/(i! 2^i (m−2i)!) He_{m−2i}: spot-check the i = 1 coefficient.
        if m >= 2 {
            let want = Rational::from((Integer::from(m * (m - 1)), Integer::from(2)));
            assert_eq!(q[m - 2], want);
        }
        assert_eq!(hermite_to_monomial(&q), p);
    }
}

/// h_k(z) exactly at a rational z, then rounded: He_k(z) by Horner over Q, divided by √k!.
fn exact_h(k: usize, z: &Rational, prec: u32) -> Float {
    let c = he_coefficients(k);
    let mut acc = Rational::new();
    for ci in c.iter().rev() {
        acc = acc * z + Rational::from(ci);
    }
    let (m, s) = sqrt_factorial_parts(k);
    Float::with_val(prec, &acc) / (Float::with_val(prec, &s).sqrt() * Float::with_val(prec, &m))
}

#[test]
fn normalised_recurrence_within_contract() {
    // Contract: |error of h_k| ≤ 4(k+1)·2^{−p}·max_{j≤k}|h_j(z)|.
    let p = 128;
    let herm = NormalisedHermite::new(1000, p);
    for (num, den) in [(3, 2), (-7, 3), (30, 1), (1, 1000), (45, 1)] {
        let z = Rational::from((num, den));
        let zf = Float::with_val(p, &z);
        let vals = herm.values(&zf);
        let mut running_max = Float::new(64);
        for k in [0usize, 1, 2, 10, 99, 400, 1000] {
            for v in &vals[..=k] {
                if Float::with_val(64, v.abs_ref()) > running_max {
                    running_max = Float::with_val(64, v.abs_ref());
                }
            }
            let exact = exact_h(k, &z, 3000);
            let err = Float::with_val(3000, &vals[k] - &exact).abs();
            let bound = Float::with_val(64, &running_max * (4 * (k as u32 + 1))) >> p;
            assert!(
                err <= bound,
                "h_{k}({num}/{den}): error {err:.3e} above the contract {bound:.3e}"
            );
            assert!(vals[k].is_finite());
        }
    }
}

#[test]
fn precision_overlap() {
    // 200 and 400 bits agree within the 200-bit contract bound, at degree 1000.
    let z = Float::with_val(400, 2.75);
    let lo = NormalisedHermite::new(1000, 200).values(&Float::with_val(200, &z));
    let hi = NormalisedHermite::new(1000, 400).values(&z);
    let mut running_max = Float::new(64);
    for k in 0..=1000 {
        if Float::with_val(64, hi[k].abs_ref()) > running_max {
            running_max = Float::with_val(64, hi[k].abs_ref());
        }
        let d = Float::with_val(400, &lo[k] - &hi[k]).abs();
        let b = Float::with_val(64, &running_max * (4 * (k as u32 + 1) + 1)) >> 200;
        assert!(d <= b, "k = {k}: {d:.3e} > {b:.3e}");
    }
}

#[test]
fn sqrt_factorial_parts_exact() {
    for k in 0..=120usize {
        let (m, s) = sqrt_factorial_parts(k);
        assert_eq!(Integer::from(&m * &m) * &s, factorial(k as u32), "k = {k}");
        // s squarefree: its prime factors are at most k, and no p² (p ≤ k) divides it.
        for p in 2..=(k.max(2) as u32) {
            assert!(
                !s.is_divisible(&Integer::from(p * p)),
                "k = {k}: {s} not squarefree"
            );
        }
    }
}
