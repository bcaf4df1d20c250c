//! Finite-width N²-scaled population gradient flow of the L = 2 model, every edge coupled to
//! its ideal particle.
//!
//! The network (seeded, [`super::init`]) follows dθ/dt = −N² ∂R/∂θ exactly (closed-form
//! velocities of [`super::finite`]) with classical RK4 (step `h`). Its ideal particles come from
//! the limit's method A ([`super::limit::method_a`]) with every output weight a_j as a tracked
//! node: θ̄_ij(t) = F⁻¹(F(θ_ij(0)) + s_i Γ(a_j, t)), s_i = ⟨u_i, w*⟩ = u_i1 (F = sinh for gd,
//! id for id), the same θ_ij(0), u_i, a_j as the network. θ(0) is regenerated row by row from
//! the seed instead of being stored.
//!
//! Per output time: R_N, R_∞, the loss gap R_N − R_∞, the edge gap mean_ij (θ_ij − θ̄_ij)²,
//! and the node gap mean_j |v_j − α(a_j) w*|². Expected rates (proofs-note §5): edge and node
//! gaps ∝ d/N.
//!
//! Accuracy: RK4 time error of the finite flow (estimate it by rerunning with `h/2`); the
//! limit's estimates are those of `deep limit`. Rows are bit-identical for any thread count.
//!
//! Euler GD ([`run_euler`], `deep train --eta`): the same network takes Euler steps of size η,
//! and its ideal particles take the discrete map's Euler steps (`proofs-notes/deep-meanfield.md`
//! §5c), with V_s recorded by [`limit::discrete_b`].

// Index loops mirror the formulas (i, j over nodes, m over coordinates).
#![allow(clippy::needless_range_loop)]

use super::{finite, limit, Net, Psi};

/// One output row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    #[serde(serialize_with = "crate::output::finite")]
    pub t: f64,
    pub n: usize,
    pub draw: usize,
    #[serde(serialize_with = "crate::output::finite")]
    pub risk: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub risk_limit: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub loss_gap: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub edge_gap: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub node_gap: f64,
}

/// The key of draw `r` of seed `seed`.
pub fn draw_seed(seed: u64, r: usize) -> u64 {
    seed.wrapping_add((r as u64).wrapping_mul(1_000_003))
}

/// Bytes used by one width-N run (θ, four RK4 stages, a stage state, θ(0) rows on demand).
pub fn train_bytes(n: usize, d: usize, n_times: usize) -> f64 {
    let n = n as f64;
    // Up to 9 N² arrays live during an RK4 step (state, k1..k3, the scaled temporary, the
    // network copy and the row buffer of the velocity, the output), the features, and the
    // limit's Γ, α and rows at every output time for all N output weights.
    8.0 * (9.0 * n * n + 4.0 * n * d as f64 + 3.0 * n * n_times as f64) + 1e6
}

fn add_scaled(y: &[f64], k: &[f64], c: f64) -> Vec<f64> {
    y.iter().zip(k).map(|(a, b)| a + c * b).collect()
}

/// One width and draw of a run: width N, input dimension d, edge map, seed and draw (the
/// network's key is [`draw_seed`]), end time and output interval.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub n: usize,
    pub d: usize,
    pub psi: Psi,
    pub seed: u64,
    pub draw: usize,
    pub t_end: f64,
    pub dt_out: f64,
}

impl Case {
    /// The network's key and the seeded network.
    fn start(&self) -> (u64, Net) {
        let key = draw_seed(self.seed, self.draw);
        (key, super::init(2, self.n, self.d, self.psi, key))
    }
}

