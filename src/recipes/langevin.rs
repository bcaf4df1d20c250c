//! The `[langevin]` recipe kind (noisy mean-field dynamics, docs/conventions.md and
//! proofs-notes/langevin.md): for every β, one job runs the reduced flow (the library behind
//! `langevin flow`: risk and free energy against t, route B's values with their estimates) and
//! the Gibbs fixed point p* (the library behind `langevin gibbs`), and per draw one job runs
//! noisy finite-N training ([`crate::dynamics::noisy_run`], the loop of `train --beta`) with
//! the widths nested in one draw, seed = recipe seed + draw.
//!
//! Job files: `flow-beta<β>/flow.csv` (t, risk, free energy, their estimates, `bound_kind`),
//! `flow-beta<β>/pstar.csv` (the density of s under p* on a grid, F* and E_{p*} s with the
//! Gibbs route's estimates; the density's `bound_kind` is estimate: see below);
//! `noisy-beta<β>-r<r>/train.csv` (the bytes of `train --beta <β> --seed <seed + r> --draws 1`
//! with the recipe's settings) and `noisy-beta<β>-r<r>/s.csv` (the overlaps s_i of every
//! neuron at the snapshot times). The figures are made from these files alone: per β, the
//! risk against t (flow curve, finite-N mean over draws per width) and the free energy against
//! t (flow, with F*); per β, histograms of s (pooled over draws, largest width) at each
//! snapshot time against the p* density.
//!
//! Accuracy contract: flow values carry route B's estimate (`bound_kind = estimate`); the p*
//! density is w_unif(s)·exp(−βφ(s)) with φ from the Gibbs route's Gegenbauer moments,
//! normalised by the trapezoid rule on the printed grid (an estimate; its mean is checked
//! against the Gibbs route's E s in tests/reproduce_langevin.rs); histograms are raw counts
//! over bin width. Nothing in the figures is recomputed.

use super::table::Table;
use super::{Job, Recipe};
use crate::activation::Spec;
use crate::conventions::{failure, usage, Error, LossScale};
use crate::dynamics::Config;
use crate::figures::{Figure, Series};
use crate::langevin::{fast, flow};
use crate::meanfield::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

fn d_degree() -> usize {
    60
}
fn d_panels() -> usize {
    200
}
fn d_rtol() -> f64 {
    1e-10
}
fn d_bins() -> usize {
    40
}

/// Series degree of the flow's kernels (as `langevin flow`'s default).
pub const FLOW_DEGREE: usize = 120;
/// Kernel truncation tolerance (as `langevin flow`'s default).
pub const KERNEL_TOL: f64 = 1e-12;
/// Target of each flow route's estimate (as `langevin flow`'s default).
pub const FLOW_TOL: f64 = 1e-10;
/// Points of the p* density grid on [−1, 1].
pub const GRID: usize = 401;

/// `[langevin]`: student = teacher, full loss scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangevinRecipe {
    pub student: String,
    pub d: usize,
    /// Inverse temperatures, strictly increasing.
    pub beta: Vec<f64>,
    pub t_end: f64,
    /// Output step of the flow curve.
    pub dt_out: f64,
    /// Widths of the noisy runs, strictly increasing.
    pub widths: Vec<usize>,
    pub draws: usize,
    pub eta: f64,
    pub record_every: usize,
    /// Times (multiples of eta, in [0, t_end]) at which the law of s is recorded.
    pub snapshot_times: Vec<f64>,
    #[serde(default = "d_bins")]
    pub bins: usize,
    #[serde(default = "d_degree")]
    pub degree: usize,
    #[serde(default = "d_panels")]
    pub panels: usize,
    #[serde(default = "d_rtol")]
    pub rtol: f64,
}

fn bad(m: impl Into<String>) -> Error {
    usage(format!("langevin: {}", m.into()))
}

