//! `mforacle reproduce [RECIPE | --recipe-file PATH] [--out DIR] [--seed S] [--t-end T]
//!  [--shard i/n] [--list]`: runs a recipe ([`crate::recipes`]) and writes its data, figures
//! and manifest.
//!
//! Layout of `DIR` (default `results/<recipe>`):
//! - `runs/<job>/…`: the files of every job ([`crate::recipes::run`]);
//! - `<figure>.csv`, `<figure>.svg`, `<figure>.png`: the figures and their data
//!   ([`crate::figures`]);
//! - `manifest.json`: the recipe (with overrides applied), the seed, the crate version, the
//!   conventions, the jobs and their files, the figures; a deterministic function of the recipe
//!   (byte-identical across runs with the same seed);
//! - `timing.json`: the wall time of the invocation and of every job, and the thread count
//!   (the only file that differs between two runs; kept out of the manifest for that reason).
//!
//! With `--shard i/n` only the jobs with index ≡ i (mod n) run, and `DIR/shard.json` (the
//! recipe, the version, i and n, the job ids) replaces the manifest and figures; `mforacle
//! merge` joins the shards ([`super::merge`]).

use super::CliError;
use crate::figures::{self, Figure, Series, Written};
use crate::recipes::{self, Job, Recipe};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in recipe (default: poc-he4-d32-quick); `--list` lists them.
    recipe: Option<String>,
    /// Load the recipe from a TOML file instead.
    #[arg(long, conflicts_with = "recipe")]
    recipe_file: Option<PathBuf>,
    /// Output directory (default results/<recipe>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override the recipe's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the horizon of a train recipe (e.g. a short run to measure the cost).
    #[arg(long, allow_negative_numbers = true)]
    t_end: Option<f64>,
    /// Run only the jobs with index ≡ i (mod n), written for `mforacle merge`.
    #[arg(long)]
    shard: Option<String>,
    /// List the built-in recipes and exit.
    #[arg(long)]
    list: bool,
}

/// Format tag of manifest.json and shard.json.
pub const FORMAT: &str = "mforacle-reproduce/1";

use crate::conventions::usage;

fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad = || usage(format!("--shard {s}: expected i/n with 0 <= i < n"));
    let (a, b) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = a.trim().parse().map_err(|_| bad())?;
    let n: usize = b.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The recipe to run, with the overrides applied.
