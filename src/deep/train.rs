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

use super::{finite, fused, limit, Net, Psi};
use rayon::prelude::*;

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
    /// E_x (f_N − f_∞)² in closed form ([`function_gap`]).
    #[serde(serialize_with = "crate::output::finite")]
    pub function_gap: f64,
}

/// The key of draw `r` of seed `seed`.
pub fn draw_seed(seed: u64, r: usize) -> u64 {
    seed.wrapping_add((r as u64).wrapping_mul(1_000_003))
}

/// Bytes used by one width-N RK4 run: θ, the RK4 stage and accumulator (N² each, the
/// velocities never form an array: [`fused::rk4_step`]), the fast path's per-node arrays and
/// row buffers, the limit's Γ, α and rows at every output time for all N output weights, and
/// with `corr` the edge-increment correlations' four N² arrays (θ(0) is regenerated from the
/// seed, never stored).
pub fn train_bytes(n: usize, d: usize, n_times: usize) -> f64 {
    train_bytes_with(n, d, n_times, false)
}

/// [`train_bytes`], with the correlations' arrays when `corr`.
pub fn train_bytes_with(n: usize, d: usize, n_times: usize, corr: bool) -> f64 {
    let nf = n as f64;
    let corr = if corr { 4.0 * nf * nf } else { 0.0 };
    8.0 * (nf * nf + corr + 3.0 * nf * n_times as f64)
        + fused::scratch_bytes(2, n, d, true, rayon::current_num_threads())
        + super::train3::BASE_BYTES
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
/// (k·dt_out and t_end). i.i.d. frozen features, no correlations: [`run_with`].
pub fn run(c: &Case, h: f64, lp: &limit::Params) -> Vec<Row> {
    run_with(c, h, lp, &Extras::default()).rows
}

/// [`run`] with the frozen features of `x.init` and the edge-increment correlations at
/// `x.corr_times` (output times; others are ignored).
pub fn run_with(c: &Case, h: f64, lp: &limit::Params, x: &Extras) -> Output {
    let (d, psi, draw) = (c.d, c.psi, c.draw);
    let (key, mut net) = c.start();
    x.init.apply(&mut net);
    let grid = limit::a_rule(lp.a_nodes);
    let lim = limit::method_a(lp, c.t_end, c.dt_out, &tracked(&net.a, &grid));
    let mut corr = Vec::new();
    let times = lim.times.clone();
    let mut rows = Vec::with_capacity(times.len());
    let frozen = fused::Frozen::new(&net);
    let mut scratch = fused::Rk4Scratch::new(&net);
    for (ti, &t) in times.iter().enumerate() {
        if ti > 0 {
            let span = t - times[ti - 1];
            let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
            let dt = span / steps as f64;
            for _ in 0..steps {
                fused::rk4_step(&frozen, &mut net, &mut scratch, dt);
            }
        }
        let ideal = |j: usize, i: usize, t0: f64| {
            let s = net.u[i * d];
            let gam = lim.gamma[ti][j];
            match psi {
                Psi::Gd => libm::asinh(libm::sinh(t0) + s * gam),
                Psi::Id => t0 + s * gam,
            }
        };
        rows.push(row(&frozen, &net, key, t, draw, &lim, ti, ideal));
        if x.wants(t) {
            let gam = &lim.gamma[ti][net.n..];
            corr.extend(correlations(&net, key, t, draw, &ideal, psi, &grid, gam));
        }
    }
    Output { rows, corr }
}

/// One output row: the network's risk and gaps against the limit `lim` at its output time `ti`
/// (risk, and α at every output weight: `lim.alpha[ti][j]` = α(a_j)), and the ideal particle
/// `ideal(j, i, θ_ij(0))` of every edge (θ(0) regenerated row by row from `key`).
#[allow(clippy::too_many_arguments)]
fn row(
    frozen: &fused::Frozen,
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
    let (risk, v, _) = fused::risk(frozen, net);
    let grid = limit::a_rule(alpha.len() - n);
    let fgap = function_gap(&v, &net.a, risk, d, &alpha[n..], &grid);
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
            node += (v[j * d + m] - target).powi(2);
        }
    }
    Row {
        t,
        n,
        draw,
        risk,
        risk_limit,
        loss_gap: risk - risk_limit,
        edge_gap: edge / (n * n) as f64,
        node_gap: node / n as f64,
        function_gap: fgap,
    }
}

