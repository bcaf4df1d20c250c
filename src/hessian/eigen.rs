//! Eigenvalues of a real symmetric matrix with a bound: cyclic Jacobi in f64, stopped by a
//! criterion (not a sweep count), and an a-posteriori enclosure computed in MPFR with outward
//! rounding.
//!
//! ## What is computed
//! The matrix is the symmetric S whose upper triangle is given (row-major d×d; the lower
//! triangle is ignored, so a matrix that is symmetric only up to rounding is read as its upper
//! triangle). [`symmetric_eigen`] runs cyclic Jacobi rotations (Golub–Van Loan, Matrix
//! Computations §8.5) on S, accumulating the rotations in X, until the off-diagonal Frobenius norm
//! off(A_k) ≤ d·u·‖S‖_F (u = 2^−53), and returns the diagonal μ (ascending) with the columns of
//! X. Non-convergence within [`MAX_SWEEPS`] sweeps (never seen: Jacobi converges quadratically)
//! is an error, not a silent result.
//!
//! ## The two bounds and their kinds
//! - `estimate` (an *estimate*): off(A_k) + 4·sweeps·d·u·‖S‖_F. By Weyl's inequality, if A_k were
//!   exactly orthogonally similar to S, every |λ_i − μ_i| ≤ ‖A_k − diag(μ)‖₂ ≤ off(A_k); the
//!   second term stands for the backward error of the rotations in floating point (each
//!   rotation is backward stable; the constant is the usual first-order one, not proved here).
//! - [`SymmetricEigen::enclosure`] (an *enclosure*): with R = SX − X·diag(μ) and
//!   E = XᵀX − I, both evaluated in MPFR interval arithmetic (every rounding outward:
//!   `crate::hessian::interval`) from the f64 entries of S, X and μ exactly, Kahan's theorem
//!   (W. Kahan, "Inclusion theorems for clusters of eigenvalues of Hermitian matrices", 1967;
//!   G. W. Stewart, J.-G. Sun, Matrix Perturbation Theory, 1990, Thm. IV.4.14: for Hermitian S,
//!   X of full column rank and Hermitian M there are eigenvalues λ_{j_1}, …, λ_{j_d} of S with
//!   |λ_{j_i} − μ_i| ≤ ‖SX − XM‖₂/σ_min(X)) with σ_min(X)² ≥ 1 − ‖E‖₂ ≥ 1 − ‖E‖_F gives a
//!   matching within r = ‖R‖_F/√(1 − ‖E‖_F) (rounded up); a matching within r implies that the
//!   sorted lists also match within r, so the i-th smallest eigenvalue of S lies in
//!   [μ_i − r, μ_i + r]. Proven for the matrix as given (its entries are exact f64 numbers);
//!   refused when ‖E‖_F ≥ 1/2.
//!
//! Proofs-note: proofs-notes/local-hessian.md §8. Tests: tests/hessian.rs (`eigen_*`,
//! `general_test_particle_symmetric_eigenvalues`).

use super::interval::Interval;
use rug::{float::Round, Float};

/// Sweep cap of [`symmetric_eigen`].
pub const MAX_SWEEPS: usize = 64;

const U: f64 = f64::EPSILON / 2.0;

/// Why eigenvalues cannot be given.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EigenError {
    #[error("the matrix has {len} entries, not d^2 = {d}^2")]
    Shape { len: usize, d: usize },
    #[error("the matrix has a non-finite entry")]
    NotFinite,
    #[error(
        "Jacobi did not converge in {sweeps} sweeps: off-diagonal norm {off:e} > target {target:e}"
    )]
    NotConverged {
        sweeps: usize,
        off: f64,
        target: f64,
    },
    #[error(
        "no enclosure: the eigenvectors are too far from orthonormal (||X^T X - I||_F >= 1/2)"
    )]
    NotOrthonormal,
}

/// Eigenvalues and eigenvectors of a symmetric matrix (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricEigen {
    pub d: usize,
    /// μ_1 ≤ … ≤ μ_d.
    pub values: Vec<f64>,
    /// X (d×d row-major): column i is the approximate eigenvector of `values[i]`.
    pub vectors: Vec<f64>,
    /// Sweeps used.
    pub sweeps: usize,
    /// off(A_k), the final off-diagonal Frobenius norm.
    pub off_norm: f64,
    /// ‖S‖_F.
    pub frobenius: f64,
    /// The *estimate* off(A_k) + 4·sweeps·d·u·‖S‖_F of max_i |λ_i − μ_i|.
    pub estimate: f64,
}

/// The symmetric matrix of the upper triangle of `h` (row-major d×d).
fn upper_symmetric(h: &[f64], d: usize) -> Result<Vec<f64>, EigenError> {
    if h.len() != d * d {
        return Err(EigenError::Shape { len: h.len(), d });
    }
    if h.iter().any(|x| !x.is_finite()) {
        return Err(EigenError::NotFinite);
    }
    let mut a = h.to_vec();
    for r in 0..d {
        for c in 0..r {
            a[r * d + c] = a[c * d + r];
        }
    }
    Ok(a)
}

