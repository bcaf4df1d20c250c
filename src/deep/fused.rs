//! The fast path of the deep model's velocities: fused SIMD passes over the trained edges.
//!
//! Same quantities as [`super::finite`] (which stays the scalar reference it is tested
//! against; the two share no formula code), computed as
//! 1. **pass 1** (one read of every trained edge): v_j = (1/N) Σ_i ψ(θ1_ij) u_i and, for L = 3,
//!    b_j = (1/N) Σ_k a_k ψ(θ2_jk), with ψ evaluated in vector registers
//!    ([`crate::fast::deep_edges`]) against the transposed features (d × N, unit stride);
//! 2. **node pairs** (O(N² d), no trained edge read): with α_j = (1 + |v_j|²)^{−1/2} precomputed
//!    per node, q_jk = ⟨v_j, v_k⟩ α_j α_k, K_jk = (2/π) asin q_jk and the gradient weight
//!    c_k α_j α_k (1 − q_jk²)^{−1/2}: no square root of a product and no division per pair
//!    beyond one (1 − q²)^{−1/2}; asin vectorised; on the upper triangle of node tiles, each
//!    pair computed once for both of its rows ([`readout_tiled`]);
//! 3. **pass 2**, fused with the update: row j's velocities 2c_j ψ'(θ1_ij)⟨u_i, V_j⟩ (and
//!    −2 a_k ψ'(θ2_jk) e_j) are applied at once, Euler θ += η k inside the vector kernel, the
//!    RK4 stage/accumulator through a row buffer that stays in cache, followed in RK4 by the
//!    next stage's pass 1 on the fresh row: no N² velocity array exists.
//!
//! ## Accuracy contract
//! Against the exact closed forms at the same f64 state: the ψ, ψ', asin approximations
//! (bounds [`crate::fast::deep_edges::EPS_PSI`], `EPS_DPSI`, `EPS_ASIN`) plus f64 summation of
//! N terms; the bound is derived in `proofs-notes/deep-meanfield.md` §9 and checked against the
//! scalar reference for every pass at every SIMD level in `tests/deep_fused.rs`.
//!
//! ## Reproducibility
//! Every row (and every tile pair of the node pairs) is computed by one task (fixed lane order
//! inside), tile partials are added in tile order and cross-row sums sequentially in j:
//! bit-identical for any number of threads (`fused_is_thread_count_invariant`).

use super::finite::{Eval, Readout};
use super::{Net, Psi};
use crate::fast::deep_edges as kern;
use rayon::prelude::*;
use std::f64::consts::FRAC_2_PI;

/// The frozen part of a network in the fast path's layout.
#[derive(Clone, Debug)]
pub struct Frozen {
    pub n: usize,
    pub d: usize,
    /// ψ = gd (else id).
    pub gd: bool,
    /// Features transposed: ut[m·N + i] = u_im.
    pub ut: Vec<f64>,
    /// Output weights a (N).
    pub a: Vec<f64>,
}

impl Frozen {
    pub fn new(net: &Net) -> Frozen {
        let (n, d) = (net.n, net.d);
        let mut ut = vec![0.0; n * d];
        for i in 0..n {
            for m in 0..d {
                ut[m * n + i] = net.u[i * d + m];
            }
        }
        Frozen {
            n,
            d,
            gd: net.psi == Psi::Gd,
            ut,
            a: net.a.clone(),
        }
    }

    /// Bytes held: the transposed features and a.
    pub fn bytes(n: usize, d: usize) -> f64 {
        8.0 * (n * d + n) as f64
    }
}

/// Pass 1: node vectors v (N × d row-major) from θ1.
pub fn node_vectors(f: &Frozen, theta1: &[f64]) -> Vec<f64> {
    let (n, d) = (f.n, f.d);
    let inv = 1.0 / n as f64;
    let mut v = vec![0.0; n * d];
    v.par_chunks_mut(d).enumerate().for_each(|(j, vj)| {
        kern::psi_sums(f.gd, &theta1[j * n..(j + 1) * n], &f.ut, vj);
        vj.iter_mut().for_each(|x| *x *= inv);
    });
    v
}

/// Pass 1 of layer 2 (L = 3): b_j = (1/N) Σ_k a_k ψ(θ2_jk).
pub fn readout_b(f: &Frozen, theta2: &[f64]) -> Vec<f64> {
    let n = f.n;
    let inv = 1.0 / n as f64;
    (0..n)
        .into_par_iter()
        .map(|j| {
            let mut s = [0.0];
            kern::psi_sums(f.gd, &theta2[j * n..(j + 1) * n], &f.a, &mut s);
            s[0] * inv
        })
        .collect()
}

