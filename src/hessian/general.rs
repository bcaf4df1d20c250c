//! The local Hessian of a neuron of a finite-width network (any N, any positions), f64.
//!
//! With the fast path's conventions (docs/conventions.md §3–§4, `crate::fast`): for a particle at a unit w
//! under the empirical law Σ_j a_j δ_{w_j} (a_j given),
//!
//!   v(w) = P_w F(w),   F(w) = 2·scale·[ψ'(⟨w,θ⟩)θ − Σ_j a_j κ'(⟨w,w_j⟩) w_j],   P_w = I − wwᵀ.
//!
//! The covariant derivative along a tangent ξ (law fixed: the w_j do not move) is the tangent
//! projection of the ambient derivative of any extension; differentiating P_w F = F − ⟨w,F⟩w,
//!
//!   ∇_ξ v = P_w DF[ξ] − ⟨w, F⟩ ξ   (the terms along w are projected out),
//!
//! DF[ξ] = 2·scale·[ψ''(t)⟨θ,ξ⟩θ − Σ_j a_j κ''(s_j)⟨w_j,ξ⟩w_j] with t = ⟨w,θ⟩, s_j = ⟨w,w_j⟩.
//! As a d×d matrix acting on the tangent space (and 0 on w):
//!
//!   H = 2·scale·[ψ''(t) θ_T θ_Tᵀ − Σ_j a_j κ''(s_j) w_{jT} w_{jT}ᵀ] − c P_w,
//!   c = ⟨w, F⟩ = 2·scale·[ψ'(t) t − Σ_j a_j κ'(s_j) s_j],
//!
//! with x_T = P_w x. H is symmetric (v is minus a Riemannian gradient).
//!
//! The neuron's own atom. For neuron i (w = w_i) the empirical law contains a_i δ_{w_i}. "Law held
//! fixed" ([`SelfTerm::Frozen`]) keeps that atom at the initial w_i while w moves: its term has
//! P w_i = 0 in the first sum but contributes a_i κ'(1)·1 to c. The finite-width dynamics instead
//! moves the atom with the neuron ([`SelfTerm::Moving`]): its term a_i κ'(⟨w,w⟩)w = a_iκ'(1)w is
//! radial for every w and vanishes under P_w, so it contributes nothing. Hence
//! H_frozen = H_moving + 2·scale·a_i κ'(1) P_w, a difference O(a_i) = O(1/N).
//! A test particle (not one of the neurons) sees the law of all N neurons: [`test_particle`].
//! Derivation: proofs-notes/local-hessian.md §2. Tests: tests/hessian.rs (`general_*`).

use crate::fast::{Kernel, Problem};
use std::f64::consts::PI;

/// How the neuron's own atom of the empirical law is treated (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTerm {
    /// The atom stays at the initial position (the mean-field "law held fixed").
    Frozen,
    /// The atom moves with the neuron (the finite-width velocity of `crate::fast::velocity`).
    Moving,
}

/// κ^{(r)}(s) for r = 0, 1, 2 of a fast-path kernel (power series by Horner on the derived
/// coefficients; closed forms by their formulas: relu–relu κ'' = 1/(2π√(1 − s²)), erf–erf
/// κ'' = (2/π)c³s/(1 − c²s²)^{3/2}).
pub fn kernel_derivative(k: &Kernel, r: usize, s: f64) -> f64 {
    match (k, r) {
        (Kernel::PowerSeries(c), _) => {
            let mut acc = 0.0;
            for j in (r..c.len()).rev() {
                let f = (0..r).map(|i| (j - i) as f64).product::<f64>();
                acc = acc * s + f * c[j];
            }
            acc
        }
        (_, 0) => k.value(s),
        (_, 1) => k.derivative(s),
        (Kernel::ReluRelu, 2) => 1.0 / (2.0 * PI * (1.0 - s * s).sqrt()),
        (Kernel::ErfErf { a, b }, 2) => {
            let c = 2.0 * a * b / ((1.0 + 2.0 * a * a) * (1.0 + 2.0 * b * b)).sqrt();
            2.0 / PI * c * c * c * s / (1.0 - c * c * s * s).powf(1.5)
        }
        _ => panic!("kernel derivative of order {r} is not implemented"),
    }
}

