//! The moment-tensor route, for polynomial κ and κ_{zσ',σ} in small d.
//!
//! For each power m = k − 1 with p_k ≠ 0 or r_k ≠ 0 (κ = Σ p_k s^k, κ_{zσ',σ} = Σ r_k s^k), let
//! P_m(w) = Σ_j a_j ⟨w, w_j⟩^{m+1} = Σ_ν c_ν w^ν, a homogeneous polynomial of degree q = m + 1
//! in d variables whose coefficients are the symmetric tensor Σ_j a_j w_j^{⊗q}:
//! c_ν = mult(ν) Σ_j a_j w_j^ν over multisets ν of size q (mult = multinomial coefficient).
//! Then Σ_j a_j s_ij^m w_j = ∇P_m(w_i)/(m + 1), Σ_j a_j s_ij^{m+1} = P_m(w_i), hence
//! S_i = Σ_m p_{m+1} ∇P_m(w_i) and the row sums of κ and κ_{zσ',σ} follow from P_m(w_i).
//!
//! Multisets are ordered colexicographically: those with largest element ≤ λ come first, and
//! the block of those with largest element λ is {ρ + λ : ρ of size r − 1, max ρ ≤ λ}, an initial
//! segment of the previous size (D_r = C(d + r − 1, r) multisets of size r). The D_q unique
//! coefficients are grouped in blocks B_σ[λ − σ][x] = c_{ρ'_x + σ + λ} (λ ≥ σ, ρ'_x the x-th
//! multiset of size m − 1, max ρ'_x ≤ σ), see [`Plan`]. With u = (w^{ρ'_x})_x,
//! P(w) = Σ_σ Σ_r w_σ w_{σ+r} (B_σ u)_r, so (reverse-mode differentiation along the colex tree)
//! ∂_k P = Y_k + G_k + ∂_k[Σ_x next_x u_x]_{next fixed} with
//! Y_λ = Σ_{σ ≤ λ} w_σ (B_σ u)_{λ−σ}, G_σ = Σ_r w_{σ+r} (B_σ u)_r and
//! next_x = Σ_{σ ≥ max ρ'_x} Σ_r B_σ[r][x] w_σ w_{σ+r}; the last bracket is a degree-(m − 1)
//! polynomial in u's variables, split again level by level down to degree 0; P = Σ_λ w_λ Y_λ.
//! - build: B_σ[r][x] += Σ_j (a_j w_jσ w_j,σ+r) w_j^{ρ'_x}, the neurons in [`PARTS`] fixed parts
//!   and, within a part, in chunks of [`CHUNK`] taken in order; a 4 × 12 block of outputs is
//!   held in registers while the chunk streams past (outer products: one broadcast pair product
//!   and three vectors of monomials per neuron); D_q FMAs per neuron.
//! - evaluate, eight neurons per tile (two vectors, lane-major), one block σ at a time:
//!   ydot = B_σ u in blocks of up to six rows (twelve accumulators; B_σ is stored in the
//!   panel layout of `build`, so that a column's coefficients are adjacent), then Y and G from
//!   ydot, then next += B_σᵀ φ (φ_r = w_σ w_{σ+r}) in blocks of up to six columns, reading B_σ
//!   a second time while it is in cache; 2 D_q + 2 Σ_{r<m} D_r + D_2 FMAs per neuron. Every
//!   coefficient broadcast serves eight neurons.
//!
//! Accuracy contract (proofs-notes/fast-path.md §4): only products and sums of the inputs and of
//! exact integer multinomials, so each computed entry of ∇P_m(w_i) is within γ_h of the sum of
//! the magnitudes of its terms, (m+1) Σ_j |a_j| ⟨|w_i|, |w_j|⟩^m |w_jk|, with h from
//! [`depth`].

use super::simd::V4;
use super::{Interaction, Problem, Quantities};
use rayon::prelude::*;

/// Largest tensor order q = m + 1 the route accepts (multinomials stay exact far beyond).
const MAX_ORDER: usize = 16;
/// Largest symmetric tensor (entries, D_{m+1}) the route accepts: 2^24 (128 MiB).
const MAX_ENTRIES: u128 = 1 << 24;
/// Neurons per rayon task of the evaluation (a fixed partition: results do not depend on the
/// number of threads).
const TASK: usize = 64;
/// Neurons per chunk of the build (the reduction dimension held in cache).
const CHUNK: usize = 128;
/// Fixed number of neuron parts (rayon tasks, partial tensors) of the build.
const PARTS: usize = 16;
/// f64 lanes per SIMD vector.
const L: usize = 4;
type Lanes = [f64; L];
/// Columns of one build tile (three vectors): the output block B_σ[r0..r0+4][x0..x0+12] is
/// held in twelve registers while the chunk's neurons stream past.
const XB: usize = 12;
/// Vectors per evaluation tile: every coefficient loaded (broadcast) from the tensor serves
/// LE = L·KV neurons.
const KV: usize = 2;
const LE: usize = L * KV;
type ELanes = [f64; LE];

