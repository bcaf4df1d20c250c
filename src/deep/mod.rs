//! # Deep mean-field networks (Araújo–Oliveira–Yukimura): one exactly computable architecture
//!
//! Proofs-note: `proofs-notes/deep-meanfield.md` (architecture, closed forms, the limit, what is
//! proven and what is estimated), `proofs-notes/deep-general-unit.md` (other units). Tests:
//! `tests/deep.rs` (closed forms, limit, rates at small N), `tests/deep_l3.rs` (L = 3),
//! `tests/deep_fused.rs` (the SIMD passes), `tests/deep_rates.rs` (width rates, summary),
//! `tests/deep_unit.rs` (general units), `tests/deep_golden.rs`, `tests/deep_recipe.rs`,
//! `tests/deep_input.rs` (input checks, memory announcement).
//!
//! ## Architecture (defaults)
//! Input x ~ N(0, I_d), teacher y = g(⟨w*, x⟩) with g(z) = erf(z/√2) and w* = e₁; loss
//! without ½: R = E(f − y)².
//! - **L = 2**: frozen features h_i = ⟨u_i, x⟩ (u_i ~ N(0, I_d), i = 1..N); one trained N × N
//!   layer of scalars θ_ij acting through an edge map ψ: z_j = ⟨v_j, x⟩ with
//!   v_j = (1/N) Σ_i ψ(θ_ij) u_i; output f = (1/N) Σ_j a_j g(z_j), a_j ~ U[−√3, √3] frozen;
//!   θ_ij(0) ~ N(0, 1).
//! - **L = 3**: as L = 2 for θ1 (θ1(0) ~ N(0, 1)), then z3_k = (1/N) Σ_j ψ(θ2_jk) g(z_j) and
//!   f = (1/N) Σ_k a_k z3_k = (1/N) Σ_j b_j g(z_j), b_j = (1/N) Σ_k a_k ψ(θ2_jk);
//!   θ2(0) ~ N(1, 1), a_k ~ U[1 − √3, 1 + √3].
//!
//! ψ ∈ {gd, id}: gd(θ) = arctan(sinh θ) (bounded, ψ' = sech θ), id(θ) = θ.
//!
//! Training is the N²-scaled gradient flow dθ_e/dt = −N² ∂R/∂θ_e of every trained edge; the
//! closed forms of R and of these velocities are in [`finite`] (f64) and, written separately,
//! in [`oracle`] (MPFR). The infinite-width limit for L = 2 is in [`limit`], for L = 3 in
//! [`limit3`]; the finite-width flow coupled to it in [`train`] (L = 2) and
//! [`train3`] (L = 3). A general unit σ (`--unit`): finite N in [`general`] and
//! [`oracle_general`], the limit's kernels in [`limit_unit`], the L = 2 flow in [`train_unit`]
//! (`proofs-notes/deep-general-unit.md`).
//!
//! ## Seeded draws
//! A network is a function of (seed, N, d, L): ChaCha8 keyed by `seed`, stream 0 gives the N×d
//! features u (row by row, Box–Muller normals of [`crate::sampling::gaussians`]), stream 1 the
//! N output weights (a = centre + √3(2U − 1), U a 53-bit uniform), stream 2 + j the N incoming
//! weights θ_{·j} of H2 node j, and for L = 3 stream 2 + N + j the N weights θ2_{j·} leaving
//! node j (plus the mean 1). Every row has its own stream, so rows are generated in parallel
//! and regenerated on demand with the same bits for any number of threads.

pub mod bench;
pub mod finite;
pub mod fused;
pub mod general;
pub mod limit;
pub mod limit3;
pub mod limit_unit;
pub mod oracle;
pub mod oracle_general;
pub mod rates;
pub mod train;
pub mod train3;
pub mod train_unit;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The edge map ψ of a trained edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Psi {
    /// ψ(θ) = gd(θ) = arctan(sinh θ), ψ'(θ) = sech θ.
    Gd,
    /// ψ(θ) = θ.
    Id,
}

