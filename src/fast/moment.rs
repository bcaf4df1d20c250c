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
//! coefficients are stored by blocks B_σ[λ − σ][x] = c_{ρ'_x + σ + λ} (λ ≥ σ, ρ'_x the x-th
//! multiset of size m − 1), see [`Plan`]. Per neuron, with ν = ρ + max ν,
//! ∂_k P = Σ_{ρ: max ρ ≤ k} c_{ρ+k} w^ρ + ∂_k[Σ_ρ z_ρ w^ρ], z_ρ = Σ_{λ ≥ max ρ} c_{ρ+λ} w_λ held
//! fixed, and the same split applies again to the degree-m polynomial Σ_ρ z_ρ w^ρ, down to
//! degree 0 (reverse-mode differentiation along the colex tree).
//! - build: B_σ[r][x] += Σ_j (a_j w_jσ w_j,σ+r) w_j^{ρ'_x}, one task per block σ, the neurons in
//!   fixed chunks of 256 and four per vector; D_q FMAs per neuron.
//! - evaluate, eight neurons per tile (two vectors, lane-major): for each σ,
//!   Y_λ += w_σ (B_σ u)_{λ−σ} and z = B_σᵀ w[σ..d] (u the monomials of size m − 1), then the
//!   lower levels; 2 D_q + 2 Σ_{r<q} D_r FMAs per neuron. B_σ is walked in blocks of three rows
//!   (six Y accumulators and six w vectors held in registers), one column at a time: each
//!   coefficient is broadcast once and feeds four vector FMAs (two for Y, two for z), so the
//!   tensor is streamed once per eight neurons.
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
const CHUNK: usize = 256;
/// Fixed number of neuron parts (rayon tasks, partial tensors) of the build.
const PARTS: usize = 8;
/// Neurons per SIMD vector in the build kernel (lane-major layout: entry x holds L neurons).
const L: usize = 4;
type Lanes = [f64; L];
/// Neurons per tile of the evaluation kernel: two SIMD vectors, so that every coefficient
/// loaded (broadcast) from the tensor serves eight neurons.
const LE: usize = 2 * L;
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

/// Flop model of the route (build 2, Y and z 2 + 2, lower levels 4 per entry), None when
/// the route is not available.
pub(crate) fn flops(p: &Problem, q: Quantities) -> Option<f64> {
    let (pw, _, _) = powers(p, q)?;
    let d = p.d;
    let per_neuron: f64 = pw
        .iter()
        .map(|&(m, _, _)| {
            let tensor = msets(d, m + 1) as f64;
            let levels: f64 = (1..=m).map(|r| msets(d, r) as f64).sum();
            6.0 * tensor + 4.0 * levels + 4.0 * d as f64
        })
        .sum();
    Some(p.n as f64 * per_neuron)
}

/// Rounding depth of one entry of ∇P_m or P_m (proofs-notes/fast-path.md §4): N sums over
/// neurons, m + 2 products forming a_j w_j^ν, one multinomial, m products of w_i^ρ, and the
/// sums of the evaluation, at most D_r + 2d per level r.
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
            .for_each(|(b, ((s_blk, l_blk), r_blk))| {
                let rows = l_blk.len();
                let mut grad = vec![0.0; rows * d];
                let mut val = vec![0.0; rows];
                let mut scratch = Scratch::new(plan.as_ref(), d);
                for t0 in (0..rows).step_by(LE) {
                    let nl = LE.min(rows - t0);
                    let i0 = b * TASK + t0;
                    let w = &p.w[i0 * d..(i0 + nl) * d];
                    let (g, v) = (&mut grad[t0 * d..(t0 + nl) * d], &mut val[t0..t0 + nl]);
                    match &plan {
                        Some(plan) => eval_tile(plan, &c, w, &mut scratch, g, v),
                        None => eval_first(&c, w, g, v),
                    }
                }
                for (x, g) in s_blk.iter_mut().zip(&grad) {
                    *x += pc * g;
                }
                for i in 0..rows {
                    l_blk[i] += pc * val[i];
                    r_blk[i] += rc * val[i];
                }
            });
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
/// order) and each block σ accumulates B_σ[r][x] += Σ_j (a_j w_jσ w_j,σ+r) w_j^{ρ'_x}, four
/// neurons per vector. The partial tensors are then added in part order. One fork–join in
/// all (no barrier per chunk), and the partition does not depend on the number of threads.
fn build(p: &Problem, plan: &Plan) -> Vec<f64> {
    let (n, d, m) = (p.n, p.d, plan.m);
    let part = n.div_ceil(PARTS).next_multiple_of(CHUNK);
    let mut partials: Vec<Vec<f64>> = (0..n.div_ceil(part))
        .into_par_iter()
        .map(|pi| build_part(p, plan, pi * part..n.min((pi + 1) * part)))
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
    let q = m as u128 + 1;
    let mults = plan.row_multinomials();
    for sigma in 0..d {
        let len = plan.len[m][sigma];
        let st = plan.start[m][sigma];
        for r in 0..d - sigma {
            for x in 0..len {
                let (mult, _, nlast) = mults[st + x];
                let nl = if r == 0 { nlast + 1 } else { 1 };
                c[plan.boff[sigma] + r * len + x] *= (mult * q / nl) as f64;
            }
        }
    }
    c
}

