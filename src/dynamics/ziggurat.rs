//! Standard normals by the ziggurat method (Marsaglia & Tsang, "The ziggurat method for
//! generating random variables", J. Stat. Softw. 5(8), 2000): the Gaussian transform of the
//! noise of `train --beta` ([`super::noise`]). The initial weights of every command still come
//! from [`crate::sampling::gaussians`] (Box–Muller), which this module does not change.
//!
//! **The method.** The half density f(x) = e^{−x²/2}, x ≥ 0, is covered by 256 blocks of equal
//! area v: block 0 is the base strip [0, r] × [0, f(r)] together with the tail x > r; block i,
//! 1 ≤ i ≤ 255, is the rectangle [0, x_i] × [f(x_i), f(x_{i+1})], with
//! x_1 = r > x_2 > … > x_255 > x_256 = 0 and x_{i+1} = f⁻¹(v/x_i + f(x_i)). One 64-bit word b
//! gives the block i = b mod 2^8 (its low 8 bits) and the signed uniform
//! u = (2⌊b/2^12⌋ + 1)/2^52 − 1 ∈ (−1, 1) (its top 52 bits: disjoint from the block's bits, so
//! the block and u are independent, unlike the original code, which took both from one 32-bit
//! word; Doornik 2005). With x = u·x_i (x_0 = v/f(r), the width block 0 would have as a
//! rectangle):
//! - |x| < x_{i+1}: x lies in the part of the block under f; return it (98.5 % of words);
//! - block 0 otherwise: the tail, by Marsaglia's exponential rejection: a = −ln U_1/r,
//!   c = −ln U_2 until 2c > a², return ±(r + a) with the sign of u;
//! - block i ≥ 1 otherwise: the wedge; accept x if f(x_i) + U·(f(x_{i+1}) − f(x_i)) < f(x),
//!   else start again with a new word.
//!
//! Every block has area v, so a uniform block and a uniform point in it is a uniform point under
//! the graph of f (or of its tail): the accepted x is exactly N(0, 1). The U's are 53-bit
//! uniforms ([0, 1) in the wedge, (0, 1] in the tail, so the logarithm is finite).
//!
//! **Constants.** r = 3.6541528853610088 (Marsaglia and Tsang's value for 256 blocks) and
//! v = r f(r) + √(π/2) erfc(r/√2) (the base strip plus the tail). The table is built once from r
//! by the recursion above with the `libm` crate (pure Rust: the same bits on every platform).
//!
//! **Accuracy contract.** Exact up to the 2^−52 grid of u, the 53-bit grid of the U's and the
//! closure of the table: the top block's area x_255(1 − f(x_255)) equals v to 1.5e-13 relative
//! (the recursion closes because r solves the 256-block equation to 17 digits), so the block
//! probabilities are 1/256 to that accuracy. Test `tables_have_equal_area_blocks` (below) checks
//! every block's area; `tests/noise_generator.rs` checks moments, the Kolmogorov–Smirnov
//! distance and the tail on 2^20 draws.

use rand::RngCore;
use std::sync::OnceLock;

/// Number of blocks.
pub const BLOCKS: usize = 256;
/// x_1 = r, the start of the tail.
pub const R: f64 = 3.654_152_885_361_008_8;

/// The ziggurat's table: x[i] (i = 0..=256) and f[i] = f(x[i]) (f[0] unused).
pub struct Table {
    pub x: [f64; BLOCKS + 1],
    pub f: [f64; BLOCKS + 1],
    /// The common block area v.
    pub v: f64,
}

fn half_density(x: f64) -> f64 {
    libm::exp(-0.5 * x * x)
}

