//! Vector kernels of the deep mean-field model's fast path (`crate::deep::fused`): the edge
//! maps ψ = gd, id and ψ' on blocks of [`LANES`] trained edges, the two passes over a row of
//! trained edges, and the node-pair pass of the readout.
//!
//! Written once over the eight-lane vector type `fast::simd::Lanes8` and compiled three
//! times through the crate's one dispatch point ([`super::simd`]'s `dispatch_lanes!`): explicit
//! `__m512d` intrinsics on the AVX-512F level, two `__m256d` with the hardware FMA on AVX2 + FMA,
//! and a plain array (separate multiply and add) on the portable level. The three perform the
//! same IEEE operations in the same order, so each level gives the bits the lane-array form of
//! these kernels gave at that level. The tests force each level with `MFORACLE_SIMD` in a
//! child process (`tests/deep_fused.rs`).
//!
//! ## The approximations (derivation in `proofs-notes/deep-meanfield.md` §9)
//! - e^{−x}, x ∈ [0, 708] (clamped): x = k ln 2 + r by the FMA-free round-to-nearest trick
//!   (adding 1.5·2⁵²), Cody–Waite ln 2 = `LN2_HI` + `LN2_LO`, |r| ≤ ln2/2 + 2⁻⁴⁰, e^r by a
//!   degree-11 polynomial 1 + r + r²Q(r) (Q the degree-9 Chebyshev interpolant of
//!   (e^r − 1 − r)/r²; max relative error of the f64 polynomial 1.6e−17), 2^k assembled in
//!   the exponent bits.
//! - gd(θ) = sign θ · (π/2 − 2 atan z), z = e^{−|θ|} ∈ (0, 1]; atan z = w P(w²) with
//!   w = z for z ≤ tan(π/8), else π/4 − atan w, w = (1 − z)/(1 + z) = tanh(|θ|/2) ≤ tan(π/8);
//!   P is the degree-11 Chebyshev fit of atan(√u)/√u on u ∈ [0, tan²(π/8)] (max error of the
//!   f64 coefficients 3.9e−18).
//! - sech θ = 2z/(1 + z²).
//! - asin q (readout, |q| < 1) = q Q(q²) for |q| ≤ ½, else sign q·(π/2 − 2 s Q(s²)),
//!   s = √((1 − |q|)/2); Q the degree-13 Chebyshev fit of asin(√u)/√u on u ∈ [0, ¼] (max error
//!   4.1e−18).
//!
//! ## Accuracy contract
//! Absolute errors, against the exact functions of the same f64 argument: |ψ̃ − ψ| ≤ [`EPS_PSI`],
//! |ψ̃' − ψ'| ≤ [`EPS_DPSI`] (both 0 for id), |asin̂ q − asin q| ≤ [`EPS_ASIN`]. These are
//! a-priori bounds with a safety factor over the rounding analysis of the note (a handful of
//! unit roundoffs), checked on dense grids against the correctly rounded reference in
//! `tests/deep_fused.rs` (`psi_kernels_within_their_bounds`). The passes' summation errors are
//! bounded in `crate::deep::fused`.
//!
//! ## Determinism
//! Each row is reduced by one call: LANES independent accumulators in index order (the tail
//! padded with zero weights as one last block), then a fixed pairwise reduction of the lanes.
//! The result depends on the level (FMA or not), never on threads.

// Lane loops mirror the formulas.
#![allow(clippy::needless_range_loop)]

use super::simd::{dispatch_lanes, Lanes8};
use std::f64::consts::FRAC_PI_2;

/// Edges per vector block (one AVX-512 register, two AVX2 registers).
pub const LANES: usize = 8;

/// Bound on |ψ̃ − ψ| of the vector gd (absolute).
pub const EPS_PSI: f64 = 2e-15;
/// Bound on |ψ̃' − ψ'| of the vector sech (absolute).
pub const EPS_DPSI: f64 = 2e-15;
/// Bound on |asin̂ − asin| of the readout's vector asin (absolute).
pub const EPS_ASIN: f64 = 2e-15;

