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
use super::train::{draw_seed, Case, CorrRow};
use super::{finite, fused, Net, Psi};
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
    /// E_x (f_N − f_∞)² in closed form ([`function_gap`]); filled by [`run_with`] and
    /// [`run_euler_with`] only (absent from the rows of [`run`] and [`run_euler`], whose output
    /// is kept as it was).
    /// (Finiteness is checked by the caller before printing.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_gap: Option<f64>,
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
    train_bytes_with(n, d, false)
}

/// [`train_bytes`], plus with `corr` the four N² arrays of the edge-increment correlations
/// ([`run_with`]).
pub fn train_bytes_with(n: usize, d: usize, corr: bool) -> f64 {
    let nf = n as f64;
    let corr = if corr { 4.0 * nf * nf } else { 0.0 };
    8.0 * (2.0 * nf * nf + corr)
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
/// ([`limit3::method_a`] at the case's output times). Rows without the function gap: the
/// output of `deep train --layers 3` without the rate options; [`run_with`] adds it.
pub fn run(c: &Case, h: f64, lim: &Trajectory3) -> Vec<Row3> {
    run_flow(c, h, lim, false, &Extras3::default()).rows
}

/// [`run`] with the function gap in every row and the edge-increment correlations of
/// [`correlations`] at the output times `x.corr_times`.
pub fn run_with(c: &Case, h: f64, lim: &Trajectory3, x: &Extras3) -> Output3 {
    run_flow(c, h, lim, true, x)
}

fn run_flow(c: &Case, h: f64, lim: &Trajectory3, fgap: bool, x: &Extras3) -> Output3 {
    let (d, psi) = (c.d, c.psi);
    let (key, mut net) = start(c);
    let frozen = fused::Frozen::new(&net);
    let mut scratch = fused::Rk4Scratch::new(&net);
    let mut rows = Vec::with_capacity(lim.times.len());
    let mut corr = Vec::new();
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            advance_with(&frozen, &mut net, &mut scratch, t - lim.times[ti - 1], h);
        }
        let (g1, om) = (lim.gamma1[ti], lim.omega[ti]);
        let ideal1 = |_: usize, i: usize, t0: f64| push(psi, t0, net.u[i * d] * g1);
        let ideal2 = |_: usize, k: usize, t0: f64| push(psi, t0, net.a[k] * om);
        rows.push(row(
            &frozen,
            &net,
            key,
            (t, c.draw),
            lim,
            ti,
            fgap,
            &ideal1,
            &ideal2,
        ));
        if x.wants(t) {
            corr.extend(correlations(
                &net,
                key,
                (t, c.draw),
                psi,
                (g1, om),
                &ideal1,
                &ideal2,
            ));
        }
    }
    Output3 { rows, corr }
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
    fgap: bool,
    ideal1: impl Fn(usize, usize, f64) -> f64 + Sync,
    ideal2: impl Fn(usize, usize, f64) -> f64 + Sync,
) -> Row3 {
    let (n, d) = (net.n, net.d);
    let (risk, v, c) = fused::risk(frozen, net);
    let function_gap = fgap.then(|| function_gap(&v, &c, risk, d, lim.alpha[ti], lim.b[ti]));
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
        function_gap,
    }
}

/// Runs one width and draw of Euler GD with step η against the discrete map `lim`
/// ([`limit3::discrete_b`] with the same η and output times, whose `drive_steps` move the
/// ideal particles). `t_end` and `dt_out` must be whole multiples of η (checked by the caller).
/// Rows without the function gap ([`run_euler_with`] adds it).
pub fn run_euler(c: &Case, eta: f64, lim: &Trajectory3) -> Vec<Row3> {
    euler(c, eta, lim, false)
}

/// [`run_euler`] with the function gap in every row (f_∞ of the discrete map: its α and b).
pub fn run_euler_with(c: &Case, eta: f64, lim: &Trajectory3) -> Vec<Row3> {
    euler(c, eta, lim, true)
}