/// Bytes of one width-N Euler run, phase by phase ([`run_euler_with`]): θ (N²) lives
/// throughout; first the discrete limit's method B with every output weight tracked (its
/// particles and their velocity: two arrays of that size, freed when it returns), then the ideal particles (N²) and the fast path's per-node arrays. The peak is
/// θ plus the larger phase; the V_s history (N per step) is kept from the first phase on.
pub fn euler_bytes(n: usize, d: usize, steps: usize, pb: &limit::BParams) -> f64 {
    let nf = n as f64;
    let per_node = pb.particles() as f64 / pb.a_nodes as f64;
    // Nodes of method B: its own a-rule, then the tracked a: the N output weights and the
    // nodes of the a-rule of `limit::Params` ([`tracked`]).
    let tracked = n + limit::Params::new(pb.psi).a_nodes;
    let b_state = (pb.a_nodes + tracked) as f64 * per_node;
    let limit_phase = 8.0 * 2.0 * b_state;
    let train_phase =
        8.0 * nf * nf + fused::scratch_bytes(2, n, d, false, rayon::current_num_threads());
    8.0 * (nf * nf + nf * steps as f64) + limit_phase.max(train_phase) + super::train3::BASE_BYTES
}

/// Runs one width and draw of Euler GD with step η (θ ← θ + η·(−N² ∂R/∂θ), t = steps·η),
/// against the discrete mean-field map ([`limit::discrete_b`]) with every output weight a_j
/// tracked: the ideal particle of edge (i, j) takes the same Euler steps,
/// θ̄ ← θ̄ + η·2a_j ψ'(θ̄) s_i V_s(a_j, t_k), s_i = u_i1. `t_end` and `dt_out` must be whole
/// multiples of η (checked by the caller).
pub fn run_euler(c: &Case, eta: f64, pb: &limit::BParams) -> Vec<Row> {
    run_euler_with(c, eta, pb, Init::Iid)
}

