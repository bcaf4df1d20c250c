//! # The reduced mean-field flow in f64
//!
//! The law of the overlap α = ⟨w, θ⟩ under the exact finite-d reduction of docs/conventions.md §4 (see
//! the parent module's doc for the formulas), represented by M weighted particles ("nodes")
//! that start at the nodes of a graded composite Gauss–Legendre rule for the initial law and
//! move with the flow; any number of test particles follow the same flow without entering the
//! law. Derivations, choices and the tests of every piece: `proofs-notes/meanfield-reduction.md`.
//!
//! ## Representation
//! - The continuous flow carries each particle as the pair (α, β) (β = √(1 − α²) ≥ 0), with
//!   dα/dt = βg = 2·scale·β²G and dβ/dt = −αg = −2·scale·αβG, G = g/(2·scale·β) a polynomial in
//!   (α, β²) (no square root, no trigonometry), and scales (α, β) back onto the unit circle after
//!   every Runge–Kutta step (before its first-same-as-last stage). Why the pair (proofs-note §9): α alone loses β = √((1 − α)(1 + α)) once
//!   1 − |α| nears the f64 spacing (β below ~1e-8 has no correct digit, and 1 − |α| < 1.1e-16
//!   gives β = 0), and a latitude ϑ loses β = cos ϑ the same way (the spacing of ϑ near π/2 is
//!   2.2e-16); in the pair, dβ/dt is β times a smooth factor, so each Runge–Kutta step scales β
//!   (β keeps its relative accuracy, down to any size) and β = 0 stays fixed, and near a pole
//!   α² + β² rounds to 1 so the rescaling leaves β untouched. α = ±1 (β = 0) are fixed points;
//!   the order of the particles is kept. The discrete map keeps unwrapped latitudes ϑ (α = sin ϑ,
//!   β = cos ϑ of either sign), since one step may overshoot θ.
//! - Nodes ([`Layout`], [`nodes()`]): 2·panels panels with breakpoints α = ±(j/panels)^grading,
//!   `order` Gauss–Legendre nodes each in the latitude ϑ = asin α, where the density
//!   cos^{d−2}ϑ / Z is smooth for every d; weights = GL weight × cos^{d−2}ϑ / Z,
//!   Z = B(1/2, (d−1)/2) by an exact recurrence. Defaults 200 panels per side, order 16,
//!   grading 3 (6400 nodes).
//! - Interaction through the node sums P_{q,e} = Σ_j w_j α_j^q β_j^e and the z moments
//!   (`moments`): O(M K²) per right-hand side for a series of degree K.
//! - Time: the Dormand–Prince 5(4) pair with error control in the max norm over all
//!   particles (nodes and test particles), stepping exactly onto every requested time;
//!   single-threaded and deterministic (same inputs → same bits).
//!
//! ## Accuracy contract
//! What is computed is the flow of the kernels' series as given by [`Model`] (truncated at
//! degree K; the truncation bounds `Model::{kappa,psi}.tail` are reported by the command, not
//! propagated through the dynamics), rounded to f64. Relative to that exact reduced flow, the
//! error of every reported quantity has two parts, both *measured, never assumed*:
//! 1. time integration: the local error per step is below `atol + rtol·|α|` on every α and below
//!    `(atol + rtol)·|β|` on every β (relative: β keeps its relative accuracy at the poles), for
//!    every particle (error-per-step control, max norm); the global error is checked by changing
//!    the tolerance (test `tolerance_halving`);
//! 2. the node rule: the command's `--check-nodes` reruns the flow with another number of
//!    panels and prints the difference of every column (test `node_convergence_he4`).
//!
//! At the defaults (rtol = atol = 1e-10, 200 panels of 16 nodes) for h_4, d = 32, t ≤ 15 the
//! two parts together are below 1e-12 on the loss (measured: integration ≤ 4e-14 against
//! rtol = 1e-13 since the state is (α, β) (it was 9e-12 with α alone), nodes ≤ 1e-13 against
//! 400 panels; values in the proofs-note), about 0.9 s of CPU (1539 steps, 9235 right-hand sides).
//! Summaries ([`Snapshot`]): quantiles, the histogram, the escaped fraction and E|α_t| use
//! the monotone map α_0 ↦ α_t, interpolated inside each panel by the panel's
//! degree-(order−1) polynomial, and the quadrature CDF of the initial law; their accuracy is
//! that of the node map and is measured the same way (test `interpolated_map_matches_test_particles`).
//! Escape times of test particles are located by Newton iteration on sub-steps of the accepted
//! Runge–Kutta step (each sub-step is a full Dormand–Prince step of smaller size), to a time
//! resolution of 1e-13·max(1, t).
//! `Nodes::weight_sum_error` reports Σ w − 1 (≈ 1e-15 at the defaults).
//!
//! Particles near ±θ: since β is carried, every quantity formed from a particle's (α, β) — ‖v‖ = |g|
//! = 2·scale·β|G|, λ_⊥ = −αg/β, R1, R2, β·R2 — has the same relative accuracy (the two parts above)
//! at 1 − |α| = 1e-20 as at the equator; test `flow_keeps_beta_at_the_poles_against_oracle`
//! (tests/hessian.rs: particles at 1 − |α| = 2^−67 against the MPFR oracle's tracers, he4,
//! d = 16, t ≤ 2, 16 panels: measured relative difference ≤ 1.3e-9, at most 0.51 of the derived
//! tolerance). Test particles beyond f64 overlaps are added by [`Flow::add_test_particles_at`].

