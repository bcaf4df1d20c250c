//! Independent checks of the kernel-limit risk R_K for trained w and aw (Λ ≠ I), issue 14.
//! Proofs-note: proofs-notes/langevin-kernel.md §6a. The spectral route under test
//! (`KernelLimit::risk`, `krr_risk`: λ_l = μ_l(c_a + c_w l(l + d − 2)), N_l, E_l) is compared
//! with Nyström solves in the overlap variable s = ⟨·, θ⟩ that use no Gegenbauer coefficient:
//!
//! - **weight space** (erf and relu): T = B*B with B = Λ^{1/2}A, so R_K(∞) =
//!   E σ*² − 2⟨ψ, u⟩ + ⟨u, K u⟩ with (ΛK + λ)u = Λψ, K the operator of κ(⟨w, w'⟩) and ΛK the
//!   operator of the zonal kernel k_Λ(t) = c_a κ(t) + c_w[(d − 1)tκ'(t) − (1 − t²)κ''(t)]
//!   (the Laplace–Beltrami operator applied to κ(⟨·, w'⟩) in closed form);
//! - **input space** (relu only): by positive homogeneity T maps |x|h(x/|x|) to
//!   |x|(T̃h)(x/|x|), T̃ the operator on the sphere of K̄_0(c) = c_a κ(c) +
//!   c_w(d·c(π − arccos c)/(2π) − κ(c)), built from the definition of K_0 (E_w[step·step] and
//!   E_w[relu·relu]; no integration by parts, no Laplacian), so R_K(t) = d‖e_t‖², e_t the
//!   residual of the flow on h* = relu(⟨θ, ·⟩), at every t from a symmetric eigensolve.
//!
//! Both discretise E_{w'} k(⟨w, w'⟩)u(⟨w', θ⟩) = ∫ w_unif(s') E_z k(ss' + rr'z) u(s') ds'
//! (r = √(1 − s²), z ∝ (1 − z²)^{(d−4)/2}) by Gauss–Jacobi rules in s and z of n points. The
//! discretisation error is estimated by doubling n (40 → 80): tolerance = the spectral
//! route's bound + 2|R_40 − R_80| + 1e-13. In input space the s rule is split at 0 (the kink
//! of relu(s)).

use mforacle::activation::Spec;
use mforacle::langevin::gauss;
use mforacle::langevin::kernel::{self, KernelLimit, Trained};
use mforacle::population::LossScale;
use std::f64::consts::PI;

mod common;

/// A closed-form dual kernel κ with κ', and (1 − t²)κ'' (finite at t = ±1 for relu).
struct Dual {
    name: &'static str,
    kappa: fn(f64) -> f64,
    d1: fn(f64) -> f64,
    one_m_t2_d2: fn(f64) -> f64,
}

/// erf: κ(t) = (2/π) asin(2t/3) (E erf(g)erf(g') for standard Gaussians of correlation t).
const ERF: Dual = Dual {
    name: "erf",
    kappa: |t| 2.0 / PI * (2.0 * t / 3.0).asin(),
    d1: |t| 4.0 / (3.0 * PI) / (1.0 - 4.0 * t * t / 9.0).sqrt(),
    one_m_t2_d2: |t| {
        (1.0 - t * t) * 4.0 / (3.0 * PI) * (4.0 * t / 9.0) * (1.0 - 4.0 * t * t / 9.0).powf(-1.5)
    },
};

/// relu: κ(t) = (√(1 − t²) + (π − arccos t)t)/(2π), κ' = (π − arccos t)/(2π),
/// κ'' = 1/(2π√(1 − t²)).
const RELU: Dual = Dual {
    name: "relu",
    kappa: |t| ((1.0 - t * t).max(0.0).sqrt() + (PI - t.acos()) * t) / (2.0 * PI),
    d1: |t| (PI - t.acos()) / (2.0 * PI),
    one_m_t2_d2: |t| (1.0 - t * t).max(0.0).sqrt() / (2.0 * PI),
};

fn spectral(student: &str, d: usize, trained: Trained) -> KernelLimit {
    let s = Spec::parse(student).unwrap();
    kernel::build(&s, &s, d, 150, LossScale::Full, trained, 2000, 1e-10).unwrap()
}

/// Gauss–Jacobi rules of w_unif in s and of the z law, and the overlap matrix builder.
struct Rules {
    s: Vec<f64>,
    w: Vec<f64>,
    r: Vec<f64>,
    z: Vec<f64>,
    wz: Vec<f64>,
}

impl Rules {
    fn new(d: usize, n: usize) -> Rules {
        let a = (d as f64 - 3.0) / 2.0;
        let (s, w) = gauss::gauss_jacobi(n, a, a);
        let bz = (d as f64 - 4.0) / 2.0;
        let (z, wz) = gauss::gauss_jacobi(n, bz, bz);
        let r = s.iter().map(|x| (1.0 - x * x).max(0.0).sqrt()).collect();
        Rules { s, w, r, z, wz }
    }

