//! Route B of the reduced Langevin flow: Galerkin in the Gegenbauer moments.
//!
//! The density ratio q = p/w_unif = Σ_{l≤L} N_l m_l P_l (m_l = E_p P_l; E_unif[P_l P_j] =
//! δ_lj/N_l) and the moment hierarchy (proofs-notes/langevin.md §7)
//!
//! dm_l/dt = −l(l + d − 2) m_l/β − E_p[(1 − s²) P_l'(s) φ'(s)],  φ' = 2c[Σ ν_j m_j P_j' − ψ'],
//!
//! truncated at degree L. The projection is an n-point Gauss–Jacobi rule of w_unif with
//! n ≥ L + max(K_κ, K_ψ)/2 + 1, exact for the polynomial integrand (degree ≤ 2L + K). Time:
//! ETDRK4 (Cox–Matthews) with the diagonal diffusion integrated exactly (φ_k functions by
//! their Taylor series for |z| < 1). Outputs: E s = m_1, E s² = ((d − 1)m_2 + 1)/d, the
//! interaction Σν_l m_l², E_pψ by the same rule; KL = E_unif[q log q] and E|s| by a
//! Gauss–Jacobi rule on each half [0, 1], [−1, 0] (|s| has its kink at an end point).
//! Nodes where the truncated q is ≤ 0 (the polar nodes at large d, of weight ~1e−40) are left
//! out of the KL with an estimate of their contribution added to its bound ([`kl_clipped`]).
//!
//! Refinement: (L, Δt) → (L + 16, Δt/2) until every output moves by ≤ tol·(1 + |value|);
//! the last change is the estimate (kind: estimate).

use super::fast::gegenbauer;
use super::flow::{Problem, RouteRun};
use super::gauss::gauss_jacobi;
use super::{harmonic_dimension, LangevinError};

/// Largest Gegenbauer truncation.
pub const MAX_MODES: usize = 400;

fn phis(z: f64) -> [f64; 3] {
    if z.abs() < 1.0 {
        // φ_k(z) = Σ_j z^j/(j + k)!
        let mut out = [0.0; 3];
        for (k, o) in out.iter_mut().enumerate() {
            let mut term = 1.0;
            for i in 1..=k + 1 {
                term /= i as f64;
            }
            let mut sum = 0.0;
            for j in 0..30 {
                sum += term;
                term *= z / (j + k + 2) as f64;
            }
            *o = sum;
        }
        out
    } else {
        let e1 = z.exp_m1();
        let p1 = e1 / z;
        let p2 = (e1 - z) / (z * z);
        let p3 = (e1 - z - z * z / 2.0) / (z * z * z);
        [p1, p2, p3]
    }
}

/// P'_0..P'_L at x, from the derivative of the three-term recurrence.
pub(crate) fn gegenbauer_derivative(p: &[f64], d: usize, x: f64) -> Vec<f64> {
    let lmax = p.len() - 1;
    let mut dp = vec![0.0; lmax + 1];
    if lmax >= 1 {
        dp[1] = 1.0;
    }
    let df = d as f64;
    for l in 1..lmax {
        let lf = l as f64;
        dp[l + 1] = ((2.0 * lf + df - 2.0) * (p[l] + x * dp[l]) - lf * dp[l - 1]) / (lf + df - 2.0);
    }
    dp
}

fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, ci| acc * x + ci)
}

/// sup_{0 < x ≤ δ} |x log x|.
fn xlogx_sup(delta: f64) -> f64 {
    let e_inv = (-1.0f64).exp();
    if delta <= e_inv {
        delta * -delta.ln()
    } else {
        e_inv.max(delta * delta.ln())
    }
}

