//! The f64 route to the Gibbs fixed point: Newton in the Gegenbauer moments.
//!
//! - Funk–Hecke coefficients ν_l (κ(t) = Σ_l ν_l P_l(t), ν_l = N_l μ_l) from the power series
//!   κ(t) = Σ_k a_k t^k: the expansions t^k = Σ_l e^{(k)}_l P_l are built by the recurrence
//!   t P_l = [(l + d − 2) P_{l+1} + l P_{l−1}]/(2l + d − 2), whose coefficients are all ≥ 0
//!   (no cancellation; Σ_l e^{(k)}_l = 1), so ν_l = Σ_k a_k e^{(k)}_l.
//! - Unknowns m_l (l ≥ 1 with ν_l > 0); H(m) = m − E_{p(m)}[P], Jacobian
//!   I + 2cβ Cov_p(P_l, P_j) ν_j (similar to I + PSD: eigenvalues ≥ 1); damped Newton from
//!   m = 0 with backtracking on |H|₂.
//! - Expectations by the n-point Gauss–Jacobi rule of w_unif (α = β = (d − 3)/2); n is
//!   doubled until the outputs change by < 1e-13 (or n = 4096); the last change is the
//!   quadrature part of each estimate. E|s| uses a Gauss–Jacobi rule on each half [0, 1]
//!   (the kink of |s| at 0 is then at an end point).
//!
//! Accuracy contract: see the module [`crate::langevin`] (estimates only).

use super::gauss::gauss_jacobi;
use super::{check_inputs, BoundKind, Gibbs, LangevinError, Quantity};
use crate::meanfield::Model;

/// Largest number of s nodes.
pub const MAX_NODES: usize = 4096;

/// ν_l for l = 0..=K from power-series coefficients a_0..a_K, in dimension d.
pub fn funk_hecke_from_series(a: &[f64], d: usize) -> Vec<f64> {
    let kmax = a.len().saturating_sub(1);
    let mut nu = vec![0.0; kmax + 1];
    let mut e = vec![0.0; kmax + 2];
    e[0] = 1.0;
    let df = d as f64;
    for (k, ak) in a.iter().enumerate() {
        for l in 0..=k {
            nu[l] += ak * e[l];
        }
        if k == kmax {
            break;
        }
        let mut next = vec![0.0; kmax + 2];
        for l in 0..=k {
            if e[l] == 0.0 {
                continue;
            }
            let lf = l as f64;
            let den = 2.0 * lf + df - 2.0;
            next[l + 1] += e[l] * (lf + df - 2.0) / den;
            if l >= 1 {
                next[l - 1] += e[l] * lf / den;
            }
        }
        e = next;
    }
    nu
}

/// P_0..P_L at x (Gegenbauer, index (d − 2)/2, P_l(1) = 1).
pub fn gegenbauer(lmax: usize, d: usize, x: f64) -> Vec<f64> {
    let mut p = Vec::with_capacity(lmax + 1);
    p.push(1.0);
    if lmax >= 1 {
        p.push(x);
    }
    let df = d as f64;
    for l in 1..lmax {
        let lf = l as f64;
        let next = ((2.0 * lf + df - 2.0) * x * p[l] - lf * p[l - 1]) / (lf + df - 2.0);
        p.push(next);
    }
    p
}

fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, ci| acc * x + ci)
}

/// The data of the reduced problem in f64.
struct Data {
    d: usize,
    c: f64,
    beta: f64,
    nu: Vec<f64>,
    psi: Vec<f64>,
    active: Vec<usize>,
    teacher: f64,
    lmax: usize,
}

/// One solve at n nodes: the outputs in a fixed order and the moments.
struct Solve {
    /// free energy, loss, risk, kl, log Z, E s, E s², E|s|, interaction
    values: [f64; 9],
    moments: Vec<f64>,
    iterations: usize,
    residual: f64,
}

