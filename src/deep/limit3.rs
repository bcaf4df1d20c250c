//! The infinite-width limit of the L = 3 deep model: two scalars.
//!
//! ## The limit (derivation in `proofs-notes/deep-meanfield.md` §7)
//! The H2 nodes carry no frozen feature, so in the limit all of them collapse onto one
//! deterministic node: v_j → α(t) w*, b_j → b(t). The H3 nodes keep their type a_k. Ideal
//! particles of the two trained layers, with s = ⟨u, w*⟩ ~ N(0, 1), θ0 ~ N(0, 1),
//! θ0' ~ N(1, 1), a ~ U[1 − √3, 1 + √3]:
//!
//! - layer 1 (edge i → j): dθ̄1/dt = 2b ψ'(θ̄1) s V_s, V_s = −b d1k(α, α) + d1k(α, 1);
//! - layer 2 (edge j → k): dθ̄2/dt = −2a ψ'(θ̄2) e,   e = b k(α, α) − k(α, 1);
//! - α = E[s ψ(θ̄1)], b = E[a ψ(θ̄2)], R_∞ = b² k(α, α) − 2b k(α, 1) + 1/3.
//!
//! **Method A** (push-forward, F' = 1/ψ'): F(θ̄1) = F(θ0) + sΓ1, F(θ̄2) = F(θ0') + aΩ with
//! dΓ1/dt = 2b V_s, dΩ/dt = −2e, Γ1(0) = Ω(0) = 0, so α = A(Γ1) (the push-forward of the L = 2
//! limit, [`limit::Table`]) and b = E_a[a c(aΩ)] with c(y) = E_{θ0'}[ψ(F⁻¹(F(θ0') + y))]
//! (id: c(y) = 1 + y; gd: c(y) = E atan(sinh θ0' + y)). The state is (Γ1, Ω). c is a composite
//! Gauss–Legendre rule in θ0' on [1 − 9, 1 + 9] with breakpoints graded towards
//! θ* = asinh(−y), where atan(sinh θ0' + y) turns over on the scale 1/√(1 + y²); the a-rule is
//! M-point Gauss–Legendre on [1 − √3, 1 + √3].
//!
//! **Method B** (ideal particles, no push-forward): layer-1 particles on the (θ0, s) grid of the
//! L = 2 method B (θ0 ∈ [0, 8] with density 2φ: (θ0, s) and (−θ0, −s) have opposite
//! trajectories), layer-2 particles on a (θ0', a) tensor grid (composite Gauss–Legendre in θ0',
//! M-point Gauss–Legendre in a); each particle integrated by its own ODE above.
//!
//! Time stepping: [`limit::Stepping`] (RK4 for the flow, Euler steps of size η for the
//! discrete map of Euler GD). For the discrete map the push-forward holds only for ψ = id
//! (an Euler step of θ is an Euler step of F(θ) only if F is affine), so method A with Euler
//! steps is offered for id only, as for L = 2.
//!
//! **General unit** ([`Unit::General`], `deep limit --layers 3 --unit`): k(α, α), k(α, 1),
//! d1k(α, α), d1k(α, 1) become the 1-D integrals of [`super::limit_unit`] ([`drive_and_risk`]);
//! nothing else changes (no a → −a symmetry is used here).
//!
//! ## Accuracy contract
//! Every reported error is an **estimate**: node refinement (A with twice the a-nodes, twice the
//! θ0/s/θ0' panels and more table nodes), step halving (A with h/2), and A − B. The limit does
//! not depend on d. Measured numbers in the proofs-note §7 and `tests/deep_l3.rs`.

use super::limit::{
    composite, d1k, graded_breaks, integrate, k, normal_pdf, output_times, psi_both, uniform_rule,
    BParams, Params, Rule, Stepping, Table, Unit, S_MAX, THETA_MAX,
};
use super::Psi;
use crate::meanfield::flow::gauss_legendre;
use rayon::prelude::*;

/// Half-range of the θ0' rule (θ0' ~ N(1, 1)): [1 − 9, 1 + 9].
const THETA2_HALF: f64 = 9.0;