    /// As [`Rules::new`], with the s rule a Gauss–Jacobi rule of n/2 points on each half
    /// [−1, 0], [0, 1] (weight (1 − |s|)^a, the smooth factor (1 + |s|)^a in the weights), so
    /// that the kink of relu(s) at 0 is at an end point.
    fn halves(d: usize, n: usize) -> Rules {
        let a = (d as f64 - 3.0) / 2.0;
        let (u, wu) = gauss::gauss_jacobi(n / 2, a, 0.0);
        let mut s = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        for sign in [-1.0, 1.0] {
            for (ui, wi) in u.iter().zip(&wu) {
                let x = (1.0 + ui) / 2.0;
                s.push(sign * x);
                w.push(wi * (1.0 + x).powf(a));
            }
        }
        let total: f64 = w.iter().sum();
        for v in &mut w {
            *v /= total;
        }
        let bz = (d as f64 - 4.0) / 2.0;
        let (z, wz) = gauss::gauss_jacobi(n, bz, bz);
        let r = s
            .iter()
            .map(|x| ((1.0 - x) * (1.0 + x)).max(0.0).sqrt())
            .collect();
        Rules { s, w, r, z, wz }
    }

    /// K̄(s_i, s_j) = E_z k(s_i s_j + r_i r_j z).
    fn overlap(&self, k: &dyn Fn(f64) -> f64) -> Vec<Vec<f64>> {
        let n = self.s.len();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        self.z
                            .iter()
                            .zip(&self.wz)
                            .map(|(z, wz)| {
                                let t = self.s[i] * self.s[j] + self.r[i] * self.r[j] * z;
                                wz * k(t.clamp(-1.0, 1.0))
                            })
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }
}

/// Eigenvalues and orthonormal eigenvectors (columns) of a symmetric matrix, cyclic Jacobi.
fn jacobi_eigen(mut a: Vec<Vec<f64>>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-32 * diag {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}

/// R_K(∞) in weight space: (ΛK + λ)u = Λψ, R = E σ*² − 2⟨ψ, u⟩ + ⟨u, K u⟩ (σ = σ*, ψ = κ).
fn krr_weight_space(k: &Dual, d: usize, trained: Trained, ridge: f64, n: usize) -> f64 {
    let (ca, cw) = trained.weights();
    let df = d as f64;
    let k_lambda =
        |t: f64| ca * (k.kappa)(t) + cw * ((df - 1.0) * t * (k.d1)(t) - (k.one_m_t2_d2)(t));
    let q = Rules::new(d, n);
    let kk = q.overlap(&k.kappa);
    let kl = q.overlap(&k_lambda);
    let psi: Vec<f64> = q.s.iter().map(|&s| (k.kappa)(s)).collect();
    let lpsi: Vec<f64> = q.s.iter().map(|&s| k_lambda(s)).collect();
    let u = common::solve_ridge(&kl, &q.w, ridge, &lpsi);
    let cross: f64 = (0..n).map(|i| q.w[i] * psi[i] * u[i]).sum();
    let quad: f64 = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| q.w[i] * q.w[j] * u[i] * kk[i][j] * u[j])
                .sum::<f64>()
        })
        .sum();
    (k.kappa)(1.0) - 2.0 * cross + quad
}

/// R_K(t) for relu in input space at the times `ts` (t = ∞ allowed): d Σ_k g_k(t)² (v_k·h̃)²
/// over the eigenpairs (σ_k, v_k) of W^{1/2} K̄_0 W^{1/2}, h̃ = W^{1/2} relu(s),
/// g_k = [λ + σ_k e^{−2c(σ_k + λ)t}]/(σ_k + λ), c = 1.
fn relu_input_space(d: usize, trained: Trained, ridge: f64, n: usize, ts: &[f64]) -> Vec<f64> {
    let (ca, cw) = trained.weights();
    let df = d as f64;
    // K_0(x, x') = |x||x'|[c_a E_w relu·relu + c_w E_w step·step ⟨P_w u, P_w u'⟩] with
    // E_w[relu(w·u)relu(w·u')] = κ(c)/d, E_w[step step] = (π − arccos c)/(2π) and
    // ⟨P_w u, P_w u'⟩ = c − (w·u)(w·u'); K̄_0 = d·K_0/(|x||x'|).
    let k0 = |c: f64| {
        let rr = (RELU.kappa)(c);
        ca * rr + cw * (df * c * (PI - c.acos()) / (2.0 * PI) - rr)
    };
    let q = Rules::halves(d, n);
    let kx = q.overlap(&k0);
    let sw: Vec<f64> = q.w.iter().map(|w| w.sqrt()).collect();
    let sym: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| sw[i] * kx[i][j] * sw[j]).collect())
        .collect();
    let (vals, vecs) = jacobi_eigen(sym);
    let h: Vec<f64> = (0..n).map(|i| sw[i] * q.s[i].max(0.0)).collect();
    let proj: Vec<f64> = (0..n)
        .map(|k| (0..n).map(|i| vecs[i][k] * h[i]).sum())
        .collect();
    ts.iter()
        .map(|&t| {
            df * (0..n)
                .map(|k| {
                    let sk = vals[k].max(0.0);
                    let g = if t.is_infinite() {
                        if sk + ridge > 0.0 {
                            ridge / (sk + ridge)
                        } else {
                            1.0
                        }
                    } else if sk + ridge > 0.0 {
                        (ridge + sk * (-2.0 * (sk + ridge) * t).exp()) / (sk + ridge)
                    } else {
                        1.0
                    };
                    g * g * proj[k] * proj[k]
                })
                .sum::<f64>()
        })
        .collect()
}