/// Runs one width and draw with RK4 (largest step `h`); rows at the output times of `limit`
/// (k·dt_out and t_end).
pub fn run(c: &Case, h: f64, lp: &limit::Params) -> Vec<Row> {
    let (d, psi, draw) = (c.d, c.psi, c.draw);
    let (key, mut net) = c.start();
    let lim = limit::method_a(lp, c.t_end, c.dt_out, &net.a);
    let times = lim.times.clone();
    let mut rows = Vec::with_capacity(times.len());
    let vel = |net: &Net, th: &[f64]| -> Vec<f64> {
        let mut m = net.clone();
        m.theta1 = th.to_vec();
        finite::evaluate(&m).vel1
    };
    for (ti, &t) in times.iter().enumerate() {
        if ti > 0 {
            let span = t - times[ti - 1];
            let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
            let dt = span / steps as f64;
            for _ in 0..steps {
                let y = net.theta1.clone();
                let k1 = vel(&net, &y);
                let k2 = vel(&net, &add_scaled(&y, &k1, 0.5 * dt));
                let k3 = vel(&net, &add_scaled(&y, &k2, 0.5 * dt));
                let k4 = vel(&net, &add_scaled(&y, &k3, dt));
                for i in 0..y.len() {
                    net.theta1[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                }
            }
        }
        rows.push(row(&net, key, t, draw, &lim, ti, |j, i, t0| {
            let s = net.u[i * d];
            let gam = lim.gamma[ti][j];
            match psi {
                Psi::Gd => libm::asinh(libm::sinh(t0) + s * gam),
                Psi::Id => t0 + s * gam,
            }
        }));
    }
    rows
}

/// One output row: the network's risk and gaps against the limit `lim` at its output time `ti`
/// (risk, and α at every output weight: `lim.alpha[ti][j]` = α(a_j)), and the ideal particle
/// `ideal(j, i, θ_ij(0))` of every edge (θ(0) regenerated row by row from `key`).
fn row(
    net: &Net,
    key: u64,
    t: f64,
    draw: usize,
    lim: &limit::Trajectory,
    ti: usize,
    ideal: impl Fn(usize, usize, f64) -> f64,
) -> Row {
    let (risk_limit, alpha) = (lim.risk[ti], &lim.alpha[ti]);
    let (n, d) = (net.n, net.d);
    let ev = finite::evaluate(net);
    let mut edge = 0.0;
    for j in 0..n {
        let th0 = super::theta1_row(key, n, j);
        for (i, &t0) in th0.iter().enumerate() {
            edge += (net.theta1[j * n + i] - ideal(j, i, t0)).powi(2);
        }
    }
    let mut node = 0.0;
    for j in 0..n {
        for m in 0..d {
            let target = if m == 0 { alpha[j] } else { 0.0 };
            node += (ev.v[j * d + m] - target).powi(2);
        }
    }
    Row {
        t,
        n,
        draw,
        risk: ev.risk,
        risk_limit,
        loss_gap: ev.risk - risk_limit,
        edge_gap: edge / (n * n) as f64,
        node_gap: node / n as f64,
    }
}

/// Bytes of one width-N Euler run: θ, the velocity, the ideal particles (N² each), the
/// features, and the discrete limit's method B with every output weight tracked (its
/// particles, one velocity array and the V_s history).
pub fn euler_bytes(n: usize, d: usize, steps: usize, pb: &limit::BParams) -> f64 {
    let nf = n as f64;
    let per_node = pb.particles() as f64 / pb.a_nodes as f64;
    let b_state = (pb.a_nodes + n) as f64 * per_node;
    8.0 * (4.0 * nf * nf + 4.0 * nf * d as f64 + 3.0 * b_state + nf * steps as f64) + 1e6
}

/// Runs one width and draw of Euler GD with step η (θ ← θ + η·(−N² ∂R/∂θ), t = steps·η),
/// against the discrete mean-field map ([`limit::discrete_b`]) with every output weight a_j
/// tracked: the ideal particle of edge (i, j) takes the same Euler steps,
/// θ̄ ← θ̄ + η·2a_j ψ'(θ̄) s_i V_s(a_j, t_k), s_i = u_i1. `t_end` and `dt_out` must be whole
/// multiples of η (checked by the caller).
pub fn run_euler(c: &Case, eta: f64, pb: &limit::BParams) -> Vec<Row> {
    let (n, d, psi, draw) = (c.n, c.d, c.psi, c.draw);
    let (key, mut net) = c.start();
    let lim = limit::discrete_b(pb, eta, c.t_end, c.dt_out, &net.a);
    // Ideal particles, row-major like θ1, from the same θ(0).
    let mut ideal: Vec<f64> = (0..n).flat_map(|j| super::theta1_row(key, n, j)).collect();
    let mut rows = Vec::with_capacity(lim.times.len());
    let mut k = 0;
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            let steps = limit::euler_steps(t - lim.times[ti - 1], eta)
                .expect("output interval not a multiple of η (checked by the caller)");
            for _ in 0..steps {
                let v = finite::evaluate(&net).vel1;
                for (x, dv) in net.theta1.iter_mut().zip(&v) {
                    *x += eta * dv;
                }
                let vs = &lim.vs_steps[k];
                for j in 0..n {
                    let c = eta * 2.0 * net.a[j] * vs[j];
                    for i in 0..n {
                        let th = &mut ideal[j * n + i];
                        *th += c * psi.deriv(*th) * net.u[i * d];
                    }
                }
                k += 1;
            }
        }
        rows.push(row(&net, key, t, draw, &lim, ti, |j, i, _| {
            ideal[j * n + i]
        }));
    }
    rows
}
