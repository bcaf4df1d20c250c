//! The infinite-width limit of the L = 2 deep model: ideal particles and their reduced ODE.
//!
//! ## The limit (derivation in `proofs-notes/deep-meanfield.md`)
//! Edge (i, j) carries (θ_ij(0), u_i, a_j); replacing the averages over i and j by
//! expectations gives the ideal particle θ̄(t; θ0, u, a) with
//! dθ̄/dt = 2a ψ'(θ̄) s V_s(a, t), s = ⟨u, w*⟩ ~ N(0, 1) (rotation symmetry: v̄(a, t) = α(a, t) w*,
//! V̄(a, t) = V_s(a, t) w*), and
//!
//! - α(a, t) = E_{θ0,s}[s ψ(θ̄(t; θ0, s, a))],
//! - V_s(a) = −E_{a'}[a' d1k(α(a), α(a'))] + d1k(α(a), 1),
//! - R_∞ = E_{a,a'}[a a' k(α(a), α(a'))] − 2 E_a[a k(α(a), 1)] + 1/3,
//!
//! with k(α, β) = (2/π) asin(αβ/√((1+α²)(1+β²))), d1k(α, β) = ∂_α k = (2/π) β/((1+α²)√(1+α²+β²)),
//! a ~ U[−√3, √3].
//!
//! **Method A** (push-forward): with F' = 1/ψ', F(θ̄(t)) = F(θ0) + s Γ(a, t) where
//! ∂_t Γ = 2a V_s(a, t), Γ(a, 0) = 0, so α(a, t) = A(Γ(a, t)) with A(Γ) = Γ (id) or, for gd
//! (F = sinh), A(Γ) = Γ E_{θ0,s}[1/(1 + (sinh θ0 + sΓ)²)] (Stein's lemma). The state is Γ at the
//! a-nodes. The inner s-integral is a composite Gauss–Legendre rule with panels refined
//! geometrically towards s* = −sinh θ0/Γ (where the Lorentzian of width 1/Γ sits); the θ0
//! integral is a composite Gauss–Legendre rule on [0, 8] (the integrand is even in θ0; the
//! normal mass beyond 8 is below 1.3e−15).
//!
//! **Method B** (ideal particles, no push-forward): particles on a tensor grid
//! (θ0, s, a) — composite Gauss–Legendre in θ0 and s, the same a-rule as A — each integrated
//! by its own ODE dθ/dt = 2a ψ'(θ) s V_s(a, t); α(a) is the grid average of s ψ(θ).
//!
//! Both use the symmetry a → −a (Γ, α odd in a; every a-integrand even), so only a ∈ [0, √3]
//! is discretised: the a-rule is M-point Gauss–Legendre on [0, √3] for the uniform law. Time
//! stepping is classical RK4 with a fixed step dividing the output interval.
//!
//! **General unit** ([`Unit::General`], `deep limit --unit`): the same methods with the kernels
//! of [`super::limit_unit`] (1-D integrals along w*); the symmetry a → −a holds only for odd σ
//! (decided from the expression), otherwise the a-rule covers both halves [−√3, 0], [0, √3]
//! ([`super::limit_unit::a_grid`]) and the tracked a are integrated as they are. The default
//! [`Unit::Erf`] runs the code above unchanged (same bits).
//!
//! ## Accuracy contract
//! Every reported error is an **estimate**: node refinement (A rerun with 2M a-nodes and twice
//! the θ0/s panels), step halving (A rerun with h/2), and the difference A − B. The limit does
//! not depend on the input dimension d (only s = ⟨u, w*⟩ ~ N(0, 1) enters).
//! Measured numbers are in the proofs-note and in `tests/deep.rs`.

// Index loops mirror the formulas (j, k over nodes; t, m over coordinates).
#![allow(clippy::needless_range_loop)]

use super::limit_unit::LimitUnit;
use super::Psi;
use crate::meanfield::flow::gauss_legendre;
use rayon::prelude::*;
use std::f64::consts::{FRAC_2_PI, PI};

