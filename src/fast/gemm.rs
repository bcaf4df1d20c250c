//! A safe, bounds-checked wrapper around the `gemm` crate for f64 (the only `unsafe` call of the
//! fast path besides the target-feature dispatch in `simd`).
//!
//! `gemm` selects its micro-kernels at run time (AVX2+FMA, AVX-512 through its `x86-v4`
//! feature, scalar otherwise). Its result for given shapes, strides and thread count does not
//! depend on which thread calls it; the fast path always calls it single-threaded
//! ([`Par::None`]) from inside its own fixed block partition, so results are identical for any
//! number of rayon threads. Rounding: each output entry is a sum of k products formed with
//! (possibly fused) multiply-adds in an order of gemm's choosing, hence within
//! γ_k Σ_l |a_il b_lj| of the exact value (plus one addition when accumulating).

use ::gemm as gemm_crate;

/// Threading inside one gemm call.
#[derive(Clone, Copy, Debug)]
pub enum Par {
    /// Single-threaded (what the fast path uses inside its own row blocks).
    None,
    /// The `gemm` crate's own rayon parallelism with this many threads (the GEMM baseline).
    Rayon(usize),
}

/// A strided read-only matrix view: element (i, j) is `data[offset + i*rs + j*cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f64],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// Row-major with leading dimension `ld`, starting at `offset`.
    pub fn rows(data: &'a [f64], offset: usize, ld: usize) -> Self {
        View {
            data,
            offset,
            rs: ld,
            cs: 1,
        }
    }
    /// The transpose of a row-major matrix with leading dimension `ld`.
    pub fn transposed(data: &'a [f64], offset: usize, ld: usize) -> Self {
        View {
            data,
            offset,
            rs: 1,
            cs: ld,
        }
    }
    fn check(&self, rows: usize, cols: usize) {
        if rows > 0 && cols > 0 {
            let last = self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs;
            assert!(last < self.data.len(), "gemm operand out of bounds");
        }
    }
}

/// C ← A B (or C ← C + A B when `accumulate`), with A m×k, B k×n, and C m×n row-major with
/// leading dimension `ldc` starting at `c_offset` in `c`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f64],
    c_offset: usize,
    ldc: usize,
    accumulate: bool,
    a: View,
    b: View,
    par: Par,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        c_offset + (m - 1) * ldc + n <= c.len(),
        "gemm output out of bounds"
    );
    assert!(n <= ldc || m == 1);
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[c_offset + i * ldc..c_offset + i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    a.check(m, k);
    b.check(k, n);
    let parallelism = match par {
        Par::None => gemm_crate::Parallelism::None,
        Par::Rayon(t) => gemm_crate::Parallelism::Rayon(t.max(1)),
    };
    // SAFETY: all three operands were bounds-checked above for the given shapes and strides;
    // `c` is borrowed mutably, so it aliases neither `a` nor `b`.
    unsafe {
        gemm_crate::gemm(
            m,
            n,
            k,
            c.as_mut_ptr().add(c_offset),
            1,
            ldc as isize,
            accumulate,
            a.data.as_ptr().add(a.offset),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.offset),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