/// Number of multisets of size r over an alphabet of `a` letters, C(a + r − 1, r).
fn msets(a: usize, r: usize) -> u128 {
    if r == 0 {
        return 1;
    }
    if a == 0 {
        return 0;
    }
    let (n, k) = ((a + r - 1) as u128, r as u128);
    let k = k.min(n - k);
    let mut b: u128 = 1;
    for i in 0..k {
        b = b.saturating_mul(n - i) / (i + 1);
    }
    b
}

/// The precomputed index structure for one power m ≥ 1.
struct Plan {
    m: usize,
    d: usize,
    /// dims[r] = D_r for r = 0..=m.
    dims: Vec<usize>,
    /// off[r] = start of level r (r < m) in a monomial buffer of length off[m].
    off: Vec<usize>,
    /// start[r][λ], len[r][λ]: the block of level r (r ≥ 1) with largest element λ.
    start: Vec<Vec<usize>>,
    len: Vec<Vec<usize>>,
    /// boff[σ]: start of B_σ in the coefficient storage (B_σ is (d − σ) × len[m][σ],
    /// B_σ[λ − σ][x] = c_{ρ'_x + σ + λ}, ρ'_x the x-th multiset of size m − 1); boff[d] = D_{m+1}.
    boff: Vec<usize>,
}

impl Plan {
    fn new(m: usize, d: usize) -> Plan {
        assert!(m >= 1);
        let dims: Vec<usize> = (0..=m).map(|r| msets(d, r) as usize).collect();
        let mut off = vec![0; m + 1];
        for r in 1..=m {
            off[r] = off[r - 1] + dims[r - 1];
        }
        let start = (0..=m)
            .map(|r| (0..d).map(|l| msets(l, r) as usize).collect())
            .collect();
        let len: Vec<Vec<usize>> = (0..=m)
            .map(|r| {
                (0..d)
                    .map(|l| {
                        if r == 0 {
                            0
                        } else {
                            msets(l + 1, r - 1) as usize
                        }
                    })
                    .collect()
            })
            .collect();
        let mut boff = vec![0; d + 1];
        for sigma in 0..d {
            boff[sigma + 1] = boff[sigma] + (d - sigma) * len[m][sigma];
        }
        Plan {
            m,
            d,
            dims,
            off,
            start,
            len,
            boff,
        }
    }

    /// Multinomial coefficients of order m + 1, per row ρ of size m (colex index), as
    /// (mult(ρ), max ρ, multiplicity of max ρ); mult(ρ + λ) = mult(ρ)(m+1)/(n_λ(ρ) + 1).
    fn row_multinomials(&self) -> Vec<(u128, usize, u128)> {
        let mut level = vec![(1u128, usize::MAX, 0u128)];
        for r in 1..=self.m {
            let mut next = vec![(0, 0, 0); self.dims[r]];
            for l in 0..self.d {
                for x in 0..self.len[r][l] {
                    let (mult, last, nlast) = level[x];
                    let n = if last == l { nlast + 1 } else { 1 };
                    next[self.start[r][l] + x] = (mult * r as u128 / n, l, n);
                }
            }
            level = next;
        }
        level
    }
}

/// The powers m needed and their weights in (S, row sum of κ, row sum of κ_{zσ',σ}), with p_0
/// and r_0, or None when the route is not available.
#[allow(clippy::type_complexity)]
fn powers(p: &Problem, q: Quantities) -> Option<(Vec<(usize, f64, f64)>, f64, f64)> {
    let pk = p.kappa.coefficients()?;
    let rk = if q == Quantities::All {
        p.kappa_radial.coefficients()?
    } else {
        vec![0.0]
    };
    let top = pk.len().max(rk.len());
    let mut out = vec![];
    for k in 1..top {
        let (pv, rv) = (*pk.get(k).unwrap_or(&0.0), *rk.get(k).unwrap_or(&0.0));
        if pv != 0.0 || rv != 0.0 {
            if k > MAX_ORDER || msets(p.d, k) > MAX_ENTRIES {
                return None;
            }
            out.push((k - 1, pv, rv));
        }
    }
    Some((out, pk[0], rk[0]))
}

