//! Seeded, platform-independent random inputs: standard normals and uniform points on the
//! sphere from a ChaCha8 stream (a fixed, documented generator), so that a seed names the same
//! numbers on every machine and for every thread count.
//!
//! Normals come from Box–Muller on 53-bit uniforms in (0, 1] through libm's log, sqrt, cos and
//! sin; a uniform point on S^{d−1} is a vector of d normals divided by its norm.

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `count` standard normals, in pairs by Box–Muller.
pub fn gaussians(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = ((rng.next_u64() >> 11) as f64) / (1u64 << 53) as f64;
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let t = 2.0 * std::f64::consts::PI * u2;
        out.push(r * libm::cos(t));
        out.push(r * libm::sin(t));
    }
    out.truncate(count);
    out
}

/// `n` uniform points on S^{d−1}, as rows, from the stream seeded with `seed` (stream 0).
pub fn sphere_rows(seed: u64, n: usize, d: usize) -> Vec<Vec<f64>> {
    sphere_rows_stream(seed, 0, n, d)
}

/// `n` uniform points on S^{d−1} from ChaCha8 with key `seed` and stream number `stream`
/// (independent streams for independent draws of one seed).
pub fn sphere_rows_stream(seed: u64, stream: u64, n: usize, d: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    (0..n)
        .map(|_| {
            let g = gaussians(&mut rng, d);
            let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            g.iter().map(|x| x / norm).collect()
        })
        .collect()
}