macro_rules! law_accessors {
    () => {
        /// The node set (initial latitudes, weights, panels).
        pub fn nodes(&self) -> &Nodes {
            &self.core.nodes
        }

        /// Current overlaps α of the nodes (ascending initial order).
        pub fn alpha(&self) -> &[f64] {
            &self.core.y[..self.core.m]
        }

        /// Current overlaps of the test particles, in the order they were added.
        pub fn test_alpha(&self) -> &[f64] {
            &self.core.y[self.core.m..self.core.n()]
        }

        /// Current β of the nodes (same order as [`Self::alpha`]): carried by the state, not
        /// formed from α, so it keeps its relative accuracy up to the poles.
        pub fn beta(&self) -> &[f64] {
            let n = self.core.n();
            &self.core.y[n..n + self.core.m]
        }

        /// Current β of the test particles (same order as [`Self::test_alpha`]).
        pub fn test_beta(&self) -> &[f64] {
            &self.core.y[self.core.n() + self.core.m..]
        }

        /// The loss scale·(E κ(αα'+ββ'z) − 2 E ψ(α) + E σ*² + ν²) of the current law.
        pub fn loss(&self) -> f64 {
            self.core.loss()
        }

        /// E(f_MF − σ*)² of the current law (no loss scale, no label noise).
        pub fn risk(&self) -> f64 {
            self.core.risk()
        }

        /// E_{α',z}[κ(αα' + ββ'z)], β = √(1 − α²), α' from the current law.
        pub fn kernel_mean_at(&self, alpha: f64) -> f64 {
            self.core.kernel_mean_at(alpha)
        }

        /// [`Self::kernel_mean_at`] for many α: the law's moment sums are formed once.
        pub fn kernel_means_at(&self, alpha: &[f64]) -> Vec<f64> {
            self.core.kernel_means_at(alpha)
        }

        /// E[κ(αα' + ββ'z)], α, α' independent from the current law.
        pub fn self_kernel_mean(&self) -> f64 {
            self.core.exp.self_kappa_mean(&self.core.moments())
        }

        /// g(α) = 2·scale·[(ψ'(α) − A(α))β + B(α)α] at β = √(1 − α²): v = g e, dα/dt = βg.
        pub fn velocity_coefficient(&self, alpha: f64) -> f64 {
            self.core.velocity_coefficient(alpha)
        }

        /// (A(α), B(α)) = (E[κ'(αα'+ββ'z)α'], E[κ'(αα'+ββ'z)β'z]) at β = √(1 − α²).
        pub fn interaction(&self, alpha: f64) -> (f64, f64) {
            let b = Core::beta(alpha);
            self.core.exp.interaction(&self.core.moments(), alpha, b)
        }

        /// (dA/dα, dB/dα) along the sphere (β = √(1 − α²)) with the law held fixed; |α| < 1
        /// (dB/dα ∝ 1/β at the poles).
        pub fn interaction_derivatives(&self, alpha: f64) -> (f64, f64) {
            let b = Core::beta(alpha);
            self.core
                .exp
                .interaction_derivatives(&self.core.moments(), alpha, b)
        }

        /// ψ'(α) (series as given).
        pub fn psi_prime(&self, alpha: f64) -> f64 {
            self.core.exp.psi_prime(alpha)
        }

        /// The radial coefficient r(α) = 2·scale·(E[κ_rad(αα'+ββ'z)] − ψ_rad(α)) of the
        /// Euclidean-step-then-normalise map.
        pub fn radial_coefficient(&self, alpha: f64) -> f64 {
            self.core.radial_coefficient(alpha)
        }

        /// E_ρ[g(α)²] over the nodes: along the continuous flow dL/dt = −E_ρ[g²] exactly (the
        /// node system is itself a mean-field flow), so this is −dL/dt.
        pub fn dissipation(&self) -> f64 {
            self.core.dissipation()
        }

        /// (g, r) of the current law at many latitudes ϑ (α = sin ϑ, signed β = cos ϑ):
        /// g = 2·scale·β·G(α, β²) (odd in β) and r = 2·scale·(E[κ_rad(αα' + ββ'z)] − ψ_rad(α))
        /// (even in β), by the same operations as [`DiscreteFlow::step`] (moment sums and
        /// polynomials formed once for all points).
        pub fn map_coefficients_at(&self, latitudes: &[f64]) -> Vec<(f64, f64)> {
            self.core.map_coefficients_at(latitudes)
        }
    };
}

