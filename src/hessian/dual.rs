//! Forward-mode dual numbers over MPFR: exact directional derivatives of an MPFR evaluation of
//! the velocity, with no step size (the independent check of the closed forms).
//!
//! A [`Dual`] is x + x'ε with ε² = 0, both parts rug `Float`s at one precision. Only +, −, × and
//! multiplication by constants are used, so the derivative part is produced by the product rule
//! applied to the very operations that evaluate the value: power series (κ', ψ') are evaluated by
//! Horner's rule on duals, never through a formula for κ'' or ψ''.
//!
//! [`velocity_dual`] evaluates v(w) = P_w F(w), F = 2·scale·[ψ'(⟨w,θ⟩)θ − Σ_j a_j κ'(⟨w,w_j⟩)w_j]
//! at w = w₀ + εξ (w₀ unit, ξ tangent); the tangent projection of the ε-part is the covariant
//! derivative ∇_ξ v(w₀) (proofs-notes/local-hessian.md §3). [`jacobian_dual`] assembles H column
//! by column (ξ = P e_k). Accuracy: every operation is rounded to nearest at `prec` bits, so the
//! result is exact to a relative ~(number of operations)·2^{−prec} of the magnitudes involved.
//! Tests: tests/hessian.rs (`dual_*`).

use rug::Float;

/// x + x'ε at a fixed precision.
#[derive(Clone, Debug)]
pub struct Dual {
    pub v: Float,
    pub d: Float,
}

impl Dual {
    pub fn constant(v: Float) -> Dual {
        let p = v.prec();
        Dual {
            v,
            d: Float::new(p),
        }
    }
    pub fn new(v: Float, d: Float) -> Dual {
        Dual { v, d }
    }
    pub fn add(&self, o: &Dual) -> Dual {
        let p = self.v.prec();
        Dual {
            v: Float::with_val(p, &self.v + &o.v),
            d: Float::with_val(p, &self.d + &o.d),
        }
    }
    pub fn sub(&self, o: &Dual) -> Dual {
        let p = self.v.prec();
        Dual {
            v: Float::with_val(p, &self.v - &o.v),
            d: Float::with_val(p, &self.d - &o.d),
        }
    }
    /// (x + x'ε)(y + y'ε) = xy + (x'y + xy')ε.
    pub fn mul(&self, o: &Dual) -> Dual {
        let p = self.v.prec();
        let v = Float::with_val(p, &self.v * &o.v);
        let d = Float::with_val(p, &self.d * &o.v) + Float::with_val(p, &self.v * &o.d);
        Dual { v, d }
    }
    /// Times a constant.
    pub fn scale(&self, c: &Float) -> Dual {
        let p = self.v.prec();
        Dual {
            v: Float::with_val(p, &self.v * c),
            d: Float::with_val(p, &self.d * c),
        }
    }
}

/// Σ_k c_k x^k by Horner's rule in dual arithmetic.
pub fn horner(c: &[Float], x: &Dual) -> Dual {
    let p = x.v.prec();
    let mut acc = Dual::constant(Float::new(p));
    for ck in c.iter().rev() {
        acc = acc.mul(x).add(&Dual::constant(Float::with_val(p, ck)));
    }
    acc
}

/// ⟨x, y⟩ of dual vectors.
fn dot(x: &[Dual], y: &[Dual]) -> Dual {
    let p = x[0].v.prec();
    let mut acc = Dual::constant(Float::new(p));
    for (a, b) in x.iter().zip(y) {
        acc = acc.add(&a.mul(b));
    }
    acc
}

/// The derivative coefficients k·c_k (k ≥ 1) of a power series.
pub fn derivative_coefficients(c: &[Float], prec: u32) -> Vec<Float> {
    (1..c.len())
        .map(|k| Float::with_val(prec, &c[k] * (k as u64)))
        .collect()
}

