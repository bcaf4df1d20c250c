//! The interaction terms A, B of the reduced flow and their α-derivatives at a fixed law given by
//! weighted particles (f64), and the self-concordance constants along the reduced flow with
//! interaction (`crate::meanfield::flow::Flow`).
//!
//! For κ'(s) = Σ_n b_n s^n (b_n = (n+1)a_{n+1}) and the law Σ_j w_j δ_{α_j} of the overlap,
//! with ⟨w,w'⟩ = αα' + ββ'z, z independent with E z^{2i} = μ_{2i} = Π_{r<i}(2r+1)/(d−1+2r) and
//! P_{q,e} = Σ_j w_j α_j^q β_j^e (docs/conventions.md §4):
//!
//!   A(α) = Σ_n b_n Σ_{l even} C(n,l) μ_l P_{n−l+1,l} α^{n−l} β^l,
//!   B(α) = Σ_n b_n Σ_{l odd}  C(n,l) μ_{l+1} P_{n−l,l+1} α^{n−l} β^l,
//!
//! and along the sphere d(α^p β^l)/dα = pα^{p−1}β^l − lα^{p+1}β^{l−2} (dβ/dα = −α/β). This is a
//! second, independent implementation of what `meanfield::flow` computes internally; the test
//! `law_matches_flow` compares the two. Cost: O(M K²) to form the coefficients of one law, then
//! O(K²) per particle.

use super::symmetric::{with_interaction, with_interaction_at, PowerSeries, SymmetricHessian};
use super::trajectory::{Sup, TrajectoryStats};

/// A and B at one law as polynomials Σ c_{p,l} α^p β^l.
#[derive(Clone, Debug)]
pub struct ReducedLaw {
    /// (p, l, coefficient) of A.
    a_terms: Vec<(usize, usize, f64)>,
    /// (p, l, coefficient) of B.
    b_terms: Vec<(usize, usize, f64)>,
}

fn z_moment(d: usize, l: usize) -> f64 {
    if l % 2 == 1 {
        return 0.0;
    }
    (0..l / 2)
        .map(|r| (2 * r + 1) as f64 / (d as f64 - 1.0 + 2.0 * r as f64))
        .product()
}

impl ReducedLaw {
    /// From the κ series (coefficients of s^k), the dimension, and the particles (α_j, w_j),
    /// β_j = √(1 − α_j²) formed from α_j (use [`ReducedLaw::from_pairs`] when the β_j are known:
    /// near the poles this one loses their relative accuracy).
    pub fn new(kappa: &[f64], d: usize, alpha: &[f64], weights: &[f64]) -> ReducedLaw {
        let beta: Vec<f64> = alpha
            .iter()
            .map(|a| (1.0 - a * a).max(0.0).sqrt())
            .collect();
        Self::from_pairs(kappa, d, alpha, &beta, weights)
    }

    /// From the particles (α_j, β_j, w_j) with their β_j given (e.g. the f64 flow's
    /// `Flow::beta`).
    pub fn from_pairs(
        kappa: &[f64],
        d: usize,
        alpha: &[f64],
        beta: &[f64],
        weights: &[f64],
    ) -> ReducedLaw {
        let b: Vec<f64> = (1..kappa.len()).map(|k| k as f64 * kappa[k]).collect();
        let nmax = b.len();
        // P[q][e], q, e ≤ nmax.
        let dim = nmax + 1;
        let mut p = vec![0.0; dim * dim];
        let mut aq = vec![0.0; dim];
        let mut be = vec![0.0; dim];
        for ((&a, &bb), &w) in alpha.iter().zip(beta).zip(weights) {
            aq[0] = w;
            be[0] = 1.0;
            for i in 1..dim {
                aq[i] = aq[i - 1] * a;
                be[i] = be[i - 1] * bb;
            }
            for q in 0..dim {
                for e in 0..dim - q {
                    p[q * dim + e] += aq[q] * be[e];
                }
            }
        }
        let mut binom = vec![vec![0.0f64; dim]; dim];
        for n in 0..dim {
            binom[n][0] = 1.0;
            for l in 1..=n {
                binom[n][l] = binom[n - 1][l - 1] + if l < n { binom[n - 1][l] } else { 0.0 };
            }
        }
        let (mut a_terms, mut b_terms) = (Vec::new(), Vec::new());
        for (n, &bn) in b.iter().enumerate() {
            if bn == 0.0 {
                continue;
            }
            for l in 0..=n {
                if l % 2 == 0 {
                    let c = bn * binom[n][l] * z_moment(d, l) * p[(n - l + 1) * dim + l];
                    a_terms.push((n - l, l, c));
                } else {
                    let c = bn * binom[n][l] * z_moment(d, l + 1) * p[(n - l) * dim + l + 1];
                    b_terms.push((n - l, l, c));
                }
            }
        }
        ReducedLaw { a_terms, b_terms }
    }

    /// (A(α), B(α)) at β = √(1 − α²).
    pub fn interaction(&self, alpha: f64) -> (f64, f64) {
        self.interaction_at(alpha, (1.0 - alpha * alpha).max(0.0).sqrt())
    }