fn solve(data: &Data, n: usize, l_out: usize) -> Result<Solve, LangevinError> {
    let d = data.d;
    let a = (d as f64 - 3.0) / 2.0;
    let (x, w) = gauss_jacobi(n, a, a);
    let lmax = data.lmax.max(l_out);
    let ptab: Vec<Vec<f64>> = x.iter().map(|&xi| gegenbauer(lmax, d, xi)).collect();
    let psi: Vec<f64> = x.iter().map(|&xi| horner(&data.psi, xi)).collect();
    let (c, beta) = (data.c, data.beta);
    let act = &data.active;
    let na = act.len();
    let phi_of = |m: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let mut k = data.nu[0];
                for (j, &l) in act.iter().enumerate() {
                    k += data.nu[l] * m[j] * ptab[i][l];
                }
                2.0 * c * (k - psi[i])
            })
            .collect()
    };
    // probability masses π_i ∝ w_i exp(−βφ_i)
    let masses = |phi: &[f64]| -> Vec<f64> {
        let min = phi.iter().cloned().fold(f64::INFINITY, f64::min);
        let mut pi: Vec<f64> = (0..n)
            .map(|i| w[i] * (-beta * (phi[i] - min)).exp())
            .collect();
        let z: f64 = pi.iter().sum();
        for v in &mut pi {
            *v /= z;
        }
        pi
    };
    let expect = |pi: &[f64], l: usize| -> f64 { (0..n).map(|i| pi[i] * ptab[i][l]).sum() };
    let residual_of = |m: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let pi = masses(&phi_of(m));
        let h: Vec<f64> = (0..na).map(|j| m[j] - expect(&pi, act[j])).collect();
        (h, pi)
    };
    let norm2 = |h: &[f64]| h.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut m = vec![0.0; na];
    let (mut h, mut pi) = residual_of(&m);
    let mut iterations = 0;
    while na > 0 && iterations < 200 {
        let r = norm2(&h);
        if r < 1e-15 {
            break;
        }
        iterations += 1;
        // Jacobian J_{jk} = δ + 2cβ ν_k Cov(P_j, P_k)
        let e: Vec<f64> = act.iter().map(|&l| expect(&pi, l)).collect();
        let mut jac = vec![vec![0.0; na + 1]; na];
        for j in 0..na {
            for k in 0..na {
                let (lj, lk) = (act[j], act[k]);
                let mut cov = 0.0;
                for i in 0..n {
                    cov += pi[i] * ptab[i][lj] * ptab[i][lk];
                }
                cov -= e[j] * e[k];
                jac[j][k] = 2.0 * c * beta * data.nu[lk] * cov + if j == k { 1.0 } else { 0.0 };
            }
            jac[j][na] = -h[j];
        }
        let delta = gauss_solve(jac).ok_or_else(|| {
            LangevinError::NoConvergence("singular Newton matrix in the moments".into())
        })?;
        let mut t = 1.0;
        let mut accepted = false;
        while t > 1e-6 {
            let trial: Vec<f64> = (0..na).map(|j| m[j] + t * delta[j]).collect();
            let (h2, pi2) = residual_of(&trial);
            if norm2(&h2) < r * (1.0 - 1e-4 * t) {
                m = trial;
                h = h2;
                pi = pi2;
                accepted = true;
                break;
            }
            t /= 2.0;
        }
        if !accepted {
            break; // no further decrease: at rounding level
        }
    }
    let residual = h.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    if residual.is_nan() || residual >= 1e-10 {
        return Err(LangevinError::NoConvergence(format!(
            "Newton in the moments stopped at residual {residual:.3e} after {iterations} iterations"
        )));
    }
    let phi = phi_of(&m);
    let min = phi.iter().cloned().fold(f64::INFINITY, f64::min);
    // With Δ = φ − min φ ≥ 0 and Z' = E_unif e^{−βΔ}: log Z = −β min φ + log Z' and
    // KL/β = −E_p Δ − (log Z')/β. For Z' > ½ log Z' = log1p(Σ w expm1(−βΔ)) (terms ≤ 0, no
    // cancellation), so KL/β keeps its absolute accuracy as β → 0.
    let zs: f64 = (0..n).map(|i| w[i] * (-beta * (phi[i] - min)).exp()).sum();
    let log_zs = if zs > 0.5 {
        (0..n)
            .map(|i| w[i] * (-beta * (phi[i] - min)).exp_m1())
            .sum::<f64>()
            .ln_1p()
    } else {
        zs.ln()
    };
    let log_z = -beta * min + log_zs;
    let e_delta: f64 = (0..n).map(|i| pi[i] * (phi[i] - min)).sum();
    let kl_over_beta = -e_delta - log_zs / beta;
    let kl = beta * kl_over_beta;
    let moments: Vec<f64> = (0..=lmax).map(|l| expect(&pi, l)).collect();
    let interaction: f64 = (0..=data.lmax)
        .map(|l| data.nu[l] * moments[l] * moments[l])
        .sum();
    let e_psi: f64 = (0..n).map(|i| pi[i] * psi[i]).sum();
    let risk = interaction - 2.0 * e_psi + data.teacher;
    let loss = c * risk;
    let free = loss + kl_over_beta;
    let mean_s: f64 = (0..n).map(|i| pi[i] * x[i]).sum();
    let mean_s2: f64 = (0..n).map(|i| pi[i] * x[i] * x[i]).sum();
    // E|s|: Gauss–Jacobi (1 − u)^a on u ∈ [−1, 1], s = (1 + u)/2 ∈ [0, 1]; the factor
    // (1 + s)^a and both signs ±s go into the integrand.
    let (u, wu) = gauss_jacobi(n, a, 0.0);
    let phi_at = |s: f64| -> f64 {
        let p = gegenbauer(data.lmax, d, s);
        let mut k = data.nu[0];
        for (j, &l) in act.iter().enumerate() {
            k += data.nu[l] * m[j] * p[l];
        }
        2.0 * c * (k - horner(&data.psi, s))
    };
    let mut logs = Vec::with_capacity(2 * n);
    for i in 0..n {
        let s = (1.0 + u[i]) / 2.0;
        let base = wu[i].ln() + a * (1.0 + s).ln();
        logs.push((s, base - beta * phi_at(s)));
        logs.push((s, base - beta * phi_at(-s)));
    }
    let top = logs.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for (s, lg) in &logs {
        let e = (lg - top).exp();
        num += s * e;
        den += e;
    }
    let mean_abs = num / den;
    Ok(Solve {
        values: [
            free,
            loss,
            risk,
            kl,
            log_z,
            mean_s,
            mean_s2,
            mean_abs,
            interaction,
        ],
        moments: moments[..=l_out].to_vec(),
        iterations,
        residual,
    })
}