/// k(α, β) = E g(αz) g(βz).
pub fn k(al: f64, be: f64) -> f64 {
    FRAC_2_PI * (al * be / ((1.0 + al * al) * (1.0 + be * be)).sqrt()).asin()
}

/// d1k(α, β) = ∂_α k(α, β) = E g'(αz) z g(βz).
pub fn d1k(al: f64, be: f64) -> f64 {
    let p = 1.0 + al * al;
    FRAC_2_PI * be / (p * (p + be * be).sqrt())
}

/// A quadrature rule (nodes, weights) for a probability law.
#[derive(Clone, Debug)]
pub struct Rule {
    pub x: Vec<f64>,
    pub w: Vec<f64>,
}

/// Composite Gauss–Legendre on [lo, hi] with `panels` equal panels of `q` nodes, weights
/// multiplied by `density`.
pub(super) fn composite(
    lo: f64,
    hi: f64,
    panels: usize,
    q: usize,
    density: impl Fn(f64) -> f64,
) -> Rule {
    let (gx, gw) = gauss_legendre(q);
    let h = (hi - lo) / panels as f64;
    let mut x = Vec::with_capacity(panels * q);
    let mut w = Vec::with_capacity(panels * q);
    for p in 0..panels {
        let c = lo + (p as f64 + 0.5) * h;
        for (t, v) in gx.iter().zip(&gw) {
            let z = c + 0.5 * h * t;
            x.push(z);
            w.push(0.5 * h * v * density(z));
        }
    }
    Rule { x, w }
}

pub(super) fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// M-point Gauss–Legendre for a ~ U[0, √3] (weights sum to 1).
pub fn a_rule(m: usize) -> Rule {
    uniform_rule(0.0, 3f64.sqrt(), m)
}

/// M-point Gauss–Legendre for the uniform law on [lo, hi] (weights sum to 1).
pub fn uniform_rule(lo: f64, hi: f64, m: usize) -> Rule {
    let (gx, gw) = gauss_legendre(m);
    Rule {
        x: gx
            .iter()
            .map(|t| lo + 0.5 * (hi - lo) * (t + 1.0))
            .collect(),
        w: gw.iter().map(|v| 0.5 * v).collect(),
    }
}

/// Breakpoints of a composite rule on [lo, hi]: panels of length `unit`, plus `centre` and
/// centre ± 2^m·width while 2^m·width < unit, so that every panel near an integrand feature of
/// width `width` at `centre` is about as wide as its distance to it (sorted, deduplicated).
pub(super) fn graded_breaks(lo: f64, hi: f64, unit: f64, centre: f64, width: f64) -> Vec<f64> {
    let nu = ((hi - lo) / unit).round() as usize;
    let mut br: Vec<f64> = (0..=nu).map(|k| lo + k as f64 * unit).collect();
    if (lo..=hi).contains(&centre) {
        br.push(centre);
    }
    let mut w = width;
    while w < unit {
        for b in [centre - w, centre + w] {
            if b > lo && b < hi {
                br.push(b);
            }
        }
        w *= 2.0;
    }
    br.sort_by(f64::total_cmp);
    br.dedup();
    br
}

/// (ψ(θ), ψ'(θ)) with one exp for gd: ψ = atan(sinh θ), ψ' = 1/cosh θ.
#[inline]
pub(super) fn psi_both(psi: Psi, t: f64) -> (f64, f64) {
    match psi {
        Psi::Id => (t, 1.0),
        Psi::Gd => {
            let e = t.exp();
            let ei = 1.0 / e;
            ((0.5 * (e - ei)).atan(), 2.0 / (e + ei))
        }
    }
}

/// Discretisation parameters of the limit.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub psi: Psi,
    /// Gauss–Legendre nodes in a ∈ [0, √3].
    pub a_nodes: usize,
    /// Panels per unit length of the θ0 and s rules (composite Gauss–Legendre).
    pub panels_per_unit: usize,
    /// Nodes per panel.
    pub order: usize,
    /// Largest time step.
    pub h: f64,
    /// Chebyshev nodes − 1 per panel of the A(Γ) table (method A, gd).
    pub cheb: usize,
}

