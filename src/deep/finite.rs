//! Finite-N population risk and N²-scaled velocities of the deep model, in f64.
//!
//! For a network f = (1/N) Σ_j c_j g(⟨v_j, x⟩) (c = a for L = 2, c = b for L = 3), with
//! K(v, v') = E g(⟨v,x⟩) g(⟨v',x⟩) = (2/π) asin(⟨v,v'⟩ / √((1+|v|²)(1+|v'|²))) and
//! ∇₁K(v, v') = (2/π)(v' − ⟨v,v'⟩ v/(1+|v|²)) / √((1+|v|²)(1+|v'|²) − ⟨v,v'⟩²):
//!
//! - R = (1/N²) Σ_jk c_j c_k K(v_j, v_k) − (2/N) Σ_j c_j K(v_j, w*) + 1/3;
//! - V_j = −(1/N) Σ_k c_k ∇₁K(v_j, v_k) + ∇₁K(v_j, w*), e_j = (1/N) Σ_k c_k K(v_j, v_k) − K(v_j, w*);
//! - L = 2: dθ_ij/dt = 2 a_j ψ'(θ_ij) ⟨u_i, V_j⟩;
//!   L = 3: dθ1_ij/dt = 2 b_j ψ'(θ1_ij) ⟨u_i, V_j⟩, dθ2_jk/dt = −2 a_k ψ'(θ2_jk) e_j.
//!
//! Passes over the N² trained scalars are fused: one pass accumulates v_j with ψ(θ) (and b_j
//! for L = 3) computed on the fly, one pass writes the velocities with ψ'(θ) computed on the fly.
//! The Gram part is O(N²d).
//!
//! ## Accuracy contract
//! Plain f64 evaluation of the closed forms; no bound is carried. Measured against the MPFR
//! oracle ([`super::oracle`]) in `tests/deep.rs` (`f64_matches_the_oracle`): error of the
//! risk and of every velocity within 2e−12·max(1, |value|) for N = 5, d = 3.
//!
//! ## Reproducibility
//! Rows (H2 nodes j) are processed in parallel with rayon, each row by one thread in a fixed
//! order; cross-row sums are done sequentially in j afterwards. Results are bit-identical for
//! any number of threads.

use super::{Net, Psi};
use rayon::prelude::*;
use std::f64::consts::FRAC_2_PI;

/// Risk and velocities of one network.
#[derive(Clone, Debug, PartialEq)]
pub struct Eval {
    /// Population risk R_N = E(f − y)².
    pub risk: f64,
    /// −N² ∂R/∂θ1, same layout as `Net::theta1`.
    pub vel1: Vec<f64>,
    /// −N² ∂R/∂θ2 (L = 3), same layout as `Net::theta2`; empty for L = 2.
    pub vel2: Vec<f64>,
    /// Node vectors v_j (N × d).
    pub v: Vec<f64>,
    /// Readout weights c_j (a for L = 2, b for L = 3).
    pub c: Vec<f64>,
}

/// Node vectors v_j = (1/N) Σ_i ψ(θ_ij) u_i (row-major N × d), one fused pass over θ1.
pub fn node_vectors(net: &Net) -> Vec<f64> {
    let (n, d, psi) = (net.n, net.d, net.psi);
    let inv = 1.0 / n as f64;
    let mut v = vec![0.0; n * d];
    v.par_chunks_mut(d).enumerate().for_each(|(j, vj)| {
        let row = &net.theta1[j * n..(j + 1) * n];
        for (i, &t) in row.iter().enumerate() {
            let p = psi.value(t);
            let ui = &net.u[i * d..(i + 1) * d];
            for (x, &y) in vj.iter_mut().zip(ui) {
                *x += p * y;
            }
        }
        for x in vj.iter_mut() {
            *x *= inv;
        }
    });
    v
}

/// b_j = (1/N) Σ_k a_k ψ(θ2_jk) (L = 3).
pub fn readout_b(net: &Net) -> Vec<f64> {
    let n = net.n;
    let inv = 1.0 / n as f64;
    (0..n)
        .into_par_iter()
        .map(|j| {
            let row = &net.theta2[j * n..(j + 1) * n];
            row.iter()
                .zip(&net.a)
                .map(|(&t, &a)| a * net.psi.value(t))
                .sum::<f64>()
                * inv
        })
        .collect()
}

/// K(v, v') from |v|², |v'|² and ⟨v, v'⟩.
#[inline]
pub fn kernel(nv: f64, nw: f64, dot: f64) -> f64 {
    FRAC_2_PI * (dot / ((1.0 + nv) * (1.0 + nw)).sqrt()).asin()
}

/// The readout of a network given its node vectors and weights: risk, V_j, e_j.
pub struct Readout {
    pub risk: f64,
    /// V_j, row-major N × d.
    pub big_v: Vec<f64>,
    pub e: Vec<f64>,
}