/// The law of the frozen output weights of L = 3: M-point Gauss–Legendre on [1 − √3, 1 + √3].
pub fn a3_rule(m: usize) -> Rule {
    let r3 = 3f64.sqrt();
    uniform_rule(1.0 - r3, 1.0 + r3, m)
}

/// The drive of the two layers at (α, b): (dΓ1/dt, dΩ/dt) = (2b V_s, −2e).
pub fn drive(al: f64, b: f64) -> [f64; 2] {
    let vs = -b * d1k(al, al) + d1k(al, 1.0);
    let e = b * k(al, al) - k(al, 1.0);
    [2.0 * b * vs, -2.0 * e]
}

/// R_∞ = b² k(α, α) − 2b k(α, 1) + 1/3.
pub fn risk(al: f64, b: f64) -> f64 {
    b * b * k(al, al) - 2.0 * b * k(al, 1.0) + 1.0 / 3.0
}

/// The drive and R_∞ at (α, b) for `unit` (erf: [`drive`], [`risk`]; a general unit: the
/// z-rule of resolution `ppu`, [`super::limit_unit::LimitUnit::drive3`]).
pub fn drive_and_risk(unit: Unit, al: f64, b: f64, ppu: usize) -> ([f64; 2], f64) {
    match unit {
        Unit::Erf => (drive(al, b), risk(al, b)),
        Unit::General(u) => u.drive3(al, b, ppu),
    }
}

/// The second layer's push-forward y ↦ c(y) = E_{θ0' ~ N(1, 1)}[ψ(F⁻¹(F(θ0') + y))].
pub struct Layer2 {
    psi: Psi,
    unit: f64,
    gx: Vec<f64>,
    gw: Vec<f64>,
}

impl Layer2 {
    pub fn new(p: &Params) -> Layer2 {
        let (gx, gw) = gauss_legendre(p.order);
        Layer2 {
            psi: p.psi,
            unit: 1.0 / p.panels_per_unit as f64,
            gx,
            gw,
        }
    }

    /// c(y): 1 + y (id); E atan(sinh θ0' + y) by the graded composite rule (gd).
    pub fn value(&self, y: f64) -> f64 {
        match self.psi {
            Psi::Id => 1.0 + y,
            Psi::Gd => {
                let width = 1.0 / (1.0 + y * y).sqrt();
                let br = graded_breaks(
                    1.0 - THETA2_HALF,
                    1.0 + THETA2_HALF,
                    self.unit,
                    libm::asinh(-y),
                    width,
                );
                let mut sum = 0.0;
                for pair in br.windows(2) {
                    let (m, r) = (0.5 * (pair[0] + pair[1]), 0.5 * (pair[1] - pair[0]));
                    let mut ps = 0.0;
                    for (t, v) in self.gx.iter().zip(&self.gw) {
                        let th = m + r * t;
                        ps += v * normal_pdf(th - 1.0) * (libm::sinh(th) + y).atan();
                    }
                    sum += r * ps;
                }
                sum
            }
        }
    }
}

/// One L = 3 limit trajectory.
#[derive(Clone, Debug)]
pub struct Trajectory3 {
    pub times: Vec<f64>,
    pub risk: Vec<f64>,
    /// Γ1(t) and Ω(t) (method A; empty for method B).
    pub gamma1: Vec<f64>,
    pub omega: Vec<f64>,
    /// α(t) = ⟨v̄, w*⟩ and b(t), the common H2 node.
    pub alpha: Vec<f64>,
    pub b: Vec<f64>,
    /// Right-hand-side evaluations.
    pub evaluations: usize,
    /// Method A: the A(Γ) table's interpolation check; 0 for method B.
    pub table_check: f64,
    /// Euler stepping only: the drive (dΓ1/dt, dΩ/dt) = (2b V_s, −2e) before every step, what
    /// the ideal particles of a finite network need. Empty for RK4.
    pub drive_steps: Vec<[f64; 2]>,
}

impl Trajectory3 {
    fn empty(
        times: Vec<f64>,
        evaluations: usize,
        table_check: f64,
        drive_steps: Vec<[f64; 2]>,
    ) -> Trajectory3 {
        Trajectory3 {
            times,
            risk: Vec::new(),
            gamma1: Vec::new(),
            omega: Vec::new(),
            alpha: Vec::new(),
            b: Vec::new(),
            evaluations,
            table_check,
            drive_steps,
        }
    }
}

