//! The `[deep_rates]` recipe kind: width rates of the deep mean-field model against its
//! infinite-width limit (`mforacle deep train`, L = 2 and 3), one job per (L, d, draw) with all
//! widths, and the figures made from the jobs' files alone:
//! - `risk-l<L>-d<d>`: R_N (mean over draws, one curve per width) and R_∞ against t;
//! - `gaps-l<L>-d<d>`: at t = t_end, the statistics of the gaps over draws against N on
//!   log–log axes with the fitted power laws C·N^p (least squares in logs, bootstrap standard
//!   error of p over draws: [`crate::deep::rates`]; the series name carries p ± s.e. and the
//!   predicted exponent of proofs-note §5d (L = 2) or §7 (L = 3) where there is one);
//!   `summary-l<L>-d<d>.json` holds the fits at every output time (the `summary` rows of
//!   `deep train --summary`);
//! - `correlations-l<L>-d<d>` (with `corr_times`): the edge-increment correlations of each
//!   class (L = 2: 2 classes, L = 3: 5) at the last correlation time against N: finite network
//!   and coupled ideal particles (means over draws) and the limit law.
//!
//! Job `deep-l<L>-d<d>-r<r>` writes `rows.csv` with the bytes of the rows of draw r of
//! `mforacle deep train --layers L --d d --widths W --draws R --seed S --t-end T --dt-out H
//! --dt h` (for L = 3 with `--summary FILE`, whose rows carry the function gap; same columns,
//! same formatting; tested), and with `corr_times` `corr.csv` (the correlation rows of
//! `--summary`). Accuracy contract: the figures and fits are computed from those numbers (17
//! significant digits, read back exactly); nothing is recomputed. The summaries are
//! [`crate::deep::rates::summary`] (L = 2) and [`crate::deep::rates::summary3`] (L = 3) of the
//! rows read back: the loss gap (sd, mean, mean |·|), the edge gap(s), the node gap, the readout
//! gap (L = 3) and the function gap.

use super::table::Table;
use super::{Job, Recipe};
use crate::conventions::{failure, usage, Error};
use crate::deep::rates::{self, PowerFit};
use crate::deep::train::{self, Case, Extras, Init, Row};
use crate::deep::train3::{self, Row3};
use crate::deep::{limit, Psi};
use crate::figures::{Figure, Series};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn d_psi() -> String {
    "gd".into()
}
fn d_dt() -> f64 {
    0.05
}

/// `[deep_rates]`: the settings of `deep train` over layers, dimensions and draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeepRatesRecipe {
    /// Numbers of inner layers (2, 3).
    pub layers: Vec<usize>,
    #[serde(default = "d_psi")]
    pub psi: String,
    /// Input dimensions, strictly increasing.
    pub d: Vec<usize>,
    /// Widths, strictly increasing.
    pub widths: Vec<usize>,
    /// Draws per (L, d) (at least 2: the spread over draws is fitted).
    pub draws: usize,
    pub t_end: f64,
    pub dt_out: f64,
    /// RK4 step of the finite-width flow.
    #[serde(default = "d_dt")]
    pub dt: f64,
    /// Output times of the edge-increment correlations (L = 2 and 3).
    #[serde(default)]
    pub corr_times: Vec<f64>,
}

/// CSV header of the L = 2 rows (that of `deep train`).
pub const HEADER2: &str = "t,n,draw,risk,risk_limit,loss_gap,edge_gap,node_gap,function_gap";
/// CSV header of the L = 3 rows (that of `deep train --layers 3 --summary FILE`).
pub const HEADER3: &str =
    "t,n,draw,risk,risk_limit,loss_gap,edge_gap1,edge_gap2,node_gap,readout_gap,function_gap";
/// CSV header of the correlation rows.
pub const HEADER_CORR: &str = "t,n,draw,class,f,finite,ideal,limit";

/// Largest width accepted (memory is checked against the machine as well).
const MAX_WIDTH: usize = 1 << 14;

impl DeepRatesRecipe {
    pub fn psi(&self) -> Result<Psi, Error> {
        Psi::parse(&self.psi).map_err(|e| usage(format!("deep_rates: {e}")))
    }

