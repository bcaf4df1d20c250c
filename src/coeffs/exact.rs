//! Exact Hermite coefficients of polynomial specs, in the field Q(√2, √3, √5, ...).
//!
//! A [`Surd`] is an exact real number Σ_s q_s·√s with s squarefree and q_s rational. Sums,
//! products, and (for a bounded number of primes) inverses of surds are surds, and a
//! polynomial p(z) = Σ_m p_m z^m with surd coefficients has surd Hermite coefficients:
//! if p = Σ_j q_j He_j then c_j = E[p(Z) h_j(Z)] = q_j·√(j!) (docs/conventions.md §1, h_j = He_j/√(j!)),
//! and √(j!) = m_j·√s_j by [`crate::hermite::sqrt_factorial_parts`].
//!
//! Distinct squarefree radicands are linearly independent over Q (Besicovitch 1940), so the
//! representation is canonical: a surd is zero iff it stores no term, and `==` is equality
//! of real numbers. This is what lets the oracle call a coefficient an *exact* zero.
//!
//! Proofs-note: `proofs-notes/exact-polynomials.md`. Tests: `tests/exact.rs`.

use crate::activation::{Expr, Func};
use crate::hermite::{he_coefficients, monomial_to_hermite, sqrt_factorial_parts};
use rug::ops::Pow;
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};

/// Trial division bound used by [`sqrt_of_rational`] and [`Surd::inverse`]: a cofactor with
/// no prime factor ≤ `TRIAL_LIMIT` is known to be prime when it is < `TRIAL_LIMIT`².
pub const TRIAL_LIMIT: u32 = 100_000;

/// Largest number of distinct primes in the radicands for which [`Surd::inverse`] works
/// (the conjugate product has up to 2^primes terms).
pub const MAX_INVERSE_PRIMES: usize = 10;

/// An exact real number Σ_s q_s·√s, with s squarefree positive integers and q_s rational.
/// Invariant: every key is squarefree and positive, no stored coefficient is zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surd {
    /// squarefree radicand -> rational coefficient; no zero coefficients are stored.
    pub terms: BTreeMap<Integer, Rational>,
}

impl Surd {
    pub fn zero() -> Surd {
        Surd::default()
    }

    pub fn one() -> Surd {
        Surd::from_rational(Rational::from(1))
    }

    /// The rational q (as q·√1).
    pub fn from_rational(q: Rational) -> Surd {
        let mut s = Surd::zero();
        s.add_term(Integer::from(1), q);
        s
    }

    /// q·√s for a squarefree s > 0 (not checked; use [`sqrt_of_rational`] otherwise).
    pub fn from_term(q: Rational, squarefree: Integer) -> Surd {
        let mut s = Surd::zero();
        s.add_term(squarefree, q);
        s
    }