/// [`run_euler`] with the frozen features of `init`.
pub fn run_euler_with(c: &Case, eta: f64, pb: &limit::BParams, init: Init) -> Vec<Row> {
    let (n, d, psi, draw) = (c.n, c.d, c.psi, c.draw);
    let (key, mut net) = c.start();
    init.apply(&mut net);
    let grid = limit::a_rule(limit::Params::new(psi).a_nodes);
    let lim = limit::discrete_b(pb, eta, c.t_end, c.dt_out, &tracked(&net.a, &grid));
    // Ideal particles, row-major like θ1, from the same θ(0).
    let frozen = fused::Frozen::new(&net);
    // θ(0) is the untrained state (init.apply changes only u and a).
    let mut ideal = net.theta1.clone();
    let mut rows = Vec::with_capacity(lim.times.len());
    let mut k = 0;
    for (ti, &t) in lim.times.iter().enumerate() {
        if ti > 0 {
            let steps = limit::euler_steps(t - lim.times[ti - 1], eta)
                .expect("output interval not a multiple of η (checked by the caller)");
            for _ in 0..steps {
                fused::euler_step(&frozen, &mut net, eta);
                let vs = &lim.vs_steps[k];
                let (a, u) = (&net.a, &net.u);
                ideal.par_chunks_mut(n).enumerate().for_each(|(j, r)| {
                    let c = eta * 2.0 * a[j] * vs[j];
                    for (i, th) in r.iter_mut().enumerate() {
                        *th += c * psi.deriv(*th) * u[i * d];
                    }
                });
                k += 1;
            }
        }
        rows.push(row(&frozen, &net, key, t, draw, &lim, ti, |j, i, _| {
            ideal[j * n + i]
        }));
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Frozen features: i.i.d. or stratified; the function gap; edge-increment correlations.

/// How the frozen features (u_i, a_j) of a network are drawn. θ(0) is the same in both cases
/// (the seeded streams of [`super::init`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Init {
    /// u_i ~ N(0, I_d), a_j ~ U[−√3, √3], i.i.d. (the seeded draw of [`super::init`]).
    #[default]
    Iid,
    /// Stratified (proofs-note §5d): s_i = u_i1 = Φ⁻¹((i + ½)/N) (the N quantile midpoints of
    /// N(0, 1)); the other coordinates u_{i,m} (m ≥ 2) are the i.i.d. draw orthogonalised
    /// against the vector s (so (1/N) Σ_i s_i u_{i⊥} = 0 exactly); a_j = √3(2(j + ½)/N − 1)
    /// (the quantile midpoints of U[−√3, √3]). The empirical laws of s and a then match their
    /// laws up to O(N⁻²) in every smooth moment, which removes the N^{−1/2} source of the loss
    /// gap; the edge and node gaps keep the √(d/N) of θ(0) and u_⊥.
    Stratified,
}

impl Init {
    pub fn parse(s: &str) -> Result<Init, String> {
        match s {
            "iid" => Ok(Init::Iid),
            "stratified" => Ok(Init::Stratified),
            _ => Err(format!("--init {s}: expected iid or stratified")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Init::Iid => "iid",
            Init::Stratified => "stratified",
        }
    }
    /// Replaces the i.i.d. frozen features of the L = 2 network `net` by this construction.
    pub fn apply(self, net: &mut Net) {
        if self == Init::Iid {
            return;
        }
        let (n, d) = (net.n, net.d);
        let normal = statrs::distribution::Normal::new(0.0, 1.0).expect("N(0, 1)");
        use statrs::distribution::ContinuousCDF;
        let s: Vec<f64> = (0..n)
            .map(|i| normal.inverse_cdf((i as f64 + 0.5) / n as f64))
            .collect();
        let ss: f64 = s.iter().map(|x| x * x).sum();
        for i in 0..n {
            net.u[i * d] = s[i];
        }
        for m in 1..d {
            let proj: f64 = (0..n).map(|i| s[i] * net.u[i * d + m]).sum::<f64>() / ss;
            for i in 0..n {
                net.u[i * d + m] -= proj * s[i];
            }
        }
        let r3 = 3f64.sqrt();
        for j in 0..n {
            net.a[j] = r3 * (2.0 * (j as f64 + 0.5) / n as f64 - 1.0);
        }
    }
}

/// Options of [`run_with`] beyond the [`Case`].
#[derive(Clone, Debug, Default)]
pub struct Extras {
    pub init: Init,
    /// Output times at which the edge-increment correlations are computed.
    pub corr_times: Vec<f64>,
}

impl Extras {
    /// Whether output time `t` is one of the correlation times (relative slack 1e−9).
    fn wants(&self, t: f64) -> bool {
        self.corr_times
            .iter()
            .any(|&c| (c - t).abs() <= 1e-9 * c.abs().max(1.0))
    }
}

/// Rows and correlation rows of one width and draw.
#[derive(Clone, Debug)]
pub struct Output {
    pub rows: Vec<Row>,
    pub corr: Vec<CorrRow>,
}

/// Correlation of edge increments f(δ_e), δ_e = θ_e(t) − θ_e(0), over all pairs of distinct
/// edges of one class, for the finite network, for its coupled ideal particles (the same
/// θ(0), u_i, a_j), and for the limit law (quadrature, no sample).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CorrRow {
    #[serde(serialize_with = "crate::output::finite")]
    pub t: f64,
    pub n: usize,
    pub draw: usize,
    /// `input` (edges sharing an H1 node i), `output` (sharing an H2 node j). L = 2 has no
    /// node without a frozen feature, so the class `trained-only` is absent.
    pub class: &'static str,
    /// `inc` (f(δ) = δ) or `sq` (f(δ) = δ²).
    pub f: &'static str,
    #[serde(serialize_with = "crate::output::finite")]
    pub finite: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub ideal: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub limit: f64,
}

/// The a's of `net` followed by the nodes of `grid` (tracked by the limit: the gaps need α at
/// every a_j, the function gap and the limit correlations need Γ, α on the a-grid).
fn tracked(a: &[f64], grid: &limit::Rule) -> Vec<f64> {
    a.iter().chain(&grid.x).copied().collect()
}

/// Function gap E_x (f_N − f_∞)² in closed form, f_N = (1/N) Σ_j a_j g(⟨v_j, x⟩),
/// f_∞ = E_a[a g(α(a) x₁)]: E f_N² − 2 E f_N f_∞ + E f_∞² with
/// E f_N² = R_N − 1/3 + (2/N) Σ_j a_j K(v_j, e₁), E f_N f_∞ = (1/N) Σ_j a_j E_a[a K(v_j, α(a)e₁)]
/// and E f_∞² = E_{a,a'}[a a' k(α(a), α(a'))]; the a-expectations by the Gauss–Legendre rule
/// `grid` on [0, √3] with α = `alpha_grid` at its nodes (the integrands are even in a).
/// Checked against a Monte Carlo in x in `tests/deep_rates.rs`.
pub fn function_gap(
    v: &[f64],
    a: &[f64],
    risk: f64,
    d: usize,
    alpha_grid: &[f64],
    grid: &limit::Rule,
) -> f64 {
    let n = a.len();
    let inv = 1.0 / n as f64;
    let mut lin = 0.0;
    let mut cross = 0.0;
    for j in 0..n {
        let vj = &v[j * d..(j + 1) * d];
        let nv: f64 = vj.iter().map(|x| x * x).sum();
        lin += a[j] * finite::kernel(nv, 1.0, vj[0]);
        let mut e = 0.0;
        for (l, &al) in alpha_grid.iter().enumerate() {
            e += grid.w[l] * grid.x[l] * finite::kernel(nv, al * al, al * vj[0]);
        }
        cross += a[j] * e;
    }
    let fn2 = risk - 1.0 / 3.0 + 2.0 * inv * lin;
    let mut finf2 = 0.0;
    for (l, &al) in alpha_grid.iter().enumerate() {
        for (m, &be) in alpha_grid.iter().enumerate() {
            finf2 += grid.w[l] * grid.x[l] * grid.w[m] * grid.x[m] * limit::k(al, be);
        }
    }
    fn2 - 2.0 * inv * cross + finf2
}

/// Correlation over pairs of distinct edges sharing a row (`rows` = true: same H2 node j) or a
/// column (same H1 node i) of the N × N array x (layout x[j·N + i]):
/// Σ_{pairs} x̃ x̃' / #pairs divided by the variance, x̃ = x − mean.
fn pair_corr(x: &[f64], n: usize, rows: bool) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let var = x.iter().map(|y| (y - m).powi(2)).sum::<f64>() / x.len() as f64;
    let mut sums = vec![0.0; n];
    for j in 0..n {
        for i in 0..n {
            let k = if rows { j } else { i };
            sums[k] += x[j * n + i] - m;
        }
    }
    let pairs = sums.iter().map(|s| s * s).sum::<f64>() - var * x.len() as f64;
    if var == 0.0 || n < 2 {
        return 0.0;
    }
    pairs / (n as f64 * n as f64 * (n as f64 - 1.0)) / var
}

