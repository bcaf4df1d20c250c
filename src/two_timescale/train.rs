//! Training: the discretised two-timescale mean-field Langevin dynamics on sampled data.
//!
//! Data: x_j ~ N(0, I_d) (j = 1..n), y_j = f°(x_j) + σ·v_j with v_j ~ Unif[−1, 1]; a test set
//! of n_test points with clean targets. Particles w_i ∈ R^{d+1} (i = 1..m) start from
//! N(0, I/λ_w) (`Init::Prior`) or N(0, S² I) (`Init::Sd`). Each iteration recomputes the
//! kernel-ridge readout exactly from the current particles (H = tanh(X̄Wᵀ), K = HHᵀ/m,
//! A = K + nλ̄_a I = LLᵀ, c = A^{-1}y, a = Hᵀc) and moves every particle by
//!
//!   w_i ← w_i − η ∇δG/δμ(w_i) + √(2ηλ) ξ_i,  ξ_i ~ N(0, I_{d+1}),
//!
//! or, with label noise σ̃ > 0 (ε̃ = σ̃·v', v' ~ Unif[−1, 1]^n, e = A^{-1}ε̃), by the gradient
//! of the first variation of G_ε̃ through the noisy readout:
//! ∇δG_ε̃/δμ(w) = −λ̄_a Σ_j (1 − h_j²)(x_j, 1)[(h·c)c_j − (h·e)e_j] + λ̄_w w
//! (derivation and the choice against the envelope drift: `proofs-notes/two-timescale.md`).
//!
//! Paired draws: for one seed every run (every σ and σ̃) uses the same x, test set, v, initial
//! particles, ξ and v' (independent ChaCha8 streams of that seed), so differences between runs
//! are differences of σ and σ̃ only.
//!
//! Fast route and its reuse of [`super::eval`]: H by [`hidden`] (per row block one GEMM
//! X̄Wᵀ fused with the vectorised tanh of `fast::tanh`, an implementation independent of the
//! eval's scalar `f64::tanh`); the lower triangle of the Gram K as a blocked SYRK (lower block
//! rows through `gemm`; the upper triangle is mirrored only at logged iterations, where the
//! diagnostics need it); A's Cholesky factor blocked in place (diagonal blocks by
//! [`eval::cholesky`], panels by [`eval::forward`], trailing updates through `gemm`); c by
//! [`eval::forward`]/[`eval::backward`]; the drift as one GEMM Bᵀ[X 1] with
//! B_ji = (1 − H_ji²)Σ_t s_t α_{t,i} v_{t,j}. Diagnostics at logged iterations go through the
//! eval's own functions ([`eval::degrees_of_freedom`], [`eval::alignment`]).
//!
//! Accuracy contract: one step agrees with the eval's one-step map (`after_langevin_step`,
//! `after_label_noise_step`) within C·κ(A)·(n + m + d)·2^{-53} relative to the particles' scale
//! (tested with C = 64 over a few chained steps in `tests/two_timescale_train.rs`).
//!
//! Determinism: every parallel loop splits a fixed partition (blocks of [`BLOCK`] rows or
//! particles) and calls `gemm` single-threaded inside a block, and every sum runs in a fixed
//! order, so the bits do not depend on the number of threads.

use super::eval::{self, Core};
use super::ParamsF64;
use crate::fast::gemm::{gemm, Par, View};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Block size of the SYRK, the Cholesky factorisation and the drift GEMM.
pub const BLOCK: usize = 64;

/// Largest n² + n·m + n_test² + n_test·m (entries) training accepts (about 2 GiB live).
pub const MAX_ENTRIES: usize = super::MAX_ENTRIES;

/// Initial law of the particles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// ν = N(0, I/λ_w), the prior of the entropic regulariser.
    Prior,
    /// N(0, S² I).
    Sd(f64),
}

