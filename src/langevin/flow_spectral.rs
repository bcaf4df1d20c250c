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

    fn outputs(&self, m: &[f64]) -> [f64; 7] {
        let p = self.p;
        let d = p.d as f64;
        let interaction: f64 = (0..p.nu.len()).map(|l| p.nu[l] * m[l] * m[l]).sum();
        let mut e_psi = 0.0;
        let mut kl = 0.0;
        for i in 0..self.x.len() {
            let q = self.q_at(m, &self.ptab[i]);
            e_psi += self.w[i] * q * self.psi[i];
            kl += self.w[i]
                * if q > 0.0 {
                    q * q.ln()
                } else if q == 0.0 {
                    0.0
                } else {
                    f64::NAN
                };
        }
        let (mut num, mut den) = (0.0, 0.0);
        for &(s, w) in &self.half {
            let qp = self.q_at(m, &gegenbauer(self.modes, p.d, s));
            let qm = self.q_at(m, &gegenbauer(self.modes, p.d, -s));
            num += w * s * (qp + qm);
            den += w * (qp + qm);
        }
        let m2 = if self.modes >= 2 { m[2] } else { 0.0 };
        p.outputs(
            interaction,
            e_psi,
            kl,
            [m[1], ((d - 1.0) * m2 + 1.0) / d, num / den],
        )
    }
}

/// One run at `modes` Gegenbauer modes and time steps ≤ `dt`.
fn run(p: &Problem, times: &[f64], modes: usize, dt: f64) -> Vec<[f64; 7]> {
    run_keeping(p, times, modes, dt, &mut |_| ())
}

/// [`run`], handing the moment vector m_0..m_L at every output time to `keep`.
fn run_keeping(
    p: &Problem,
    times: &[f64],
    modes: usize,
    dt: f64,
    keep: &mut dyn FnMut(&[f64]),
) -> Vec<[f64; 7]> {
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
    Ok((kept, out))
}

/// Indices of F, KL and E|s| in the outputs (the Gauss–Jacobi rules of q: not needed for the
/// moments, and KL, hence F, is NaN where a truncated q dips below 0 at a node).
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
        let cur = run(p, times, m2, dt2);
        let estimate: Vec<[f64; 7]> = cur
            .iter()
            .zip(&prev)
            .map(|(a, b)| std::array::from_fn(|q| (a[q] - b[q]).abs()))
            .collect();
        let used = |q: &usize| !ignore.contains(q);
        let finite = cur
            .iter()
            .all(|v| (0..7).filter(used).all(|q| v[q].is_finite()));
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
            return Err(LangevinError::NoConvergence(format!(
                "langevin flow (Gegenbauer route): estimate {worst:.3e} above {tol:.1e} at {modes} modes, dt {dt:e}"
            )));
        }
        prev = cur;
    }
}