impl LangevinRecipe {
    /// The `train --beta` configuration of draw `draw`.
    pub fn config(&self, seed: u64, draw: usize) -> Config {
        Config {
            student: self.student.clone(),
            teacher: self.student.clone(),
            d: self.d,
            widths: self.widths.clone(),
            eta: self.eta,
            t_end: self.t_end,
            draws: 1,
            seed: seed.wrapping_add(draw as u64),
            update: "tangent".into(),
            loss_scale: "full".into(),
            noise_variance: 0.0,
            degree: self.degree,
            record_every: self.record_every,
            histogram_every: self.record_every,
            panels: self.panels,
            rtol: self.rtol,
            init: "uniform".into(),
        }
    }

    fn steps(&self) -> usize {
        (self.t_end / self.eta).round().max(1.0) as usize
    }

    /// The snapshot steps (round(t/η)).
    pub fn snapshot_steps(&self) -> Vec<usize> {
        self.snapshot_times
            .iter()
            .map(|t| (t / self.eta).round() as usize)
            .collect()
    }

    /// Checks the ranges and the configuration.
    pub fn check(&self, seed: u64) -> Result<(), Error> {
        if self.d < 3 {
            return Err(bad(format!("d = {}: must be >= 3", self.d)));
        }
        if self.beta.is_empty()
            || self
                .beta
                .iter()
                .any(|b| !(b.is_finite() && *b > 0.0 && *b <= 1e6))
            || self.beta.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(bad(
                "beta: a strictly increasing list of numbers in (0, 1e6]",
            ));
        }
        if !(self.t_end.is_finite() && self.t_end > 0.0 && self.t_end <= 1000.0) {
            return Err(bad(format!("t_end = {}: must be in (0, 1000]", self.t_end)));
        }
        if !(self.dt_out.is_finite() && self.dt_out > 0.0 && self.t_end / self.dt_out <= 10_000.0) {
            return Err(bad(format!(
                "dt_out = {}: must be > 0 with at most 10000 outputs",
                self.dt_out
            )));
        }
        if self.widths.is_empty()
            || self.widths[0] == 0
            || self.widths.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(bad("widths: must be strictly increasing and positive"));
        }
        if self.draws == 0 || self.record_every == 0 || self.bins == 0 {
            return Err(bad("draws, record_every and bins must be at least 1"));
        }
        let steps = self.steps();
        for &t in &self.snapshot_times {
            let k = (t / self.eta).round();
            if !(t.is_finite()
                && t >= 0.0
                && k <= steps as f64
                && (k * self.eta - t).abs() <= 1e-9 * (1.0 + t))
            {
                return Err(bad(format!(
                    "snapshot_times: {t} is not a multiple of eta in [0, t_end]"
                )));
            }
        }
        Spec::parse(&self.student).map_err(|e| bad(e.to_string()))?;
        self.config(seed, 0).validate()?;
        Ok(())
    }

    /// The jobs: per β, the flow, then one per draw.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        for (bi, b) in self.beta.iter().enumerate() {
            out.push(Job::LangevinFlow {
                id: format!("flow-beta{b}"),
                beta: bi,
            });
            for r in 0..self.draws {
                out.push(Job::LangevinNoisy {
                    id: format!("noisy-beta{b}-r{r}"),
                    beta: bi,
                    draw: r,
                });
            }
        }
        out
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), Error> {
    let p = dir.join(name);
    crate::output::write_atomic(&p, text.as_bytes())
        .map_err(|e| failure(format!("cannot write {}: {e}", p.display())))
}

/// The unnormalised p* density w_unif(s)·exp(−β(φ(s) − φ_min)) on the grid, φ(s) =
/// 2c[Σ_l ν_l m_l P_l(s) − ψ(s)] (proofs-notes/langevin.md), then normalised by the
/// trapezoid rule.
fn pstar_density(p: &flow::Problem, moments: &[f64]) -> Vec<(f64, f64)> {
    let lmax =
        p.nu.len()
            .saturating_sub(1)
            .min(moments.len().saturating_sub(1));
    let phi = |s: f64| {
        let pl = fast::gegenbauer(lmax, p.d, s);
        let k: f64 = (0..=lmax).map(|l| p.nu[l] * moments[l] * pl[l]).sum();
        let psi = p.psi.iter().rev().fold(0.0, |acc, c| acc * s + c);
        2.0 * p.c * (k - psi)
    };
    let grid: Vec<f64> = (0..GRID)
        .map(|i| -1.0 + 2.0 * i as f64 / (GRID - 1) as f64)
        .collect();
    let phis: Vec<f64> = grid.iter().map(|&s| phi(s)).collect();
    let pmin = phis.iter().cloned().fold(f64::INFINITY, f64::min);
    let e = (p.d as f64 - 3.0) / 2.0;
    let un: Vec<f64> = grid
        .iter()
        .zip(&phis)
        .map(|(&s, &f)| (1.0 - s * s).max(0.0).powf(e) * (-p.beta * (f - pmin)).exp())
        .collect();
    let h = 2.0 / (GRID - 1) as f64;
    let z = h * (un.iter().sum::<f64>() - 0.5 * (un[0] + un[GRID - 1]));
    grid.into_iter().zip(un).map(|(s, u)| (s, u / z)).collect()
}

