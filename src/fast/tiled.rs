//! The tiled Gram route: S_i = Σ_j a_j κ'(⟨w_i, w_j⟩) w_j without storing the N×N matrix.
//!
//! For each row block I of [`ROW_BLOCK`] neurons (one rayon task each) and each column block J of
//! [`COL_BLOCK`] neurons, in increasing J:
//! 1. G = W_I W_Jᵀ by GEMM (rows × cols × d);
//! 2. `simd::tile_pass`: Σ_j a_j κ(G_ij) and Σ_j a_j κ_{zσ',σ}(G_ij) added to the row sums when
//!    asked for, then G_ij ← a_j κ'(G_ij), all on the tile while it is in cache;
//! 3. S_I += G W_J by GEMM (rows × d × cols).
//!
//! Flops: 4N²d for the two products, plus the kernel evaluations on N² pairs. Memory: one tile
//! and nothing else per task beyond the outputs. The block partition and the order over J are
//! fixed, so the result does not depend on the number of threads.
//!
//! Accuracy contract (proofs-notes/fast-path.md §3): each s_ij is a length-d dot product
//! (error ≤ γ_d ‖w_i‖‖w_j‖), each kernel value is within `Func::eval_error + Func::modulus` of
//! the exact kernel at the exact overlap, and each entry of S_i is a sum of N products, so within
//! γ_{N+2} of the sum of their magnitudes; `fast::error` turns this into the stated bounds.

use super::gemm::{gemm, Par, View};
use super::simd::{self, TileKernels};
use super::{Funcs, Interaction, Problem, Quantities};
use rayon::prelude::*;

/// Neurons per row block (one task).
pub(crate) const ROW_BLOCK: usize = 128;
/// Neurons per column block (one Gram tile is ROW_BLOCK × COL_BLOCK).
pub(crate) const COL_BLOCK: usize = 256;

pub(crate) fn interaction(p: &Problem, f: &Funcs, q: Quantities) -> Interaction {
    let (n, d) = (p.n, p.d);
    let all = q == Quantities::All;
    let kernels = TileKernels {
        prime: &f.kappa_prime,
        value: all.then_some(&f.kappa),
        radial: all.then_some(&f.kappa_radial),
    };
    let mut s = vec![0.0; n * d];
    let mut lsum = vec![0.0; n];
    let mut rsum = vec![0.0; n];
    s.par_chunks_mut(ROW_BLOCK * d)
        .zip(lsum.par_chunks_mut(ROW_BLOCK))
        .zip(rsum.par_chunks_mut(ROW_BLOCK))
        .enumerate()
        .for_each(|(b, ((s_blk, l_blk), r_blk))| {
            row_block(p, &kernels, b * ROW_BLOCK, s_blk, l_blk, r_blk)
        });
    Interaction { s, lsum, rsum }
}

fn row_block(
    p: &Problem,
    k: &TileKernels,
    i0: usize,
    s_blk: &mut [f64],
    l_blk: &mut [f64],
    r_blk: &mut [f64],
) {
    let d = p.d;
    let rows = l_blk.len();
    let mut tile = vec![0.0; rows * COL_BLOCK.min(p.n)];
    for j0 in (0..p.n).step_by(COL_BLOCK) {
        let cols = COL_BLOCK.min(p.n - j0);
        let t = &mut tile[..rows * cols];
        let w_i = View::rows(p.w, i0 * d, d);
        let w_j_t = View::transposed(p.w, j0 * d, d);
        gemm(rows, cols, d, t, 0, cols, false, w_i, w_j_t, Par::None);
        simd::tile_pass(t, cols, &p.a[j0..j0 + cols], k, l_blk, r_blk);
        let w_j = View::rows(p.w, j0 * d, d);
        gemm(
            rows,
            d,
            cols,
            s_blk,
            0,
            d,
            j0 > 0,
            View::rows(t, 0, cols),
            w_j,
            Par::None,
        );
    }
}

/// Flop model: 4N²d for the two products, plus 2 per Horner step (or ~40 per closed-form call)
/// for each kernel applied to the N² pairs.
pub(crate) fn flops(p: &Problem, q: Quantities) -> f64 {
    let f = Funcs::new(p);
    let cost = |g: &super::kernel::Func| match g.poly() {
        Some(c) => 2.0 * c.len() as f64,
        None => 40.0,
    };
    let mut per_pair = 4.0 * p.d as f64 + cost(&f.kappa_prime) + 1.0;
    if q == Quantities::All {
        per_pair += cost(&f.kappa) + cost(&f.kappa_radial) + 4.0;
    }
    (p.n as f64).powi(2) * per_pair
}
