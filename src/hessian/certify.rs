//! A proved upper bound on sup R2(α) over α ∈ [α_min, α_max] for the interaction-free velocity.
//!
//! Closed form (module `symmetric`, proofs-notes/local-hessian.md §4): with G = 2·scale·ψ',
//! λ_e = G(β²ψ''/ψ' − α), λ_⊥ = −αG, ‖v‖ = β|G|, so
//!
//!   R2(α) = |α|·max(|λ_e|, |λ_⊥|)/‖v‖ = max(|β²Q(α) − α²|, α²)/β,   Q(α) = αψ''(α)/ψ'(α),
//!
//! which is the brief's |α|·max(|β²·2ψ'' − 2αψ'|, |2αψ'|)/(β|2ψ'|) (the scale cancels).
//! Near α = 0, ψ' = α^m q(α) with m the order of the zero of ψ' at 0 (m = k − 1 for a pair of
//! information exponent k) and q(0) ≠ 0, so Q = m + αq'(α)/q(α) is evaluated without 0/0: the
//! singularity at α = 0 is removable (Q(0) = m). A zero of ψ' at α₀ ≠ 0 makes R2 unbounded
//! (‖v‖ → 0 while λ_e → 2·scale·β²ψ''(α₀), or faster for a multiple zero); it is reported.
//! As α → 1 (β → 0), β·R2 → max(|0·Q − 1|, 1) = 1 whenever ψ'(1) ≠ 0: R2 ~ 1/β is unbounded on
//! [α_min, 1), so the bound is certified on [α_min, α_max] with α_max < 1, and β·R2 (bounded) can
//! be certified on the closed range [α_min, 1] ([`Weight::Beta`]).
//!
//! Enclosures. The series of ψ is truncated at K with coefficient balls a_k ± b_k and the model's
//! tail bounds t_r ≥ Σ_{k>K} k(k−1)…(k−r+1)|a_k| (Cauchy–Schwarz, `crate::meanfield::model`), so
//! for |α| ≤ 1: |tail of q| ≤ |α|^{K−m} t_1 and |tail of αq'| ≤ |α|^{K−m}(t_2 + m t_1). Every
//! operation is an [`Interval`] operation with outward rounding (MPFR Round::Down/Up).
//!
//! Branch and bound: boxes are kept in a heap by the upper end of their R2 enclosure; the top box
//! is bisected until its upper end U is within the relative gap of the best rigorous lower value
//! L (lower ends of point enclosures at box midpoints). Then every α in the range has
//! R2(α) ≤ U (U rounded up to f64), and some α has R2 ≥ L: a theorem about the activation pair,
//! conditional only on the coefficient tables' bounds. Tests: tests/hessian.rs (`certify_*`).

use super::interval::{horner, Interval};
use crate::meanfield::SeriesKernel;
use rug::float::Round;
use rug::Float;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// sup R2 (needs α_max < 1).
    R2,
    /// sup β·R2 = sup max(|β²Q − α²|, α²) (α_max = 1 allowed).
    BetaR2,
}

/// A certified bound.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// Every α in [alpha_min, alpha_max] has R2(α) ≤ upper (rounded up).
    pub upper: f64,
    /// Some α has R2(α) ≥ lower (rounded down).
    pub lower: f64,
    /// Where the lower value was found.
    pub argmax: f64,
    pub alpha_min: f64,
    pub alpha_max: f64,
    /// The order m of the zero of ψ' at α = 0.
    pub order_at_zero: usize,
    /// Boxes evaluated.
    pub boxes: usize,
    pub weight: Weight,
}

/// Why no bound could be certified.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CertifyError {
    #[error("invalid range: {0}")]
    Range(String),
    #[error("{0}")]
    NoSecondDerivative(String),
    #[error("psi' is identically zero in the stored series: the velocity vanishes")]
    ZeroPsi,
    #[error("R2 is unbounded or unresolved near alpha = {near:.6}: {reason}")]
    Unbounded { near: f64, reason: String },
    #[error("no certificate within {0} boxes (raise the budget or the gap)")]
    Budget(usize),
}