/// The flow job of β index `bi`: flow.csv and pstar.csv.
pub fn run_flow_job(t: &LangevinRecipe, bi: usize, dir: &Path) -> Result<(), Error> {
    let beta = t.beta[bi];
    let s = Spec::parse(&t.student).map_err(|e| bad(e.to_string()))?;
    let model = Model::new(&s, &s, t.d, FLOW_DEGREE, 20, LossScale::Full, 0.0)
        .map_err(|e| bad(e.to_string()))?;
    let lerr = |e: crate::langevin::LangevinError| failure(format!("beta {beta}: {e}"));
    let problem = flow::Problem::new(&model, beta, KERNEL_TOL).map_err(lerr)?;
    let times = flow::output_times(t.t_end, t.dt_out);
    let fl = flow::flow(&problem, &times, FLOW_TOL).map_err(lerr)?;
    let l_out = problem.nu.len().saturating_sub(1).max(2);
    let g = fast::gibbs(&model, beta, l_out, KERNEL_TOL).map_err(lerr)?;
    let mut csv =
        String::from("t,risk,risk_bound,free_energy,free_energy_bound,mean_s,bound_kind\n");
    for (tt, v) in fl.times.iter().zip(&fl.values) {
        csv += &format!(
            "{tt:e},{:.16e},{:e},{:.16e},{:e},{:.16e},estimate\n",
            v[0].value,
            v[0].bound,
            v[flow::FREE_ENERGY].value,
            v[flow::FREE_ENERGY].bound,
            v[4].value,
        );
    }
    write(dir, "flow.csv", &csv)?;
    let m: Vec<f64> = g.gegenbauer_moments.iter().map(|q| q.value).collect();
    let mut p = String::from("s,density,free_energy_star,free_energy_star_bound,mean_s_star,mean_s_star_bound,bound_kind\n");
    for (s, dens) in pstar_density(&problem, &m) {
        p += &format!(
            "{s:e},{dens:.16e},{:.16e},{:e},{:.16e},{:e},estimate\n",
            g.free_energy.value, g.free_energy.bound, g.mean_s.value, g.mean_s.bound
        );
    }
    write(dir, "pstar.csv", &p)
}

/// The noisy job (β index `bi`, draw `draw`): train.csv and s.csv.
pub fn run_noisy_job(
    t: &LangevinRecipe,
    seed: u64,
    bi: usize,
    draw: usize,
    dir: &Path,
) -> Result<(), Error> {
    let nr =
        crate::dynamics::noisy_run::run(t.config(seed, draw), t.beta[bi], &t.snapshot_steps())?;
    write(dir, "train.csv", &nr.csv)?;
    let mut s = String::from("width,draw,step,t,s\n");
    for sn in &nr.snapshots {
        for v in &sn.s {
            s += &format!(
                "{},{draw},{},{:e},{v:e}\n",
                sn.width,
                sn.step,
                sn.step as f64 * t.eta
            );
        }
    }
    write(dir, "s.csv", &s)
}