    /// √n for an integer n ≥ 0, exact (n is factored by trial division; `None` when the
    /// squarefree part of n cannot be certified, see [`sqrt_of_rational`]).
    pub fn sqrt_int(n: u64) -> Option<Surd> {
        sqrt_of_rational(&Rational::from(n))
    }

    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }

    /// `Some(q)` when the surd is the rational q.
    pub fn as_rational(&self) -> Option<Rational> {
        match self.terms.len() {
            0 => Some(Rational::new()),
            1 => self.terms.get(&Integer::from(1)).cloned(),
            _ => None,
        }
    }

    /// Adds q·√s (s squarefree) in place, dropping a coefficient that becomes zero.
    fn add_term(&mut self, s: Integer, q: Rational) {
        if q == 0 {
            return;
        }
        match self.terms.get_mut(&s) {
            Some(c) => {
                *c += q;
                if *c == 0 {
                    self.terms.remove(&s);
                }
            }
            None => {
                self.terms.insert(s, q);
            }
        }
    }

    /// q·self for a rational q.
    pub fn scale(&self, q: &Rational) -> Surd {
        if *q == 0 {
            return Surd::zero();
        }
        Surd {
            terms: self
                .terms
                .iter()
                .map(|(s, c)| (s.clone(), Rational::from(c * q)))
                .collect(),
        }
    }

    /// self² (convenience).
    pub fn square(&self) -> Surd {
        self * self
    }

    /// The sign of the real number, exactly (a non-zero surd is evaluated at increasing
    /// precision until its sign is certain; see [`Surd::to_float`]).
    pub fn signum(&self) -> Ordering {
        if self.is_zero() {
            return Ordering::Equal;
        }
        let v = self.to_float(64);
        v.cmp0().expect("a non-zero surd is finite and non-zero")
    }

    /// 1/self, exact, or `None` when self is zero or its radicands involve more than
    /// [`MAX_INVERSE_PRIMES`] primes (or cannot be factored by trial division).
    ///
    /// Method: for a prime p dividing some radicand, the map σ_p (√s ↦ −√s when p | s) is a
    /// field automorphism, and y·σ_p(y) no longer involves p. Repeating over the primes
    /// leaves a non-zero rational r = y·Π conj, so 1/y = Π conj / r.
    pub fn inverse(&self) -> Option<Surd> {
        if self.is_zero() {
            return None;
        }
        let mut primes: Vec<Integer> = Vec::new();
        for s in self.terms.keys() {
            for p in prime_factors(s)? {
                if !primes.contains(&p) {
                    primes.push(p);
                }
            }
        }
        if primes.len() > MAX_INVERSE_PRIMES {
            return None;
        }
        let mut y = self.clone();
        let mut num = Surd::one();
        for p in &primes {
            let conj = y.conjugate(p);
            num = &num * &conj;
            y = &y * &conj;
        }
        let r = y.as_rational().expect("all primes eliminated");
        Some(num.scale(&Rational::from(r.recip_ref())))
    }

    /// σ_p(self): flips the sign of the terms whose radicand is divisible by the prime p.
    fn conjugate(&self, p: &Integer) -> Surd {
        Surd {
            terms: self
                .terms
                .iter()
                .map(|(s, q)| {
                    if s.is_divisible(p) {
                        (s.clone(), Rational::from(-q))
                    } else {
                        (s.clone(), q.clone())
                    }
                })
                .collect(),
        }
    }

    /// The value at `prec` bits, to within 2^{1−prec} relative error (so within about one
    /// ulp; not guaranteed correctly rounded).
    ///
    /// Ziv loop: at w bits each term q·√s is computed with relative error ≤ 3·2^{−w}
    /// (three roundings) and the n-term sum adds ≤ n·2^{−w}·Σ|terms|, so the absolute error
    /// is ≤ E = (n+3)·2^{−w}·Σ|terms|. When E ≤ 2^{−prec−1}·|sum| the final rounding to
    /// prec bits keeps the total relative error below 2^{1−prec}; otherwise w is doubled.
    /// A non-zero surd is never 0 (linear independence of √s over Q), so the loop ends;
    /// it is capped at w = 64·prec + 2^16 bits, beyond which the last value is returned.
    pub fn to_float(&self, prec: u32) -> Float {
        if self.is_zero() {
            return Float::new(prec);
        }
        let n = self.terms.len() as u32;
        let mut w = prec + 32 + 2 * (32 - n.leading_zeros());
        let cap = 64 * prec + (1 << 16);
        loop {
            let mut acc = Float::new(w);
            let mut mag = Float::new(w);
            for (s, q) in &self.terms {
                let mut t = Float::with_val(w, q);
                if *s != 1 {
                    t *= Float::with_val(w, s).sqrt();
                }
                mag += t.clone().abs();
                acc += &t;
            }
            // E = (n + 3)·2^{−w}·mag, required ≤ 2^{−prec−1}·|acc|
            let bound = Float::with_val(w, &mag * (n + 3)) >> (w as i32);
            let target = Float::with_val(w, acc.clone().abs()) >> (prec as i32 + 1);
            if (bound <= target && !acc.is_zero()) || w >= cap {
                return Float::with_val(prec, &acc);
            }
            w *= 2;
        }
    }

    /// The surd as a constant expression Σ q_s·sqrt(s) (for residuals and display).
    pub fn to_expr(&self) -> Expr {
        let mut out: Option<Expr> = None;
        for (s, q) in &self.terms {
            let term = if *s == 1 {
                Expr::Num(q.clone())
            } else {
                Expr::Mul(
                    Box::new(Expr::Num(q.clone())),
                    Box::new(Expr::Sqrt(Box::new(Expr::Num(Rational::from(s))))),
                )
            };
            out = Some(match out {
                None => term,
                Some(acc) => Expr::Add(Box::new(acc), Box::new(term)),
            });
        }
        out.unwrap_or_else(|| Expr::Num(Rational::new()))
    }
}