impl Init {
    /// Parses `prior` or `sd=S` (S > 0, finite).
    pub fn parse(s: &str) -> Result<Init, String> {
        if s == "prior" {
            return Ok(Init::Prior);
        }
        match s.strip_prefix("sd=").map(str::parse::<f64>) {
            Some(Ok(v)) if v.is_finite() && v > 0.0 => Ok(Init::Sd(v)),
            _ => Err(format!(
                "--init {s}: expected `prior` or `sd=S` with S a positive number"
            )),
        }
    }
    /// The standard deviation of each coordinate.
    pub fn sd(self, lambda_w: f64) -> f64 {
        match self {
            Init::Prior => 1.0 / lambda_w.sqrt(),
            Init::Sd(s) => s,
        }
    }
    pub fn name(self) -> String {
        match self {
            Init::Prior => "prior".into(),
            Init::Sd(s) => format!("sd={s}"),
        }
    }
}

/// Everything a training run is a function of, besides (σ, σ̃, seed).
#[derive(Clone, Debug)]
pub struct Config {
    pub d: usize,
    pub n: usize,
    pub n_test: usize,
    pub m: usize,
    pub iters: usize,
    /// Diagnostics at iterations 0, k·log_every and `iters`.
    pub log_every: usize,
    /// λ, λ_a, λ_w, η (σ̃ is per run).
    pub params: ParamsF64,
    pub init: Init,
    /// f°(x) = Π_{k ∈ target} x_k (0-based).
    pub target: Vec<usize>,
}

/// One run of a training job.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSpec {
    pub sigma: f64,
    pub label_noise: f64,
    pub seed: u64,
}

/// Given draws replacing the random ξ and ε̃: one row per iteration.
#[derive(Clone, Debug)]
pub struct Draws {
    /// iters rows of m·(d + 1) values.
    pub xi: Vec<Vec<f64>>,
    /// iters rows of n values, used as ε̃ itself in runs with σ̃ > 0.
    pub eps: Option<Vec<Vec<f64>>>,
}

/// The sampled data and initial particles of one (seed, σ).
#[derive(Clone, Debug)]
pub struct Problem {
    /// n × d.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// f°(x_j).
    pub clean: Vec<f64>,
    /// n_test × d and f° there.
    pub x_test: Vec<f64>,
    pub clean_test: Vec<f64>,
    /// m × (d + 1).
    pub w0: Vec<f64>,
}

/// Stream numbers of one seed's independent draws.
mod stream {
    pub const X: u64 = 0;
    pub const TEST: u64 = 1;
    pub const LABEL: u64 = 2;
    pub const INIT: u64 = 3;
    pub const XI: u64 = 4;
    pub const EPS: u64 = 5;
}

fn rng(seed: u64, s: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(s);
    r
}

/// `count` values uniform on [−1, 1) (53-bit).
pub fn uniforms(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count)
        .map(|_| 2.0 * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) - 1.0)
        .collect()
}

/// The data and initial particles of `seed` at label-noise level σ (paired across σ: the same
/// x, v and particles for every σ).
pub fn problem(cfg: &Config, seed: u64, sigma: f64) -> Problem {
    let (n, d, m) = (cfg.n, cfg.d, cfg.m);
    let x = crate::sampling::gaussians(&mut rng(seed, stream::X), n * d);
    let x_test = crate::sampling::gaussians(&mut rng(seed, stream::TEST), cfg.n_test * d);
    let v = uniforms(&mut rng(seed, stream::LABEL), n);
    let t = super::Target::Product(cfg.target.clone());
    let clean = eval::target_values(&t, &x, d).unwrap_or_default();
    let clean_test = eval::target_values(&t, &x_test, d).unwrap_or_default();
    let y = clean.iter().zip(&v).map(|(f, v)| f + sigma * v).collect();
    let sd = cfg.init.sd(cfg.params.lambda_w);
    let w0 = crate::sampling::gaussians(&mut rng(seed, stream::INIT), m * (d + 1))
        .into_iter()
        .map(|g| sd * g)
        .collect();
    Problem {
        x,
        y,
        clean,
        x_test,
        clean_test,
        w0,
    }
}