impl Params {
    pub fn new(psi: Psi) -> Params {
        Params {
            psi,
            a_nodes: 48,
            panels_per_unit: 1,
            order: 12,
            h: 0.0125,
            cheb: 24,
        }
    }
    /// Twice the a-nodes and twice the panels.
    pub fn refined(self) -> Params {
        Params {
            a_nodes: 2 * self.a_nodes,
            panels_per_unit: 2 * self.panels_per_unit,
            cheb: self.cheb + 8,
            ..self
        }
    }
    pub fn halved(self) -> Params {
        Params {
            h: 0.5 * self.h,
            ..self
        }
    }
}

/// Half-range of the θ0 rule (θ0 ~ N(0, 1)).
pub(super) const THETA_MAX: f64 = 8.0;
/// Half-range of the s rule (s ~ N(0, 1)).
pub(super) const S_MAX: f64 = 9.0;

/// The map Γ ↦ A(Γ) = E_{θ0,s}[s ψ(F⁻¹(F(θ0) + sΓ))] of method A.
pub struct PushForward {
    psi: Psi,
    theta: Rule,
    panels_per_unit: usize,
    gx: Vec<f64>,
    gw: Vec<f64>,
}

impl PushForward {
    pub fn new(p: &Params) -> PushForward {
        // θ0 ∈ [0, THETA_MAX], density 2φ (the integrand is even in θ0).
        let panels = (THETA_MAX * p.panels_per_unit as f64).ceil() as usize;
        let theta = composite(0.0, THETA_MAX, panels, p.order, |z| 2.0 * normal_pdf(z));
        let (gx, gw) = gauss_legendre(p.order);
        PushForward {
            psi: p.psi,
            theta,
            panels_per_unit: p.panels_per_unit,
            gx,
            gw,
        }
    }

    /// Λ(c, Γ) = E_s[1/(1 + (c + sΓ)²)], Γ > 0: composite Gauss–Legendre on [−S_MAX, S_MAX]
    /// with unit panels (divided by panels_per_unit) and breakpoints s* ± 2^m/Γ, s* = −c/Γ.
    fn lorentz(&self, c: f64, gam: f64) -> f64 {
        let unit = 1.0 / self.panels_per_unit as f64;
        let br = graded_breaks(-S_MAX, S_MAX, unit, -c / gam, 1.0 / gam);
        let mut sum = 0.0;
        for pair in br.windows(2) {
            let (lo, hi) = (pair[0], pair[1]);
            if hi - lo <= 0.0 {
                continue;
            }
            let (m, r) = (0.5 * (lo + hi), 0.5 * (hi - lo));
            let mut ps = 0.0;
            for (t, v) in self.gx.iter().zip(&self.gw) {
                let s = m + r * t;
                let y = c + s * gam;
                ps += v * normal_pdf(s) / (1.0 + y * y);
            }
            sum += r * ps;
        }
        sum
    }

    /// A(Γ) by direct quadrature (no table).
    pub fn direct(&self, gam: f64) -> f64 {
        match self.psi {
            Psi::Id => gam,
            Psi::Gd => {
                if gam == 0.0 {
                    return 0.0;
                }
                let g = gam.abs();
                let mut e = 0.0;
                for (t, w) in self.theta.x.iter().zip(&self.theta.w) {
                    e += w * self.lorentz(libm::sinh(*t), g);
                }
                gam * e
            }
        }
    }
}

/// A(Γ) for gd through piecewise Chebyshev interpolation of the direct quadrature on the
/// geometric panels [Γ_min 2^k, Γ_min 2^{k+1}] (A is real-analytic for Γ > 0, and each panel
/// is at a relative distance 1/2 from the only singular point Γ = 0, so the interpolant
/// converges geometrically in the number of nodes); A'(0)Γ below Γ_min = 2^−30, direct
/// quadrature above the last panel (Γ > 256). `check` is the largest |table − direct| at the panels' midpoints between
/// nodes, an estimate of the interpolation error.
pub struct Table {
    pf: PushForward,
    lo: f64,
    /// A'(0) = E sech²θ0.
    slope: f64,
    /// Per panel: Chebyshev points of the second kind (mapped) and the values there.
    panels: Vec<(Vec<f64>, Vec<f64>)>,
    pub check: f64,
}

