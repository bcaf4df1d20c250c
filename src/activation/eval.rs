//! Evaluation of expressions in MPFR (rug) and in f64.
//!
//! Accuracy contract.
//! - [`eval_rug`] works at `prec + GUARD_BITS` bits and rounds the result to `prec` bits
//!   (round to nearest). Every operation is a correctly rounded MPFR primitive, so each adds
//!   a relative error ≤ 2^−(prec+GUARD_BITS) to its own result; the error of the result is
//!   that perturbation propagated through the expression. When no step amplifies errors by
//!   more than 2^(GUARD_BITS−4) (no catastrophic cancellation), the result is within one ulp
//!   at `prec` bits. In general the absolute error is
//!   ≲ n_ops · 2^−(prec+GUARD_BITS) · M · (largest condition factor), M the largest
//!   intermediate magnitude; `he<k>` counts as k steps relative to max_{j≤k} |h_j(x)|
//!   (see `hermite.rs`). The input `z` is first rounded to the working precision.
//! - [`eval_f64`] is plain f64 arithmetic with the `libm` functions (erf, erfc, exp, log1p,
//!   tanh, sin, cos, pow, all with errors of about one ulp). No claim beyond ordinary
//!   rounding: a few ulps times the condition number of each step.
//!
//! The stable forms (same in both evaluators), with x the argument:
//! - sigmoid(x) = 1/(1 + e^−x) for x ≥ 0 and e^x/(1 + e^x) for x < 0 (exp never overflows,
//!   no 1 − tiny cancellation);
//! - softplus(x) = max(x, 0) + log1p(e^−|x|) (no overflow for x ≫ 0, no log(1 + tiny) loss);
//! - gelu(x) = x · erfc(−x/√2) / 2 (for x ≪ 0, 1 + erf(x/√2) would cancel completely);
//! - silu(x) = x · sigmoid(x); step(0) = 1/2; sign(0) = 0; log1p as the primitive;
//! - `he<k>` by the normalised recurrence of `hermite::NormalisedHermite` (rug) and the same
//!   recurrence written out in f64 (an independent implementation for the f64 path).
//!
//! Proofs-note: `proofs-notes/activation.md` §2. Tests: `tests/activation.rs`
//! (`eval_f64_matches_rug_*`, `eval_rug_precision_*`).

use super::ast::{Expr, Func};
use crate::hermite::NormalisedHermite;
use rug::float::Constant;
use rug::Float;

/// Extra bits carried by [`eval_rug`] beyond the requested precision.
pub const GUARD_BITS: u32 = 32;

/// Evaluate at `z` with `prec` bits (working precision `prec + GUARD_BITS`).
pub fn eval_rug(e: &Expr, z: &Float, prec: u32) -> Float {
    RugEvaluator::new(e, prec).eval(z)
}

/// Evaluate a constant expression with `prec` bits.
pub fn eval_const_rug(e: &Expr, prec: u32) -> Float {
    eval_rug(e, &Float::new(prec), prec)
}

/// A reusable rug evaluator of one expression at one precision: it keeps the Hermite
/// recurrence tables (√k, 1/√(k+1)) and π, so evaluating at many points (quadrature nodes)
/// does not rebuild them. Same accuracy contract as [`eval_rug`].
#[derive(Clone, Debug)]
pub struct RugEvaluator {
    expr: Expr,
    prec: u32,
    wp: u32,
    hermite: Option<NormalisedHermite>,
    pi: Float,
    sqrt2: Float,
}

impl RugEvaluator {
    pub fn new(e: &Expr, prec: u32) -> Self {
        let wp = prec + GUARD_BITS;
        let kmax = max_hermite_degree(e);
        RugEvaluator {
            expr: e.clone(),
            prec,
            wp,
            hermite: kmax.map(|k| NormalisedHermite::new(k as usize, wp)),
            pi: Float::with_val(wp, Constant::Pi),
            sqrt2: Float::with_val(wp, 2).sqrt(),
        }
    }

    /// The value at `z`, rounded to the requested precision.
    pub fn eval(&self, z: &Float) -> Float {
        let z = Float::with_val(self.wp, z);
        Float::with_val(self.prec, self.go(&self.expr, &z))
    }

    fn go(&self, e: &Expr, z: &Float) -> Float {
        let wp = self.wp;
        match e {
            Expr::Num(q) => Float::with_val(wp, q),
            Expr::Pi => self.pi.clone(),
            Expr::Z => z.clone(),
            Expr::Neg(a) => -self.go(a, z),
            Expr::Add(a, b) => self.go(a, z) + self.go(b, z),
            Expr::Sub(a, b) => self.go(a, z) - self.go(b, z),
            Expr::Mul(a, b) => self.go(a, z) * self.go(b, z),
            Expr::Div(a, b) => self.go(a, z) / self.go(b, z),
            Expr::Pow(a, n) => {
                let x = self.go(a, z);
                Float::with_val(wp, rug::ops::Pow::pow(&x, *n))
            }
            Expr::Sqrt(a) => self.go(a, z).sqrt(),
            Expr::Call(f, a) => {
                let x = self.go(a, z);
                self.call(f, x)
            }
        }
    }

