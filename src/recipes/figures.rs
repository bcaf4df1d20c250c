//! The figures of a recipe run, built from its job files under `runs/`: per d of a train
//! recipe the loss, gap, function-gap, histogram and overlap figures; the escape-time figure;
//! the concordance figure and its joined `concordance-table.csv`. Each figure's data is also
//! written as CSV ([`crate::figures`]).
//!
//! Accuracy contract: the figures plot the job files' numbers (means over draws per width and
//! step, in file order); nothing is recomputed, so their accuracy is the jobs'.

use super::manifest::write;
use super::table::Table;
use super::{Job, Recipe};
use crate::conventions::Error;
use crate::figures::{Figure, Series};
use crate::recipes;
use std::collections::BTreeMap;
use std::path::Path;

const T_LABEL: &str = "time t = steps · η (mean-field time)";

/// Mean over draws of column `col` per (width, step), as one series per width.
fn per_width(
    tables: &[Table],
    widths: &[usize],
    col: &str,
    label: &dyn Fn(usize) -> String,
) -> Result<Vec<Series>, Error> {
    let mut out = Vec::new();
    for &n in widths {
        let mut acc: BTreeMap<usize, (f64, f64, usize)> = BTreeMap::new();
        for tb in tables {
            for row in &tb.rows {
                if tb.f(row, "width")? as usize != n {
                    continue;
                }
                let step = tb.f(row, "step")? as usize;
                let e = acc.entry(step).or_insert((tb.f(row, "t")?, 0.0, 0));
                e.1 += tb.f(row, col)?;
                e.2 += 1;
            }
        }
        out.push(Series {
            name: label(n),
            points: acc.values().map(|(t, s, c)| (*t, s / *c as f64)).collect(),
        });
    }
    Ok(out)
}