pub mod nodes;

mod discrete;
mod moments;
mod particles;
mod rk;
mod state;

pub use discrete::DiscreteFlow;
use particles::Core;

pub use moments::z_moments;
pub use nodes::{gauss_legendre, nodes, sphere_normaliser, Layout, Nodes};

use crate::meanfield::Model;
use crate::population::Update;
use moments::{horner, Bivariate, Expansion};
use std::f64::consts::FRAC_PI_2;
use std::ops::Range;

/// Error-per-step tolerances of the integrator: every particle's local error estimate must be
/// below `atol + rtol·|α|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Tolerance {
    /// rtol = atol = `tol`.
    pub fn new(tol: f64) -> Tolerance {
        Tolerance {
            rtol: tol,
            atol: tol,
        }
    }
}

impl Default for Tolerance {
    /// 1e-10 (both).
    fn default() -> Self {
        Tolerance::new(1e-10)
    }
}

/// Why a flow cannot be set up or advanced.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FlowError {
    #[error("node layout: {0}")]
    Layout(String),
    #[error("tolerance: {0}")]
    Tolerance(String),
    #[error("time: {0}")]
    Time(String),
    #[error("{0}")]
    Input(String),
}

/// Integrator counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: usize,
    pub rejected: usize,
    pub rhs_evaluations: usize,
}

/// What a [`Snapshot`] summarises: the escape threshold on |α|, quantile levels in (0, 1) and
/// the number of equal histogram bins on [−1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct SummarySpec {
    pub threshold: f64,
    pub quantile_levels: Vec<f64>,
    pub bins: usize,
}

impl Default for SummarySpec {
    fn default() -> Self {
        SummarySpec {
            threshold: 0.9,
            quantile_levels: vec![0.05, 0.25, 0.5, 0.75, 0.95],
            bins: 20,
        }
    }
}

/// The state of the law at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub t: f64,
    /// scale·(E κ(αα'+ββ'z) − 2 E ψ(α) + E σ*² + ν²).
    pub loss: f64,
    /// E(f_MF − σ*)² (no scale, no noise).
    pub risk: f64,
    /// E|α_t|.
    pub alpha_mean_abs: f64,
    /// Mass of |α_t| > threshold.
    pub escaped_fraction: f64,
    /// (level, α-quantile of the law of α_t).
    pub quantiles: Vec<(f64, f64)>,
    /// Masses of the bins [−1 + 2k/B, −1 + 2(k+1)/B) of α_t.
    pub histogram: Vec<f64>,
}