/// Smallest Γ interpolated; below it A(Γ) = A'(0)Γ (error ≤ |A'''(0)|Γ³/6 < 1e−26).
const GAMMA_MIN: f64 = 1.0 / (1u64 << 30) as f64;
/// Number of geometric panels (up to Γ = GAMMA_MIN·2^PANELS = 256).
const GAMMA_PANELS: usize = 38;

impl Table {
    pub fn new(p: &Params, cheb: usize) -> Table {
        let pf = PushForward::new(p);
        if p.psi == Psi::Id {
            return Table {
                pf,
                lo: GAMMA_MIN,
                slope: 1.0,
                panels: Vec::new(),
                check: 0.0,
            };
        }
        let xs: Vec<f64> = (0..=cheb)
            .map(|k| (PI * k as f64 / cheb as f64).cos())
            .collect();
        let jobs: Vec<(usize, usize)> = (0..GAMMA_PANELS)
            .flat_map(|q| (0..=cheb).map(move |k| (q, k)))
            .collect();
        let vals: Vec<f64> = jobs
            .par_iter()
            .map(|&(q, k)| {
                let (a, b) = (
                    GAMMA_MIN * (1u64 << q) as f64,
                    GAMMA_MIN * (1u64 << (q + 1)) as f64,
                );
                pf.direct(0.5 * (a + b) + 0.5 * (b - a) * xs[k])
            })
            .collect();
        let panels = (0..GAMMA_PANELS)
            .map(|q| {
                let (a, b) = (
                    GAMMA_MIN * (1u64 << q) as f64,
                    GAMMA_MIN * (1u64 << (q + 1)) as f64,
                );
                (
                    xs.iter()
                        .map(|x| 0.5 * (a + b) + 0.5 * (b - a) * x)
                        .collect(),
                    vals[q * (cheb + 1)..(q + 1) * (cheb + 1)].to_vec(),
                )
            })
            .collect();
        let slope = pf
            .theta
            .x
            .iter()
            .zip(&pf.theta.w)
            .map(|(t, w)| w / libm::cosh(*t).powi(2))
            .sum();
        let mut t = Table {
            pf,
            lo: GAMMA_MIN,
            slope,
            panels,
            check: 0.0,
        };
        // Midpoints between consecutive nodes of every panel.
        let mids: Vec<f64> = t
            .panels
            .iter()
            .flat_map(|(g, _)| {
                g.windows(2)
                    .map(|w| 0.5 * (w[0] + w[1]))
                    .collect::<Vec<_>>()
            })
            .collect();
        let errs: Vec<f64> = mids
            .par_iter()
            .map(|&g| (t.value(g) - t.pf.direct(g)).abs())
            .collect();
        t.check = errs.iter().fold(0.0f64, |a, b| a.max(*b));
        t
    }

    /// A(Γ).
    pub fn value(&self, gam: f64) -> f64 {
        if self.panels.is_empty() {
            return self.pf.direct(gam);
        }
        let g = gam.abs();
        if g < self.lo {
            return self.slope * gam;
        }
        let q = (g / self.lo).log2().floor() as usize;
        if q >= self.panels.len() {
            return self.pf.direct(gam);
        }
        let (xs, ys) = &self.panels[q];
        // Barycentric interpolation at Chebyshev points of the second kind.
        let n = xs.len() - 1;
        let mut num = 0.0;
        let mut den = 0.0;
        for k in 0..=n {
            let dx = g - xs[k];
            if dx == 0.0 {
                return gam.signum() * ys[k];
            }
            let mut w = if k % 2 == 0 { 1.0 } else { -1.0 };
            if k == 0 || k == n {
                w *= 0.5;
            }
            num += w * ys[k] / dx;
            den += w / dx;
        }
        gam.signum() * num / den
    }
}

