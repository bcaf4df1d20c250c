//! Noisy coupled ideal particles (`train --beta`; proofs-notes/langevin.md §10).
//!
//! Neuron i of a noisy run is coupled to an ideal particle w̄_i that starts at w_i(0) and takes
//! the same Gaussian increments g_i(k) ([`super::noise`]), but moves in the mean-field velocity
//! of the *limit law* ρ_t of `langevin flow` instead of the network's empirical law:
//!
//! w̄ ← normalise(w̄ + η v(w̄; ρ_{kη}) + √(2η/β) P_{w̄} g),  v(w; ρ) = −∇_S Φ(w; ρ) = −φ'(s)(θ − s w),
//!
//! with s = ⟨w, θ⟩ and φ(s; p_t) = 2c[Σ_l ν_l m_l(t) P_l(s) − ψ(s)] the reduced potential
//! (m_l(t) = E_{p_t} P_l, Funk–Hecke coefficients ν_l of κ, Gegenbauer P_l of index (d − 2)/2).
//! Because v depends on ρ_t only, the ideal particles of a draw are i.i.d. (given i.i.d.
//! starts) and each follows the projected Euler–Maruyama scheme of the McKean–Vlasov SDE with
//! the law frozen to ρ_t: their law is ρ_{kη} up to the O(η) weak error of the scheme.
//!
//! The moments m_l(kη) at every step time come from route B of the reduced flow
//! ([`crate::langevin::flow_spectral::moments_on_grid`]) at the resolution that meets `tol` on
//! the check times; the kernels are those of the trained model (the same truncated series), so
//! the ideal particles follow the limit law of the network as trained.
//!
//! Accuracy contract: the velocity field is route B's to its estimate (≲ tol relative, an
//! estimate); each step is the same arithmetic as the network's step (a few ulps).

use crate::langevin::flow::Problem;
use crate::langevin::flow_spectral::moments_on_grid;
use crate::langevin::LangevinError;
use crate::meanfield::Model;

/// The limit law's potential at every step time.
#[derive(Clone, Debug)]
pub struct NoisyIdeal {
    d: usize,
    c: f64,
    /// ν_l (all l up to the kernel degree).
    nu: Vec<f64>,
    /// Power-series coefficients of ψ'.
    dpsi: Vec<f64>,
    /// moments[k][l] = m_l(kη).
    moments: Vec<Vec<f64>>,
    /// The flow's seven outputs ([`crate::langevin::flow::QUANTITIES`]) at kη.
    outputs: Vec<[f64; 7]>,
}

impl NoisyIdeal {
    /// The limit law of `model` at β, at the step times kη, k = 0..=steps, the flow refined to
    /// `tol` (relative) on the times 0, T/2, T. The kernels' truncation is not refused: the
    /// network is trained with the same truncated kernels.
    pub fn new(
        model: &Model,
        beta: f64,
        eta: f64,
        steps: usize,
        tol: f64,
    ) -> Result<NoisyIdeal, LangevinError> {
        let p = Problem::new(model, beta, f64::INFINITY)?;
        let grid: Vec<f64> = (0..=steps).map(|k| k as f64 * eta).collect();
        let t_end = grid[steps];
        let check = if steps == 0 {
            vec![0.0, eta]
        } else {
            vec![0.0, t_end / 2.0, t_end]
        };
        let (moments, outputs) = moments_on_grid(&p, &check, &grid, tol)?;
        let dpsi = (1..p.psi.len()).map(|k| k as f64 * p.psi[k]).collect();
        Ok(NoisyIdeal {
            d: p.d,
            c: p.c,
            nu: p.nu,
            dpsi,
            moments,
            outputs,
        })
    }

    /// φ'(s; p_{kη}). P_l and P_l' by the three-term recurrence of §3 and its derivative
    /// (the formulas of `langevin::fast::gegenbauer` and `flow_spectral::gegenbauer_derivative`),
    /// summed on the fly: nothing is allocated per particle.
    pub fn dphi(&self, k: usize, s: f64) -> f64 {
        let m = &self.moments[k];
        let df = self.d as f64;
        // (P_{l−1}, P_l) and (P_{l−1}', P_l') at l = 1.
        let (mut p0, mut p1) = (1.0, s);
        let (mut d0, mut d1) = (0.0, 1.0);
        let mut kbar = 0.0;
        for l in 1..self.nu.len() {
            kbar += self.nu[l] * m[l] * d1;
            let lf = l as f64;
            let p2 = ((2.0 * lf + df - 2.0) * s * p1 - lf * p0) / (lf + df - 2.0);
            let d2 = ((2.0 * lf + df - 2.0) * (p1 + s * d1) - lf * d0) / (lf + df - 2.0);
            (p0, p1, d0, d1) = (p1, p2, d1, d2);
        }
        let dpsi = self.dpsi.iter().rev().fold(0.0, |acc, c| acc * s + c);
        2.0 * self.c * (kbar - dpsi)
    }

    /// v(w; ρ_{kη}) = −φ'(s)(θ − s w) into `out` (θ a unit vector).
    pub fn velocity_into(&self, k: usize, theta: &[f64], w: &[f64], out: &mut [f64]) {
        let s = super::noise::dot_lanes(w, theta);
        let f = -self.dphi(k, s);
        for ((o, t), x) in out.iter_mut().zip(theta).zip(w) {
            *o = f * (t - s * x);
        }
    }

    /// The flow's outputs at kη (risk, loss, free energy, KL, E s, E s², E|s|).
    pub fn flow_outputs(&self, k: usize) -> [f64; 7] {
        self.outputs[k]
    }

    /// Number of step times held.
    pub fn len(&self) -> usize {
        self.moments.len()
    }

    /// Never empty (k = 0 is always held).
    pub fn is_empty(&self) -> bool {
        self.moments.is_empty()
    }
}

/// Index of the loss in [`crate::langevin::flow::QUANTITIES`].
pub const LOSS: usize = 1;
/// Indices of E s and E s².
pub const MEAN_S: usize = 4;
pub const MEAN_S2: usize = 5;
