//! The `[dimension_free]` recipe kind: the width rate of propagation of chaos against the
//! dimension (proofs-notes/dimension-free.md). For every d and draw r, one job runs
//! [`crate::dynamics`] (the library behind `mforacle train`) with the widths nested in one
//! draw, seed = recipe seed + r, and writes the same files as a train job: `train.csv` gives
//! per width and recorded step the network's risk R_N (the loss at scale `full` without label
//! noise), the continuous flow's R(ρ_t) (`mf_loss`) and the same-η discrete map's R_η
//! (`mf_loss_discrete`).
//!
//! From those files alone ([`figures`]) the recipe writes
//! - `dimension-free-gaps.csv`: per (d, N, t) the mean over draws of |R_N − R(ρ_t)| and of
//!   |R_N − R_η|, their standard errors (s/√n), the mean signed gaps and their sample sd, and
//!   the O(η) term mean|R_N − R(ρ_t)| − mean|R_N − R_η|;
//! - `dimension-free-slopes.csv`: per (d, t, reference) the least-squares slope of
//!   ln mean|gap| against ln N and the prefactor C(d) = mean over the largest
//!   `prefactor_widths` widths of √N·mean|gap|, each with a delete-one-draw jackknife
//!   standard error ([`super::fit`]);
//! - `dimension-free-prefactor-slope.csv`: per (t, reference) the slope of ln C(d) against ln d
//!   with its jackknife standard error (the same draw deleted at every d);
//! - figures: per d, mean|gap| against N at t_end in log–log with the fitted lines (both
//!   references); C(d) against d (both references).
//!
//! Accuracy contract: gaps are differences of the job files' numbers (the fast path's risk and
//! the f64 reduced flow at `rtol`); slopes, prefactors and their standard errors are
//! statistical estimates (`bound_kind = estimate`), nothing else is recomputed.

use super::fit::{jackknife, loglog_fit, mean_sd};
use super::manifest::write;
use super::table::Table;
use super::{Job, Recipe};
use crate::conventions::{usage, Error};
use crate::dynamics::Config;
use crate::figures::{Figure, Series};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

fn d_eta() -> f64 {
    0.01
}
fn d_update() -> String {
    "tangent".into()
}
fn d_degree() -> usize {
    60
}
fn d_panels() -> usize {
    200
}
fn d_rtol() -> f64 {
    1e-10
}
fn d_three() -> usize {
    3
}

/// `[dimension_free]`: widths nested in one draw, one job per (d, draw).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionFreeRecipe {
    pub student: String,
    /// Default: the student.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    pub d: Vec<usize>,
    /// Strictly increasing, at least two.
    pub widths: Vec<usize>,
    /// At least two (the standard errors need them).
    pub draws: usize,
    #[serde(default = "d_eta")]
    pub eta: f64,
    pub t_end: f64,
    /// Record every this many steps (and the last).
    pub record_every: usize,
    #[serde(default = "d_update")]
    pub update: String,
    #[serde(default = "d_degree")]
    pub degree: usize,
    #[serde(default = "d_panels")]
    pub panels: usize,
    #[serde(default = "d_rtol")]
    pub rtol: f64,
    /// C(d) averages √N·mean|gap| over this many of the largest widths.
    #[serde(default = "d_three")]
    pub prefactor_widths: usize,
}

/// The two references a gap is measured against.
const REFS: [(&str, &str, &str); 2] = [
    ("flow", "mf_loss", "continuous flow R(ρ_t)"),
    ("discrete", "mf_loss_discrete", "same-η discrete map R_η"),
];

impl DimensionFreeRecipe {
    /// The training configuration of draw `draw` at dimension `d` (seed = `seed` + draw).
    pub fn config(&self, seed: u64, d: usize, draw: usize) -> Config {
        let steps = (self.t_end / self.eta).round().max(1.0) as usize;
        Config {
            student: self.student.clone(),
            teacher: self.teacher.clone().unwrap_or_else(|| self.student.clone()),
            d,
            widths: self.widths.clone(),
            eta: self.eta,
            t_end: self.t_end,
            draws: 1,
            seed: seed.wrapping_add(draw as u64),
            update: self.update.clone(),
            loss_scale: "full".into(),
            noise_variance: 0.0,
            degree: self.degree,
            record_every: self.record_every,
            histogram_every: steps,
            panels: self.panels,
            rtol: self.rtol,
            init: "uniform".into(),
        }
    }

    /// Checks the ranges and every configuration.
    pub fn check(&self, seed: u64) -> Result<(), Error> {
        if self.widths.len() < 2 {
            return Err(usage("dimension_free: at least two widths are needed"));
        }
        if self.draws < 2 {
            return Err(usage("dimension_free: at least two draws are needed"));
        }
        if self.prefactor_widths == 0 || self.prefactor_widths > self.widths.len() {
            return Err(usage(
                "dimension_free: prefactor_widths must be in 1..=number of widths",
            ));
        }
        for &d in &self.d {
            self.config(seed, d, 0).validate()?;
        }
        Ok(())
    }

