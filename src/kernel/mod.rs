//! Dual kernels κ_{σ,τ}(s) = Σ_k c_k(σ) c_k(τ) s^k = E[σ(⟨u,x⟩) τ(⟨v,x⟩)] for unit u, v with
//! ⟨u,v⟩ = s, and their first two derivatives in s (docs/conventions.md §2).
//!
//! Accuracy contract. The series is summed to degree K from coefficient tables with their
//! error bounds, and the tail Σ_{k>K} is bounded rigorously (given the tables' and norms'
//! bounds), by the smaller of:
//! - Cauchy–Schwarz with Parseval remainders: for the r-th derivative,
//!   |tail| ≤ |s|^{K+1−r}·√(R_σ^{(r)} R_τ^{(r)}), where R^{(r)} = E[(f^{(r)})²] − Σ_{k≤K} k^{(r)} c_k²
//!   and k^{(r)} = k(k−1)…(k−r+1) (so Σ_k k^{(r)} c_k² = E[(f^{(r)})²], from
//!   c_{k−1}(f') = √k c_k(f)); available when f^{(r)} ∈ L²(N(0,1));
//! - for |s| < 1, the coefficient bound |c_k| ≤ √R^{(0)} for k > K, times the exact sum
//!   Σ_{k>K} k^{(r)} |s|^{k−r}.
//!
//! At |s| = 1 without the first route the tail cannot be bounded (the series may diverge,
//! as Σ k c_k² does for the step function): that is an error, never a silently truncated
//! number. The reported bound adds the coefficient errors (first order in the bounds) and
//! the rounding of the sum.
//!
//! The error terms of the series (coefficient errors, rounding, tail) are summed at MPFR
//! precision and then inflated by (1 + 2n·2^−prec) for the n ≤ 12(K+1)+64 round-to-nearest
//! operations they went through, rounded up: the bound is an upper bound, not a rounded one.
//!
//! Closed forms (used as checks and as the fast route): relu with relu,
//! κ(s) = (√(1−s²) + (π − arccos s)s)/(2π); erf(a z) with erf(b z),
//! κ(s) = (2/π) arcsin(2ab s/√((1+2a²)(1+2b²))); h_j with h_k, δ_jk s^k. Their bound
//! ([`closed_value`]) is derived for all s ∈ [−1, 1], near |s| = 1 included.
//!
//! The f64 series of the four kernels of a population problem, with their Parseval truncation
//! bounds, are built in one place for every caller: [`PopulationSeries`] (`series.rs`).
//!
//! Proofs-note: `proofs-notes/dual-kernels.md`. Tests: `tests/kernel.rs`.

use crate::activation::{Expr, Func, Spec};
use crate::coeffs::{self, BoundKind, CoefficientTable};
use rug::float::Constant;
use rug::ops::Pow;
use rug::Float;

mod series;
pub use series::{
    derivative, parseval_remainder, z_dsigma_spec, PopulationSeries, Precision, RemainderBounds,
    Remainders, SeriesKernel,
};

/// A kernel value with a bound on |value − truth|.
#[derive(Clone, Debug)]
pub struct KernelValue {
    pub value: Float,
    pub abs_error_bound: Float,
    /// What the bound is: an enclosure when every input is exact or an enclosure and the
    /// rounding is bounded as proven (the closed forms; series of exact or enclosed tables and
    /// norms), else an estimate.
    pub kind: BoundKind,
}

/// Why a kernel value cannot be given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("s = {0} is outside [-1, 1]")]
    OutOfRange(String),
    #[error("the derivative of order {order} at |s| = 1 has no bounded series tail: {why}")]
    Unbounded { order: usize, why: String },
    #[error("{0}")]
    Coefficients(String),
}

/// The data of one side of the kernel: coefficients and the norms E[(f^{(r)})²], r = 0, 1, 2
/// (`None` when f^{(r)} is not in L², e.g. the step function's derivative).
#[derive(Clone, Debug)]
pub struct Side {
    pub table: CoefficientTable,
    /// (value, bound) of E[(f^{(r)})²] for r = 0, 1, 2.
    pub norms: [Option<(Float, Float)>; 3],
    /// The kind of each norm's bound ([`coeffs::norm_kind`]).
    pub norm_kinds: [BoundKind; 3],
}