const TAN_PI_8: f64 = 0.414_213_562_373_095_03;
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²

/// e^r on |r| ≤ ln2/2 + 2⁻⁴⁰ as 1 + r + r²Q(r), highest degree first: Q the degree-9 Chebyshev
/// interpolant of (e^r − 1 − r)/r² (mpmath `chebyfit`, 50 digits), so that the constant and
/// linear coefficients are exactly 1; max relative error of this f64 polynomial against e^r
/// 1.6e−17 (dense grid of 20 001 points, mpmath). Degree 11 where the Taylor polynomial
/// needed 13 for the same accuracy.
const EXP_P: [f64; 12] = [
    2.510037583256149e-08,
    2.7620075879983695e-07,
    2.7557268480310024e-06,
    2.4801521322368692e-05,
    0.00019841269863040545,
    0.0013888888917196719,
    0.008333333333330065,
    0.041666666666624164,
    0.16666666666666669,
    0.5000000000000001,
    1.0,
    1.0,
];

/// atan(√u)/√u on [0, tan²(π/8)], highest degree first.
const ATAN_P: [f64; 12] = [
    -0.017805397205419446,
    0.03796525745386593,
    -0.05035102456601552,
    0.05846878297330872,
    -0.06662951813629191,
    0.07692045330902225,
    -0.09090896809064027,
    0.11111110744919658,
    -0.14285714279250245,
    0.19999999999940893,
    -0.3333333333333312,
    1.0,
];

/// asin(√u)/√u on [0, ¼], highest degree first.
const ASIN_Q: [f64; 14] = [
    0.03257934796692842,
    -0.02093065831518245,
    0.02166805886905636,
    0.0037180577483250537,
    0.010778675120995992,
    0.011398850408440755,
    0.01398088299217101,
    0.017351600625343435,
    0.022372216106072148,
    0.030381942642327187,
    0.04464285717686322,
    0.07499999999966611,
    0.16666666666666796,
    1.0,
];

#[inline(always)]
fn horner<V: Lanes8>(c: &[f64], x: V) -> V {
    let mut acc = V::splat(c[0]);
    for &ck in &c[1..] {
        acc = acc.mul_add(x, V::splat(ck));
    }
    acc
}

/// e^{−x} for x ≥ 0 (x clamped to 708: e^{−708} is normal).
#[inline(always)]
fn exp_neg<V: Lanes8>(x: V) -> V {
    // −min(x, 708), the negation exact (−0 − y).
    let y = V::splat(-0.0).sub(x.min(V::splat(708.0)));
    let t = y.mul_add(V::splat(LOG2_E), V::splat(ROUND));
    let k = t.sub(V::splat(ROUND));
    let r = k.mul_add(V::splat(-LN2_LO), k.mul_add(V::splat(-LN2_HI), y));
    horner(&EXP_P, r).mul(t.pow2_from_round())
}

/// gd on a block.
#[inline(always)]
fn gd_block<V: Lanes8>(t: V) -> V {
    let one = V::splat(1.0);
    let z = exp_neg(t.abs());
    let big = z.gt(V::splat(TAN_PI_8));
    let w = V::select(big, one.sub(z).div(one.add(z)), z);
    let at = w.mul(horner(&ATAN_P, w.mul(w)));
    let g = V::select(
        big,
        V::splat(2.0).mul(at),
        V::splat(-2.0).mul_add(at, V::splat(FRAC_PI_2)),
    );
    g.copysign(t)
}

/// sech on a block.
#[inline(always)]
fn sech_block<V: Lanes8>(t: V) -> V {
    let z = exp_neg(t.abs());
    V::splat(2.0).mul(z).div(z.mul_add(z, V::splat(1.0)))
}

/// ψ on a block (gd when `gd`, else the identity).
#[inline(always)]
fn psi_block<V: Lanes8>(gd: bool, t: V) -> V {
    if gd {
        gd_block(t)
    } else {
        t
    }
}

