//! The symbolic derivative.

use super::*;

/// The symbolic derivative, lightly simplified (0·x → 0, 1·x → x, x + 0 → x, rational
/// constants folded). `None` when the derivative is not a function: step or sign of a
/// non-constant argument (a Dirac delta; hence also relu'' and abs''), or sqrt of an argument
/// not provably > 0 (u'/(2√u) may be singular where u vanishes).
pub fn derivative(e: &Expr) -> Option<Expr> {
    if e.is_const() {
        return Some(Expr::num(0));
    }
    Some(match e {
        Expr::Num(_) | Expr::Pi => Expr::num(0),
        Expr::Z => Expr::num(1),
        Expr::Neg(a) => s_neg(derivative(a)?),
        Expr::Add(a, b) => s_add(derivative(a)?, derivative(b)?),
        Expr::Sub(a, b) => s_sub(derivative(a)?, derivative(b)?),
        Expr::Mul(a, b) => {
            let (da, db) = (derivative(a)?, derivative(b)?);
            s_add(s_mul(da, (**b).clone()), s_mul((**a).clone(), db))
        }
        Expr::Div(a, b) => {
            let da = derivative(a)?;
            if b.is_const() {
                return Some(s_div(da, (**b).clone()));
            }
            let db = derivative(b)?;
            let num = s_sub(s_mul(da, (**b).clone()), s_mul((**a).clone(), db));
            s_div(num, s_pow((**b).clone(), 2))
        }
        Expr::Pow(_, 0) => Expr::num(0),
        Expr::Pow(a, n) => {
            let da = derivative(a)?;
            let outer = s_mul(Expr::num(*n), s_pow((**a).clone(), n - 1));
            s_mul(outer, da)
        }
        Expr::Sqrt(a) => {
            if sign_info(a).s != Sg::Pos {
                return None;
            }
            let da = derivative(a)?;
            s_div(da, s_mul(Expr::num(2), e.clone()))
        }
        Expr::Call(f, a) => {
            let da = derivative(a)?;
            let u = (**a).clone();
            let call = |g: Func, x: Expr| Expr::Call(g, Box::new(x));
            let sig = call(Func::Sigmoid, u.clone());
            let outer = match f {
                Func::Relu => call(Func::Step, u),
                Func::Abs => call(Func::Sign, u),
                Func::Step | Func::Sign => return None,
                // 2/√π · exp(−u²)
                Func::Erf => s_mul(
                    Expr::Div(
                        Box::new(Expr::num(2)),
                        Box::new(Expr::Sqrt(Box::new(Expr::Pi))),
                    ),
                    call(Func::Exp, s_neg(s_pow(u, 2))),
                ),
                Func::Tanh => s_sub(Expr::num(1), s_pow(e.clone(), 2)),
                Func::Sigmoid => s_mul(sig.clone(), s_sub(Expr::num(1), sig)),
                Func::Softplus => sig,
                // Φ(u) + u φ(u) = (1 + erf(u/√2))/2 + u·exp(−u²/2)/√(2π)
                Func::Gelu => {
                    let sqrt2 = Expr::Sqrt(Box::new(Expr::num(2)));
                    let cdf = s_div(
                        s_add(Expr::num(1), call(Func::Erf, s_div(u.clone(), sqrt2))),
                        Expr::num(2),
                    );
                    let pdf_num = call(Func::Exp, s_div(s_neg(s_pow(u.clone(), 2)), Expr::num(2)));
                    let sqrt2pi = Expr::Sqrt(Box::new(s_mul(Expr::num(2), Expr::Pi)));
                    s_add(cdf, s_div(s_mul(u, pdf_num), sqrt2pi))
                }
                // s + u·s·(1 − s)
                Func::Silu => s_add(
                    sig.clone(),
                    s_mul(s_mul(u, sig.clone()), s_sub(Expr::num(1), sig)),
                ),
                Func::Sin => call(Func::Cos, u),
                Func::Cos => s_neg(call(Func::Sin, u)),
                Func::Exp => e.clone(),
                Func::Log1p => s_div(Expr::num(1), s_add(Expr::num(1), u)),
                Func::He(0) => Expr::num(0),
                Func::He(k) => s_mul(sqrt_int(*k), call(Func::He(k - 1), u)),
            };
            s_mul(outer, da)
        }
    })
}
