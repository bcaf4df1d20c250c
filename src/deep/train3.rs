//! Finite-width N²-scaled population gradient flow of the L = 3 model, every edge of both
//! trained layers coupled to its ideal particle.
//!
//! The seeded network ([`super::init`] with L = 3, key [`train::draw_seed`]) follows
//! dθ/dt = −N² ∂R/∂θ exactly (closed-form velocities, both layers, by the fused SIMD passes of
//! [`fused`]; the scalar [`super::finite`] is their reference) with
//! classical RK4 (step `h`) or Euler GD (step η). Its ideal particles use the same θ1_ij(0),
//! θ2_jk(0), u_i, a_k:
//! - flow (RK4): the push-forward of the L = 3 limit ([`limit3::method_a`]),
//!   θ̄1_ij(t) = F⁻¹(F(θ1_ij(0)) + s_i Γ1(t)), θ̄2_jk(t) = F⁻¹(F(θ2_jk(0)) + a_k Ω(t)),
//!   s_i = u_i1 (F = sinh for gd, id for id); θ(0) is regenerated row by row from the seed;
//! - Euler GD: every ideal particle takes the discrete map's Euler steps
//!   θ̄1 ← θ̄1 + η ψ'(θ̄1) s_i G1_k, θ̄2 ← θ̄2 + η ψ'(θ̄2) a_k G2_k with the drive
//!   (G1, G2)_k = (2b V_s, −2e) recorded by [`limit3::discrete_b`] before step k.
//!
//! Per output time ([`Row3`]): R_N, R_∞, the loss gap, the edge gap of each layer
//! (mean (θ − θ̄)²), the node gap mean_j |v_j − α w*|² and the readout gap mean_j (b_j − b)².
//! In the limit all H2 nodes collapse onto (α w*, b); v_j averages N edges with independent
//! θ1_ij(0), u_i and b_j averages N edges with independent θ2_jk(0), a_k, so node, readout and
//! edge gaps are expected ∝ d/N, 1/N and d/N (proofs-note §7).
//!
//! Memory: RK4 holds three copies of the 2N² trained scalars (state, stage, accumulator: the
//! velocities never form an array, [`fused::rk4_step`]), Euler two (state and ideal
//! particles); θ(0) is never stored (regenerated row by row from the seed for the edge gaps).
//! [`train_bytes`] and [`euler_bytes`] say so before the run. Elementwise updates and
//! fixed-order row sums:
//! bit-identical rows for any number of threads.
//!
//! ## Accuracy contract
//! R_N and the gaps are f64 evaluations at the f64 state: the closed forms through the fused
//! passes, within the bound of proofs-note §9 of the scalar reference (`tests/deep_fused.rs`).
//! The state carries RK4's truncation error at step h (or, for Euler, none: the discrete map is
//! the object); R_∞ and the ideal particles carry the limit's estimated errors (`deep limit`'s
//! node refinement, step halving, A − B; proofs-note §7). No printed number here is an
//! enclosure; the convergence of the gaps in N is checked statistically in `tests/deep_l3.rs`.

use super::limit::{BParams, Params};
use super::limit3::{self, Trajectory3};
use super::train::{draw_seed, Case};
use super::{fused, Net, Psi};
use rayon::prelude::*;

/// One output row of an L = 3 run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row3 {
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
    /// mean_ij (θ1_ij − θ̄1_ij)².
    #[serde(serialize_with = "crate::output::finite")]
    pub edge_gap1: f64,
    /// mean_jk (θ2_jk − θ̄2_jk)².
    #[serde(serialize_with = "crate::output::finite")]
    pub edge_gap2: f64,
    /// mean_j |v_j − α w*|².
    #[serde(serialize_with = "crate::output::finite")]
    pub node_gap: f64,
    /// mean_j (b_j − b)².
    #[serde(serialize_with = "crate::output::finite")]
    pub readout_gap: f64,
}

impl Row3 {
    pub fn values(&self) -> [f64; 8] {
        [
            self.t,
            self.risk,
            self.risk_limit,
            self.loss_gap,
            self.edge_gap1,
            self.edge_gap2,
            self.node_gap,
            self.readout_gap,
        ]
    }
}

