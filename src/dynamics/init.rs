//! Initial neurons: i.i.d. uniform on the sphere ([`crate::sampling`]), or *stratified in the
//! overlap* — a variance-reduced design for measuring finite-width bias.
//!
//! Stratified: neuron i of a sample of size N_max (a power of two is best) gets the overlap
//! α_i = F^{−1}(q_i), F the CDF of the initial law of ⟨w, θ⟩ (density ∝ (1 − α²)^{(d−3)/2}),
//! at the level q_i = vdc(i) + 1/(2N_max), where vdc is the base-2 van der Corput sequence
//! (bit reversal); its direction orthogonal to θ = e_1 is uniform (normalised Gaussians from
//! the same ChaCha8 stream as the uniform design). For every N = 2^m ≤ N_max the first N levels
//! are {k/N + 1/(2N_max)}: each prefix of the sample (the nested widths) is stratified at
//! resolution 1/N. Why: with i.i.d. neurons the loss of a width-N network fluctuates by
//! O(N^{−1/2}) around its O(1/N)-biased mean (−2 Σ_i a_i ψ(α_i) is a sample mean); the
//! stratified design removes the fluctuation of the α-marginal, leaving the O(1/N) finite-width
//! effects visible in one draw (proofs-notes/training.md §6).
//!
//! The quantile F^{−1} is that of the mean-field flow's initial-law quadrature
//! ([`crate::meanfield::flow::Nodes::quantile`], 200 panels per side; bisection to the last
//! bit).

use crate::meanfield::flow::{nodes, Layout};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Bit reversal of i in [0, 2^bits), as a fraction in [0, 1).
fn van_der_corput(mut i: u64) -> f64 {
    let mut x = 0.0;
    let mut f = 0.5;
    while i > 0 {
        if i & 1 == 1 {
            x += f;
        }
        i >>= 1;
        f *= 0.5;
    }
    x
}

/// `n` unit rows (θ = e_1) with stratified overlaps, from key `seed` and stream `stream`.
pub fn stratified(seed: u64, stream: u64, n: usize, d: usize) -> Result<Vec<Vec<f64>>, String> {
    let law = nodes(Layout::default(), d)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let shift = 0.5 / n as f64;
    (0..n)
        .map(|i| {
            let q = van_der_corput(i as u64) + shift;
            let alpha = law.quantile(q).clamp(-1.0, 1.0);
            let beta = (1.0 - alpha * alpha).max(0.0).sqrt();
            let g = crate::sampling::gaussians(&mut rng, d - 1);
            let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            let mut w = Vec::with_capacity(d);
            w.push(alpha);
            w.extend(g.iter().map(|x| beta * x / norm));
            Ok(w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn van_der_corput_prefixes_are_stratified() {
        for m in 0..8 {
            let n = 1u64 << m;
            let mut v: Vec<f64> = (0..n).map(van_der_corput).collect();
            v.sort_by(f64::total_cmp);
            for (k, x) in v.iter().enumerate() {
                assert_eq!(*x, k as f64 / n as f64);
            }
        }
    }
}