/// Flop model of the route (per tensor entry: build 2, Y and next 2 + 2; lower levels 4 per
/// entry of sizes 1..m − 1), None when the route is not available.
pub(crate) fn flops(p: &Problem, q: Quantities) -> Option<f64> {
    let (pw, _, _) = powers(p, q)?;
    let d = p.d;
    let per_neuron: f64 = pw
        .iter()
        .map(|&(m, _, _)| {
            let tensor = msets(d, m + 1) as f64;
            let levels: f64 = (1..m).map(|r| msets(d, r) as f64).sum();
            6.0 * tensor + 4.0 * levels + 4.0 * d as f64
        })
        .sum();
    Some(p.n as f64 * per_neuron)
}

/// Rounding depth of one entry of ∇P_m or P_m (proofs-notes/fast-path.md §4): at most
/// N + m + 1 roundings in the build (m products forming a_j w_j^ν, N − 1 sums, one
/// multinomial), and along any path of the evaluation at most m products of w_i^ρ plus the sums
/// of the levels it passes (the top level's next over at most D_2 pairs, level r over at most
/// D_r + 2d terms); N + 2m + 8 + Σ_{r ≤ m} (D_r + 2d) + (m + 1) d bounds both with room.
pub(crate) fn depth(n: usize, d: usize, m: usize) -> f64 {
    let levels: f64 = (0..=m).map(|r| msets(d, r) as f64 + 2.0 * d as f64).sum();
    n as f64 + 2.0 * m as f64 + 8.0 + levels + (m as f64 + 1.0) * d as f64
}

/// The powers m used (for `fast::error`): (m, p_{m+1}, r_{m+1}), p_0, r_0.
#[allow(clippy::type_complexity)]
pub(crate) fn used_powers(
    p: &Problem,
    q: Quantities,
) -> Option<(Vec<(usize, f64, f64)>, f64, f64)> {
    powers(p, q)
}

pub(crate) fn interaction(p: &Problem, q: Quantities) -> Interaction {
    let (n, d) = (p.n, p.d);
    let (pw, p0, r0) = powers(p, q).expect("moment route checked by the caller");
    let asum: f64 = p.a.iter().sum();
    let mut s = vec![0.0; n * d];
    let mut lsum = vec![p0 * asum; n];
    let mut rsum = vec![if q == Quantities::All { r0 * asum } else { 0.0 }; n];
    for &(m, pc, rc) in &pw {
        let (plan, c) = if m == 0 {
            (None, first_moment(p))
        } else {
            let plan = Plan::new(m, d);
            let c = build(p, &plan);
            (Some(plan), c)
        };
        s.par_chunks_mut(TASK * d)
            .zip(lsum.par_chunks_mut(TASK))
            .zip(rsum.par_chunks_mut(TASK))
            .enumerate()
            .for_each_init(
                // Work space per worker, every entry rewritten before it is read.
                || {
                    let scratch = Scratch::new(plan.as_ref(), d);
                    (scratch, vec![0.0; TASK * d], vec![0.0; TASK])
                },
                |(scratch, grad, val), (b, ((s_blk, l_blk), r_blk))| {
                    let rows = l_blk.len();
                    for t0 in (0..rows).step_by(LE) {
                        let nl = LE.min(rows - t0);
                        let i0 = b * TASK + t0;
                        let w = &p.w[i0 * d..(i0 + nl) * d];
                        let (g, v) = (&mut grad[t0 * d..(t0 + nl) * d], &mut val[t0..t0 + nl]);
                        match &plan {
                            Some(plan) => eval_tile(plan, &c, w, scratch, g, v),
                            None => eval_first(&c, w, g, v),
                        }
                    }
                    for (x, g) in s_blk.iter_mut().zip(grad.iter()) {
                        *x += pc * g;
                    }
                    for i in 0..rows {
                        l_blk[i] += pc * val[i];
                        r_blk[i] += rc * val[i];
                    }
                },
            );
    }
    Interaction { s, lsum, rsum }
}

/// m = 0: c = Σ_j a_j w_j (in neuron order).
fn first_moment(p: &Problem) -> Vec<f64> {
    let mut c = vec![0.0; p.d];
    for (row, aj) in p.w.chunks_exact(p.d).zip(p.a) {
        for (ck, wk) in c.iter_mut().zip(row) {
            *ck += aj * wk;
        }
    }
    c
}

/// m = 0: ∇P_0 = c, P_0(w) = ⟨c, w⟩.
fn eval_first(c: &[f64], w: &[f64], grad: &mut [f64], val: &mut [f64]) {
    let d = c.len();
    for (i, v) in val.iter_mut().enumerate() {
        grad[i * d..(i + 1) * d].copy_from_slice(c);
        *v = c
            .iter()
            .zip(&w[i * d..(i + 1) * d])
            .map(|(a, b)| a * b)
            .sum();
    }
}

