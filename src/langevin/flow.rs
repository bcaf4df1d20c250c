//! # The time-dependent reduced flow of mean-field Langevin dynamics (`langevin flow`)
//!
//! The law p_t of s = ⟨w, θ⟩ under ∂ρ = div_S(ρ∇_SΦ) + β⁻¹Δ_Sρ from the uniform start
//! (density w_unif ∝ (1 − s²)^{(d−3)/2}) solves the reduced Fokker–Planck equation
//! (proofs-notes/langevin.md §7)
//!
//! ∂_t p = ∂_s[(1 − s²) p ∂_s(φ + β⁻¹ log(p/w_unif))],  φ(s; p) = 2c[Σ_l ν_l m_l P_l(s) − ψ(s)],
//!
//! m_l = E_p P_l. Two discretisations that share only the problem data ([`Problem`]: the
//! Funk–Hecke coefficients ν_l, the power series of ψ, E σ*²):
//! - [`super::flow_fv`] (route A): finite volumes in the latitude ϑ = asin s with the
//!   Scharfetter–Gummel flux, Crank–Nicolson in time, Richardson extrapolation in h² (h and
//!   the time step refined together);
//! - [`super::flow_spectral`] (route B): Galerkin in the Gegenbauer moments m_l (the density
//!   ratio q = Σ_l N_l m_l P_l), exact Gauss–Jacobi projections, ETDRK4 in time with the
//!   diffusion −l(l + d − 2)/β integrated exactly.
//!
//! Accuracy contract: every printed bound is an *estimate*. Route B's is the change of every
//! output between its last two refinements (more Gegenbauer modes and half the time step);
//! route A's is the change between its last two Richardson columns. The printed value is route
//! B's, its bound B's estimate plus the kernel-truncation term plus 64 ulps·(1 + |value|); `diff_ab` = |A − B| is checked
//! against the sum of both estimates (and a rounding floor). Tests: `tests/langevin_flow.rs`.

use super::{check_inputs, LangevinError};
use crate::meanfield::Model;

/// The outputs, in this order.
pub const QUANTITIES: [&str; 7] = [
    "risk",
    "loss",
    "free_energy",
    "kl_to_uniform",
    "mean_s",
    "mean_s2",
    "mean_abs_s",
];

/// Rounding term of route B's values, relative to 1 + |value| (64 ulps: sums over the nodes
/// and modes; an estimate).
pub const ROUNDING: f64 = 64.0 * f64::EPSILON;

/// Index of the free energy in [`QUANTITIES`].
pub const FREE_ENERGY: usize = 2;

/// The data of the reduced problem in f64 (both routes read it; neither computes it).
#[derive(Clone, Debug)]
pub struct Problem {
    pub d: usize,
    /// Loss scale c.
    pub c: f64,
    pub beta: f64,
    /// ν_0..ν_K (κ = Σ ν_l P_l), trimmed where the remaining Σ|ν| < 1e-17.
    pub nu: Vec<f64>,
    /// Power-series coefficients of ψ.
    pub psi: Vec<f64>,
    /// E σ*² (κ*(1)).
    pub teacher: f64,
    /// The l ≥ 1 with ν_l ≠ 0.
    pub active: Vec<usize>,
    /// Sup-norm truncation bounds of κ (series tail plus the trimmed ν) and ψ.
    pub tails: [f64; 2],
}

impl Problem {
    /// Checks β, d and the kernels' truncation against `kernel_tol`.
    pub fn new(model: &Model, beta: f64, kernel_tol: f64) -> Result<Problem, LangevinError> {
        check_inputs(model, beta)?;
        let tails = super::checked_tails(model, kernel_tol)?;
        let a = model.kappa.to_f64();
        let mut nu = super::fast::funk_hecke_from_series(&a, model.d);
        // Trim: drop the ν_l whose remaining sum is < 1e-17 (|P_l| ≤ 1: a sup-norm change of κ).
        let mut dropped = 0.0;
        while nu.len() > 1 && dropped + nu[nu.len() - 1].abs() < 1e-17 {
            dropped += nu.pop().map(f64::abs).unwrap_or(0.0);
        }
        let active = (1..nu.len()).filter(|&l| nu[l] != 0.0).collect();
        Ok(Problem {
            d: model.d,
            c: model.scale(),
            beta,
            nu,
            psi: model.psi.to_f64(),
            teacher: model.teacher_norm.0.to_f64(),
            active,
            tails: [tails[0] + dropped, tails[1]],
        })
    }

    /// Highest Gegenbauer degree of the potential.
    pub fn kernel_degree(&self) -> usize {
        self.active.last().copied().unwrap_or(0)
    }

    /// The seven outputs from the interaction Σν_l m_l², E_pψ, KL and the moments of s.
    pub fn outputs(&self, interaction: f64, e_psi: f64, kl: f64, s: [f64; 3]) -> [f64; 7] {
        let risk = interaction - 2.0 * e_psi + self.teacher;
        let loss = self.c * risk;
        [risk, loss, loss + kl / self.beta, kl, s[0], s[1], s[2]]
    }

