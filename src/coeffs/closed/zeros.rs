//! Exact zeros and exact tables of closed terms: zeros from structure only (exactly zero
//! parameters, exact Hermite roots at an exact kink, exact recurrences), never from small
//! values; exact tables (as [`Surd`]s) where the recurrence stays exact (exp(c z²) with rational
//! c, times a surd polynomial).
//!
//! Accuracy contract: exact (no rounding); `None` where an exact table is not known.

use super::*;

/// The kink z0 = −b/a exactly, when known (b exactly 0 gives 0 whatever a is).
pub(super) fn exact_kink(a: &Constant, b: &Constant) -> Option<Surd> {
    if b.is_exact_zero() {
        return Some(Surd::zero());
    }
    let (a, b) = (a.as_surd()?, b.as_surd()?);
    Some(-(b * &a.inverse()?))
}

/// zero[n] iff He_n(x) = 0 exactly, n = 0..=len−1 (recurrence in Q(√·)).
pub(super) fn hermite_zero_pattern(x: &Surd, len: usize) -> Vec<bool> {
    if x.is_zero() {
        return (0..len).map(|n| n % 2 == 1).collect();
    }
    let mut out = Vec::with_capacity(len);
    let (mut prev, mut cur) = (Surd::zero(), Surd::one());
    for n in 0..len {
        out.push(cur.is_zero());
        let next = &(x * &cur) - &prev.scale(&Rational::from(n as u64));
        prev = std::mem::replace(&mut cur, next);
    }
    out
}

/// zero[n] iff r_n = 0 exactly in the exp(c z² + e z + f) table, n = 0..=len−1.
/// With b_n = n!·[t^n] exp(βt + γt²), β = e/λ, γ = c/λ: b_{n+1} = β b_n + 2γ n b_{n−1}.
pub(super) fn exp_zero_pattern(c: &Constant, e: &Constant, len: usize) -> Vec<bool> {
    let (ce, ee) = (c.is_exact_zero(), e.is_exact_zero());
    if ce && ee {
        return (0..len).map(|n| n >= 1).collect();
    }
    if let (Some(cs), Some(es)) = (c.as_surd(), e.as_surd()) {
        let lambda = &Surd::one() - &cs.scale(&Rational::from(2));
        if let Some(inv) = lambda.inverse() {
            let beta = es * &inv;
            let gamma2 = (cs * &inv).scale(&Rational::from(2));
            let mut out = Vec::with_capacity(len);
            let (mut prev, mut cur) = (Surd::zero(), Surd::one());
            for n in 0..len {
                out.push(cur.is_zero());
                let next = &(&beta * &cur) + &(&gamma2 * &prev).scale(&Rational::from(n as u64));
                prev = std::mem::replace(&mut cur, next);
            }
            return out;
        }
    }
    if ee {
        return (0..len).map(|n| n % 2 == 1).collect();
    }
    vec![false; len]
}

/// Structural zero pattern of one atom's table c_0..c_n.
pub(super) fn atom_zero_pattern(atom: &Atom, n: usize) -> Vec<bool> {
    let len = n + 1;
    // zero[k] for c_k = (const)·He_{k−shift}(z0), k ≥ shift
    let kink = |a: &Constant, b: &Constant, shift: usize| -> Vec<bool> {
        let he = match exact_kink(a, b) {
            Some(z0) => hermite_zero_pattern(&z0, len),
            None => vec![false; len],
        };
        (0..len).map(|k| k >= shift && he[k - shift]).collect()
    };
    let mut z = match atom {
        Atom::One => (0..len).map(|k| k >= 1).collect(),
        Atom::Step { a, b } => kink(a, b, 1),
        Atom::Sign { a, b } => {
            let mut z = kink(a, b, 1);
            z[0] = b.is_exact_zero();
            z
        }
        Atom::Relu { a, b } => kink(a, b, 2),
        Atom::Abs { a, b } => {
            let mut z = kink(a, b, 2);
            if len > 1 {
                z[1] = b.is_exact_zero();
            }
            z
        }
        Atom::Exp { c, e, .. } => exp_zero_pattern(c, e, len),
        // sin b = 0 and cos b = 0 never hold for a non-zero algebraic b (Lindemann)
        Atom::Sin { b, .. } => (0..len).map(|k| b.is_exact_zero() && k % 2 == 0).collect(),
        Atom::Cos { b, .. } => (0..len).map(|k| b.is_exact_zero() && k % 2 == 1).collect(),
        Atom::Erf { a, b } => {
            let c = a.mul(a).neg();
            let e = a.mul(b).mul(&Constant::rational(-2));
            let g = exp_zero_pattern(&c, &e, len);
            let mut z: Vec<bool> = (0..len).map(|k| k >= 1 && g[k - 1]).collect();
            z[0] = b.is_exact_zero();
            z
        }
    };
    z.truncate(len);
    z
}