/// KL = E_unif[q log q] ≈ Σ_i w_i q_i log q_i on the Gauss–Jacobi rule (w_i, x_i) of w_unif,
/// with q_i the truncated Galerkin density ratio at the nodes, and an estimate of what the
/// nodes with q_i ≤ 0 leave out.
///
/// The true q is > 0, but the truncated q = Σ_{l≤L} N_l m_l P_l is accurate in L²(w_unif),
/// not pointwise: at large d the polar nodes carry weights w_i ~ 1e-40 and there q sums
/// N_l m_l P_l with N_l ~ 1e40 and m_l at the rounding level, so it may be any sign
/// (proofs-notes/langevin.md §8). A node with q_i ≤ 0 is left out of the sum. Its true value
/// lies in (0, δ_i] with δ_i = max(|q_i|, ‖q‖/√w_i): the Christoffel bound
/// w_i g(x_i)² ≤ ‖g‖²_{L²(w_unif)} for polynomials g of degree < n, applied to the error of q
/// with an error at most ‖q‖ in L² (an estimate). Its contribution is then at most
/// w_i sup_{x≤δ_i}|x log x|, whose sum is returned with the KL.
pub(crate) fn kl_clipped(w: &[f64], q: &[f64], q_norm: f64) -> (f64, f64) {
    let (mut kl, mut clipped) = (0.0, 0.0);
    for (&wi, &qi) in w.iter().zip(q) {
        if qi > 0.0 {
            kl += wi * qi * qi.ln();
        } else if wi > 0.0 {
            let delta = qi.abs().max(q_norm / wi.sqrt());
            clipped += wi * xlogx_sup(delta);
        } else if !qi.is_finite() {
            // a node of weight 0 (underflow) with a non-finite value: no estimate possible
            clipped = f64::NAN;
        }
    }
    (kl, clipped)
}

struct Galerkin<'a> {
    p: &'a Problem,
    modes: usize,
    /// Gauss–Jacobi nodes/weights of w_unif.
    x: Vec<f64>,
    w: Vec<f64>,
    /// ptab[i][l], dtab[i][l]: P_l(x_i), P_l'(x_i), l ≤ max(L, K).
    ptab: Vec<Vec<f64>>,
    dtab: Vec<Vec<f64>>,
    dpsi: Vec<f64>,
    psi: Vec<f64>,
    nl: Vec<f64>,
    /// Half-interval rule: s_j ∈ (0, 1), weights including (1 + s)^a.
    half: Vec<(f64, f64)>,
}

