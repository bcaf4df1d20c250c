//! Gragg–Bulirsch–Stoer extrapolation of the modified midpoint rule, in MPFR.
//!
//! One step of size H from y: with the harmonic sequence n_i = 2(i + 1), i = 0..k−1, and
//! h_i = H/n_i, the modified midpoint rule z_0 = y, z_1 = z_0 + h_i f(z_0),
//! z_{m+1} = z_{m−1} + 2h_i f(z_m) (m = 1..n_i − 1) gives T_{i,0} = z_{n_i}, whose error has an
//! expansion in even powers of h_i (Gragg). Aitken–Neville extrapolation to h = 0,
//! T_{i,j} = T_{i,j−1} + (T_{i,j−1} − T_{i−1,j−1}) / ((n_i/n_{i−j})² − 1),
//! gives T_{k−1,k−1} of order 2k (local error O(H^{2k+1})); |T_{k−1,k−1} − T_{k−1,k−2}| estimates
//! the local error of the order-(2k − 2) value T_{k−1,k−2} and so bounds, with a wide margin,
//! that of T_{k−1,k−1}. Cost: 1 + Σ_i (n_i − 1) = k² + 1 evaluations of f per step (f(y) is
//! shared by all rows). The coefficients n_{i−j}²/(n_i² − n_{i−j}²) are exact rationals rounded
//! once to the working precision.
//!
//! Elementwise operations run over fixed chunks of components (no reductions except the
//! maximum of the error estimate, which does not depend on the order).

use crate::meanfield::oracle::field::{Field, CHUNK};
use rayon::prelude::*;
use rug::{Assign, Float, Rational};

pub(crate) struct Gbs<'a> {
    field: &'a Field,
    w: &'a [Float],
    columns: usize,
    /// Multiplier of the weighted error estimate (2 in the half-node mode).
    weight_factor: f64,
    prec: u32,
    /// g at the step's initial state, one per node.
    g0: Vec<Float>,
    zp: Vec<Float>,
    z: Vec<Float>,
    /// Per component, the current tableau row T_{i,0..i}.
    tab: Vec<Vec<Float>>,
    /// inv[i][j] = n_{i−j}²/(n_i² − n_{i−j}²), j = 1..=i.
    inv: Vec<Vec<Float>>,
    pub rhs_count: u64,
}

impl<'a> Gbs<'a> {
    pub fn new(field: &'a Field, w: &'a [Float], columns: usize, weight_factor: f64) -> Gbs<'a> {
        assert!(
            columns >= 2,
            "GBS needs at least two columns for its error estimate"
        );
        let prec = field.prec();
        let n = 2 * w.len();
        let mk = || vec![Float::new(prec); n];
        let seq: Vec<u64> = (0..columns).map(|i| 2 * (i as u64 + 1)).collect();
        let inv = (0..columns)
            .map(|i| {
                (0..=i)
                    .map(|j| {
                        if j == 0 {
                            Float::new(prec)
                        } else {
                            let (a, b) = (seq[i] * seq[i], seq[i - j] * seq[i - j]);
                            Float::with_val(prec, &Rational::from((b, a - b)))
                        }
                    })
                    .collect()
            })
            .collect();
        Gbs {
            field,
            w,
            columns,
            weight_factor,
            prec,
            g0: vec![Float::new(prec); w.len()],
            zp: mk(),
            z: mk(),
            tab: (0..n).map(|_| vec![Float::new(prec); columns]).collect(),
            inv,
            rhs_count: 0,
        }
    }

    /// One step of size h from y into `out` (T_{k−1,k−1}); returns the weighted estimate
    /// Σ_j w_j max(|Δα_j|, |Δβ_j|) with Δ = T_{k−1,k−1} − T_{k−1,k−2} (the norm in which the
    /// loss is Lipschitz, proofs-note §4).
    #[allow(clippy::needless_range_loop)] // j indexes a node's two interleaved components
    pub fn step(&mut self, y: &[Float], h: &Float, out: &mut [Float]) -> f64 {
        let prec = self.prec;
        self.field.g_into(y, self.w, &mut self.g0);
        self.rhs_count += 1;
        for i in 0..self.columns {
            let n = 2 * (i as u32 + 1);
            let hh = Float::with_val(prec, h / n);
            let h2 = Float::with_val(prec, &hh * 2u32);
            // z_0 = y, z_1 = y + h_i f(y) with f = (βg, −αg).
            self.zp
                .par_chunks_mut(2 * CHUNK)
                .zip(self.z.par_chunks_mut(2 * CHUNK))
                .zip(y.par_chunks(2 * CHUNK).zip(self.g0.par_chunks(CHUNK)))
                .for_each(|((zp, z), (yc, gc))| {
                    let mut t = Float::new(prec);
                    let mut u = Float::new(prec);
                    for j in 0..gc.len() {
                        let (a, b) = (2 * j, 2 * j + 1);
                        zp[a].assign(&yc[a]);
                        zp[b].assign(&yc[b]);
                        t.assign(&hh * &gc[j]);
                        u.assign(&yc[b] * &t);
                        z[a].assign(&yc[a] + &u);
                        u.assign(&yc[a] * &t);
                        z[b].assign(&yc[b] - &u);
                    }
                });
            // z_{m+1} = z_{m−1} + 2h_i f(z_m).
            for _ in 1..n {
                self.field
                    .add_scaled_rhs(&self.z, self.w, &h2, &mut self.zp);
                self.rhs_count += 1;
                std::mem::swap(&mut self.zp, &mut self.z);
            }
            let inv = &self.inv[i];
            self.tab
                .par_chunks_mut(2 * CHUNK)
                .zip(self.z.par_chunks(2 * CHUNK))
                .for_each(|(tc, zc)| {
                    let mut v = Float::new(prec);
                    let mut d = Float::new(prec);
                    for (t, x) in tc.iter_mut().zip(zc) {
                        v.assign(x);
                        for j in 1..=i {
                            d.assign(&v - &t[j - 1]);
                            t[j - 1].assign(&v);
                            d *= &inv[j];
                            v += &d;
                        }
                        t[i].assign(&v);
                    }
                });
        }
        let k = self.columns;
        let parts: Vec<f64> = out
            .par_chunks_mut(2 * CHUNK)
            .zip(self.tab.par_chunks(2 * CHUNK))
            .zip(self.w.par_chunks(CHUNK))
            .map(|((oc, tc), wc)| {
                let mut d = Float::new(prec);
                let mut e = 0.0f64;
                for (j, wj) in wc.iter().enumerate() {
                    let mut m = 0.0f64;
                    for c in 2 * j..2 * j + 2 {
                        oc[c].assign(&tc[c][k - 1]);
                        d.assign(&tc[c][k - 1] - &tc[c][k - 2]);
                        m = m.max(d.to_f64().abs());
                    }
                    e += wj.to_f64() * m;
                }
                e
            })
            .collect();
        // Fixed-order sum over the chunks.
        parts.iter().sum::<f64>() * self.weight_factor
    }
}