/// The limit's correlations of f(δ̄) for edges sharing an input node (Var_s E[f∣s] / Var f) and
/// an output node (Var_a E[f∣a] / Var f), δ̄ = F⁻¹(F(θ0) + sΓ(a)) − θ0, by quadrature:
/// composite Gauss–Legendre in θ0 and s on [−8, 8] (16 panels of 8 nodes, Gaussian density;
/// the mass outside is 1.2e−15)
/// and the a-grid (both signs; Γ odd in a).
pub fn limit_correlations(psi: Psi, grid: &limit::Rule, gamma: &[f64]) -> [[f64; 2]; 2] {
    let (gx, gw) = crate::meanfield::flow::gauss_legendre(8);
    let mut z = Vec::new();
    let mut wz = Vec::new();
    let (lo, panels) = (-8.0, 16);
    let h = 16.0 / panels as f64;
    for p in 0..panels {
        let c = lo + (p as f64 + 0.5) * h;
        for (t, w) in gx.iter().zip(&gw) {
            let x = c + 0.5 * h * t;
            z.push(x);
            wz.push(0.5 * h * w * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt());
        }
    }
    // a-nodes with both signs, weights halved (law U[−√3, √3]).
    let mut an: Vec<(f64, f64)> = Vec::new();
    for (l, &g) in gamma.iter().enumerate() {
        an.push((g, 0.5 * grid.w[l]));
        an.push((-g, 0.5 * grid.w[l]));
    }
    let mut out = [[0.0; 2]; 2];
    for (fi, sq) in [false, true].into_iter().enumerate() {
        let f = |t0: f64, s: f64, g: f64| {
            let th = match psi {
                Psi::Gd => libm::asinh(libm::sinh(t0) + s * g),
                Psi::Id => t0 + s * g,
            };
            let dl = th - t0;
            if sq {
                dl * dl
            } else {
                dl
            }
        };
        // E[f | s] over (θ0, a), E[f | a] over (θ0, s), and the first two moments.
        let mut by_s = vec![0.0; z.len()];
        let mut by_a = vec![0.0; an.len()];
        let (mut m1, mut m2) = (0.0, 0.0);
        for (si, &s) in z.iter().enumerate() {
            for (ai, &(g, wa)) in an.iter().enumerate() {
                for (ti, &t0) in z.iter().enumerate() {
                    let v = f(t0, s, g);
                    let w = wz[ti] * wa;
                    by_s[si] += w * v;
                    by_a[ai] += wz[ti] * wz[si] * v;
                    m1 += w * wz[si] * v;
                    m2 += w * wz[si] * v * v;
                }
            }
        }
        let var = m2 - m1 * m1;
        let vs: f64 = by_s.iter().zip(&wz).map(|(e, w)| w * e * e).sum::<f64>() - m1 * m1;
        let va: f64 = by_a
            .iter()
            .zip(&an)
            .map(|(e, (_, w))| w * e * e)
            .sum::<f64>()
            - m1 * m1;
        out[0][fi] = vs / var;
        out[1][fi] = va / var;
    }
    out
}