/// H = tanh(X̄Wᵀ) for rows x_j of `x` (count × d, X̄ = [X 1]) and particles `w` (m × (d + 1)):
/// count × m, row-major. Fused per fixed block of [`BLOCK`] rows: one single-threaded GEMM
/// X̄_block Wᵀ, then the vectorised [`crate::fast::tanh::tanh_in_place`] on the block while it
/// is in cache. Each entry is the GEMM's sum of d + 1 products (within γ_{d+1}Σ|u_k x_k| + |b|
/// of the exact argument) passed through a tanh within 4 ulp.
pub fn hidden(x: &[f64], d: usize, w: &[f64], m: usize) -> Vec<f64> {
    let dp = d + 1;
    let count = x.len() / d.max(1);
    let mut x1 = vec![1.0; count * dp];
    for j in 0..count {
        x1[j * dp..j * dp + d].copy_from_slice(&x[j * d..(j + 1) * d]);
    }
    let mut h = vec![0.0; count * m];
    if m == 0 {
        return h;
    }
    h.par_chunks_mut(BLOCK * m)
        .enumerate()
        .for_each(|(b, blk)| {
            let rows = blk.len() / m;
            gemm(
                rows,
                m,
                dp,
                blk,
                0,
                m,
                false,
                View::rows(&x1, b * BLOCK * dp, dp),
                View::transposed(w, 0, dp),
                Par::None,
            );
            crate::fast::tanh::tanh_in_place(blk);
        });
    h
}

/// The lower triangle of K = HHᵀ/m for H rows × m (row-major), as a blocked SYRK: block row
/// [r0, r1) computes columns [0, r1) with one single-threaded GEMM. The strict upper triangle
/// of the result is zero (the Cholesky factorisation reads only the lower one).
pub fn gram_lower(h: &[f64], rows: usize, m: usize) -> Vec<f64> {
    let mut k = vec![0.0; rows * rows];
    let mf = m as f64;
    k.par_chunks_mut(BLOCK * rows.max(1))
        .enumerate()
        .for_each(|(b, chunk)| {
            let (r0, r1) = (b * BLOCK, b * BLOCK + chunk.len() / rows);
            gemm(
                r1 - r0,
                r1,
                m,
                chunk,
                0,
                rows,
                false,
                View::rows(h, r0 * m, m),
                View::transposed(h, 0, m),
                Par::None,
            );
            for (q, row) in chunk.chunks_exact_mut(rows).enumerate() {
                let j = r0 + q;
                row[..=j].iter_mut().for_each(|v| *v /= mf);
                row[j + 1..].fill(0.0);
            }
        });
    k
}

/// Copies the lower triangle of the n × n matrix `k` onto its upper one.
pub fn mirror(k: &mut [f64], n: usize) {
    for j in 0..n {
        for l in j + 1..n {
            k[j * n + l] = k[l * n + j];
        }
    }
}

/// K = HHᵀ/m for H rows × m (row-major): [`gram_lower`] mirrored, so K is symmetric bit for
/// bit.
pub fn gram(h: &[f64], rows: usize, m: usize) -> Vec<f64> {
    let mut k = gram_lower(h, rows, m);
    mirror(&mut k, rows);
    k
}

/// Lower Cholesky factor of the symmetric positive definite n × n matrix `a` (row-major; only
/// the lower triangle is read), blocked right-looking: diagonal blocks by [`eval::cholesky`],
/// panel rows by [`eval::forward`], the trailing lower triangle updated by single-threaded
/// GEMMs over fixed row blocks. Upper part of the result is zero.
pub fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>, String> {
    cholesky_owned(a.to_vec(), n)
}