impl Psi {
    pub fn parse(s: &str) -> Result<Psi, String> {
        match s {
            "gd" => Ok(Psi::Gd),
            "id" => Ok(Psi::Id),
            _ => Err(format!("--psi {s}: expected gd or id")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Psi::Gd => "gd",
            Psi::Id => "id",
        }
    }
    /// ψ(θ) in f64 (libm: the same bits on every platform).
    #[inline]
    pub fn value(self, t: f64) -> f64 {
        match self {
            Psi::Gd => libm::atan(libm::sinh(t)),
            Psi::Id => t,
        }
    }
    /// ψ'(θ) in f64.
    #[inline]
    pub fn deriv(self, t: f64) -> f64 {
        match self {
            Psi::Gd => 1.0 / libm::cosh(t),
            Psi::Id => 1.0,
        }
    }
}

/// A finite-width network of the deep model: frozen features and weights, trained edges.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    /// Number of inner layers: 2 or 3.
    pub layers: usize,
    /// Width N.
    pub n: usize,
    /// Input dimension d.
    pub d: usize,
    pub psi: Psi,
    /// Frozen features, row-major N × d (row i is u_i).
    pub u: Vec<f64>,
    /// Frozen output weights a (N).
    pub a: Vec<f64>,
    /// First trained layer, row-major by H2 node: theta1[j·N + i] = θ_ij (edge i → j).
    pub theta1: Vec<f64>,
    /// Second trained layer (L = 3 only, else empty): theta2[j·N + k] = θ2_jk (edge j → k).
    pub theta2: Vec<f64>,
}

/// Supported numbers of inner layers.
pub const LAYERS: [usize; 2] = [2, 3];

/// Checks (L, N, d) before any work: L ∈ {2, 3}, N ≥ 1, d ≥ 1, and the state fits in
/// `max_bytes` (N² f64 per trained layer plus the features).
pub fn check_shape(layers: usize, n: usize, d: usize, max_bytes: f64) -> Result<(), String> {
    if !LAYERS.contains(&layers) {
        return Err(format!(
            "--layers {layers}: supported numbers of inner layers are 2 and 3"
        ));
    }
    if n == 0 {
        return Err("width N = 0: must be at least 1".into());
    }
    if d == 0 {
        return Err("--d 0: the input dimension must be at least 1".into());
    }
    let bytes = state_bytes(layers, n, d);
    if bytes > max_bytes {
        return Err(format!(
            "N = {n}, d = {d}, L = {layers} needs about {:.3e} bytes, more than the limit {:.3e}",
            bytes, max_bytes
        ));
    }
    Ok(())
}

/// Bytes of one network's state and of one velocity evaluation's output (f64).
pub fn state_bytes(layers: usize, n: usize, d: usize) -> f64 {
    let n = n as f64;
    let trained = (layers - 1) as f64 * n * n;
    8.0 * (2.0 * trained + 3.0 * n * d as f64 + 3.0 * n)
}

fn stream(seed: u64, s: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(s);
    rng
}

/// The N incoming weights θ_{·j}(0) of H2 node j (L = 2 and θ1 of L = 3), regenerated from
/// the seed: N(0, 1).
pub fn theta1_row(seed: u64, n: usize, j: usize) -> Vec<f64> {
    crate::sampling::gaussians(&mut stream(seed, 2 + j as u64), n)
}

/// The N weights θ2_{j·}(0) leaving H2 node j (L = 3): N(1, 1).
pub fn theta2_row(seed: u64, n: usize, j: usize) -> Vec<f64> {
    let mut r = crate::sampling::gaussians(&mut stream(seed, 2 + (n + j) as u64), n);
    for x in r.iter_mut() {
        *x += 1.0;
    }
    r
}

/// Centre of the output weights' law: 0 (L = 2) or 1 (L = 3).
pub fn a_centre(layers: usize) -> f64 {
    if layers == 3 {
        1.0
    } else {
        0.0
    }
}

/// The seeded network at initialisation (see the module documentation for the streams).
pub fn init(layers: usize, n: usize, d: usize, psi: Psi, seed: u64) -> Net {
    use rayon::prelude::*;
    let u = crate::sampling::gaussians(&mut stream(seed, 0), n * d);
    let mut ra = stream(seed, 1);
    let c = a_centre(layers);
    let a = (0..n)
        .map(|_| {
            let uu = (ra.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            c + 3f64.sqrt() * (2.0 * uu - 1.0)
        })
        .collect();
    // Rows written in place (no intermediate collection: the peak is the N² arrays).
    let rows = |f: fn(u64, usize, usize) -> Vec<f64>| {
        let mut t = vec![0.0; n * n];
        t.par_chunks_mut(n)
            .enumerate()
            .for_each(|(j, r)| r.copy_from_slice(&f(seed, n, j)));
        t
    };
    let theta1 = rows(theta1_row);
    let theta2 = if layers == 3 {
        rows(theta2_row)
    } else {
        Vec::new()
    };
    Net {
        layers,
        n,
        d,
        psi,
        u,
        a,
        theta1,
        theta2,
    }
}
