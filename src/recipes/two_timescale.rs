//! The `[two_timescale]` recipe kind: `mforacle two-timescale train` per seed (one job per
//! seed, all its σ and σ̃ runs, paired draws), and the figures of the two-timescale paper's
//! Section 6 from the jobs' `curves.csv` alone: kernel alignment and degrees of freedom
//! against iteration per σ (their Fig. 1), degrees of freedom and test MSE against iteration
//! per σ̃ at σ = `label_noise_sigma` (their Fig. 2), each the mean over seeds with ±1
//! standard-error bands (mean ± s/√S, s the sample standard deviation over the S seeds).
//!
//! Accuracy contract: the figures plot the jobs' numbers (means in file order); nothing is
//! recomputed. Job `tts-s<seed>` writes `runs/tts-s<seed>/curves.csv` (the columns of
//! `two-timescale train`) with the bytes `two-timescale train --seeds <seed>` writes for the
//! same settings.

use super::table::Table;
use super::{Job, Recipe};
use crate::conventions::{failure, usage, Error};
use crate::figures::{Figure, Series};
use crate::two_timescale::train::{self, Config, Init};
use crate::two_timescale::Params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

fn s(v: &str) -> String {
    v.into()
}
fn d_lambda() -> String {
    s("0.004")
}
fn d_quarter() -> String {
    s("0.25")
}
fn d_eta() -> String {
    s("0.2")
}
fn d_init() -> String {
    s("sd=0.25")
}
fn d_target() -> Vec<usize> {
    vec![0, 1]
}

/// `[two_timescale]`: the settings of `two-timescale train`, with `seeds` seeds
/// (recipe seed, seed + 1, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoTimescaleRecipe {
    pub d: usize,
    pub n: usize,
    pub n_test: usize,
    pub m: usize,
    pub iters: usize,
    pub log_every: usize,
    pub sigma: Vec<f64>,
    pub label_noise: Vec<f64>,
    pub label_noise_sigma: f64,
    pub seeds: usize,
    #[serde(default = "d_init")]
    pub init: String,
    #[serde(default = "d_target")]
    pub target: Vec<usize>,
    #[serde(default = "d_lambda")]
    pub lambda: String,
    #[serde(default = "d_quarter")]
    pub lambda_a: String,
    #[serde(default = "d_quarter")]
    pub lambda_w: String,
    #[serde(default = "d_eta")]
    pub eta: String,
}

impl TwoTimescaleRecipe {
    /// The training configuration (checked).
    pub fn config(&self) -> Result<Config, Error> {
        let p = Params {
            lambda: self.lambda.clone(),
            lambda_a: self.lambda_a.clone(),
            lambda_w: self.lambda_w.clone(),
            eta: self.eta.clone(),
            sigma_tilde: "0".into(),
        }
        .validate()
        .map_err(|e| usage(format!("two_timescale: {}", e.0)))?;
        let init = Init::parse(&self.init).map_err(|e| usage(format!("two_timescale: {e}")))?;
        let c = Config {
            d: self.d,
            n: self.n,
            n_test: self.n_test,
            m: self.m,
            iters: self.iters,
            log_every: self.log_every,
            params: p,
            init,
            target: self.target.clone(),
        };
        if [self.d, self.n, self.m, self.iters, self.seeds].contains(&0) {
            return Err(usage(
                "two_timescale: d, n, m, iters and seeds must be at least 1",
            ));
        }
        if self.target.is_empty() || self.target.iter().any(|&k| k >= self.d) {
            return Err(usage(
                "two_timescale: target: coordinates 0..d-1, at least one",
            ));
        }
        let ok = |v: &f64| v.is_finite() && *v >= 0.0;
        if !self.sigma.iter().chain(&self.label_noise).all(ok) || !ok(&self.label_noise_sigma) {
            return Err(usage(
                "two_timescale: sigma, label_noise: finite numbers >= 0",
            ));
        }
        if train::entries(&c) > train::MAX_ENTRIES {
            return Err(usage("two_timescale: n, m, n_test too large for memory"));
        }
        Ok(c)
    }

    /// The jobs: one per seed.
    pub fn jobs(&self, seed: u64) -> Vec<Job> {
        (0..self.seeds as u64)
            .map(|r| {
                let s = seed.wrapping_add(r);
                Job::TwoTimescale {
                    id: format!("tts-s{s}"),
                    seed: s,
                }
            })
            .collect()
    }
}