/// [`cholesky`] overwriting `a` (no copy).
pub fn cholesky_owned(a: Vec<f64>, n: usize) -> Result<Vec<f64>, String> {
    let mut l = a;
    for k0 in (0..n).step_by(BLOCK) {
        let k1 = (k0 + BLOCK).min(n);
        let kb = k1 - k0;
        let mut blk = vec![0.0; kb * kb];
        for i in 0..kb {
            for j in 0..=i {
                blk[i * kb + j] = l[(k0 + i) * n + k0 + j];
            }
        }
        let lkk = eval::cholesky(&blk, kb).map_err(|e| format!("block at row {k0}: {e}"))?;
        for i in 0..kb {
            l[(k0 + i) * n + k0..(k0 + i) * n + k1].copy_from_slice(&lkk[i * kb..(i + 1) * kb]);
        }
        if k1 == n {
            break;
        }
        // panel: L_ik = A_ik L_kkᵀ^{-1}, row by row
        l[k1 * n..].par_chunks_mut(n).for_each(|row| {
            let z = eval::forward(&lkk, kb, &row[k0..k1]);
            row[k0..k1].copy_from_slice(&z);
        });
        // trailing: A_22 ← A_22 − P Pᵀ (lower block rows), with P = L[k1.., k0..k1]
        let rest = n - k1;
        let mut neg = vec![0.0; rest * kb];
        for i in 0..rest {
            for t in 0..kb {
                neg[i * kb + t] = -l[(k1 + i) * n + k0 + t];
            }
        }
        let pos: Vec<f64> = neg.iter().map(|v| -v).collect();
        l[k1 * n..]
            .par_chunks_mut(BLOCK * n)
            .enumerate()
            .for_each(|(b, chunk)| {
                let rows = chunk.len() / n;
                let (r0, r1) = (b * BLOCK, b * BLOCK + rows);
                gemm(
                    rows,
                    r1,
                    kb,
                    chunk,
                    k1,
                    n,
                    true,
                    View::rows(&neg, r0 * kb, kb),
                    View::transposed(&pos, 0, kb),
                    Par::None,
                );
            });
    }
    for i in 0..n {
        l[i * n + i + 1..(i + 1) * n].fill(0.0);
    }
    Ok(l)
}

/// Hᵀv for H rows × m: particles in fixed blocks, each a sum over rows in order.
pub fn h_t_times(h: &[f64], rows: usize, m: usize, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; m];
    out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, o)| {
        let i0 = b * BLOCK;
        for j in 0..rows {
            let vj = v[j];
            let row = &h[j * m + i0..j * m + i0 + o.len()];
            for (oi, hv) in o.iter_mut().zip(row) {
                *oi += hv * vj;
            }
        }
    });
    out
}

/// The readout state of one particle set (clean labels).
pub struct State {
    /// n × m.
    pub h: Vec<f64>,
    /// The lower triangle of K (strict upper triangle zero; [`mirror`] completes it).
    pub k: Vec<f64>,
    pub l: Vec<f64>,
    pub c: Vec<f64>,
    pub a: Vec<f64>,
}

/// H, K, L, c, a at particles `w`.
pub fn state(x: &[f64], y: &[f64], d: usize, w: &[f64], p: &ParamsF64) -> Result<State, String> {
    let n = y.len();
    let m = w.len() / (d + 1);
    let h = hidden(x, d, w, m);
    let k = gram_lower(&h, n, m);
    let mut amat = k.clone();
    let ridge = n as f64 * p.lambda * p.lambda_a;
    for j in 0..n {
        amat[j * n + j] += ridge;
    }
    let l = cholesky_owned(amat, n)?;
    let c = eval::backward(&l, n, &eval::forward(&l, n, y));
    let a = h_t_times(&h, n, m, &c);
    Ok(State { h, k, l, c, a })
}