    /// The jobs: per d, one per draw.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        for &d in &self.d {
            for r in 0..self.draws {
                out.push(Job::DimensionFree {
                    id: format!("df-d{d}-r{r}"),
                    d,
                    draw: r,
                });
            }
        }
        out
    }
}

/// Runs the job (d, draw): `train.csv`, `histograms.csv`, `run.json`.
pub fn run_job(
    recipe: &Recipe,
    d: usize,
    draw: usize,
    dir: &Path,
    log: &dyn Fn(&str),
) -> Result<(), Error> {
    let t = recipe
        .dimension_free
        .as_ref()
        .ok_or_else(|| usage("not a dimension_free recipe"))?;
    super::run::train_files(t.config(recipe.seed, d, draw), draw, dir, log)
}

/// gaps[d][(step, t)][reference][width index][draw] = R_N − reference.
type Gaps = BTreeMap<usize, BTreeMap<usize, (f64, [Vec<Vec<f64>>; 2])>>;

fn read_gaps(out: &Path, recipe: &Recipe, t: &DimensionFreeRecipe) -> Result<Gaps, Error> {
    let mut g: Gaps = BTreeMap::new();
    for job in recipe.jobs() {
        let Job::DimensionFree { id, d, draw } = &job else {
            continue;
        };
        let tb = Table::read(&out.join("runs").join(id).join("train.csv"))?;
        for row in &tb.rows {
            let n = tb.f(row, "width")? as usize;
            let wi = t
                .widths
                .iter()
                .position(|&w| w == n)
                .ok_or_else(|| usage(format!("{id}: width {n} is not in the recipe")))?;
            let step = tb.f(row, "step")? as usize;
            let e = g.entry(*d).or_default().entry(step).or_insert_with(|| {
                let empty = || vec![vec![f64::NAN; t.draws]; t.widths.len()];
                (0.0, [empty(), empty()])
            });
            e.0 = tb.f(row, "t")?;
            let risk = tb.f(row, "loss")?;
            for (k, (_, col, _)) in REFS.iter().enumerate() {
                e.1[k][wi][*draw] = risk - tb.f(row, col)?;
            }
        }
    }
    for (d, by_step) in &g {
        for (_, refs) in by_step.values() {
            if refs.iter().flatten().flatten().any(|v| !v.is_finite()) {
                return Err(usage(format!(
                    "d = {d}: a job's train.csv misses a (width, step) or holds a non-finite value"
                )));
            }
        }
    }
    Ok(g)
}

/// mean_r |gap| per width, without draw `skip`.
fn mean_abs(per_width: &[Vec<f64>], skip: Option<usize>) -> Vec<f64> {
    per_width
        .iter()
        .map(|v| {
            let kept: Vec<f64> = v
                .iter()
                .enumerate()
                .filter(|(r, _)| Some(*r) != skip)
                .map(|(_, x)| x.abs())
                .collect();
            kept.iter().sum::<f64>() / kept.len() as f64
        })
        .collect()
}

fn slope_of(widths: &[f64], per_width: &[Vec<f64>], skip: Option<usize>) -> Option<f64> {
    loglog_fit(widths, &mean_abs(per_width, skip)).map(|f| f.0)
}

fn prefactor_of(widths: &[f64], per_width: &[Vec<f64>], k: usize, skip: Option<usize>) -> f64 {
    let m = mean_abs(per_width, skip);
    let n = widths.len();
    (n - k..n).map(|i| widths[i].sqrt() * m[i]).sum::<f64>() / k as f64
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:e}")
    } else {
        String::new()
    }
}

/// The header of `dimension-free-gaps.csv`.
pub const GAPS_HEADER: &str = "d,width,t,draws,mean_abs_gap_flow,se_abs_gap_flow,mean_gap_flow,sd_gap_flow,mean_abs_gap_discrete,se_abs_gap_discrete,mean_gap_discrete,sd_gap_discrete,eta_term,bound_kind";
/// The header of `dimension-free-slopes.csv`.
pub const SLOPES_HEADER: &str =
    "d,t,reference,slope,slope_se,prefactor,prefactor_se,prefactor_widths,bound_kind";
/// The header of `dimension-free-prefactor-slope.csv`.
pub const PREFACTOR_SLOPE_HEADER: &str =
    "t,reference,slope_log_prefactor_log_d,slope_se,bound_kind";

