//! The num-bigfloat evaluator of activation specs, and the location of their kinks.

use super::*;

/// Evaluate a spec at z in 40-digit decimal arithmetic.
///
/// Each operation and library function is correct to about one unit in the 40th digit;
/// erf/erfc/Φ/log1p are this module's own (see their docs). The result of an expression
/// therefore has the usual forward error: a few units of 1e−40 times the condition number
/// of the expression (no cancellation control beyond the functions themselves).
///
/// Conventions: step(0) = 1/2, sign(0) = 0, gelu(x) = x·Φ(x), silu(x) = x·sigmoid(x),
/// he<k> = h_k. Errors: division by zero, sqrt of a negative number, log1p(u) with u ≤ −1,
/// overflow (BigFloat is finite up to ~1e166), a literal out of range. Values below 1e−89 are
/// flushed to zero (module doc, "Dynamic range").
pub fn eval_bigfloat(expr: &Expr, z: &BigFloat) -> Result<BigFloat, String> {
    let v = match expr {
        Expr::Num(q) => rational_to_bigfloat(q)?,
        Expr::Pi => PI,
        Expr::Z => flush_subnormal(*z),
        Expr::Neg(a) => -eval_bigfloat(a, z)?,
        Expr::Add(a, b) => flush_subnormal(eval_bigfloat(a, z)? + eval_bigfloat(b, z)?),
        Expr::Sub(a, b) => flush_subnormal(eval_bigfloat(a, z)? - eval_bigfloat(b, z)?),
        Expr::Mul(a, b) => mul(eval_bigfloat(a, z)?, eval_bigfloat(b, z)?),
        Expr::Div(a, b) => {
            let num = eval_bigfloat(a, z)?;
            let den = eval_bigfloat(b, z)?;
            div_bigfloat(&num, &den).map_err(|e| format!("{e} at z = {z}"))?
        }
        Expr::Pow(a, n) => powi(eval_bigfloat(a, z)?, *n),
        Expr::Sqrt(a) => {
            let v = eval_bigfloat(a, z)?;
            if v.is_negative() {
                return Err(format!("sqrt of negative number {v} at z = {z}"));
            }
            flush_subnormal(v.sqrt())
        }
        Expr::Call(f, a) => apply_function(f, &eval_bigfloat(a, z)?)?,
    };
    check_finite(v, "eval_bigfloat")
}

/// One named function of the spec language, in BigFloat (clean in, clean out).
pub fn apply_function(f: &Func, x: &BigFloat) -> Result<BigFloat, String> {
    let x = &flush_subnormal(*x);
    let v = match f {
        Func::Relu => {
            if x.is_positive() {
                *x
            } else {
                ZERO
            }
        }
        Func::Abs => x.abs(),
        Func::Step => {
            if x.is_zero() {
                half()
            } else if x.is_positive() {
                ONE
            } else {
                ZERO
            }
        }
        Func::Sign => {
            if x.is_zero() {
                ZERO
            } else if x.is_positive() {
                ONE
            } else {
                -ONE
            }
        }
        Func::Erf => erf_bigfloat(x),
        Func::Tanh => x.tanh(),
        Func::Sigmoid => sigmoid_bigfloat(x),
        Func::Softplus => softplus_bigfloat(x)?,
        Func::Gelu => mul(*x, normal_cdf_bigfloat(x)),
        Func::Silu => mul(*x, sigmoid_bigfloat(x)),
        Func::Sin => x.sin(),
        Func::Cos => x.cos(),
        Func::Exp => exp_bigfloat(x),
        Func::Log1p => log1p_bigfloat(x)?,
        Func::He(k) => normalised_hermite_bigfloat(*k, x),
    };
    check_finite(flush_subnormal(v), &f.name())
}

/// The points where a kinked function (relu, abs, step, sign) changes branch: for each call
/// whose argument depends on z, the argument is taken to be affine, a·z + b, with b and a
/// read off by evaluating it at z = 0 and z = 1; the kink is −b/a. Affinity is checked at
/// z = −1.75 and z = 2.25 (an argument that is not affine there is an error). Arguments with
/// a = 0 are constant and give no kink. The result is sorted, without duplicates (points
/// closer than 1e−36 are merged).
pub fn bigfloat_kink_locations(expr: &Expr) -> Result<Vec<BigFloat>, String> {
    let mut out = Vec::new();
    collect_kinks(expr, &mut out)?;
    out.sort_by(|a, b| a.partial_cmp(b).expect("kinks are finite"));
    let close = BigFloat::parse("1e-36").unwrap();
    let mut merged: Vec<BigFloat> = Vec::new();
    for k in out {
        match merged.last() {
            Some(last) if (k - *last).abs() <= close * (ONE + k.abs()) => {}
            _ => merged.push(k),
        }
    }
    Ok(merged)
}

fn collect_kinks(expr: &Expr, out: &mut Vec<BigFloat>) -> Result<(), String> {
    match expr {
        Expr::Num(_) | Expr::Pi | Expr::Z => Ok(()),
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) => collect_kinks(a, out),
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            collect_kinks(a, out)?;
            collect_kinks(b, out)
        }
        Expr::Call(f, a) => {
            if f.is_kinked() && !a.is_const() {
                if let Some(k) = affine_zero(a, f)? {
                    out.push(k);
                }
            }
            collect_kinks(a, out)
        }
    }
}

/// The zero −b/a of an affine argument a·z + b, or None when a = 0.
fn affine_zero(arg: &Expr, f: &Func) -> Result<Option<BigFloat>, String> {
    let not_affine = || format!("argument of {} is not affine in z", f.name());
    let b = eval_bigfloat(arg, &ZERO).map_err(|e| format!("{}: {e}", not_affine()))?;
    let a = eval_bigfloat(arg, &ONE).map_err(|e| format!("{}: {e}", not_affine()))? - b;
    let a = flush_subnormal(a);
    let tol = BigFloat::parse("1e-34").unwrap();
    for t in ["-1.75", "2.25"] {
        let t = BigFloat::parse(t).unwrap();
        let v = eval_bigfloat(arg, &t).map_err(|e| format!("{}: {e}", not_affine()))?;
        let predicted = mul(a, t) + b;
        if (v - predicted).abs() > mul(tol, ONE + b.abs() + mul(a.abs(), t.abs())) {
            return Err(not_affine());
        }
    }
    if a.is_zero() {
        Ok(None)
    } else {
        Ok(Some(-div_bigfloat(&b, &a)?))
    }
}
