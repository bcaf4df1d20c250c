//! Exact Hermite coefficients of polynomials and surd arithmetic (`src/coeffs/exact.rs`).
//! Proofs-note: `proofs-notes/exact-polynomials.md`.
//!
//! Every check is an exact identity over Q(√2, √3, ...), so there are no tolerances here,
//! except in `to_float_*`, where each bound is derived in place. The independent routes:
//! - 1/√(j!) by `sqrt_of_rational(1/j!)` (trial division of j!) instead of the
//!   Legendre-formula `sqrt_factorial_parts` used by `exact_coefficients`;
//! - the monomial form back through `hermite_to_monomial` (the He_j table), not through
//!   `monomial_to_hermite` (the inverse-expansion formula) that `exact_coefficients` uses;
//! - E[p(Z)²] from the Gaussian moments E Z^{2m} = (2m−1)!!, with no Hermite polynomial.

use mforacle::activation::{Expr, Func};
use mforacle::coeffs::exact::{exact_coefficients, sqrt_of_rational, surd_from_expr, Surd};
use mforacle::hermite::{he_coefficients, hermite_to_monomial};
use quickcheck::{QuickCheck, TestResult};
use rug::ops::Pow;
use rug::{Float, Integer, Rational};

fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

fn rad(qq: Rational, s: u64) -> Surd {
    Surd::from_term(qq, Integer::from(s))
}

/// Random polynomial with coefficients a_m + b_m·√2, a, b small rationals; degree ≤ 40.
fn poly_from(raw: &[(i8, u8, i8, u8)]) -> Vec<Surd> {
    raw.iter()
        .take(41)
        .map(|&(a, da, b, db)| {
            &Surd::from_rational(q(a as i64, da as i64 % 7 + 1))
                + &rad(q(b as i64, db as i64 % 5 + 1), 2)
        })
        .collect()
}

/// 1/√(j!) computed by factoring j! (independent of `sqrt_factorial_parts`).
fn inv_sqrt_fact(j: usize) -> Surd {
    let f = Integer::from(Integer::factorial(j as u32));
    sqrt_of_rational(&Rational::from((Integer::from(1), f))).expect("j! factors over small primes")
}

/// The rational component of radicand s of each entry.
fn component(v: &[Surd], s: u64) -> Vec<Rational> {
    v.iter()
        .map(|c| c.terms.get(&Integer::from(s)).cloned().unwrap_or_default())
        .collect()
}

/// E[Z^n] over Q: 0 for odd n, (n−1)!! for even n.
fn gaussian_moment(n: usize) -> Integer {
    if n % 2 == 1 {
        return Integer::new();
    }
    let mut m = Integer::from(1);
    let mut k = 1u64;
    while (k as usize) < n {
        m *= k;
        k += 2;
    }
    m
}