/// Runs the job of one seed: every (σ, σ̃) run, curves.csv.
pub fn run_job(t: &TwoTimescaleRecipe, seed: u64, dir: &Path) -> Result<(), Error> {
    let cfg = t.config()?;
    std::fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create {}: {e}", dir.display())))?;
    let mut csv = format!("{}\n", train::COLUMNS);
    let specs = train::runs(&t.sigma, &t.label_noise, t.label_noise_sigma, &[seed]);
    let results = train::run_all(&cfg, &specs, None);
    for (spec, tr) in specs.into_iter().zip(results) {
        let tr = tr.map_err(|e| {
            failure(format!(
                "seed {seed}, sigma {}, label_noise {}: {e}",
                spec.sigma, spec.label_noise
            ))
        })?;
        csv.push_str(&train::csv_lines(&tr));
    }
    let p = dir.join("curves.csv");
    crate::output::write_atomic(&p, csv.as_bytes())
        .map_err(|e| failure(format!("cannot write {}: {e}", p.display())))
}

/// Per (σ, σ̃) and iteration, the values of `col` over seeds.
type Acc = BTreeMap<(u64, u64), BTreeMap<usize, Vec<f64>>>;

fn collect(out: &Path, recipe: &Recipe, col: &str) -> Result<Acc, Error> {
    let mut acc: Acc = BTreeMap::new();
    for job in recipe.jobs() {
        let Job::TwoTimescale { id, .. } = &job else {
            continue;
        };
        let tb = Table::read(&out.join("runs").join(id).join("curves.csv"))?;
        for row in &tb.rows {
            let key = (
                tb.f(row, "sigma")?.to_bits(),
                tb.f(row, "label_noise")?.to_bits(),
            );
            let it = tb.f(row, "iter")? as usize;
            acc.entry(key)
                .or_default()
                .entry(it)
                .or_default()
                .push(tb.f(row, col)?);
        }
    }
    Ok(acc)
}

/// Mean and mean ± 1 s.e. series of one (σ, σ̃).
fn bands(name: &str, by_iter: &BTreeMap<usize, Vec<f64>>) -> Vec<Series> {
    let (mut m, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for (&it, v) in by_iter {
        let k = v.len() as f64;
        let mean = v.iter().sum::<f64>() / k;
        let se = if v.len() > 1 {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (k - 1.0)).sqrt() / k.sqrt()
        } else {
            0.0
        };
        m.push((it as f64, mean));
        lo.push((it as f64, mean - se));
        hi.push((it as f64, mean + se));
    }
    vec![
        Series {
            name: format!("{name}: mean over seeds"),
            points: m,
        },
        Series {
            name: format!("{name}: mean − 1 s.e."),
            points: lo,
        },
        Series {
            name: format!("{name}: mean + 1 s.e."),
            points: hi,
        },
    ]
}

/// The four figures.
pub fn figures(out: &Path, recipe: &Recipe, t: &TwoTimescaleRecipe) -> Result<Vec<Figure>, Error> {
    let seeds = format!("{} seeds, ±1 s.e.", t.seeds);
    let mut figs = Vec::new();
    let specs: [(&str, &str, &str, bool); 4] = [
        (
            "align",
            "alignment-per-sigma",
            "kernel alignment f°ᵀKf°/(|f°|²‖K‖_F) (train, clean target)",
            false,
        ),
        (
            "dof",
            "dof-per-sigma",
            "degrees of freedom tr K(K + nλ̄_a I)^{-1}",
            false,
        ),
        (
            "dof",
            "dof-per-label-noise",
            "degrees of freedom tr K(K + nλ̄_a I)^{-1}",
            true,
        ),
        (
            "test_mse",
            "test-mse-per-label-noise",
            "test MSE mean (f(x) − f°(x))² (no ½)",
            true,
        ),
    ];
    for (col, name, ylab, by_noise) in specs {
        let acc = collect(out, recipe, col)?;
        let mut series = Vec::new();
        for ((sb, tb), by_iter) in &acc {
            let (sigma, tilde) = (f64::from_bits(*sb), f64::from_bits(*tb));
            let keep = if by_noise {
                sigma == t.label_noise_sigma && (tilde > 0.0 || t.label_noise.contains(&0.0))
            } else {
                tilde == 0.0 && t.sigma.contains(&sigma)
            };
            if keep {
                let label = if by_noise {
                    format!("σ̃ = {tilde} (σ = {sigma})")
                } else {
                    format!("σ = {sigma}")
                };
                series.extend(bands(&label, by_iter));
            }
        }
        figs.push(Figure {
            name: name.into(),
            title: format!(
                "{}: {} against iteration (n = {}, m = {}, d = {}, {seeds})",
                recipe.name, col, t.n, t.m, t.d
            ),
            x_label: "iteration k (time = k·η)".into(),
            y_label: ylab.into(),
            log_x: false,
            log_y: col == "test_mse",
            series,
        });
    }
    Ok(figs)
}