#[test]
fn krr_limit_trained_w_and_aw_weight_space_nystrom() {
    for (k, d) in [(&ERF, 5usize), (&ERF, 12), (&RELU, 6), (&RELU, 9)] {
        let lim_a = spectral(k.name, d, Trained::A);
        for trained in [Trained::W, Trained::Aw] {
            let lim = spectral(k.name, d, trained);
            for ridge in [0.02, 0.2] {
                let rk = lim.krr_risk(ridge);
                let n1 = krr_weight_space(k, d, trained, ridge, 40);
                let n2 = krr_weight_space(k, d, trained, ridge, 80);
                let tol = rk.bound + 2.0 * (n1 - n2).abs() + 1e-13;
                eprintln!(
                    "{} d={d} {trained:?} ridge {ridge}: spectral {:.15e} (bound {:.1e}) Nyström {n2:.15e} (doubling {:.1e})",
                    k.name, rk.value, rk.bound, (n1 - n2).abs()
                );
                assert!(
                    (rk.value - n2).abs() <= tol,
                    "{} d={d} {trained:?} ridge {ridge}: spectral {} Nyström {n2} (tol {tol:e})",
                    k.name,
                    rk.value
                );
                // the check can fail: the risk of trained a (Λ = I) is a different number
                let ra = lim_a.krr_risk(ridge).value;
                assert!(
                    (ra - n2).abs() > 100.0 * tol,
                    "{} d={d}: A and {trained:?} agree",
                    k.name
                );
            }
        }
    }
}

#[test]
fn relu_risk_curve_trained_w_and_aw_input_space() {
    let ts = [0.0, 0.5, 2.0, f64::INFINITY];
    for d in [4usize, 6, 9] {
        for trained in [Trained::W, Trained::Aw] {
            let lim = spectral("relu", d, trained);
            for ridge in [0.0, 0.02, 0.2] {
                let n1 = relu_input_space(d, trained, ridge, 40, &ts);
                let n2 = relu_input_space(d, trained, ridge, 80, &ts);
                for (k, &t) in ts.iter().enumerate() {
                    if ridge == 0.0 && t.is_infinite() {
                        continue; // λ = 0 at t = ∞: every unresolved λ_l counts in the bound
                    }
                    let rk = lim.risk(t, ridge);
                    let tol = rk.bound + 2.0 * (n1[k] - n2[k]).abs() + 1e-13;
                    eprintln!(
                        "relu d={d} {trained:?} ridge {ridge} t={t}: spectral {:.15e} (bound {:.1e}) input space {:.15e} (doubling {:.1e})",
                        rk.value, rk.bound, n2[k], (n1[k] - n2[k]).abs()
                    );
                    assert!(
                        (rk.value - n2[k]).abs() <= tol,
                        "relu d={d} {trained:?} ridge {ridge} t={t}: spectral {} input space {} (tol {tol:e})",
                        rk.value,
                        n2[k]
                    );
                }
            }
        }
    }
}

#[test]
fn jacobi_eigen_reconstructs_a_symmetric_matrix() {
    let n = 7;
    let a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| 1.0 / (1.0 + (i + j) as f64) + if i == j { 0.5 } else { 0.0 })
                .collect()
        })
        .collect();
    let (vals, vecs) = jacobi_eigen(a.clone());
    for i in 0..n {
        for j in 0..n {
            let r: f64 = (0..n).map(|k| vecs[i][k] * vals[k] * vecs[j][k]).sum();
            assert!((r - a[i][j]).abs() < 1e-14, "{i},{j}");
            let o: f64 = (0..n).map(|k| vecs[k][i] * vecs[k][j]).sum();
            assert!((o - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
        }
    }
}
