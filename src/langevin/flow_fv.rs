//! Route A of the reduced Langevin flow: finite volumes in the latitude.
//!
//! In ϑ = asin s ∈ (−π/2, π/2) the density r of ϑ solves (proofs-notes/langevin.md §7)
//!
//! ∂_t r = −∂_ϑ J,  J = −β⁻¹(∂_ϑ r + r ∂_ϑ V),  V = βφ(sin ϑ) − (d − 2) log cos ϑ,
//!
//! with zero flux at the poles. M equal cells (M even: a face at ϑ = 0), r_i the value at the
//! centre ϑ_i. Scharfetter–Gummel flux (exact for a constant flux and V linear on
//! [ϑ_i, ϑ_{i+1}]): J_{i+½} = [B(ΔV) r_i − B(−ΔV) r_{i+1}]/(βh), B(x) = x/(e^x − 1),
//! ΔV = V_{i+1} − V_i. It vanishes on the discrete Gibbs law r_{i+1}/r_i = e^{−ΔV}, is
//! conservative, and its implicit matrix I − τA is an M-matrix (positivity of the implicit
//! part). The moments m_l = h Σ r_i P_l(sin ϑ_i) (midpoint rule) give φ at the centres.
//!
//! Time: Crank–Nicolson, the new-time potential found by fixed-point iteration (tridiagonal
//! solves, to 1e-15 relative, or to where it stalls below 1e-13). Start: r_i ∝ cos^{d−2} ϑ_i normalised to mass 1 (the discrete
//! uniform law, so KL(0) = 0 exactly). Outputs by the midpoint rule (E|s| too: its kink is at
//! the face ϑ = 0); KL = h Σ r_i log(r_i/r⁰_i).
//!
//! Refinement: M = 64·2^j cells and 2^j times as many steps (Δt ∝ h); the outputs' error has
//! an expansion in h² (symmetric scheme, midpoint rule), removed by Richardson extrapolation
//! (columns k = 1, 2: errors O(h⁴), O(h⁶)). The estimate is the change between the last two
//! entries of the extrapolation table's last row (kind: estimate); stop when ≤ tol·(1 + |v|).

use super::fast::gegenbauer;
use super::flow::{Problem, RouteRun};
use super::LangevinError;

/// Largest number of cells.
pub const MAX_CELLS: usize = 2048;

fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, ci| acc * x + ci)
}

/// B(x) = x/(e^x − 1).
fn bernoulli(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x / x.exp_m1()
    }
}

struct Cells<'a> {
    p: &'a Problem,
    h: f64,
    s: Vec<f64>,
    /// (d − 2) log cos ϑ_i.
    conf: Vec<f64>,
    psi: Vec<f64>,
    /// ptab[i][l], l ≤ K.
    ptab: Vec<Vec<f64>>,
    r0: Vec<f64>,
    /// log r⁰_i (finite where r⁰_i underflows).
    log_r0: Vec<f64>,
}

