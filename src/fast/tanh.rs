//! Vectorised tanh for the fast path, compiled through the crate's one SIMD dispatch point
//! ([`super::simd`]'s `dispatch!`: AVX-512F+FMA, AVX2+FMA, portable).
//!
//! Formula, per lane (branch-free: both branches are computed and one is selected):
//! - |z| < 0.625: tanh z = z + z·s·P(s)/Q(s), s = z², with the degree-2/3 minimax rational
//!   of Cephes' `tanh` (Moshier, *Methods and Programs for Mathematical Functions*, 1989;
//!   relative error of the rational below 2.5e-16 on this interval);
//! - otherwise: tanh |z| = 1 − 2/(e^{2|z|} + 1), with sign(z) restored, where t = min(2|z|, 40)
//!   (tanh 20 rounds to 1 in f64) and e^t = 2^k·p(r), k = round(t/ln 2),
//!   r = t − k·ln2_hi − k·ln2_lo (Cody–Waite, ln2_hi with 32 trailing zero bits so k·ln2_hi is
//!   exact for k ≤ 58), |r| ≤ ln 2/2, p the degree-13 Taylor polynomial of e^r (truncation
//!   below 4.1e-18 relative), 2^k formed from the exponent bits.
//!
//! Accuracy contract: for every finite z the result is within 4 ulp of tanh z (tested against
//! the platform's libm `tanh` over a dense grid of magnitudes in
//! `tests/two_timescale_train.rs::fast_tanh_is_within_four_ulp_of_libm`); tanh(±0) = ±0,
//! tanh(±∞) = ±1, NaN stays NaN (so a diverged particle still fails the Cholesky pivot check).
//! The large branch loses at most 2 ulp (e^t relative error ≲ 2 ulp, damped by
//! 2/(e^t+1) ≤ 0.445 against a result ≥ 0.555).
//!
//! Determinism: a pure elementwise map; in one process every call takes the same dispatch
//! branch, so a value's bits do not depend on which thread or block computes it.

use super::simd::madd;

/// Lanes per block (one AVX-512 register, two AVX2 registers).
const LANES: usize = 8;

const SMALL: f64 = 0.625;
const P: [f64; 3] = [
    -9.643_991_794_250_522_386_28E-1,
    -9.928_772_310_019_185_865_64E1,
    -1.614_687_684_417_084_479_52E3,
];
const Q: [f64; 3] = [
    1.128_116_784_916_329_314_02E2,
    2.235_488_390_601_004_485_83E3,
    4.844_063_053_251_254_860_48E3,
];
/// 1.5·2^52: adding it rounds a value in [0, 2^51) to an integer held in the low mantissa bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split: LN2_HI has its low 32 mantissa bits zero.
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
/// 1/k! for k = 13 down to 0.
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
    0.5,
    1.0,
    1.0,
];

crate::fast::simd::dispatch! {
    /// x_i ← tanh x_i for every entry (see the module's accuracy contract).
    pub fn tanh_in_place(x: &mut [f64]) => tanh_generic
}

#[inline(always)]
fn tanh_generic<const FMA: bool>(x: &mut [f64]) {
    let body = x.len() - x.len() % LANES;
    let (head, tail) = x.split_at_mut(body);
    for chunk in head.chunks_exact_mut(LANES) {
        let lanes: &mut [f64; LANES] = chunk.try_into().expect("LANES entries");
        let mut out = [0.0; LANES];
        for l in 0..LANES {
            out[l] = tanh_one::<FMA>(lanes[l]);
        }
        *lanes = out;
    }
    for v in tail {
        *v = tanh_one::<FMA>(*v);
    }
}

/// One lane: both branches' fractions, one division, then a select (so a block of lanes
/// vectorises).
#[inline(always)]
fn tanh_one<const FMA: bool>(z: f64) -> f64 {
    let az = z.abs();
    let small = az < SMALL;
    // small branch: z + (z·s·P(s))/Q(s)
    let s = z * z;
    let p = madd::<FMA>(madd::<FMA>(P[0], s, P[1]), s, P[2]);
    let q = madd::<FMA>(madd::<FMA>(s + Q[0], s, Q[1]), s, Q[2]);
    // large branch: 1 − 2/(e^t + 1), t = min(2|z|, 40); NaN propagates (the comparison fails)
    let t2 = 2.0 * az;
    let t = if t2 > 40.0 { 40.0 } else { t2 };
    let kb = madd::<FMA>(t, LOG2E, MAGIC);
    let k = kb - MAGIC;
    let r = madd::<FMA>(-k, LN2_LO, madd::<FMA>(-k, LN2_HI, t));
    let mut e = EXP_TAYLOR[0];
    for &c in &EXP_TAYLOR[1..] {
        e = madd::<FMA>(e, r, c);
    }
    // 2^k from the integer in kb's low mantissa bits (0 ≤ k ≤ 58)
    let two_k = f64::from_bits(kb.to_bits().wrapping_add(1023) << 52);
    let num = if small { z * s * p } else { 2.0 };
    let den = if small { q } else { madd::<FMA>(e, two_k, 1.0) };
    let frac = num / den;
    // |z + frac| < 1 has the sign of z except at z = −0, where the copy restores it
    let v = if small { z + frac } else { 1.0 - frac };
    v.copysign(z)
}
