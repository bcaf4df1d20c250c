//! Vector kernels of the deep mean-field model's fast path (`crate::deep::fused`): the edge
//! maps ψ = gd, id and ψ' on blocks of [`LANES`] trained edges, the two passes over a row of
//! trained edges, and the node-pair pass of the readout.
//!
//! Compiled three times through the crate's one dispatch point ([`super::simd`]'s `dispatch!`):
//! AVX-512F + FMA, AVX2 + FMA (`f64::mul_add` is then the hardware FMA) and portable. The tests
//! force each level with `MFORACLE_SIMD` in a child process (`tests/deep_fused.rs`).
//!
//! ## The approximations (derivation in `proofs-notes/deep-meanfield.md` §9)
//! - e^{−x}, x ∈ [0, 708] (clamped): x = k ln 2 + r by the FMA-free round-to-nearest trick
//!   (adding 1.5·2⁵²), Cody–Waite ln 2 = `LN2_HI` + `LN2_LO`, |r| ≤ ln2/2 + 2⁻⁴⁰, Taylor degree
//!   13 (remainder ≤ 0.347¹⁴/14!·e^{0.35} < 7e−18), 2^k assembled in the exponent bits.
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

use super::simd::{dispatch, madd};
use std::f64::consts::FRAC_PI_2;

/// Edges per vector block (one AVX-512 register, two AVX2 registers).
pub const LANES: usize = 8;
type B = [f64; LANES];

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

/// 1/k!, k = 13 down to 0 (Horner order).
const EXP_TAYLOR: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    1.0 / 2.0,
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
fn horner<const F: bool>(c: &[f64], x: &B) -> B {
    let mut acc = [c[0]; LANES];
    for &ck in &c[1..] {
        for l in 0..LANES {
            acc[l] = madd::<F>(acc[l], x[l], ck);
        }
    }
    acc
}

/// e^{−x} for x ≥ 0 (x clamped to 708: e^{−708} is normal).
#[inline(always)]
fn exp_neg<const F: bool>(x: &B) -> B {
    let mut y = [0.0; LANES];
    let mut t = [0.0; LANES];
    let mut r = [0.0; LANES];
    for l in 0..LANES {
        y[l] = -x[l].min(708.0);
        t[l] = madd::<F>(y[l], LOG2_E, ROUND);
        let k = t[l] - ROUND;
        r[l] = madd::<F>(k, -LN2_LO, madd::<F>(k, -LN2_HI, y[l]));
    }
    let p = horner::<F>(&EXP_TAYLOR, &r);
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        let scale = f64::from_bits((t[l].to_bits().wrapping_add(1023)) << 52);
        out[l] = p[l] * scale;
    }
    out
}

/// ψ on a block (gd when `gd`, else the identity).
#[inline(always)]
fn psi_block<const F: bool>(gd: bool, t: &B) -> B {
    if !gd {
        return *t;
    }
    let mut ax = [0.0; LANES];
    for l in 0..LANES {
        ax[l] = t[l].abs();
    }
    let z = exp_neg::<F>(&ax);
    let mut w = [0.0; LANES];
    let mut w2 = [0.0; LANES];
    for l in 0..LANES {
        w[l] = if z[l] > TAN_PI_8 {
            (1.0 - z[l]) / (1.0 + z[l])
        } else {
            z[l]
        };
        w2[l] = w[l] * w[l];
    }
    let p = horner::<F>(&ATAN_P, &w2);
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        let at = w[l] * p[l];
        let g = if z[l] > TAN_PI_8 {
            2.0 * at
        } else {
            madd::<F>(-2.0, at, FRAC_PI_2)
        };
        out[l] = g.copysign(t[l]);
    }
    out
}

/// ψ' on a block (sech when `gd`, else 1).
#[inline(always)]
fn dpsi_block<const F: bool>(gd: bool, t: &B) -> B {
    if !gd {
        return [1.0; LANES];
    }
    let mut ax = [0.0; LANES];
    for l in 0..LANES {
        ax[l] = t[l].abs();
    }
    let z = exp_neg::<F>(&ax);
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        out[l] = 2.0 * z[l] / madd::<F>(z[l], z[l], 1.0);
    }
    out
}

/// asin on a block, |q| ≤ 1.
#[inline(always)]
fn asin_block<const F: bool>(q: &B) -> B {
    let mut x = [0.0; LANES];
    let mut x2 = [0.0; LANES];
    let mut big = [false; LANES];
    for l in 0..LANES {
        x[l] = q[l].abs();
        big[l] = x[l] > 0.5;
    }
    // The square roots only when a lane needs the reduction (same values either way).
    if big.iter().any(|&b| b) {
        for l in 0..LANES {
            let s = (0.5 * (1.0 - x[l])).sqrt();
            x[l] = if big[l] { s } else { x[l] };
        }
    }
    for l in 0..LANES {
        x2[l] = x[l] * x[l];
    }
    let p = horner::<F>(&ASIN_Q, &x2);
    let mut out = [0.0; LANES];
    for l in 0..LANES {
        let v = x[l] * p[l];
        let r = if big[l] {
            madd::<F>(-2.0, v, FRAC_PI_2)
        } else {
            v
        };
        out[l] = r.copysign(q[l]);
    }
    out
}

/// Pairwise reduction of the lanes in a fixed order.
#[inline(always)]
fn reduce(v: &B) -> f64 {
    let mut v = *v;
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            v[l] += v[l + width];
        }
    }
    v[0]
}

/// Block `i0` of `x` (length n), zero-padded past the end.
#[inline(always)]
fn block(x: &[f64], i0: usize) -> B {
    if i0 + LANES <= x.len() {
        return x[i0..i0 + LANES].try_into().unwrap();
    }
    let mut b = [0.0; LANES];
    let end = (i0 + LANES).min(x.len());
    b[..end - i0].copy_from_slice(&x[i0..end]);
    b
}