/// The enclosure machinery for one ψ.
struct R2Enclosure {
    prec: u32,
    m: usize,
    /// q_i = b_{m+i} (b_j = (j+1)a_{j+1}, the coefficients of ψ').
    q: Vec<Interval>,
    /// i·q_i (the coefficients of αq').
    aq: Vec<Interval>,
    /// K − m.
    tail_power: usize,
    t1: Float,
    t2m: Float,
    weight: Weight,
}

impl R2Enclosure {
    fn new(psi: &SeriesKernel, prec: u32, weight: Weight) -> Result<R2Enclosure, CertifyError> {
        let (t1, t2) = (psi.tail[1], psi.tail[2]);
        if !(t1.is_finite() && t2.is_finite()) {
            return Err(CertifyError::NoSecondDerivative(
                "the series of psi'' has no bound on [-1, 1]".into(),
            ));
        }
        let k = psi.coefficients.len() - 1;
        let b: Vec<Interval> = (0..k)
            .map(|j| {
                let v = Float::with_val(prec, &psi.coefficients[j + 1] * (j as u64 + 1));
                let r =
                    Float::with_val_round(prec, &psi.bound[j + 1] * (j as u64 + 1), Round::Up).0;
                Interval::ball(prec, &v, &r)
            })
            .collect();
        let m = b
            .iter()
            .position(|x| !(x.lo == 0 && x.hi == 0))
            .ok_or(CertifyError::ZeroPsi)?;
        let q: Vec<Interval> = b[m..].to_vec();
        let aq: Vec<Interval> = q
            .iter()
            .enumerate()
            .map(|(i, c)| c.mul(&Interval::int(prec, i as i64)))
            .collect();
        let t1f = Float::with_val_round(prec, t1, Round::Up).0;
        let t2m = Float::with_val_round(prec, t2 + m as f64 * t1, Round::Up).0;
        let t2m = Float::with_val_round(prec, &t2m * (1.0 + 1e-15), Round::Up).0;
        Ok(R2Enclosure {
            prec,
            m,
            q,
            aq,
            tail_power: k - m,
            t1: t1f,
            t2m,
            weight,
        })
    }

    /// q(x) enclosure.
    fn q_at(&self, x: &Interval) -> Interval {
        let p = self.prec;
        let mag = x.mag_pow(self.tail_power);
        let t = Float::with_val_round(p, &mag * &self.t1, Round::Up).0;
        horner(&self.q, x).add(&Interval::new(p, &Float::with_val(p, -&t), &t))
    }

    /// Enclosure of R2 (or β·R2) over x, `None` when q(x) contains 0 or β(x) does.
    fn eval(&self, x: &Interval) -> Option<Interval> {
        let p = self.prec;
        let mag = x.mag_pow(self.tail_power);
        let t = Float::with_val_round(p, &mag * &self.t2m, Round::Up).0;
        let q = self.q_at(x);
        let aq = horner(&self.aq, x).add(&Interval::new(p, &Float::with_val(p, -&t), &t));
        let big_q = Interval::int(p, self.m as i64).add(&aq.div(&q)?);
        let x2 = x.square();
        let b2 = Interval::int(p, 1).sub(&x2);
        let e = b2.mul(&big_q).sub(&x2);
        let n = e.abs().max(&x2);
        match self.weight {
            Weight::BetaR2 => Some(n),
            Weight::R2 => n.div(&b2.sqrt_clamped()),
        }
    }
}

#[derive(Debug)]
struct Box1 {
    lo: Float,
    hi: Float,
    key: f64,
}
impl PartialEq for Box1 {
    fn eq(&self, o: &Self) -> bool {
        self.key.total_cmp(&o.key) == Ordering::Equal
    }
}
impl Eq for Box1 {}
impl PartialOrd for Box1 {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Box1 {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key.total_cmp(&o.key)
    }
}