impl<'a> Galerkin<'a> {
    fn new(p: &'a Problem, modes: usize) -> Galerkin<'a> {
        let d = p.d;
        let kdeg = p.kernel_degree().max(p.psi.len().saturating_sub(1));
        let n = modes + kdeg / 2 + 4;
        let a = (d as f64 - 3.0) / 2.0;
        let (x, w) = gauss_jacobi(n, a, a);
        let top = modes.max(p.kernel_degree());
        let ptab: Vec<Vec<f64>> = x.iter().map(|&xi| gegenbauer(top, d, xi)).collect();
        let dtab = x
            .iter()
            .zip(&ptab)
            .map(|(&xi, pr)| gegenbauer_derivative(pr, d, xi))
            .collect();
        let dpsi_c: Vec<f64> = (1..p.psi.len()).map(|k| k as f64 * p.psi[k]).collect();
        let dpsi = x.iter().map(|&xi| horner(&dpsi_c, xi)).collect();
        let psi = x.iter().map(|&xi| horner(&p.psi, xi)).collect();
        let nl = (0..=modes).map(|l| harmonic_dimension(l, d)).collect();
        let (u, wu) = gauss_jacobi(n, a, 0.0);
        let half = u
            .iter()
            .zip(&wu)
            .map(|(&ui, &wi)| {
                let s = (1.0 + ui) / 2.0;
                (s, wi * (1.0 + s).powf(a))
            })
            .collect();
        Galerkin {
            p,
            modes,
            x,
            w,
            ptab,
            dtab,
            dpsi,
            psi,
            nl,
            half,
        }
    }

    fn q_at(&self, m: &[f64], pl: &[f64]) -> f64 {
        (0..=self.modes).map(|l| self.nl[l] * m[l] * pl[l]).sum()
    }

    /// The nonlinear part N(m)_l = −E_p[(1 − s²) P_l' φ'].
    fn nonlinear(&self, m: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut f = vec![0.0; self.x.len()];
        for (i, fi) in f.iter_mut().enumerate() {
            let q = self.q_at(m, &self.ptab[i]);
            let mut k = 0.0;
            for &l in &p.active {
                k += p.nu[l] * m[l] * self.dtab[i][l];
            }
            let dphi = 2.0 * p.c * (k - self.dpsi[i]);
            *fi = self.w[i] * q * (1.0 - self.x[i] * self.x[i]) * dphi;
        }
        let mut out = vec![0.0; self.modes + 1];
        for (l, o) in out.iter_mut().enumerate().skip(1) {
            *o = -(0..f.len()).map(|i| f[i] * self.dtab[i][l]).sum::<f64>();
        }
        out
    }

    /// The seven outputs at the moments `m`, and the estimate of the KL's clipped nodes
    /// (see [`kl_clipped`]).
    fn outputs(&self, m: &[f64]) -> ([f64; 7], f64) {
        let p = self.p;
        let d = p.d as f64;
        let interaction: f64 = (0..p.nu.len()).map(|l| p.nu[l] * m[l] * m[l]).sum();
        let mut e_psi = 0.0;
        let q: Vec<f64> = self.ptab.iter().map(|pl| self.q_at(m, pl)).collect();
        for (i, qi) in q.iter().enumerate() {
            e_psi += self.w[i] * qi * self.psi[i];
        }
        let norm2: f64 = (0..=self.modes).map(|l| self.nl[l] * m[l] * m[l]).sum();
        let (kl, clipped) = kl_clipped(&self.w, &q, norm2.sqrt());
        let (mut num, mut den) = (0.0, 0.0);
        for &(s, w) in &self.half {
            let qp = self.q_at(m, &gegenbauer(self.modes, p.d, s));
            let qm = self.q_at(m, &gegenbauer(self.modes, p.d, -s));
            num += w * s * (qp + qm);
            den += w * (qp + qm);
        }
        let m2 = if self.modes >= 2 { m[2] } else { 0.0 };
        let values = p.outputs(
            interaction,
            e_psi,
            kl,
            [m[1], ((d - 1.0) * m2 + 1.0) / d, num / den],
        );
        (values, clipped)
    }
}

/// The seven outputs at one time and the estimate of the KL's clipped nodes ([`kl_clipped`]).
type Outputs = ([f64; 7], f64);

/// One run at `modes` Gegenbauer modes and time steps ≤ `dt`.
fn run(p: &Problem, times: &[f64], modes: usize, dt: f64) -> Vec<Outputs> {
    run_keeping(p, times, modes, dt, &mut |_| ())
}

/// [`run`], handing the moment vector m_0..m_L at every output time to `keep`.
fn run_keeping(
    p: &Problem,
    times: &[f64],
    modes: usize,
    dt: f64,
    keep: &mut dyn FnMut(&[f64]),
) -> Vec<Outputs> {
    let g = Galerkin::new(p, modes);
    let lam: Vec<f64> = (0..=modes)
        .map(|l| -((l * (l + p.d - 2)) as f64) / p.beta)
        .collect();
    let mut m = vec![0.0; modes + 1];
    m[0] = 1.0;
    keep(&m);
    let mut out = vec![g.outputs(&m)];
    for win in times.windows(2) {
        let len = win[1] - win[0];
        let steps = (len / dt).ceil().max(1.0) as usize;
        let h = len / steps as f64;
        // per mode: e^{hλ}, e^{hλ/2}, (h/2)φ1(hλ/2), h f1, 2h f2, h f3
        let coef: Vec<[f64; 6]> = lam
            .iter()
            .map(|&l| {
                let z = h * l;
                let [p1, p2, p3] = phis(z);
                let half = phis(z / 2.0)[0];
                [
                    z.exp(),
                    (z / 2.0).exp(),
                    h / 2.0 * half,
                    h * (p1 - 3.0 * p2 + 4.0 * p3),
                    2.0 * h * (p2 - 2.0 * p3),
                    h * (-p2 + 4.0 * p3),
                ]
            })
            .collect();
        for _ in 0..steps {
            let nu = g.nonlinear(&m);
            let a: Vec<f64> = (0..=modes)
                .map(|l| coef[l][1] * m[l] + coef[l][2] * nu[l])
                .collect();
            let na = g.nonlinear(&a);
            let b: Vec<f64> = (0..=modes)
                .map(|l| coef[l][1] * m[l] + coef[l][2] * na[l])
                .collect();
            let nb = g.nonlinear(&b);
            let c: Vec<f64> = (0..=modes)
                .map(|l| coef[l][1] * a[l] + coef[l][2] * (2.0 * nb[l] - nu[l]))
                .collect();
            let nc = g.nonlinear(&c);
            for l in 0..=modes {
                m[l] = coef[l][0] * m[l]
                    + coef[l][3] * nu[l]
                    + coef[l][4] * (na[l] + nb[l])
                    + coef[l][5] * nc[l];
            }
            m[0] = 1.0;
        }
        keep(&m);
        out.push(g.outputs(&m));
    }
    out
}

/// Route B, refined until its estimate is ≤ tol·(1 + |value|) (or the largest resolution).
pub fn solve(p: &Problem, times: &[f64], tol: f64) -> Result<RouteRun, LangevinError> {
    solve_at(p, times, tol, &[]).map(|(r, _, _)| r)
}

/// The Gegenbauer moments m_0..m_K (K = the kernel's degree, enough for the potential φ) of
/// the flow at every time of `grid` (increasing, from 0), and the seven outputs there, at the
/// resolution that [`solve`] reaches on `times` (the output times of `tol`'s check; F, KL and E|s|
/// are left out of that test, they do not enter the moments). The time
/// steps are ≤ that resolution's Δt, so the accuracy is at least route B's at that resolution
/// (an estimate; the moments are not checked against route A).
pub fn moments_on_grid(
    p: &Problem,
    times: &[f64],
    grid: &[f64],
    tol: f64,
) -> Result<(Vec<Vec<f64>>, Vec<[f64; 7]>), LangevinError> {
    let (_, modes, dt) = solve_at(p, times, tol, &[FREE_ENERGY, KL, MEAN_ABS_S])?;
    let top = p.nu.len().max(3);
    let mut kept = Vec::with_capacity(grid.len());
    let out = run_keeping(p, grid, modes, dt, &mut |m| {
        kept.push((0..top).map(|l| m.get(l).copied().unwrap_or(0.0)).collect())
    });
    Ok((kept, out.into_iter().map(|(v, _)| v).collect()))
}

/// Indices of F, KL and E|s| in the outputs (the Gauss–Jacobi rules of q: not needed for the
/// moments).
const FREE_ENERGY: usize = 2;
const KL: usize = 3;
const MEAN_ABS_S: usize = 6;

/// [`solve`] with its final resolution (modes, Δt); the outputs `ignore` do not take part in
/// the refinement test.
fn solve_at(
    p: &Problem,
    times: &[f64],
    tol: f64,
    ignore: &[usize],
) -> Result<(RouteRun, usize, f64), LangevinError> {
    let mut modes = (p.kernel_degree() + 16).max(24);
    let mut dt = 0.02;
    let mut prev = run(p, times, modes, dt);
    loop {
        let (m2, dt2) = (modes + 16, dt / 2.0);
        let run_cur = run(p, times, m2, dt2);
        // the change under refinement, plus (KL and F = L + KL/β) the clipped nodes' estimate
        let estimate: Vec<[f64; 7]> = run_cur
            .iter()
            .zip(&prev)
            .map(|((a, clip), (b, _))| {
                std::array::from_fn(|q| {
                    (a[q] - b[q]).abs()
                        + match q {
                            KL => *clip,
                            FREE_ENERGY => clip / p.beta,
                            _ => 0.0,
                        }
                })
            })
            .collect();
        let cur: Vec<[f64; 7]> = run_cur.iter().map(|(v, _)| *v).collect();
        let used = |q: &usize| !ignore.contains(q);
        // NaN-safe: f64::max below ignores NaN, so both values and estimates are tested here
        let finite = cur.iter().zip(&estimate).all(|(v, e)| {
            (0..7)
                .filter(used)
                .all(|q| v[q].is_finite() && e[q].is_finite())
        });
        let worst = cur
            .iter()
            .zip(&estimate)
            .flat_map(|(v, e)| (0..7).filter(used).map(move |q| e[q] / (1.0 + v[q].abs())))
            .fold(0.0, f64::max);
        modes = m2;
        dt = dt2;
        if finite && worst <= tol {
            let run = RouteRun {
                values: cur,
                estimate,
                resolution: format!("gegenbauer modes {modes}, dt {dt:e} (ETDRK4)"),
            };
            return Ok((run, modes, dt));
        }
        if modes + 16 > MAX_MODES || dt < 1e-5 {
            let what = if finite {
                format!("estimate {worst:.3e} above {tol:.1e}")
            } else {
                "an output or its estimate is not finite".to_string()
            };
            return Err(LangevinError::Resolution(format!(
                "langevin flow (Gegenbauer route): {what} at {modes} modes, dt {dt:e}: raise --tol"
            )));
        }
        prev = run_cur;
    }
}

#[cfg(test)]
mod tests {
    use super::{kl_clipped, xlogx_sup};