/// Bytes of one width-N RK4 run: three 2N² arrays (state, stage, accumulator), the fast
/// path's per-node arrays and row buffers ([`fused::scratch_bytes`] without its stages), plus
/// [`BASE_BYTES`].
pub fn train_bytes(n: usize, d: usize) -> f64 {
    let nf = n as f64;
    8.0 * 2.0 * nf * nf
        + fused::scratch_bytes(3, n, d, true, rayon::current_num_threads())
        + BASE_BYTES
}

/// The process itself (code, allocator, thread stacks, the limit's tables): 8.1 MiB peak
/// resident measured for `deep train --d 2 --widths 8 --t-end 0.1 --dt-out 0.1` (L = 2 and 3,
/// RK4; 4.6 MiB for `--version`); 12 MB allowed.
pub const BASE_BYTES: f64 = 12e6;

/// Bytes of one width-N Euler run: two 2N² arrays (state, ideal particles; no velocity array),
/// the fast path's per-node arrays, and the discrete limit's method B (its particles, the
/// RK4-free Euler velocity and the drive history).
pub fn euler_bytes(n: usize, d: usize, steps: usize, pb: &BParams) -> f64 {
    let nf = n as f64;
    let b_state = limit3::particles(pb) as f64;
    8.0 * (2.0 * 2.0 * nf * nf + 3.0 * b_state + 2.0 * steps as f64)
        + fused::scratch_bytes(3, n, d, false, rayon::current_num_threads())
        + BASE_BYTES
}

/// Advances an L = 3 network by `span` with RK4 steps of at most `h` (equal steps), with the
/// fused velocities of [`fused::rk4_step`].
pub fn advance(net: &mut Net, span: f64, h: f64) {
    let frozen = fused::Frozen::new(net);
    let mut scratch = fused::Rk4Scratch::new(net);
    advance_with(&frozen, net, &mut scratch, span, h);
}

fn advance_with(f: &fused::Frozen, net: &mut Net, s: &mut fused::Rk4Scratch, span: f64, h: f64) {
    let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
    let dt = span / steps as f64;
    for _ in 0..steps {
        fused::rk4_step(f, net, s, dt);
    }
}

/// The seeded L = 3 network of a case and its key.
fn start(c: &Case) -> (u64, Net) {
    let key = draw_seed(c.seed, c.draw);
    (key, super::init(3, c.n, c.d, c.psi, key))
}

/// F⁻¹(F(θ0) + y): the push-forward of one edge (F = sinh for gd, id for id).
fn push(psi: Psi, t0: f64, y: f64) -> f64 {
    match psi {
        Psi::Gd => libm::asinh(libm::sinh(t0) + y),
        Psi::Id => t0 + y,
    }
}

/// Runs one width and draw with RK4 (largest step `h`) against the flow's limit `lim`
/// ([`limit3::method_a`] at the case's output times).
pub fn run(c: &Case, h: f64, lim: &Trajectory3) -> Vec<Row3> {
    let (d, psi) = (c.d, c.psi);
    let (key, mut net) = start(c);
    let frozen = fused::Frozen::new(&net);
    let mut scratch = fused::Rk4Scratch::new(&net);
    let mut rows = Vec::with_capacity(lim.times.len());
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            advance_with(&frozen, &mut net, &mut scratch, t - lim.times[ti - 1], h);
        }
        let (g1, om) = (lim.gamma1[ti], lim.omega[ti]);
        rows.push(row(
            &frozen,
            &net,
            key,
            (t, c.draw),
            lim,
            ti,
            |_, i, t0| push(psi, t0, net.u[i * d] * g1),
            |_, k, t0| push(psi, t0, net.a[k] * om),
        ));
    }
    rows
}

