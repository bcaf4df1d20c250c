//! Analytic facts used by the enclosure route: the branch of a spec on one piece of the line,
//! a proved bound of |f| on a horizontal strip, a proved bound of |h_k| off the real axis
//! (Mehler), and an interval evaluator of the branch on the real line.
//!
//! Accuracy contract: [`strip_growth`] returns (A, m, B) with
//! |f(x + iy)| ≤ A·(1 + |x|)^m·e^{B|x|} for every real x and |y| ≤ a, f analytic on that
//! closed strip, or `None` when the rules below cannot prove it (the spec then keeps the
//! estimate route). [`mehler_factor`] returns an upper bound of |h_k(x + iy)|·e^{−x²/4} for
//! |y| ≤ a. All constants are rounded upward (64-bit MPFR, directed rounding).
//! Derivations: `proofs-notes/coefficient-enclosures.md` §2–§3.

use crate::activation::analysis::as_polynomial;
use crate::activation::{Expr, Func};
use crate::interval::Interval as Iv;
use rug::float::{Constant, Round};
use rug::{Float, Integer};

/// Precision of the bound constants.
pub const BP: u32 = 64;

pub fn up<T>(v: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = std::cmp::Ordering>,
{
    Float::with_val_round(BP, v, Round::Up).0
}

pub fn dn<T>(v: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = std::cmp::Ordering>,
{
    Float::with_val_round(BP, v, Round::Down).0
}

fn max_f(a: Float, b: Float) -> Float {
    if a > b {
        a
    } else {
        b
    }
}

/// |f(x+iy)| ≤ amp·(1+|x|)^m·e^{rate·|x|} on the strip.
#[derive(Clone, Debug)]
pub struct Growth {
    pub amp: Float,
    pub m: u32,
    pub rate: Float,
}

impl Growth {
    fn constant(c: Float) -> Growth {
        Growth {
            amp: c,
            m: 0,
            rate: Float::new(BP),
        }
    }
    /// Upper bound of amp·(1+x)^m·e^{rate·x} at x ≥ 0.
    pub fn at(&self, x: &Float) -> Float {
        let one_x = up(x + 1u32);
        let p = up(rug::ops::Pow::pow(&one_x, self.m));
        let e = up(up(&self.rate * x).exp_ref());
        up(up(&self.amp * &p) * &e)
    }
}

/// The expression with every relu/abs/step/sign replaced by its branch at the sample point
/// (the branch is then the analytic continuation of the spec on the open piece that contains
/// the sample). `None` when a kinked argument vanishes at the sample.
pub fn specialize(e: &Expr, sample: &Float, prec: u32) -> Option<Expr> {
    let b = |x: &Expr| specialize(x, sample, prec).map(Box::new);
    Some(match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => e.clone(),
        Expr::Neg(a) => Expr::Neg(b(a)?),
        Expr::Add(x, y) => Expr::Add(b(x)?, b(y)?),
        Expr::Sub(x, y) => Expr::Sub(b(x)?, b(y)?),
        Expr::Mul(x, y) => Expr::Mul(b(x)?, b(y)?),
        Expr::Div(x, y) => Expr::Div(b(x)?, b(y)?),
        Expr::Pow(x, n) => Expr::Pow(b(x)?, *n),
        Expr::Sqrt(x) => Expr::Sqrt(b(x)?),
        Expr::Call(f, u) if f.is_kinked() => {
            let u = specialize(u, sample, prec)?;
            let v = eval_iv(&u, &Iv::point(prec, sample), &Consts::new(prec))?;
            let positive = if v.lo > 0 {
                true
            } else if v.hi < 0 {
                false
            } else {
                return None;
            };
            match (f, positive) {
                (Func::Relu, true) | (Func::Abs, true) => u,
                (Func::Relu, false) => Expr::num(0),
                (Func::Abs, false) => Expr::Neg(Box::new(u)),
                (Func::Step, true) | (Func::Sign, true) => Expr::num(1),
                (Func::Step, false) => Expr::num(0),
                (Func::Sign, false) => Expr::num(-1),
                _ => unreachable!("kinked functions are relu, abs, step, sign"),
            }
        }
        Expr::Call(f, u) => Expr::Call(f.clone(), b(u)?),
    })
}

/// Interval constants of one precision.
pub struct Consts {
    pub prec: u32,
    pub pi: Iv,
    pub inv_sqrt2: Iv,
    pub inv_sqrt_2pi: Iv,
}

impl Consts {
    pub fn new(prec: u32) -> Consts {
        let pi = Iv::pi(prec);
        let two = Iv::from_u64(prec, 2);
        let inv_sqrt2 = two.sqrt().unwrap().recip().unwrap();
        let inv_sqrt_2pi = pi.mul(&two).sqrt().unwrap().recip().unwrap();
        Consts {
            prec,
            pi,
            inv_sqrt2,
            inv_sqrt_2pi,
        }
    }
}

/// The branch expression on an interval of the real line (kinked calls must have been
/// removed by [`specialize`]; `None` otherwise or outside a function's domain).
pub fn eval_iv(e: &Expr, x: &Iv, c: &Consts) -> Option<Iv> {
    let p = c.prec;
    Some(match e {
        Expr::Num(q) => Iv::from_rational(p, q),
        Expr::Pi => c.pi.clone(),
        Expr::Z => x.clone(),
        Expr::Neg(a) => eval_iv(a, x, c)?.neg(),
        Expr::Add(a, b) => eval_iv(a, x, c)?.add(&eval_iv(b, x, c)?),
        Expr::Sub(a, b) => eval_iv(a, x, c)?.sub(&eval_iv(b, x, c)?),
        Expr::Mul(a, b) => eval_iv(a, x, c)?.mul(&eval_iv(b, x, c)?),
        Expr::Div(a, b) => eval_iv(a, x, c)?.div(&eval_iv(b, x, c)?)?,
        Expr::Pow(a, n) => eval_iv(a, x, c)?.pow(*n),
        Expr::Sqrt(a) => eval_iv(a, x, c)?.sqrt()?,
        Expr::Call(f, a) => {
            let u = eval_iv(a, x, c)?;
            match f {
                Func::Tanh => u.tanh(),
                Func::Erf => u.erf(),
                Func::Exp => u.exp(),
                Func::Sin => u.sin(),
                Func::Cos => u.cos(),
                Func::Sigmoid => u.sigmoid(),
                Func::Silu => u.mul(&u.sigmoid()),
                // log(1 + e^u), increasing
                Func::Softplus => u.exp().ln_1p()?,
                // u·(1 + erf(u/√2))/2
                Func::Gelu => {
                    let one = Iv::from_u64(p, 1);
                    u.mul(&one.add(&u.mul(&c.inv_sqrt2).erf())).shr(1)
                }
                Func::Log1p => u.ln_1p()?,
                Func::He(k) => hermite_iv(&u, *k as usize),
                Func::Relu | Func::Abs | Func::Step | Func::Sign => return None,
            }
        }
    })
}

/// h_k(u) = He_k(u)/√(k!) on an interval, by the recurrence He_{j+1} = u He_j − j He_{j−1}.
fn hermite_iv(u: &Iv, k: usize) -> Iv {
    let p = u.prec();
    let mut h0 = Iv::from_u64(p, 1);
    if k == 0 {
        return h0;
    }
    let mut h1 = u.clone();
    for j in 1..k {
        let h2 = u.mul(&h1).sub(&h0.mul_u64(j as u64));
        h0 = h1;
        h1 = h2;
    }
    h1.mul(&inv_sqrt_factorial(p, k))
}

/// 1/√(k!) as an interval.
pub fn inv_sqrt_factorial(p: u32, k: usize) -> Iv {
    let f = Integer::from(Integer::factorial(k as u32));
    Iv {
        lo: Float::with_val_round(p, &f, Round::Down).0,
        hi: Float::with_val_round(p, &f, Round::Up).0,
    }
    .sqrt()
    .unwrap()
    .recip()
    .unwrap()
}

/// α, β (as intervals) when u = α z + β with constant α, β.
fn affine(u: &Expr) -> Option<(Iv, Iv)> {
    let coeffs = as_polynomial(u)?;
    if coeffs.len() > 2 {
        return None;
    }
    let c = Consts::new(BP);
    let zero = Iv::from_u64(BP, 0);
    let k = |i: usize| match coeffs.get(i) {
        Some(e) => eval_iv(e, &zero, &c),
        None => Some(zero.clone()),
    };
    Some((k(1)?, k(0)?))
}

/// γ, δ, ε (as intervals) when u = γ z² + δ z + ε with constant γ, δ, ε and γ < 0 certainly.
fn concave_quadratic(u: &Expr) -> Option<(Iv, Iv, Iv)> {
    let coeffs = as_polynomial(u)?;
    if coeffs.len() != 3 {
        return None;
    }
    let c = Consts::new(BP);
    let zero = Iv::from_u64(BP, 0);
    let k = |i: usize| eval_iv(&coeffs[i], &zero, &c);
    let (g, d, e) = (k(2)?, k(1)?, k(0)?);
    if g.hi < 0 {
        Some((g, d, e))
    } else {
        None
    }
}

/// The bound of exp(γz² + δz + ε), γ < 0, on the strip: with z = x + iy, |y| ≤ a,
/// Re(γz² + δz + ε) = γx² + δx + ε − γy² ≤ ε + δ²/(4|γ|) + |γ|a² (the maximum of the concave
/// quadratic in x, plus the largest −γy²), so |exp(u)| ≤ exp(ε + δ²/(4|γ|) + |γ|a²), a
/// constant (proofs-notes/coefficient-enclosures.md §2). `None` unless u is such a quadratic.
fn concave_exp_growth(u: &Expr, a: &Float) -> Option<Growth> {
    let (g, d, e) = concave_quadratic(u)?;
    let g_min = dn(-&g.hi); // 0 < g_min ≤ |γ|
    let g_up = up(-&g.lo); // ≥ |γ|
    let d2 = up(up(d.mag()).square_ref());
    let peak = up(&d2 / dn(&g_min * 4u32));
    let strip = up(&g_up * up(a.square_ref()));
    let expo = up(up(up(&e.hi) + &peak) + &strip);
    Some(Growth::constant(up(expo.exp_ref())))
}

/// (A, m, B) of the module contract for the branch `e` on the strip |Im z| ≤ a.
pub fn strip_growth(e: &Expr, a: &Float) -> Option<Growth> {
    if e.is_const() {
        let c = Consts::new(BP);
        let v = eval_iv(e, &Iv::from_u64(BP, 0), &c)?;
        return Some(Growth::constant(up(v.mag())));
    }
    Some(match e {
        Expr::Z => Growth {
            amp: up(a + 1u32),
            m: 1,
            rate: Float::new(BP),
        },
        Expr::Neg(x) => strip_growth(x, a)?,
        Expr::Add(x, y) | Expr::Sub(x, y) => {
            let (g, h) = (strip_growth(x, a)?, strip_growth(y, a)?);
            Growth {
                amp: up(&g.amp + &h.amp),
                m: g.m.max(h.m),
                rate: max_f(g.rate, h.rate),
            }
        }
        Expr::Mul(x, y) => {
            let (g, h) = (strip_growth(x, a)?, strip_growth(y, a)?);
            Growth {
                amp: up(&g.amp * &h.amp),
                m: g.m + h.m,
                rate: up(&g.rate + &h.rate),
            }
        }
        Expr::Div(x, y) if y.is_const() => {
            let g = strip_growth(x, a)?;
            let d = eval_iv(y, &Iv::from_u64(BP, 0), &Consts::new(BP))?;
            if d.contains_zero() {
                return None;
            }
            let small = if d.lo > 0 { d.lo.clone() } else { dn(-&d.hi) };
            Growth {
                amp: up(&g.amp / &small),
                ..g
            }
        }
        Expr::Pow(x, n) => {
            let g = strip_growth(x, a)?;
            Growth {
                amp: up(rug::ops::Pow::pow(&g.amp, *n)),
                m: g.m * n,
                rate: up(&g.rate * *n),
            }
        }
        Expr::Call(Func::Exp, u) if affine(u).is_none() => concave_exp_growth(u, a)?,
        Expr::Call(f, u) => {
            let (al, be) = affine(u)?;
            let alpha = up(al.mag());
            let beta = up(be.mag());
            let c = up(&alpha * a); // |Im u| ≤ c
            let half_pi_dn = dn(dn(Constant::Pi) / 2u32);
            // |u| ≤ (α + β + c)(1 + |x|)
            let lin = up(up(&alpha + &beta) + &c);
            let two_over_sqrt_pi = up(1.1284f64);
            match f {
                Func::Tanh => {
                    if c >= half_pi_dn {
                        return None;
                    }
                    Growth::constant(max_f(Float::with_val(BP, 1), up(c.tan_ref())))
                }
                Func::Sigmoid | Func::Silu => {
                    let c2 = Float::with_val(BP, &c / 2u32);
                    if c2 >= half_pi_dn {
                        return None;
                    }
                    let t = max_f(Float::with_val(BP, 1), up(c2.tan_ref()));
                    let s = up(up(t + 1u32) / 2u32);
                    if *f == Func::Sigmoid {
                        Growth::constant(s)
                    } else {
                        Growth {
                            amp: up(&s * &lin),
                            m: 1,
                            rate: Float::new(BP),
                        }
                    }
                }
                Func::Erf => {
                    let e = up(up(c.square_ref()).exp_ref());
                    Growth::constant(up(up(up(&two_over_sqrt_pi * &c) * &e) + 1u32))
                }
                Func::Gelu => {
                    // |Φ(u)| ≤ (2 + (2/√π)(c/√2) e^{c²/2})/2, |u| ≤ lin·(1+|x|)
                    let cs = up(&c * up(0.70711f64));
                    let e = up(up(cs.square_ref()).exp_ref());
                    let phi = up(up(up(up(&two_over_sqrt_pi * &cs) * &e) + 2u32) / 2u32);
                    Growth {
                        amp: up(&phi * &lin),
                        m: 1,
                        rate: Float::new(BP),
                    }
                }
                Func::Softplus => {
                    if c >= half_pi_dn {
                        return None;
                    }
                    // ln 2 + π/2 + β + α|x| ≤ (2.2641 + β + α)(1 + |x|)
                    Growth {
                        amp: up(up(up(2.2641f64) + &beta) + &alpha),
                        m: 1,
                        rate: Float::new(BP),
                    }
                }
                Func::Sin | Func::Cos => Growth::constant(up(c.cosh_ref())),
                Func::Exp => Growth {
                    amp: up(beta.exp_ref()),
                    m: 0,
                    rate: alpha,
                },
                Func::He(k) => {
                    // |h_k(w)| ≤ Q_k (1 + |w|)^k / √(k!), Q_{j+1} = Q_j + j Q_{j−1}
                    let k = *k as usize;
                    let (mut q0, mut q1) = (Integer::from(1), Integer::from(1));
                    for j in 1..k {
                        let q2 = Integer::from(&q1 + Integer::from(&q0 * j as u32));
                        q0 = q1;
                        q1 = q2;
                    }
                    let qk = if k == 0 { q0 } else { q1 };
                    let inv = inv_sqrt_factorial(BP, k);
                    let base = up(&lin + 1u32);
                    Growth {
                        amp: up(up(up(&qk) * &inv.hi) * up(rug::ops::Pow::pow(&base, k as u32))),
                        m: k as u32,
                        rate: Float::new(BP),
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// An upper bound of sup_{|y| ≤ a, x real} |h_k(x+iy)|·e^{−x²/4}: by Mehler's formula,
/// |h_k(z)|² ≤ t^{−k}(1−t²)^{−1/2} exp(x² t/(1+t) + y² t/(1−t)) for every t ∈ (0, 1),
/// and x² t/(1+t) ≤ x²/2. Here t = 1 − min(1/2, a/√k).
pub fn mehler_factor(k: usize, a: &Float) -> Float {
    if k == 0 {
        return Float::with_val(BP, 1);
    }
    let eps = {
        let e = Float::with_val(BP, a / Float::with_val(BP, k).sqrt());
        if e > 0.5 || e.is_zero() {
            Float::with_val(BP, 0.5)
        } else {
            e
        }
    };
    let t = Float::with_val(BP, 1u32 - &eps); // any t in (0,1) is valid
    let one_minus_t = dn(1u32 - &t);
    // (k/2)·ln(1/t)
    let a1 = up(up(-dn(t.ln_ref())) * (k as f64 / 2.0));
    // −(1/4)·ln(1 − t²)
    let omt2 = dn(1u32 - up(t.square_ref()));
    let a2 = up(-dn(omt2.ln_ref())) / 4u32;
    // a² t / (2(1 − t))
    let a3 = up(up(up(a.square_ref()) * &t) / dn(&one_minus_t * 2u32));
    up(up(up(a1 + a2) + a3).exp_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimal complex arithmetic on pairs of 200-bit floats (rug's `complex` feature is off).
    #[derive(Clone)]
    struct C(Float, Float);
    const P: u32 = 200;
    impl C {
        fn new(x: f64, y: f64) -> C {
            C(Float::with_val(P, x), Float::with_val(P, y))
        }
        fn mul(&self, o: &C) -> C {
            C(
                Float::with_val(P, &self.0 * &o.0) - Float::with_val(P, &self.1 * &o.1),
                Float::with_val(P, &self.0 * &o.1) + Float::with_val(P, &self.1 * &o.0),
            )
        }
        fn add(&self, o: &C) -> C {
            C(
                Float::with_val(P, &self.0 + &o.0),
                Float::with_val(P, &self.1 + &o.1),
            )
        }
        fn scale(&self, s: &Float) -> C {
            C(
                Float::with_val(P, &self.0 * s),
                Float::with_val(P, &self.1 * s),
            )
        }
        fn abs(&self) -> Float {
            Float::with_val(P, self.0.hypot_ref(&self.1))
        }
        /// tanh(x+iy) = (sinh 2x + i sin 2y)/(cosh 2x + cos 2y)
        fn tanh(&self) -> C {
            let x2 = Float::with_val(P, &self.0 * 2u32);
            let y2 = Float::with_val(P, &self.1 * 2u32);
            let d = Float::with_val(P, x2.cosh_ref()) + Float::with_val(P, y2.cos_ref());
            C(
                Float::with_val(P, x2.sinh_ref()) / &d,
                Float::with_val(P, y2.sin_ref()) / d,
            )
        }
    }

    /// The Mehler bound against h_k(x+iy) computed by the recurrence in 200-bit complex
    /// arithmetic, on a grid of x, y ≤ a and k ≤ 60.
    #[test]
    fn mehler_factor_bounds_complex_hermite_values() {
        for a in [0.3f64, 1.0, 2.5] {
            let af = Float::with_val(BP, a);
            for k in [0usize, 1, 2, 5, 17, 40, 60] {
                let bound = mehler_factor(k, &af).to_f64();
                for xi in 0..=40 {
                    for y in [0.0, a / 2.0, a] {
                        let x = xi as f64 * 0.5 - 4.0;
                        let z = C::new(x, y);
                        let (mut h0, mut h1) = (C::new(1.0, 0.0), z.clone());
                        for j in 1..k.max(1) {
                            let h2 = z.mul(&h1).add(&h0.scale(&Float::with_val(P, -(j as i64))));
                            h0 = h1;
                            h1 = h2;
                        }
                        let hk = if k == 0 { h0 } else { h1 };
                        let fact = Float::with_val(P, Integer::from(Integer::factorial(k as u32)));
                        let v = hk.abs() / fact.sqrt() * Float::with_val(P, -x * x / 4.0).exp();
                        assert!(v.to_f64() <= bound, "k={k} z={x}+{y}i: {v} > {bound}");
                    }
                }
            }
        }
    }

    /// |tanh(2z+1) + z·erf(z)| on the strip |Im z| ≤ 0.7 stays below the proved growth.
    #[test]
    fn strip_growth_bounds_sampled_values() {
        let spec = crate::activation::Spec::parse("tanh(2*z+1) + erf(z) * z").unwrap();
        let a = Float::with_val(BP, 0.7);
        let g = strip_growth(&spec.expr, &a).unwrap();
        let two_over_sqrt_pi = Float::with_val(P, 2) / Float::with_val(P, Constant::Pi).sqrt();
        for xi in -16..=16 {
            let x = xi as f64 * 0.25;
            for y in [-0.7, 0.0, 0.35, 0.7] {
                let z = C::new(x, y);
                let u = z.scale(&Float::with_val(P, 2)).add(&C::new(1.0, 0.0));
                // erf(z) by its Taylor series (|z| ≤ 4.1: 200 bits and 400 terms suffice)
                let z2 = z.mul(&z);
                let mut term = z.clone();
                let mut sum = z.clone();
                for n in 1..400u32 {
                    term = term.mul(&z2).scale(&(Float::with_val(P, -1) / n));
                    sum = sum.add(&term.scale(&(Float::with_val(P, 1) / (2 * n + 1))));
                }
                let erf = sum.scale(&two_over_sqrt_pi);
                let v = u.tanh().add(&erf.mul(&z));
                let bound = g.at(&Float::with_val(BP, x.abs()));
                assert!(Float::with_val(BP, v.abs()) <= bound, "z={x}+{y}i");
            }
        }
        // poles of tanh(2z+1) at Im z = π/4: a = 0.8 is refused
        assert!(strip_growth(&spec.expr, &Float::with_val(BP, 0.8)).is_none());
    }
}
