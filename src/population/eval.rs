//! The oracle's evaluation: kernels at ball-valued overlaps, the loss, tangent and radial
//! gradients and velocity of every neuron, and one projected-GD step, all in ball arithmetic.
//!
//! Accuracy contract: that of the module ([`super`]): every returned value has
//! `abs_error_bound` ≥ |value − truth|.

#![allow(clippy::needless_range_loop)]

use super::*;
use crate::kernel::{closed_value, series, ClosedKernel, KernelError};
use rug::float::{Constant, Round};
use rug::Float;

impl Oracle {
    /// κ^{(r)} at the ball s (clamped to [−1, 1]), as a ball.
    pub(super) fn kernel(
        &self,
        k: &PairKernel,
        s: &Ball,
        r: usize,
    ) -> Result<Ball, PopulationError> {
        let p = self.prec;
        if s.rad.is_zero() && s.mid == 1 {
            if let Some((v, b)) = &k.at_one[r] {
                return Ok(Ball::with(Float::with_val(p, v), b.clone()));
            }
        }
        let what = || {
            format!(
                "{}^({r}) at s = {}",
                k.name,
                s.mid.to_string_radix(10, Some(20))
            )
        };
        let v = match &k.how {
            How::Closed(ck) => closed_value(ck, &s.mid, r, p),
            How::Series(a, b) => series(&self.side(*a).side, &self.side(*b).side, &s.mid, r),
        }
        .map_err(|source| PopulationError::Kernel {
            what: what(),
            source,
        })?;
        let mut rad = abs_up(&v.abs_error_bound);
        if !s.rad.is_zero() {
            let m = modulus(k, &s.mid, &s.rad, r).ok_or_else(|| PopulationError::Kernel {
                what: what(),
                source: KernelError::Unbounded {
                    order: r + 1,
                    why: format!(
                        "the rounding radius {} of the overlap cannot be propagated: no bound on the derivative of order {} near |s| = 1",
                        s.rad.to_string_radix(10, Some(3)),
                        r + 1
                    ),
                },
            })?;
            rad = up_add(&rad, &m);
        }
        Ok(Ball::with(Float::with_val(p, &v.value), rad))
    }