/// ψ' on a block (sech when `gd`, else 1).
#[inline(always)]
fn dpsi_block<V: Lanes8>(gd: bool, t: V) -> V {
    if gd {
        sech_block(t)
    } else {
        V::splat(1.0)
    }
}

/// asin on a block, |q| ≤ 1.
#[inline(always)]
fn asin_block<V: Lanes8>(q: V) -> V {
    let mut x = q.abs();
    let big = x.gt(V::splat(0.5));
    // The square roots only when a lane needs the reduction (same values either way).
    if V::any(big) {
        let s = V::splat(0.5).mul(V::splat(1.0).sub(x)).sqrt();
        x = V::select(big, s, x);
    }
    let v = x.mul(horner(&ASIN_Q, x.mul(x)));
    let r = V::select(big, V::splat(-2.0).mul_add(v, V::splat(FRAC_PI_2)), v);
    r.copysign(q)
}

/// Pairwise reduction of the lanes in a fixed order.
#[inline(always)]
fn reduce<V: Lanes8>(v: V) -> f64 {
    let mut v = v.to_array();
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            v[l] += v[l + width];
        }
    }
    v[0]
}

/// Block `i0` of `x`, zero-padded past the end.
#[inline(always)]
fn block<V: Lanes8>(x: &[f64], i0: usize) -> V {
    if i0 + LANES <= x.len() {
        return V::load(&x[i0..]);
    }
    let mut b = [0.0; LANES];
    let end = (i0 + LANES).min(x.len());
    b[..end - i0].copy_from_slice(&x[i0..end]);
    V::from_array(b)
}

/// Block `i0` of `x`: a plain load when `full`, else zero-padded.
#[inline(always)]
fn get<V: Lanes8>(x: &[f64], i0: usize, full: bool) -> V {
    if full {
        V::load(&x[i0..])
    } else {
        block(x, i0)
    }
}

/// Writes the first `min(8, out.len())` lanes of `v` to `out`.
#[inline(always)]
fn store_part<V: Lanes8>(v: V, out: &mut [f64]) {
    if out.len() >= LANES {
        v.store(out);
    } else {
        let len = out.len();
        out.copy_from_slice(&v.to_array()[..len]);
    }
}

/// Features per group of register accumulators (d larger than this runs in groups).
const GROUP: usize = 16;

#[inline(always)]
fn psi_sums_generic<V: Lanes8>(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) {
    match out.len() {
        1 => psi_sums_d::<V, 1>(gd, theta, cols, out),
        8 => psi_sums_d::<V, 8>(gd, theta, cols, out),
        _ => psi_sums_d::<V, 0>(gd, theta, cols, out),
    }
}

/// `psi_sums` with d = D known at compile time (D = 0: any d, in groups of [`GROUP`]).
#[inline(always)]
fn psi_sums_d<V: Lanes8, const D: usize>(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) {
    let n = theta.len();
    let d = out.len();
    assert!(D == 0 || D == d);
    assert_eq!(cols.len(), n * d);
    let mut m0 = 0;
    while m0 < d {
        let g = if D > 0 { D } else { (d - m0).min(GROUP) };
        let mut acc = [V::splat(0.0); GROUP];
        let mut i0 = 0;
        // Two blocks per iteration (two independent ψ chains in flight), accumulated in
        // block order: the same sums as one block at a time.
        while i0 + 2 * LANES <= n {
            let p = psi_block(gd, V::load(&theta[i0..]));
            let p2 = psi_block(gd, V::load(&theta[i0 + LANES..]));
            for m in 0..g {
                let c = V::load(&cols[(m0 + m) * n + i0..]);
                let c2 = V::load(&cols[(m0 + m) * n + i0 + LANES..]);
                acc[m] = p2.mul_add(c2, p.mul_add(c, acc[m]));
            }
            i0 += 2 * LANES;
        }
        while i0 + LANES <= n {
            let p = psi_block(gd, V::load(&theta[i0..]));
            for m in 0..g {
                let c = V::load(&cols[(m0 + m) * n + i0..]);
                acc[m] = p.mul_add(c, acc[m]);
            }
            i0 += LANES;
        }
        if i0 < n {
            // The tail: padded with zero weights.
            let mut p = psi_block(gd, block::<V>(theta, i0)).to_array();
            p[n - i0..].fill(0.0);
            let p = V::from_array(p);
            for m in 0..g {
                let c = block::<V>(&cols[(m0 + m) * n..(m0 + m + 1) * n], i0);
                acc[m] = p.mul_add(c, acc[m]);
            }
        }
        for m in 0..g {
            out[m0 + m] = reduce(acc[m]);
        }
        m0 += g;
    }
}