/// Tiles per side of the node-pair pass (fewer when the tile would be below 256 columns).
const PAIR_TILES: usize = 16;

/// Columns per tile of the node-pair pass at width `n`: at least 256 (a tile's columns, d + 3
/// arrays of that length, stay in the L1/L2 cache) and at most [`PAIR_TILES`] tiles per side.
pub fn pair_tile_size(n: usize) -> usize {
    (n.div_ceil(PAIR_TILES).div_ceil(8) * 8).max(256)
}

/// Risk, V_j and e_j of f = (1/N) Σ_j c_j g(⟨v_j, x⟩) against the teacher g(x₁): the node-pair
/// pass, vectorised over k, on the upper triangle of tiles of [`pair_tile_size`] columns.
pub fn readout(v: &[f64], c: &[f64], n: usize, d: usize) -> Readout {
    readout_tiled(v, c, n, d, pair_tile_size(n))
}

/// [`readout`] with tiles of `tile` ≥ 1 nodes (tests use small tiles to exercise many).
///
/// Every pair of tiles (J ≤ K) is one task ([`kern::pair_tile`]) computing each node pair
/// once for both rows; row j's sums over tile X's columns come from task (J, X) if X ≥ J, else
/// from task (X, J); they are added in X order. The result depends on `tile` (the summation
/// order) but not on the number of threads.
pub fn readout_tiled(v: &[f64], c: &[f64], n: usize, d: usize, tile: usize) -> Readout {
    assert!(tile >= 1);
    let norms: Vec<f64> = v.chunks(d).map(|r| r.iter().map(|x| x * x).sum()).collect();
    let alpha: Vec<f64> = norms.iter().map(|&s| 1.0 / (1.0 + s).sqrt()).collect();
    let mut vt = vec![0.0; n * d];
    for k in 0..n {
        for m in 0..d {
            vt[m * n + k] = v[k * d + m];
        }
    }
    let w = d + 2;
    let nt = n.div_ceil(tile);
    let range = |t: usize| (t * tile, ((t + 1) * tile).min(n));
    let pairs: Vec<(usize, usize)> = (0..nt).flat_map(|a| (a..nt).map(move |b| (a, b))).collect();
    let parts: Vec<(Vec<f64>, Vec<f64>)> = pairs
        .par_iter()
        .map(|&(a, b)| {
            let (ra, rb) = (range(a), range(b));
            let mut fwd = vec![0.0; (ra.1 - ra.0) * w];
            let mut bwd = vec![0.0; if a == b { 0 } else { (rb.1 - rb.0) * w }];
            kern::pair_tile(&vt, &alpha, c, d, ra, rb, &mut fwd, &mut bwd);
            (fwd, bwd)
        })
        .collect();
    // part[(x·n + j)·w ..]: row j's sums over tile x's columns.
    let mut part = vec![0.0; nt * n * w];
    for (&(a, b), (fwd, bwd)) in pairs.iter().zip(parts) {
        let (ra, rb) = (range(a), range(b));
        part[(b * n + ra.0) * w..(b * n + ra.1) * w].copy_from_slice(&fwd);
        if a != b {
            part[(a * n + rb.0) * w..(a * n + rb.1) * w].copy_from_slice(&bwd);
        }
    }
    let inv = 1.0 / n as f64;
    let rows: Vec<(f64, f64, Vec<f64>)> = (0..n)
        .into_par_iter()
        .map(|j| {
            let vj = &v[j * d..(j + 1) * d];
            let nj = norms[j];
            // Σ over the tiles in x order: acc = Σ_k w_jk v_k, sums = (Σ c asin, Σ w ⟨v_j, v_k⟩).
            let mut tot = vec![0.0; w];
            for x in 0..nt {
                let p = &part[(x * n + j) * w..(x * n + j + 1) * w];
                tot.iter_mut().zip(p).for_each(|(t, y)| *t += y);
            }
            let (acc, sums) = tot.split_at(d);
            let rk = FRAC_2_PI * sums[0];
            // Teacher w* = e₁: K(v_j, e₁) and ∇₁K(v_j, e₁), with (1 + |e₁|²) = 2.
            let x1 = vj[0];
            let r = 1.0 / (2.0 * (1.0 + nj) - x1 * x1).sqrt();
            let kt = FRAC_2_PI * libm::asin(x1 * alpha[j] * std::f64::consts::FRAC_1_SQRT_2);
            let big: Vec<f64> = (0..d)
                .map(|m| {
                    let pair = acc[m] - sums[1] * vj[m] * alpha[j] * alpha[j];
                    let teacher = (if m == 0 { 1.0 } else { 0.0 }) - x1 * vj[m] / (1.0 + nj);
                    FRAC_2_PI * (r * teacher - inv * pair)
                })
                .collect();
            (rk, kt, big)
        })
        .collect();
    let mut quad = 0.0;
    let mut lin = 0.0;
    let mut e = Vec::with_capacity(n);
    let mut big_v = Vec::with_capacity(n * d);
    for (j, (rk, kt, big)) in rows.into_iter().enumerate() {
        quad += c[j] * rk;
        lin += c[j] * kt;
        e.push(rk * inv - kt);
        big_v.extend(big);
    }
    Readout {
        risk: quad * inv * inv - 2.0 * inv * lin + 1.0 / 3.0,
        big_v,
        e,
    }
}

