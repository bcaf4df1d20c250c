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
//! by column (ξ = P e_k). [`reduced_velocity_dual`] evaluates the reduced flow's
//! g = 2·scale·[(ψ' − A)β + Bα] by the term-by-term A, B formula from moment sums at
//! (α + ε, β − (α/β)ε), so its ε-part is g' = dg/dα along the sphere (the independent check of
//! `meanfield::oracle::Field::velocity_and_derivative`); [`reduced_velocity_majorant`] gives the
//! sums of the absolute values of the terms that bound its rounding.
//!
//! Accuracy: every operation is rounded to nearest at `prec` bits, so the result is exact to a
//! relative ~(number of operations)·2^{−prec} of the magnitudes involved. Tests: tests/hessian.rs
//! (`symmetric_closed_form_matches_dual`, `general_f64_matches_dual`,
//! `oracle_g_prime_matches_dual`).

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

/// The reduced flow's velocity coefficient g = 2·scale·[(ψ'(α) − A)β + Bα] in dual arithmetic,
/// with A, B by their term-by-term binomial formula (docs/conventions.md §4, `meanfield::oracle::field`
/// module doc), written here independently of the oracle's code:
///
///   A = Σ_k k κ_k Σ_{l even ≤ k−1} C(k−1, l) m_l P_{k−l,l} α^{k−1−l} β^l,
///   B = Σ_k k κ_k Σ_{l odd ≤ k−1} C(k−1, l) m_{l+1} P_{k−1−l,l+1} α^{k−1−l} β^l,
///
/// κ = Σ κ_k s^k, ψ = Σ ψ_k s^k, m_{2i} = Π_{r<i}(2r+1)/(d−1+2r) (m odd = 0, computed here),
/// binomials by Pascal's rule, P_{p,l} = Σ_j w_j α_j^p β_j^l supplied by `moment`. ψ' and every
/// power are Horner/products on duals, so with α = α₀ + ε and β = β₀ − (α₀/β₀)ε the ε-part is
/// dg/dα along the sphere at fixed law by the product rule alone (no formula for g' is used).
pub fn reduced_velocity_dual(
    law: &SeriesLaw,
    moment: &dyn Fn(usize, usize) -> Float,
    alpha: &Dual,
    beta: &Dual,
) -> Dual {
    reduced_velocity(law, moment, alpha, beta, false)
}

/// The same expansion with every input replaced by its absolute value (coefficients, moments,
/// both parts of α and β) and the subtraction ψ' − A replaced by an addition: every term is then
/// nonnegative, so the value and ε-parts are the sums of the absolute values of the terms of g
/// and of g' (the magnitudes that bound rounding errors of any evaluation of the same terms).
pub fn reduced_velocity_majorant(
    law: &SeriesLaw,
    moment: &dyn Fn(usize, usize) -> Float,
    alpha: &Dual,
    beta: &Dual,
) -> Dual {
    reduced_velocity(law, moment, alpha, beta, true)
}

/// The inputs of the reduced velocity other than the law's moments: the kernel series κ, the
/// student series ψ (coefficients of s^k), the time scale and the dimension d.
pub struct SeriesLaw<'a> {
    pub kappa: &'a [Float],
    pub psi: &'a [Float],
    pub scale: &'a Float,
    pub d: usize,
}

fn reduced_velocity(
    law: &SeriesLaw,
    moment: &dyn Fn(usize, usize) -> Float,
    alpha: &Dual,
    beta: &Dual,
    absolute: bool,
) -> Dual {
    let SeriesLaw {
        kappa,
        psi,
        scale,
        d,
    } = *law;
    let prec = alpha.v.prec();
    let fix = |x: Float| if absolute { x.abs() } else { x };
    let kappa: Vec<Float> = kappa.iter().map(|x| fix(x.clone())).collect();
    let psi: Vec<Float> = psi.iter().map(|x| fix(x.clone())).collect();
    let scale = fix(scale.clone());
    let dual_fix = |x: &Dual| Dual::new(fix(x.v.clone()), fix(x.d.clone()));
    let (alpha, beta) = (&dual_fix(alpha), &dual_fix(beta));
    let moment = |p: usize, l: usize| fix(moment(p, l));
    let deg = kappa.len().max(psi.len());
    // z moments m_0 … m_deg.
    let mut m = vec![Float::new(prec); deg + 2];
    m[0] = Float::with_val(prec, 1u32);
    for l in (2..m.len()).step_by(2) {
        let r = (l - 2) as u32;
        let f = Float::with_val(prec, (r + 1) as f64)
            / Float::with_val(prec, d as f64 - 1.0 + r as f64);
        m[l] = Float::with_val(prec, &m[l - 2] * &f);
    }
    // Pascal's triangle up to row deg.
    let mut binom: Vec<Vec<Float>> = vec![vec![Float::with_val(prec, 1u32)]];
    for n in 1..=deg {
        let prev = &binom[n - 1];
        let row: Vec<Float> = (0..=n)
            .map(|l| {
                let left = if l > 0 {
                    prev[l - 1].clone()
                } else {
                    Float::new(prec)
                };
                let right = if l < n {
                    prev[l].clone()
                } else {
                    Float::new(prec)
                };
                Float::with_val(prec, left + right)
            })
            .collect();
        binom.push(row);
    }
    let pow = |x: &Dual, n: usize| -> Dual {
        let mut r = Dual::constant(Float::with_val(prec, 1u32));
        for _ in 0..n {
            r = r.mul(x);
        }
        r
    };
    let mut a = Dual::constant(Float::new(prec));
    let mut b = Dual::constant(Float::new(prec));
    for k in 1..kappa.len() {
        if kappa[k].is_zero() {
            continue;
        }
        let kk = Float::with_val(prec, &kappa[k] * (k as u64));
        for l in 0..k {
            let p = k - 1 - l;
            let mono = pow(alpha, p).mul(&pow(beta, l));
            let mut c = Float::with_val(prec, &kk * &binom[k - 1][l]);
            if l % 2 == 0 {
                c *= &m[l];
                c *= moment(k - l, l);
                a = a.add(&mono.scale(&c));
            } else {
                c *= &m[l + 1];
                c *= moment(k - 1 - l, l + 1);
                b = b.add(&mono.scale(&c));
            }
        }
    }
    let dpsi = derivative_coefficients(&psi, prec);
    let p1 = horner(&dpsi, alpha);
    let two_s = Float::with_val(prec, &scale * 2u32);
    let inner = if absolute { p1.add(&a) } else { p1.sub(&a) };
    inner.mul(beta).add(&b.mul(alpha)).scale(&two_s)
}