/// One limit trajectory.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub times: Vec<f64>,
    pub risk: Vec<f64>,
    /// Γ(a, t) at the tracked a (one row per time; empty for method B).
    pub gamma: Vec<Vec<f64>>,
    /// α(a, t) at the tracked a (one row per time).
    pub alpha: Vec<Vec<f64>>,
    /// Right-hand-side evaluations.
    pub evaluations: usize,
    /// Method A: the A(Γ) table's interpolation check ([`Table::check`]); 0 for method B.
    pub table_check: f64,
    /// Euler stepping only: V_s(a, t_k) at the tracked a before every step k (one row per
    /// step; V_s is even in a), what the ideal particles of a finite network need. Empty for
    /// RK4.
    pub vs_steps: Vec<Vec<f64>>,
}

/// V_s at every node from α at the a-nodes (first `grid.x.len()` entries of `alpha` and
/// `a`), for every entry of `alpha` (tracked nodes included).
fn velocity(alpha: &[f64], grid: &Rule) -> Vec<f64> {
    let m = grid.x.len();
    alpha
        .iter()
        .map(|&al| {
            // E_{a'}[a' d1k(α, α(a'))] over a' ∈ [−√3, √3] = over [0, √3] (even integrand).
            let mut e = 0.0;
            for j in 0..m {
                e += grid.w[j] * grid.x[j] * d1k(al, alpha[j]);
            }
            -e + d1k(al, 1.0)
        })
        .collect()
}

/// R_∞ from α at the a-nodes.
pub fn risk_from_alpha(alpha: &[f64], grid: &Rule) -> f64 {
    let m = grid.x.len();
    let mut quad = 0.0;
    let mut lin = 0.0;
    for i in 0..m {
        let mut r = 0.0;
        for j in 0..m {
            r += grid.w[j] * grid.x[j] * k(alpha[i], alpha[j]);
        }
        quad += grid.w[i] * grid.x[i] * r;
        lin += grid.w[i] * grid.x[i] * k(alpha[i], 1.0);
    }
    // E_{a,a'}: the integrand a a' k(α(a), α(a')) is even in a and in a' separately.
    quad - 2.0 * lin + 1.0 / 3.0
}

pub fn output_times(t_end: f64, dt_out: f64) -> Vec<f64> {
    let n = (t_end / dt_out + 1e-9).floor() as usize;
    let mut t: Vec<f64> = (0..=n).map(|i| i as f64 * dt_out).collect();
    if t_end - t[n] > 1e-9 * dt_out {
        t.push(t_end);
    }
    t
}

/// The a-nodes of `grid` followed by |a| of every tracked a (the state is odd or even in a),
/// and the sign of every tracked a.
fn tracked_nodes(grid: &Rule, track: &[f64], odd: bool) -> (Vec<f64>, Vec<f64>) {
    if !odd {
        // No a → −a symmetry: the state at every tracked a itself.
        let nodes = grid.x.iter().chain(track).copied().collect();
        return (nodes, vec![1.0; track.len()]);
    }
    let nodes = grid
        .x
        .iter()
        .copied()
        .chain(track.iter().map(|a| a.abs()))
        .collect();
    let sign = track
        .iter()
        .map(|a| if *a < 0.0 { -1.0 } else { 1.0 })
        .collect();
    (nodes, sign)
}

/// Time stepping of a limit: classical RK4 with a largest step (the flow), or explicit Euler
/// with a fixed step η (the discrete mean-field map of Euler GD, time t = steps·η).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stepping {
    Rk4 { h: f64 },
    Euler { eta: f64 },
}

/// The unit σ of the limit: the default erf(z/√2) (closed-form kernels k, d1k) or a general
/// unit (one-dimensional quadrature along w*, [`super::limit_unit`]).
#[derive(Clone, Copy, Debug)]
pub enum Unit<'a> {
    Erf,
    General(&'a LimitUnit),
}

