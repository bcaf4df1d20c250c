//! The four kernels of a population problem as truncated power series, built once from the
//! activation specs for every caller (the fast path's set-up, the reduced mean-field model, the
//! golden population suites), with the Parseval remainders that bound their truncation.
//!
//! For a student σ and a teacher σ*, with c_k = c_k(σ), c*_k = c_k(σ*) and
//! c_k(zσ') = k c_k + √((k+1)(k+2)) c_{k+2} ([`super::z_dsigma_coefficients`],
//! docs/conventions.md §1): κ(s) = Σ_k c_k² s^k, ψ(s) = Σ_k c_k c*_k s^k,
//! κ_rad(s) = Σ_k c_k(zσ') c_k s^k, ψ_rad(s) = Σ_k c_k(zσ') c*_k s^k, each to degree K.
//!
//! Accuracy contract. Each stored coefficient a_k = c_k(f)c_k(g) is the product of the tables'
//! values rounded to nearest at `product_bits`, and `bound[k]` bounds |a_k − exact a_k| (first
//! order in the tables' bounds, their product, and one rounding). The truncation of the series
//! on [−1, 1] is bounded by Cauchy–Schwarz (proofs-notes/dual-kernels.md): the r-th derivative's
//! tail is at most √(R^{(r)}_f R^{(r)}_g), with R^{(r)}_f = E[(f^{(r)})²] − Σ_{k≤K} k^{(r)} c_k(f)²
//! ([`Remainders`], upper bounds given the tables' and the norms' bounds; `None` when f^{(r)} is
//! not in L², e.g. a step function's derivative). Which derivative orders are needed, and how the
//! bounds combine, is the caller's part.

use super::{KernelValue, Side};
use crate::activation::{Expr, Spec};
use crate::coeffs::{self, BoundKind, CoefficientTable};
use crate::conventions::{failure, usage, Error};
use rug::Float;

/// A dual kernel as a truncated power series with bounds.
#[derive(Clone, Debug)]
pub struct SeriesKernel {
    /// a_0..a_K, the coefficient of s^k.
    pub coefficients: Vec<Float>,
    /// |a_k − exact a_k| ≤ bound[k].
    pub bound: Vec<Float>,
    /// Truncation bounds for the value, first and second derivative on [−1, 1] (+∞ if none).
    pub tail: [f64; 3],
}

impl SeriesKernel {
    /// The coefficients rounded to f64 (the fast path's input).
    pub fn to_f64(&self) -> Vec<f64> {
        self.coefficients.iter().map(|c| c.to_f64()).collect()
    }
}

/// How the Parseval remainders are obtained (each caller's choice of precision, kept so that
/// its outputs do not move).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remainders {
    /// R^{(r)}, r ≤ 2, from the tables' own norms (quadratures at the tables' digits) summed at
    /// `bits` ([`Side`]); R_{zσ'} from a quadrature of E[(zσ')²] at `z_digits`, subtracted at
    /// `z_bits`.
    Tables {
        bits: u32,
        z_digits: u32,
        z_bits: u32,
    },
    /// R^{(r)}, r ≤ 1 (R'' is not computed), and R_{zσ'}, each from a quadrature of
    /// E[(f^{(r)})²] at `digits`, subtracted at `bits`.
    Quadrature { digits: u32, bits: u32 },
}

/// The precision choices of a build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    /// Significant digits of the coefficient tables.
    pub table_digits: u32,
    /// The teacher's table goes to degree K + `teacher_extra` (0 or 2; the student's to K + 2,
    /// for c_k(zσ'), k ≤ K).
    pub teacher_extra: usize,
    /// MPFR bits of the products c_k(f)c_k(g).
    pub product_bits: u32,
    /// When true, the radial kernels are the products of the f64-rounded coefficients of zσ'
    /// and of the other side (their f64 product, exactly rounded), as the fast path has always
    /// taken them; otherwise the products of the tables' values.
    pub radial_from_f64: bool,
    pub remainders: Remainders,
}