    /// The kernel-truncation terms of the seven outputs (the Gibbs budget
    /// [`super::Truncation::terms`], a first-order estimate).
    pub fn truncation_terms(&self) -> [f64; 7] {
        let tr = super::Truncation {
            c: self.c,
            beta: self.beta,
            tails: self.tails,
            sup_kernel: self.nu.iter().map(|v| v.abs()).sum(),
            sup_psi: self.psi.iter().map(|b| b.abs()).sum(),
        };
        let t = tr.terms();
        // terms: free energy, loss, risk, KL, log Z, E s, E s², E|s|, interaction
        [
            t[2],
            t[1],
            t[0].max(t[1] + t[3] / self.beta),
            t[3],
            t[5],
            t[6],
            t[7],
        ]
    }
}

/// One route's outputs at the output times and its own error estimates.
#[derive(Clone, Debug)]
pub struct RouteRun {
    pub values: Vec<[f64; 7]>,
    pub estimate: Vec<[f64; 7]>,
    /// A description of the final resolution (for the output).
    pub resolution: String,
}

/// One quantity at one time.
#[derive(Clone, Copy, Debug)]
pub struct FlowValue {
    /// Route B's value.
    pub value: f64,
    /// Route B's estimate plus the kernel-truncation term (an estimate).
    pub bound: f64,
    /// |A − B|.
    pub diff_ab: f64,
    /// Route A's estimate.
    pub bound_a: f64,
}

/// The flow at the output times, with the checks.
#[derive(Clone, Debug)]
pub struct Flow {
    pub times: Vec<f64>,
    /// values[k][q]: time k, quantity q ([`QUANTITIES`]).
    pub values: Vec<[FlowValue; 7]>,
    pub resolution_a: String,
    pub resolution_b: String,
    /// Rounding floor added to the comparison of the two routes.
    pub floor: f64,
}

/// The output times 0, dt_out, 2dt_out, …, t_end (the last interval may be shorter).
pub fn output_times(t_end: f64, dt_out: f64) -> Vec<f64> {
    let n = (t_end / dt_out - 1e-9).ceil().max(1.0) as usize;
    let mut t: Vec<f64> = (0..n).map(|k| k as f64 * dt_out).collect();
    t.push(t_end);
    t
}

/// Both routes and their comparison. `tol`: the target of each route's estimate.
pub fn flow(p: &Problem, times: &[f64], tol: f64) -> Result<Flow, LangevinError> {
    let b = super::flow_spectral::solve(p, times, tol)?;
    let a = super::flow_fv::solve(p, times, tol)?;
    let trunc = p.truncation_terms();
    let values = (0..times.len())
        .map(|k| {
            std::array::from_fn(|q| FlowValue {
                value: b.values[k][q],
                bound: b.estimate[k][q] + trunc[q] + ROUNDING * (1.0 + b.values[k][q].abs()),
                diff_ab: (a.values[k][q] - b.values[k][q]).abs(),
                bound_a: a.estimate[k][q],
            })
        })
        .collect();
    Ok(Flow {
        times: times.to_vec(),
        values,
        resolution_a: a.resolution,
        resolution_b: b.resolution,
        floor: 1e-13,
    })
}

/// Result of the flow's checks (proofs-notes/langevin.md §9).
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// (time index, quantity) where |A − B| exceeds bound_a + bound + floor.
    pub disagreements: Vec<(usize, usize)>,
    /// Time indices k where F(t_k) > F(t_{k−1}) + both bounds + floor.
    pub free_energy_increases: Vec<usize>,
    /// Time indices where F(t_k) < F* − bounds − floor (F* is the minimum of F).
    pub below_minimum: Vec<usize>,
}

impl Checks {
    pub fn passed(&self) -> bool {
        self.disagreements.is_empty()
            && self.free_energy_increases.is_empty()
            && self.below_minimum.is_empty()
    }
}

/// The checks against the routes' bounds and the Gibbs minimum `f_star` (value, bound).
pub fn check(flow: &Flow, f_star: (f64, f64)) -> Checks {
    let mut c = Checks::default();
    let fl = flow.floor;
    for (k, row) in flow.values.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            if !(v.diff_ab <= v.bound_a + v.bound + fl * (1.0 + v.value.abs())) {
                c.disagreements.push((k, q));
            }
        }
        let f = row[FREE_ENERGY];
        if k > 0 {
            let g = flow.values[k - 1][FREE_ENERGY];
            if !(f.value <= g.value + f.bound + g.bound + fl) {
                c.free_energy_increases.push(k);
            }
        }
        if !(f.value >= f_star.0 - f_star.1 - f.bound - fl) {
            c.below_minimum.push(k);
        }
    }
    c
}