/// Writes the three tables and returns the figures.
pub fn figures(out: &Path, recipe: &Recipe, t: &DimensionFreeRecipe) -> Result<Vec<Figure>, Error> {
    let g = read_gaps(out, recipe, t)?;
    let wf: Vec<f64> = t.widths.iter().map(|&n| n as f64).collect();
    let k = t.prefactor_widths;
    let mut gaps = format!("{GAPS_HEADER}\n");
    let mut slopes = format!("{SLOPES_HEADER}\n");
    // prefactor[(step, ref)] = per d the per-width draws (for the d-slope's jackknife)
    let mut figs = Vec::new();
    let last_step = g
        .values()
        .next()
        .and_then(|m| m.keys().last().copied())
        .unwrap_or(0);
    for (&d, by_step) in &g {
        for (tt, refs) in by_step.values() {
            for (wi, &n) in t.widths.iter().enumerate() {
                let mut line = format!("{d},{n},{},{}", num(*tt), t.draws);
                let mut abs_means = [0.0; 2];
                for (r, rv) in refs.iter().enumerate() {
                    let v = &rv[wi];
                    let abs: Vec<f64> = v.iter().map(|x| x.abs()).collect();
                    let (ma, sa) = mean_sd(&abs);
                    let (m, s) = mean_sd(v);
                    abs_means[r] = ma;
                    line.push_str(&format!(
                        ",{},{},{},{}",
                        num(ma),
                        num(sa / (t.draws as f64).sqrt()),
                        num(m),
                        num(s)
                    ));
                }
                line.push_str(&format!(",{},estimate\n", num(abs_means[0] - abs_means[1])));
                gaps.push_str(&line);
            }
            for (r, (name, _, _)) in REFS.iter().enumerate() {
                let s = jackknife(t.draws, &|skip| slope_of(&wf, &refs[r], skip));
                let c = jackknife(t.draws, &|skip| Some(prefactor_of(&wf, &refs[r], k, skip)));
                let (sl, sls) = s.unwrap_or((f64::NAN, f64::NAN));
                let (cv, cs) = c.unwrap_or((f64::NAN, f64::NAN));
                slopes.push_str(&format!(
                    "{d},{},{name},{},{},{},{},{k},estimate\n",
                    num(*tt),
                    num(sl),
                    num(sls),
                    num(cv),
                    num(cs)
                ));
            }
        }
        // log–log figure at the last recorded step
        if let Some((tt, refs)) = by_step.get(&last_step) {
            let mut series = Vec::new();
            for (r, (name, _, label)) in REFS.iter().enumerate() {
                let m = mean_abs(&refs[r], None);
                series.push(Series {
                    name: format!("mean over draws of |R_N − {label}|"),
                    points: wf.iter().copied().zip(m).collect(),
                });
                if let Some((b, a)) = loglog_fit(&wf, &mean_abs(&refs[r], None)) {
                    series.push(Series {
                        name: format!("least-squares fit ({name}): slope {b:.3}"),
                        points: wf.iter().map(|&n| (n, (a + b * n.ln()).exp())).collect(),
                    });
                }
            }
            figs.push(Figure {
                name: format!("dimension-free-loglog-d{d}"),
                title: format!(
                    "{}: E|R_N − R| against N at t = {tt} (σ = {}, d = {d}, {} draws; predicted slope −1/2)",
                    recipe.name, t.student, t.draws
                ),
                x_label: "width N".into(),
                y_label: "mean over draws of |R_N − R| (risk, no ½)".into(),
                log_x: true,
                log_y: true,
                series,
            });
        }
    }
    // the prefactor against d, per recorded step and reference
    let ds: Vec<usize> = g.keys().copied().collect();
    let dsf: Vec<f64> = ds.iter().map(|&d| d as f64).collect();
    let steps: Vec<usize> = g
        .values()
        .next()
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    let mut pslope = format!("{PREFACTOR_SLOPE_HEADER}\n");
    let mut pseries = Vec::new();
    for &step in &steps {
        let tt = g[&ds[0]].get(&step).map(|e| e.0).unwrap_or(f64::NAN);
        for (r, (name, _, label)) in REFS.iter().enumerate() {
            let per_d = |skip: Option<usize>| -> Option<Vec<f64>> {
                ds.iter()
                    .map(|d| g[d].get(&step).map(|e| prefactor_of(&wf, &e.1[r], k, skip)))
                    .collect()
            };
            let s = if ds.len() >= 2 {
                jackknife(t.draws, &|skip| {
                    per_d(skip).and_then(|c| loglog_fit(&dsf, &c)).map(|f| f.0)
                })
            } else {
                None
            };
            let (sl, se) = s.unwrap_or((f64::NAN, f64::NAN));
            pslope.push_str(&format!(
                "{},{name},{},{},estimate\n",
                num(tt),
                num(sl),
                num(se)
            ));
            if step == last_step {
                if let Some(c) = per_d(None) {
                    pseries.push(Series {
                        name: format!("C(d) against {label}"),
                        points: dsf.iter().copied().zip(c).collect(),
                    });
                }
            }
        }
    }
    let t_last = g
        .values()
        .next()
        .and_then(|m| m.get(&last_step))
        .map(|e| e.0)
        .unwrap_or(f64::NAN);
    figs.push(Figure {
        name: "dimension-free-prefactor".into(),
        title: format!(
            "{}: prefactor C(d) = √N·E|R_N − R| (mean over the {k} largest N) against d at t = {t_last} (predicted flat or falling; √d would be the older bound)",
            recipe.name
        ),
        x_label: "dimension d".into(),
        y_label: "C(d)".into(),
        log_x: true,
        log_y: true,
        series: pseries,
    });
    write(&out.join("dimension-free-gaps.csv"), &gaps)?;
    write(&out.join("dimension-free-slopes.csv"), &slopes)?;
    write(&out.join("dimension-free-prefactor-slope.csv"), &pslope)?;
    Ok(figs)
}
