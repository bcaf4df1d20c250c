//! Validation of specs (rules (a)–(e) of the parent module).

use super::*;

/// Check rules (a)–(e) of the module doc. Positions come from re-parsing `source`; when the
/// tree did not come from `source` (a derived expression), every position is 0.
pub fn validate(source: &str, e: &Expr) -> Result<(), SpecError> {
    let sp = match parse_spanned(source) {
        Ok((pe, sp)) if pe == *e => sp,
        _ => Spanned::zeros(e),
    };
    let fail = |(position, reason): (usize, String)| SpecError {
        source_text: source.to_string(),
        position,
        reason,
    };
    check_local(e, &sp).map_err(fail)?;
    match growth(e, &sp).blame {
        Some(b) => Err(fail(b)),
        None => Ok(()),
    }
}

/// Rules (b)–(e), children first (so the innermost problem is reported).
pub(super) fn check_local(e: &Expr, sp: &Spanned) -> Result<(), (usize, String)> {
    match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => {}
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => {
            check_local(a, &sp.kids[0])?
        }
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            check_local(a, &sp.kids[0])?;
            check_local(b, &sp.kids[1])?;
        }
    }
    let reason = match e {
        Expr::Div(_, b) if fold_rational(b).is_some_and(|q| q == 0) => {
            Some("division by zero".to_string())
        }
        Expr::Div(_, b) if b.is_const() && !sign_info(b).strict() => Some(
            "the constant denominator is zero, or too close to zero to tell apart at 256 bits"
                .into(),
        ),
        Expr::Div(_, b) if !sign_info(b).strict() => Some(
            "cannot prove the denominator nonzero for every z (provably nonzero: nonzero \
             constants, exp, sigmoid, softplus, 1 + z^2, sums and products of positives, \
             even powers plus a positive constant)"
                .into(),
        ),
        Expr::Sqrt(a) if !sign_info(a).nonneg() => {
            Some("cannot prove the argument of sqrt is >= 0 for every z".into())
        }
        Expr::Call(Func::Log1p, a)
            if sign_info(&Expr::Add(Box::new(Expr::num(1)), a.clone())).s != Sg::Pos =>
        {
            Some("cannot prove the argument of log1p is > -1 for every z".into())
        }
        Expr::Call(f, a) if f.is_kinked() && !a.is_const() => kink_argument_problem(f, a),
        _ if e.is_const() && const_value(e).is_none() => {
            Some("this constant evaluates to NaN or overflows (not a finite number)".into())
        }
        _ => None,
    };
    match reason {
        Some(r) => Err((sp.pos, r)),
        None => Ok(()),
    }
}

/// Rule (b): why the argument `a` of a kinked function is not affine with nonzero slope.
pub(super) fn kink_argument_problem(f: &Func, a: &Expr) -> Option<String> {
    let affine = format!(
        "the argument of {} must be affine in z (a*z + b, a != 0)",
        f.name()
    );
    match as_polynomial(a) {
        None => Some(affine),
        Some(p) if p.len() > 2 => Some(format!(
            "{affine}; got a polynomial of degree {}",
            p.len() - 1
        )),
        Some(p) if p.len() == 1 => None, // constant after simplification: no kink
        Some(p) if !sign_info(&p[1]).strict() => Some(format!(
            "{affine}; the slope is zero or too close to zero to tell"
        )),
        Some(_) => None,
    }
}