    /// Validates and normalises rows; identical input rows are recorded so that their overlaps
    /// are exactly ±1.
    pub(super) fn prepare(
        &self,
        field: &'static str,
        rows: &[Vec<Float>],
        d: usize,
    ) -> Result<Vec<Vec<Ball>>, PopulationError> {
        let p = self.prec;
        let tol = Float::with_val(64, 1e-12);
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(PopulationError::Dimension {
                    field,
                    row: i,
                    expected: d,
                    got: row.len(),
                });
            }
            if row.iter().any(|x| !x.is_finite()) {
                return Err(PopulationError::NotFinite { field, row: i });
            }
            let exact: Vec<Ball> = row.iter().map(|x| Ball::exact(x.clone())).collect();
            let n = dot(&exact, &exact, p).sqrt(p);
            let dev = Float::with_val(64, &n.mid - 1u32).abs();
            if dev > tol {
                return Err(PopulationError::NotUnit {
                    field,
                    row: i,
                    deviation: dev.to_string_radix(10, Some(3)),
                });
            }
            let normalised: Vec<Ball> = exact
                .iter()
                .map(|x| x.div(&n, p).expect("norm ≈ 1"))
                .collect();
            out.push(normalised);
        }
        Ok(out)
    }

    pub(super) fn check_teacher(&self, teacher: &Teacher) -> Result<(), PopulationError> {
        if teacher.terms.len() != self.teacher_specs.len() {
            return Err(PopulationError::Dimension {
                field: "teacher",
                row: 0,
                expected: self.teacher_specs.len(),
                got: teacher.terms.len(),
            });
        }
        for (r, ((spec, _), expected)) in teacher.terms.iter().zip(&self.teacher_specs).enumerate()
        {
            if spec.expr != expected.expr {
                return Err(PopulationError::TeacherMismatch {
                    index: r,
                    expected: expected.source.clone(),
                    got: spec.source.clone(),
                });
            }
        }
        if !teacher.noise_variance.is_finite() {
            return Err(PopulationError::NotFinite {
                field: "noise_variance",
                row: 0,
            });
        }
        if teacher.noise_variance < 0 {
            return Err(PopulationError::Negative {
                field: "noise_variance",
            });
        }
        Ok(())
    }

    /// Loss, tangent and radial gradients and velocity of every neuron, each with its bound.
    /// `a`: output weights (N, exact); `w`: N unit rows of length d; `teacher`: the same
    /// activations, in the same order, as given to [`Oracle::new`].
    pub fn evaluate(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
    ) -> Result<PopulationResult, PopulationError> {
        let c = self.compute(a, w, teacher)?;
        let rows = |m: &Vec<Vec<Ball>>| {
            m.iter()
                .map(|r| r.iter().map(Ball::bounded).collect())
                .collect()
        };
        Ok(PopulationResult {
            loss_kind: self.loss_kind(),
            gradient_kind: self.gradient_kind(),
            loss: c.loss.bounded(),
            tangent_gradient: rows(&c.tangent),
            radial_gradient: c.radial.iter().map(Ball::bounded).collect(),
            velocity: rows(&c.velocity),
        })
    }

    /// One update of every neuron with learning rate ηN (η ≥ 0 exact), from the same
    /// quantities as [`Oracle::evaluate`]; the bounds cover the gradients' bounds and the
    /// rounding of the update (ball arithmetic through the normalisation).
    pub fn step(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
        eta: &Float,
        update: Update,
    ) -> Result<StepResult, PopulationError> {
        if !eta.is_finite() {
            return Err(PopulationError::NotFinite {
                field: "eta",
                row: 0,
            });
        }
        if *eta < 0 {
            return Err(PopulationError::Negative { field: "eta" });
        }
        let p = self.prec;
        let c = self.compute(a, w, teacher)?;
        let n = w.len();
        // ηN, rounded once.
        let lr = Ball::with(Float::with_val(p, eta * n as u32), Float::new(RB));
        let mut out = StepResult {
            kind: self.gradient_kind(),
            w: Vec::with_capacity(n),
            abs_error_bound: Vec::with_capacity(n),
        };
        for i in 0..n {
            let wi = &c.w[i];
            let g = &c.tangent[i];
            let x: Vec<Ball> = match update {
                Update::Euclidean => {
                    // (1 − ηNρ) w − ηN g
                    let shrink =
                        Ball::exact(Float::with_val(p, 1)).sub(&lr.mul(&c.radial[i], p), p);
                    wi.iter()
                        .zip(g)
                        .map(|(wk, gk)| shrink.mul(wk, p).sub(&lr.mul(gk, p), p))
                        .collect()
                }
                Update::Tangent => wi
                    .iter()
                    .zip(g)
                    .map(|(wk, gk)| wk.sub(&lr.mul(gk, p), p))
                    .collect(),
                Update::Geodesic => {
                    // cos(φ) w − ηN sinc(φ) g, φ = ηN‖g‖ (sinc is 1/2-Lipschitz: |sinc'| ≤ 0.44).
                    let phi = lr.mul(&dot(g, g, p).sqrt(p), p);
                    let cos = Ball::with(Float::with_val(p, phi.mid.cos_ref()), phi.rad.clone());
                    let sinc = if phi.mid.is_zero() {
                        Float::with_val(p, 1)
                    } else {
                        Float::with_val(p, phi.mid.sin_ref()) / &phi.mid
                    };
                    // sin and the division: two correctly rounded operations on an exact φ̃.
                    let sinc_rad = up_add(&(phi.rad.clone() >> 1u32), &(ulp(&sinc) << 1u32));
                    let sinc = Ball::with(sinc, sinc_rad);
                    let coef = lr.mul(&sinc, p);
                    wi.iter()
                        .zip(g)
                        .map(|(wk, gk)| cos.mul(wk, p).sub(&coef.mul(gk, p), p))
                        .collect()
                }
            };
            let y = normalise(&x, p).ok_or_else(|| {
                PopulationError::Unresolved(format!(
                    "step of neuron {i}: the updated row is not resolved from zero (η too large for the bounds)"
                ))
            })?;
            out.w.push(y.iter().map(|b| b.mid.clone()).collect());
            out.abs_error_bound
                .push(y.iter().map(|b| b.rad.clone()).collect());
        }
        Ok(out)
    }

    pub(super) fn compute(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
    ) -> Result<Computed, PopulationError> {
        let p = self.prec;
        let n = w.len();
        if n == 0 {
            return Err(PopulationError::NoNeurons);
        }
        let d = w[0].len();
        if d < 2 {
            return Err(PopulationError::SmallDimension(d));
        }
        if a.len() != n {
            return Err(PopulationError::Dimension {
                field: "a",
                row: 0,
                expected: n,
                got: a.len(),
            });
        }
        if let Some(i) = a.iter().position(|x| !x.is_finite()) {
            return Err(PopulationError::NotFinite { field: "a", row: i });
        }
        self.check_teacher(teacher)?;
        let wb = self.prepare("w", w, d)?;
        let thetas: Vec<Vec<Float>> = teacher.terms.iter().map(|(_, t)| t.clone()).collect();
        let tb = self.prepare("theta", &thetas, d)?;
        let m = tb.len();
        let ab: Vec<Ball> = a.iter().map(|x| Ball::exact(x.clone())).collect();

        // Overlaps: exact ±1 for identical/opposite input rows, else balls clamped to [−1, 1].
        let overlap = |x: &[Float], y: &[Float], bx: &[Ball], by: &[Ball]| -> Ball {
            if x == y {
                return Ball::exact(Float::with_val(p, 1));
            }
            if x.iter().zip(y).all(|(u, v)| *u == -v.clone()) {
                return Ball::exact(Float::with_val(p, -1));
            }
            dot(bx, by, p).clamp_unit()
        };

        // Pair kernels (symmetric in i, j).
        let mut k0 = vec![vec![Ball::exact(Float::new(p)); n]; n];
        let mut k1 = k0.clone();
        let mut kr = k0.clone();
        let one = Ball::exact(Float::with_val(p, 1));
        for i in 0..n {
            k0[i][i] = self.kernel(&self.kk, &one, 0)?;
            kr[i][i] = self.kernel(&self.kr, &one, 0)?;
            for j in i + 1..n {
                let s = overlap(&w[i], &w[j], &wb[i], &wb[j]);
                let v0 = self.kernel(&self.kk, &s, 0)?;
                let v1 = self.kernel(&self.kk, &s, 1)?;
                let vr = self.kernel(&self.kr, &s, 0)?;
                k0[j][i] = v0.clone();
                k0[i][j] = v0;
                k1[j][i] = v1.clone();
                k1[i][j] = v1;
                kr[j][i] = vr.clone();
                kr[i][j] = vr;
            }
        }
        // Teacher kernels.
        let mut p0 = Vec::with_capacity(n);
        let mut p1 = Vec::with_capacity(n);
        let mut pr = Vec::with_capacity(n);
        for i in 0..n {
            let (mut a0, mut a1, mut ar) = (Vec::new(), Vec::new(), Vec::new());
            for r in 0..m {
                let t = overlap(&w[i], &thetas[r], &wb[i], &tb[r]);
                a0.push(self.kernel(&self.psi[r], &t, 0)?);
                a1.push(self.kernel(&self.psi[r], &t, 1)?);
                ar.push(self.kernel(&self.psir[r], &t, 0)?);
            }
            p0.push(a0);
            p1.push(a1);
            pr.push(ar);
        }
        let half = Float::with_val(p, 0.5);
        let apply_scale = |b: Ball| match self.scale {
            LossScale::Full => b,
            LossScale::Half => b.scale(&half, p),
        };

        // Loss.
        let mut loss = Ball::exact(Float::new(p));
        for i in 0..n {
            let mut row = Ball::exact(Float::new(p));
            for j in 0..n {
                row = row.add(&ab[j].mul(&k0[i][j], p), p);
            }
            for r in 0..m {
                row = row.sub(&p0[i][r].scale(&Float::with_val(p, 2), p), p);
            }
            loss = loss.add(&ab[i].mul(&row, p), p);
        }
        for r in 0..m {
            for q in 0..m {
                let u = if r == q {
                    one.clone()
                } else {
                    overlap(&thetas[r], &thetas[q], &tb[r], &tb[q])
                };
                loss = loss.add(&self.kernel(&self.tt[r][q], &u, 0)?, p);
            }
        }
        loss = loss.add(&Ball::exact(teacher.noise_variance.clone()), p);
        let loss = apply_scale(loss);

        // Gradients and velocity.
        let two = Float::with_val(p, 2);
        let mut tangent = Vec::with_capacity(n);
        let mut velocity = Vec::with_capacity(n);
        let mut radial = Vec::with_capacity(n);
        for i in 0..n {
            // S_i = Σ_{j≠i} a_j κ'(s_ij) w_j − Σ_r ψ_r'(t_ir) θ_r
            let mut sv = vec![Ball::exact(Float::new(p)); d];
            for j in 0..n {
                if j == i {
                    continue;
                }
                let c = ab[j].mul(&k1[i][j], p);
                for k in 0..d {
                    sv[k] = sv[k].add(&c.mul(&wb[j][k], p), p);
                }
            }
            for r in 0..m {
                for k in 0..d {
                    sv[k] = sv[k].sub(&p1[i][r].mul(&tb[r][k], p), p);
                }
            }
            let c = dot(&wb[i], &sv, p);
            let ps: Vec<Ball> = (0..d).map(|k| sv[k].sub(&c.mul(&wb[i][k], p), p)).collect();
            let ga = ab[i].scale(&two, p);
            tangent.push(
                ps.iter()
                    .map(|x| apply_scale(ga.mul(x, p)))
                    .collect::<Vec<_>>(),
            );
            velocity.push(
                ps.iter()
                    .map(|x| apply_scale(x.scale(&two, p).neg()))
                    .collect::<Vec<_>>(),
            );
            // ρ_i = 2a_i (Σ_j a_j κ_{zσ',σ}(s_ij) − Σ_r κ_{zσ',σ*_r}(t_ir))
            let mut rs = Ball::exact(Float::new(p));
            for j in 0..n {
                rs = rs.add(&ab[j].mul(&kr[i][j], p), p);
            }
            for r in 0..m {
                rs = rs.sub(&pr[i][r], p);
            }
            radial.push(apply_scale(ga.mul(&rs, p)));
        }
        Ok(Computed {
            w: wb,
            loss,
            tangent,
            radial,
            velocity,
        })
    }
}