    /// Checks the ranges and the memory of the largest width before any job runs.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(usage(format!("deep_rates: {m}")));
        self.psi()?;
        if self.layers.is_empty() || self.layers.iter().any(|l| !crate::deep::LAYERS.contains(l)) {
            return bad("layers: a nonempty list of 2 and/or 3");
        }
        if self.layers.windows(2).any(|w| w[1] <= w[0]) {
            return bad("layers: must be strictly increasing");
        }
        if self.d.is_empty() || self.d[0] < 1 || self.d.windows(2).any(|w| w[1] <= w[0]) {
            return bad("d: a strictly increasing list of dimensions >= 1");
        }
        if self.widths.is_empty()
            || self.widths[0] < 1
            || self.widths.windows(2).any(|w| w[1] <= w[0])
            || *self.widths.last().unwrap() > MAX_WIDTH
        {
            return bad(&format!(
                "widths: a strictly increasing list of widths in 1..={MAX_WIDTH}"
            ));
        }
        if self.draws < 2 {
            return bad("draws: at least 2 (the spread over draws is fitted)");
        }
        for (name, v) in [
            ("t_end", self.t_end),
            ("dt_out", self.dt_out),
            ("dt", self.dt),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(&format!("{name} = {v}: must be a positive number"));
            }
        }
        if self.t_end / self.dt_out > 1e5 || self.t_end / self.dt > 1e7 {
            return bad("t_end: too many output times or steps");
        }
        let on_grid = |t: f64| {
            let k = (t / self.dt_out).round();
            (t - k * self.dt_out).abs() <= 1e-9 * t.max(1.0)
                || (t - self.t_end).abs() <= 1e-9 * self.t_end
        };
        if let Some(t) = self
            .corr_times
            .iter()
            .find(|t| !(t.is_finite() && **t >= 0.0 && **t <= self.t_end && on_grid(**t)))
        {
            return bad(&format!(
                "corr_times {t}: must be an output time in [0, t_end]"
            ));
        }
        let nmax = *self.widths.last().unwrap();
        let dmax = *self.d.last().unwrap();
        let n_times = (self.t_end / self.dt_out).ceil() as usize + 2;
        for &l in &self.layers {
            let bytes = if l == 3 {
                train3::train_bytes_with(nmax, dmax, !self.corr_times.is_empty())
            } else {
                train::train_bytes_with(nmax, dmax, n_times, !self.corr_times.is_empty())
            };
            crate::memory::check("deep_rates", crate::memory::Bytes(Some(bytes as u64)))
                .map_err(usage)?;
        }
        Ok(())
    }

    /// The jobs: one per (L, d, draw), all widths in each.
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        for &layers in &self.layers {
            for &d in &self.d {
                for draw in 0..self.draws {
                    out.push(Job::DeepRates {
                        id: job_id(layers, d, draw),
                        layers,
                        d,
                        draw,
                    });
                }
            }
        }
        out
    }
}

fn job_id(layers: usize, d: usize, draw: usize) -> String {
    format!("deep-l{layers}-d{d}-r{draw}")
}

fn num(x: f64) -> String {
    format!("{x:.16e}")
}