/// Method A: the reduced ODE in (Γ1, Ω) with RK4 (largest step `p.h`).
pub fn method_a(p: &Params, t_end: f64, dt_out: f64) -> Trajectory3 {
    method_a_with(p, Unit::Erf, Stepping::Rk4 { h: p.h }, t_end, dt_out)
}

/// The discrete map of Euler GD with step η by method A: exact for ψ = id only (`None` for
/// gd). `t_end` and `dt_out` must be whole multiples of η (checked by the caller).
pub fn discrete_a(p: &Params, eta: f64, t_end: f64, dt_out: f64) -> Option<Trajectory3> {
    (p.psi == Psi::Id).then(|| method_a_with(p, Unit::Erf, Stepping::Euler { eta }, t_end, dt_out))
}

/// Method A for `unit` with `stepping` (Euler: exact for ψ = id only, as [`discrete_a`]).
pub fn method_a_with(
    p: &Params,
    unit: Unit,
    stepping: Stepping,
    t_end: f64,
    dt_out: f64,
) -> Trajectory3 {
    let ppu = p.panels_per_unit;
    let tab = Table::new(p, p.cheb);
    let l2 = Layer2::new(p);
    let grid = a3_rule(p.a_nodes);
    let reduced = |y: &[f64]| -> (f64, f64) {
        let b: f64 = grid
            .x
            .par_iter()
            .zip(&grid.w)
            .map(|(a, w)| w * a * l2.value(a * y[1]))
            .collect::<Vec<f64>>()
            .iter()
            .sum();
        (tab.value(y[0]), b)
    };
    let times = output_times(t_end, dt_out);
    let euler = matches!(stepping, Stepping::Euler { .. });
    let mut drive_steps = Vec::new();
    let mut rows = Vec::new();
    let evaluations = integrate(
        vec![0.0; 2],
        &times,
        stepping,
        |y| {
            let (al, b) = reduced(y);
            let d = drive_and_risk(unit, al, b, ppu).0;
            if euler {
                drive_steps.push(d);
            }
            d.to_vec()
        },
        |y| rows.push([y[0], y[1]]),
    );
    let mut out = Trajectory3::empty(times, evaluations, tab.check, drive_steps);
    for y in rows {
        let (al, b) = reduced(&y);
        out.risk.push(drive_and_risk(unit, al, b, ppu).1);
        out.gamma1.push(y[0]);
        out.omega.push(y[1]);
        out.alpha.push(al);
        out.b.push(b);
    }
    out
}

/// Particles of method B: (weight, factor, θ(0)) per particle of each layer; the factor is s
/// (layer 1) or a (layer 2).
struct Grid {
    w: Vec<f64>,
    f: Vec<f64>,
    t0: Vec<f64>,
}

fn tensor(outer: &Rule, inner: &Rule, outer_is_theta: bool) -> Grid {
    let mut g = Grid {
        w: Vec::new(),
        f: Vec::new(),
        t0: Vec::new(),
    };
    for (x, wx) in outer.x.iter().zip(&outer.w) {
        for (y, wy) in inner.x.iter().zip(&inner.w) {
            g.w.push(wx * wy);
            let (t, f) = if outer_is_theta { (*x, *y) } else { (*y, *x) };
            g.t0.push(t);
            g.f.push(f);
        }
    }
    g
}

/// The two particle grids of method B.
fn grids(p: &BParams) -> (Grid, Grid) {
    let pt = (THETA_MAX * p.theta_panels_per_unit as f64).ceil() as usize;
    let ps = (2.0 * S_MAX * p.s_panels_per_unit as f64).ceil() as usize;
    let th = composite(0.0, THETA_MAX, pt, p.order, |z| 2.0 * normal_pdf(z));
    let ss = composite(-S_MAX, S_MAX, ps, p.order, normal_pdf);
    let p2 = (2.0 * THETA2_HALF * p.theta_panels_per_unit as f64).ceil() as usize;
    let th2 = composite(1.0 - THETA2_HALF, 1.0 + THETA2_HALF, p2, p.order, |z| {
        normal_pdf(z - 1.0)
    });
    (
        tensor(&th, &ss, true),
        tensor(&a3_rule(p.a_nodes), &th2, false),
    )
}