/// An MPFR finite-width (or test-particle) problem: the law Σ_j a_j δ_{w_j}, θ, and the power
/// series of κ and ψ (coefficients of s^k).
#[derive(Clone, Debug)]
pub struct RugProblem {
    pub prec: u32,
    pub w: Vec<Vec<Float>>,
    pub a: Vec<Float>,
    pub theta: Vec<Float>,
    pub kappa: Vec<Float>,
    pub psi: Vec<Float>,
    /// 1 or ½.
    pub scale: Float,
}

/// Where the particle's own atom sits while it moves (`crate::hessian::SelfTerm`): `None` for a
/// test particle or a frozen atom (the law is exactly `w`), `Some(i)` when the atom of neuron i
/// moves with the particle (row i of the law is replaced by the moving point).
pub fn velocity_dual(p: &RugProblem, w: &[Dual], moving: Option<usize>) -> Vec<Dual> {
    let prec = p.prec;
    let dpsi = derivative_coefficients(&p.psi, prec);
    let dkappa = derivative_coefficients(&p.kappa, prec);
    let theta: Vec<Dual> = p.theta.iter().map(|x| Dual::constant(x.clone())).collect();
    let t = dot(w, &theta);
    let pt = horner(&dpsi, &t);
    let mut f: Vec<Dual> = theta.iter().map(|th| th.mul(&pt)).collect();
    for (j, (wj, aj)) in p.w.iter().zip(&p.a).enumerate() {
        let row: Vec<Dual> = if moving == Some(j) {
            w.to_vec()
        } else {
            wj.iter().map(|x| Dual::constant(x.clone())).collect()
        };
        let s = dot(w, &row);
        let k1 = horner(&dkappa, &s).scale(aj);
        for (fk, rk) in f.iter_mut().zip(&row) {
            *fk = fk.sub(&k1.mul(rk));
        }
    }
    let two_s = Float::with_val(prec, &p.scale * 2u32);
    let f: Vec<Dual> = f.iter().map(|x| x.scale(&two_s)).collect();
    let c = dot(w, &f);
    f.iter().zip(w).map(|(fk, wk)| fk.sub(&c.mul(wk))).collect()
}

/// P_w x for unit w.
fn project(w: &[Float], x: &[Float], prec: u32) -> Vec<Float> {
    let mut c = Float::new(prec);
    for (a, b) in w.iter().zip(x) {
        c += Float::with_val(prec, a * b);
    }
    w.iter()
        .zip(x)
        .map(|(a, b)| Float::with_val(prec, b - Float::with_val(prec, a * &c)))
        .collect()
}

/// ∇_ξ v at the unit w₀ along the tangent ξ: the projected ε-part of v(w₀ + εξ).
pub fn directional_derivative(
    p: &RugProblem,
    w0: &[Float],
    xi: &[Float],
    moving: Option<usize>,
) -> Vec<Float> {
    let w: Vec<Dual> = w0
        .iter()
        .zip(xi)
        .map(|(a, b)| Dual::new(a.clone(), b.clone()))
        .collect();
    let v = velocity_dual(p, &w, moving);
    let dv: Vec<Float> = v.into_iter().map(|x| x.d).collect();
    project(w0, &dv, p.prec)
}

/// The tangent Jacobian H (rows of d) at the unit w₀: column k is ∇_{P e_k} v, so H = H P and
/// H w₀ = 0, matching `crate::hessian::tangent_jacobian`.
pub fn jacobian_dual(p: &RugProblem, w0: &[Float], moving: Option<usize>) -> Vec<Vec<Float>> {
    let d = w0.len();
    let prec = p.prec;
    let mut h = vec![vec![Float::new(prec); d]; d];
    for k in 0..d {
        let mut ek = vec![Float::new(prec); d];
        ek[k] = Float::with_val(prec, 1);
        let xi = project(w0, &ek, prec);
        let col = directional_derivative(p, w0, &xi, moving);
        for r in 0..d {
            h[r][k] = col[r].clone();
        }
    }
    h
}