pub fn train_figures(out: &Path, recipe: &Recipe, d: usize) -> Result<Vec<Figure>, Error> {
    let t = recipe.train.as_ref().expect("train recipe");
    let runs = out.join("runs");
    let tables: Vec<Table> = (0..t.draws)
        .map(|r| Table::read(&runs.join(format!("train-d{d}-r{r}")).join("train.csv")))
        .collect::<Result<_, _>>()?;
    let mf = Table::read(&runs.join(format!("mf-d{d}")).join("meanfield.csv"))?;
    let draws = if t.draws > 1 {
        format!(", mean of {} draws", t.draws)
    } else {
        String::new()
    };
    let wl = |n: usize| format!("N = {n}");
    let name = format!("{} (σ = {}, d = {d})", recipe.name, t.student);
    let mut loss = per_width(&tables, &t.widths, "loss", &wl)?;
    let mut mf_loss = Vec::new();
    let mut mf_risk = Vec::new();
    for row in &mf.rows {
        let tt = mf.f(row, "t")?;
        mf_loss.push((tt, mf.f(row, "loss")?));
        mf_risk.push((tt, mf.f(row, "risk")?));
    }
    let differs = mf_loss
        .iter()
        .zip(&mf_risk)
        .any(|(a, b)| (a.1 - b.1).abs() > 1e-14);
    loss.push(Series {
        name: if differs {
            "mean field: loss".into()
        } else {
            "mean field (exact): loss = risk".into()
        },
        points: mf_loss,
    });
    if differs {
        loss.push(Series {
            name: "mean field: risk E(f_MF − σ*)²".into(),
            points: mf_risk,
        });
    }
    let mut figs = vec![
        Figure {
            name: format!("loss-d{d}"),
            title: format!("Loss: {name}{draws}"),
            x_label: T_LABEL.into(),
            y_label: "population loss E[(f − y)²] (no ½)".into(),
            log_x: false,
            log_y: false,
            series: loss,
        },
        Figure {
            name: format!("gap-d{d}"),
            title: format!("N·(mean_i ‖Δ(i)‖)²: {name}{draws}"),
            x_label: T_LABEL.into(),
            y_label: "N·(mean_i ‖w_i(t) − w̄_i(t)‖)²".into(),
            log_x: false,
            log_y: false,
            series: per_width(&tables, &t.widths, "n_mean_gap_sq", &wl)?,
        },
        Figure {
            name: format!("function-gap-d{d}"),
            title: format!("N·E_x(f_N − f_MF)²: {name}{draws}"),
            x_label: T_LABEL.into(),
            y_label: "N·E_x(f_N(x) − f_MF(x))²".into(),
            log_x: false,
            log_y: false,
            series: per_width(&tables, &t.widths, "n_function_gap", &wl)?,
        },
    ];
    let hist = Table::read(&runs.join(format!("train-d{d}-r0")).join("histograms.csv"))?;
    let last = hist
        .rows
        .iter()
        .map(|r| hist.f(r, "step").unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    let t_last = last * t.eta;
    for (q, stem, xl) in [
        ("gap", "hist-gap", "‖Δ(i)‖ = ‖w_i(t) − w̄_i(t)‖"),
        ("sqrt_n_gap", "hist-sqrt-n-gap", "√N·‖Δ(i)‖"),
    ] {
        let mut series = Vec::new();
        for &n in &t.widths {
            let mut pts = Vec::new();
            for row in &hist.rows {
                if hist.s(row, "quantity")? != q
                    || hist.f(row, "width")? as usize != n
                    || hist.f(row, "step")? != last
                {
                    continue;
                }
                let (lo, hi, fr) = (
                    hist.f(row, "bin_lo")?,
                    hist.f(row, "bin_hi")?,
                    hist.f(row, "fraction")?,
                );
                let dens = fr / (hi - lo);
                pts.push((lo, dens));
                pts.push((hi, dens));
            }
            series.push(Series {
                name: wl(n),
                points: pts,
            });
        }
        figs.push(Figure {
            name: format!("{stem}-d{d}"),
            title: format!("Histogram of {xl} at t = {t_last}: {name}, draw 0"),
            x_label: xl.into(),
            y_label: "density (fraction of neurons per unit)".into(),
            log_x: false,
            log_y: false,
            series,
        });
    }
    let traj = Table::read(&runs.join(format!("mf-d{d}")).join("trajectories.csv"))?;
    let mut series: Vec<Series> = Vec::new();
    for &c in &t.track_sqrt_d {
        let mut pts = Vec::new();
        for row in &traj.rows {
            if traj.f(row, "c")? == c {
                pts.push((traj.f(row, "t")?, traj.f(row, "alpha")?));
            }
        }
        series.push(Series {
            name: format!("α_0 = {c}/√d"),
            points: pts,
        });
    }
    for q in ["q05", "q50", "q95"] {
        let mut pts = Vec::new();
        for row in &mf.rows {
            pts.push((mf.f(row, "t")?, mf.f(row, q)?));
        }
        series.push(Series {
            name: format!("quantile {} of α_t", &q[1..]),
            points: pts,
        });
    }
    figs.push(Figure {
        name: format!("overlaps-d{d}"),
        title: format!("Overlap trajectories of the exact mean-field flow: {name}"),
        x_label: T_LABEL.into(),
        y_label: "overlap α_t = ⟨w̄(t), θ⟩".into(),
        log_x: false,
        log_y: false,
        series,
    });
    Ok(figs)
}

pub fn escape_figure(
    out: &Path,
    recipe: &Recipe,
    e: &recipes::EscapeRecipe,
) -> Result<Figure, Error> {
    let mut series = Vec::new();
    for job in recipe.jobs() {
        let Job::Escape { id, student } = &job else {
            continue;
        };
        let tb = Table::read(&out.join("runs").join(id).join("escape.csv"))?;
        for &c in &e.alpha0_sqrt_d {
            let (mut flow, mut formula) = (Vec::new(), Vec::new());
            for row in &tb.rows {
                if tb.f(row, "c")? != c {
                    continue;
                }
                let d = tb.f(row, "d")?;
                flow.push((d, tb.f(row, "t_flow")?));
                formula.push((d, tb.f(row, "t_formula")?));
            }
            series.push(Series {
                name: format!("{student}, α_0 = {c}/√d: exact flow"),
                points: flow,
            });
            series.push(Series {
                name: format!("{student}, α_0 = {c}/√d: first-order escape formula"),
                points: formula,
            });
        }
    }
    Ok(Figure {
        name: "escape-times".into(),
        title: format!("Escape time to |α| = {} against d", e.threshold),
        x_label: "dimension d (log scale)".into(),
        y_label: "escape time t = steps · η (log scale)".into(),
        log_x: true,
        log_y: true,
        series,
    })
}

pub fn concordance_figure(out: &Path, recipe: &Recipe) -> Result<Figure, Error> {
    let mut table = String::from(crate::concordance::CSV_HEADER);
    table.push('\n');
    let (mut r1, mut r2, mut ih) = (Vec::new(), Vec::new(), Vec::new());
    let (mut r2_init, mut sign_changes) = (Vec::new(), 0.0);
    for job in recipe.jobs() {
        let Job::Concordance { id, .. } = &job else {
            continue;
        };
        let p = out.join("runs").join(id).join("concordance.csv");
        let tb = Table::read(&p)?;
        for row in &tb.rows {
            table.push_str(&row.join(","));
            table.push('\n');
            let d = tb.f(row, "d")?;
            r1.push((d, tb.f(row, "r1_at_init")?));
            r2.push((d, tb.f(row, "r2_sup")?));
            r2_init.push((d, tb.f(row, "r2_at_init")?));
            sign_changes += tb.f(row, "velocity_sign_changes")?;
            ih.push((d, tb.f(row, "integral_h_median")?));
        }
    }
    write(&out.join("concordance-table.csv"), &table)?;
    Ok(Figure {
        name: "concordance".into(),
        title: "Self-concordance constants along the exact flow".into(),
        x_label: "dimension d (log scale)".into(),
        y_label: "dimensionless ratio (log scale)".into(),
        log_x: true,
        log_y: true,
        series: vec![
            Series {
                name: "R1 = ‖H‖/‖v‖ at initialisation".into(),
                points: r1,
            },
            Series {
                name: "R2 = |α|‖H‖/‖v‖ at initialisation".into(),
                points: r2_init,
            },
            Series {
                // With a velocity sign change along the flow the supremum is +∞ and the
                // sampled maximum is only a grid-dependent lower bound: the legend says so.
                name: if sign_changes > 0.0 {
                    "max sampled R2 (|α| ≤ cut): only a lower bound as v changes sign (sup = ∞)"
                        .into()
                } else {
                    "sup R2 = |α|‖H‖/‖v‖ (|α| ≤ cut)".into()
                },
                points: r2,
            },
            Series {
                name: "median ∫‖H‖dt".into(),
                points: ih,
            },
        ],
    })
}