/// Structural zeros of one term: the atom's pattern pushed through the polynomial factor
/// (a coefficient √j c_{j−1} + √(j+1) c_{j+1} + p_m c_j is zero when each piece is).
pub(super) fn term_zero_pattern(term: &ClosedTerm, degree: usize) -> Vec<bool> {
    let poly = trim(term.poly.clone());
    if poly.is_empty() {
        return vec![true; degree + 1];
    }
    let d = poly.len() - 1;
    let t = atom_zero_pattern(&term.atom, degree + d);
    let mut acc = if poly[d].is_exact_zero() {
        vec![true; t.len()]
    } else {
        t.clone()
    };
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        acc = (0..len)
            .map(|j| acc[j + 1] && (j == 0 || acc[j - 1]) && (poly[m].is_exact_zero() || t[j]))
            .collect();
    }
    acc
}

/// `zero[k]` is true when every term's c_k is zero by structure (exactly): exactly zero
/// parameters (b = 0 gives parity), exact Hermite roots at an exact kink (step(z − 1) has
/// c_3 = 0 because He_2(1) = 0), exact recurrences for exp atoms with exact parameters,
/// pushed through exact polynomial factors. When every term has an exact table
/// ([`closed_exact_coefficients`]) the zeros of the exact sum are used instead. A value that
/// is merely small is never reported as zero.
pub fn closed_exact_zeros(terms: &[ClosedTerm], degree: usize) -> Vec<bool> {
    if let Some(exact) = closed_exact_coefficients(terms, degree) {
        return exact.iter().map(Surd::is_zero).collect();
    }
    let mut out = vec![true; degree + 1];
    for t in terms {
        for (o, z) in out.iter_mut().zip(term_zero_pattern(t, degree)) {
            *o &= z;
        }
    }
    out
}

/// Exact c_0..c_degree of the closed terms, when every term has an exact table: atom 1 with
/// exact coefficients, or exp(c z²) (e = f = 0, c rational, √(1/λ) a surd) times an exact
/// polynomial, where c_{2m} = λ^{−1/2}·√((2m)!)·(c/λ)^m/m! and odd ones vanish.
/// `None` as soon as one term has no exact table.
pub fn closed_exact_coefficients(terms: &[ClosedTerm], degree: usize) -> Option<Vec<Surd>> {
    let mut acc = vec![Surd::zero(); degree + 1];
    for t in terms {
        let poly: Vec<Surd> = trim(t.poly.clone())
            .iter()
            .map(|c| c.as_surd().cloned())
            .collect::<Option<_>>()?;
        let table = match &t.atom {
            Atom::One => exact_coefficients(&poly, degree),
            Atom::Exp { c, e, f } if e.is_exact_zero() && f.is_exact_zero() => {
                let c = c.as_surd()?.as_rational()?;
                let lambda = Rational::from(1) - Rational::from(&c * 2u32);
                if lambda <= 0 {
                    return None;
                }
                if poly.is_empty() {
                    continue;
                }
                let amp = sqrt_of_rational(&Rational::from(lambda.recip_ref()))?;
                let gamma = Rational::from(&c / &lambda);
                let n = degree + poly.len() - 1;
                let mut table = vec![Surd::zero(); n + 1];
                let mut gm = Rational::from(1); // γ^m/m!
                for m in 0..=n / 2 {
                    if m >= 1 {
                        gm *= &gamma;
                        gm /= m as u64;
                    }
                    table[2 * m] = &crate::coeffs::exact::sqrt_factorial(2 * m) * &amp.scale(&gm);
                }
                exact_apply_poly(&poly, &table)?
            }
            _ => return None,
        };
        for (a, v) in acc.iter_mut().zip(&table) {
            *a = &*a + v;
        }
    }
    Some(acc)
}

/// Exact version of [`apply_poly`].
pub(super) fn exact_apply_poly(p: &[Surd], table: &[Surd]) -> Option<Vec<Surd>> {
    let d = p.len() - 1;
    let sq: Vec<Surd> = (0..=table.len() as u64)
        .map(Surd::sqrt_int)
        .collect::<Option<_>>()?;
    let mut acc: Vec<Surd> = table.iter().map(|t| t * &p[d]).collect();
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        acc = (0..len)
            .map(|j| {
                let mut v = &sq[j + 1] * &acc[j + 1];
                if j >= 1 {
                    v = &v + &(&sq[j] * &acc[j - 1]);
                }
                &v + &(&p[m] * &table[j])
            })
            .collect();
    }
    Some(acc)
}
