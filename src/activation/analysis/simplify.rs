//! Light simplification, used by the derivative and the polynomial form.

use super::*;

pub(super) fn is_num(e: &Expr, v: i32) -> bool {
    matches!(e, Expr::Num(q) if *q == v)
}

pub(super) fn s_neg(a: Expr) -> Expr {
    match a {
        Expr::Num(q) => Expr::Num(-q),
        Expr::Neg(x) => *x,
        a => Expr::Neg(Box::new(a)),
    }
}

/// The non-numeric part r of `q·r` (or of `r` itself); `None` for a number.
pub(super) fn non_numeric(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Num(_) => None,
        Expr::Mul(a, r) if matches!(**a, Expr::Num(_)) => Some(r),
        e => Some(e),
    }
}

/// Split `q·r` into (q, r); anything else is (1, e).
pub(super) fn split_num(e: Expr) -> (Rational, Expr) {
    match e {
        Expr::Mul(a, r) if matches!(*a, Expr::Num(_)) => {
            let Expr::Num(q) = *a else { unreachable!() };
            (q, *r)
        }
        e => (Rational::from(1), e),
    }
}

pub(super) fn s_add(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x + y),
        (a, b) if is_num(&a, 0) => b,
        (a, b) if is_num(&b, 0) => a,
        // q·r + p·r = (q + p)·r (keeps polynomial coefficients with a common surd compact)
        (a, b) if non_numeric(&a).is_some() && non_numeric(&a) == non_numeric(&b) => {
            let ((x, r), (y, _)) = (split_num(a), split_num(b));
            s_mul(Expr::Num(x + y), r)
        }
        (a, Expr::Neg(b)) => Expr::Sub(Box::new(a), b),
        // a + (−q)·r = a − q·r (readability only)
        (a, Expr::Num(q)) if q < 0 => Expr::Sub(Box::new(a), Box::new(Expr::Num(-q))),
        (a, Expr::Mul(x, r)) if matches!(&*x, Expr::Num(q) if *q < 0) => {
            let Expr::Num(q) = *x else { unreachable!() };
            Expr::Sub(Box::new(a), Box::new(s_mul(Expr::Num(-q), *r)))
        }
        (a, b) => Expr::Add(Box::new(a), Box::new(b)),
    }
}

pub(super) fn s_sub(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x - y),
        (a, b) if is_num(&b, 0) => a,
        (a, b) if is_num(&a, 0) => s_neg(b),
        (a, b) if a == b => Expr::num(0),
        (a, b) => Expr::Sub(Box::new(a), Box::new(b)),
    }
}

pub(super) fn s_mul(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x * y),
        (a, b) if is_num(&a, 0) || is_num(&b, 0) => Expr::num(0),
        (a, b) if is_num(&a, 1) => b,
        (a, b) if is_num(&b, 1) => a,
        (a, b) if is_num(&a, -1) => s_neg(b),
        (a, b) if is_num(&b, -1) => s_neg(a),
        (Expr::Neg(a), b) => s_neg(s_mul(*a, b)),
        (a, Expr::Neg(b)) => s_neg(s_mul(a, *b)),
        (Expr::Num(x), Expr::Mul(y, r)) if matches!(*y, Expr::Num(_)) => {
            let Expr::Num(y) = *y else { unreachable!() };
            s_mul(Expr::Num(x * y), *r)
        }
        (a, Expr::Num(x)) => s_mul(Expr::Num(x), a),
        // numeric factors to the front: (q·r)·b = q·(r·b)
        (Expr::Mul(x, r), b) if matches!(*x, Expr::Num(_)) => s_mul(*x, s_mul(*r, b)),
        (a, Expr::Mul(x, r)) if matches!(*x, Expr::Num(_)) => s_mul(*x, s_mul(a, *r)),
        // √q·√q = q for a rational q ≥ 0
        (Expr::Sqrt(x), Expr::Sqrt(y)) if x == y && matches!(&*x, Expr::Num(q) if *q >= 0) => *x,
        (a, b) => Expr::Mul(Box::new(a), Box::new(b)),
    }
}

pub(super) fn s_div(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) if y != 0 => Expr::Num(x / y),
        (a, _) if is_num(&a, 0) => Expr::num(0),
        (a, b) if is_num(&b, 1) => a,
        (a, Expr::Num(y)) if y != 0 => s_mul(Expr::Num(y.recip()), a),
        (a, b) => Expr::Div(Box::new(a), Box::new(b)),
    }
}

pub(super) fn s_pow(a: Expr, n: u32) -> Expr {
    match (a, n) {
        (_, 0) => Expr::num(1),
        (a, 1) => a,
        (Expr::Num(q), n) => {
            Expr::Num(fold_rational(&Expr::Pow(Box::new(Expr::Num(q)), n)).expect("rational"))
        }
        (a, n) => Expr::Pow(Box::new(a), n),
    }
}

/// Fold a constant to a `Num` when it is rational, otherwise keep it.
pub(super) fn fold(e: &Expr) -> Expr {
    fold_rational(e).map(Expr::Num).unwrap_or_else(|| e.clone())
}

/// √k as an expression: an integer when k is a square, `sqrt(k)` otherwise.
pub(super) fn sqrt_int(k: u32) -> Expr {
    let r = (k as f64).sqrt().round() as u32;
    if r * r == k {
        Expr::num(r)
    } else {
        Expr::Sqrt(Box::new(Expr::num(k)))
    }
}