/// The coefficients c_ν = mult(ν) Σ_j a_j w_j^ν in the blocked layout of [`Plan::boff`].
/// The neurons are split into [`PARTS`] fixed contiguous parts (whole chunks), one rayon task
/// each with its own partial tensor; within a part, neurons are taken in chunks of [`CHUNK`] (in
/// order) and every entry accumulates B_σ[r][x] += (a_j w_jσ w_j,σ+r) w_j^{ρ'_x} over the
/// chunk's neurons in order ([`build_chunk`]). The partial tensors are then added in part
/// order. One fork–join in all (no barrier per chunk), and the partition does not depend on the
/// number of threads.
fn build(p: &Problem, plan: &Plan) -> Vec<f64> {
    let (n, d, m) = (p.n, p.d, plan.m);
    let part = n.div_ceil(PARTS).next_multiple_of(CHUNK);
    let mut partials: Vec<Vec<f64>> = (0..n.div_ceil(part))
        .into_par_iter()
        .map_init(
            || BuildScratch::new(plan),
            |sc, pi| build_part(p, plan, pi * part..n.min((pi + 1) * part), sc),
        )
        .collect();
    let mut c = std::mem::take(&mut partials[0]);
    if partials.len() > 1 {
        c.par_chunks_mut(4096).enumerate().for_each(|(k, blk)| {
            for other in &partials[1..] {
                for (x, y) in blk.iter_mut().zip(&other[k * 4096..]) {
                    *x += y;
                }
            }
        });
    }
    // Multinomials, and the evaluation's layout (see `to_panels`).
    let q = m as u128 + 1;
    let mults = plan.row_multinomials();
    let mut out = vec![0.0; plan.boff[d]];
    for sigma in 0..d {
        let (rows, len, base) = (d - sigma, plan.len[m][sigma], plan.boff[sigma]);
        let st = plan.start[m][sigma];
        let mut r0 = 0;
        while r0 < rows {
            let rb = block(rows - r0, RY);
            for x in 0..len {
                let (mult, _, nlast) = mults[st + x];
                for k in 0..rb {
                    let r = r0 + k;
                    let nl = if r == 0 { nlast + 1 } else { 1 };
                    let from = base + r * len + x;
                    out[base + r0 * len + x * rb + k] = c[from] * (mult * q / nl) as f64;
                }
            }
            r0 += rb;
        }
    }
    out
}

// The evaluation's layout of B_σ ("panels"): its rows cut into blocks by [`block`] (at most
// [`RY`] rows), a block of R rows from row r0 stored column by column, entry (r, x) at
// boff[σ] + r0·len + x·R + (r − r0), so that the R coefficients of one column are adjacent.

/// Work space of [`build_part`], reused across the parts a worker takes (fully rewritten for
/// every chunk before it is read).
struct BuildScratch {
    up: Vec<f64>,
    af: Vec<f64>,
    wpad: Vec<f64>,
    mono: Vec<[f64; 1]>,
    wj: Vec<[f64; 1]>,
}

impl BuildScratch {
    fn new(plan: &Plan) -> BuildScratch {
        let (d, m) = (plan.d, plan.m);
        BuildScratch {
            up: vec![0.0; plan.dims[m - 1].div_ceil(XB) * UP_PANEL],
            af: vec![0.0; CHUNK * d],
            wpad: vec![0.0; CHUNK * (d + L)],
            mono: vec![[0.0; 1]; plan.off[m]],
            wj: vec![[0.0; 1]; d],
        }
    }
}

/// Doubles per packed panel of monomials in the build: CHUNK rows of XB numbers plus one cache
/// line, so that a neuron's entries in successive panels are not a multiple of 4 KiB apart
/// (which would map them all to one set of the L1 cache).
const UP_PANEL: usize = CHUNK * XB + 8;

/// Σ_{j ∈ range} of the build's terms (without multinomials) in the blocked layout.
///
/// Per chunk: `up`, the monomials u_j = (w_j^{ρ'_x})_x of size m − 1 packed in panels of [`XB`]
/// columns, up[(x/XB)·UP_PANEL + j·XB + x mod XB] (fixed strides, whatever the chunk's
/// length), and `wpad`, the chunk's rows of W followed by four zeros each (a_j and w_jσ are
/// combined per block in [`build_chunk`]).
fn build_part(
    p: &Problem,
    plan: &Plan,
    range: std::ops::Range<usize>,
    sc: &mut BuildScratch,
) -> Vec<f64> {
    let (d, m) = (p.d, plan.m);
    let low = plan.dims[m - 1];
    let mut c = vec![0.0; plan.boff[d]];
    for j0 in range.clone().step_by(CHUNK) {
        let kk = CHUNK.min(range.end - j0);
        for jj in 0..kk {
            let w = &p.w[(j0 + jj) * d..][..d];
            for (o, x) in sc.wj.iter_mut().zip(w) {
                *o = [*x];
            }
            monomials(plan, &sc.wj, &mut sc.mono);
            let u = &sc.mono[plan.off[m - 1]..][..low];
            for (xb, panel) in u.chunks(XB).enumerate() {
                let at = xb * UP_PANEL + jj * XB;
                for (o, x) in sc.up[at..at + panel.len()].iter_mut().zip(panel) {
                    *o = x[0];
                }
            }
            sc.wpad[jj * (d + L)..][..d].copy_from_slice(w);
        }
        let a = &p.a[j0..j0 + kk];
        build_chunk(plan, &sc.up, &sc.wpad, a, &mut sc.af, &mut c);
    }
    c
}