impl Unit<'_> {
    /// Whether α is odd in a (σ odd), so that the a-rule covers [0, √3] only.
    pub fn odd(&self) -> bool {
        match self {
            Unit::Erf => true,
            Unit::General(u) => u.odd,
        }
    }
    /// The a-rule with `m` nodes per half ([`super::limit_unit::a_grid`]).
    pub fn grid(&self, m: usize) -> Rule {
        match self {
            Unit::Erf => a_rule(m),
            Unit::General(u) => super::limit_unit::a_grid(u.odd, m),
        }
    }
    /// V_s at every entry of `alpha` (a-nodes first) with the z-resolution `ppu`.
    fn velocity(&self, alpha: &[f64], grid: &Rule, ppu: usize) -> Vec<f64> {
        match self {
            Unit::Erf => velocity(alpha, grid),
            Unit::General(u) => u.velocity_and_risk(alpha, grid, ppu).0,
        }
    }
    /// R_∞ from α at the a-nodes.
    fn risk(&self, alpha: &[f64], grid: &Rule, ppu: usize) -> f64 {
        match self {
            Unit::Erf => risk_from_alpha(alpha, grid),
            Unit::General(u) => u.velocity_and_risk(alpha, grid, ppu).1,
        }
    }
}

/// Number of Euler steps of size `eta` in `span`, if `span` is a whole multiple of it
/// (relative slack 1e−9).
pub fn euler_steps(span: f64, eta: f64) -> Option<usize> {
    let k = (span / eta).round();
    (k >= 1.0 && (span - k * eta).abs() <= 1e-9 * span).then_some(k as usize)
}

