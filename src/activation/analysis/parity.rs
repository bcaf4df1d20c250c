//! Parity of an expression.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum P {
    /// identically zero (both even and odd)
    Zero,
    Even,
    Odd,
    Neither,
}

/// Even/Odd/Neither under z → −z, conservative.
pub fn parity(e: &Expr) -> Parity {
    match par(e) {
        P::Zero | P::Even => Parity::Even,
        P::Odd => Parity::Odd,
        P::Neither => Parity::Neither,
    }
}

pub(super) fn par(e: &Expr) -> P {
    use P::*;
    if e.is_const() {
        return if fold_rational(e).is_some_and(|q| q == 0) {
            Zero
        } else {
            Even
        };
    }
    let add = |a: P, b: P| match (a, b) {
        (Zero, x) | (x, Zero) => x,
        (Even, Even) => Even,
        (Odd, Odd) => Odd,
        _ => Neither,
    };
    let mul = |a: P, b: P| match (a, b) {
        (Zero, _) | (_, Zero) => Zero,
        (Neither, _) | (_, Neither) => Neither,
        (x, y) if x == y => Even,
        _ => Odd,
    };
    match e {
        Expr::Num(_) | Expr::Pi => Even,
        Expr::Z => Odd,
        Expr::Neg(a) => par(a),
        Expr::Add(a, b) | Expr::Sub(a, b) => add(par(a), par(b)),
        Expr::Mul(a, b) | Expr::Div(a, b) => mul(par(a), par(b)),
        Expr::Pow(a, n) => match par(a) {
            _ if *n == 0 => Even,
            Odd if n % 2 == 1 => Odd,
            Odd => Even,
            x => x,
        },
        Expr::Sqrt(a) => match par(a) {
            Zero | Even => par(a),
            _ => Neither,
        },
        Expr::Call(f, a) => match par(a) {
            Zero => Even,
            Even => Even,
            Neither => Neither,
            Odd => match f {
                Func::Erf | Func::Tanh | Func::Sin | Func::Sign => Odd,
                Func::Abs | Func::Cos => Even,
                Func::He(k) => {
                    if k % 2 == 1 {
                        Odd
                    } else {
                        Even
                    }
                }
                _ => Neither,
            },
        },
    }
}
