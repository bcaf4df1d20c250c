//! The data of a reduced mean-field problem: the four dual kernels as power series in the
//! overlap s, with coefficient bounds and rigorous truncation bounds, and the loss constant.
//!
//! This is *input data* of the reduced flow, shared by the f64 flow and the MPFR oracle flow
//! (which share no formula code beyond it): it is computed once, by the oracle's coefficient
//! tables (`crate::coeffs`), and tested there.
//!
//! For a student σ and teacher σ*, with c_k = c_k(σ), c*_k = c_k(σ*) and
//! c_k(zσ') = k c_k + √((k+1)(k+2)) c_{k+2} (docs/conventions.md §1):
//! - κ(s) = Σ_k c_k² s^k, ψ(s) = Σ_k c_k c*_k s^k,
//! - κ_rad(s) = Σ_k c_k(zσ') c_k s^k, ψ_rad(s) = Σ_k c_k(zσ') c*_k s^k (radial parts, used by the
//!   Euclidean-step-then-normalise map),
//! - constant κ_{σ*,σ*}(1) + ν² = E σ*² + ν².
//!
//! Accuracy contract. Each series is truncated at degree K (`degree`); for every kernel,
//! `tail[r]` bounds |Σ_{k>K} k^{(r)} a_k s^{k−r}| uniformly on [−1, 1] (r = 0, 1, 2; +∞ when no
//! bound exists, e.g. r = 1 for a step-like activation). The tail is exactly 0 when either side
//! is a polynomial of degree ≤ K (then every dropped product a_k vanishes); otherwise it is the
//! Cauchy–Schwarz bound √(R^{(r)}_σ R^{(r)}_τ) with the Parseval remainders of
//! [`crate::kernel::PopulationSeries`] (proofs-notes/dual-kernels.md), which builds the series. `bound[k]` bounds the error of the
//! stored coefficient a_k. All bounds are conditional on the coefficient tables' bounds.

use crate::activation::Spec;
use crate::coeffs;
pub use crate::kernel::SeriesKernel;
use crate::kernel::{PopulationSeries, Precision, Remainders};
use crate::population::LossScale;
use rug::Float;

/// Largest series degree accepted.
pub const MAX_SERIES_DEGREE: usize = 400;

/// Why a reduced mean-field problem cannot be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("d = {0}: the reduced flow needs d >= 3")]
    SmallDimension(usize),
    #[error("series degree {0} is out of range (2..={MAX_SERIES_DEGREE})")]
    Degree(usize),
    #[error("{0}: the derivative is not a function (a jump), so the velocity is undefined")]
    NoDerivative(String),
    #[error("{0}")]
    Coefficients(String),
}

/// The reduced problem: kernels, dimension, loss scale and noise.
#[derive(Clone, Debug)]
pub struct Model {
    pub student: Spec,
    pub teacher: Spec,
    pub d: usize,
    pub loss_scale: LossScale,
    /// ν² ≥ 0.
    pub noise_variance: f64,
    /// The series degree K actually used (raised to cover polynomial specs exactly).
    pub degree: usize,
    /// Digits of the coefficient tables.
    pub digits: u32,
    /// κ = κ_{σ,σ}.
    pub kappa: SeriesKernel,
    /// ψ = κ_{σ,σ*}.
    pub psi: SeriesKernel,
    /// κ_{zσ',σ}.
    pub kappa_radial: SeriesKernel,
    /// κ_{zσ',σ*}.
    pub psi_radial: SeriesKernel,
    /// E σ*² (= κ_{σ*,σ*}(1)), with its bound.
    pub teacher_norm: (Float, Float),
    /// True when both σ and σ* are polynomials of degree ≤ K: every tail is exactly 0.
    pub exact: bool,
}

fn poly_degree(s: &Spec) -> Option<usize> {
    s.as_polynomial().map(|c| c.len().saturating_sub(1))
}

impl Model {
    /// Builds the kernels to degree `degree` (raised to the polynomial degrees + 2 when σ or σ*
    /// is a polynomial), from coefficient tables at `digits` digits.
    pub fn new(
        student: &Spec,
        teacher: &Spec,
        d: usize,
        degree: usize,
        digits: u32,
        loss_scale: LossScale,
        noise_variance: f64,
    ) -> Result<Model, ModelError> {
        if d < 3 {
            return Err(ModelError::SmallDimension(d));
        }
        if !(2..=MAX_SERIES_DEGREE).contains(&degree) {
            return Err(ModelError::Degree(degree));
        }
        if student.derivative().is_none() {
            return Err(ModelError::NoDerivative(student.source.clone()));
        }
        let (ps, pt) = (poly_degree(student), poly_degree(teacher));
        let k = degree
            .max(ps.map_or(0, |m| m + 2))
            .max(pt.map_or(0, |m| m + 2));
        let prec = coeffs::digits_to_bits(digits) + 64;
        let precision = Precision {
            table_digits: digits,
            teacher_extra: 0,
            product_bits: prec,
            radial_from_f64: false,
            remainders: Remainders::Tables {
                bits: prec,
                z_digits: digits,
                z_bits: prec,
            },
        };
        // σ to K + 2 so that c_k(zσ') is known for k ≤ K.
        let series = PopulationSeries::new(student, teacher, k, &precision)
            .map_err(|e| ModelError::Coefficients(e.message().to_string()))?;
        let covered = |p: Option<usize>| p.is_some_and(|m| m <= k);
        let tails = |a: [Option<f64>; 3], b: [Option<f64>; 3], zero: bool| -> [f64; 3] {
            let mut t = [f64::INFINITY; 3];
            for r in 0..3 {
                if zero {
                    t[r] = 0.0;
                } else if let (Some(x), Some(y)) = (a[r], b[r]) {
                    t[r] = (x * y).sqrt() * (1.0 + 1e-12);
                }
            }
            t
        };
        let rb = &series.remainders;
        let (rs, rt) = (rb.student, rb.teacher);
        // R_{zσ'} inflated by 10⁻¹² for the rounding of its subtraction.
        let rz = [rb.z_dsigma.map(|x| x * (1.0 + 1e-12)), None, None];
        let poly_s = covered(ps);
        let poly_t = covered(pt);
        let with_tail = |mut k: SeriesKernel, tail: [f64; 3]| {
            k.tail = tail;
            k
        };
        let kappa = with_tail(series.kappa, tails(rs, rs, poly_s));
        let psi = with_tail(series.psi, tails(rs, rt, poly_s || poly_t));
        let kappa_radial = with_tail(series.kappa_radial, tails(rz, rs, poly_s));
        let psi_radial = with_tail(series.psi_radial, tails(rz, rt, poly_s || poly_t));
        let teacher_norm = series.teacher_norms[0]
            .clone()
            .expect("E σ*² is always computed");
        Ok(Model {
            student: student.clone(),
            teacher: teacher.clone(),
            d,
            loss_scale,
            noise_variance,
            degree: k,
            digits,
            kappa,
            psi,
            kappa_radial,
            psi_radial,
            teacher_norm,
            exact: poly_s && poly_t,
        })
    }

    /// 1 or ½.
    pub fn scale(&self) -> f64 {
        self.loss_scale.factor()
    }
}
