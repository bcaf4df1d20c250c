//! Dual kernels in f64 for the fast path: a power series Σ_k c_k s^k, or one of two closed forms.
//!
//! Conventions (docs/conventions.md §2): for activations σ, τ and unit u, v with ⟨u,v⟩ = s,
//! κ_{σ,τ}(s) = E[σ(⟨u,x⟩) τ(⟨v,x⟩)] = Σ_k c_k(σ) c_k(τ) s^k in the normalised Hermite basis.
//!
//! - [`Kernel::PowerSeries`]: the coefficients c_k of s^k (k = 0, 1, …), evaluated by Horner.
//! - [`Kernel::ReluRelu`]: (√(1 − s²) + (π − arccos s) s) / (2π); derivative (π − arccos s)/(2π).
//! - [`Kernel::ErfErf`]: erf(a z) with erf(b z): (2/π) arcsin(c s), c = 2ab/√((1+2a²)(1+2b²));
//!   derivative (2/π) c / √(1 − c² s²).
//!
//! Accuracy contract: the closed forms clamp s to [−1, 1] before evaluating (a computed overlap
//! may exceed 1 by a few ulps); power series are evaluated at s as given. The bounds used by
//! `fast::error_bound` are [`Func::sup_abs`] (a bound on |f| for |s| ≤ r), [`Func::eval_error`]
//! (rounding of one evaluation at an f64 argument) and [`Func::modulus`] (how much f can move when
//! its argument moves by ε). For the closed forms they assume the platform's `asin`, `acos` are
//! within 2 ulps (glibc and musl are within 1) and that `sqrt` is correctly rounded.
//! This module never touches the arbitrary-precision oracle.

use std::f64::consts::{FRAC_1_PI, PI};

/// A dual kernel s ↦ κ(s) on [−1, 1], as an f64 power series or a closed form.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// κ(s) = Σ_k c_k s^k (the first entry is the constant term). An empty list is the zero
    /// kernel.
    PowerSeries(Vec<f64>),
    /// The ReLU–ReLU kernel (√(1 − s²) + (π − arccos s) s)/(2π). For σ = ReLU, z σ'(z) = σ(z),
    /// so this is also the radial kernel κ_{zσ',σ}.
    ReluRelu,
    /// The erf(a z)–erf(b z) kernel (2/π) arcsin(2ab s/√((1 + 2a²)(1 + 2b²))).
    ErfErf { a: f64, b: f64 },
}

impl Kernel {
    /// κ(s).
    pub fn value(&self, s: f64) -> f64 {
        self.func().eval(s)
    }

    /// κ'(s).
    pub fn derivative(&self, s: f64) -> f64 {
        self.derivative_func().eval(s)
    }

    /// The polynomial degree (last nonzero coefficient) of a power series, `None` for a closed
    /// form. The zero series has degree 0.
    pub fn degree(&self) -> Option<usize> {
        match self {
            Kernel::PowerSeries(c) => Some(c.iter().rposition(|&x| x != 0.0).unwrap_or(0)),
            _ => None,
        }
    }

    /// Power-series coefficients with trailing zeros removed (at least one entry).
    pub(crate) fn coefficients(&self) -> Option<Vec<f64>> {
        match self {
            Kernel::PowerSeries(c) => {
                let deg = self.degree().unwrap_or(0);
                Some(if c.is_empty() {
                    vec![0.0]
                } else {
                    c[..=deg].to_vec()
                })
            }
            _ => None,
        }
    }

    pub(crate) fn is_finite(&self) -> bool {
        match self {
            Kernel::PowerSeries(c) => c.iter().all(|x| x.is_finite()),
            Kernel::ReluRelu => true,
            Kernel::ErfErf { a, b } => a.is_finite() && b.is_finite(),
        }
    }

    /// The evaluator of κ itself.
    pub(crate) fn func(&self) -> Func {
        match self {
            Kernel::PowerSeries(_) => Func::Poly(self.coefficients().unwrap()),
            Kernel::ReluRelu => Func::Relu,
            Kernel::ErfErf { a, b } => Func::Erf { c: erf_c(*a, *b) },
        }
    }

    /// The evaluator of κ'.
    pub(crate) fn derivative_func(&self) -> Func {
        match self {
            Kernel::PowerSeries(_) => {
                let c = self.coefficients().unwrap();
                let d: Vec<f64> = (1..c.len()).map(|k| k as f64 * c[k]).collect();
                Func::Poly(if d.is_empty() { vec![0.0] } else { d })
            }
            Kernel::ReluRelu => Func::ReluPrime,
            Kernel::ErfErf { a, b } => Func::ErfPrime { c: erf_c(*a, *b) },
        }
    }
}

/// c = 2ab/√((1 + 2a²)(1 + 2b²)), |c| < 1.
fn erf_c(a: f64, b: f64) -> f64 {
    2.0 * a * b / ((1.0 + 2.0 * a * a) * (1.0 + 2.0 * b * b)).sqrt()
}

/// One scalar function of the overlap, as the kernels of the fast path evaluate it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Func {
    /// Σ_k c[k] s^k by Horner (c nonempty).
    Poly(Vec<f64>),
    Relu,
    ReluPrime,
    Erf {
        c: f64,
    },
    ErfPrime {
        c: f64,
    },
}