/// Runs draw `draw` of (L, d) at every width: `rows.csv`, and `corr.csv` for L = 2 with
/// correlation times.
pub fn run_job(
    t: &DeepRatesRecipe,
    seed: u64,
    layers: usize,
    d: usize,
    draw: usize,
    dir: &Path,
) -> Result<(), Error> {
    t.validate()?;
    let psi = t.psi()?;
    let lp = limit::Params::new(psi);
    let case = |n: usize| Case {
        n,
        d,
        psi,
        seed,
        draw,
        t_end: t.t_end,
        dt_out: t.dt_out,
    };
    let mut csv = String::new();
    let mut corr_csv = String::new();
    if layers == 3 {
        csv += HEADER3;
        csv.push('\n');
        corr_csv += HEADER_CORR;
        corr_csv.push('\n');
        let lim = train3::flow_limit(&lp, t.t_end, t.dt_out);
        let extras = train3::Extras3 {
            corr_times: t.corr_times.clone(),
        };
        for &n in &t.widths {
            let o = train3::run_with(&case(n), t.dt, &lim, &extras);
            for r in &o.rows {
                csv += &format!("{},{},{}", num(r.t), r.n, r.draw);
                for x in [
                    r.risk,
                    r.risk_limit,
                    r.loss_gap,
                    r.edge_gap1,
                    r.edge_gap2,
                    r.node_gap,
                    r.readout_gap,
                    r.function_gap.unwrap_or(f64::NAN),
                ] {
                    csv += &format!(",{}", num(x));
                }
                csv.push('\n');
            }
            corr_csv += &corr_lines(&o.corr);
        }
    } else {
        csv += HEADER2;
        csv.push('\n');
        corr_csv += HEADER_CORR;
        corr_csv.push('\n');
        let extras = Extras {
            init: Init::Iid,
            corr_times: t.corr_times.clone(),
        };
        for &n in &t.widths {
            let o = train::run_with(&case(n), t.dt, &lp, &extras);
            for r in &o.rows {
                csv += &format!("{},{},{}", num(r.t), r.n, r.draw);
                for x in [
                    r.risk,
                    r.risk_limit,
                    r.loss_gap,
                    r.edge_gap,
                    r.node_gap,
                    r.function_gap,
                ] {
                    csv += &format!(",{}", num(x));
                }
                csv.push('\n');
            }
            corr_csv += &corr_lines(&o.corr);
        }
    }
    if !csv
        .lines()
        .skip(1)
        .flat_map(|l| l.split(','))
        .all(|x| x.parse::<f64>().map(|v| v.is_finite()).unwrap_or(true))
    {
        return Err(failure("the flow produced a non-finite value"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create {}: {e}", dir.display())))?;
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        crate::output::write_atomic(&p, text.as_bytes())
            .map_err(|e| failure(format!("cannot write {}: {e}", p.display())))
    };
    w("rows.csv", &csv)?;
    if !t.corr_times.is_empty() {
        w("corr.csv", &corr_csv)?;
    }
    Ok(())
}

/// The CSV lines of correlation rows (header [`HEADER_CORR`]).
fn corr_lines(rows: &[train::CorrRow]) -> String {
    let mut s = String::new();
    for c in rows {
        s += &format!(
            "{},{},{},{},{},{},{},{}\n",
            num(c.t),
            c.n,
            c.draw,
            c.class,
            c.f,
            num(c.finite),
            num(c.ideal),
            num(c.limit)
        );
    }
    s
}

/// All rows of (L, d) over the draws, in job order.
fn tables(
    out: &Path,
    t: &DeepRatesRecipe,
    layers: usize,
    d: usize,
    file: &str,
) -> Result<Vec<Table>, Error> {
    (0..t.draws)
        .map(|r| Table::read(&out.join("runs").join(job_id(layers, d, r)).join(file)))
        .collect()
}

/// The L = 2 rows read back (exact: 17 significant digits).
fn rows2(tbs: &[Table]) -> Result<Vec<Row>, Error> {
    let mut out = Vec::new();
    for tb in tbs {
        for row in &tb.rows {
            out.push(Row {
                t: tb.f(row, "t")?,
                n: tb.f(row, "n")? as usize,
                draw: tb.f(row, "draw")? as usize,
                risk: tb.f(row, "risk")?,
                risk_limit: tb.f(row, "risk_limit")?,
                loss_gap: tb.f(row, "loss_gap")?,
                edge_gap: tb.f(row, "edge_gap")?,
                node_gap: tb.f(row, "node_gap")?,
                function_gap: tb.f(row, "function_gap")?,
            });
        }
    }
    Ok(out)
}

/// The L = 3 rows read back (exact: 17 significant digits).
fn rows3(tbs: &[Table]) -> Result<Vec<Row3>, Error> {
    let mut out = Vec::new();
    for tb in tbs {
        for row in &tb.rows {
            out.push(Row3 {
                t: tb.f(row, "t")?,
                n: tb.f(row, "n")? as usize,
                draw: tb.f(row, "draw")? as usize,
                risk: tb.f(row, "risk")?,
                risk_limit: tb.f(row, "risk_limit")?,
                loss_gap: tb.f(row, "loss_gap")?,
                edge_gap1: tb.f(row, "edge_gap1")?,
                edge_gap2: tb.f(row, "edge_gap2")?,
                node_gap: tb.f(row, "node_gap")?,
                readout_gap: tb.f(row, "readout_gap")?,
                function_gap: Some(tb.f(row, "function_gap")?),
            });
        }
    }
    Ok(out)
}

/// Points (N, |stat|) and the fitted line of one quantity.
fn fit_series(
    label: &str,
    widths: &[usize],
    fit: &PowerFit,
    predicted: Option<f64>,
) -> Vec<Series> {
    let pts = widths
        .iter()
        .zip(&fit.values)
        .map(|(&n, &v)| (n as f64, v.abs()))
        .collect();
    let mut out = vec![Series {
        name: label.to_string(),
        points: pts,
    }];
    if let (Some(p), Some(c)) = (fit.exponent, fit.prefactor) {
        let se = fit
            .exponent_se
            .map(|s| format!(" ± {s:.3}"))
            .unwrap_or_default();
        let pred = predicted
            .map(|q| format!(", predicted {q}"))
            .unwrap_or_default();
        out.push(Series {
            name: format!("{label}: fit C·N^p, p = {p:.3}{se}{pred}"),
            points: widths
                .iter()
                .map(|&n| (n as f64, c * (n as f64).powf(p)))
                .collect(),
        });
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The figures (and the summary files) of the recipe from the jobs' files.
pub fn figures(out: &Path, recipe: &Recipe, t: &DeepRatesRecipe) -> Result<Vec<Figure>, Error> {
    let mut figs = Vec::new();
    let t_end = t.t_end;
    for &layers in &t.layers {
        for &d in &t.d {
            let tbs = tables(out, t, layers, d, "rows.csv")?;
            let tag = format!("l{layers}-d{d}");
            let head = format!(
                "{} (L = {layers}, ψ = {}, d = {d}, {} draws)",
                recipe.name, t.psi, t.draws
            );
            // R_N and R_∞ against t.
            let mut series = Vec::new();
            for &n in &t.widths {
                let mut pts: Vec<(f64, Vec<f64>)> = Vec::new();
                for tb in &tbs {
                    for row in &tb.rows {
                        if tb.f(row, "n")? as usize != n {
                            continue;
                        }
                        let (x, y) = (tb.f(row, "t")?, tb.f(row, "risk")?);
                        match pts.iter_mut().find(|p| p.0 == x) {
                            Some(p) => p.1.push(y),
                            None => pts.push((x, vec![y])),
                        }
                    }
                }
                series.push(Series {
                    name: format!("R_N, N = {n} (mean over draws)"),
                    points: pts.iter().map(|(x, ys)| (*x, mean(ys))).collect(),
                });
            }
            let first = &tbs[0];
            let n0 = t.widths[0] as f64;
            let mut lim = Vec::new();
            for row in &first.rows {
                if first.f(row, "n")? == n0 {
                    lim.push((first.f(row, "t")?, first.f(row, "risk_limit")?));
                }
            }
            series.push(Series {
                name: "R_∞ (limit, method A)".into(),
                points: lim,
            });
            figs.push(Figure {
                name: format!("risk-{tag}"),
                title: format!("{head}: risk against time"),
                x_label: "t (time of the N²-scaled flow)".into(),
                y_label: "risk E(f − y)² (no ½)".into(),
                log_x: false,
                log_y: false,
                series,
            });
            // Gaps against N at t_end, with the fits; the summary at every time to a file.
            let mut series = Vec::new();
            let summary_text = if layers == 2 {
                let rows = rows2(&tbs)?;
                let sum = rates::summary(&rows, false);
                for s in sum.iter().filter(|s| (s.t - t_end).abs() <= 1e-9 * t_end) {
                    let label = format!("{} ({})", s.quantity, s.statistic);
                    series.extend(fit_series(&label, &s.widths, &s.fit, s.predicted));
                }
                super::manifest::json(&sum)?
            } else {
                let sum = rates::summary3(&rows3(&tbs)?, false, t.psi()?);
                for s in sum.iter().filter(|s| (s.t - t_end).abs() <= 1e-9 * t_end) {
                    let label = format!("{} ({})", s.quantity, s.statistic);
                    series.extend(fit_series(&label, &s.widths, &s.fit, s.predicted));
                }
                super::manifest::json(&sum)?
            };
            super::manifest::write(&out.join(format!("summary-{tag}.json")), &summary_text)?;
            figs.push(Figure {
                name: format!("gaps-{tag}"),
                title: format!("{head}: gaps against width at t = {t_end}"),
                x_label: "width N".into(),
                y_label: "|statistic over draws| (gaps: see summary json)".into(),
                log_x: true,
                log_y: true,
                series,
            });
            // Correlations against N.
            if !t.corr_times.is_empty() {
                let ct = tables(out, t, layers, d, "corr.csv")?;
                let tc = t.corr_times.iter().fold(f64::MIN, |a, b| a.max(*b));
                let mut keys: Vec<(String, String)> = Vec::new();
                for row in &ct[0].rows {
                    let k = (
                        ct[0].s(row, "class")?.to_string(),
                        ct[0].s(row, "f")?.to_string(),
                    );
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                let mut series = Vec::new();
                for (class, f) in &keys {
                    for (col, what) in [
                        ("finite", "finite N"),
                        ("ideal", "ideal particles"),
                        ("limit", "limit law"),
                    ] {
                        let mut pts = Vec::new();
                        for &n in &t.widths {
                            let mut xs = Vec::new();
                            for tb in &ct {
                                for row in &tb.rows {
                                    if tb.f(row, "n")? as usize == n
                                        && (tb.f(row, "t")? - tc).abs() <= 1e-9 * tc.max(1.0)
                                        && tb.s(row, "class")? == class
                                        && tb.s(row, "f")? == f
                                    {
                                        xs.push(tb.f(row, col)?);
                                    }
                                }
                            }
                            if !xs.is_empty() {
                                pts.push((n as f64, mean(&xs)));
                            }
                        }
                        series.push(Series {
                            name: format!("{class} edges, f = {f}: {what} (mean over draws)"),
                            points: pts,
                        });
                    }
                }
                figs.push(Figure {
                    name: format!("correlations-{tag}"),
                    title: format!("{head}: edge-increment correlations at t = {tc}"),
                    x_label: "width N".into(),
                    y_label: "correlation of f(δ) over edge pairs of a class".into(),
                    log_x: true,
                    log_y: false,
                    series,
                });
            }
        }
    }
    Ok(figs)
}