impl From<Rational> for Surd {
    fn from(q: Rational) -> Surd {
        Surd::from_rational(q)
    }
}

impl From<i64> for Surd {
    fn from(n: i64) -> Surd {
        Surd::from_rational(Rational::from(n))
    }
}

impl Add for &Surd {
    type Output = Surd;
    fn add(self, rhs: &Surd) -> Surd {
        let mut out = self.clone();
        for (s, q) in &rhs.terms {
            out.add_term(s.clone(), q.clone());
        }
        out
    }
}

impl Sub for &Surd {
    type Output = Surd;
    fn sub(self, rhs: &Surd) -> Surd {
        let mut out = self.clone();
        for (s, q) in &rhs.terms {
            out.add_term(s.clone(), Rational::from(-q));
        }
        out
    }
}

impl Neg for &Surd {
    type Output = Surd;
    fn neg(self) -> Surd {
        Surd {
            terms: self
                .terms
                .iter()
                .map(|(s, q)| (s.clone(), Rational::from(-q)))
                .collect(),
        }
    }
}

impl Mul for &Surd {
    type Output = Surd;
    /// √a·√b = g·√((a/g)(b/g)) with g = gcd(a, b); (a/g)(b/g) is squarefree because a, b
    /// are squarefree and a/g, b/g are coprime.
    fn mul(self, rhs: &Surd) -> Surd {
        let mut out = Surd::zero();
        for (a, p) in &self.terms {
            for (b, q) in &rhs.terms {
                let g = Integer::from(a.gcd_ref(b));
                let r = Integer::from(a / &g) * Integer::from(b / &g);
                out.add_term(r, Rational::from(p * q) * g);
            }
        }
        out
    }
}

macro_rules! owned_binop {
    ($tr:ident, $f:ident) => {
        impl $tr for Surd {
            type Output = Surd;
            fn $f(self, rhs: Surd) -> Surd {
                (&self).$f(&rhs)
            }
        }
    };
}
owned_binop!(Add, add);
owned_binop!(Sub, sub);
owned_binop!(Mul, mul);

impl Neg for Surd {
    type Output = Surd;
    fn neg(self) -> Surd {
        -&self
    }
}

impl fmt::Display for Surd {
    /// An exact expression that the spec parser reads back, e.g. `3/4*sqrt(2) - 1/5`:
    /// irrational terms by increasing radicand, then the rational part; `0` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return write!(f, "0");
        }
        let one = Integer::from(1);
        let ordered = self
            .terms
            .iter()
            .filter(|(s, _)| **s != one)
            .chain(self.terms.iter().filter(|(s, _)| **s == one));
        for (i, (s, q)) in ordered.enumerate() {
            let neg = *q < 0;
            let mag = Rational::from(q.abs_ref());
            match (i, neg) {
                (0, true) => write!(f, "-")?,
                (0, false) => {}
                (_, true) => write!(f, " - ")?,
                (_, false) => write!(f, " + ")?,
            }
            if *s == one {
                write!(f, "{mag}")?;
            } else if mag == 1 {
                write!(f, "sqrt({s})")?;
            } else {
                write!(f, "{mag}*sqrt({s})")?;
            }
        }
        Ok(())
    }
}