    fn call(&self, f: &Func, x: Float) -> Float {
        let wp = self.wp;
        match f {
            Func::Relu => {
                if x < 0 {
                    Float::with_val(wp, 0)
                } else {
                    x
                }
            }
            Func::Abs => x.abs(),
            Func::Step => step_rug(&x, wp),
            Func::Sign => {
                if x.is_nan() {
                    x
                } else if x > 0 {
                    Float::with_val(wp, 1)
                } else if x < 0 {
                    Float::with_val(wp, -1)
                } else {
                    Float::with_val(wp, 0)
                }
            }
            Func::Erf => x.erf(),
            Func::Tanh => x.tanh(),
            Func::Sigmoid => sigmoid_rug(x),
            Func::Softplus => {
                // max(x,0) + log1p(exp(-|x|))
                let t = (-Float::with_val(wp, x.abs_ref())).exp().ln_1p();
                if x > 0 {
                    x + t
                } else {
                    t
                }
            }
            Func::Gelu => {
                // x·erfc(−x/√2)/2
                let t = (-Float::with_val(wp, &x / &self.sqrt2)).erfc();
                x * t / 2u32
            }
            Func::Silu => {
                let s = sigmoid_rug(x.clone());
                x * s
            }
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Exp => x.exp(),
            Func::Log1p => x.ln_1p(),
            Func::He(k) => {
                let table = self.hermite.as_ref().expect("tables sized for every he<k>");
                let mut v = table.values(&x);
                v.swap_remove(*k as usize)
            }
        }
    }

    /// The working precision `prec + GUARD_BITS`.
    pub fn working_precision(&self) -> u32 {
        self.wp
    }
}

fn step_rug(x: &Float, wp: u32) -> Float {
    if x.is_nan() {
        x.clone()
    } else if *x > 0 {
        Float::with_val(wp, 1)
    } else if *x < 0 {
        Float::with_val(wp, 0)
    } else {
        Float::with_val(wp, 0.5)
    }
}

fn sigmoid_rug(x: Float) -> Float {
    let wp = x.prec();
    if x >= 0 {
        let e = Float::with_val(wp, -x).exp();
        Float::with_val(wp, 1 + e).recip()
    } else {
        let e = x.exp();
        let d = Float::with_val(wp, 1 + &e);
        e / d
    }
}

/// The largest k of any `he<k>` in the tree.
pub fn max_hermite_degree(e: &Expr) -> Option<u32> {
    match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => None,
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) => max_hermite_degree(a),
        Expr::Call(f, a) => {
            let here = if let Func::He(k) = f { Some(*k) } else { None };
            here.max(max_hermite_degree(a))
        }
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            max_hermite_degree(a).max(max_hermite_degree(b))
        }
    }
}

/// Evaluate at `z` in f64.
pub fn eval_f64(e: &Expr, z: f64) -> f64 {
    match e {
        // rounded to nearest (Rational::to_f64 would truncate)
        Expr::Num(q) => Float::with_val(53, q).to_f64(),
        Expr::Pi => std::f64::consts::PI,
        Expr::Z => z,
        Expr::Neg(a) => -eval_f64(a, z),
        Expr::Add(a, b) => eval_f64(a, z) + eval_f64(b, z),
        Expr::Sub(a, b) => eval_f64(a, z) - eval_f64(b, z),
        Expr::Mul(a, b) => eval_f64(a, z) * eval_f64(b, z),
        Expr::Div(a, b) => eval_f64(a, z) / eval_f64(b, z),
        Expr::Pow(a, n) => libm::pow(eval_f64(a, z), *n as f64),
        Expr::Sqrt(a) => libm::sqrt(eval_f64(a, z)),
        Expr::Call(f, a) => call_f64(f, eval_f64(a, z)),
    }
}

/// One function applied to an f64 argument (the stable forms listed in the module doc).
pub fn call_f64(f: &Func, x: f64) -> f64 {
    match f {
        Func::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        Func::Abs => x.abs(),
        Func::Step => {
            if x.is_nan() {
                x
            } else if x > 0.0 {
                1.0
            } else if x < 0.0 {
                0.0
            } else {
                0.5
            }
        }
        Func::Sign => {
            if x.is_nan() {
                x
            } else if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        Func::Erf => libm::erf(x),
        Func::Tanh => libm::tanh(x),
        Func::Sigmoid => sigmoid_f64(x),
        Func::Softplus => x.max(0.0) + libm::log1p(libm::exp(-x.abs())),
        Func::Gelu => x * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2) * 0.5,
        Func::Silu => x * sigmoid_f64(x),
        Func::Sin => libm::sin(x),
        Func::Cos => libm::cos(x),
        Func::Exp => libm::exp(x),
        Func::Log1p => libm::log1p(x),
        Func::He(k) => hermite_f64(*k, x),
    }
}

fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// h_k(x) in f64 by h_{j+1} = (x h_j − √j h_{j−1})/√(j+1) (docs/conventions.md §1). Absolute error
/// ≲ 4(k+1)·2^−53·max_{j≤k}|h_j(x)|, as for the rug recurrence.
fn hermite_f64(k: u32, x: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let (mut prev, mut cur) = (1.0f64, x);
    for j in 1..k {
        let jf = j as f64;
        let next = (x * cur - jf.sqrt() * prev) / (jf + 1.0).sqrt();
        prev = cur;
        cur = next;
    }
    cur
}
