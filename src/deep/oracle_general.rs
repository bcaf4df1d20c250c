//! The MPFR oracle of the deep model with a general unit σ (`deep eval --unit SPEC --oracle`),
//! for small N: risk and N²-scaled velocities through the crate's dual-kernel series
//! ([`crate::kernel::series`]) of the scaled activations σ(r_j ·).
//!
//! Written separately from the f64 route ([`super::general`]); it shares only the input data
//! ([`super::Net`]). Differences of route:
//! - the coefficients of σ(r·) are the crate's coefficient tables of the scaled spec
//!   ([`crate::activation::Spec::scaled`] at the exact rational value of the MPFR radius; the
//!   table engine's own quadrature or closed forms, at `digits` digits), not an f64 rule;
//! - ∂_r κ is the kernel of z·(σ_r)'(z) with the other side, divided by r
//!   ((σ_r)'(z) = r σ'(rz), so z(σ_r)'(z) = r·∂_r σ(rz)), not the tables' r-derivatives;
//! - the diagonal K(v_j, v_j) and the teacher's E g² are series at ρ = 1 (Parseval tails), not
//!   the direct norms n(r) and 1/3;
//! - the series' tails are the kernel module's bounds (Parseval and geometric routes).
//!
//! ## Accuracy contract
//! Each kernel value carries the kernel module's bound (its kind that of the tables: enclosure
//! where the coefficient engine proves its tables, else estimate). The printed error of each
//! output is the first-order propagation of those bounds through the (linear) assembly, plus
//! 2^{−(p−16)}|value| for the rounding of the assembly at p bits. The node vectors are formed
//! at p bits with round-to-nearest and their rounding is not tracked, so the printed kind is
//! **estimate**.

// Index loops mirror the formulas.
#![allow(clippy::needless_range_loop)]

use super::oracle::OracleEval;
use super::{Net, Psi};
use crate::activation::Spec;
use crate::kernel::{self, Side};
use rug::Float;

fn psi_mp(psi: Psi, t: f64, p: u32) -> (Float, Float) {
    let t = Float::with_val(p, t);
    match psi {
        Psi::Gd => (
            Float::with_val(p, t.sinh_ref()).atan(),
            Float::with_val(p, t.cosh_ref()).recip(),
        ),
        Psi::Id => (t, Float::with_val(p, 1)),
    }
}

/// One side: σ(r·) and z·(σ_r)'(z), with r.
struct Node {
    r: Float,
    /// Unit direction v̂ (length d).
    dir: Vec<Float>,
    side: Side,
    zside: Side,
}

fn node(sigma: &Spec, v: &[Float], degree: usize, digits: u32, p: u32) -> Result<Node, String> {
    let mut r2 = Float::new(p);
    for x in v {
        r2 += Float::with_val(p, x.square_ref());
    }
    let r = r2.sqrt();
    if r.is_zero() {
        return Err("a node vector is exactly zero: its direction is undefined".into());
    }
    let q = r
        .to_rational()
        .ok_or_else(|| "a node radius is not finite".to_string())?;
    let scaled = sigma.scaled(&q);
    let side = Side::new(&scaled, degree, digits).map_err(|e| e.to_string())?;
    let zs = kernel::z_dsigma_spec(&scaled).map_err(|e| e.to_string())?;
    let zside = Side::new(&zs, degree, digits).map_err(|e| e.to_string())?;
    let dir = v.iter().map(|x| Float::with_val(p, x / &r)).collect();
    Ok(Node {
        r,
        dir,
        side,
        zside,
    })
}

/// κ, ∂_rκ (in the first radius), ∂_ρκ with their bounds, between nodes a and b at ρ.
struct Pair {
    k: (Float, Float),
    dr: (Float, Float),
    drho: (Float, Float),
}