/// Levels 0..m−1 of the monomials w^ρ for W neurons at once (lane-major w, d entries),
/// concatenated (length off[m]).
fn monomials<const W: usize>(plan: &Plan, w: &[[f64; W]], out: &mut [[f64; W]]) {
    out[0] = [1.0; W];
    for r in 1..plan.m {
        let (prev, cur) = out.split_at_mut(plan.off[r]);
        let prev = &prev[plan.off[r - 1]..];
        for (l, wl) in w.iter().enumerate() {
            let (st, len) = (plan.start[r][l], plan.len[r][l]);
            for (o, x) in cur[st..st + len].iter_mut().zip(&prev[..len]) {
                *o = std::array::from_fn(|i| x[i] * wl[i]);
            }
        }
    }
}

crate::fast::simd::dispatch! {
    /// B_σ[r][x] += Σ_{j < kk} (a_j w_jσ w_j,σ+r) up[j][x] for every block σ (operands as packed
    /// by [`build_part`], kk = a.len(); `af` is work space).
    fn build_chunk(plan: &Plan, up: &[f64], wpad: &[f64], a: &[f64], af: &mut [f64], c: &mut [f64]) => build_chunk_generic
}

#[inline(always)]
fn build_chunk_generic<const FMA: bool>(
    plan: &Plan,
    up: &[f64],
    wpad: &[f64],
    a: &[f64],
    af: &mut [f64],
    c: &mut [f64],
) {
    let (d, m, kk) = (plan.d, plan.m, a.len());
    for sigma in 0..d {
        let (rows, len) = (d - sigma, plan.len[m][sigma]);
        // The pair products af[j][r] = a_j w_jσ w_j,σ+r (kk × rows, row-major).
        let af = &mut af[..kk * rows];
        for ((o, wj), aj) in af
            .chunks_exact_mut(rows)
            .zip(wpad.chunks_exact(d + L))
            .zip(a)
        {
            let s = aj * wj[sigma];
            for (ok, wl) in o.iter_mut().zip(&wj[sigma..d]) {
                *ok = s * wl;
            }
        }
        let af = &*af;
        let out = &mut c[plan.boff[sigma]..plan.boff[sigma + 1]];
        for x0 in (0..len).step_by(XB) {
            let u = &up[(x0 / XB) * UP_PANEL..][..kk * XB];
            let cols = XB.min(len - x0);
            let mut r0 = 0;
            while r0 < rows {
                let r = 4.min(rows - r0);
                let t = Tile {
                    r0,
                    rows,
                    x0,
                    cols,
                    len,
                };
                match r {
                    4 => build_tile::<FMA, 4>(af, u, t, out),
                    3 => build_tile::<FMA, 3>(af, u, t, out),
                    2 => build_tile::<FMA, 2>(af, u, t, out),
                    _ => build_tile::<FMA, 1>(af, u, t, out),
                }
                r0 += r;
            }
        }
    }
}

/// Position of one build tile: rows r0.. of a block with `rows` rows, columns x0..x0 + cols
/// (cols ≤ XB) of a block with `len` columns.
#[derive(Clone, Copy)]
struct Tile {
    r0: usize,
    rows: usize,
    x0: usize,
    cols: usize,
    len: usize,
}

/// One R × XB output tile in registers: out[r][x] += Σ_j af[j][r] u[j][x], the neurons j in
/// order (a running sum per entry); padding columns (x ≥ cols) are computed and discarded.
#[inline(always)]
fn build_tile<const FMA: bool, const R: usize>(af: &[f64], u: &[f64], t: Tile, out: &mut [f64]) {
    const XV: usize = XB / L;
    let mut acc = [[V4::splat::<FMA>(0.0); XV]; R];
    for r in 0..R {
        let row = &out[(t.r0 + r) * t.len + t.x0..][..t.cols];
        for v in 0..XV {
            let mut x = [0.0; L];
            for (k, xk) in x.iter_mut().enumerate() {
                if v * L + k < t.cols {
                    *xk = row[v * L + k];
                }
            }
            acc[r][v] = V4::load::<FMA>(&x);
        }
    }
    for (uj, aj) in u.chunks_exact(XB).zip(af.chunks_exact(t.rows)) {
        let ar: &[f64; R] = aj[t.r0..t.r0 + R].try_into().unwrap();
        let uu: [V4; XV] = std::array::from_fn(|v| V4::load::<FMA>(&uj[v * L..]));
        for r in 0..R {
            let s = V4::splat::<FMA>(ar[r]);
            for v in 0..XV {
                acc[r][v] = s.mul_add::<FMA>(uu[v], acc[r][v]);
            }
        }
    }
    for r in 0..R {
        let row = &mut out[(t.r0 + r) * t.len + t.x0..][..t.cols];
        for v in 0..XV {
            let x = acc[r][v].to_array();
            for k in 0..L {
                if v * L + k < t.cols {
                    row[v * L + k] = x[k];
                }
            }
        }
    }
}