fn load(args: &Args) -> Result<Recipe, CliError> {
    let text = match (&args.recipe_file, &args.recipe) {
        (Some(p), _) => std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read recipe file {}: {e}", p.display())))?,
        (None, Some(name)) => recipes::builtin_text(name).map_err(usage)?.to_string(),
        (None, None) => recipes::builtin_text(recipes::DEFAULT)
            .map_err(usage)?
            .to_string(),
    };
    let mut r = Recipe::parse(&text).map_err(usage)?;
    if let Some(s) = args.seed {
        r.seed = s;
    }
    if let Some(t) = args.t_end {
        match &mut r.train {
            Some(tr) if t.is_finite() && t > 0.0 => tr.t_end = Some(t),
            Some(_) => return Err(usage(format!("--t-end {t}: must be positive and finite"))),
            None => return Err(usage("--t-end applies to train recipes only")),
        }
    }
    r.validate().map_err(usage)?;
    Ok(r)
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct ShardDoc {
    pub format: String,
    pub version: String,
    pub recipe: Recipe,
    pub shard: usize,
    pub shards: usize,
    pub jobs: Vec<String>,
}

#[derive(serde::Serialize)]
struct JobTime {
    job: String,
    seconds: f64,
}

fn json<T: serde::Serialize>(x: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(x)
        .map(|s| s + "\n")
        .map_err(|e| CliError::Failure(format!("JSON: {e}")))
}

fn write(p: &Path, text: &str) -> Result<(), CliError> {
    super::emit(text, Some(p))
}

pub fn run(args: Args) -> Result<(), CliError> {
    if args.list {
        let mut s = String::new();
        for (name, text) in recipes::BUILTIN {
            let r = Recipe::parse(text).map_err(CliError::Failure)?;
            let def = if *name == recipes::DEFAULT {
                " (default)"
            } else {
                ""
            };
            s.push_str(&format!("{name}{def}: {}\n", r.reproduces));
        }
        return super::emit(&s, None);
    }
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let recipe = load(&args)?;
    recipes::run::check(&recipe)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&recipe.name));
    std::fs::create_dir_all(out.join("runs"))
        .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", out.display())))?;
    let started = Instant::now();
    let jobs = recipe.jobs();
    let selected: Vec<&Job> = jobs
        .iter()
        .enumerate()
        .filter(|(j, _)| shard.is_none_or(|(i, n)| j % n == i))
        .map(|(_, job)| job)
        .collect();
    eprintln!(
        "mforacle: recipe {} ({} of {} jobs{}), writing to {}",
        recipe.name,
        selected.len(),
        jobs.len(),
        shard
            .map(|(i, n)| format!(", shard {i}/{n}"))
            .unwrap_or_default(),
        out.display()
    );
    let mut times = Vec::new();
    for (k, job) in selected.iter().enumerate() {
        let t0 = Instant::now();
        eprintln!("mforacle: job {}/{}: {}", k + 1, selected.len(), job.id());
        let log = |m: &str| eprintln!("mforacle: {m}");
        recipes::run::run_job(&recipe, job, &out.join("runs").join(job.id()), &log)?;
        let secs = t0.elapsed().as_secs_f64();
        eprintln!("mforacle: job {} done in {secs:.1} s", job.id());
        times.push(JobTime {
            job: job.id().to_string(),
            seconds: secs,
        });
    }
    let timing = |total: f64| -> Result<String, CliError> {
        json(&serde_json::json!({
            "recipe": recipe.name,
            "wall_seconds": total,
            "threads": rayon::current_num_threads(),
            "jobs": times,
        }))
    };
    match shard {
        Some((i, n)) => {
            let doc = ShardDoc {
                format: FORMAT.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                recipe: recipe.clone(),
                shard: i,
                shards: n,
                jobs: selected.iter().map(|j| j.id().to_string()).collect(),
            };
            write(&out.join("shard.json"), &json(&doc)?)?;
            write(
                &out.join("timing.json"),
                &timing(started.elapsed().as_secs_f64())?,
            )?;
            eprintln!(
                "mforacle: shard {i}/{n} of {} written to {} in {:.1} s; join the shards with `mforacle merge DIR... --out OUT`",
                recipe.name,
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        None => {
            let figs = finish(&out, &recipe)?;
            let total = started.elapsed().as_secs_f64();
            write(&out.join("timing.json"), &timing(total)?)?;
            report(&out, &recipe, &figs, total);
        }
    }
    Ok(())
}

pub(crate) fn report(out: &Path, recipe: &Recipe, figs: &[Written], total: f64) {
    let drawn = figs.iter().filter(|f| f.svg.is_some()).count();
    eprintln!(
        "mforacle: {} done in {total:.1} s: {} figures ({} drawn as SVG and PNG), manifest {}",
        recipe.name,
        figs.len(),
        drawn,
        out.join("manifest.json").display()
    );
    if let Err(why) = figures::font() {
        eprintln!("mforacle: {why}");
    }
    println!("{}", out.display());
}

/// A CSV file as a header map and rows of fields.
struct Table {
    cols: BTreeMap<String, usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(p: &Path) -> Result<Table, CliError> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        let mut lines = text.lines();
        let head = lines
            .next()
            .ok_or_else(|| usage(format!("{}: empty", p.display())))?;
        let cols = head
            .split(',')
            .enumerate()
            .map(|(i, c)| (c.to_string(), i))
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(|s| s.to_string()).collect())
            .collect();
        Ok(Table { cols, rows })
    }
    fn col(&self, name: &str) -> Result<usize, CliError> {
        self.cols
            .get(name)
            .copied()
            .ok_or_else(|| usage(format!("column {name} missing")))
    }
    fn f(&self, row: &[String], name: &str) -> Result<f64, CliError> {
        let i = self.col(name)?;
        let s = row.get(i).map(|s| s.as_str()).unwrap_or("");
        if s.is_empty() {
            return Ok(f64::NAN);
        }
        s.parse()
            .map_err(|_| usage(format!("column {name}: `{s}` is not a number")))
    }
    fn s<'a>(&self, row: &'a [String], name: &str) -> Result<&'a str, CliError> {
        let i = self.col(name)?;
        Ok(row.get(i).map(|s| s.as_str()).unwrap_or(""))
    }
}