fn pair(a: &Node, b: &Node, rho: &Float, p: u32) -> Result<Pair, String> {
    let s = |x: &Side, y: &Side, r: usize| -> Result<(Float, Float), String> {
        let kv = kernel::series(x, y, rho, r).map_err(|e| e.to_string())?;
        Ok((Float::with_val(p, &kv.value), kv.abs_error_bound))
    };
    let k = s(&a.side, &b.side, 0)?;
    let (zr, zb) = s(&a.zside, &b.side, 0)?;
    let drho = s(&a.side, &b.side, 1)?;
    Ok(Pair {
        k,
        dr: (zr / &a.r, zb / &a.r),
        drho,
    })
}

/// Risk and velocities of `net` with unit `sigma`, coefficient tables to `degree`, at `digits`.
pub fn evaluate(sigma: &Spec, net: &Net, degree: usize, digits: u32) -> Result<OracleEval, String> {
    let p = super::oracle::working_precision(digits);
    let (n, d, psi) = (net.n, net.d, net.psi);
    let nf = Float::with_val(p, n);
    // Node vectors v_j = (1/N) Σ_i ψ(θ_ij) u_i.
    let vs: Vec<Vec<Float>> = (0..n)
        .map(|j| {
            let mut vj = vec![Float::new(p); d];
            for i in 0..n {
                let (w, _) = psi_mp(psi, net.theta1[j * n + i], p);
                for m in 0..d {
                    vj[m] += Float::with_val(p, &w * net.u[i * d + m]);
                }
            }
            vj.into_iter().map(|x| x / &nf).collect()
        })
        .collect();
    let c: Vec<Float> = if net.layers == 3 {
        (0..n)
            .map(|j| {
                let mut s = Float::new(p);
                for k in 0..n {
                    s += psi_mp(psi, net.theta2[j * n + k], p).0 * net.a[k];
                }
                s / &nf
            })
            .collect()
    } else {
        net.a.iter().map(|&x| Float::with_val(p, x)).collect()
    };
    let nodes: Vec<Node> = vs
        .iter()
        .map(|v| node(sigma, v, degree, digits, p))
        .collect::<Result<_, _>>()?;
    let g = Spec::parse(super::general::ERF_UNIT).map_err(|e| e.to_string())?;
    let mut e1 = vec![Float::new(p); d];
    e1[0] = Float::with_val(p, 1);
    let teacher = node(&g, &e1, degree, digits, p)?;
    let one = Float::with_val(p, 1);
    let rho_of = |a: &Node, b: &Node| -> Float {
        let mut s = Float::new(p);
        for (x, y) in a.dir.iter().zip(&b.dir) {
            s += Float::with_val(p, x * y);
        }
        s.clamp(&-one.clone(), &one)
    };
    let abs = |x: &Float| Float::with_val(p, x.abs_ref());
    // Per node j: Σ_k c_k K_jk (with bound), V_j (with a componentwise bound), e_j.
    let mut quad = Float::new(p);
    let mut quad_b = Float::new(p);
    let mut lin = Float::new(p);
    let mut lin_b = Float::new(p);
    let mut big_v: Vec<Vec<Float>> = Vec::with_capacity(n);
    let mut big_vb: Vec<Float> = Vec::with_capacity(n);
    let mut es: Vec<(Float, Float)> = Vec::with_capacity(n);
    for j in 0..n {
        let nj = &nodes[j];
        let mut grad = vec![Float::new(p); d];
        let mut grad_b = Float::new(p);
        let mut row = Float::new(p);
        let mut row_b = Float::new(p);
        for k in 0..n {
            let nk = &nodes[k];
            let rho = if j == k { one.clone() } else { rho_of(nj, nk) };
            let pr = pair(nj, nk, &rho, p)?;
            row += Float::with_val(p, &c[k] * &pr.k.0);
            row_b += abs(&c[k]) * &pr.k.1;
            // ∇₁K = ∂_rκ v̂_j + (∂_ρκ / r_j)(v̂_k − ρ v̂_j) (the second term vanishes for k = j)
            let q = Float::with_val(p, &pr.drho.0 / &nj.r);
            for m in 0..d {
                let t = Float::with_val(p, &pr.dr.0 * &nj.dir[m])
                    + Float::with_val(p, &nk.dir[m] - Float::with_val(p, &rho * &nj.dir[m])) * &q;
                grad[m] += t * &c[k];
            }
            // (for k = j the ρ-term is multiplied by v̂_j − v̂_j = 0: its bound does not enter)
            let qb = if j == k {
                Float::new(p)
            } else {
                Float::with_val(p, &pr.drho.1 / &nj.r) * 2u32
            };
            grad_b += abs(&c[k]) * (Float::with_val(p, &pr.dr.1) + qb);
        }
        let rho = rho_of(nj, &teacher);
        let pr = pair(nj, &teacher, &rho, p)?;
        let q = Float::with_val(p, &pr.drho.0 / &nj.r);
        let mut vj = Vec::with_capacity(d);
        for m in 0..d {
            let t = Float::with_val(p, &pr.dr.0 * &nj.dir[m])
                + Float::with_val(p, &teacher.dir[m] - Float::with_val(p, &rho * &nj.dir[m])) * &q;
            vj.push(t - Float::with_val(p, &grad[m] / &nf));
        }
        let vb = Float::with_val(p, &grad_b / &nf)
            + &pr.dr.1
            + Float::with_val(p, &pr.drho.1 / &nj.r) * 2u32;
        big_v.push(vj);
        big_vb.push(vb);
        quad += Float::with_val(p, &c[j] * &row);
        quad_b += abs(&c[j]) * &row_b;
        lin += Float::with_val(p, &c[j] * &pr.k.0);
        lin_b += abs(&c[j]) * &pr.k.1;
        es.push((
            Float::with_val(p, &row / &nf) - &pr.k.0,
            Float::with_val(p, &row_b / &nf) + &pr.k.1,
        ));
    }
    let yy = pair(&teacher, &teacher, &one, p)?.k;
    let n2 = Float::with_val(p, &nf * &nf);
    let risk = Float::with_val(p, &quad / &n2) - Float::with_val(p, &lin / &nf) * 2u32 + &yy.0;
    let round = |x: &Float| Float::with_val(p, x.abs_ref()) >> (p as i32 - 16);
    let risk_err = Float::with_val(p, &quad_b / &n2)
        + Float::with_val(p, &lin_b / &nf) * 2u32
        + &yy.1
        + round(&risk);
    // dθ_ij/dt = 2 c_j ψ'(θ_ij) ⟨u_i, V_j⟩.
    let mut vel1 = Vec::with_capacity(n * n);
    let mut vel1_err = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (_, dp) = psi_mp(psi, net.theta1[j * n + i], p);
            let mut s = Float::new(p);
            let mut l1 = Float::new(p);
            for m in 0..d {
                s += Float::with_val(p, &big_v[j][m] * net.u[i * d + m]);
                l1 += net.u[i * d + m].abs();
            }
            let pre = Float::with_val(p, &c[j] * &dp) * 2u32;
            let val = Float::with_val(p, &pre * &s);
            let e = abs(&pre) * l1 * &big_vb[j] + round(&val);
            vel1.push(val);
            vel1_err.push(e);
        }
    }
    // dθ2_jk/dt = −2 a_k ψ'(θ2_jk) e_j.
    let mut vel2 = Vec::new();
    let mut vel2_err = Vec::new();
    if net.layers == 3 {
        for j in 0..n {
            for k in 0..n {
                let (_, dp) = psi_mp(psi, net.theta2[j * n + k], p);
                let pre = -(dp * net.a[k]) * 2u32;
                let val = Float::with_val(p, &pre * &es[j].0);
                let e = abs(&pre) * &es[j].1 + round(&val);
                vel2.push(val);
                vel2_err.push(e);
            }
        }
    }
    Ok(OracleEval {
        prec: p,
        risk,
        risk_err,
        vel1,
        vel1_err,
        vel2,
        vel2_err,
    })
}