#[test]
fn roundtrip_monomial_hermite_monomial() {
    fn prop(raw: Vec<(i8, u8, i8, u8)>) -> TestResult {
        let p = poly_from(&raw);
        if p.is_empty() {
            return TestResult::discard();
        }
        let deg = p.len() - 1;
        let c = exact_coefficients(&p, deg);
        // q_j = c_j/√(j!), then back to monomials per radicand
        let qs: Vec<Surd> = c
            .iter()
            .enumerate()
            .map(|(j, cj)| cj * &inv_sqrt_fact(j))
            .collect();
        // every q_j must lie in Q ⊕ Q√2 (c_j may contain √(2·j!) parts, q_j must not)
        if qs
            .iter()
            .any(|x| x.terms.keys().any(|s| *s != 1 && *s != 2))
        {
            return TestResult::failed();
        }
        for s in [1u64, 2] {
            if hermite_to_monomial(&component(&qs, s)) != component(&p, s) {
                return TestResult::failed();
            }
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(Vec<(i8, u8, i8, u8)>) -> TestResult);
}

#[test]
fn he_k_has_unit_coefficient() {
    for k in (0..=40).chain([97, 200]) {
        let inv = inv_sqrt_fact(k);
        let p: Vec<Surd> = he_coefficients(k)
            .iter()
            .map(|c| inv.scale(&Rational::from(c)))
            .collect();
        let c = exact_coefficients(&p, k + 3);
        for (j, cj) in c.iter().enumerate() {
            let want = if j == k { Surd::one() } else { Surd::zero() };
            assert_eq!(*cj, want, "h_{k}: coefficient {j} is {cj}");
        }
    }
}

#[test]
fn parseval_exact() {
    fn prop(raw: Vec<(i8, u8, i8, u8)>) -> TestResult {
        let p = poly_from(&raw);
        if p.is_empty() {
            return TestResult::discard();
        }
        let c = exact_coefficients(&p, p.len() - 1);
        let lhs = c.iter().fold(Surd::zero(), |acc, x| &acc + &x.square());
        let mut rhs = Surd::zero();
        for (m, pm) in p.iter().enumerate() {
            for (n, pn) in p.iter().enumerate() {
                rhs = &rhs + &(pm * pn).scale(&Rational::from(gaussian_moment(m + n)));
            }
        }
        TestResult::from_bool(lhs == rhs)
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(Vec<(i8, u8, i8, u8)>) -> TestResult);
}

/// A random surd over the radicands {1, 2, 3, 5, 6, 10, 15, 30}.
fn surd_from(raw: &[(i8, u8)]) -> Surd {
    const R: [u64; 8] = [1, 2, 3, 5, 6, 10, 15, 30];
    raw.iter()
        .take(8)
        .enumerate()
        .fold(Surd::zero(), |acc, (i, &(n, d))| {
            &acc + &rad(q(n as i64, d as i64 % 9 + 1), R[i])
        })
}

#[test]
fn surd_ring_axioms_and_inverse() {
    fn prop(a: Vec<(i8, u8)>, b: Vec<(i8, u8)>, c: Vec<(i8, u8)>) -> bool {
        let (x, y, z) = (surd_from(&a), surd_from(&b), surd_from(&c));
        let ok = &x * &y == &y * &x
            && &(&x * &y) * &z == &x * &(&y * &z)
            && &x * &(&y + &z) == &(&x * &y) + &(&x * &z)
            && (&(&x + &y) - &y) == x
            && (&x + &(-&x)).is_zero();
        let inv_ok = match x.inverse() {
            Some(inv) => &x * &inv == Surd::one(),
            None => x.is_zero(),
        };
        ok && inv_ok
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop as fn(Vec<(i8, u8)>, Vec<(i8, u8)>, Vec<(i8, u8)>) -> bool);
}

#[test]
fn surd_fixed_identities() {
    let s2 = Surd::sqrt_int(2).unwrap();
    let s3 = Surd::sqrt_int(3).unwrap();
    let one = Surd::one();
    // (√2 + √3)² = 5 + 2√6
    assert_eq!((&s2 + &s3).square(), &Surd::from(5) + &rad(q(2, 1), 6));
    // (√2 + √3)(√2 − √3) = −1
    assert_eq!(&(&s2 + &s3) * &(&s2 - &s3), Surd::from(-1));
    // √6·√10 = 2√15, √12 = 2√3
    assert_eq!(
        &Surd::sqrt_int(6).unwrap() * &Surd::sqrt_int(10).unwrap(),
        rad(q(2, 1), 15)
    );
    assert_eq!(Surd::sqrt_int(12).unwrap(), rad(q(2, 1), 3));
    // 1/(1 + √2) = √2 − 1
    assert_eq!((&one + &s2).inverse().unwrap(), &s2 - &one);
    assert!(Surd::zero().inverse().is_none());
    // √2, √3, √6 are independent: √2·√3 − √6 = 0 but √2 + √3 − √5 ≠ 0
    assert!((&(&s2 * &s3) - &Surd::sqrt_int(6).unwrap()).is_zero());
    assert!(!(&(&s2 + &s3) - &Surd::sqrt_int(5).unwrap()).is_zero());
}

#[test]
fn sqrt_of_rational_cases() {
    assert_eq!(sqrt_of_rational(&q(8, 9)).unwrap(), rad(q(2, 3), 2));
    assert_eq!(sqrt_of_rational(&q(0, 1)).unwrap(), Surd::zero());
    assert!(sqrt_of_rational(&q(-1, 4)).is_none());
    // 2^100·3 → 2^50·√3
    let big = Rational::from(Integer::from(Integer::u_pow_u(2, 100)) * 3u32);
    assert_eq!(
        sqrt_of_rational(&big).unwrap(),
        Surd::from_term(
            Rational::from(Integer::from(Integer::u_pow_u(2, 50))),
            Integer::from(3)
        )
    );
    // p² · 7 for a prime p above the trial-division limit: the square cofactor is recognised
    let p = Integer::from(1_000_003u32);
    assert!(p.is_probably_prime(30) != rug::integer::IsPrime::No);
    let v = Rational::from(Integer::from(&p * &p) * 7u32);
    assert_eq!(
        sqrt_of_rational(&v).unwrap(),
        Surd::from_term(Rational::from(p.clone()), Integer::from(7))
    );
    // p·r with two primes above the limit and p·r > 10^10: squarefree part unknown → None
    let r = Integer::from(1_000_033u32);
    assert!(r.is_probably_prime(30) != rug::integer::IsPrime::No);
    assert!(sqrt_of_rational(&Rational::from(Integer::from(&p * &r))).is_none());
    // a prime below 10^10 with no small factor is certified prime: √p itself
    let small_prime = Integer::from(999_983u32);
    assert_eq!(
        sqrt_of_rational(&Rational::from(small_prime.clone())).unwrap(),
        Surd::from_term(Rational::from(1), small_prime)
    );
    // squares of the results give back the input
    for (n, d) in [(18, 7), (1, 720), (50, 3), (99, 100)] {
        let s = sqrt_of_rational(&q(n, d)).unwrap();
        assert_eq!(s.square(), Surd::from_rational(q(n, d)));
    }
}

#[test]
fn display_is_exact_expression() {
    let x = &rad(q(3, 4), 2) - &Surd::from_rational(q(1, 5));
    assert_eq!(x.to_string(), "3/4*sqrt(2) - 1/5");
    assert_eq!((-&Surd::sqrt_int(3).unwrap()).to_string(), "-sqrt(3)");
    assert_eq!(Surd::zero().to_string(), "0");
    assert_eq!(Surd::from_rational(q(-1, 2)).to_string(), "-1/2");
    let y = &(&rad(q(-2, 1), 6) + &rad(q(1, 3), 2)) + &Surd::from(7);
    assert_eq!(y.to_string(), "1/3*sqrt(2) - 2*sqrt(6) + 7");
}

#[test]
fn to_float_relative_accuracy() {
    // √2 − 14142135623730950488/10^19 ≈ 1.7e−20: 20 digits cancel. The contract is a
    // relative error ≤ 2^{1−prec}; the reference is the same sum at 4000 bits, whose own
    // error is ≤ 2^{−3990} relative to the O(1) terms, i.e. ≤ 2^{−3900} relative here.
    let x = &Surd::sqrt_int(2).unwrap()
        - &Surd::from_rational(Rational::from((
            Integer::from(14142135623730950488u64),
            Integer::from(10u64).pow(19),
        )));
    let exact = {
        let w = 4000;
        Float::with_val(w, 2).sqrt()
            - Float::with_val(w, 14142135623730950488u64) / Float::with_val(w, 10u64).pow(19)
    };
    for prec in [24u32, 53, 200, 1000] {
        let v = x.to_float(prec);
        let rel: Float = Float::with_val(4000, &v - &exact) / &exact;
        let bound = Float::with_val(64, 1) >> (prec as i32 - 1);
        assert!(
            rel.clone().abs() <= bound,
            "prec {prec}: relative error {rel}"
        );
    }
}

#[test]
fn surd_from_expr_cases() {
    let n = |a: i64, b: i64| Expr::Num(q(a, b));
    let sqrt = |e: Expr| Expr::Sqrt(Box::new(e));
    let b = Box::new;
    // sqrt(3)/9
    let e = Expr::Div(b(sqrt(n(3, 1))), b(n(9, 1)));
    assert_eq!(surd_from_expr(&e).unwrap(), rad(q(1, 9), 3));
    // (1 + sqrt(2))^2 = 3 + 2√2
    let e = Expr::Pow(b(Expr::Add(b(n(1, 1)), b(sqrt(n(2, 1))))), 2);
    assert_eq!(
        surd_from_expr(&e).unwrap(),
        &Surd::from(3) + &rad(q(2, 1), 2)
    );
    // 1/(sqrt(2) + sqrt(3) + sqrt(5)) times the denominator is 1
    let den = Expr::Add(
        b(Expr::Add(b(sqrt(n(2, 1))), b(sqrt(n(3, 1))))),
        b(sqrt(n(5, 1))),
    );
    let inv = surd_from_expr(&Expr::Div(b(n(1, 1)), b(den.clone()))).unwrap();
    assert_eq!(&inv * &surd_from_expr(&den).unwrap(), Surd::one());
    // he2(sqrt(2)) = (2 − 1)/√2 = √2/2
    let e = Expr::Call(Func::He(2), b(sqrt(n(2, 1))));
    assert_eq!(surd_from_expr(&e).unwrap(), rad(q(1, 2), 2));
    // relu(1 − sqrt(2)) = 0, abs(1 − sqrt(2)) = √2 − 1, step(0) = 1/2
    let d = Expr::Sub(b(n(1, 1)), b(sqrt(n(2, 1))));
    assert!(surd_from_expr(&Expr::Call(Func::Relu, b(d.clone())))
        .unwrap()
        .is_zero());
    assert_eq!(
        surd_from_expr(&Expr::Call(Func::Abs, b(d))).unwrap(),
        &rad(q(1, 1), 2) - &Surd::one()
    );
    assert_eq!(
        surd_from_expr(&Expr::Call(Func::Step, b(n(0, 1)))).unwrap(),
        Surd::from_rational(q(1, 2))
    );
    // sqrt(8/9)·sqrt(1/2) = 2/3
    let e = Expr::Mul(b(sqrt(n(8, 9))), b(sqrt(n(1, 2))));
    assert_eq!(surd_from_expr(&e).unwrap(), Surd::from_rational(q(2, 3)));
    // anything with pi, exp, or z is not a surd
    assert!(surd_from_expr(&Expr::Mul(b(Expr::Pi), b(n(2, 1)))).is_none());
    assert!(surd_from_expr(&Expr::Call(Func::Exp, b(n(1, 1)))).is_none());
    assert!(surd_from_expr(&Expr::Z).is_none());
    // sqrt of an irrational surd is not handled
    assert!(surd_from_expr(&sqrt(sqrt(n(2, 1)))).is_none());
}

#[test]
fn degree_1000_monomial() {
    // z^1000 = Σ_i 1000!/(i! 2^i (1000−2i)!) He_{1000−2i}, so c_1000 = √(1000!),
    // c_998 = (1000·999/2)·√(998!), odd coefficients vanish, and Parseval gives
    // Σ c_k² = E Z^2000 = 1999!!. All checked exactly.
    let mut p = vec![Surd::zero(); 1001];
    p[1000] = Surd::one();
    let c = exact_coefficients(&p, 1000);
    let fact = |n: u32| Rational::from(Integer::from(Integer::factorial(n)));
    assert_eq!(c[1000].square(), Surd::from_rational(fact(1000)));
    let q998 = Rational::from(1000 * 999 / 2);
    assert_eq!(
        c[998].square(),
        Surd::from_rational(Rational::from(&q998 * &q998) * fact(998))
    );
    assert!(c.iter().skip(1).step_by(2).all(Surd::is_zero));
    let sum = c.iter().fold(Surd::zero(), |acc, x| &acc + &x.square());
    assert_eq!(
        sum,
        Surd::from_rational(Rational::from(gaussian_moment(2000)))
    );
    // truncation: asking for degree 10 keeps the first 11 coefficients
    assert_eq!(exact_coefficients(&p, 10)[..], c[..11]);
}