impl<'a> Cells<'a> {
    fn new(p: &'a Problem, m: usize) -> Cells<'a> {
        let h = std::f64::consts::PI / m as f64;
        let th: Vec<f64> = (0..m)
            .map(|i| -std::f64::consts::FRAC_PI_2 + (i as f64 + 0.5) * h)
            .collect();
        let s: Vec<f64> = th.iter().map(|t| t.sin()).collect();
        let conf: Vec<f64> = th
            .iter()
            .map(|t| (p.d as f64 - 2.0) * t.cos().ln())
            .collect();
        let psi = s.iter().map(|&x| horner(&p.psi, x)).collect();
        let ptab = s
            .iter()
            .map(|&x| gegenbauer(p.kernel_degree(), p.d, x))
            .collect();
        // The start cos^{d−2}ϑ_i/mass, kept as its logarithm for the KL: at large d the polar
        // cells' values underflow (cos^{254}(π/4096) ≈ 1e-790), their logarithms do not.
        let mass: f64 = conf.iter().map(|c| c.exp()).sum::<f64>() * h;
        let log_r0: Vec<f64> = conf.iter().map(|c| c - mass.ln()).collect();
        let r0 = log_r0.iter().map(|l| l.exp()).collect();
        Cells {
            p,
            h,
            s,
            conf,
            psi,
            ptab,
            r0,
            log_r0,
        }
    }

    fn moments(&self, r: &[f64]) -> Vec<f64> {
        let k = self.p.kernel_degree();
        let mut m = vec![0.0; k + 1];
        for (i, ri) in r.iter().enumerate() {
            for (l, ml) in m.iter_mut().enumerate() {
                *ml += ri * self.ptab[i][l];
            }
        }
        for v in &mut m {
            *v *= self.h;
        }
        m
    }

    fn potential(&self, r: &[f64]) -> Vec<f64> {
        let p = self.p;
        let m = self.moments(r);
        (0..r.len())
            .map(|i| {
                let mut k = p.nu[0];
                for &l in &p.active {
                    k += p.nu[l] * m[l] * self.ptab[i][l];
                }
                p.beta * 2.0 * p.c * (k - self.psi[i]) - self.conf[i]
            })
            .collect()
    }

    /// Face coefficients (B(ΔV), B(−ΔV))·g, g = 1/(βh²), faces 0..M−1.
    fn faces(&self, v: &[f64]) -> Vec<(f64, f64)> {
        let g = 1.0 / (self.p.beta * self.h * self.h);
        v.windows(2)
            .map(|w| {
                let dv = w[1] - w[0];
                (g * bernoulli(dv), g * bernoulli(-dv))
            })
            .collect()
    }

    /// (A r)_i = −(J_{i+½} − J_{i−½})/h.
    fn apply(&self, f: &[(f64, f64)], r: &[f64]) -> Vec<f64> {
        let m = r.len();
        let mut out = vec![0.0; m];
        for i in 0..m - 1 {
            let j = f[i].0 * r[i] - f[i].1 * r[i + 1];
            out[i] -= j;
            out[i + 1] += j;
        }
        out
    }

    /// Solves (I − τA) x = b (Thomas; A from faces f).
    fn solve(&self, f: &[(f64, f64)], tau: f64, b: &[f64]) -> Vec<f64> {
        let m = b.len();
        let mut diag = vec![1.0; m];
        let mut up = vec![0.0; m];
        let mut lo = vec![0.0; m];
        for i in 0..m - 1 {
            diag[i] += tau * f[i].0;
            diag[i + 1] += tau * f[i].1;
            up[i] = -tau * f[i].1;
            lo[i + 1] = -tau * f[i].0;
        }
        let mut c = vec![0.0; m];
        let mut x = vec![0.0; m];
        c[0] = up[0] / diag[0];
        x[0] = b[0] / diag[0];
        for i in 1..m {
            let den = diag[i] - lo[i] * c[i - 1];
            c[i] = up[i] / den;
            x[i] = (b[i] - lo[i] * x[i - 1]) / den;
        }
        for i in (0..m - 1).rev() {
            x[i] -= c[i] * x[i + 1];
        }
        x
    }

    fn outputs(&self, r: &[f64]) -> [f64; 7] {
        let p = self.p;
        let m = self.moments(r);
        let interaction: f64 = (0..m.len()).map(|l| p.nu[l] * m[l] * m[l]).sum();
        let (mut e_psi, mut kl, mut s1, mut s2, mut sa) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, &ri) in r.iter().enumerate() {
            let s = self.s[i];
            e_psi += ri * self.psi[i];
            kl += if ri > 0.0 {
                ri * (ri.ln() - self.log_r0[i])
            } else {
                0.0
            };
            s1 += ri * s;
            s2 += ri * s * s;
            sa += ri * s.abs();
        }
        let h = self.h;
        p.outputs(interaction, h * e_psi, h * kl, [h * s1, h * s2, h * sa])
    }
}

/// Base time step (64 cells).
const DT_BASE: f64 = 0.5 * std::f64::consts::PI / 64.0;