impl Side {
    /// Coefficients to degree `degree` and derivative norms, to `digits` digits, each by the
    /// strongest route available: [`coeffs::proven_table`] (exact, else the enclosure route
    /// where its theorems cover the spec, else the estimate route) and
    /// [`coeffs::norm_enclosure`] (exact Parseval, else the enclosure of c_0(f²), else a
    /// quadrature estimate). The kinds are recorded per coefficient and per norm.
    pub fn new(spec: &Spec, degree: usize, digits: u32) -> Result<Side, KernelError> {
        let table = coeffs::proven_table(spec, degree, digits)
            .map_err(|e| KernelError::Coefficients(e.to_string()))?;
        let norm = |f: &Spec| -> Result<((Float, Float), BoundKind), KernelError> {
            let (v, b, k) = coeffs::norm_enclosure(f, digits).map_err(KernelError::Coefficients)?;
            Ok(((v, b), k))
        };
        let (n0, k0) = norm(spec)?;
        let d1 = spec.derivative();
        let d2 = d1.as_ref().and_then(|d| d.derivative());
        let (n1, k1) = match &d1 {
            Some(d) => {
                let (n, k) = norm(d)?;
                (Some(n), k)
            }
            None => (None, BoundKind::Exact),
        };
        let (n2, k2) = match &d2 {
            Some(d) => {
                let (n, k) = norm(d)?;
                (Some(n), k)
            }
            None => (None, BoundKind::Exact),
        };
        Ok(Side {
            table,
            norms: [Some(n0), n1, n2],
            norm_kinds: [k0, k1, k2],
        })
    }

    /// The weakest bound kind of the coefficients c_0..c_kmax and of the norms up to order r
    /// (what a series summed to kmax with the r-th remainder rests on).
    pub fn kind(&self, kmax: usize, r: usize) -> BoundKind {
        let coefficients = self
            .table
            .coefficients
            .iter()
            .take(kmax + 1)
            .map(|c| c.bound_kind);
        let norms = self.norm_kinds.iter().take(r + 1).copied();
        BoundKind::weakest_of(coefficients.chain(norms))
    }

    /// Upper bound on R^{(r)} = E[(f^{(r)})²] − Σ_{k≤kmax} k^{(r)} c_k², or None. `kmax` is
    /// the degree the series is summed to, which may be below this side's table degree when
    /// the other side's table is shorter: the remainder must start where the sum stops.
    pub(crate) fn remainder(&self, r: usize, prec: u32, kmax: usize) -> Option<Float> {
        let (norm, nb) = self.norms[r].as_ref()?;
        let mut sum_low = Float::new(prec);
        for c in self.table.coefficients.iter().take(kmax + 1) {
            let w = falling(c.k, r);
            if w == 0 {
                continue;
            }
            // lower bound of c_k²: (|c_k| − b_k)_+²
            let mut a = Float::with_val(prec, c.value.abs_ref()) - &c.abs_error_bound;
            if a < 0 {
                a = Float::new(prec);
            }
            sum_low += a.square() * w;
        }
        // (the sum and the difference are rounded to nearest: add K+2 ulps of the norm so the
        // result stays an upper bound)
        let ulps = (Float::with_val(prec, norm.abs_ref()) * ((self.table.degree + 2) as u32))
            >> (prec - 1);
        let rem = Float::with_val(prec, norm + nb) - sum_low + ulps;
        Some(if rem < 0 { Float::new(prec) } else { rem })
    }
}

/// k(k−1)…(k−r+1).
fn falling(k: usize, r: usize) -> u64 {
    (0..r).map(|i| k.saturating_sub(i) as u64).product()
}

/// Σ_{k>K} k^{(r)} x^{k−r} for 0 ≤ x < 1, in closed form: the r-th derivative of
/// x^{K+1}/(1−x).
fn geometric_tail(kmax: usize, r: usize, x: &Float) -> Float {
    let prec = x.prec();
    let one_minus = Float::with_val(prec, 1 - x);
    let n = (kmax + 1) as u32;
    let xp = |e: i64| -> Float {
        if e < 0 {
            Float::new(prec)
        } else {
            Float::with_val(prec, x.pow(e as u32))
        }
    };
    let n_i = n as i64;
    match r {
        0 => xp(n_i) / one_minus,
        1 => {
            // d/dx x^n/(1−x) = n x^{n−1}/(1−x) + x^n/(1−x)²
            xp(n_i - 1) * n / &one_minus + xp(n_i) / Float::with_val(prec, one_minus.square_ref())
        }
        _ => {
            // n(n−1)x^{n−2}/(1−x) + 2n x^{n−1}/(1−x)² + 2x^n/(1−x)³
            let om2 = Float::with_val(prec, one_minus.square_ref());
            let om3 = Float::with_val(prec, &om2 * &one_minus);
            xp(n_i - 2) * (n * (n - 1)) / &one_minus
                + xp(n_i - 1) * (2 * n) / om2
                + xp(n_i) * 2u32 / om3
        }
    }
}