/// LE neurons: KV AVX vectors (lane-major tiles of the evaluation).
#[derive(Clone, Copy)]
struct VT([V4; KV]);

impl VT {
    #[inline(always)]
    fn load<const F: bool>(x: &ELanes) -> VT {
        VT(std::array::from_fn(|k| V4::load::<F>(&x[k * L..])))
    }
    #[inline(always)]
    fn zero<const F: bool>() -> VT {
        VT([V4::splat::<F>(0.0); KV])
    }
    /// self · b + c, lane-wise.
    #[inline(always)]
    fn mul_add<const F: bool>(self, b: VT, c: VT) -> VT {
        VT(std::array::from_fn(|k| {
            self.0[k].mul_add::<F>(b.0[k], c.0[k])
        }))
    }
    /// s · b + c with a broadcast scalar s.
    #[inline(always)]
    fn smul_add<const F: bool>(s: V4, b: VT, c: VT) -> VT {
        VT(std::array::from_fn(|k| s.mul_add::<F>(b.0[k], c.0[k])))
    }
    #[inline(always)]
    fn to_array(self) -> ELanes {
        let a: [Lanes; KV] = std::array::from_fn(|k| self.0[k].to_array());
        std::array::from_fn(|i| a[i / L][i % L])
    }
}

/// Per-task work space of [`eval_tile`], all lane-major.
struct Scratch {
    w: Vec<ELanes>,
    mono: Vec<ELanes>,
    phi: Vec<ELanes>,
    next: Vec<ELanes>,
    coef: Vec<ELanes>,
    y: Vec<ELanes>,
    g: Vec<ELanes>,
}

impl Scratch {
    fn new(plan: Option<&Plan>, d: usize) -> Scratch {
        let (mono, low) = plan.map_or((0, 0), |p| (p.off[p.m], p.dims[p.m - 1]));
        let z = vec![[0.0; LE]; d];
        Scratch {
            w: z.clone(),
            mono: vec![[0.0; LE]; mono],
            phi: z.clone(),
            next: vec![[0.0; LE]; low],
            coef: vec![[0.0; LE]; low],
            y: z.clone(),
            g: z,
        }
    }
}

crate::fast::simd::dispatch! {
    /// ∇P_m(w_i) and P_m(w_i) for up to LE neurons (rows of `w`, d each) into `grad`, `val`.
    fn eval_tile(plan: &Plan, c: &[f64], w: &[f64], sc: &mut Scratch, grad: &mut [f64], val: &mut [f64]) => eval_tile_generic
}

/// Returns Σ_x z_x u_x (lane-wise, two partial sums added in a fixed order) and does
/// next_x += s z_x.
#[inline(always)]
fn dot_axpy<const FMA: bool>(
    z: &[ELanes],
    u: &[ELanes],
    s: &ELanes,
    next: &mut [ELanes],
) -> ELanes {
    let sv = VT::load::<FMA>(s);
    let mut acc = [VT::zero::<FMA>(); 2];
    for (x, (zx, ux)) in z.iter().zip(u).enumerate() {
        let zv = VT::load::<FMA>(zx);
        acc[x % 2] = zv.mul_add::<FMA>(VT::load::<FMA>(ux), acc[x % 2]);
        next[x] = sv.mul_add::<FMA>(zv, VT::load::<FMA>(&next[x])).to_array();
    }
    let a: [ELanes; 2] = std::array::from_fn(|k| acc[k].to_array());
    std::array::from_fn(|i| a[0][i] + a[1][i])
}

/// acc ← x·y + acc, lane-wise.
#[inline(always)]
fn fma_lanes<const FMA: bool>(acc: &mut ELanes, x: &ELanes, y: &ELanes) {
    *acc = VT::load::<FMA>(x)
        .mul_add::<FMA>(VT::load::<FMA>(y), VT::load::<FMA>(acc))
        .to_array();
}