/// ∇_w of −(λ̄_a/2)Σ_t s_t (h(X;w)·v_t)² + (λ̄_w/2)|w|² at every particle, for terms
/// (s_t, α_t = Hᵀv_t, v_t): one GEMM Bᵀ[X 1] per block of particles.
pub fn drift(
    x: &[f64],
    d: usize,
    w: &[f64],
    s: &State,
    p: &ParamsF64,
    terms: &[(f64, &[f64], &[f64])],
) -> Vec<f64> {
    let dp = d + 1;
    let n = s.c.len();
    let m = s.a.len();
    let lam_a = p.lambda * p.lambda_a;
    let lam_w = p.lambda * p.lambda_w;
    let mut x1 = vec![1.0; n * dp];
    for j in 0..n {
        x1[j * dp..j * dp + d].copy_from_slice(&x[j * d..(j + 1) * d]);
    }
    let mut out = vec![0.0; m * dp];
    out.par_chunks_mut(BLOCK * dp)
        .enumerate()
        .for_each(|(b, o)| {
            let i0 = b * BLOCK;
            let bs = o.len() / dp;
            // s_t α_{t,i} for the block's particles, then B row by row (contiguous, vectorisable)
            let sa: Vec<Vec<f64>> = terms
                .iter()
                .map(|(st, alpha, _)| alpha[i0..i0 + bs].iter().map(|a| st * a).collect())
                .collect();
            let mut bm = vec![0.0; n * bs];
            let mut coef = vec![0.0; bs];
            for j in 0..n {
                coef.fill(0.0);
                for (sat, (_, _, vt)) in sa.iter().zip(terms) {
                    let v = vt[j];
                    for (cq, sq) in coef.iter_mut().zip(sat) {
                        *cq += sq * v;
                    }
                }
                let hrow = &s.h[j * m + i0..j * m + i0 + bs];
                let brow = &mut bm[j * bs..(j + 1) * bs];
                for ((b, cq), hv) in brow.iter_mut().zip(&coef).zip(hrow) {
                    *b = cq * (1.0 - hv * hv);
                }
            }
            gemm(
                bs,
                dp,
                n,
                o,
                0,
                dp,
                false,
                View::transposed(&bm, 0, bs),
                View::rows(&x1, 0, dp),
                Par::None,
            );
            for q in 0..bs {
                for k in 0..dp {
                    let g = &mut o[q * dp + k];
                    *g = -lam_a * *g + lam_w * w[(i0 + q) * dp + k];
                }
            }
        });
    out
}

/// One iteration: the drift at `w` (clean, or through the noisy readout when `eps` is given)
/// and the update w − η·drift + √(2ηλ)ξ. Returns the state at `w` (for diagnostics) and the
/// new particles.
pub fn step(
    x: &[f64],
    y: &[f64],
    d: usize,
    w: &[f64],
    p: &ParamsF64,
    xi: &[f64],
    eps: Option<&[f64]>,
) -> Result<(State, Vec<f64>), String> {
    let n = y.len();
    let s = state(x, y, d, w, p)?;
    let m = s.a.len();
    let g = match eps {
        None => drift(x, d, w, &s, p, &[(1.0, &s.a, &s.c)]),
        Some(eps) => {
            let e = eval::backward(&s.l, n, &eval::forward(&s.l, n, eps));
            let ae = h_t_times(&s.h, n, m, &e);
            drift(x, d, w, &s, p, &[(1.0, &s.a, &s.c), (-1.0, &ae, &e)])
        }
    };
    let sc = (2.0 * p.eta * p.lambda).sqrt();
    let w2 = w
        .iter()
        .zip(&g)
        .zip(xi)
        .map(|((wk, gk), xk)| wk - p.eta * gk + sc * xk)
        .collect();
    Ok((s, w2))
}

/// One logged row of `curves.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub iter: usize,
    pub g: f64,
    pub u: f64,
    pub reg: f64,
    pub dof: f64,
    pub align: Option<f64>,
    pub align_y: Option<f64>,
    pub align_test: Option<f64>,
    pub train_mse: f64,
    pub train_mse_clean: f64,
    pub test_mse: Option<f64>,
    pub a_l2: f64,
    pub w_sq: f64,
    pub subspace_align: f64,
}

/// The curves.csv header (after sigma, label_noise, seed).
pub const COLUMNS: &str = "sigma,label_noise,seed,iter,G,U,reg,dof,align,align_y,align_test,\
train_mse,train_mse_clean,test_mse,a_l2,w_sq,subspace_align";

fn mean(v: impl Iterator<Item = f64>, count: usize) -> f64 {
    v.sum::<f64>() / count as f64
}