/// One output row: risk and gaps of `net` against the limit at output index `ti`; the ideal
/// particles of edge (i → j) and (j → k) from `ideal1(j, i, θ1_ij(0))` and
/// `ideal2(j, k, θ2_jk(0))` (θ(0) regenerated row by row from `key`).
fn row(
    frozen: &fused::Frozen,
    net: &Net,
    key: u64,
    (t, draw): (f64, usize),
    lim: &Trajectory3,
    ti: usize,
    ideal1: impl Fn(usize, usize, f64) -> f64 + Sync,
    ideal2: impl Fn(usize, usize, f64) -> f64 + Sync,
) -> Row3 {
    let (n, d) = (net.n, net.d);
    let (risk, v, c) = fused::risk(frozen, net);
    let sums: Vec<[f64; 2]> = (0..n)
        .into_par_iter()
        .map(|j| {
            let r1 = super::theta1_row(key, n, j);
            let r2 = super::theta2_row(key, n, j);
            let mut s = [0.0; 2];
            for i in 0..n {
                s[0] += (net.theta1[j * n + i] - ideal1(j, i, r1[i])).powi(2);
                s[1] += (net.theta2[j * n + i] - ideal2(j, i, r2[i])).powi(2);
            }
            s
        })
        .collect();
    let (mut e1, mut e2) = (0.0, 0.0);
    for s in &sums {
        e1 += s[0];
        e2 += s[1];
    }
    let (al, b) = (lim.alpha[ti], lim.b[ti]);
    let mut node = 0.0;
    let mut readout = 0.0;
    for j in 0..n {
        for m in 0..d {
            let target = if m == 0 { al } else { 0.0 };
            node += (v[j * d + m] - target).powi(2);
        }
        readout += (c[j] - b).powi(2);
    }
    let nn = (n * n) as f64;
    Row3 {
        t,
        n,
        draw,
        risk,
        risk_limit: lim.risk[ti],
        loss_gap: risk - lim.risk[ti],
        edge_gap1: e1 / nn,
        edge_gap2: e2 / nn,
        node_gap: node / n as f64,
        readout_gap: readout / n as f64,
    }
}

/// Runs one width and draw of Euler GD with step η against the discrete map `lim`
/// ([`limit3::discrete_b`] with the same η and output times, whose `drive_steps` move the
/// ideal particles). `t_end` and `dt_out` must be whole multiples of η (checked by the caller).
pub fn run_euler(c: &Case, eta: f64, lim: &Trajectory3) -> Vec<Row3> {
    let (n, d, psi) = (c.n, c.d, c.psi);
    let (key, mut net) = start(c);
    let frozen = fused::Frozen::new(&net);
    // The ideal particles start at θ(0): copies of the untrained state.
    let mut ideal = [net.theta1.clone(), net.theta2.clone()];
    let mut rows = Vec::with_capacity(lim.times.len());
    let mut step = 0;
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            let steps = super::limit::euler_steps(t - lim.times[ti - 1], eta)
                .expect("output interval not a multiple of η (checked by the caller)");
            for _ in 0..steps {
                fused::euler_step(&frozen, &mut net, eta);
                let g = lim.drive_steps[step];
                // Row j of layer 1 holds the edges i → j (factor s_i); row j of layer 2 the
                // edges j → k (factor a_k).
                let (u, a) = (&net.u, &net.a);
                ideal[0].par_chunks_mut(n).for_each(|r| {
                    for (i, th) in r.iter_mut().enumerate() {
                        *th += eta * psi.deriv(*th) * u[i * d] * g[0];
                    }
                });
                ideal[1].par_chunks_mut(n).for_each(|r| {
                    for (k, th) in r.iter_mut().enumerate() {
                        *th += eta * psi.deriv(*th) * a[k] * g[1];
                    }
                });
                step += 1;
            }
        }
        rows.push(row(
            &frozen,
            &net,
            key,
            (t, c.draw),
            lim,
            ti,
            |j, i, _| ideal[0][j * n + i],
            |j, k, _| ideal[1][j * n + k],
        ));
    }
    rows
}

/// The flow's limit for `deep train --layers 3` (one run serves every width and draw: the
/// L = 3 limit has no node types).
pub fn flow_limit(p: &Params, t_end: f64, dt_out: f64) -> Trajectory3 {
    limit3::method_a(p, t_end, dt_out)
}