/// Everything pass 2 needs, from one state: v, c, the readout.
pub struct Drive {
    pub v: Vec<f64>,
    pub c: Vec<f64>,
    pub r: Readout,
}

/// Pass 1 and the node pairs at the state (θ1, θ2) (θ2 empty for L = 2).
pub fn drive(f: &Frozen, theta1: &[f64], theta2: &[f64]) -> Drive {
    let v = node_vectors(f, theta1);
    let c = if theta2.is_empty() {
        f.a.clone()
    } else {
        readout_b(f, theta2)
    };
    let r = readout(&v, &c, f.n, f.d);
    Drive { v, c, r }
}

/// Row j of the velocity of layer 1 (`layer` = 0) or 2 (`layer` = 1) at the row θ `th` into
/// `out`.
fn velocity_row(f: &Frozen, dr: &Drive, layer: usize, j: usize, th: &[f64], out: &mut [f64]) {
    let d = f.d;
    if layer == 0 {
        let vj = &dr.r.big_v[j * d..(j + 1) * d];
        kern::velocity_row(f.gd, th, &f.ut, vj, 2.0 * dr.c[j], out);
    } else {
        kern::velocity_row(f.gd, th, &f.a, &[1.0], -2.0 * dr.r.e[j], out);
    }
}

/// Risk, velocities (as N² arrays), v and c of `net`: the fast counterpart of
/// [`super::finite::evaluate`] (tests and `bench`; training never forms the arrays).
pub fn evaluate(f: &Frozen, net: &Net) -> Eval {
    let n = f.n;
    let dr = drive(f, &net.theta1, &net.theta2);
    let mut vel = [vec![0.0; n * n], vec![0.0; net.theta2.len()]];
    for (layer, (out, th)) in vel.iter_mut().zip([&net.theta1, &net.theta2]).enumerate() {
        out.par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(j, row)| {
                velocity_row(f, &dr, layer, j, &th[j * n..(j + 1) * n], row);
            });
    }
    let [vel1, vel2] = vel;
    Eval {
        risk: dr.r.risk,
        vel1,
        vel2,
        v: dr.v,
        c: dr.c,
    }
}

/// Risk, v and c only (pass 1 and the node pairs).
pub fn risk(f: &Frozen, net: &Net) -> (f64, Vec<f64>, Vec<f64>) {
    let dr = drive(f, &net.theta1, &net.theta2);
    (dr.r.risk, dr.v, dr.c)
}

/// One Euler step θ ← θ + η·(−N² ∂R/∂θ) of every trained layer, in place (pass 2 fused with
/// the update inside the vector kernel: each block of a row is read, its velocity formed in
/// registers and the updated block written back).
pub fn euler_step(f: &Frozen, net: &mut Net, eta: f64) {
    let n = f.n;
    let d = f.d;
    let dr = drive(f, &net.theta1, &net.theta2);
    net.theta1
        .par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(j, row)| {
            let vj = &dr.r.big_v[j * d..(j + 1) * d];
            kern::euler_row(f.gd, row, &f.ut, vj, 2.0 * dr.c[j], eta);
        });
    net.theta2
        .par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(j, row)| {
            kern::euler_row(f.gd, row, &f.a, &[1.0], -2.0 * dr.r.e[j], eta);
        });
}

/// Scratch of [`rk4_step`]: the stage state and the accumulator of both layers.
pub struct Rk4Scratch {
    stage: [Vec<f64>; 2],
    acc: [Vec<f64>; 2],
}

impl Rk4Scratch {
    pub fn new(net: &Net) -> Rk4Scratch {
        let l = [net.theta1.len(), net.theta2.len()];
        Rk4Scratch {
            stage: [vec![0.0; l[0]], vec![0.0; l[1]]],
            acc: [vec![0.0; l[0]], vec![0.0; l[1]]],
        }
    }
}