/// The diagnostics of the clean readout state `s` at particles `w`.
pub fn diagnostics(cfg: &Config, pr: &Problem, iter: usize, w: &[f64], mut s: State) -> Row {
    let (n, d, m) = (cfg.n, cfg.d, cfg.m);
    mirror(&mut s.k, n);
    let dp = d + 1;
    let lam_a = cfg.params.lambda * cfg.params.lambda_a;
    let lam_w = cfg.params.lambda * cfg.params.lambda_w;
    let u = 0.5 * lam_a * pr.y.iter().zip(&s.c).map(|(a, b)| a * b).sum::<f64>();
    let w_sq = mean(w.iter().map(|v| v * v), m);
    let reg = 0.5 * lam_w * w_sq;
    let f: Vec<f64> = (0..n)
        .map(|j| {
            s.k[j * n..(j + 1) * n]
                .iter()
                .zip(&s.c)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect();
    let train_mse = mean(f.iter().zip(&pr.y).map(|(a, b)| (a - b) * (a - b)), n);
    let train_mse_clean = mean(f.iter().zip(&pr.clean).map(|(a, b)| (a - b) * (a - b)), n);
    let a_l2 = mean(s.a.iter().map(|v| v * v), m);
    let subspace_align = mean(
        w.chunks(dp).map(|wi| {
            let u2: f64 = wi[..d].iter().map(|v| v * v).sum();
            let t: f64 = cfg.target.iter().map(|&k| wi[k] * wi[k]).sum();
            if u2 > 0.0 {
                t / u2
            } else {
                0.0
            }
        }),
        m,
    );
    let (mut align_test, mut test_mse) = (None, None);
    if cfg.n_test > 0 {
        let ht = hidden(&pr.x_test, d, w, m);
        let ft: Vec<f64> = (0..cfg.n_test)
            .map(|j| {
                ht[j * m..(j + 1) * m]
                    .iter()
                    .zip(&s.a)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    / m as f64
            })
            .collect();
        test_mse = Some(mean(
            ft.iter()
                .zip(&pr.clean_test)
                .map(|(a, b)| (a - b) * (a - b)),
            cfg.n_test,
        ));
        align_test = eval::alignment(&gram(&ht, cfg.n_test, m), &pr.clean_test);
    }
    let align = eval::alignment(&s.k, &pr.clean);
    let align_y = eval::alignment(&s.k, &pr.y);
    let ht = eval::transpose(&s.h, n, m);
    let core = Core {
        n,
        m,
        h: s.h,
        ht,
        k: s.k,
        l: s.l,
        c: s.c,
        a: s.a,
        u,
        reg,
        objective: u + reg,
    };
    Row {
        iter,
        g: u + reg,
        u,
        reg,
        dof: eval::degrees_of_freedom(&core),
        align,
        align_y,
        align_test,
        train_mse,
        train_mse_clean,
        test_mse,
        a_l2,
        w_sq,
        subspace_align,
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub spec: RunSpec,
    pub rows: Vec<Row>,
    /// The particles after the last iteration.
    pub w: Vec<f64>,
}

fn logged(cfg: &Config, it: usize) -> bool {
    it == 0 || it == cfg.iters || (cfg.log_every > 0 && it % cfg.log_every == 0)
}

/// Runs one (σ, σ̃, seed) for `cfg.iters` iterations; ξ and ε̃ from the seed's streams, or
/// from `draws` when given (ε̃ used as given when σ̃ > 0).
pub fn run(cfg: &Config, spec: RunSpec, draws: Option<&Draws>) -> Result<Trajectory, String> {
    run_from(cfg, &problem(cfg, spec.seed, spec.sigma), spec, draws)
}

/// [`run`] on given data and initial particles (`pr`; its shapes must match `cfg`).
pub fn run_from(
    cfg: &Config,
    pr: &Problem,
    spec: RunSpec,
    draws: Option<&Draws>,
) -> Result<Trajectory, String> {
    let dp = cfg.d + 1;
    let mut xi_rng = rng(spec.seed, stream::XI);
    let mut eps_rng = rng(spec.seed, stream::EPS);
    let mut w = pr.w0.clone();
    let mut rows = Vec::new();
    for it in 0..cfg.iters {
        let xi = match draws {
            Some(dr) => dr.xi[it].clone(),
            None => crate::sampling::gaussians(&mut xi_rng, cfg.m * dp),
        };
        // the unit draw is taken every iteration, so runs stay paired across σ̃
        let eps: Option<Vec<f64>> = match draws {
            Some(dr) => dr.eps.as_ref().map(|e| e[it].clone()),
            None => Some(
                uniforms(&mut eps_rng, cfg.n)
                    .into_iter()
                    .map(|v| spec.label_noise * v)
                    .collect(),
            ),
        }
        .filter(|_| spec.label_noise > 0.0);
        let (s, w2) = step(&pr.x, &pr.y, cfg.d, &w, &cfg.params, &xi, eps.as_deref())
            .map_err(|e| format!("iteration {it}: {e}"))?;
        if logged(cfg, it) {
            rows.push(diagnostics(cfg, pr, it, &w, s));
        }
        w = w2;
    }
    let s = state(&pr.x, &pr.y, cfg.d, &w, &cfg.params)
        .map_err(|e| format!("iteration {}: {e}", cfg.iters))?;
    rows.push(diagnostics(cfg, pr, cfg.iters, &w, s));
    Ok(Trajectory { spec, rows, w })
}

/// Runs every spec, in order of `specs`: concurrently (one rayon task per run, each still
/// splitting its own fixed blocks) when all of them fit in memory at once (specs · [`entries`]
/// ≤ [`MAX_ENTRIES`]), else one after another. At small n and m a single iteration is too
/// short to keep two cores busy, so whole runs are the better unit of parallel work. Each run
/// is a function of (cfg, spec, draws) only, so the results are the same bits either way.
pub fn run_all(
    cfg: &Config,
    specs: &[RunSpec],
    draws: Option<&Draws>,
) -> Vec<Result<Trajectory, String>> {
    if specs.len().saturating_mul(entries(cfg)) <= MAX_ENTRIES {
        specs.par_iter().map(|&s| run(cfg, s, draws)).collect()
    } else {
        specs.iter().map(|&s| run(cfg, s, draws)).collect()
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// The curves.csv lines of one trajectory (shortest round-trip decimals; empty cell when a
/// quantity is undefined).
pub fn csv_lines(t: &Trajectory) -> String {
    let mut s = String::new();
    for r in &t.rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            t.spec.sigma,
            t.spec.label_noise,
            t.spec.seed,
            r.iter,
            r.g,
            r.u,
            r.reg,
            r.dof,
            cell(r.align),
            cell(r.align_y),
            cell(r.align_test),
            r.train_mse,
            r.train_mse_clean,
            cell(r.test_mse),
            r.a_l2,
            r.w_sq,
            r.subspace_align
        ));
    }
    s
}

/// The runs of a job: every σ without label noise, then every σ̃ > 0 at σ = `noise_sigma`,
/// for every seed (seed-major).
pub fn runs(sigmas: &[f64], label_noises: &[f64], noise_sigma: f64, seeds: &[u64]) -> Vec<RunSpec> {
    let mut pairs: Vec<(f64, f64)> = sigmas.iter().map(|&s| (s, 0.0)).collect();
    for &t in label_noises {
        let p = (noise_sigma, t);
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    seeds
        .iter()
        .flat_map(|&seed| {
            pairs.iter().map(move |&(sigma, label_noise)| RunSpec {
                sigma,
                label_noise,
                seed,
            })
        })
        .collect()
}

/// Entries the run holds at once (n², n·m, n_test², n_test·m), for the memory check.
pub fn entries(cfg: &Config) -> usize {
    let (n, m, t) = (cfg.n, cfg.m, cfg.n_test);
    n.saturating_mul(n)
        .saturating_add(n.saturating_mul(m))
        .saturating_add(t.saturating_mul(t))
        .saturating_add(t.saturating_mul(m))
}