/// [`symmetric_eigen_capped`] with the cap [`MAX_SWEEPS`].
pub fn symmetric_eigen(h: &[f64], d: usize) -> Result<SymmetricEigen, EigenError> {
    symmetric_eigen_capped(h, d, MAX_SWEEPS)
}

/// Cyclic Jacobi on the symmetric matrix of the upper triangle of `h` until
/// off(A_k) ≤ d·u·‖S‖_F, at most `max_sweeps` sweeps (an error beyond).
pub fn symmetric_eigen_capped(
    h: &[f64],
    d: usize,
    max_sweeps: usize,
) -> Result<SymmetricEigen, EigenError> {
    let mut a = upper_symmetric(h, d)?;
    let frobenius = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let target = d as f64 * U * frobenius;
    let mut x = vec![0.0; d * d];
    for i in 0..d {
        x[i * d + i] = 1.0;
    }
    let off_of = |a: &[f64]| -> f64 {
        let mut s = 0.0;
        for r in 0..d {
            for c in 0..d {
                if r != c {
                    s += a[r * d + c] * a[r * d + c];
                }
            }
        }
        s.sqrt()
    };
    let mut sweeps = 0;
    let mut off = off_of(&a);
    while off > target {
        if sweeps == max_sweeps {
            return Err(EigenError::NotConverged {
                sweeps,
                off,
                target,
            });
        }
        sweeps += 1;
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                // t = tan of the rotation angle, the smaller root of t² + 2θt − 1 = 0.
                let t = if theta == 0.0 {
                    1.0
                } else if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (xkp, xkq) = (x[k * d + p], x[k * d + q]);
                    x[k * d + p] = c * xkp - s * xkq;
                    x[k * d + q] = s * xkp + c * xkq;
                }
            }
        }
        off = off_of(&a);
    }
    // Sort ascending, carrying the columns.
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[i * d + i].total_cmp(&a[j * d + j]));
    let values: Vec<f64> = order.iter().map(|&i| a[i * d + i]).collect();
    let mut vectors = vec![0.0; d * d];
    for (new, &old) in order.iter().enumerate() {
        for k in 0..d {
            vectors[k * d + new] = x[k * d + old];
        }
    }
    Ok(SymmetricEigen {
        d,
        values,
        vectors,
        sweeps,
        off_norm: off,
        frobenius,
        estimate: off + 4.0 * sweeps.max(1) as f64 * d as f64 * U * frobenius,
    })
}

impl SymmetricEigen {
    /// The radius r (rounded up to f64) of the proven enclosure: the i-th smallest eigenvalue of
    /// the symmetric matrix of the upper triangle of `h` lies in [μ_i − r, μ_i + r] (module doc;
    /// MPFR interval arithmetic at `prec` ≥ 128 bits). Cost O(d³) interval operations.
    pub fn enclosure(&self, h: &[f64], prec: u32) -> Result<f64, EigenError> {
        let d = self.d;
        let s = upper_symmetric(h, d)?;
        let prec = prec.max(128);
        let pt = |v: f64| Interval::point(prec, &Float::with_val(prec, v));
        let sq_up = |acc: &mut Float, iv: &Interval| {
            let m = iv.mag();
            let m2 = Float::with_val_round(prec, m.square_ref(), Round::Up).0;
            *acc = Float::with_val_round(prec, &*acc + &m2, Round::Up).0;
        };
        let mut r2 = Float::with_val(prec, 0);
        let mut e2 = Float::with_val(prec, 0);
        for i in 0..d {
            for j in 0..d {
                // R_ij = Σ_k S_ik X_kj − X_ij μ_j
                let mut acc = pt(self.vectors[i * d + j]).mul(&pt(-self.values[j]));
                for k in 0..d {
                    acc = acc.add(&pt(s[i * d + k]).mul(&pt(self.vectors[k * d + j])));
                }
                sq_up(&mut r2, &acc);
                // E_ij = Σ_k X_ki X_kj − δ_ij
                let mut g = Interval::int(prec, -((i == j) as i64));
                for k in 0..d {
                    g = g.add(&pt(self.vectors[k * d + i]).mul(&pt(self.vectors[k * d + j])));
                }
                sq_up(&mut e2, &g);
            }
        }
        let e = Float::with_val_round(prec, e2.sqrt_ref(), Round::Up).0;
        if e >= 0.5 {
            return Err(EigenError::NotOrthonormal);
        }
        let r = Float::with_val_round(prec, r2.sqrt_ref(), Round::Up).0;
        let one_minus = Float::with_val_round(prec, 1 - &e, Round::Down).0;
        let sigma = Float::with_val_round(prec, one_minus.sqrt_ref(), Round::Down).0;
        let radius = Float::with_val_round(prec, &r / &sigma, Round::Up).0;
        Ok(Float::with_val_round(53, &radius, Round::Up).0.to_f64())
    }
}