/// The figures, from the job files alone.
pub fn figures(out: &Path, recipe: &Recipe, t: &LangevinRecipe) -> Result<Vec<Figure>, Error> {
    let runs = out.join("runs");
    let mut figs = Vec::new();
    let mut fe_series = Vec::new();
    for b in &t.beta {
        let fl = Table::read(&runs.join(format!("flow-beta{b}")).join("flow.csv"))?;
        let ps = Table::read(&runs.join(format!("flow-beta{b}")).join("pstar.csv"))?;
        let col = |tb: &Table, c: &str| -> Result<Vec<f64>, Error> {
            tb.rows.iter().map(|r| tb.f(r, c)).collect()
        };
        let ft = col(&fl, "t")?;
        let mut series = vec![Series {
            name: format!("mean-field flow β = {b}"),
            points: ft.iter().cloned().zip(col(&fl, "risk")?).collect(),
        }];
        // finite-N risk: mean over draws per (width, step)
        let mut acc: BTreeMap<usize, BTreeMap<usize, (f64, Vec<f64>)>> = BTreeMap::new();
        let wmax = *t.widths.last().expect("checked");
        let mut pooled: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for r in 0..t.draws {
            let dir = runs.join(format!("noisy-beta{b}-r{r}"));
            let tr = Table::read(&dir.join("train.csv"))?;
            for row in &tr.rows {
                let e = acc
                    .entry(tr.f(row, "width")? as usize)
                    .or_default()
                    .entry(tr.f(row, "step")? as usize)
                    .or_insert((tr.f(row, "t")?, Vec::new()));
                e.1.push(tr.f(row, "risk")?);
            }
            let sc = Table::read(&dir.join("s.csv"))?;
            for row in &sc.rows {
                if sc.f(row, "width")? as usize == wmax {
                    pooled
                        .entry(sc.f(row, "step")? as usize)
                        .or_default()
                        .push(sc.f(row, "s")?);
                }
            }
        }
        for (n, by_step) in &acc {
            series.push(Series {
                name: format!("N = {n}, mean over {} draws", t.draws),
                points: by_step
                    .values()
                    .map(|(tt, v)| (*tt, v.iter().sum::<f64>() / v.len() as f64))
                    .collect(),
            });
        }
        figs.push(Figure {
            name: format!("risk-beta{b}"),
            title: format!(
                "{}: risk against t, β = {b} ({}, d = {}, η = {})",
                recipe.name, t.student, t.d, t.eta
            ),
            x_label: "t".into(),
            y_label: "risk R = E(f − y)²".into(),
            log_x: false,
            log_y: false,
            series,
        });
        fe_series.push(Series {
            name: format!("F(ρ_t), β = {b}"),
            points: ft.iter().cloned().zip(col(&fl, "free_energy")?).collect(),
        });
        let fstar = ps.f(&ps.rows[0], "free_energy_star")?;
        fe_series.push(Series {
            name: format!("F* (Gibbs), β = {b}"),
            points: vec![(0.0, fstar), (t.t_end, fstar)],
        });
        // law of s
        let mut ls = vec![Series {
            name: format!("p* density, β = {b}"),
            points: col(&ps, "s")?
                .into_iter()
                .zip(col(&ps, "density")?)
                .collect(),
        }];
        let w = 2.0 / t.bins as f64;
        for (step, v) in &pooled {
            let mut counts = vec![0usize; t.bins];
            for &x in v {
                let i = (((x + 1.0) / w).floor().max(0.0) as usize).min(t.bins - 1);
                counts[i] += 1;
            }
            let tot = v.len() as f64;
            ls.push(Series {
                name: format!("N = {wmax}, t = {}", *step as f64 * t.eta),
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| (-1.0 + (i as f64 + 0.5) * w, c as f64 / (tot * w)))
                    .collect(),
            });
        }
        figs.push(Figure {
            name: format!("law-of-s-beta{b}"),
            title: format!(
                "{}: law of s = ⟨w, θ⟩ (histograms, {} draws pooled) against p*, β = {b}",
                recipe.name, t.draws
            ),
            x_label: "s".into(),
            y_label: "density".into(),
            log_x: false,
            log_y: false,
            series: ls,
        });
    }
    figs.push(Figure {
        name: "free-energy".into(),
        title: format!(
            "{}: free energy F = L + KL/β of the flow against t ({}, d = {})",
            recipe.name, t.student, t.d
        ),
        x_label: "t".into(),
        y_label: "F".into(),
        log_x: false,
        log_y: false,
        series: fe_series,
    });
    Ok(figs)
}
