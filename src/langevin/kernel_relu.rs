//! Closed forms of the relu kernel limit (proofs-notes/langevin-kernel.md §3–§4).
//!
//! - Funk–Hecke coefficients of κ_relu: by positive homogeneity κ_relu(⟨u, v⟩) =
//!   d·E_w[relu(w·u) relu(w·v)] (w uniform on S^{d−1}), so μ_l(κ_relu) = d·b_l² with
//!   b_l = E_t[relu(t) P_l(t)] (t with density ∝ (1 − t²)^{(d−3)/2}):
//!   b_0 = 1/((d − 1) B(½, (d−1)/2)), b_1 = 1/(2d), b_l = 0 for odd l ≥ 3, and for even l ≥ 2,
//!   with j = (l − 2)/2,
//!   b_l = (−1)^j 2^{−l} Γ((d−1)/2)/Γ(l + (d−1)/2) · (2j)! · C(l + (d−3)/2, j) / B(½, (d−1)/2).
//! - The radially averaged tangent kernel (the `langevin kernel` kernel, [`super::kernel`]):
//!   K̄_0(c) = c_a κ_relu(c) + c_w (d·c(π − arccos c)/(2π) − κ_relu(c)), which is
//!   d·K_0(x, x')/(|x||x'|) for every x, x' with cos∠(x, x') = c.
//!
//! Accuracy contract: f64 with the Gamma functions in log form; each ν_l carries an estimate
//! 16u·(Σ|log terms| + 8)·ν_l of its rounding (the exponent of a sum of logarithms is off by
//! its absolute rounding error), kind estimate. The closed K̄_0 carries 64u·(1 + d)·(1 + |c|)
//! (a handful of correctly rounded operations on terms of size ≤ d). Tests:
//! `tests/langevin_kernel.rs` (`relu_funk_hecke_three_routes`, `relu_kernel_closed_form_against_series`).

use super::kernel::FunkHecke;
use libm::lgamma;

const U: f64 = f64::EPSILON / 2.0;

/// ν_l = N_l μ_l(κ_relu), l = 0..=lmax, with rounding estimates.
pub fn funk_hecke(d: usize, lmax: usize) -> FunkHecke {
    let df = d as f64;
    let h = (df - 1.0) / 2.0;
    // log B(1/2, (d−1)/2) = lgamma(1/2) + lgamma(h) − lgamma(d/2)
    let terms_b = [lgamma(0.5), lgamma(h), -lgamma(df / 2.0)];
    let log_beta: f64 = terms_b.iter().sum();
    let mag_b: f64 = terms_b.iter().map(|x| x.abs()).sum();
    let mut nu = Vec::with_capacity(lmax + 1);
    let mut bound = Vec::with_capacity(lmax + 1);
    for l in 0..=lmax {
        let lf = l as f64;
        // log N_l = log(2l + d − 2) + lgamma(l + d − 2) − lgamma(l + 1) − lgamma(d − 1)
        let (log_n, mag_n) = if l == 0 {
            (0.0, 0.0)
        } else {
            let t = [
                (2.0 * lf + df - 2.0).ln(),
                lgamma(lf + df - 2.0),
                -lgamma(lf + 1.0),
                -lgamma(df - 1.0),
            ];
            (t.iter().sum(), t.iter().map(|x| x.abs()).sum())
        };
        // log |b_l| and its magnitude
        let (log_b, mag) = match l {
            0 => (-(df - 1.0).ln() - log_beta, (df - 1.0).ln().abs() + mag_b),
            1 => (-(2.0 * df).ln(), (2.0 * df).ln()),
            _ if l % 2 == 1 => {
                nu.push(0.0);
                bound.push(0.0);
                continue;
            }
            _ => {
                let j = ((l - 2) / 2) as f64;
                let n = lf + (df - 3.0) / 2.0;
                let t = [
                    -lf * std::f64::consts::LN_2,
                    lgamma(h),
                    -lgamma(lf + h),
                    lgamma(2.0 * j + 1.0),
                    lgamma(n + 1.0),
                    -lgamma(j + 1.0),
                    -lgamma(n - j + 1.0),
                    -log_beta,
                ];
                (
                    t.iter().sum(),
                    t.iter().map(|x| x.abs()).sum::<f64>() + mag_b,
                )
            }
        };
        let v = (log_n + df.ln() + 2.0 * log_b).exp();
        nu.push(v);
        bound.push(16.0 * U * (mag_n + 2.0 * mag + df.ln() + 8.0) * v);
    }
    FunkHecke {
        nu,
        bound,
        route: "closed-form-relu",
    }
}

/// κ_relu(c) = (√(1 − c²) + (π − arccos c) c)/(2π), the dual kernel of relu (unit vectors).
pub fn kappa(c: f64) -> f64 {
    let pi = std::f64::consts::PI;
    (((1.0 - c) * (1.0 + c)).max(0.0).sqrt() + (-c).acos() * c) / (2.0 * pi)
}

/// The closed form of the averaged tangent kernel K̄_0(c) for relu, with its rounding
/// estimate; (c_a, c_w) the training weights.
pub fn averaged_tangent_kernel(d: usize, ca: f64, cw: f64, c: f64) -> (f64, f64) {
    let k = kappa(c);
    let step = c * (-c).acos() / (2.0 * std::f64::consts::PI);
    let v = ca * k + cw * (d as f64 * step - k);
    (v, 64.0 * U * (1.0 + d as f64) * (1.0 + c.abs()))
}