    /// (A, B) at a point (α, β) of the sphere with β ≥ 0 given by the caller.
    pub fn interaction_at(&self, alpha: f64, beta: f64) -> (f64, f64) {
        let ev = |t: &[(usize, usize, f64)]| -> f64 {
            t.iter()
                .map(|&(p, l, c)| c * alpha.powi(p as i32) * beta.powi(l as i32))
                .sum()
        };
        (ev(&self.a_terms), ev(&self.b_terms))
    }

    /// (dA/dα, dB/dα) along the sphere at fixed law, |α| < 1.
    pub fn interaction_derivatives(&self, alpha: f64) -> (f64, f64) {
        self.interaction_derivatives_at(alpha, (1.0 - alpha * alpha).max(0.0).sqrt())
    }

    /// (dA/dα, dB/dα) at a point (α, β) with β > 0 given by the caller.
    pub fn interaction_derivatives_at(&self, alpha: f64, beta: f64) -> (f64, f64) {
        let ev = |t: &[(usize, usize, f64)]| -> f64 {
            t.iter()
                .map(|&(p, l, c)| {
                    let (pi, li) = (p as i32, l as i32);
                    let mut v = 0.0;
                    if p > 0 {
                        v += p as f64 * alpha.powi(pi - 1) * beta.powi(li);
                    }
                    if l > 0 {
                        v -= l as f64 * alpha.powi(pi + 1) * beta.powi(li - 2);
                    }
                    c * v
                })
                .sum()
        };
        (ev(&self.a_terms), ev(&self.b_terms))
    }

    /// The symmetric Hessian of a particle at α under this law.
    pub fn hessian(&self, psi: &PowerSeries, scale: f64, alpha: f64) -> SymmetricHessian {
        with_interaction(
            psi,
            scale,
            alpha,
            self.interaction(alpha),
            self.interaction_derivatives(alpha),
        )
    }

    /// The symmetric Hessian of a particle at (α, β), β = |cos ϑ| > 0 of its latitude ϑ: accurate
    /// up to the poles, where [`ReducedLaw::hessian`] (β formed from α) is not.
    pub fn hessian_at(
        &self,
        psi: &PowerSeries,
        scale: f64,
        alpha: f64,
        beta: f64,
    ) -> SymmetricHessian {
        with_interaction_at(
            psi,
            scale,
            alpha,
            beta,
            self.interaction_at(alpha, beta),
            self.interaction_derivatives_at(alpha, beta),
        )
    }
}

/// Running statistics of one particle sampled on a time grid (trapezoidal integrals).
#[derive(Clone, Debug)]
pub(crate) struct Accumulator {
    pub stats: TrajectoryStats,
    last: Option<(f64, [f64; 4])>,
    /// Sign of g at the previous sample.
    last_sign: Option<i8>,
}

impl Accumulator {
    pub fn new(alpha0: f64) -> Accumulator {
        let none = Sup {
            value: f64::NEG_INFINITY,
            t: 0.0,
            alpha: 0.0,
        };
        Accumulator {
            stats: TrajectoryStats {
                alpha0,
                alpha_end: alpha0,
                r1_sup: none,
                r2_sup: none,
                beta_r2_sup: none,
                velocity_sign_change: None,
                integral_norm: 0.0,
                integral_lambda_e: 0.0,
                integral_lambda_perp: 0.0,
                integral_lambda_max: 0.0,
            },
            last: None,
            last_sign: None,
        }
    }

    pub fn record(&mut self, t: f64, h: &SymmetricHessian, alpha_cut: f64) {
        let s = &mut self.stats;
        let offer = |sup: &mut Sup, v: f64| {
            if v > sup.value {
                *sup = Sup {
                    value: v,
                    t,
                    alpha: h.alpha,
                };
            }
        };
        if h.alpha.abs() <= alpha_cut {
            offer(&mut s.r1_sup, h.r1());
            offer(&mut s.r2_sup, h.r2());
        }
        // Sign of g as −1, 0, +1 (0 is a sign of its own: v = 0 exactly at a sample), compared
        // between consecutive samples that both have |α| ≤ α_cut (where the R1, R2 suprema are
        // taken; near ±1 g → 0 at the converged particles and its f64 sign is noise).
        if h.alpha.abs() <= alpha_cut {
            let sign = (h.g > 0.0) as i8 - (h.g < 0.0) as i8;
            if let Some(s0) = self.last_sign {
                if s.velocity_sign_change.is_none() && s0 != sign {
                    s.velocity_sign_change = Some((t, h.alpha));
                }
            }
            self.last_sign = Some(sign);
        } else {
            self.last_sign = None;
        }
        let br2 = h.alpha.abs() * h.norm() * h.beta / h.speed;
        if br2.is_finite() {
            offer(&mut s.beta_r2_sup, br2);
        }
        let v = [h.norm(), h.lambda_e, h.lambda_perp, h.lambda_max()];
        if let Some((t0, v0)) = self.last {
            let dt = t - t0;
            s.integral_norm += 0.5 * dt * (v0[0] + v[0]);
            s.integral_lambda_e += 0.5 * dt * (v0[1] + v[1]);
            s.integral_lambda_perp += 0.5 * dt * (v0[2] + v[2]);
            s.integral_lambda_max += 0.5 * dt * (v0[3] + v[3]);
        }
        s.alpha_end = h.alpha;
        self.last = Some((t, v));
    }
}