/// A bound on sup |κ^{(r)}(ξ) − κ^{(r)}(s̃)| over ξ ∈ [−1, 1] with |ξ − s̃| ≤ δ, or None.
pub(super) fn modulus(k: &PairKernel, s: &Float, delta: &Float, r: usize) -> Option<Float> {
    let q = r + 1;
    let mut best: Option<Float> = k.sup.get(q).cloned().flatten().map(|m| up_mul(&m, delta));
    let mut take = |c: Float| {
        best = Some(match best.take() {
            Some(b) if b <= c => b,
            _ => c,
        })
    };
    // x = |s̃| + δ rounded up, 1 − x rounded down (enough bits for 1 − x to be exact-ish).
    let wp = s.prec() + RB + 8;
    let x = Float::with_val_round(wp, Float::with_val(wp, s.abs_ref()) + delta, Round::Up).0;
    let gap = Float::with_val_round(wp, 1 - &x, Round::Down).0;
    match &k.how {
        How::Closed(ClosedKernel::ReluRelu) if q == 2 => {
            // |acos ξ − acos s| ≤ π√(|ξ − s|/2), so |κ'(ξ) − κ'(s)| ≤ √(δ/2)/2.
            let h =
                Float::with_val_round(RB, Float::with_val(RB, delta >> 1u32).sqrt_ref(), Round::Up)
                    .0
                    >> 1u32;
            take(inflate(h));
            if gap > 0 {
                // κ'' = 1/(2π√(1−ξ²)) is increasing in |ξ| ≤ x: δ/(2π√((1−x)(1+x))).
                let onepx = Float::with_val(wp, 1 + &x);
                let den = Float::with_val(RB, Float::with_val(wp, &gap * &onepx).sqrt())
                    * 2u32
                    * Float::with_val(RB, Constant::Pi);
                let v = Float::with_val_round(RB, delta / &den, Round::Up).0;
                take(inflate(inflate(v)));
            }
        }
        How::Series(..) if gap > 0 => {
            if let Some(n0) = &k.sqrt_n0 {
                // |κ^{(q)}(ξ)| ≤ √(Eσ²Eτ²) Σ_k k^{(q)} x^{k−q} = √(Eσ²Eτ²) q!/(1−x)^{q+1}.
                let fact: u32 = (1..=q as u32).product();
                let g = Float::with_val_round(RB, &gap, Round::Down).0;
                let mut den = g.clone();
                for _ in 0..q {
                    den = Float::with_val_round(RB, &den * &g, Round::Down).0;
                }
                let num = up_mul(&up_mul(n0, delta), &Float::with_val(RB, fact));
                take(Float::with_val_round(RB, &num / &den, Round::Up).0);
            }
        }
        _ => {}
    }
    best
}