/// Upper bounds on the Parseval remainders after degree K, as f64 rounded to nearest (not
/// inflated: callers that need a rounding margin add it). `None` when not computed or when
/// f^{(r)} ∉ L².
#[derive(Clone, Debug, PartialEq)]
pub struct RemainderBounds {
    pub student: [Option<f64>; 3],
    pub teacher: [Option<f64>; 3],
    /// R_{zσ'} (value only).
    pub z_dsigma: Option<f64>,
}

/// The four kernels and what they were built from.
#[derive(Clone, Debug)]
pub struct PopulationSeries {
    /// K.
    pub degree: usize,
    pub student_table: CoefficientTable,
    pub teacher_table: CoefficientTable,
    /// κ = κ_{σ,σ}, ψ = κ_{σ,σ*}, κ_{zσ',σ}, κ_{zσ',σ*}, tails not set (+∞).
    pub kappa: SeriesKernel,
    pub psi: SeriesKernel,
    pub kappa_radial: SeriesKernel,
    pub psi_radial: SeriesKernel,
    pub remainders: RemainderBounds,
    /// The tables' norms E[(f^{(r)})²] with bounds (with [`Remainders::Tables`]; else empty).
    pub student_norms: [Option<(Float, Float)>; 3],
    pub teacher_norms: [Option<(Float, Float)>; 3],
}

/// (value, bound) of the first K + 1 entries.
fn table_pairs(t: &CoefficientTable, k: usize) -> Vec<(Float, Float)> {
    t.coefficients
        .iter()
        .take(k + 1)
        .map(|c| (c.value.clone(), c.abs_error_bound.clone()))
        .collect()
}

fn value_pairs(v: &[KernelValue], k: usize) -> Vec<(Float, Float)> {
    v.iter()
        .take(k + 1)
        .map(|v| (v.value.clone(), v.abs_error_bound.clone()))
        .collect()
}

/// The f64 rounding of each value, exactly (bounds 0: the series of f64 inputs).
fn rounded_pairs(p: &[(Float, Float)]) -> Vec<(Float, Float)> {
    p.iter()
        .map(|(v, _)| (Float::with_val(53, v.to_f64()), Float::new(53)))
        .collect()
}

/// a_k = x_k y_k at `prec` bits with |a_k − exact| ≤ |x_k| e_y + |y_k| e_x + e_x e_y + ulp.
fn product(a: &[(Float, Float)], b: &[(Float, Float)], k: usize, prec: u32) -> SeriesKernel {
    let mut coefficients = Vec::with_capacity(k + 1);
    let mut bound = Vec::with_capacity(k + 1);
    for ((x, ex), (y, ey)) in a.iter().zip(b).take(k + 1) {
        let v = Float::with_val(prec, x * y);
        let e = Float::with_val(prec, x.abs_ref()) * ey
            + Float::with_val(prec, y.abs_ref()) * ex
            + Float::with_val(prec, ex * ey)
            + (Float::with_val(prec, v.abs_ref()) >> (prec - 1));
        coefficients.push(v);
        bound.push(e);
    }
    SeriesKernel {
        coefficients,
        bound,
        tail: [f64::INFINITY; 3],
    }
}

/// Upper bound on E[f²] − Σ_{k≤K} w_k c_k² (w_k = 1, or k for r = 1) from the norm
/// (value, bound) and the (value, bound) pairs: (norm + bound) − Σ (|c_k| − b_k)_+² w_k,
/// subtracted in index order at `prec` bits, as f64 clamped at 0 (rounded to nearest).
pub fn parseval_remainder(
    norm: &(Float, Float),
    pairs: &[(Float, Float)],
    r: usize,
    prec: u32,
) -> f64 {
    let mut s = Float::with_val(prec, &norm.0 + &norm.1);
    for (k, (v, b)) in pairs.iter().enumerate() {
        let w = if r == 0 { 1 } else { k as u32 };
        let mut lo = Float::with_val(prec, v.abs_ref()) - b;
        if lo < 0 {
            lo = Float::new(prec);
        }
        s -= lo.square() * w;
    }
    s.to_f64().max(0.0)
}

/// f', or a usage error naming the activation.
pub fn derivative(s: &Spec) -> Result<Spec, Error> {
    s.derivative().ok_or_else(|| {
        usage(format!(
            "{}: the derivative is not a function (a jump): no gradient",
            s.source
        ))
    })
}