/// The Hessian (d×d row-major) of a particle at the unit vector `w` under the empirical law of
/// the neurons of `p`, skipping neuron `skip` in c (the moving self-term) and in the first sum.
fn hessian_at(p: &Problem, w: &[f64], skip: Option<usize>) -> Vec<f64> {
    let d = p.d;
    let scale = 2.0 * p.loss_scale.factor();
    let proj = |x: &[f64]| -> Vec<f64> {
        let c: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
        x.iter().zip(w).map(|(a, b)| a - c * b).collect()
    };
    let t: f64 = w.iter().zip(p.theta).map(|(a, b)| a * b).sum();
    let mut h = vec![0.0; d * d];
    let rank_one = |h: &mut [f64], coef: f64, x: &[f64]| {
        for r in 0..d {
            let cr = coef * x[r];
            for (hc, xc) in h[r * d..(r + 1) * d].iter_mut().zip(x) {
                *hc += cr * xc;
            }
        }
    };
    let theta_t = proj(p.theta);
    rank_one(&mut h, scale * kernel_derivative(&p.psi, 2, t), &theta_t);
    let mut c = kernel_derivative(&p.psi, 1, t) * t;
    for j in 0..p.n {
        if Some(j) == skip {
            continue;
        }
        let wj = &p.w[j * d..(j + 1) * d];
        let s: f64 = w.iter().zip(wj).map(|(a, b)| a * b).sum();
        c -= p.a[j] * kernel_derivative(&p.kappa, 1, s) * s;
        let wt = proj(wj);
        if wt.iter().all(|x| *x == 0.0) {
            continue;
        }
        rank_one(
            &mut h,
            -scale * p.a[j] * kernel_derivative(&p.kappa, 2, s),
            &wt,
        );
    }
    let c = scale * c;
    // − c P_w
    for r in 0..d {
        for col in 0..d {
            h[r * d + col] += c * w[r] * w[col];
        }
        h[r * d + r] -= c;
    }
    h
}

/// The tangent Jacobian H_i of neuron `i` (d×d row-major, symmetric, H w_i = 0), law fixed in
/// the sense of `self_term`. Cost O(N d²).
pub fn tangent_jacobian(p: &Problem, i: usize, self_term: SelfTerm) -> Vec<f64> {
    assert!(i < p.n, "neuron index out of range");
    let w = &p.w[i * p.d..(i + 1) * p.d];
    let mut h = hessian_at(p, w, Some(i));
    if self_term == SelfTerm::Frozen {
        // + 2·scale·a_i κ'(1)·(−1)·(−P) : the atom at w_i adds −a_iκ'(1) to c/(2·scale).
        let add = 2.0 * p.loss_scale.factor() * p.a[i] * kernel_derivative(&p.kappa, 1, 1.0);
        let d = p.d;
        for r in 0..d {
            for col in 0..d {
                h[r * d + col] -= add * w[r] * w[col];
            }
            h[r * d + r] += add;
        }
    }
    h
}

/// The Hessian of a test particle at the unit vector `w` (d entries) under the empirical law of
/// all N neurons of `p` (each with its a_j), which the particle does not perturb.
pub fn test_particle(p: &Problem, w: &[f64]) -> Vec<f64> {
    assert_eq!(w.len(), p.d);
    hessian_at(p, w, None)
}

/// The eigenvalues (ascending) of a symmetric d×d matrix (row-major; its upper triangle defines
/// it), by cyclic Jacobi until the off-diagonal Frobenius norm is ≤ d·u·‖H‖_F
/// ([`super::eigen::symmetric_eigen`]); an error if that is not reached in
/// [`super::eigen::MAX_SWEEPS`] sweeps. Accuracy: every |λ_i − μ_i| is within the returned
/// `estimate` (an estimate: Weyl's bound plus first-order rotation rounding); a proven radius is
/// [`super::eigen::SymmetricEigen::enclosure`]. The spectral norm ‖H‖₂ is max(|μ_1|, |μ_d|).
pub fn symmetric_eigenvalues(
    h: &[f64],
    d: usize,
) -> Result<super::eigen::SymmetricEigen, super::eigen::EigenError> {
    super::eigen::symmetric_eigen(h, d)
}