/// The continuous reduced flow: nodes, test particles, adaptive Dormand–Prince 5(4).
#[derive(Clone, Debug)]
pub struct Flow {
    core: Core,
    t: f64,
    tol: Tolerance,
    /// Proposed next step.
    h: Option<f64>,
    /// f(t, y), valid when `f_valid`.
    f: Vec<f64>,
    f_valid: bool,
    stepper: rk::Stepper,
    stats: Stats,
    /// Escape threshold on |α|, and escape times of the test particles.
    threshold: Option<f64>,
    escape: Vec<Option<f64>>,
    /// asin of the state, refreshed whenever the state changes.
    latitudes: Vec<f64>,
}

impl Flow {
    /// The flow of `model` from the uniform law at t = 0.
    pub fn new(model: &Model, layout: Layout, tol: Tolerance) -> Result<Flow, FlowError> {
        for (name, v) in [("rtol", tol.rtol), ("atol", tol.atol)] {
            if !(v.is_finite() && v > 0.0 && v < 1.0) {
                return Err(FlowError::Tolerance(format!(
                    "{name} = {v} is not in (0, 1)"
                )));
            }
        }
        let core = Core::new(model, layout)?;
        Ok(Flow {
            latitudes: core.nodes.theta.clone(),
            core,
            t: 0.0,
            tol,
            h: None,
            f: Vec::new(),
            f_valid: false,
            stepper: rk::Stepper::with_projection(renormalise),
            stats: Stats::default(),
            threshold: None,
            escape: Vec::new(),
        })
    }

    law_accessors!();

    /// Adds test particles at overlaps `alpha` (in [−1, 1]) at the current time; they follow
    /// the flow without entering the law. Returns their indices in [`Flow::test_alpha`].
    pub fn add_test_particles(&mut self, alpha: &[f64]) -> Result<Range<usize>, FlowError> {
        let r = self.core.add(alpha)?;
        self.added(alpha);
        Ok(r)
    }

    /// Adds test particles at the points (α, β) of the unit circle, β ≥ 0 (|α² + β² − 1| ≤
    /// 1e-12; they are scaled onto it): a particle closer to ±θ than f64 overlaps resolve
    /// (1 − |α| below 1e-16) is given by its β.
    pub fn add_test_particles_at(
        &mut self,
        alpha: &[f64],
        beta: &[f64],
    ) -> Result<Range<usize>, FlowError> {
        let (a, b) = Core::check_pairs(alpha, beta)?;
        let r = self.core.add_pairs(&a, &b);
        self.added(&a);
        Ok(r)
    }

    fn added(&mut self, alpha: &[f64]) {
        self.latitudes = self.core.latitudes();
        for a in alpha {
            let hit = self
                .threshold
                .is_some_and(|e| a.abs() >= e)
                .then_some(self.t);
            self.escape.push(hit);
        }
        self.f_valid = false;
    }