/// Number of particles of method B (both layers).
pub fn particles(p: &BParams) -> usize {
    let (g1, g2) = grids(p);
    g1.w.len() + g2.w.len()
}

/// Method B: ideal particles of both layers on grids, RK4 (largest step `p.h`).
pub fn method_b(p: &BParams, t_end: f64, dt_out: f64) -> Trajectory3 {
    method_b_with(p, Unit::Erf, Stepping::Rk4 { h: p.h }, t_end, dt_out)
}

/// The discrete map of Euler GD with step η by method B (gd and id): every particle takes the
/// Euler step of its own ODE. `drive_steps` records (2b V_s, −2e) before every step.
pub fn discrete_b(p: &BParams, eta: f64, t_end: f64, dt_out: f64) -> Trajectory3 {
    method_b_with(p, Unit::Erf, Stepping::Euler { eta }, t_end, dt_out)
}

/// Chunk length of the parallel sums (fixed, so that the sums' order does not depend on the
/// number of threads).
const CHUNK: usize = 4096;

/// Σ_q w_q f_q ψ(θ_q) and the factors f_q ψ'(θ_q), in fixed chunks.
fn moment(psi: Psi, g: &Grid, th: &[f64]) -> (f64, Vec<f64>) {
    let parts: Vec<(f64, Vec<f64>)> = th
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, ch)| {
            let off = c * CHUNK;
            let mut m = 0.0;
            let mut d = Vec::with_capacity(ch.len());
            for (q, &t) in ch.iter().enumerate() {
                let (v, dv) = psi_both(psi, t);
                m += g.w[off + q] * g.f[off + q] * v;
                d.push(g.f[off + q] * dv);
            }
            (m, d)
        })
        .collect();
    let m = parts.iter().map(|x| x.0).sum();
    (m, parts.into_iter().flat_map(|x| x.1).collect())
}

/// Method B for `unit` with `stepping`; the z-rule of a general unit has resolution
/// `theta_panels_per_unit`.
pub fn method_b_with(
    p: &BParams,
    unit: Unit,
    stepping: Stepping,
    t_end: f64,
    dt_out: f64,
) -> Trajectory3 {
    let ppu = p.theta_panels_per_unit;
    let psi = p.psi;
    let (g1, g2) = grids(p);
    let n1 = g1.w.len();
    let times = output_times(t_end, dt_out);
    let y0: Vec<f64> = g1.t0.iter().chain(&g2.t0).copied().collect();
    let euler = matches!(stepping, Stepping::Euler { .. });
    let mut drive_steps = Vec::new();
    let mut rows = Vec::new();
    let evaluations = integrate(
        y0,
        &times,
        stepping,
        |y| {
            let (al, d1) = moment(psi, &g1, &y[..n1]);
            let (b, d2) = moment(psi, &g2, &y[n1..]);
            let dr = drive_and_risk(unit, al, b, ppu).0;
            if euler {
                drive_steps.push(dr);
            }
            d1.iter()
                .map(|x| dr[0] * x)
                .chain(d2.iter().map(|x| dr[1] * x))
                .collect()
        },
        |y| rows.push((moment(psi, &g1, &y[..n1]).0, moment(psi, &g2, &y[n1..]).0)),
    );
    let mut out = Trajectory3::empty(times, evaluations, 0.0, drive_steps);
    for (al, b) in rows {
        out.risk.push(drive_and_risk(unit, al, b, ppu).1);
        out.alpha.push(al);
        out.b.push(b);
    }
    out
}

/// The refined method-B discretisation (twice the a-nodes and every panel count).
pub fn refined_b(p: &BParams) -> BParams {
    BParams {
        a_nodes: 2 * p.a_nodes,
        theta_panels_per_unit: 2 * p.theta_panels_per_unit,
        s_panels_per_unit: 2 * p.s_panels_per_unit,
        ..*p
    }
}
