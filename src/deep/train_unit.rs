//! Finite-width flow of the L = 2 model with a general unit σ (`deep train --unit SPEC`), every
//! edge coupled to its ideal particle.
//!
//! As [`super::train`] for erf, with two changes: the velocities are those of the general
//! route [`super::general::evaluate`] (Hermite series of the norm-dependent kernel, f64,
//! O(N·P·K + N²(d + K)) per evaluation), stepped by classical RK4 here (the fused erf passes of
//! [`super::fused`] do not apply); and the limit is method A with the kernels of
//! [`super::limit_unit`]. The ideal particles are the same push-forward
//! θ̄_ij(t) = F⁻¹(F(θ_ij(0)) + s_i Γ(a_j, t)), which does not involve σ (only Γ's ODE does).
//!
//! Per output time: R_N, R_∞, the loss gap, the edge gap mean_ij (θ_ij − θ̄_ij)² and the node
//! gap mean_j |v_j − α(a_j) w*|². The function gap of [`super::train::Row`] is not computed for
//! a general unit (it needs E σ(⟨v_j, x⟩) f̄(x₁) for every node, a two-dimensional integral
//! with moving kinks).
//!
//! ## Accuracy contract
//! The finite flow: the RK4 time error (rerun with `h/2`) and the series truncation of
//! [`super::general`] (an **estimate**, printed by `deep eval --unit`); the limit: the estimates
//! of `deep limit --unit`. Rows are bit-identical for any thread count (the general route and
//! the limit are).

use super::limit::{self, Stepping, Unit};
use super::limit_unit::LimitUnit;
use super::train::{draw_seed, Case, Init};
use super::{general, Psi};
use rayon::prelude::*;

/// One output row (as [`super::train::Row`] without the function gap).
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

/// Bytes of one width-N run: θ, the RK4 start state, accumulator, the current stage's
/// velocity and the velocity at the state (N² each), the
/// per-node tables (c_l, ∂_r c_l to degree K), the per-row buffers and the limit's rows.
pub fn train_bytes(n: usize, d: usize, degree: usize, n_times: usize) -> f64 {
    let nf = n as f64;
    8.0 * (5.0 * nf * nf + nf * (2.0 * (degree as f64 + 1.0) + 8.0 + 2.0 * d as f64))
        + 8.0 * 3.0 * nf * n_times as f64
        + super::train3::BASE_BYTES
}

/// Seconds per velocity evaluation of the general route at width N, degree K, measured on
/// one core of the development machine (tables ≈ 2.5e−9·N·P·K with P = 2048 rule nodes;
/// pairs ≈ 2.5e−9·3·N²·K): an estimate of the order of magnitude for refusing absurd ladders.
pub fn seconds_per_evaluation(n: usize, degree: usize) -> f64 {
    let (nf, k) = (n as f64, degree as f64 + 1.0);
    2.5e-9 * (2048.0 * nf * k * 4.0 + 3.0 * nf * nf * k)
}

/// Runs one width and draw with RK4 (largest step `h`), frozen features `init`.
pub fn run(
    c: &Case,
    h: f64,
    lp: &limit::Params,
    unit: &general::Unit,
    lu: &LimitUnit,
    init: Init,
) -> Vec<Row> {
    let (n, d, psi, draw) = (c.n, c.d, c.psi, c.draw);
    let key = draw_seed(c.seed, c.draw);
    let mut net = super::init(2, n, d, psi, key);
    init.apply(&mut net);
    let tracked: Vec<f64> = net.a.clone();
    let lim = limit::method_a_with(
        lp,
        Unit::General(lu),
        Stepping::Rk4 { h: lp.h },
        c.t_end,
        c.dt_out,
        &tracked,
    );
    let times = lim.times.clone();
    let mut rows = Vec::with_capacity(times.len());
    let vel = |net: &super::Net| general::evaluate(unit, net);
    let mut ev = vel(&net);
    for (ti, &t) in times.iter().enumerate() {
        if ti > 0 {
            let span = t - times[ti - 1];
            let steps = (span / h - 1e-9).ceil().max(1.0) as usize;
            let dt = span / steps as f64;
            for _ in 0..steps {
                rk4_step(&mut net, dt, &ev.vel1, &vel);
                ev = vel(&net);
            }
        }
        let v = super::finite::node_vectors(&net);
        let mut edge = 0.0;
        for j in 0..n {
            let th0 = super::theta1_row(key, n, j);
            let gam = lim.gamma[ti][j];
            for (i, &t0) in th0.iter().enumerate() {
                let s = net.u[i * d];
                let ideal = match psi {
                    Psi::Gd => libm::asinh(libm::sinh(t0) + s * gam),
                    Psi::Id => t0 + s * gam,
                };
                edge += (net.theta1[j * n + i] - ideal).powi(2);
            }
        }
        let mut node = 0.0;
        for j in 0..n {
            for m in 0..d {
                let target = if m == 0 { lim.alpha[ti][j] } else { 0.0 };
                node += (v[j * d + m] - target).powi(2);
            }
        }
        rows.push(Row {
            t,
            n,
            draw,
            risk: ev.risk,
            risk_limit: lim.risk[ti],
            loss_gap: ev.risk - lim.risk[ti],
            edge_gap: edge / (n * n) as f64,
            node_gap: node / n as f64,
        });
    }
    rows
}

/// One classical RK4 step of θ1 with k1 = `k1` (the velocity at the current state).
fn rk4_step(
    net: &mut super::Net,
    dt: f64,
    k1: &[f64],
    vel: &impl Fn(&super::Net) -> general::Eval,
) {
    let y0 = net.theta1.clone();
    let mut acc: Vec<f64> = k1.to_vec();
    let stage = |net: &mut super::Net, k: &[f64], c: f64| {
        net.theta1
            .par_iter_mut()
            .zip(&y0)
            .zip(k)
            .for_each(|((x, y), v)| *x = y + c * v);
    };
    stage(net, k1, 0.5 * dt);
    let k2 = vel(net).vel1;
    acc.par_iter_mut().zip(&k2).for_each(|(a, v)| *a += 2.0 * v);
    stage(net, &k2, 0.5 * dt);
    drop(k2);
    let k3 = vel(net).vel1;
    acc.par_iter_mut().zip(&k3).for_each(|(a, v)| *a += 2.0 * v);
    stage(net, &k3, dt);
    drop(k3);
    let k4 = vel(net).vel1;
    net.theta1
        .par_iter_mut()
        .zip(&y0)
        .zip(acc.par_iter().zip(&k4))
        .for_each(|((x, y), (a, v))| *x = y + dt / 6.0 * (a + v));
}