/// scale · ψ'(θ_i) · Σ_m cols[m·n + i] vj[m] on block `i0` (zero-padded unless `full`), with
/// d = D when D > 0.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn velocity_block<V: Lanes8, const D: usize>(
    gd: bool,
    t: V,
    cols: &[f64],
    n: usize,
    vj: &[f64],
    sc: V,
    i0: usize,
    full: bool,
) -> V {
    let d = if D > 0 { D } else { vj.len() };
    let dp = dpsi_block(gd, t);
    let mut dot = V::splat(0.0);
    for m in 0..d {
        let c = get::<V>(&cols[m * n..(m + 1) * n], i0, full);
        dot = c.mul_add(V::splat(vj[m]), dot);
    }
    sc.mul(dp).mul(dot)
}

#[inline(always)]
fn velocity_row_generic<V: Lanes8>(
    gd: bool,
    theta: &[f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    out: &mut [f64],
) {
    match vj.len() {
        1 => velocity_row_d::<V, 1>(gd, theta, cols, vj, scale, out),
        8 => velocity_row_d::<V, 8>(gd, theta, cols, vj, scale, out),
        _ => velocity_row_d::<V, 0>(gd, theta, cols, vj, scale, out),
    }
}

#[inline(always)]
fn velocity_row_d<V: Lanes8, const D: usize>(
    gd: bool,
    theta: &[f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    out: &mut [f64],
) {
    let n = theta.len();
    let d = vj.len();
    assert!(D == 0 || D == d);
    assert_eq!(cols.len(), n * d);
    assert_eq!(out.len(), n);
    let sc = V::splat(scale);
    let mut i0 = 0;
    while i0 < n {
        let full = i0 + LANES <= n;
        let t = get::<V>(theta, i0, full);
        let k = velocity_block::<V, D>(gd, t, cols, n, vj, sc, i0, full);
        store_part(k, &mut out[i0..]);
        i0 += LANES;
    }
}

#[inline(always)]
fn euler_row_generic<V: Lanes8>(
    gd: bool,
    theta: &mut [f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    eta: f64,
) {
    match vj.len() {
        1 => euler_row_d::<V, 1>(gd, theta, cols, vj, scale, eta),
        8 => euler_row_d::<V, 8>(gd, theta, cols, vj, scale, eta),
        _ => euler_row_d::<V, 0>(gd, theta, cols, vj, scale, eta),
    }
}

#[inline(always)]
fn euler_row_d<V: Lanes8, const D: usize>(
    gd: bool,
    theta: &mut [f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    eta: f64,
) {
    let n = theta.len();
    let d = vj.len();
    assert!(D == 0 || D == d);
    assert_eq!(cols.len(), n * d);
    let (sc, et) = (V::splat(scale), V::splat(eta));
    let mut i0 = 0;
    // Two independent blocks per iteration (more in flight), then one at a time.
    while i0 + 2 * LANES <= n {
        let t = V::load(&theta[i0..]);
        let t2 = V::load(&theta[i0 + LANES..]);
        let k = velocity_block::<V, D>(gd, t, cols, n, vj, sc, i0, true);
        let k2 = velocity_block::<V, D>(gd, t2, cols, n, vj, sc, i0 + LANES, true);
        // θ + (η k), two roundings as in the textbook update.
        t.add(et.mul(k)).store(&mut theta[i0..]);
        t2.add(et.mul(k2)).store(&mut theta[i0 + LANES..]);
        i0 += 2 * LANES;
    }
    while i0 < n {
        let full = i0 + LANES <= n;
        let t = get::<V>(theta, i0, full);
        let k = velocity_block::<V, D>(gd, t, cols, n, vj, sc, i0, full);
        store_part(t.add(et.mul(k)), &mut theta[i0..]);
        i0 += LANES;
    }
}

/// Node-pair sums of row j of the readout (see [`pair_row`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_row_generic<V: Lanes8>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    vj: &[f64],
    alpha_j: f64,
    acc_out: &mut [f64],
    sums: &mut [f64],
) {
    if vj.len() == 8 {
        let mut acc = [V::splat(0.0); 8];
        pair_row_d::<V, 8>(vt, alpha, c, vj, alpha_j, &mut acc, acc_out, sums)
    } else {
        let mut acc = vec![V::splat(0.0); vj.len()];
        pair_row_d::<V, 0>(vt, alpha, c, vj, alpha_j, &mut acc, acc_out, sums)
    }
}

/// `pair_row` with d = D known at compile time (D = 0: any d), accumulators `acc` (d, zero).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_row_d<V: Lanes8, const D: usize>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    vj: &[f64],
    alpha_j: f64,
    acc: &mut [V],
    acc_out: &mut [f64],
    sums: &mut [f64],
) {
    let n = alpha.len();
    let d = if D > 0 { D } else { vj.len() };
    assert_eq!(vj.len(), d);
    assert_eq!(acc.len(), d);
    assert_eq!(vt.len(), n * d);
    assert_eq!(acc_out.len(), d);
    let mut rk = V::splat(0.0);
    let mut sw = V::splat(0.0);
    let aj = V::splat(alpha_j);
    let (one, mone) = (V::splat(1.0), V::splat(-1.0));
    let mut k0 = 0;
    while k0 < n {
        let full = k0 + LANES <= n;
        let al = get::<V>(alpha, k0, full);
        let ck = get::<V>(c, k0, full);
        let mut dot = V::splat(0.0);
        for m in 0..d {
            dot = get::<V>(&vt[m * n..(m + 1) * n], k0, full).mul_add(V::splat(vj[m]), dot);
        }
        let ajk = aj.mul(al);
        let q = dot.mul(ajk).min(one).max(mone);
        let om = one.sub(q).mul(one.add(q));
        let w = ck.mul(ajk).div(om.sqrt());
        let asq = asin_block(q);
        rk = ck.mul_add(asq, rk);
        sw = w.mul_add(dot, sw);
        for m in 0..d {
            acc[m] = w.mul_add(get::<V>(&vt[m * n..(m + 1) * n], k0, full), acc[m]);
        }
        k0 += LANES;
    }
    for m in 0..d {
        acc_out[m] = reduce(acc[m]);
    }
    sums[0] = reduce(rk);
    sums[1] = reduce(sw);
}

dispatch_lanes! {
    fn psi_sums_dispatch(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) => psi_sums_generic
}
dispatch_lanes! {
    fn velocity_row_dispatch(gd: bool, theta: &[f64], cols: &[f64], vj: &[f64], scale: f64, out: &mut [f64]) => velocity_row_generic
}
dispatch_lanes! {
    fn euler_row_dispatch(gd: bool, theta: &mut [f64], cols: &[f64], vj: &[f64], scale: f64, eta: f64) => euler_row_generic
}
dispatch_lanes! {
    fn pair_row_dispatch(vt: &[f64], alpha: &[f64], c: &[f64], vj: &[f64], alpha_j: f64, acc_out: &mut [f64], sums: &mut [f64]) => pair_row_generic
}
dispatch_lanes! {
    fn psi_values_dispatch(gd: bool, deriv: bool, t: &[f64], out: &mut [f64]) => psi_values_generic
}

#[inline(always)]
fn psi_values_generic<V: Lanes8>(gd: bool, deriv: bool, t: &[f64], out: &mut [f64]) {
    assert_eq!(t.len(), out.len());
    let mut i0 = 0;
    while i0 < t.len() {
        let b = block::<V>(t, i0);
        let r = if deriv {
            dpsi_block(gd, b)
        } else {
            psi_block(gd, b)
        };
        store_part(r, &mut out[i0..]);
        i0 += LANES;
    }
}

#[inline(always)]
fn asin_values_generic<V: Lanes8>(q: &[f64], out: &mut [f64]) {
    assert_eq!(q.len(), out.len());
    let mut i0 = 0;
    while i0 < q.len() {
        store_part(asin_block(block::<V>(q, i0)), &mut out[i0..]);
        i0 += LANES;
    }
}

dispatch_lanes! {
    fn asin_values_dispatch(q: &[f64], out: &mut [f64]) => asin_values_generic
}

/// out[m] = Σ_i ψ(θ_i) cols[m·n + i] (m < out.len(), n = θ.len()): pass 1 of a row.
pub fn psi_sums(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) {
    psi_sums_dispatch(gd, theta, cols, out)
}

/// out[i] = scale · ψ'(θ_i) · Σ_m cols[m·n + i] vj[m]: pass 2 of a row.
pub fn velocity_row(
    gd: bool,
    theta: &[f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    out: &mut [f64],
) {
    velocity_row_dispatch(gd, theta, cols, vj, scale, out)
}

/// θ_i ← θ_i + η · scale · ψ'(θ_i) · Σ_m cols[m·n + i] vj[m] (n = θ.len()): pass 2 of a row
/// fused with the Euler update, the same values as [`velocity_row`] followed by θ += η·out.
pub fn euler_row(gd: bool, theta: &mut [f64], cols: &[f64], vj: &[f64], scale: f64, eta: f64) {
    euler_row_dispatch(gd, theta, cols, vj, scale, eta)
}

/// Row j of the readout's node pairs, with vt the node vectors transposed (d × n), alpha_k =
/// (1 + |v_k|²)^{−1/2}, weights c, v_j and alpha_j: with q_k = ⟨v_j, v_k⟩ α_j α_k and
/// w_k = c_k α_j α_k (1 − q_k²)^{−1/2}, writes acc_out = Σ_k w_k v_k, sums[0] = Σ_k c_k asin q_k,
/// sums[1] = Σ_k w_k ⟨v_j, v_k⟩.
pub fn pair_row(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    vj: &[f64],
    alpha_j: f64,
    acc_out: &mut [f64],
    sums: &mut [f64],
) {
    pair_row_dispatch(vt, alpha, c, vj, alpha_j, acc_out, sums)
}

/// ψ (or ψ' when `deriv`) elementwise (tests of the approximations).
pub fn psi_values(gd: bool, deriv: bool, t: &[f64], out: &mut [f64]) {
    psi_values_dispatch(gd, deriv, t, out)
}

/// The vector asin elementwise, |q| ≤ 1 (tests of the approximation).
pub fn asin_values(q: &[f64], out: &mut [f64]) {
    asin_values_dispatch(q, out)
}

/// One tile of the symmetric node-pair pass (see [`pair_tile`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_tile_generic<V: Lanes8>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    d: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    fwd: &mut [f64],
    bwd: &mut [f64],
) {
    if d == 8 {
        let mut acc = [V::splat(0.0); 16];
        pair_tile_d::<V, 8>(vt, alpha, c, d, rows, cols, &mut acc, fwd, bwd)
    } else {
        let mut acc = vec![V::splat(0.0); 2 * d];
        pair_tile_d::<V, 0>(vt, alpha, c, d, rows, cols, &mut acc, fwd, bwd)
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_tile_d<V: Lanes8, const D: usize>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    d: usize,
    (j0, j1): (usize, usize),
    (k0, k1): (usize, usize),
    accv: &mut [V],
    fwd: &mut [f64],
    bwd: &mut [f64],
) {
    let n = alpha.len();
    let d = if D > 0 { D } else { d };
    let w = d + 2;
    assert_eq!(vt.len(), n * d);
    assert_eq!(c.len(), n);
    assert!(j0 <= j1 && j1 <= n && k0 <= k1 && k1 <= n);
    assert_eq!(fwd.len(), (j1 - j0) * w);
    assert_eq!(accv.len(), 2 * d);
    let back = !bwd.is_empty();
    if back {
        assert_eq!(bwd.len(), (k1 - k0) * w);
    }
    // This tile's columns, zero-padded to whole blocks: node vectors (block-major: the d
    // vectors of block b at [b·d·8, (b + 1)·d·8)), α (a padded α = 0 gives q = 0, s = 0,
    // asin 0: no contribution) and c.
    let nb = (k1 - k0).div_ceil(LANES);
    let kw = nb * LANES;
    let mut vk = vec![0.0; kw * d];
    for k in k0..k1 {
        let (b, l) = ((k - k0) / LANES, (k - k0) % LANES);
        for m in 0..d {
            vk[(b * d + m) * LANES + l] = vt[m * n + k];
        }
    }
    let pad = |x: &[f64]| -> Vec<f64> {
        let mut y = vec![0.0; kw];
        y[..k1 - k0].copy_from_slice(&x[k0..k1]);
        y
    };
    let al = pad(alpha);
    let ck = pad(c);
    // Backward accumulators of the column rows: per block, d sums Σ_j w v_j, then Σ_j c_j asin,
    // Σ_j w ⟨v_j, v_k⟩ (lane = row k).
    let mut bw = if back {
        vec![V::splat(0.0); nb * w]
    } else {
        Vec::new()
    };
    let mut vj = vec![0.0; 2 * d];
    // Rows two at a time (the column loads and the backward accumulators shared), the last
    // one alone: every accumulator receives the same terms in the same order as row by row.
    macro_rules! rows {
        ($r:literal, $j:expr) => {
            pair_rows::<V, D, $r>(
                vt,
                alpha,
                c,
                d,
                n,
                $j,
                (&vk, &al, &ck),
                accv,
                &mut bw,
                &mut vj,
                fwd,
                j0,
            )
        };
    }
    let mut j = j0;
    while j + 2 <= j1 {
        rows!(2, j);
        j += 2;
    }
    if j < j1 {
        rows!(1, j);
    }
    if back {
        for b in 0..nb {
            let lanes: Vec<[f64; LANES]> = bw[b * w..(b + 1) * w]
                .iter()
                .map(|x| x.to_array())
                .collect();
            for l in 0..LANES.min(k1 - k0 - b * LANES) {
                let r = b * LANES + l;
                for (q, x) in lanes.iter().enumerate() {
                    bwd[r * w + q] = x[l];
                }
            }
        }
    }
}

/// Rows j, …, j + R − 1 of [`pair_tile_d`] against all its column blocks: their forward sums
/// into `fwd` and their terms added to the backward accumulators `bw` (empty: none), row by
/// row within each block.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_rows<V: Lanes8, const D: usize, const R: usize>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    d: usize,
    n: usize,
    j: usize,
    (vk, al, ck): (&[f64], &[f64], &[f64]),
    accv: &mut [V],
    bw: &mut [V],
    vj: &mut [f64],
    fwd: &mut [f64],
    j0: usize,
) {
    let d = if D > 0 { D } else { d };
    let w = d + 2;
    let nb = al.len() / LANES;
    let back = !bw.is_empty();
    let (one, mone) = (V::splat(1.0), V::splat(-1.0));
    let mut aj = [V::splat(0.0); R];
    let mut cj = [V::splat(0.0); R];
    for r in 0..R {
        for m in 0..d {
            vj[r * d + m] = vt[m * n + j + r];
        }
        aj[r] = V::splat(alpha[j + r]);
        cj[r] = V::splat(c[j + r]);
    }
    let mut rk = [V::splat(0.0); R];
    let mut sw = [V::splat(0.0); R];
    accv.iter_mut().for_each(|a| *a = V::splat(0.0));
    for b in 0..nb {
        let o = b * LANES;
        let x = &vk[o * d..(o + LANES) * d];
        let mut dot = [V::splat(0.0); R];
        for m in 0..d {
            let xm = V::load(&x[m * LANES..]);
            for r in 0..R {
                dot[r] = xm.mul_add(V::splat(vj[r * d + m]), dot[r]);
            }
        }
        let alb = V::load(&al[o..]);
        let cb = V::load(&ck[o..]);
        let mut sj = [V::splat(0.0); R];
        let mut asq = [V::splat(0.0); R];
        for r in 0..R {
            let ajk = aj[r].mul(alb);
            let q = dot[r].mul(ajk).min(one).max(mone);
            let om = one.sub(q).mul(one.add(q));
            sj[r] = ajk.div(om.sqrt());
            asq[r] = asin_block(q);
            let wf = cb.mul(sj[r]);
            rk[r] = cb.mul_add(asq[r], rk[r]);
            sw[r] = wf.mul_add(dot[r], sw[r]);
        }
        for m in 0..d {
            let xm = V::load(&x[m * LANES..]);
            for r in 0..R {
                let wf = cb.mul(sj[r]);
                accv[r * d + m] = wf.mul_add(xm, accv[r * d + m]);
            }
        }
        if back {
            let bb = &mut bw[b * w..(b + 1) * w];
            for m in 0..d {
                let mut y = bb[m];
                for r in 0..R {
                    y = cj[r].mul(sj[r]).mul_add(V::splat(vj[r * d + m]), y);
                }
                bb[m] = y;
            }
            let (mut ya, mut ys) = (bb[d], bb[d + 1]);
            for r in 0..R {
                ya = cj[r].mul_add(asq[r], ya);
                ys = cj[r].mul(sj[r]).mul_add(dot[r], ys);
            }
            bb[d] = ya;
            bb[d + 1] = ys;
        }
    }
    for r in 0..R {
        let fr = &mut fwd[(j + r - j0) * w..(j + r - j0 + 1) * w];
        for m in 0..d {
            fr[m] = reduce(accv[r * d + m]);
        }
        fr[d] = reduce(rk[r]);
        fr[d + 1] = reduce(sw[r]);
    }
}

dispatch_lanes! {
    fn pair_tile_dispatch(vt: &[f64], alpha: &[f64], c: &[f64], d: usize, rows: (usize, usize), cols: (usize, usize), fwd: &mut [f64], bwd: &mut [f64]) => pair_tile_generic
}

/// One tile (rows j ∈ [j0, j1), columns k ∈ [k0, k1)) of the node pairs, each pair computed
/// once for both of its rows (q, K and the weight factor s_jk = α_j α_k (1 − q_jk²)^{−1/2} are
/// symmetric in j, k). With vt the node vectors transposed (d × n), α and c as in
/// [`pair_row`], writes per row j (d + 2 numbers, `fwd`, (j1 − j0)·(d + 2)):
/// Σ_k c_k s_jk v_k, Σ_k c_k asin q_jk, Σ_k c_k s_jk ⟨v_j, v_k⟩ over the tile's columns (eight
/// lane sums in k order, then the fixed pairwise reduction), and, unless `bwd` is empty, the
/// same sums of each column row k over the tile's rows (`bwd`, (k1 − k0)·(d + 2); one lane per
/// row, summed in j order). Deterministic: the result depends on the arguments only.
#[allow(clippy::too_many_arguments)]
pub fn pair_tile(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    d: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    fwd: &mut [f64],
    bwd: &mut [f64],
) {
    pair_tile_dispatch(vt, alpha, c, d, rows, cols, fwd, bwd)
}
