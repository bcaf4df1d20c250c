//! Gauss–Jacobi rules in f64 for the probability measure ∝ (1 − x)^α (1 + x)^β on [−1, 1]
//! (Golub–Welsch: eigenvalues of the Jacobi matrix by the implicit QL method, weights by the
//! Christoffel function 1/Σ_{k<n} p_k(x)² of the orthonormal polynomials, summed with
//! rescaling so that large dimensions do not overflow).
//!
//! Accuracy contract: nodes to a few ulps of the Jacobi matrix norm (≤ 1), weights to a few
//! ulps relative; no bound is claimed (the rules are checked in `tests/langevin.rs` against
//! exact moments: Gegenbauer orthogonality and E z^{2j}).

/// Recurrence coefficients (diagonal a_0..a_{n−1}, off-diagonal b_1..b_{n−1}) of the
/// orthonormal polynomials of the measure ∝ (1 − x)^α (1 + x)^β, α, β > −1.
pub fn jacobi_matrix(n: usize, alpha: f64, beta: f64) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::with_capacity(n);
    let mut b = Vec::with_capacity(n.saturating_sub(1));
    let ab = alpha + beta;
    let symmetric = alpha == beta;
    for k in 0..n {
        let kf = k as f64;
        if symmetric {
            a.push(0.0);
        } else if k == 0 {
            a.push((beta - alpha) / (ab + 2.0));
        } else {
            a.push((beta * beta - alpha * alpha) / ((2.0 * kf + ab) * (2.0 * kf + ab + 2.0)));
        }
        if k >= 1 {
            let b2 = if symmetric {
                if k == 1 {
                    1.0 / (2.0 * alpha + 3.0)
                } else {
                    kf * (kf + 2.0 * alpha)
                        / ((2.0 * kf + 2.0 * alpha + 1.0) * (2.0 * kf + 2.0 * alpha - 1.0))
                }
            } else {
                let s = 2.0 * kf + ab;
                4.0 * kf * (kf + alpha) * (kf + beta) * (kf + ab) / (s * s * (s + 1.0) * (s - 1.0))
            };
            b.push(b2.sqrt());
        }
    }
    (a, b)
}

/// Eigenvalues of the symmetric tridiagonal matrix (diagonal `d`, off-diagonal `e`, len n−1),
/// by the implicit QL method with Wilkinson shifts, sorted increasingly.
fn tridiagonal_eigenvalues(mut d: Vec<f64>, off: &[f64]) -> Vec<f64> {
    let n = d.len();
    let mut e = vec![0.0; n];
    e[..n.saturating_sub(1)].copy_from_slice(off);
    for l in 0..n {
        let mut iter = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iter += 1;
            assert!(iter < 200, "QL iteration did not converge");
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut i = m;
            let mut deflated = false;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    d.sort_by(|x, y| x.total_cmp(y));
    d
}

/// Christoffel weight 1/Σ_{k<n} p_k(x)² (probability measure), with rescaling.
fn christoffel(x: f64, a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    let (mut pm, mut p) = (0.0f64, 1.0f64);
    let mut sum = 1.0f64;
    let mut log_scale = 0.0f64; // true p = stored · e^{log_scale}
    for k in 0..n - 1 {
        let bk = if k == 0 { 0.0 } else { b[k - 1] };
        let next = ((x - a[k]) * p - bk * pm) / b[k];
        pm = p;
        p = next;
        sum += p * p;
        if p.abs() > 1e100 {
            pm *= 1e-100;
            p *= 1e-100;
            sum *= 1e-200;
            log_scale += 100.0 * std::f64::consts::LN_10;
        }
    }
    (-2.0 * log_scale).exp() / sum
}

/// n-point Gauss rule (nodes increasing, weights summing to 1) for ∝ (1 − x)^α (1 + x)^β.
pub fn gauss_jacobi(n: usize, alpha: f64, beta: f64) -> (Vec<f64>, Vec<f64>) {
    assert!(n >= 1 && alpha > -1.0 && beta > -1.0);
    let (a, b) = jacobi_matrix(n, alpha, beta);
    let x = tridiagonal_eigenvalues(a.clone(), &b);
    let mut w: Vec<f64> = x.iter().map(|&xi| christoffel(xi, &a, &b)).collect();
    let total: f64 = w.iter().sum();
    for wi in &mut w {
        *wi /= total;
    }
    (x, w)
}
