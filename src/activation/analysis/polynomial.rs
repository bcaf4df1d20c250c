//! The polynomial form of an expression (`as_polynomial`).

use super::*;

/// Monomial coefficients p_0..p_n (constant expressions, rational ones folded to `Num`) when
/// the expression is a polynomial in z: sums, differences, products, integer powers, `he<k>`
/// of a polynomial, division by a nonzero constant, any constant. Trailing exact zeros are
/// removed (the zero polynomial is `[0]`). `None` when not recognised as a polynomial, and
/// also when the coefficients would exceed `MAX_POLY_NODES` nodes (possible only with
/// irrational coefficients under high powers or `he<k>`).
pub fn as_polynomial(e: &Expr) -> Option<Vec<Expr>> {
    let p = poly(e)?;
    (p.iter().map(node_count).sum::<usize>() <= MAX_POLY_NODES).then_some(p)
}

pub(super) fn node_count(e: &Expr) -> usize {
    1 + match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => 0,
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => node_count(a),
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            node_count(a) + node_count(b)
        }
    }
}

impl crate::poly::Coefficient for Expr {
    fn zero() -> Expr {
        Expr::num(0)
    }
    fn is_exact_zero(&self) -> bool {
        is_num(self, 0)
    }
    fn plus(&self, other: &Expr) -> Expr {
        s_add(self.clone(), other.clone())
    }
    fn times(&self, other: &Expr) -> Expr {
        s_mul(self.clone(), other.clone())
    }
}

/// Drops trailing zeros but keeps at least the constant term.
pub(super) fn trim(p: Vec<Expr>) -> Vec<Expr> {
    let mut p = crate::poly::trim(p);
    if p.is_empty() {
        p.push(Expr::num(0));
    }
    p
}

pub(super) fn p_add(a: &[Expr], b: &[Expr], negate_b: bool) -> Vec<Expr> {
    let n = a.len().max(b.len());
    let zero = Expr::num(0);
    let out = (0..n)
        .map(|i| {
            let (x, y) = (
                a.get(i).unwrap_or(&zero).clone(),
                b.get(i).unwrap_or(&zero).clone(),
            );
            if negate_b {
                s_sub(x, y)
            } else {
                s_add(x, y)
            }
        })
        .collect();
    trim(out)
}

pub(super) fn p_mul(a: &[Expr], b: &[Expr]) -> Option<Vec<Expr>> {
    let mut out = vec![Expr::num(0); a.len() + b.len() - 1];
    let mut size = 0usize;
    for (i, x) in a.iter().enumerate() {
        if is_num(x, 0) {
            continue;
        }
        for (j, y) in b.iter().enumerate() {
            let t = std::mem::replace(&mut out[i + j], Expr::num(0));
            out[i + j] = s_add(t, s_mul(x.clone(), y.clone()));
        }
        size += out.iter().map(node_count).sum::<usize>();
        if size > 64 * MAX_POLY_NODES {
            return None;
        }
    }
    let out = trim(out);
    (out.iter().map(node_count).sum::<usize>() <= MAX_POLY_NODES).then_some(out)
}

pub(super) fn p_pow(a: &[Expr], mut n: u32) -> Option<Vec<Expr>> {
    let mut result = vec![Expr::num(1)];
    let mut base = a.to_vec();
    while n > 0 {
        if n & 1 == 1 {
            result = p_mul(&result, &base)?;
        }
        n >>= 1;
        if n > 0 {
            base = p_mul(&base, &base)?;
        }
    }
    Some(result)
}

pub(super) fn poly(e: &Expr) -> Option<Vec<Expr>> {
    if e.is_const() {
        return Some(vec![fold(e)]);
    }
    match e {
        Expr::Z => Some(vec![Expr::num(0), Expr::num(1)]),
        Expr::Neg(a) => Some(poly(a)?.into_iter().map(s_neg).collect()),
        Expr::Add(a, b) => Some(p_add(&poly(a)?, &poly(b)?, false)),
        Expr::Sub(a, b) => Some(p_add(&poly(a)?, &poly(b)?, true)),
        Expr::Mul(a, b) => p_mul(&poly(a)?, &poly(b)?),
        Expr::Div(a, b) if b.is_const() => {
            if !sign_info(b).strict() {
                return None;
            }
            let d = fold(b);
            Some(poly(a)?.into_iter().map(|c| s_div(c, d.clone())).collect())
        }
        Expr::Pow(a, n) => p_pow(&poly(a)?, *n),
        Expr::Call(Func::He(k), a) => hermite_compose(*k, &poly(a)?),
        _ => None,
    }
}

/// Coefficients of h_k(u(z)) = He_k(u)/√(k!) for a polynomial u.
pub(super) fn hermite_compose(k: u32, u: &[Expr]) -> Option<Vec<Expr>> {
    let he = he_coefficients(k as usize);
    let (m, s) = sqrt_factorial_parts(k as usize);
    // 1/√(k!) = 1/(m√s) = √s/(m·s)
    let rat_factor = Rational::from((Integer::from(1), Integer::from(&m * &s)));
    let surd = (s != 1).then(|| Expr::Sqrt(Box::new(Expr::Num(Rational::from(s.clone())))));
    let scale = |c: Expr| match &surd {
        None => s_mul(Expr::Num(rat_factor.clone() * Rational::from(s.clone())), c),
        Some(r) => s_mul(s_mul(Expr::Num(rat_factor.clone()), c), r.clone()),
    };
    let rational_u: Option<Vec<Rational>> = u
        .iter()
        .map(|c| match c {
            Expr::Num(q) => Some(q.clone()),
            _ => None,
        })
        .collect();
    let he_u: Vec<Expr> = match rational_u {
        Some(ru) => {
            // Horner over Q: acc = acc·u + c_j, j = k..0
            let mut acc: Vec<Rational> = vec![Rational::new()];
            for c in he.iter().rev() {
                let mut next = vec![Rational::new(); acc.len() + ru.len() - 1];
                for (i, x) in acc.iter().enumerate() {
                    if *x == 0 {
                        continue;
                    }
                    for (j, y) in ru.iter().enumerate() {
                        next[i + j] += Rational::from(x * y);
                    }
                }
                next[0] += c;
                while next.len() > 1 && next.last().is_some_and(|q| *q == 0) {
                    next.pop();
                }
                acc = next;
            }
            acc.into_iter().map(Expr::Num).collect()
        }
        None => {
            let mut acc = vec![Expr::num(0)];
            for c in he.iter().rev() {
                acc = p_mul(&acc, u)?;
                acc[0] = s_add(acc[0].clone(), Expr::Num(Rational::from(c.clone())));
            }
            acc
        }
    };
    Some(trim(he_u.into_iter().map(scale).collect()))
}