/// n = m²·s with s squarefree, by trial division; `None` when the cofactor left after
/// dividing out all primes ≤ [`TRIAL_LIMIT`] is ≥ TRIAL_LIMIT² and not a perfect square
/// (then its squarefree part is unknown).
fn square_part(n: &Integer) -> Option<(Integer, Integer)> {
    assert!(*n > 0);
    let mut r = n.clone();
    let mut m = Integer::from(1);
    let mut s = Integer::from(1);
    let mut p: u32 = 2;
    while p <= TRIAL_LIMIT && Integer::from(p) * p <= r {
        let mut e = 0u32;
        while r.is_divisible_u(p) {
            r.div_exact_u_mut(p);
            e += 1;
        }
        if e > 0 {
            m *= Integer::from(p).pow(e / 2);
            if e % 2 == 1 {
                s *= p;
            }
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if r == 1 {
        return Some((m, s));
    }
    if r.is_perfect_square() {
        // a square cofactor: its root has no prime ≤ p, but r = t² exactly
        m *= Integer::from(r.sqrt_ref());
        return Some((m, s));
    }
    let limit_sq = Integer::from(TRIAL_LIMIT) * TRIAL_LIMIT;
    if Integer::from(p) * p > r || r < limit_sq {
        // no prime factor ≤ √r: r is prime
        s *= r;
        return Some((m, s));
    }
    None
}

/// The prime factors of a squarefree n > 0 by trial division, or `None` when a cofactor
/// cannot be certified prime (same rule as [`square_part`]).
fn prime_factors(n: &Integer) -> Option<Vec<Integer>> {
    let mut r = n.clone();
    let mut out = Vec::new();
    let mut p: u32 = 2;
    while p <= TRIAL_LIMIT && Integer::from(p) * p <= r {
        if r.is_divisible_u(p) {
            out.push(Integer::from(p));
            while r.is_divisible_u(p) {
                r.div_exact_u_mut(p);
            }
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if r == 1 {
        return Some(out);
    }
    let limit_sq = Integer::from(TRIAL_LIMIT) * TRIAL_LIMIT;
    if Integer::from(p) * p > r || r < limit_sq {
        out.push(r);
        return Some(out);
    }
    None
}

/// √q as an exact surd, for a rational q ≥ 0: √(n/d) = √(n·d)/d with n·d = m²·s, so
/// √q = (m/d)·√s. `None` for q < 0, or when the squarefree part of n·d cannot be certified
/// by trial division up to [`TRIAL_LIMIT`] (a cofactor ≥ 10^10 that is not a square).
pub fn sqrt_of_rational(q: &Rational) -> Option<Surd> {
    match q.cmp0() {
        Ordering::Less => None,
        Ordering::Equal => Some(Surd::zero()),
        Ordering::Greater => {
            let nd = Integer::from(q.numer() * q.denom());
            let (m, s) = square_part(&nd)?;
            Some(Surd::from_term(Rational::from((m, q.denom().clone())), s))
        }
    }
}

/// The exact value of a constant expression, when it lies in Q(√2, √3, ...): rational
/// literals, `+ − × /` (division by a surd that [`Surd::inverse`] handles), integer
/// powers, `sqrt` of a non-negative rational, relu/abs/step/sign of such a value, and
/// `he<k>` of such a value. `None` otherwise (anything with `pi`, `exp`, `erf`, ..., or
/// with `z`).
pub fn surd_from_expr(e: &Expr) -> Option<Surd> {
    match e {
        Expr::Num(q) => Some(Surd::from_rational(q.clone())),
        Expr::Pi | Expr::Z => None,
        Expr::Neg(a) => Some(-surd_from_expr(a)?),
        Expr::Add(a, b) => Some(surd_from_expr(a)? + surd_from_expr(b)?),
        Expr::Sub(a, b) => Some(surd_from_expr(a)? - surd_from_expr(b)?),
        Expr::Mul(a, b) => Some(surd_from_expr(a)? * surd_from_expr(b)?),
        Expr::Div(a, b) => Some(surd_from_expr(a)? * surd_from_expr(b)?.inverse()?),
        Expr::Pow(a, n) => Some(surd_pow(&surd_from_expr(a)?, *n)),
        Expr::Sqrt(a) => sqrt_of_rational(&surd_from_expr(a)?.as_rational()?),
        Expr::Call(f, a) => {
            let x = surd_from_expr(a)?;
            match f {
                Func::Relu => Some(match x.signum() {
                    Ordering::Greater => x,
                    _ => Surd::zero(),
                }),
                Func::Abs => Some(match x.signum() {
                    Ordering::Less => -x,
                    _ => x,
                }),
                Func::Step => Some(Surd::from_rational(match x.signum() {
                    Ordering::Greater => Rational::from(1),
                    Ordering::Equal => Rational::from((1, 2)),
                    Ordering::Less => Rational::new(),
                })),
                Func::Sign => Some(Surd::from(match x.signum() {
                    Ordering::Greater => 1,
                    Ordering::Equal => 0,
                    Ordering::Less => -1,
                })),
                Func::He(k) => Some(normalised_hermite_surd(*k as usize, &x)?),
                _ => None,
            }
        }
    }
}

/// x^n by binary powering.
pub fn surd_pow(x: &Surd, mut n: u32) -> Surd {
    let mut base = x.clone();
    let mut acc = Surd::one();
    while n > 0 {
        if n & 1 == 1 {
            acc = &acc * &base;
        }
        n >>= 1;
        if n > 0 {
            base = base.square();
        }
    }
    acc
}

/// h_k(x) = He_k(x)/√(k!) exactly (Horner on the integer coefficients of He_k).
fn normalised_hermite_surd(k: usize, x: &Surd) -> Option<Surd> {
    let he = he_coefficients(k);
    let mut acc = Surd::zero();
    for c in he.iter().rev() {
        acc = &(&acc * x) + &Surd::from_rational(Rational::from(c));
    }
    Some(&acc * &inv_sqrt_factorial(k))
}

/// 1/√(k!) = √s/(m·s) where √(k!) = m√s.
pub fn inv_sqrt_factorial(k: usize) -> Surd {
    let (m, s) = sqrt_factorial_parts(k);
    let den = Integer::from(&m * &s);
    Surd::from_term(Rational::from((Integer::from(1), den)), s)
}

/// √(k!) = m√s as a surd.
pub fn sqrt_factorial(k: usize) -> Surd {
    let (m, s) = sqrt_factorial_parts(k);
    Surd::from_term(Rational::from(m), s)
}

/// Exact normalised Hermite coefficients c_0..c_degree of p(z) = Σ_m monomial\[m\]·z^m.
///
/// For each radicand s the rational component p^{(s)} is converted to the monic basis by
/// [`monomial_to_hermite`] (p^{(s)} = Σ_j q_j He_j), and c_j = Σ_s √s·q_j^{(s)}·√(j!),
/// because E[He_j(Z) h_k(Z)] = √(j!)·δ_jk. Coefficients above `degree` are dropped and
/// missing ones are zero. Exact for any degree (tested at 1000).
pub fn exact_coefficients(monomial: &[Surd], degree: usize) -> Vec<Surd> {
    let mut out = vec![Surd::zero(); degree + 1];
    let mut radicands: Vec<&Integer> = monomial.iter().flat_map(|c| c.terms.keys()).collect();
    radicands.sort();
    radicands.dedup();
    let mut sqrt_fact: BTreeMap<usize, Surd> = BTreeMap::new();
    for s in radicands {
        let component: Vec<Rational> = monomial
            .iter()
            .map(|c| c.terms.get(s).cloned().unwrap_or_default())
            .collect();
        let root_s = Surd::from_term(Rational::from(1), s.clone());
        for (j, qj) in monomial_to_hermite(&component).into_iter().enumerate() {
            if j > degree || qj == 0 {
                continue;
            }
            let sf = sqrt_fact.entry(j).or_insert_with(|| sqrt_factorial(j));
            out[j] = &out[j] + &(&root_s * &*sf).scale(&qj);
        }
    }
    out
}

/// Exact zeros of an exact table: `zero[k]` iff c_k is exactly 0.
pub fn exact_zeros(c: &[Surd]) -> Vec<bool> {
    c.iter().map(Surd::is_zero).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_example() {
        let x = &Surd::from_term(Rational::from((3, 4)), Integer::from(2))
            - &Surd::from_rational(Rational::from((1, 5)));
        assert_eq!(x.to_string(), "3/4*sqrt(2) - 1/5");
        assert_eq!(Surd::zero().to_string(), "0");
    }

    #[test]
    fn sqrt_small() {
        let r = sqrt_of_rational(&Rational::from((8, 9))).unwrap();
        assert_eq!(r, Surd::from_term(Rational::from((2, 3)), Integer::from(2)));
    }
}