/// The r-th derivative (r ≤ 2) of κ_{σ,τ} at s by the series, with its bound.
pub fn series(a: &Side, b: &Side, s: &Float, r: usize) -> Result<KernelValue, KernelError> {
    let prec = s
        .prec()
        .max(coeffs::digits_to_bits(a.table.digits.max(b.table.digits)) + 64);
    if s.clone().abs() > 1 {
        return Err(KernelError::OutOfRange(s.to_string_radix(10, Some(20))));
    }
    let kmax = a.table.degree.min(b.table.degree);
    // Horner-free direct sum with running power: Σ_{k≥r} k^{(r)} c_k d_k s^{k−r}.
    let mut value = Float::new(prec);
    let mut err = Float::new(prec);
    let mut pw = Float::with_val(prec, 1); // s^{k−r}
    let sabs = Float::with_val(prec, s.abs_ref());
    let mut pwabs = Float::with_val(prec, 1);
    for k in r..=kmax {
        let ca = &a.table.coefficients[k];
        let cb = &b.table.coefficients[k];
        let w = falling(k, r);
        let prod = Float::with_val(prec, &ca.value * &cb.value) * w;
        value += Float::with_val(prec, &prod * &pw);
        // |c d − c̃ d̃| ≤ |c̃| e_d + |d̃| e_c + e_c e_d
        let e = Float::with_val(prec, ca.value.abs_ref()) * &cb.abs_error_bound
            + Float::with_val(prec, cb.value.abs_ref()) * &ca.abs_error_bound
            + Float::with_val(prec, &ca.abs_error_bound * &cb.abs_error_bound);
        err += e * w * &pwabs;
        pw *= s;
        pwabs *= &sabs;
    }
    // Rounding of the sum: (kmax+2) ulps of the sum of absolute terms, bounded crudely by
    // (kmax+2)·2^{−prec+1}·(Σ|terms| ≤ √(E σ^{(r)2} E τ^{(r)2}) or the series of |terms|).
    let mut abs_sum = Float::new(prec);
    let mut pwabs = Float::with_val(prec, 1);
    for k in r..=kmax {
        let t = Float::with_val(
            prec,
            &a.table.coefficients[k].value * &b.table.coefficients[k].value,
        )
        .abs()
            * falling(k, r);
        abs_sum += t * &pwabs;
        pwabs *= &sabs;
    }
    err += (abs_sum * ((kmax + 2) as u32)) >> (prec - 1);
    // Tail.
    let mut tail: Option<Float> = None;
    if let (Some(ra), Some(rb)) = (a.remainder(r, prec, kmax), b.remainder(r, prec, kmax)) {
        let t = Float::with_val(prec, ra * rb).sqrt()
            * Float::with_val(prec, (&sabs).pow((kmax + 1 - r) as u32));
        tail = Some(t);
    }
    if sabs < 1 {
        if let (Some(ra), Some(rb)) = (a.remainder(0, prec, kmax), b.remainder(0, prec, kmax)) {
            let t = Float::with_val(prec, ra * rb).sqrt() * geometric_tail(kmax, r, &sabs);
            tail = Some(match tail {
                Some(t0) if t0 < t => t0,
                _ => t,
            });
        }
    }
    match tail {
        Some(t) => {
            // Upward rounding of the error terms: every term above is nonnegative and went
            // through at most n = 12(K+1) + 64 round-to-nearest operations (relative error
            // ≤ 2^−prec each), so the exact sum is ≤ computed·(1 + 2^−prec)^n ≤ computed·(1 +
            // 2n·2^−prec) (n·2^−prec ≤ 1/2); that factor and the final sum are rounded up.
            use rug::float::Round;
            let n = 12 * (kmax as u32 + 1) + 64;
            let total = Float::with_val_round(prec, &err + &t, Round::Up).0;
            let slack = Float::with_val_round(prec, &total * (2 * n), Round::Up).0 >> prec;
            // The error terms are upper bounds (proven above) of errors of the inputs, so the
            // value's kind is that of the inputs it used, rounded: the tables to kmax and the
            // norms of order 0 and r that the two tail routes read.
            let kind = a.kind(kmax, r).weakest(b.kind(kmax, r)).rounded();
            Ok(KernelValue {
                value,
                abs_error_bound: Float::with_val_round(prec, &total + &slack, Round::Up).0,
                kind,
            })
        }
        None => Err(KernelError::Unbounded {
            order: r,
            why: "an activation's derivative of that order is not in L²(N(0,1)), so Σ k^(r) c_k² may diverge"
                .into(),
        }),
    }
}

