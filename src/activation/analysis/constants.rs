//! Exact and numerically signed constants.

use super::*;

/// The exact value of a constant built from rationals with + − × ÷, integer powers and sqrt
/// of rational squares; `None` for anything else (pi, functions, z).
pub fn fold_rational(e: &Expr) -> Option<Rational> {
    Some(match e {
        Expr::Num(q) => q.clone(),
        Expr::Neg(a) => -fold_rational(a)?,
        Expr::Add(a, b) => fold_rational(a)? + fold_rational(b)?,
        Expr::Sub(a, b) => fold_rational(a)? - fold_rational(b)?,
        Expr::Mul(a, b) => fold_rational(a)? * fold_rational(b)?,
        Expr::Div(a, b) => {
            let d = fold_rational(b)?;
            if d == 0 {
                return None;
            }
            fold_rational(a)? / d
        }
        Expr::Pow(a, n) => {
            let q = fold_rational(a)?;
            let mut r = Rational::from(1);
            for _ in 0..*n {
                r *= &q;
            }
            r
        }
        Expr::Sqrt(a) => {
            let q = fold_rational(a)?;
            if q < 0 || !q.numer().is_perfect_square() || !q.denom().is_perfect_square() {
                return None;
            }
            Rational::from((q.numer().clone().sqrt(), q.denom().clone().sqrt()))
        }
        Expr::Pi | Expr::Z | Expr::Call(..) => return None,
    })
}

/// Value of a constant at `CHECK_PREC` bits, `None` when it is not finite.
pub(super) fn const_value(e: &Expr) -> Option<Float> {
    let v = eval_const_rug(e, CHECK_PREC);
    v.is_finite().then_some(v)
}

/// Largest |value| over all subexpressions of a constant (the scale of its rounding error).
pub(super) fn const_scale(e: &Expr) -> Float {
    let here = eval_const_rug(e, 64).abs();
    let kids = match e {
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => vec![const_scale(a)],
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            vec![const_scale(a), const_scale(b)]
        }
        _ => Vec::new(),
    };
    kids.into_iter()
        .fold(here, |m, k| if k > m { k } else { m })
}

/// Sign of a constant: exact when rational, numerical otherwise (see module doc).
pub(super) fn const_sign_numeric(e: &Expr) -> Option<Ordering> {
    if let Some(q) = fold_rational(e) {
        return Some(q.cmp0());
    }
    let v1 = const_value(e)?;
    let v2 = eval_const_rug(e, CHECK_PREC + 128);
    if !v2.is_finite() {
        return None;
    }
    let scale = const_scale(e);
    let one = Float::with_val(64, 1);
    let floor = Float::with_val(64, if scale > one { scale } else { one }) >> 128u32;
    let s1 = v1.cmp0()?;
    (s1 == v2.cmp0()? && Float::with_val(64, v1.abs_ref()) > floor).then_some(s1)
}

/// An upper bound of a constant (for growth exponents), `None` when not finite.
pub(super) fn const_upper(e: &Expr) -> Option<Float> {
    if let Some(q) = fold_rational(e) {
        return Some(Float::with_val_round(CHECK_PREC, &q, Round::Up).0);
    }
    // the 256-bit value is within ~2^-250 of the truth relative to its largest
    // intermediate; a slack of 2^-200 times that scale (at least 2^-200) is safe
    let v = const_value(e)?;
    let scale = const_scale(e).max(&Float::with_val(64, 1));
    Some(v + (Float::with_val(CHECK_PREC, scale) >> 200u32))
}