/// Integrates over the output times with `stepping`; `f(y)` is the velocity, `record` sees the
/// state at every output time, `step` sees the state before every step (Euler only).
pub(super) fn integrate(
    y0: Vec<f64>,
    times: &[f64],
    stepping: Stepping,
    mut f: impl FnMut(&[f64]) -> Vec<f64>,
    mut record: impl FnMut(&[f64]),
) -> usize {
    let mut y = y0;
    let mut evals = 0;
    record(&y);
    for w in times.windows(2) {
        let span = w[1] - w[0];
        match stepping {
            Stepping::Rk4 { h } => {
                let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
                let dt = span / steps as f64;
                for _ in 0..steps {
                    let k1 = f(&y);
                    let y2: Vec<f64> = y.iter().zip(&k1).map(|(a, b)| a + 0.5 * dt * b).collect();
                    let k2 = f(&y2);
                    let y3: Vec<f64> = y.iter().zip(&k2).map(|(a, b)| a + 0.5 * dt * b).collect();
                    let k3 = f(&y3);
                    let y4: Vec<f64> = y.iter().zip(&k3).map(|(a, b)| a + dt * b).collect();
                    let k4 = f(&y4);
                    for i in 0..y.len() {
                        y[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                    }
                    evals += 4;
                }
            }
            Stepping::Euler { eta } => {
                let steps = euler_steps(span, eta).expect(
                    "output interval not a multiple of the Euler step (checked by callers)",
                );
                for _ in 0..steps {
                    let k1 = f(&y);
                    for i in 0..y.len() {
                        y[i] += eta * k1[i];
                    }
                    evals += 1;
                }
            }
        }
        record(&y);
    }
    evals
}

/// Method A: the reduced ODE ∂_t Γ = 2a V_s, α = A(Γ), with tracked a ∈ [−√3, √3].
pub fn method_a(p: &Params, t_end: f64, dt_out: f64, track: &[f64]) -> Trajectory {
    method_a_with(p, Unit::Erf, Stepping::Rk4 { h: p.h }, t_end, dt_out, track)
}

/// The discrete map of Euler GD with step η by method A: Γ_{k+1} = Γ_k + η·2a V_s(a, t_k).
/// Only for ψ = id, where the push-forward θ̄ = θ0 + sΓ is exact for the discrete map too
/// (for gd the relation F(θ̄) = F(θ0) + sΓ holds only in continuous time): `None` for gd.
/// `dt_out` and `t_end` must be whole multiples of η (checked by the caller).
pub fn discrete_a(
    p: &Params,
    eta: f64,
    t_end: f64,
    dt_out: f64,
    track: &[f64],
) -> Option<Trajectory> {
    (p.psi == Psi::Id)
        .then(|| method_a_with(p, Unit::Erf, Stepping::Euler { eta }, t_end, dt_out, track))
}

/// Method A for `unit` with `stepping` (RK4 flow, or Euler steps: exact for ψ = id only, the
/// caller's responsibility as in [`discrete_a`]).
pub fn method_a_with(
    p: &Params,
    unit: Unit,
    stepping: Stepping,
    t_end: f64,
    dt_out: f64,
    track: &[f64],
) -> Trajectory {
    let ppu = p.panels_per_unit;
    let grid = unit.grid(p.a_nodes);
    let pf = Table::new(p, p.cheb);
    let m = grid.x.len();
    // State: Γ at the a-nodes, then at |tracked a| (Γ is odd in a).
    let (nodes, sign) = tracked_nodes(&grid, track, unit.odd());
    let times = output_times(t_end, dt_out);
    let mut out = Trajectory {
        times: times.clone(),
        risk: Vec::new(),
        gamma: Vec::new(),
        alpha: Vec::new(),
        evaluations: 0,
        table_check: pf.check,
        vs_steps: Vec::new(),
    };
    let alpha_of = |g: &[f64]| -> Vec<f64> { g.par_iter().map(|&x| pf.value(x)).collect() };
    let mut rows = Vec::new();
    let euler = matches!(stepping, Stepping::Euler { .. });
    let vs_steps = &mut out.vs_steps;
    let evals = integrate(
        vec![0.0; nodes.len()],
        &times,
        stepping,
        |g| {
            let al = alpha_of(g);
            let v = unit.velocity(&al, &grid, ppu);
            if euler {
                vs_steps.push(v[m..].to_vec());
            }
            nodes.iter().zip(&v).map(|(a, vs)| 2.0 * a * vs).collect()
        },
        |g| rows.push(g.to_vec()),
    );
    for g in rows {
        let al = alpha_of(&g);
        out.risk.push(unit.risk(&al[..m], &grid, ppu));
        out.gamma
            .push((0..track.len()).map(|i| sign[i] * g[m + i]).collect());
        out.alpha
            .push((0..track.len()).map(|i| sign[i] * al[m + i]).collect());
    }
    out.evaluations = evals;
    out
}

/// Discretisation of method B.
#[derive(Clone, Copy, Debug)]
pub struct BParams {
    pub psi: Psi,
    /// Gauss–Legendre nodes in a ∈ [0, √3].
    pub a_nodes: usize,
    /// Panels per unit length of the θ0 rule on [0, THETA_MAX].
    pub theta_panels_per_unit: usize,
    /// Panels per unit length of the s rule on [−S_MAX, S_MAX].
    pub s_panels_per_unit: usize,
    /// Gauss–Legendre nodes per panel.
    pub order: usize,
    pub h: f64,
}

impl BParams {
    pub fn new(psi: Psi) -> BParams {
        BParams {
            psi,
            a_nodes: 16,
            theta_panels_per_unit: 1,
            s_panels_per_unit: 1,
            order: 10,
            h: 0.025,
        }
    }
    /// Number of particles (tracked nodes excluded).
    pub fn particles(&self) -> usize {
        let pt = (THETA_MAX * self.theta_panels_per_unit as f64).ceil() as usize;
        let ps = (2.0 * S_MAX * self.s_panels_per_unit as f64).ceil() as usize;
        self.a_nodes * pt * ps * self.order * self.order
    }
}

/// Method B: ideal particles (θ0, s, a) on a tensor grid, each integrated by its own ODE
/// dθ/dt = 2a ψ'(θ) s V_s(a, t). The pairs (θ0, s) and (−θ0, −s) carry opposite trajectories
/// (ψ' is even), so θ0 ∈ [0, THETA_MAX] with density 2φ. gd is evaluated through one exp:
/// ψ = atan(sinh θ), ψ' = 1/cosh θ.
pub fn method_b(p: &BParams, t_end: f64, dt_out: f64, track: &[f64]) -> Trajectory {
    method_b_with(p, Unit::Erf, Stepping::Rk4 { h: p.h }, t_end, dt_out, track)
}

/// The discrete map of Euler GD with step η by method B: every ideal particle takes the
/// Euler step θ_{k+1} = θ_k + η·2a ψ'(θ_k) s V_s(a, t_k), for ψ = gd and id alike. `dt_out`
/// and `t_end` must be whole multiples of η (checked by the caller). `vs_steps` holds V_s at
/// the tracked a before every step.
pub fn discrete_b(p: &BParams, eta: f64, t_end: f64, dt_out: f64, track: &[f64]) -> Trajectory {
    method_b_with(p, Unit::Erf, Stepping::Euler { eta }, t_end, dt_out, track)
}

/// Method B for `unit` with `stepping` (RK4 flow or the discrete map's Euler steps); the
/// z-rule of a general unit has resolution `theta_panels_per_unit`.
pub fn method_b_with(
    p: &BParams,
    unit: Unit,
    stepping: Stepping,
    t_end: f64,
    dt_out: f64,
    track: &[f64],
) -> Trajectory {
    let psi = p.psi;
    let ppu = p.theta_panels_per_unit;
    let grid = unit.grid(p.a_nodes);
    let m = grid.x.len();
    let (nodes, sign) = tracked_nodes(&grid, track, unit.odd());
    let pt = (THETA_MAX * p.theta_panels_per_unit as f64).ceil() as usize;
    let ps = (2.0 * S_MAX * p.s_panels_per_unit as f64).ceil() as usize;
    let th = composite(0.0, THETA_MAX, pt, p.order, |z| 2.0 * normal_pdf(z));
    let ss = composite(-S_MAX, S_MAX, ps, p.order, normal_pdf);
    let mut wts = Vec::new();
    let mut svals = Vec::new();
    let mut th0 = Vec::new();
    for (t, wt) in th.x.iter().zip(&th.w) {
        for (s, ws) in ss.x.iter().zip(&ss.w) {
            wts.push(wt * ws);
            svals.push(*s);
            th0.push(*t);
        }
    }
    let np = wts.len();
    let both = |t: f64| psi_both(psi, t);
    let alpha_of = |y: &[f64]| -> Vec<f64> {
        y.par_chunks(np)
            .map(|c| {
                c.iter()
                    .zip(&wts)
                    .zip(&svals)
                    .map(|((t, w), s)| w * s * both(*t).0)
                    .sum()
            })
            .collect()
    };
    let times = output_times(t_end, dt_out);
    // Exact capacities: the state and the velocity are the only arrays of the particles' size
    // (`train::euler_bytes` counts two).
    let mut y0 = Vec::with_capacity(nodes.len() * np);
    for _ in 0..nodes.len() {
        y0.extend_from_slice(&th0);
    }
    let mut rows = Vec::new();
    let euler = matches!(stepping, Stepping::Euler { .. });
    let mut vs_steps = Vec::new();
    let evals = integrate(
        y0,
        &times,
        stepping,
        |y| {
            // One pass per node: ψ and ψ' together; α from ψ, s ψ' into the velocity array,
            // which is then scaled per node by 2a V_s.
            let mut out = vec![0.0; y.len()];
            let al: Vec<f64> = y
                .par_chunks(np)
                .zip(out.par_chunks_mut(np))
                .map(|(c, d)| {
                    let mut al = 0.0;
                    for q in 0..np {
                        let (v, dv) = both(c[q]);
                        al += wts[q] * svals[q] * v;
                        d[q] = svals[q] * dv;
                    }
                    al
                })
                .collect();
            let v = unit.velocity(&al, &grid, ppu);
            if euler {
                vs_steps.push(v[m..].to_vec());
            }
            out.par_chunks_mut(np).enumerate().for_each(|(n, d)| {
                let c = 2.0 * nodes[n] * v[n];
                d.iter_mut().for_each(|x| *x *= c);
            });
            out
        },
        |y| rows.push(alpha_of(y)),
    );
    let mut out = Trajectory {
        times,
        risk: Vec::new(),
        gamma: Vec::new(),
        alpha: Vec::new(),
        evaluations: evals,
        table_check: 0.0,
        vs_steps,
    };
    for al in rows {
        out.risk.push(unit.risk(&al[..m], &grid, ppu));
        out.alpha
            .push((0..track.len()).map(|i| sign[i] * al[m + i]).collect());
    }
    out
}