/// A closed form of the kernel, when one is known for this pair.
#[derive(Clone, Debug, PartialEq)]
pub enum ClosedKernel {
    ReluRelu,
    /// erf(a z) with erf(b z).
    ErfErf(rug::Rational, rug::Rational),
}

fn erf_scale(e: &Expr) -> Option<rug::Rational> {
    match e {
        Expr::Call(Func::Erf, arg) => match arg.as_ref() {
            Expr::Z => Some(rug::Rational::from(1)),
            Expr::Mul(x, y) => match (x.as_ref(), y.as_ref()) {
                (Expr::Num(q), Expr::Z) | (Expr::Z, Expr::Num(q)) if *q != 0 => Some(q.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Recognises relu(z) with relu(z) and erf(a z) with erf(b z).
pub fn closed_kernel(a: &Spec, b: &Spec) -> Option<ClosedKernel> {
    let relu = Expr::Call(Func::Relu, Box::new(Expr::Z));
    if a.expr == relu && b.expr == relu {
        return Some(ClosedKernel::ReluRelu);
    }
    match (erf_scale(&a.expr), erf_scale(&b.expr)) {
        (Some(x), Some(y)) => Some(ClosedKernel::ErfErf(x, y)),
        _ => None,
    }
}

/// Guard bits of [`closed_value`]'s working precision over the requested one.
pub const CLOSED_GUARD_BITS: u32 = 64;
/// Multiplier K of the unit roundoff in [`closed_value`]'s bound: at least twice every
/// first-order constant (the largest is 70.5) derived in `proofs-notes/dual-kernels.md` ("Closed forms near |s| = 1").
pub const CLOSED_ROUNDOFF_FACTOR: u32 = 256;

/// The r-th derivative (r ≤ 2) of a closed-form kernel at s, at `prec` bits, with an error
/// bound that holds on all of [−1, 1], including near |s| = 1 (derivation:
/// `proofs-notes/dual-kernels.md`, "Closed forms near |s| = 1"; tests:
/// `tests/reliability.rs::near_one::closed_forms_near_one_against_independent_routes`).
///
/// s is taken as exact. Every operation is one correctly rounded MPFR operation at
/// wp = prec + 64 bits (relative error ≤ u = 2^−wp), and the formulas avoid cancellation:
/// 1 − s² is formed as (1 − s)(1 + s) (relative error ≤ 3u whatever s, where 1 − s·s would
/// lose all digits near |s| = 1), π − arccos s as arccos(−s), and the erf pair's
/// 1 − c²s² as (1 + 2a² + 2b² + 4a²b²(1 − s)(1 + s))/((1 + 2a²)(1 + 2b²)), a sum of positive
/// terms. The bound is K·u·M + 2^−prec·|v| with K = 256 and M the sum of the magnitudes of the
/// terms (relu κ: (√(1−s²) + |s| arccos(−s))/(2π), where κ itself cancels as s → −1; erf κ:
/// (2/π)(|asin(cs)| + |cs|/√(1−c²s²)), the arcsine's condition; the others: |v|), evaluated
/// with upward rounding; the last term is the rounding of the value to `prec` bits.
/// Returns an error where the derivative is infinite (relu'' at s = ±1).
pub fn closed_value(
    k: &ClosedKernel,
    s: &Float,
    r: usize,
    prec: u32,
) -> Result<KernelValue, KernelError> {
    use rug::float::Round;
    // Where the terms cancel (relu κ as s → −1, κ ~ (1+s)^{3/2} against terms ~ (1+s)^{1/2}),
    // the bits lost, log2(M/|v|), are added to the working precision and the value recomputed
    // (at most twice; the bound is computed in every case, so it is honest either way).
    let mut wp = prec + CLOSED_GUARD_BITS;
    let (mut v, mut scale) = closed_terms(k, s, r, wp)?;
    for _ in 0..2 {
        if v.is_zero() || scale <= Float::with_val(53, v.abs_ref()) * 2u32 {
            break;
        }
        let lost =
            (scale.get_exp().unwrap_or(0) - v.get_exp().unwrap_or(0)).clamp(0, 4 * prec as i32);
        if lost < 8 {
            break;
        }
        wp = prec + CLOSED_GUARD_BITS + lost as u32 + 8;
        (v, scale) = closed_terms(k, s, r, wp)?;
    }
    let value = Float::with_val(prec, &v);
    // K·u·M + 2^−prec·|v|, every operation rounded up (53-bit).
    let up = |x: Float| Float::with_val_round(53, &x, Round::Up).0;
    let m = up(scale);
    let mut bound = Float::with_val_round(53, &m * CLOSED_ROUNDOFF_FACTOR, Round::Up).0;
    bound >>= wp;
    let last = up(Float::with_val(wp, v.abs_ref())) >> prec;
    let bound = Float::with_val_round(53, &bound + &last, Round::Up).0;
    // Proven: the a-priori rounding analysis of proofs-notes/dual-kernels.md, evaluated with
    // upward rounding, for inputs that are exact (s and the rational scales).
    Ok(KernelValue {
        value,
        abs_error_bound: bound,
        kind: BoundKind::Enclosure,
    })
}

/// The value of [`closed_value`] at working precision `wp` and the magnitude M of its terms.
fn closed_terms(
    k: &ClosedKernel,
    s: &Float,
    r: usize,
    wp: u32,
) -> Result<(Float, Float), KernelError> {
    let pi = Float::with_val(wp, Constant::Pi);
    let two_pi = Float::with_val(wp, &pi * 2u32);
    // 1 − s² = (1 − s)(1 + s): each factor and the product correctly rounded.
    let one_m_s2 = Float::with_val(wp, Float::with_val(wp, 1 - s) * Float::with_val(wp, 1 + s));
    let out = match k {
        ClosedKernel::ReluRelu => match r {
            0 => {
                // κ = (√(1−s²) + s·arccos(−s))/(2π)
                let t1 = Float::with_val(wp, one_m_s2.sqrt_ref());
                let t2 = Float::with_val(wp, Float::with_val(wp, -s).acos() * s);
                let scale = Float::with_val(wp, t1.clone().abs() + t2.clone().abs()) / &two_pi;
                (Float::with_val(wp, &t1 + &t2) / &two_pi, scale)
            }
            1 => {
                // κ' = arccos(−s)/(2π)
                let v = Float::with_val(wp, -s).acos() / &two_pi;
                let m = Float::with_val(wp, v.abs_ref());
                (v, m)
            }
            _ => {
                if one_m_s2 <= 0 {
                    return Err(KernelError::Unbounded {
                        order: 2,
                        why: "relu–relu: κ''(s) = 1/(2π√(1−s²)) is infinite at s = ±1".into(),
                    });
                }
                let v = (one_m_s2.sqrt() * &two_pi).recip();
                let m = Float::with_val(wp, v.abs_ref());
                (v, m)
            }
        },
        ClosedKernel::ErfErf(a, b) => {
            let a = Float::with_val(wp, a);
            let b = Float::with_val(wp, b);
            let a2 = Float::with_val(wp, a.square_ref());
            let b2 = Float::with_val(wp, b.square_ref());
            let da = Float::with_val(wp, &a2 * 2u32) + 1u32;
            let db = Float::with_val(wp, &b2 * 2u32) + 1u32;
            let dd = Float::with_val(wp, &da * &db);
            let c = Float::with_val(wp, &a * &b) * 2u32 / Float::with_val(wp, dd.sqrt_ref());
            let two_over_pi = Float::with_val(wp, 2u32) / &pi;
            let cs = Float::with_val(wp, &c * s);
            // q = 1 − c²s² = (1 + 2a² + 2b² + 4a²b²(1 − s²))/((1 + 2a²)(1 + 2b²))
            let num = Float::with_val(wp, &a2 * 2u32)
                + Float::with_val(wp, &b2 * 2u32)
                + 1u32
                + Float::with_val(wp, &a2 * &b2) * 4u32 * &one_m_s2;
            let q = num / &dd;
            let sq = Float::with_val(wp, q.sqrt_ref());
            match r {
                0 => {
                    let asin = Float::with_val(wp, cs.asin_ref());
                    let m = Float::with_val(wp, &two_over_pi * Float::with_val(wp, asin.abs_ref()))
                        + Float::with_val(wp, &two_over_pi * Float::with_val(wp, cs.abs_ref()))
                            / &sq;
                    (two_over_pi * asin, m)
                }
                1 => {
                    let v = two_over_pi * c / sq;
                    let m = Float::with_val(wp, v.abs_ref());
                    (v, m)
                }
                _ => {
                    let c3 = Float::with_val(wp, (&c).pow(3u32));
                    let q3 = Float::with_val(wp, &q * &q) * &q;
                    let v = two_over_pi * c3 * s / q3.sqrt();
                    let m = Float::with_val(wp, v.abs_ref());
                    (v, m)
                }
            }
        }
    };
    Ok(out)
}

/// Coefficients of z·σ'(z) from those of σ: c_j(zσ') = j c_j + √((j+1)(j+2)) c_{j+2}, for
/// j ≤ K − 2. The value is computed with round-to-nearest; its bound is
/// j·b_j + √((j+1)(j+2))↑·b_{j+2} (the tables' errors, propagated) plus the distance from the
/// value to the ends of an outward-rounded interval evaluation of the same formula on the
/// tables' values (which contains the formula's exact value), every bound operation rounded
/// up. The kind is the weakest of c_j's and c_{j+2}'s, rounded: an enclosure when both are
/// exact or enclosures.
pub fn z_dsigma_coefficients(t: &CoefficientTable) -> Vec<KernelValue> {
    use crate::coeffs::enclose::strip::up;
    use crate::interval::Interval as Iv;
    // an upper bound of |a − b| (one of the two differences is ≤ 0, the other rounded up)
    let dist = |a: &Float, b: &Float| {
        let (x, y) = (up(a - b), up(b - a));
        if x > y {
            x
        } else {
            y
        }
    };
    let k = t.degree;
    let mut out = Vec::new();
    for j in 0..k.saturating_sub(1) {
        let cj = &t.coefficients[j];
        let cj2 = &t.coefficients[j + 2];
        let prec = cj.value.prec().max(cj2.value.prec());
        let n = ((j + 1) * (j + 2)) as u64;
        let root = Float::with_val(prec, n).sqrt();
        let value =
            Float::with_val(prec, &cj.value * j as u64) + Float::with_val(prec, &root * &cj2.value);
        // the formula's exact value on the tables' values lies in `iv`
        let root_iv = Iv::from_u64(prec, n).sqrt().expect("n > 0");
        let iv = Iv::point(prec, &cj.value)
            .mul_u64(j as u64)
            .add(&root_iv.mul_point(&cj2.value));
        let (d_lo, d_hi) = (dist(&value, &iv.lo), dist(&value, &iv.hi));
        let rounding = if d_lo > d_hi { d_lo } else { d_hi };
        let propagated =
            up(up(&cj.abs_error_bound * j as u64) + up(up(&root_iv.hi) * &cj2.abs_error_bound));
        let bound = up(propagated + rounding);
        out.push(KernelValue {
            value,
            abs_error_bound: bound,
            kind: cj.bound_kind.weakest(cj2.bound_kind).rounded(),
        });
    }
    out
}

/// Information exponent of a pair: the smallest k ≥ 1 with c_k(σ)c_k(τ) certainly nonzero.
/// `Err(k)` when the first candidate k is not resolved in one of the tables.
pub fn pair_information_exponent(
    a: &CoefficientTable,
    b: &CoefficientTable,
) -> Result<Option<usize>, usize> {
    for (ca, cb) in a.coefficients.iter().zip(&b.coefficients).skip(1) {
        if ca.exact_zero || cb.exact_zero {
            continue;
        }
        let nz = |c: &coeffs::Coefficient| c.value.clone().abs() > c.abs_error_bound;
        if nz(ca) && nz(cb) {
            return Ok(Some(ca.k));
        }
        return Err(ca.k);
    }
    Ok(None)
}