fn euler(c: &Case, eta: f64, lim: &Trajectory3, fgap: bool) -> Vec<Row3> {
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
            fgap,
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

/// Function gap E_x (f_N(x) − f_∞(x))² in closed form, f_N = (1/N) Σ_j b_j g(⟨v_j, x⟩) and
/// f_∞ = b g(α x₁) (every H2 node of the limit is (α w*, b)): with K the arcsine kernel of
/// proofs-note §2,
/// E f_N² = R_N − 1/3 + (2/N) Σ_j b_j K(v_j, e₁), E f_N f_∞ = (b/N) Σ_j b_j K(v_j, α e₁),
/// E f_∞² = b² K(α e₁, α e₁) (proofs-note §7). `v` row-major N × d, `c` the b_j, `risk` R_N
/// of the same network. Accuracy: the rounding of O(N) sums of O(1) terms against a result of
/// order 1/N; checked against a Monte Carlo over x with erf evaluated directly in
/// `tests/deep_l3_rates.rs` (`l3_function_gap_matches_monte_carlo`).
pub fn function_gap(v: &[f64], c: &[f64], risk: f64, d: usize, alpha: f64, b: f64) -> f64 {
    let n = c.len();
    let (mut lin, mut cross) = (0.0, 0.0);
    for j in 0..n {
        let vj = &v[j * d..(j + 1) * d];
        let nv: f64 = vj.iter().map(|x| x * x).sum();
        lin += c[j] * finite::kernel(nv, 1.0, vj[0]);
        cross += c[j] * finite::kernel(nv, alpha * alpha, alpha * vj[0]);
    }
    let inv = 1.0 / n as f64;
    risk - 1.0 / 3.0 + 2.0 * inv * lin - 2.0 * b * inv * cross
        + b * b * finite::kernel(alpha * alpha, alpha * alpha, alpha * alpha)
}

// ---------------------------------------------------------------------------------------------
// Edge-increment correlations (proofs-note §7).

/// Options of [`run_with`] beyond the [`Case`].
#[derive(Clone, Debug, Default)]
pub struct Extras3 {
    /// Output times at which the edge-increment correlations are computed.
    pub corr_times: Vec<f64>,
}

impl Extras3 {
    /// Whether output time `t` is one of the correlation times (relative slack 1e−9).
    fn wants(&self, t: f64) -> bool {
        self.corr_times
            .iter()
            .any(|&c| (c - t).abs() <= 1e-9 * c.abs().max(1.0))
    }
}

/// Rows and correlation rows of one width and draw.
#[derive(Clone, Debug)]
pub struct Output3 {
    pub rows: Vec<Row3>,
    pub corr: Vec<CorrRow>,
}

/// The classes of edge pairs of L = 3, in the order of [`limit_correlations`]:
/// - `l1-input`: layer-1 edges (i, j), (i, j') sharing the H1 node i (frozen feature u_i);
/// - `l1-output`: layer-1 edges (i, j), (i', j) sharing the H2 node j (trained-only);
/// - `l2-input`: layer-2 edges (j, k), (j, k') sharing the H2 node j (trained-only);
/// - `l2-output`: layer-2 edges (j, k), (j', k) sharing the H3 node k (frozen weight a_k);
/// - `cross`: a layer-1 edge (i, j) and a layer-2 edge (j, k) sharing the H2 node j
///   (trained-only).
pub const CLASSES: [&str; 5] = ["l1-input", "l1-output", "l2-input", "l2-output", "cross"];

/// Centred sums of f(x) over an N × N array x[j·N + m]: variance, row sums and column sums.
struct Sums {
    var: f64,
    rows: Vec<f64>,
    cols: Vec<f64>,
}

fn sums(x: &[f64], n: usize, f: impl Fn(f64) -> f64) -> Sums {
    let nn = (n * n) as f64;
    let mean = x.iter().map(|&y| f(y)).sum::<f64>() / nn;
    let mut var = 0.0;
    let mut rows = vec![0.0; n];
    let mut cols = vec![0.0; n];
    for j in 0..n {
        for m in 0..n {
            let y = f(x[j * n + m]) - mean;
            var += y * y;
            rows[j] += y;
            cols[m] += y;
        }
    }
    Sums {
        var: var / nn,
        rows,
        cols,
    }
}

/// Correlation over the ordered pairs of distinct entries sharing a row (or a column) whose
/// sums are `s`: (Σ s² − N² var) / (N · N(N − 1)) / var; 0 when var = 0 or N < 2.
fn shared(s: &[f64], var: f64) -> f64 {
    let n = s.len() as f64;
    if var == 0.0 || s.len() < 2 {
        return 0.0;
    }
    (s.iter().map(|x| x * x).sum::<f64>() - var * n * n) / (n * n * (n - 1.0)) / var
}

/// Correlations of the five [`CLASSES`] from the sums of layer 1 (rows j, columns i) and
/// layer 2 (rows j, columns k).
fn class_corr(s1: &Sums, s2: &Sums) -> [f64; 5] {
    let n = s1.rows.len() as f64;
    let cross = if s1.var == 0.0 || s2.var == 0.0 {
        0.0
    } else {
        let p: f64 = s1.rows.iter().zip(&s2.rows).map(|(a, b)| a * b).sum();
        p / (n * n * n) / (s1.var * s2.var).sqrt()
    };
    [
        shared(&s1.cols, s1.var),
        shared(&s1.rows, s1.var),
        shared(&s2.rows, s2.var),
        shared(&s2.cols, s2.var),
        cross,
    ]
}

/// The sample correlations of the five [`CLASSES`] of the N × N arrays `x1` (layer 1,
/// x1[j·N + i]) and `x2` (layer 2, x2[j·N + k]) with f applied entrywise: the O(N²) row- and
/// column-sum form of the averages over all ordered pairs of distinct entries of a class
/// (checked against the enumeration of the pairs in `tests/deep_l3_rates.rs`).
pub fn sample_correlations(x1: &[f64], x2: &[f64], n: usize, f: impl Fn(f64) -> f64) -> [f64; 5] {
    class_corr(&sums(x1, n, &f), &sums(x2, n, &f))
}

/// Tensor rule for N(mu, 1): 16 panels of 8 Gauss–Legendre nodes on [mu − 8, mu + 8] with the
/// Gaussian density in the weights (mass outside 1.2e−15).
fn normal_rule(mu: f64) -> Vec<(f64, f64)> {
    let (gx, gw) = crate::meanfield::flow::gauss_legendre(8);
    let (panels, h) = (16, 1.0);
    let mut out = Vec::with_capacity(panels * 8);
    for p in 0..panels {
        let c = -8.0 + (p as f64 + 0.5) * h;
        for (t, w) in gx.iter().zip(&gw) {
            let z = c + 0.5 * h * t;
            let dens = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            out.push((mu + z, 0.5 * h * w * dens));
        }
    }
    out
}

/// Var_z E[f(δ) | z] / Var f(δ) for δ = F⁻¹(F(θ0) + z·y) − θ0 with θ0 and z independent on the
/// rules `th` and `zs` (f = δ or δ²); 0 when Var f = 0.
fn shared_by(psi: Psi, th: &[(f64, f64)], zs: &[(f64, f64)], y: f64, sq: bool) -> f64 {
    let (mut m1, mut m2, mut vz) = (0.0, 0.0, 0.0);
    for &(z, wz) in zs {
        let mut e = 0.0;
        for &(t0, w) in th {
            let dl = push(psi, t0, z * y) - t0;
            let v = if sq { dl * dl } else { dl };
            e += w * v;
            m2 += wz * w * v * v;
        }
        m1 += wz * e;
        vz += wz * e * e;
    }
    let var = m2 - m1 * m1;
    if var <= 0.0 {
        return 0.0;
    }
    (vz - m1 * m1) / var
}

/// The limit's correlations of the five [`CLASSES`] for f = δ (`[..][0]`) and δ² (`[..][1]`),
/// at the reduced state (Γ1, Ω) (proofs-note §7). The ideal particles are independent given
/// the shared node's type, so a class whose shared node has a type gives Var E[f ∣ type]/Var f:
/// `l1-input` (type s_i = u_i1 ~ N(0, 1), δ̄1 = F⁻¹(F(θ1(0)) + sΓ1) − θ1(0), θ1(0) ~ N(0, 1))
/// and `l2-output` (type a_k ~ U[1 − √3, 1 + √3], δ̄2 = F⁻¹(F(θ2(0)) + aΩ) − θ2(0),
/// θ2(0) ~ N(1, 1)); the three classes sharing the trained-only node j are exactly 0 (its
/// ideal particles carry no j-dependence). Quadrature: [`normal_rule`] in θ(0) and s, 32-node
/// Gauss–Legendre in a; checked against Monte Carlo over pairs of ideal particles in
/// `tests/deep_l3_rates.rs` (`l3_limit_correlations_match_monte_carlo`).
pub fn limit_correlations(psi: Psi, gamma1: f64, omega: f64) -> [[f64; 2]; 5] {
    let th1 = normal_rule(0.0);
    let th2 = normal_rule(1.0);
    let (gx, gw) = crate::meanfield::flow::gauss_legendre(32);
    let r3 = 3f64.sqrt();
    let ar: Vec<(f64, f64)> = gx
        .iter()
        .zip(&gw)
        .map(|(t, w)| (1.0 + r3 * t, 0.5 * w))
        .collect();
    let mut out = [[0.0; 2]; 5];
    for (fi, sq) in [false, true].into_iter().enumerate() {
        out[0][fi] = shared_by(psi, &th1, &th1, gamma1, sq);
        out[3][fi] = shared_by(psi, &th2, &ar, omega, sq);
    }
    out
}

/// Correlation rows of one network at one time: the five [`CLASSES`], f = δ and δ²
/// (δ_e = θ_e(t) − θ_e(0)), for the finite network, its coupled ideal particles
/// `ideal1(j, i, θ1_ij(0))`, `ideal2(j, k, θ2_jk(0))` (the same sample) and the limit law
/// at the reduced state `gs` = (Γ1, Ω). Four N² arrays (increments of both layers, network and
/// ideal particles); rows filled in parallel, every sum in a fixed order.
fn correlations(
    net: &Net,
    key: u64,
    (t, draw): (f64, usize),
    psi: Psi,
    gs: (f64, f64),
    ideal1: impl Fn(usize, usize, f64) -> f64 + Sync,
    ideal2: impl Fn(usize, usize, f64) -> f64 + Sync,
) -> Vec<CorrRow> {
    let n = net.n;
    let mut d1 = vec![0.0; n * n];
    let mut i1 = vec![0.0; n * n];
    let mut d2 = vec![0.0; n * n];
    let mut i2 = vec![0.0; n * n];
    d1.par_chunks_mut(n)
        .zip(i1.par_chunks_mut(n))
        .zip(d2.par_chunks_mut(n).zip(i2.par_chunks_mut(n)))
        .enumerate()
        .for_each(|(j, ((a1, b1), (a2, b2)))| {
            let r1 = super::theta1_row(key, n, j);
            let r2 = super::theta2_row(key, n, j);
            for m in 0..n {
                a1[m] = net.theta1[j * n + m] - r1[m];
                b1[m] = ideal1(j, m, r1[m]) - r1[m];
                a2[m] = net.theta2[j * n + m] - r2[m];
                b2[m] = ideal2(j, m, r2[m]) - r2[m];
            }
        });
    let lim = limit_correlations(psi, gs.0, gs.1);
    let mut out = Vec::new();
    for (fi, fname) in ["inc", "sq"].into_iter().enumerate() {
        let f = |x: f64| if fi == 0 { x } else { x * x };
        let fin = sample_correlations(&d1, &d2, n, f);
        let idl = sample_correlations(&i1, &i2, n, f);
        for (ci, class) in CLASSES.into_iter().enumerate() {
            out.push(CorrRow {
                t,
                n,
                draw,
                class,
                f: fname,
                finite: fin[ci],
                ideal: idl[ci],
                limit: lim[ci][fi],
            });
        }
    }
    out
}