const U: f64 = f64::EPSILON / 2.0;

/// γ_n = n u/(1 − n u) (Higham), +∞ once n u ≥ 1.
pub(crate) fn gamma(n: f64) -> f64 {
    let nu = n * U;
    if nu >= 1.0 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

impl Func {
    pub(crate) fn eval(&self, s: f64) -> f64 {
        match self {
            Func::Poly(c) => horner(c, s),
            Func::Relu => {
                let s = s.clamp(-1.0, 1.0);
                ((-s).mul_add(s, 1.0).sqrt() + (PI - s.acos()) * s) * (0.5 * FRAC_1_PI)
            }
            Func::ReluPrime => (PI - s.clamp(-1.0, 1.0).acos()) * (0.5 * FRAC_1_PI),
            Func::Erf { c } => 2.0 * FRAC_1_PI * (c * s.clamp(-1.0, 1.0)).asin(),
            Func::ErfPrime { c } => {
                let x = c * s.clamp(-1.0, 1.0);
                2.0 * FRAC_1_PI * c / (-x).mul_add(x, 1.0).sqrt()
            }
        }
    }

    /// The coefficients, when this is a polynomial.
    pub(crate) fn poly(&self) -> Option<&[f64]> {
        match self {
            Func::Poly(c) => Some(c),
            _ => None,
        }
    }

    /// A bound on |f(s)| for |s| ≤ r (closed forms: on [−1, 1], where they are clamped).
    pub(crate) fn sup_abs(&self, r: f64) -> f64 {
        match self {
            Func::Poly(c) => abs_series(c, r),
            Func::Relu | Func::ReluPrime => 0.5,
            Func::Erf { c } => 2.0 * FRAC_1_PI * c.abs().min(1.0).asin() * (1.0 + 4.0 * U),
            Func::ErfPrime { c } => 2.0 * FRAC_1_PI * c.abs() / (1.0 - c * c).sqrt(),
        }
    }

    /// A bound on |fl(f(x)) − f(x)|, the rounding of one evaluation at an f64 x with |x| ≤ r.
    pub(crate) fn eval_error(&self, r: f64) -> f64 {
        match self {
            // Horner with n = deg steps of one fma (or a multiply and an add) each: γ_{2n}, one
            // more for coefficients that were rounded when they were formed (k·c_k).
            Func::Poly(c) => gamma(2.0 * c.len() as f64 + 1.0) * abs_series(c, r),
            // √(1−s²) (fma, sqrt: ≤ 2u relative, value ≤ 1), π − acos s (acos ≤ 2 ulp of ≤ π,
            // π rounded, subtraction: ≤ 6πu), times s, sum, times 1/(2π): ≤ 16u in all.
            Func::Relu => 16.0 * U,
            Func::ReluPrime => 8.0 * U,
            // c (≤ 8u relative), c s (u), asin (≤ 2u of ≤ π/2, sensitivity 1/√(1−c²)), × 2/π.
            Func::Erf { c } => {
                let c = c.abs();
                2.0 * FRAC_1_PI * (9.0 * U * c / (1.0 - c * c).sqrt() + PI * U) + 2.0 * U
            }
            // relative: c (8u), 1 − c²s² (≤ (18c² + 1)u absolute, relative /(1 − c²)), sqrt,
            // division and the factor 2/π.
            Func::ErfPrime { c } => {
                let rel = 12.0 * U + (18.0 * c * c + 1.0) * U / (1.0 - c * c);
                rel * self.sup_abs(1.0)
            }
        }
    }

    /// A bound on |f(x) − f(y)| over |x − y| ≤ eps, |x|, |y| ≤ r (closed forms: after clamping,
    /// which does not increase |x − y|).
    pub(crate) fn modulus(&self, eps: f64, r: f64) -> f64 {
        match self {
            Func::Poly(c) => {
                let dc: Vec<f64> = (1..c.len()).map(|k| k as f64 * c[k].abs()).collect();
                eps * abs_series(&dc, r)
            }
            Func::Relu => 0.5 * eps,
            // |acos x − acos y| ≤ (π/√2) √|x − y|, so |f(x) − f(y)| ≤ √eps/(2√2).
            Func::ReluPrime => eps.sqrt() / (2.0 * std::f64::consts::SQRT_2),
            Func::Erf { c } => eps * Func::ErfPrime { c: *c }.sup_abs(1.0),
            Func::ErfPrime { c } => {
                let c = c.abs();
                eps * 2.0 * FRAC_1_PI * c * c * c / (1.0 - c * c).powf(1.5)
            }
        }
    }
}

/// Horner's rule (plain f64; the SIMD version lives in `simd`).
pub(crate) fn horner(c: &[f64], s: f64) -> f64 {
    let mut acc = 0.0;
    for &ck in c.iter().rev() {
        acc = acc * s + ck;
    }
    acc
}

/// Σ_k |c_k| r^k, rounded up by a relative γ_{2n+2} so that it is a true upper bound.
fn abs_series(c: &[f64], r: f64) -> f64 {
    let mut acc = 0.0;
    for &ck in c.iter().rev() {
        acc = acc * r + ck.abs();
    }
    acc * (1.0 + gamma(2.0 * c.len() as f64 + 2.0))
}