/// Σ_{j ∈ range} of the build's terms (without multinomials) in the blocked layout.
fn build_part(p: &Problem, plan: &Plan, range: std::ops::Range<usize>) -> Vec<f64> {
    let (d, m) = (p.d, plan.m);
    let low = plan.dims[m - 1];
    let mut c = vec![0.0; plan.boff[d]];
    // Lane-major across the chunk: mt[x][j] = w_j^{ρ'_x} (size m − 1), wt[λ][j] = w_jλ,
    // aw[j] = a_j; zero-padded to a multiple of L neurons.
    let mut mt = vec![0.0; low * CHUNK];
    let mut wt = vec![0.0; d * CHUNK];
    let mut aw = vec![0.0; CHUNK];
    let mut v = vec![0.0; d * CHUNK];
    let mut mono = vec![[0.0; L]; plan.off[m]];
    for j0 in range.clone().step_by(CHUNK) {
        let kk = CHUNK.min(range.end - j0);
        let kp = kk.next_multiple_of(L);
        mt.fill(0.0);
        wt.fill(0.0);
        aw.fill(0.0);
        for jj in 0..kk {
            for l in 0..d {
                wt[l * kp + jj] = p.w[(j0 + jj) * d + l];
            }
            aw[jj] = p.a[j0 + jj];
        }
        for jj in (0..kp).step_by(L) {
            let lane_w: Vec<Lanes> = (0..d)
                .map(|l| wt[l * kp + jj..l * kp + jj + L].try_into().unwrap())
                .collect();
            monomials(plan, &lane_w, &mut mono);
            for x in 0..low {
                mt[x * kp + jj..x * kp + jj + L].copy_from_slice(&mono[plan.off[m - 1] + x]);
            }
        }
        let (mt, wt, aw) = (&mt[..low * kp], &wt[..d * kp], &aw[..kp]);
        for sigma in 0..d {
            let rows = d - sigma;
            // v[r][j] = a_j w_jσ w_j,σ+r.
            for r in 0..rows {
                for j in 0..kp {
                    v[r * kp + j] = aw[j] * wt[sigma * kp + j] * wt[(sigma + r) * kp + j];
                }
            }
            let out = &mut c[plan.boff[sigma]..plan.boff[sigma + 1]];
            build_block(&v[..rows * kp], mt, kp, rows, plan.len[m][sigma], out);
        }
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
    /// out[r·len + x] += Σ_j v[r][j] mt[x][j] (j < kp, kp a multiple of L).
    fn build_block(v: &[f64], mt: &[f64], kp: usize, rows: usize, len: usize, out: &mut [f64]) => build_block_generic
}

#[inline(always)]
fn build_block_generic<const FMA: bool>(
    v: &[f64],
    mt: &[f64],
    kp: usize,
    rows: usize,
    len: usize,
    out: &mut [f64],
) {
    let mut x0 = 0;
    while x0 < len {
        let xs = 3.min(len - x0);
        let mut r0 = 0;
        while r0 < rows {
            let rs = 3.min(rows - r0);
            match (rs, xs) {
                (3, 4) => build_cell::<FMA, 3, 4>(v, mt, kp, r0, x0, len, out),
                (3, 3) => build_cell::<FMA, 3, 3>(v, mt, kp, r0, x0, len, out),
                (3, 2) => build_cell::<FMA, 3, 2>(v, mt, kp, r0, x0, len, out),
                (3, 1) => build_cell::<FMA, 3, 1>(v, mt, kp, r0, x0, len, out),
                (2, 4) => build_cell::<FMA, 2, 4>(v, mt, kp, r0, x0, len, out),
                (2, 3) => build_cell::<FMA, 2, 3>(v, mt, kp, r0, x0, len, out),
                (2, 2) => build_cell::<FMA, 2, 2>(v, mt, kp, r0, x0, len, out),
                (2, 1) => build_cell::<FMA, 2, 1>(v, mt, kp, r0, x0, len, out),
                (1, 4) => build_cell::<FMA, 1, 4>(v, mt, kp, r0, x0, len, out),
                (1, 3) => build_cell::<FMA, 1, 3>(v, mt, kp, r0, x0, len, out),
                (1, 2) => build_cell::<FMA, 1, 2>(v, mt, kp, r0, x0, len, out),
                _ => build_cell::<FMA, 1, 1>(v, mt, kp, r0, x0, len, out),
            }
            r0 += rs;
        }
        x0 += xs;
    }
}

/// One R × X block of outputs, the neuron sum split over L lanes (added in a fixed order).
#[inline(always)]
fn build_cell<const FMA: bool, const R: usize, const X: usize>(
    v: &[f64],
    mt: &[f64],
    kp: usize,
    r0: usize,
    x0: usize,
    len: usize,
    out: &mut [f64],
) {
    let vr: [&[f64]; R] = std::array::from_fn(|r| &v[(r0 + r) * kp..(r0 + r + 1) * kp]);
    let ur: [&[f64]; X] = std::array::from_fn(|k| &mt[(x0 + k) * kp..(x0 + k + 1) * kp]);
    let mut acc = [[V4::splat::<FMA>(0.0); X]; R];
    for j in (0..kp).step_by(L) {
        let vv: [V4; R] = std::array::from_fn(|r| V4::load::<FMA>(&vr[r][j..]));
        let uu: [V4; X] = std::array::from_fn(|k| V4::load::<FMA>(&ur[k][j..]));
        for r in 0..R {
            for k in 0..X {
                acc[r][k] = vv[r].mul_add::<FMA>(uu[k], acc[r][k]);
            }
        }
    }
    for r in 0..R {
        for k in 0..X {
            let a = acc[r][k].to_array();
            out[(r0 + r) * len + x0 + k] += (a[0] + a[1]) + (a[2] + a[3]);
        }
    }
}

/// Eight neurons: two AVX vectors (lane-major tiles of the evaluation).
#[derive(Clone, Copy)]
struct V8([V4; 2]);

impl V8 {
    #[inline(always)]
    fn load<const F: bool>(x: &ELanes) -> V8 {
        V8([V4::load::<F>(&x[..L]), V4::load::<F>(&x[L..])])
    }
    #[inline(always)]
    fn zero<const F: bool>() -> V8 {
        V8([V4::splat::<F>(0.0); 2])
    }
    /// self · b + c, lane-wise.
    #[inline(always)]
    fn mul_add<const F: bool>(self, b: V8, c: V8) -> V8 {
        V8([
            self.0[0].mul_add::<F>(b.0[0], c.0[0]),
            self.0[1].mul_add::<F>(b.0[1], c.0[1]),
        ])
    }
    /// s · b + c with a broadcast scalar s.
    #[inline(always)]
    fn smul_add<const F: bool>(s: V4, b: V8, c: V8) -> V8 {
        V8([
            s.mul_add::<F>(b.0[0], c.0[0]),
            s.mul_add::<F>(b.0[1], c.0[1]),
        ])
    }
    #[inline(always)]
    fn to_array(self) -> ELanes {
        let (a, b) = (self.0[0].to_array(), self.0[1].to_array());
        std::array::from_fn(|i| if i < L { a[i] } else { b[i - L] })
    }
}

/// Per-task work space of [`eval_tile`], all lane-major.
struct Scratch {
    w: Vec<ELanes>,
    mono: Vec<ELanes>,
    next: Vec<ELanes>,
    coef: Vec<ELanes>,
    zblk: Vec<ELanes>,
    ydot: Vec<ELanes>,
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
            next: vec![[0.0; LE]; low],
            coef: vec![[0.0; LE]; low],
            zblk: vec![[0.0; LE]; low],
            ydot: z.clone(),
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
    let sv = V8::load::<FMA>(s);
    let mut acc = [V8::zero::<FMA>(); 2];
    for (x, (zx, ux)) in z.iter().zip(u).enumerate() {
        let zv = V8::load::<FMA>(zx);
        acc[x % 2] = zv.mul_add::<FMA>(V8::load::<FMA>(ux), acc[x % 2]);
        next[x] = sv.mul_add::<FMA>(zv, V8::load::<FMA>(&next[x])).to_array();
    }
    let a: [ELanes; 2] = std::array::from_fn(|k| acc[k].to_array());
    std::array::from_fn(|i| a[0][i] + a[1][i])
}

/// acc ← x·y + acc, lane-wise.
#[inline(always)]
fn fma_lanes<const FMA: bool>(acc: &mut ELanes, x: &ELanes, y: &ELanes) {
    *acc = V8::load::<FMA>(x)
        .mul_add::<FMA>(V8::load::<FMA>(y), V8::load::<FMA>(acc))
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
    sc.y.fill([0.0; LE]);
    sc.g.fill([0.0; LE]);
    {
        monomials(plan, wt, &mut sc.mono);
        // Top level, one block σ at a time: with u = w^{ρ'} (size m − 1) and B = B_σ,
        // Y_λ += w_σ (B u)_{λ−σ},  z = Bᵀ w[σ..d],  G_σ += ⟨z, u⟩,  next += w_σ z.
        let low = plan.dims[m - 1];
        sc.next[..low].fill([0.0; LE]);
        let u_all = &sc.mono[plan.off[m - 1]..];
        for sigma in 0..d {
            let len = plan.len[m][sigma];
            let rows = d - sigma;
            let b = &c[plan.boff[sigma]..plan.boff[sigma + 1]];
            sigma_kernel::<FMA>(
                b,
                len,
                rows,
                len,
                &u_all[..len],
                &wt[sigma..],
                &mut sc.ydot[..rows],
                &mut sc.zblk[..len],
            );
            let ws = wt[sigma];
            for r in 0..rows {
                fma_lanes::<FMA>(&mut sc.y[sigma + r], &ws, &sc.ydot[r]);
            }
            let gs = dot_axpy::<FMA>(&sc.zblk[..len], &u_all[..len], &ws, &mut sc.next[..len]);
            let g = &mut sc.g[sigma];
            *g = std::array::from_fn(|i| g[i] + gs[i]);
        }
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

/// Columns per unrolled cell of [`row_block`] (rows are blocked by three).
const XB: usize = 1;

/// ydot_r = Σ_x B[r][x] u_x (r < rows) and zblk_x = Σ_r B[r][x] w_r (x < len), with
/// B[r][x] = b[r·ld + x]: blocks of three rows, each coefficient broadcast once for eight
/// neurons (two vectors) and used for both products.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sigma_kernel<const FMA: bool>(
    b: &[f64],
    ld: usize,
    rows: usize,
    len: usize,
    u: &[ELanes],
    w: &[ELanes],
    ydot: &mut [ELanes],
    zblk: &mut [ELanes],
) {
    zblk.fill([0.0; LE]);
    // Blocks of 3 rows (6 accumulators and 6 w vectors in registers), ending with 2 + 2
    // rather than 3 + 1.
    let (mut r0, mut left) = (0, rows);
    while left > 0 {
        let r = match left {
            1 => 1,
            2 | 4 => 2,
            _ => 3,
        };
        match r {
            3 => row_block::<FMA, 3>(b, ld, r0, len, u, w, ydot, zblk),
            2 => row_block::<FMA, 2>(b, ld, r0, len, u, w, ydot, zblk),
            _ => row_block::<FMA, 1>(b, ld, r0, len, u, w, ydot, zblk),
        }
        r0 += r;
        left -= r;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_block<const FMA: bool, const R: usize>(
    b: &[f64],
    ld: usize,
    r0: usize,
    len: usize,
    u: &[ELanes],
    w: &[ELanes],
    ydot: &mut [ELanes],
    zblk: &mut [ELanes],
) {
    let wv: [V8; R] = std::array::from_fn(|r| V8::load::<FMA>(&w[r0 + r]));
    let brow: [&[f64]; R] = std::array::from_fn(|r| &b[(r0 + r) * ld..(r0 + r) * ld + len]);
    let mut acc = [V8::zero::<FMA>(); R];
    let mut x = 0;
    while x + XB <= len {
        cell::<FMA, R, XB>(&brow, x, u, zblk, &wv, &mut acc);
        x += XB;
    }
    while x < len {
        cell::<FMA, R, 1>(&brow, x, u, zblk, &wv, &mut acc);
        x += 1;
    }
    for r in 0..R {
        ydot[r0 + r] = acc[r].to_array();
    }
}

#[inline(always)]
fn cell<const FMA: bool, const R: usize, const X: usize>(
    brow: &[&[f64]; R],
    x: usize,
    u: &[ELanes],
    zblk: &mut [ELanes],
    wv: &[V8; R],
    acc: &mut [V8; R],
) {
    let bv: [&[f64; X]; R] = std::array::from_fn(|r| brow[r][x..x + X].try_into().unwrap());
    let u: &[ELanes; X] = u[x..x + X].try_into().unwrap();
    let z: &mut [ELanes; X] = (&mut zblk[x..x + X]).try_into().unwrap();
    for k in 0..X {
        let uv = V8::load::<FMA>(&u[k]);
        let mut zv = V8::load::<FMA>(&z[k]);
        for r in 0..R {
            let bb = V4::splat::<FMA>(bv[r][k]);
            acc[r] = V8::smul_add::<FMA>(bb, uv, acc[r]);
            zv = V8::smul_add::<FMA>(bb, wv[r], zv);
        }
        z[k] = zv.to_array();
    }
}