    /// Tracks, for every test particle, the first time |α| ≥ `threshold` (in (0, 1)). Call it
    /// before advancing; particles already beyond it get the current time.
    pub fn set_escape_threshold(&mut self, threshold: f64) -> Result<(), FlowError> {
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(FlowError::Input(format!(
                "threshold {threshold} is not in (0, 1)"
            )));
        }
        self.threshold = Some(threshold);
        let m = self.core.m;
        self.escape = self.core.y[m..self.core.n()]
            .iter()
            .map(|a| (a.abs() >= threshold).then_some(self.t))
            .collect();
        Ok(())
    }

    /// Escape times of the test particles (None: not escaped yet or no threshold set).
    pub fn escape_times(&self) -> &[Option<f64>] {
        &self.escape
    }

    /// Current time.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// Integrator counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The tolerance in use.
    pub fn tolerance(&self) -> Tolerance {
        self.tol
    }

    fn rhs(core: &Core, stats: &mut Stats, y: &[f64], out: &mut [f64]) {
        stats.rhs_evaluations += 1;
        core.velocity(y, out);
    }

    /// Integrates to time `t_end` ≥ the current time, landing exactly on it.
    pub fn advance_to(&mut self, t_end: f64) -> Result<(), FlowError> {
        if !t_end.is_finite() || t_end < self.t {
            return Err(FlowError::Time(format!(
                "cannot advance from t = {} to t = {t_end}",
                self.t
            )));
        }
        if t_end == self.t {
            return Ok(());
        }
        let n = self.core.y.len();
        if !self.f_valid {
            self.f.resize(n, 0.0);
            let y = self.core.y.clone();
            Self::rhs(&self.core, &mut self.stats, &y, &mut self.f);
            self.f_valid = true;
        }
        let (rtol, atol) = (self.tol.rtol, self.tol.atol);
        let mut h = match self.h {
            Some(h) => h,
            None => {
                // Hairer's starting guess: 0.01·‖y‖/‖f‖ in the scaled max norm.
                let mut d0: f64 = 0.0;
                let mut d1: f64 = 0.0;
                for (y, f) in self.core.y.iter().zip(&self.f) {
                    let sc = atol + rtol * y.abs();
                    d0 = d0.max(y.abs() / sc);
                    d1 = d1.max(f.abs() / sc);
                }
                if d0 < 1e-5 || d1 < 1e-5 {
                    1e-3
                } else {
                    (0.01 * d0 / d1).min(1.0)
                }
            }
        };
        let mut y1 = vec![0.0; n];
        let mut f1 = vec![0.0; n];
        let mut err = vec![0.0; n];
        let mut last_rejected = false;
        while self.t < t_end {
            let remaining = t_end - self.t;
            let clipped = h >= remaining * (1.0 - 1e-12);
            let hs = if clipped { remaining } else { h };
            {
                let core = &self.core;
                let stats = &mut self.stats;
                let mut rhs = |_t: f64, y: &[f64], out: &mut [f64]| Self::rhs(core, stats, y, out);
                self.stepper.step(
                    &mut rhs, self.t, &core.y, &self.f, hs, &mut y1, &mut f1, &mut err,
                );
            }
            let mut e: f64 = 0.0;
            let np = n / 2;
            for i in 0..np {
                let sc = atol + rtol * self.core.y[i].abs().max(y1[i].abs());
                e = e.max(err[i].abs() / sc);
            }
            // β relative: |err| ≤ (atol + rtol)·|β| (β = 0 is a fixed point, with err = 0).
            for i in np..n {
                if err[i] != 0.0 {
                    let sc = (atol + rtol) * self.core.y[i].abs().max(y1[i].abs());
                    e = e.max(err[i].abs() / sc);
                }
            }
            if !e.is_finite() {
                return Err(FlowError::Input(
                    "the right-hand side is not finite (series coefficients too large for f64?)"
                        .into(),
                ));
            }
            if e <= 1.0 {
                self.stats.accepted += 1;
                let t0 = self.t;
                if self.threshold.is_some() {
                    self.locate_escapes(t0, hs, &y1, &f1);
                }
                self.t = if clipped { t_end } else { t0 + hs };
                std::mem::swap(&mut self.core.y, &mut y1);
                std::mem::swap(&mut self.f, &mut f1);
                let mut fac = if e == 0.0 {
                    5.0
                } else {
                    (0.9 * e.powf(-0.2)).clamp(0.2, 5.0)
                };
                if last_rejected {
                    fac = fac.min(1.0);
                }
                let hn = hs * fac;
                h = if clipped { h.max(hn) } else { hn };
                last_rejected = false;
            } else {
                self.stats.rejected += 1;
                h = hs * (0.9 * e.powf(-0.2)).clamp(0.2, 1.0);
                last_rejected = true;
                if h < 1e-14 * self.t.abs().max(1.0) {
                    return Err(FlowError::Time(format!(
                        "step size underflow at t = {}",
                        self.t
                    )));
                }
            }
        }
        self.h = Some(h);
        self.latitudes = self.core.latitudes();
        Ok(())
    }

    /// Latitudes ϑ = atan2(α, β) ∈ [−π/2, π/2] of the nodes then the test particles (α = sin ϑ,
    /// β = cos ϑ ≥ 0). ϑ itself is accurate, but cos ϑ near ±π/2 is not (f64 spacing of ϑ there
    /// is 2.2e-16): take β from [`Flow::beta`], [`Flow::test_beta`] instead.
    pub fn latitudes(&self) -> &[f64] {
        &self.latitudes
    }

    /// After an accepted step (t0, y, f) → (t0 + h, y1, f1): first crossings of |α| = threshold
    /// by test particles, located by Newton's method on sub-steps from (t0, y).
    fn locate_escapes(&mut self, t0: f64, h: f64, y1: &[f64], f1: &[f64]) {
        let e = self.threshold.expect("threshold set");
        let m = self.core.m;
        let n = self.core.y.len();
        let mut ys = vec![0.0; n];
        let mut fs = vec![0.0; n];
        let mut es = vec![0.0; n];
        for k in 0..self.escape.len() {
            let i = m + k;
            if self.escape[k].is_some() || y1[i].abs() < e {
                continue;
            }
            let target = e.copysign(y1[i]);
            let (ya, fa, yb, fb) = (self.core.y[i], self.f[i], y1[i], f1[i]);
            // Cubic Hermite guess on [0, 1] by bisection.
            let herm = |s: f64| {
                let (h00, h10, h01, h11) = (
                    (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s),
                    s * (1.0 - s) * (1.0 - s),
                    s * s * (3.0 - 2.0 * s),
                    s * s * (s - 1.0),
                );
                h00 * ya + h10 * h * fa + h01 * yb + h11 * h * fb - target
            };
            let (mut lo, mut hi) = (0.0, 1.0);
            let sgn = (yb - target).signum();
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if herm(mid) * sgn >= 0.0 {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            let mut tau = (0.5 * (lo + hi) * h).clamp(h * 1e-12, h);
            let resolution = 1e-13 * (t0 + h).abs().max(1.0);
            for _ in 0..12 {
                {
                    let core = &self.core;
                    let stats = &mut self.stats;
                    let mut rhs =
                        |_t: f64, y: &[f64], out: &mut [f64]| Self::rhs(core, stats, y, out);
                    self.stepper.step(
                        &mut rhs, t0, &core.y, &self.f, tau, &mut ys, &mut fs, &mut es,
                    );
                }
                let slope = fs[i];
                if slope == 0.0 {
                    break;
                }
                let next = (tau - (ys[i] - target) / slope).clamp(h * 1e-12, h);
                let done = (next - tau).abs() <= resolution;
                tau = next;
                if done {
                    break;
                }
            }
            self.escape[k] = Some(t0 + tau);
        }
    }

    /// The node map α_0 ↦ α_t at any initial overlap, interpolated inside the panel of
    /// ϑ_0 = asin α_0 by the panel's polynomial in ϑ_0 (barycentric form); ±1 are fixed.
    pub fn map_at(&self, alpha0: f64) -> f64 {
        interpolate_map(&self.core, alpha0.clamp(-1.0, 1.0).asin())
    }

    /// The initial overlap whose image under the node map is `alpha` (bisection on the
    /// interpolated map between the two nodes whose images bracket it).
    pub fn preimage(&self, alpha: f64) -> f64 {
        self.preimage_latitude(alpha).sin()
    }

    fn preimage_latitude(&self, target: f64) -> f64 {
        let core = &self.core;
        let y = &core.y[..core.m];
        let th = &core.nodes.theta;
        let i = y.partition_point(|v| *v <= target);
        let mut lo = if i == 0 { -FRAC_PI_2 } else { th[i - 1] };
        let mut hi = if i == core.m { FRAC_PI_2 } else { th[i] };
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if interpolate_map(core, mid) <= target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// The summary of the current law (see the module doc for its accuracy).
    pub fn snapshot(&self, spec: &SummarySpec) -> Snapshot {
        let core = &self.core;
        let nodes = &core.nodes;
        let total = nodes.mass_below_panel(nodes.panel_count());
        let e = spec.threshold;
        let below = nodes.cdf_latitude(self.preimage_latitude(-e));
        let above = total - nodes.cdf_latitude(self.preimage_latitude(e));
        let escaped_fraction = below + above;
        // E|α_t|: node sums, except in the panel holding the preimage of 0, split there.
        let z0 = self.preimage_latitude(0.0);
        let pz = nodes.panel_of(z0);
        let q = nodes.layout.order;
        let mut mean_abs = 0.0;
        for p in 0..nodes.panel_count() {
            if p == pz {
                let (a, b) = (nodes.edges[p], nodes.edges[p + 1]);
                for (lo, hi) in [(a, z0), (z0, b)] {
                    let (c, h) = (0.5 * (lo + hi), 0.5 * (hi - lo));
                    for (x, w) in nodes.gl.0.iter().zip(&nodes.gl.1) {
                        let t = c + h * x;
                        mean_abs += h
                            * w
                            * nodes::latitude_density(t, nodes.d, nodes.normaliser)
                            * interpolate_map(core, t).abs();
                    }
                }
            } else {
                for j in p * q..(p + 1) * q {
                    mean_abs += nodes.weights[j] * core.y[j].abs();
                }
            }
        }
        let quantiles = spec
            .quantile_levels
            .iter()
            .map(|&lv| (lv, interpolate_map(core, nodes.quantile(lv).asin())))
            .collect();
        let bins = spec.bins;
        let mut cdf_at = Vec::with_capacity(bins + 1);
        for k in 0..=bins {
            let edge = -1.0 + 2.0 * k as f64 / bins as f64;
            let c = if k == 0 {
                0.0
            } else if k == bins {
                total
            } else {
                nodes.cdf_latitude(self.preimage_latitude(edge))
            };
            cdf_at.push(c);
        }
        let histogram = cdf_at.windows(2).map(|w| w[1] - w[0]).collect();
        Snapshot {
            t: self.t,
            loss: self.loss(),
            risk: self.risk(),
            alpha_mean_abs: mean_abs,
            escaped_fraction,
            quantiles,
            histogram,
        }
    }
}

/// Scales every particle (α, β) of a state (α…, β…) back onto the unit circle: the
/// integrator's projection, applied to every new solution before its right-hand side is
/// evaluated (the drift off the circle is of the size of the local error). Near a pole
/// α² + β² rounds to 1 and nothing changes, so β keeps its relative accuracy.
fn renormalise(y: &mut [f64]) {
    let n = y.len() / 2;
    let (a, b) = y.split_at_mut(n);
    for (x, z) in a.iter_mut().zip(b.iter_mut()) {
        let r = (*x * *x + *z * *z).sqrt();
        if r != 1.0 {
            *x /= r;
            *z /= r;
        }
    }
}

/// Barycentric interpolation of the node map ϑ_0 ↦ α_t inside the panel of `t0`.
fn interpolate_map(core: &Core, t0: f64) -> f64 {
    if t0 <= -FRAC_PI_2 {
        return -1.0;
    }
    if t0 >= FRAC_PI_2 {
        return 1.0;
    }
    let nodes = &core.nodes;
    let q = nodes.layout.order;
    let p = nodes.panel_of(t0);
    let (a, b) = (nodes.edges[p], nodes.edges[p + 1]);
    let xi = (2.0 * t0 - a - b) / (b - a);
    let xs = &nodes.gl.0;
    let vals = &core.y[p * q..(p + 1) * q];
    // Barycentric weights of the Gauss–Legendre points: (−1)^k √((1 − x_k²) w_k).
    let mut num = 0.0;
    let mut den = 0.0;
    for k in 0..q {
        let dx = xi - xs[k];
        if dx == 0.0 {
            return vals[k];
        }
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        let lam = sign * ((1.0 - xs[k] * xs[k]) * nodes.gl.1[k]).sqrt() / dx;
        num += lam * vals[k];
        den += lam;
    }
    num / den
}