/// R, V_j and e_j of f = (1/N) Σ_j c_j g(⟨v_j, x⟩) against the teacher g(x₁).
pub fn readout(v: &[f64], c: &[f64], n: usize, d: usize) -> Readout {
    let norms: Vec<f64> = v.chunks(d).map(|r| r.iter().map(|x| x * x).sum()).collect();
    let inv = 1.0 / n as f64;
    // Per row j: (Σ_k c_k K_jk, K(v_j, w*), V_j).
    let rows: Vec<(f64, f64, Vec<f64>)> = (0..n)
        .into_par_iter()
        .map(|j| {
            let vj = &v[j * d..(j + 1) * d];
            let nj = norms[j];
            let mut acc = vec![0.0; d];
            let mut s = 0.0;
            let mut rk = 0.0;
            for k in 0..n {
                let vk = &v[k * d..(k + 1) * d];
                let dot: f64 = vj.iter().zip(vk).map(|(x, y)| x * y).sum();
                let p = (1.0 + nj) * (1.0 + norms[k]);
                rk += c[k] * FRAC_2_PI * (dot / p.sqrt()).asin();
                let w = c[k] / (p - dot * dot).sqrt();
                s += w * dot;
                for (x, &y) in acc.iter_mut().zip(vk) {
                    *x += w * y;
                }
            }
            // V_j = −(2/π)(1/N)(acc − s v_j/(1+|v_j|²)) + ∇₁K(v_j, e₁).
            let mut big = vec![0.0; d];
            for m in 0..d {
                big[m] = -FRAC_2_PI * inv * (acc[m] - s * vj[m] / (1.0 + nj));
            }
            let dt = vj[0];
            let pt = 2.0 * (1.0 + nj);
            let den = (pt - dt * dt).sqrt();
            big[0] += FRAC_2_PI / den;
            for m in 0..d {
                big[m] -= FRAC_2_PI * dt * vj[m] / ((1.0 + nj) * den);
            }
            let kt = FRAC_2_PI * (dt / pt.sqrt()).asin();
            (rk, kt, big)
        })
        .collect();
    let mut quad = 0.0;
    let mut lin = 0.0;
    let mut e = Vec::with_capacity(n);
    let mut big_v = Vec::with_capacity(n * d);
    for (j, (rk, kt, big)) in rows.into_iter().enumerate() {
        quad += c[j] * rk;
        lin += c[j] * kt;
        e.push(rk * inv - kt);
        big_v.extend(big);
    }
    let risk = quad * inv * inv - 2.0 * inv * lin + 1.0 / 3.0;
    Readout { risk, big_v, e }
}

/// Risk and all velocities of `net` (one evaluation).
pub fn evaluate(net: &Net) -> Eval {
    let (n, d, psi) = (net.n, net.d, net.psi);
    let v = node_vectors(net);
    let c = if net.layers == 3 {
        readout_b(net)
    } else {
        net.a.clone()
    };
    let r = readout(&v, &c, n, d);
    let vel1 = first_layer_velocity(net, &c, &r.big_v);
    let vel2 = if net.layers == 3 {
        second_layer_velocity(psi, &net.theta2, &net.a, &r.e, n)
    } else {
        Vec::new()
    };
    Eval {
        risk: r.risk,
        vel1,
        vel2,
        v,
        c,
    }
}

/// dθ_ij/dt = 2 c_j ψ'(θ_ij) ⟨u_i, V_j⟩, one fused pass over θ.
pub fn first_layer_velocity(net: &Net, c: &[f64], big_v: &[f64]) -> Vec<f64> {
    let (n, d, psi) = (net.n, net.d, net.psi);
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n).enumerate().for_each(|(j, row)| {
        let vj = &big_v[j * d..(j + 1) * d];
        let th = &net.theta1[j * n..(j + 1) * n];
        let cj = 2.0 * c[j];
        for i in 0..n {
            let ui = &net.u[i * d..(i + 1) * d];
            let dot: f64 = ui.iter().zip(vj).map(|(x, y)| x * y).sum();
            row[i] = cj * psi.deriv(th[i]) * dot;
        }
    });
    out
}

/// dθ2_jk/dt = −2 a_k ψ'(θ2_jk) e_j.
pub fn second_layer_velocity(psi: Psi, theta2: &[f64], a: &[f64], e: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n).enumerate().for_each(|(j, row)| {
        let th = &theta2[j * n..(j + 1) * n];
        for k in 0..n {
            row[k] = -2.0 * a[k] * psi.deriv(th[k]) * e[j];
        }
    });
    out
}

/// Risk only (no velocities).
pub fn risk(net: &Net) -> f64 {
    let v = node_vectors(net);
    let c = if net.layers == 3 {
        readout_b(net)
    } else {
        net.a.clone()
    };
    readout(&v, &c, net.n, net.d).risk
}