/// One classical RK4 step of size `dt` of every trained layer, in place: 3 arrays per layer
/// (state, stage, accumulator), pass 2 of each stage fused with the stage update and with
/// pass 1 of the next stage: as soon as a row of the next stage state is written (still in
/// cache) its ψ-sums (v_j for layer 1, b_j for layer 2) are taken with the same row kernel
/// that [`node_vectors`] and [`readout_b`] use, so the values are the same bits and the
/// stage states are read once per evaluation instead of twice.
pub fn rk4_step(f: &Frozen, net: &mut Net, s: &mut Rk4Scratch, dt: f64) {
    let (n, d) = (f.n, f.d);
    let inv = 1.0 / n as f64;
    let l3 = !net.theta2.is_empty();
    // (weight of k in the accumulator, stage offset as a multiple of dt)
    let stages = [(1.0, 0.5), (2.0, 0.5), (2.0, 1.0), (1.0, 0.0)];
    // v and c of the next stage state, from the fused pass 1 of the previous stage.
    let mut pre: Option<(Vec<f64>, Vec<f64>)> = None;
    for (st, &(w, next)) in stages.iter().enumerate() {
        let dr = match pre.take() {
            None => drive(f, &net.theta1, &net.theta2),
            Some((v, c)) => {
                let r = readout(&v, &c, n, d);
                Drive { v, c, r }
            }
        };
        let fuse = st < 3;
        // Layer 1's rows give v_j (d numbers), layer 2's rows b_j (one).
        let mut nxt = [vec![0.0; n * d], vec![0.0; if l3 { n } else { 0 }]];
        for (layer, (y, nx)) in [&mut net.theta1, &mut net.theta2]
            .into_iter()
            .zip(nxt.iter_mut())
            .enumerate()
        {
            let dl = if layer == 0 { d } else { 1 };
            let cols: &[f64] = if layer == 0 { &f.ut } else { &f.a };
            let (ys, acc) = (&mut s.stage[layer], &mut s.acc[layer]);
            y.par_chunks_mut(n.max(1))
                .zip(ys.par_chunks_mut(n.max(1)))
                .zip(acc.par_chunks_mut(n.max(1)))
                .zip(nx.par_chunks_mut(dl))
                .enumerate()
                .for_each_init(
                    || vec![0.0; n],
                    |k, (j, (((yr, sr), ar), nj))| {
                        let th: &[f64] = if st == 0 { yr } else { sr };
                        velocity_row(f, &dr, layer, j, th, k);
                        match st {
                            0 => {
                                for i in 0..n {
                                    ar[i] = k[i];
                                    sr[i] = yr[i] + next * dt * k[i];
                                }
                            }
                            1 | 2 => {
                                for i in 0..n {
                                    ar[i] += w * k[i];
                                    sr[i] = yr[i] + next * dt * k[i];
                                }
                            }
                            _ => {
                                for i in 0..n {
                                    yr[i] += dt / 6.0 * (ar[i] + k[i]);
                                }
                            }
                        }
                        if fuse {
                            kern::psi_sums(f.gd, sr, cols, nj);
                            nj.iter_mut().for_each(|x| *x *= inv);
                        }
                    },
                );
        }
        if fuse {
            let [v, b] = nxt;
            pre = Some((v, if l3 { b } else { f.a.clone() }));
        }
    }
}

/// Bytes of the fast path's working set beyond the trained state: per layer the stage and
/// accumulator (RK4 only), the frozen transposed features, the node vectors and readout
/// (a few N·d arrays; RK4 one more N·d + N for the next stage's fused pass 1), the node-pair
/// pass's tile partial sums (twice 16·N·(d + 2)), and one row buffer per thread.
pub fn scratch_bytes(layers: usize, n: usize, d: usize, rk4: bool, threads: usize) -> f64 {
    let nf = n as f64;
    let trained = (layers - 1) as f64 * nf * nf;
    let stages = if rk4 { 2.0 * trained } else { 0.0 };
    let next = if rk4 { nf * (d as f64 + 1.0) } else { 0.0 };
    // The node-pair pass's per-tile partial sums, as returned by the tasks and as placed.
    let pairs = 2.0 * PAIR_TILES as f64 * nf * (d as f64 + 2.0);
    8.0 * (stages + next + pairs + 6.0 * nf * d as f64 + 8.0 * nf + threads as f64 * nf)
        + Frozen::bytes(n, d)
}