#[inline(always)]
fn eval_tile_generic<const FMA: bool>(
    plan: &Plan,
    c: &[f64],
    w: &[f64],
    sc: &mut Scratch,
    grad: &mut [f64],
    val: &mut [f64],
) {
    let (d, m) = (plan.d, plan.m);
    let nl = val.len();
    for (l, wl) in sc.w.iter_mut().enumerate() {
        *wl = std::array::from_fn(|i| if i < nl { w[i * d + l] } else { 0.0 });
    }
    let wt = &sc.w;
    sc.g.fill([0.0; LE]);
    monomials(plan, wt, &mut sc.mono);
    let low = plan.dims[m - 1];
    let u = &sc.mono[plan.off[m - 1]..][..low];
    // Top level, one block σ at a time (B_σ is read twice, the second time from cache):
    // (1) ydot = B_σ u (u = w^{ρ'}, size m − 1), then Y_λ += w_σ ydot_{λ−σ} and
    //     G_σ = Σ_r w_{σ+r} ydot_r (= ⟨B_σᵀ w[σ..d], u⟩);
    // (2) when m ≥ 2, next_x += Σ_r B_σ[r][x] φ_r with the pair products φ_r = w_σ w_{σ+r}, so
    //     that in the end next_x = Σ_σ w_σ (B_σᵀ w[σ..d])_x, the coefficients of the degree-m
    //     polynomial of the lower levels.
    sc.next[..low].fill([0.0; LE]);
    for sigma in 0..d {
        let (rows, len) = (d - sigma, plan.len[m][sigma]);
        let b = &c[plan.boff[sigma]..plan.boff[sigma + 1]];
        let ws = VT::load::<FMA>(&wt[sigma]);
        let mut gacc = VT::zero::<FMA>();
        let mut r0 = 0;
        while r0 < rows {
            let r = block(rows - r0, RY);
            let ys = YStep { r0, len, ws };
            let (wr, yr) = (&wt[sigma..], &mut sc.y[sigma..]);
            match r {
                6 => y_rows::<FMA, 6, 1>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
                5 => y_rows::<FMA, 5, 1>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
                4 => y_rows::<FMA, 4, 1>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
                3 => y_rows::<FMA, 3, 1>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
                2 => y_rows::<FMA, 2, 2>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
                _ => y_rows::<FMA, 1, 2>(b, u, ys, wr, yr, &mut gacc, sigma == 0),
            }
            r0 += r;
        }
        sc.g[sigma] = gacc.to_array();
        if m >= 2 {
            let phi = &mut sc.phi[..rows];
            for (f, wr) in phi.iter_mut().zip(&wt[sigma..]) {
                *f = ws
                    .mul_add::<FMA>(VT::load::<FMA>(wr), VT::zero::<FMA>())
                    .to_array();
            }
            let next = &mut sc.next[..len];
            let mut x0 = 0;
            while x0 < len {
                let x = block(len - x0, XZ);
                let zs = (b, rows, len, x0);
                match x {
                    6 => z_cols::<FMA, 6>(zs, phi, &mut next[x0..]),
                    5 => z_cols::<FMA, 5>(zs, phi, &mut next[x0..]),
                    4 => z_cols::<FMA, 4>(zs, phi, &mut next[x0..]),
                    3 => z_cols::<FMA, 3>(zs, phi, &mut next[x0..]),
                    2 => z_cols::<FMA, 2>(zs, phi, &mut next[x0..]),
                    _ => z_cols::<FMA, 1>(zs, phi, &mut next[x0..]),
                }
                x0 += x;
            }
        }
    }
    if m >= 2 {
        // Lower levels: the same split with per-neuron coefficients.
        for q in (1..m).rev() {
            std::mem::swap(&mut sc.coef, &mut sc.next);
            let low = plan.dims[q - 1];
            sc.next[..low].fill([0.0; LE]);
            let mono_low = &sc.mono[plan.off[q - 1]..];
            for l in 0..d {
                let (st, len) = (plan.start[q][l], plan.len[q][l]);
                let gl = dot_axpy::<FMA>(
                    &sc.coef[st..st + len],
                    &mono_low[..len],
                    &wt[l],
                    &mut sc.next[..len],
                );
                let g = &mut sc.g[l];
                *g = std::array::from_fn(|i| g[i] + gl[i]);
            }
        }
    }
    let mut p = [0.0; LE];
    for l in 0..d {
        fma_lanes::<FMA>(&mut p, &sc.y[l], &wt[l]);
    }
    for i in 0..nl {
        val[i] = p[i];
        for l in 0..d {
            grad[i * d + l] = sc.y[l][i] + sc.g[l][i];
        }
    }
}

/// Rows per register block of the first pass and columns per block of the second (at most 6).
const RY: usize = 6;
const XZ: usize = 6;