/// Gaussian elimination with partial pivoting on an augmented matrix [A | b].
fn gauss_solve(mut m: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = m.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col] == 0.0 {
            return None;
        }
        m.swap(col, piv);
        let (top, bottom) = m.split_at_mut(col + 1);
        let prow = &top[col];
        for row in bottom {
            let f = row[col] / prow[col];
            if f != 0.0 {
                for (x, p) in row[col..].iter_mut().zip(&prow[col..]) {
                    *x -= f * p;
                }
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let mut s = m[r][n];
        for k in r + 1..n {
            s -= m[r][k] * x[k];
        }
        x[r] = s / m[r][r];
    }
    Some(x)
}

/// The Gibbs fixed point by the f64 route. `l_out`: moments m_0..m_{l_out} to report;
/// `kernel_tol`: largest accepted truncation bound of κ and ψ (sup norm).
pub fn gibbs(
    model: &Model,
    beta: f64,
    l_out: usize,
    kernel_tol: f64,
) -> Result<Gibbs<f64>, LangevinError> {
    check_inputs(model, beta)?;
    let tails = super::checked_tails(model, kernel_tol)?;
    let a = model.kappa.to_f64();
    let nu = super::fast::funk_hecke_from_series(&a, model.d);
    let lmax = a.len() - 1;
    let active: Vec<usize> = (1..=lmax).filter(|&l| nu[l] > 0.0).collect();
    let data = Data {
        d: model.d,
        c: model.scale(),
        beta,
        nu,
        psi: model.psi.to_f64(),
        active,
        teacher: model.teacher_norm.0.to_f64(),
        lmax,
    };
    let mut n = (lmax + 32).max(64);
    let mut prev = solve(&data, n, l_out)?;
    let (cur, diffs, mdiffs) = loop {
        let n2 = (2 * n).min(MAX_NODES);
        let cur = solve(&data, n2, l_out)?;
        let diffs: Vec<f64> = (0..9)
            .map(|k| (cur.values[k] - prev.values[k]).abs())
            .collect();
        let mdiffs: Vec<f64> = (0..=l_out)
            .map(|l| (cur.moments[l] - prev.moments[l]).abs())
            .collect();
        let worst = (0..9)
            .map(|k| diffs[k] / (1.0 + cur.values[k].abs()))
            .chain(mdiffs.iter().cloned())
            .fold(0.0, f64::max);
        n = n2;
        if worst <= 1e-13 || n >= MAX_NODES {
            break (cur, diffs, mdiffs);
        }
        prev = cur;
    };
    // Kernel-truncation terms ([`super::Truncation`]).
    let tr = super::Truncation {
        c: data.c,
        beta,
        tails,
        sup_kernel: data.nu.iter().sum::<f64>().abs(),
        sup_psi: data.psi.iter().map(|b| b.abs()).sum::<f64>(),
    };
    let (resp, sup_phi) = (tr.resp(), tr.sup_phi());
    // Rounding: φ carries a few ulps of sup|φ|, which the weights e^{−βφ} turn into a relative
    // error ~ β·ulp·sup|φ| of every expectation (the dominant term at large β).
    let round = 16.0 * f64::EPSILON * (4.0 + beta * sup_phi);
    let q = |k: usize, trunc: f64| Quantity {
        value: cur.values[k],
        bound: diffs[k] + trunc + round * (1.0 + cur.values[k].abs()) + cur.residual,
        kind: BoundKind::Estimate,
    };
    let t = tr.terms();
    let moments = super::gegenbauer_moments(l_out, 1.0, |l| Quantity {
        value: cur.moments[l],
        bound: mdiffs[l] + resp + round + cur.residual,
        kind: BoundKind::Estimate,
    });
    Ok(Gibbs::from_parts(
        std::array::from_fn(|k| q(k, t[k])),
        moments,
        cur.iterations,
        cur.residual,
        // h_j = m_j − Σ_i π_i P_l(s_i): the weights π carry the relative error `round` (from
        // φ's rounding), and the n-term sum of |π_i P_l| ≤ 1 adds n·ε.
        round + n as f64 * f64::EPSILON,
        n,
        tails,
    ))
}