/// One run at m = 64·2^level cells, with 2^level·⌈len/DT_BASE⌉ steps per output interval.
fn run(p: &Problem, times: &[f64], level: u32) -> Result<Vec<[f64; 7]>, LangevinError> {
    let m = 64usize << level;
    let cells = Cells::new(p, m);
    let mut r = cells.r0.clone();
    let mut out = vec![cells.outputs(&r)];
    let mut v = cells.potential(&r);
    for win in times.windows(2) {
        let len = win[1] - win[0];
        let steps = ((len / DT_BASE).ceil().max(1.0) as usize) << level;
        let tau = len / steps as f64 / 2.0;
        for _ in 0..steps {
            let f_old = cells.faces(&v);
            let ar = cells.apply(&f_old, &r);
            let rhs: Vec<f64> = r.iter().zip(&ar).map(|(a, b)| a + tau * b).collect();
            let mut next = r.clone();
            let mut converged = false;
            let mut last_change = f64::INFINITY;
            for _ in 0..100 {
                let vn = cells.potential(&next);
                let cand = cells.solve(&cells.faces(&vn), tau, &rhs);
                let change = cand
                    .iter()
                    .zip(&next)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                let top = cand.iter().fold(0.0f64, |a, b| a.max(b.abs()));
                next = cand;
                // converged: at 1e-15, or stalled at the rounding level below 1e-13
                if change <= 1e-15 * top || (change <= 1e-13 * top && change >= last_change) {
                    converged = true;
                    break;
                }
                last_change = change;
            }
            if !converged {
                return Err(LangevinError::NoConvergence(
                    "langevin flow (finite volumes): the Crank–Nicolson fixed point did not converge".into(),
                ));
            }
            r = next;
            v = cells.potential(&r);
        }
        out.push(cells.outputs(&r));
    }
    Ok(out)
}

/// Route A, refined until its Richardson estimate is ≤ tol·(1 + |value|) (or the finest grid).
pub fn solve(p: &Problem, times: &[f64], tol: f64) -> Result<RouteRun, LangevinError> {
    // table[j][k]: Richardson column k at level j (per time and quantity)
    let mut table: Vec<Vec<Vec<[f64; 7]>>> = vec![vec![run(p, times, 0)?]];
    loop {
        let j = table.len();
        let m = 64usize << j;
        let base = run(p, times, j as u32)?;
        let mut row = vec![base];
        for k in 1..=j.min(2) {
            let fac = 4f64.powi(k as i32) - 1.0;
            let col: Vec<[f64; 7]> = row[k - 1]
                .iter()
                .zip(&table[j - 1][k - 1])
                .map(|(a, b)| std::array::from_fn(|q| a[q] + (a[q] - b[q]) / fac))
                .collect();
            row.push(col);
        }
        let k = row.len() - 1;
        let best = row[k].clone();
        let estimate: Vec<[f64; 7]> = best
            .iter()
            .zip(&row[k - 1])
            .map(|(a, b)| std::array::from_fn(|q| (a[q] - b[q]).abs()))
            .collect();
        let worst = best
            .iter()
            .zip(&estimate)
            .flat_map(|(v, e)| (0..7).map(move |q| e[q] / (1.0 + v[q].abs())))
            .fold(0.0, f64::max);
        // NaN-safe: f64::max above ignores NaN
        let finite = best
            .iter()
            .zip(&estimate)
            .all(|(v, e)| v.iter().chain(e).all(|x| x.is_finite()));
        table.push(row);
        if !finite && 2 * m > MAX_CELLS {
            return Err(LangevinError::Resolution(format!(
                "langevin flow (finite volumes): an output is not finite at {m} cells: raise --tol"
            )));
        }
        if (finite && worst <= tol) || 2 * m > MAX_CELLS {
            return Ok(RouteRun {
                values: best,
                estimate,
                resolution: format!(
                    "finite volumes {m} cells, dt <= {:e} (Crank–Nicolson), Richardson order h^{}",
                    DT_BASE / (1u64 << j) as f64,
                    2 * k + 2
                ),
            });
        }
    }
}
