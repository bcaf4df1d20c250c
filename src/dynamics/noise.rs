//! Noisy projected GD (`train --beta`): the convention of proofs-notes/langevin.md §1,
//!
//! w_i ← normalise(w_i + η v_i + √(2η/β) P_{w_i} g_i),   g_i ~ N(0, I_d),
//!
//! with v_i the population velocity (learning rate ηN on the weights, time t = kη) and
//! P_w = I − w wᵀ the tangent projection: per-step tangent noise of variance 2η/β per
//! coordinate, the mean-field Langevin equation with diffusion coefficient 1/β.
//!
//! **The generator** (counter-based: a function of (seed, draw, step, neuron) alone). The d
//! coordinates of g_i at step k of draw r are, in order, standard normals drawn by the ziggurat
//! method ([`super::ziggurat`], 256 blocks, libm tables) from ChaCha8 keyed by
//! [`noise_key`]`(seed, r, k)` on stream i. So the bits do not depend on the thread count or on the
//! order in which neurons are processed, and neuron i receives the same increments in every
//! width of a run (the nested networks share their Brownian increments). Each neuron's d
//! increments are drawn once per step into a per-thread scratch row and used by both the network
//! and its coupled ideal particle ([`coupled_step`]); nothing is allocated per neuron.
//! (Until issue 14's speed fix the transform was Box–Muller through libm's log, sqrt, cos and
//! sin, [`crate::sampling::gaussians`], which still names the initial weights; the ziggurat
//! costs about one ChaCha8 word and a table look-up per coordinate.)
//!
//! Accuracy contract: the update is exact up to rounding (a few ulps per coordinate); the
//! increments are exact N(0, 1) up to the ziggurat's contract (2^−52 grid, table closure
//! 1.5e-13); tests/noise_generator.rs tests them (moments, Kolmogorov–Smirnov, tail,
//! independence of neighbouring streams and steps).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// The ChaCha8 seed of step `step` of draw `draw` (distinct from the initial sampling keys by
/// a splitmix64 mix of a fixed tag).
pub fn noise_key(seed: u64, draw: u64, step: u64) -> u64 {
    let mut x = seed ^ 0x6e6f_6973_795f_6764; // "noisy_gd"
    for v in [draw, step] {
        x = splitmix(x ^ splitmix(v));
    }
    x
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The d Gaussians of neuron `i` under `key` into `g` (d = `g.len()`).
pub fn fill_increments(key: u64, i: usize, g: &mut [f64]) {
    let mut rng = ChaCha8Rng::seed_from_u64(key);
    rng.set_stream(i as u64);
    super::ziggurat::fill(&mut rng, g);
}

/// The d Gaussians of neuron `i` under `key`.
pub fn increments(key: u64, i: usize, d: usize) -> Vec<f64> {
    let mut g = vec![0.0; d];
    fill_increments(key, i, &mut g);
    g
}

/// One noisy tangent step of the N×d network `w` with velocities `v` (N×d): returns the new
/// weights. `sigma` = √(2η/β).
pub fn noisy_tangent_step(
    w: &[f64],
    v: &[f64],
    d: usize,
    eta: f64,
    sigma: f64,
    key: u64,
) -> Vec<f64> {
    let mut out = vec![0.0; w.len()];
    out.par_chunks_mut(d).enumerate().for_each_init(
        || vec![0.0; d],
        |g, (i, x)| {
            fill_increments(key, i, g);
            network_row(w, v, i, g, eta, sigma, x);
        },
    );
    out
}

/// One noisy tangent step of independent particles `w` (N×d) in the velocity field
/// `field(w_i, out)`, with the increments of [`noisy_tangent_step`] (the ideal particles
/// alone, without a network).
pub fn noisy_field_step(
    w: &[f64],
    field: &(dyn Fn(&[f64], &mut [f64]) + Sync),
    d: usize,
    eta: f64,
    sigma: f64,
    key: u64,
) -> Vec<f64> {
    let mut out = vec![0.0; w.len()];
    out.par_chunks_mut(d).enumerate().for_each_init(
        || (vec![0.0; d], vec![0.0; d]),
        |(g, v), (i, x)| {
            fill_increments(key, i, g);
            let wi = &w[i * d..(i + 1) * d];
            field(wi, v);
            row_step(wi, v, g, eta, sigma, x);
        },
    );
    out
}

/// [`row_step`] of neuron i of the N×d network `w` with velocities `v` (d = `x.len()`).
fn network_row(w: &[f64], v: &[f64], i: usize, g: &[f64], eta: f64, sigma: f64, x: &mut [f64]) {
    let d = x.len();
    row_step(
        &w[i * d..(i + 1) * d],
        &v[i * d..(i + 1) * d],
        g,
        eta,
        sigma,
        x,
    );
}

/// x ← normalise(w + η v + σ(g − ⟨g, w⟩w)) for one neuron (the norm's reciprocal applied as a
/// product: within 1 ulp of the quotient).
fn row_step(wi: &[f64], vi: &[f64], g: &[f64], eta: f64, sigma: f64, x: &mut [f64]) {
    let gw = dot_lanes(g, wi);
    for k in 0..wi.len() {
        x[k] = wi[k] + eta * vi[k] + sigma * (g[k] - gw * wi[k]);
    }
    let inv = 1.0 / dot_lanes(x, x).sqrt();
    x.iter_mut().for_each(|a| *a *= inv);
}

/// Σ_k x_k y_k in four interleaved partial sums (lane j sums k ≡ j mod 4 in index order; then
/// (s_0 + s_1) + (s_2 + s_3), then the remainder in order): a fixed order, so the same bits on
/// every machine, without the latency chain of one running sum.
pub(crate) fn dot_lanes(x: &[f64], y: &[f64]) -> f64 {
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    let mut s = [0.0f64; 4];
    for (a, b) in xc.zip(yc) {
        for j in 0..4 {
            s[j] += a[j] * b[j];
        }
    }
    let mut total = (s[0] + s[1]) + (s[2] + s[3]);
    for (a, b) in xr.iter().zip(yr) {
        total += a * b;
    }
    total
}

/// [`noisy_tangent_step`] of the network and, with the same increments g_i (drawn once), of its
/// coupled ideal particles `wbar` (N×d), whose velocity `vbar(w̄_i, out)` is written per
/// particle: returns (new w, new w̄). The network's new weights are bit-identical to
/// [`noisy_tangent_step`]'s.
#[allow(clippy::too_many_arguments)]
pub fn coupled_step(
    w: &[f64],
    v: &[f64],
    wbar: &[f64],
    vbar: &(dyn Fn(&[f64], &mut [f64]) + Sync),
    d: usize,
    eta: f64,
    sigma: f64,
    key: u64,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; w.len()];
    let mut bar = vec![0.0; wbar.len()];
    out.par_chunks_mut(d)
        .zip(bar.par_chunks_mut(d))
        .enumerate()
        .for_each_init(
            || (vec![0.0; d], vec![0.0; d]),
            |(g, vb), (i, (x, y))| {
                fill_increments(key, i, g);
                network_row(w, v, i, g, eta, sigma, x);
                let wb = &wbar[i * d..(i + 1) * d];
                vbar(wb, vb);
                row_step(wb, vb, g, eta, sigma, y);
            },
        );
    (out, bar)
}