/// Certifies sup R2 (or sup β·R2) over [alpha_min, alpha_max] for the interaction-free velocity
/// of the pair whose ψ is `psi`, to a relative gap `rel_gap` between the proved upper bound and
/// the best proved lower value, at `prec` bits, with at most `max_boxes` boxes.
pub fn certify_r2(
    psi: &SeriesKernel,
    alpha_min: f64,
    alpha_max: f64,
    rel_gap: f64,
    weight: Weight,
    prec: u32,
    max_boxes: usize,
) -> Result<Certificate, CertifyError> {
    let top = match weight {
        Weight::R2 => alpha_max < 1.0,
        Weight::BetaR2 => alpha_max <= 1.0,
    };
    if !(alpha_min.is_finite() && alpha_max.is_finite() && alpha_min > -1.0 && top)
        || alpha_min >= alpha_max
    {
        return Err(CertifyError::Range(format!(
            "need -1 < alpha_min < alpha_max {} 1 (got [{alpha_min}, {alpha_max}]); \
             R2 ~ 1/beta is unbounded as alpha -> 1",
            if weight == Weight::R2 { "<" } else { "<=" }
        )));
    }
    if !(rel_gap > 0.0 && rel_gap.is_finite()) {
        return Err(CertifyError::Range(format!(
            "gap must be > 0, got {rel_gap}"
        )));
    }
    let enc = R2Enclosure::new(psi, prec, weight)?;
    let (a0, a1) = (
        Float::with_val(prec, alpha_min),
        Float::with_val(prec, alpha_max),
    );
    let min_width = Float::with_val(prec, (alpha_max - alpha_min) * 1e-12);
    let mut best = (f64::NEG_INFINITY, alpha_min);
    let mut evaluated = 0usize;
    let point = |x: &Float, best: &mut (f64, f64)| {
        if let Some(r) = enc.eval(&Interval::point(prec, x)) {
            let l = r.lo.to_f64_round(Round::Down);
            if l > best.0 {
                *best = (l, x.to_f64());
            }
        }
    };
    point(&a0, &mut best);
    point(&a1, &mut best);
    let mut heap = BinaryHeap::new();
    let make = |lo: Float, hi: Float| -> (Box1, Option<Float>) {
        let r = enc.eval(&Interval::new(prec, &lo, &hi));
        let (key, upper) = match r {
            Some(r) => (r.hi.to_f64_round(Round::Up), Some(r.hi)),
            None => (f64::INFINITY, None),
        };
        (Box1 { lo, hi, key }, upper)
    };
    let n0 = 32;
    for i in 0..n0 {
        let lo = Float::with_val(prec, &a0 + Float::with_val(prec, &a1 - &a0) * i as u32 / n0);
        let hi = if i + 1 == n0 {
            a1.clone()
        } else {
            Float::with_val(
                prec,
                &a0 + Float::with_val(prec, &a1 - &a0) * (i + 1) as u32 / n0,
            )
        };
        let mid = Float::with_val(prec, &lo + &hi) / 2u32;
        point(&mid, &mut best);
        heap.push(make(lo, hi).0);
        evaluated += 1;
    }
    loop {
        let b = heap.pop().expect("the heap is never empty");
        if b.key.is_finite() && b.key <= best.0 * (1.0 + rel_gap) {
            return Ok(Certificate {
                upper: b.key,
                lower: best.0,
                argmax: best.1,
                alpha_min,
                alpha_max,
                order_at_zero: enc.m,
                boxes: evaluated,
                weight,
            });
        }
        let width = Float::with_val(prec, &b.hi - &b.lo);
        if width < min_width {
            let near = Float::with_val(prec, &b.lo + &b.hi).to_f64() / 2.0;
            let qa = enc.q_at(&Interval::point(prec, &b.lo));
            let qb = enc.q_at(&Interval::point(prec, &b.hi));
            let sign_change = (qa.lo > 0 && qb.hi < 0) || (qa.hi < 0 && qb.lo > 0);
            let reason = if sign_change {
                "psi' changes sign there: the speed vanishes while H does not, R2 is unbounded"
                    .to_string()
            } else if !b.key.is_finite() {
                "psi' is not resolved from 0 there (a zero of psi', or too few digits)".to_string()
            } else {
                "the enclosure does not converge (raise the precision)".to_string()
            };
            return Err(CertifyError::Unbounded { near, reason });
        }
        if evaluated >= max_boxes {
            return Err(CertifyError::Budget(max_boxes));
        }
        let mid = Float::with_val(prec, &b.lo + &b.hi) / 2u32;
        point(&mid, &mut best);
        let (l, _) = make(b.lo.clone(), mid.clone());
        let (r, _) = make(mid, b.hi.clone());
        heap.push(l);
        heap.push(r);
        evaluated += 2;
    }
}