/// The next block of a run of `left` rows (or columns), at most `max` and leaving no remainder
/// below 3 when that can be avoided (short blocks have fewer independent FMA chains).
#[inline(always)]
fn block(left: usize, max: usize) -> usize {
    if left <= max {
        left
    } else if left - max < 3 {
        (left - 3).min(max)
    } else {
        max
    }
}

/// Rows r0.. of block σ (row length `len`) and the broadcast w_σ, for [`y_rows`].
#[derive(Clone, Copy)]
struct YStep {
    r0: usize,
    len: usize,
    ws: VT,
}

/// R rows of ydot = B u (the sum over x split into S interleaved partial sums, added in a fixed
/// order, so that short blocks still have 2·R·S independent FMA chains), then
/// Y_{σ+r} += w_σ ydot_r (Y_{σ+r} ← w_σ ydot_r when `first`, the block σ = 0 that opens every
/// Y_λ) and gacc += w_{σ+r} ydot_r. `w` and `y` start at σ.
#[inline(always)]
fn y_rows<const FMA: bool, const R: usize, const S: usize>(
    b: &[f64],
    u: &[ELanes],
    t: YStep,
    w: &[ELanes],
    y: &mut [ELanes],
    gacc: &mut VT,
    first: bool,
) {
    let len = t.len;
    let panel = &b[t.r0 * len..(t.r0 + R) * len];
    let mut acc = [[VT::zero::<FMA>(); R]; S];
    for (x, (bx, ux)) in panel.chunks_exact(R).zip(u).enumerate() {
        let bb: &[f64; R] = bx.try_into().unwrap();
        let uv = VT::load::<FMA>(ux);
        let a = &mut acc[x % S];
        for r in 0..R {
            a[r] = VT::smul_add::<FMA>(V4::splat::<FMA>(bb[r]), uv, a[r]);
        }
    }
    for r in 0..R {
        let mut yd = acc[0][r];
        for s in 1..S {
            yd = VT(std::array::from_fn(|k| {
                V4::from_array(std::array::from_fn(|i| {
                    yd.0[k].to_array()[i] + acc[s][r].0[k].to_array()[i]
                }))
            }));
        }
        let old = if first {
            VT::zero::<FMA>()
        } else {
            VT::load::<FMA>(&y[t.r0 + r])
        };
        y[t.r0 + r] = t.ws.mul_add::<FMA>(yd, old).to_array();
        *gacc = VT::load::<FMA>(&w[t.r0 + r]).mul_add::<FMA>(yd, *gacc);
    }
}

/// Columns x0..x0 + X of next: next_x += Σ_r B[r][x] φ_r over the rows of one block σ (in
/// the panel layout of [`to_panels`], `zs` = (block, rows, len, x0)), in row order.
#[inline(always)]
fn z_cols<const FMA: bool, const X: usize>(
    zs: (&[f64], usize, usize, usize),
    phi: &[ELanes],
    next: &mut [ELanes],
) {
    let (b, rows, len, x0) = zs;
    let mut acc: [VT; X] = std::array::from_fn(|k| VT::load::<FMA>(&next[k]));
    let mut r0 = 0;
    while r0 < rows {
        let r = block(rows - r0, RY);
        let at = r0 * len + x0 * r;
        let (blk, f) = (&b[at..at + X * r], &phi[r0..r0 + r]);
        acc = match r {
            6 => z_panel::<FMA, X, 6>(blk, f, acc),
            5 => z_panel::<FMA, X, 5>(blk, f, acc),
            4 => z_panel::<FMA, X, 4>(blk, f, acc),
            3 => z_panel::<FMA, X, 3>(blk, f, acc),
            2 => z_panel::<FMA, X, 2>(blk, f, acc),
            _ => z_panel::<FMA, X, 1>(blk, f, acc),
        };
        r0 += r;
    }
    for k in 0..X {
        next[k] = acc[k].to_array();
    }
}

/// acc_k += Σ_{r < R} blk[k·R + r] φ_r (X columns of one panel of R rows), r in order.
#[inline(always)]
fn z_panel<const FMA: bool, const X: usize, const R: usize>(
    blk: &[f64],
    phi: &[ELanes],
    mut acc: [VT; X],
) -> [VT; X] {
    let blk: &[[f64; R]; X] = &std::array::from_fn(|k| blk[k * R..][..R].try_into().unwrap());
    let phi: &[ELanes; R] = phi.try_into().unwrap();
    for r in 0..R {
        let fv = VT::load::<FMA>(&phi[r]);
        for k in 0..X {
            acc[k] = VT::smul_add::<FMA>(V4::splat::<FMA>(blk[k][r]), fv, acc[k]);
        }
    }
    acc
}