#[inline(always)]
fn psi_sums_generic<const F: bool>(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) {
    let n = theta.len();
    let d = out.len();
    assert_eq!(cols.len(), n * d);
    let mut acc = vec![[0.0; LANES]; d];
    let mut i0 = 0;
    while i0 < n {
        let t = block(theta, i0);
        let mut p = psi_block::<F>(gd, &t);
        if i0 + LANES > n {
            for l in n - i0..LANES {
                p[l] = 0.0;
            }
        }
        for m in 0..d {
            let c = block(&cols[m * n..(m + 1) * n], i0);
            for l in 0..LANES {
                acc[m][l] = madd::<F>(p[l], c[l], acc[m][l]);
            }
        }
        i0 += LANES;
    }
    for m in 0..d {
        out[m] = reduce(&acc[m]);
    }
}

#[inline(always)]
fn velocity_row_generic<const F: bool>(
    gd: bool,
    theta: &[f64],
    cols: &[f64],
    vj: &[f64],
    scale: f64,
    out: &mut [f64],
) {
    let n = theta.len();
    let d = vj.len();
    assert_eq!(cols.len(), n * d);
    assert_eq!(out.len(), n);
    let body = n - n % LANES;
    let mut i0 = 0;
    while i0 < n {
        let t = block(theta, i0);
        let dp = dpsi_block::<F>(gd, &t);
        let mut dot = [0.0; LANES];
        for m in 0..d {
            let c = block(&cols[m * n..(m + 1) * n], i0);
            for l in 0..LANES {
                dot[l] = madd::<F>(c[l], vj[m], dot[l]);
            }
        }
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = scale * dp[l] * dot[l];
        }
        if i0 < body {
            out[i0..i0 + LANES].copy_from_slice(&r);
        } else {
            out[i0..].copy_from_slice(&r[..n - i0]);
        }
        i0 += LANES;
    }
}

/// Node-pair sums of row j of the readout (see [`pair_row`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pair_row_generic<const F: bool>(
    vt: &[f64],
    alpha: &[f64],
    c: &[f64],
    vj: &[f64],
    alpha_j: f64,
    acc_out: &mut [f64],
    sums: &mut [f64],
) {
    let n = alpha.len();
    let d = vj.len();
    assert_eq!(vt.len(), n * d);
    assert_eq!(acc_out.len(), d);
    let mut acc = vec![[0.0; LANES]; d];
    let mut rk = [0.0; LANES];
    let mut sw = [0.0; LANES];
    let mut k0 = 0;
    while k0 < n {
        let al = block(alpha, k0);
        let ck = block(c, k0);
        let mut dot = [0.0; LANES];
        for m in 0..d {
            let x = block(&vt[m * n..(m + 1) * n], k0);
            for l in 0..LANES {
                dot[l] = madd::<F>(x[l], vj[m], dot[l]);
            }
        }
        let mut q = [0.0; LANES];
        let mut w = [0.0; LANES];
        for l in 0..LANES {
            let ajk = alpha_j * al[l];
            q[l] = (dot[l] * ajk).clamp(-1.0, 1.0);
            let om = (1.0 - q[l]) * (1.0 + q[l]);
            w[l] = ck[l] * ajk / om.sqrt();
        }
        let asq = asin_block::<F>(&q);
        for l in 0..LANES {
            rk[l] = madd::<F>(ck[l], asq[l], rk[l]);
            sw[l] = madd::<F>(w[l], dot[l], sw[l]);
        }
        for m in 0..d {
            let x = block(&vt[m * n..(m + 1) * n], k0);
            for l in 0..LANES {
                acc[m][l] = madd::<F>(w[l], x[l], acc[m][l]);
            }
        }
        k0 += LANES;
    }
    for m in 0..d {
        acc_out[m] = reduce(&acc[m]);
    }
    sums[0] = reduce(&rk);
    sums[1] = reduce(&sw);
}

dispatch! {
    fn psi_sums_dispatch(gd: bool, theta: &[f64], cols: &[f64], out: &mut [f64]) => psi_sums_generic
}
dispatch! {
    fn velocity_row_dispatch(gd: bool, theta: &[f64], cols: &[f64], vj: &[f64], scale: f64, out: &mut [f64]) => velocity_row_generic
}
dispatch! {
    fn pair_row_dispatch(vt: &[f64], alpha: &[f64], c: &[f64], vj: &[f64], alpha_j: f64, acc_out: &mut [f64], sums: &mut [f64]) => pair_row_generic
}
dispatch! {
    fn psi_values_dispatch(gd: bool, deriv: bool, t: &[f64], out: &mut [f64]) => psi_values_generic
}

#[inline(always)]
fn psi_values_generic<const F: bool>(gd: bool, deriv: bool, t: &[f64], out: &mut [f64]) {
    assert_eq!(t.len(), out.len());
    let mut i0 = 0;
    while i0 < t.len() {
        let b = block(t, i0);
        let r = if deriv {
            dpsi_block::<F>(gd, &b)
        } else {
            psi_block::<F>(gd, &b)
        };
        let end = (i0 + LANES).min(t.len());
        out[i0..end].copy_from_slice(&r[..end - i0]);
        i0 += LANES;
    }
}

#[inline(always)]
fn asin_values_generic<const F: bool>(q: &[f64], out: &mut [f64]) {
    let mut i0 = 0;
    while i0 < q.len() {
        let r = asin_block::<F>(&block(q, i0));
        let end = (i0 + LANES).min(q.len());
        out[i0..end].copy_from_slice(&r[..end - i0]);
        i0 += LANES;
    }
}

dispatch! {
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