    #[test]
    fn xlogx_sup_is_the_supremum() {
        // brute force over a fine grid of (0, δ]
        for delta in [
            1e-30,
            1e-3,
            0.2,
            1.0 / std::f64::consts::E,
            0.5,
            1.0,
            3.0,
            1e20,
        ] {
            let brute = (1..=100_000)
                .map(|k| {
                    let x = delta * k as f64 / 100_000.0;
                    (x * x.ln()).abs()
                })
                .fold(0.0, f64::max);
            let s = xlogx_sup(delta);
            assert!(
                s >= brute * (1.0 - 1e-12) && s <= brute * (1.0 + 1e-6) + 1e-300,
                "{delta}: {s} vs {brute}"
            );
        }
    }

    #[test]
    fn kl_clipped_skips_and_accounts_nonpositive_nodes() {
        // q = 2 on half the mass, 0 on the other half: KL = ½·2 log 2 = log 2
        let w = [0.25, 0.25, 0.25, 0.25, 1e-40];
        let q = [2.0, 2.0, 0.0, 0.0, -7.0];
        let (kl, clip) = kl_clipped(&w, &q, 2.0f64.sqrt());
        assert!((kl - std::f64::consts::LN_2).abs() < 1e-15);
        // nodes with q = 0 of weight ¼ and q < 0 of weight 1e-40: δ = ‖q‖/√w
        let expect =
            2.0 * 0.25 * xlogx_sup(2.0f64.sqrt() / 0.5) + 1e-40 * xlogx_sup(2.0f64.sqrt() / 1e-20);
        assert!((clip - expect).abs() <= 1e-15 * expect);
        // a polar node of weight 1e-40 costs at most ~1e-18
        let (_, tiny) = kl_clipped(&[1e-40], &[-3.0], 1.0);
        assert!(tiny > 0.0 && tiny < 1e-18, "{tiny}");
    }
}