/// z·σ'(z) as an activation (for the norm E[(zσ')²]).
pub fn z_dsigma_spec(student: &Spec) -> Result<Spec, Error> {
    Ok(Spec {
        source: format!("z*d/dz[{}]", student.source),
        expr: Expr::Mul(Box::new(Expr::Z), Box::new(derivative(student)?.expr)),
    })
}

impl PopulationSeries {
    /// The four kernels of student σ against teacher σ* to degree `k`, with the remainders.
    /// Errors: `Usage` when a table cannot be computed or σ has a jump (zσ' is then not a
    /// function), or when R' is asked of a side with a jump ([`Remainders::Quadrature`]);
    /// `Failure` when a quadrature fails.
    pub fn new(
        student: &Spec,
        teacher: &Spec,
        k: usize,
        p: &Precision,
    ) -> Result<PopulationSeries, Error> {
        let with_norms = matches!(p.remainders, Remainders::Tables { .. });
        let side = |s: &Spec, deg: usize| -> Result<Side, Error> {
            if with_norms {
                Side::new(s, deg, p.table_digits).map_err(|e| usage(e.to_string()))
            } else {
                let table = coeffs::hermite_coefficients(s, deg, p.table_digits)
                    .map_err(|e| usage(e.to_string()))?;
                Ok(Side {
                    table,
                    norms: [None, None, None],
                    norm_kinds: [BoundKind::Estimate; 3],
                })
            }
        };
        let s_side = side(student, k + 2)?;
        let t_side = side(teacher, k + p.teacher_extra)?;
        let zs = super::z_dsigma_coefficients(&s_side.table);
        let (sv, tv, zv) = (
            table_pairs(&s_side.table, k),
            table_pairs(&t_side.table, k),
            value_pairs(&zs, k),
        );
        let prec = p.product_bits;
        let kappa = product(&sv, &sv, k, prec);
        let psi = product(&sv, &tv, k, prec);
        let (kappa_radial, psi_radial) = if p.radial_from_f64 {
            let z = rounded_pairs(&zv);
            (
                product(&z, &rounded_pairs(&sv), k, prec),
                product(&z, &rounded_pairs(&tv), k, prec),
            )
        } else {
            (product(&zv, &sv, k, prec), product(&zv, &tv, k, prec))
        };
        let remainders = match p.remainders {
            Remainders::Tables {
                bits,
                z_digits,
                z_bits,
            } => {
                let rem = |side: &Side, r: usize| side.remainder(r, bits, k).map(|x| x.to_f64());
                let z_norm =
                    coeffs::norm_squared(&z_dsigma_spec(student)?, z_digits).map_err(failure)?;
                RemainderBounds {
                    student: [rem(&s_side, 0), rem(&s_side, 1), rem(&s_side, 2)],
                    teacher: [rem(&t_side, 0), rem(&t_side, 1), rem(&t_side, 2)],
                    z_dsigma: Some(parseval_remainder(&z_norm, &zv, 0, z_bits)),
                }
            }
            Remainders::Quadrature { digits, bits } => {
                let rem = |f: &Spec, pairs: &[(Float, Float)], r: usize| -> Result<f64, Error> {
                    let norm = coeffs::norm_squared(f, digits).map_err(failure)?;
                    Ok(parseval_remainder(&norm, pairs, r, bits))
                };
                let r0s = rem(student, &sv, 0)?;
                let r0t = rem(teacher, &tv, 0)?;
                let r1s = rem(&derivative(student)?, &sv, 1)?;
                let r1t = rem(&derivative(teacher)?, &tv, 1)?;
                let rz = rem(&z_dsigma_spec(student)?, &zv, 0)?;
                RemainderBounds {
                    student: [Some(r0s), Some(r1s), None],
                    teacher: [Some(r0t), Some(r1t), None],
                    z_dsigma: Some(rz),
                }
            }
        };
        Ok(PopulationSeries {
            degree: k,
            student_table: s_side.table,
            teacher_table: t_side.table,
            kappa,
            psi,
            kappa_radial,
            psi_radial,
            remainders,
            student_norms: s_side.norms,
            teacher_norms: t_side.norms,
        })
    }
}