/// Correlation rows of one network at one time: classes `input` and `output`, f = δ and δ²,
/// finite network, coupled ideal particles `ideal(j, i, θ_ij(0))` and the limit law
/// (`gamma_grid` = Γ at the nodes of `grid`).
#[allow(clippy::too_many_arguments)]
fn correlations(
    net: &Net,
    key: u64,
    t: f64,
    draw: usize,
    ideal: &dyn Fn(usize, usize, f64) -> f64,
    psi: Psi,
    grid: &limit::Rule,
    gamma_grid: &[f64],
) -> Vec<CorrRow> {
    let n = net.n;
    let mut df = vec![0.0; n * n];
    let mut di = vec![0.0; n * n];
    for j in 0..n {
        let th0 = super::theta1_row(key, n, j);
        for (i, &t0) in th0.iter().enumerate() {
            df[j * n + i] = net.theta1[j * n + i] - t0;
            di[j * n + i] = ideal(j, i, t0) - t0;
        }
    }
    let lim = limit_correlations(psi, grid, gamma_grid);
    let mut out = Vec::new();
    for (fi, fname) in ["inc", "sq"].into_iter().enumerate() {
        let (xf, xi): (Vec<f64>, Vec<f64>) = if fi == 0 {
            (df.clone(), di.clone())
        } else {
            (
                df.iter().map(|x| x * x).collect(),
                di.iter().map(|x| x * x).collect(),
            )
        };
        for (ci, (class, rows)) in [("input", false), ("output", true)].into_iter().enumerate() {
            out.push(CorrRow {
                t,
                n,
                draw,
                class,
                f: fname,
                finite: pair_corr(&xf, n, rows),
                ideal: pair_corr(&xi, n, rows),
                limit: lim[ci][fi],
            });
        }
    }
    out
}