const T_LABEL: &str = "time t = steps · η (mean-field time)";

#[derive(serde::Serialize)]
struct Manifest<'a> {
    format: &'static str,
    recipe: &'a str,
    version: &'static str,
    seed: u64,
    reproduces: &'a str,
    differences: &'a str,
    conventions: BTreeMap<&'static str, &'static str>,
    parameters: &'a Recipe,
    jobs: Vec<JobDoc<'a>>,
    figures: &'a [Written],
    /// Why figures were not drawn (no font), or null.
    figures_note: Option<String>,
    timing: &'static str,
}

#[derive(serde::Serialize)]
struct JobDoc<'a> {
    #[serde(flatten)]
    job: &'a Job,
    files: Vec<String>,
}

/// Makes the figures and the manifest of `out` from the job files under `out/runs`.
pub(crate) fn finish(out: &Path, recipe: &Recipe) -> Result<Vec<Written>, CliError> {
    let jobs = recipe.jobs();
    let runs = out.join("runs");
    let mut docs = Vec::new();
    for job in &jobs {
        let dir = runs.join(job.id());
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| {
                usage(format!(
                    "job {}: cannot read {}: {e}",
                    job.id(),
                    dir.display()
                ))
            })?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(usage(format!(
                "job {}: no files in {}",
                job.id(),
                dir.display()
            )));
        }
        docs.push(JobDoc { job, files });
    }
    let mut figs = Vec::new();
    if let Some(t) = &recipe.train {
        for &d in &t.d {
            figs.extend(train_figures(out, recipe, d)?);
        }
    }
    if let Some(e) = &recipe.escape {
        figs.push(escape_figure(out, recipe, e)?);
    }
    if recipe.concordance.is_some() {
        figs.push(concordance_figure(out, recipe)?);
    }
    let written = figs
        .iter()
        .map(|f| figures::write(f, out).map_err(CliError::Failure))
        .collect::<Result<Vec<_>, _>>()?;
    let conventions = BTreeMap::from(crate::conventions::MANIFEST);
    let m = Manifest {
        format: FORMAT,
        recipe: &recipe.name,
        version: env!("CARGO_PKG_VERSION"),
        seed: recipe.seed,
        reproduces: &recipe.reproduces,
        differences: &recipe.differences,
        conventions,
        parameters: recipe,
        jobs: docs,
        figures: &written,
        figures_note: figures::font().err(),
        timing:
            "timing.json (elapsed time per job; differs between runs, so kept out of this file)",
    };
    write(&out.join("manifest.json"), &json(&m)?)?;
    Ok(written)
}

/// Mean over draws of column `col` per (width, step), as one series per width.
fn per_width(
    tables: &[Table],
    widths: &[usize],
    col: &str,
    label: &dyn Fn(usize) -> String,
) -> Result<Vec<Series>, CliError> {
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

fn train_figures(out: &Path, recipe: &Recipe, d: usize) -> Result<Vec<Figure>, CliError> {
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

fn escape_figure(
    out: &Path,
    recipe: &Recipe,
    e: &recipes::EscapeRecipe,
) -> Result<Figure, CliError> {
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

fn concordance_figure(out: &Path, recipe: &Recipe) -> Result<Figure, CliError> {
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