/// The table, built on first use.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let fr = half_density(R);
        let v = R * fr
            + libm::sqrt(std::f64::consts::FRAC_PI_2) * libm::erfc(R / std::f64::consts::SQRT_2);
        let mut x = [0.0; BLOCKS + 1];
        let mut f = [0.0; BLOCKS + 1];
        x[0] = v / fr;
        x[1] = R;
        f[1] = fr;
        for i in 1..BLOCKS - 1 {
            x[i + 1] = libm::sqrt(-2.0 * libm::log(v / x[i] + f[i]));
            f[i + 1] = half_density(x[i + 1]);
        }
        x[BLOCKS] = 0.0;
        f[BLOCKS] = 1.0;
        Table { x, f, v }
    })
}

/// A uniform in [0, 1) on the 2^−53 grid.
fn uniform_co(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform in (0, 1] on the 2^−53 grid.
fn uniform_oc(rng: &mut impl RngCore) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One standard normal from `rng` (one 64-bit word in 98.5 % of calls).
#[inline]
pub fn sample(rng: &mut impl RngCore, t: &Table) -> f64 {
    loop {
        let b = rng.next_u64();
        let i = (b & 0xff) as usize;
        // (2m + 1)/2^52 − 1 with m < 2^52: exact, in (−1, 1), never 0.
        let u = ((b >> 12) as f64 + 0.5) * (1.0 / (1u64 << 51) as f64) - 1.0;
        let x = u * t.x[i];
        if x.abs() < t.x[i + 1] {
            return x;
        }
        if i == 0 {
            return tail(rng, u);
        }
        if t.f[i] + uniform_co(rng) * (t.f[i + 1] - t.f[i]) < half_density(x) {
            return x;
        }
    }
}

/// The tail |x| > r with the sign of `u` (Marsaglia's exponential rejection).
#[cold]
fn tail(rng: &mut impl RngCore, u: f64) -> f64 {
    loop {
        let a = -libm::log(uniform_oc(rng)) / R;
        let c = -libm::log(uniform_oc(rng));
        if 2.0 * c > a * a {
            return if u < 0.0 { -(R + a) } else { R + a };
        }
    }
}

/// Fills `out` with standard normals from `rng`, in order.
pub fn fill(rng: &mut impl RngCore, out: &mut [f64]) {
    let t = table();
    for g in out.iter_mut() {
        *g = sample(rng, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block has area v: block 0 as r f(r) + the tail integral (by the closed form in
    /// erfc, the definition of v, so only x_0 f(r) = v is checked), blocks 1..=255 as
    /// x_i (f(x_{i+1}) − f(x_i)). The recursion makes blocks 1..=254 equal to v up to
    /// rounding; the top block closes only if r is the 256-block root.
    #[test]
    fn tables_have_equal_area_blocks() {
        let t = table();
        assert!((t.x[0] * t.f[1] - t.v).abs() <= 1e-15 * t.v);
        for i in 1..BLOCKS {
            let area = t.x[i] * (t.f[i + 1] - t.f[i]);
            assert!(
                (area - t.v).abs() <= 1e-12 * t.v,
                "block {i}: area {area:e} vs v {:e}",
                t.v
            );
            assert!(t.x[i + 1] < t.x[i]);
        }
        // Marsaglia–Tsang's v for 256 blocks, printed 4.92867323399e-3 (ours is
        // 4.9286732339747e-3: they agree to 11 digits, 1.5e-14 apart).
        assert!((t.v - 4.928_673_233_99e-3).abs() <= 3e-14);
        // A wrong r (the 128-block value 3.442619855899) leaves the top block far from v.
        let r128 = 3.442_619_855_899;
        let fr = half_density(r128);
        let v = r128 * fr
            + libm::sqrt(std::f64::consts::FRAC_PI_2) * libm::erfc(r128 / std::f64::consts::SQRT_2);
        let mut x = r128;
        let mut closed = true;
        for _ in 1..BLOCKS - 1 {
            let y = v / x + half_density(x);
            if y >= 1.0 {
                closed = false;
                break;
            }
            x = libm::sqrt(-2.0 * libm::log(y));
        }
        assert!(!closed || (x * (1.0 - half_density(x)) - v).abs() > 1e-6 * v);
    }
}
