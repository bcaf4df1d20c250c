//! Running one [`Job`] of a [`Recipe`]: every file goes to `dir = runs/<job id>/`, written
//! atomically, numbers in Rust's shortest round-trip form (`{:e}`), so the same job gives the
//! same bytes on every run and in every shard.
//!
//! Files per job kind:
//! - train: `train.csv` ([`crate::dynamics::Row`], `draw` = the recipe's draw), `histograms.csv`
//!   ([`crate::dynamics::HistRow`]), `run.json` (the [`Config`] and the kernels' series degree);
//! - meanfield: `meanfield.csv` (`t,loss,risk,alpha_mean_abs,escaped_fraction,q05,…,q95` of the
//!   exact flow every `dt_out`), `trajectories.csv` (`t,c,alpha0,alpha`, α_0 = c/√d);
//! - escape: `escape.csv` (`student,k,d,c,alpha0,threshold,t_flow,t_formula,ratio`);
//! - concordance: `concordance.csv` (one row of `mforacle concordance --format csv`'s schema,
//!   [`crate::concordance::csv`], without its timing column).

use super::{default_horizon, Job, Recipe};
use crate::activation::Spec;
use crate::dynamics::{Config, HistRow, Row, Run};
use crate::meanfield::flow::{Flow, Layout, SummarySpec, Tolerance};
use crate::meanfield::Model;
use crate::population::LossScale;
use std::path::Path;
use std::time::Instant;

/// Why a job failed: `Usage` (bad recipe: exit 2) or `Failure` (exit 1).
pub use crate::conventions::Error as RecipeError;
use crate::conventions::{failure, usage};

/// Digits of the coefficient tables behind the kernels (as `train`).
const DIGITS: u32 = 25;

fn write(dir: &Path, name: &str, text: &str) -> Result<(), RecipeError> {
    let p = dir.join(name);
    crate::output::write_atomic(&p, text.as_bytes())
        .map_err(|e| failure(format!("cannot write {}: {e}", p.display())))
}

fn model(student: &str, teacher: &str, d: usize, degree: usize) -> Result<Model, RecipeError> {
    let s = Spec::parse(student).map_err(|e| usage(format!("student `{student}`: {e}")))?;
    let t = Spec::parse(teacher).map_err(|e| usage(format!("teacher `{teacher}`: {e}")))?;
    Model::new(&s, &t, d, degree, DIGITS, LossScale::Full, 0.0)
        .map_err(|e| usage(format!("d = {d}: {e}")))
}

/// The training configuration of draw `draw` at dimension `d` (seed = recipe seed + draw).
pub fn train_config(recipe: &Recipe, d: usize, draw: usize) -> Option<Config> {
    let t = recipe.train.as_ref()?;
    Some(Config {
        student: t.student.clone(),
        teacher: t.teacher.clone().unwrap_or_else(|| t.student.clone()),
        d,
        widths: t.widths.clone(),
        eta: t.eta,
        t_end: Recipe::train_horizon(t, d),
        draws: 1,
        seed: recipe.seed.wrapping_add(draw as u64),
        update: t.update.clone(),
        loss_scale: "full".into(),
        noise_variance: 0.0,
        degree: t.degree,
        record_every: t.record_every,
        histogram_every: t.histogram_every,
        panels: t.panels,
        rtol: t.rtol,
        init: t.init.clone(),
    })
}

/// Checks everything a job needs before any job runs: the train configurations and the specs.
pub fn check(recipe: &Recipe) -> Result<(), RecipeError> {
    if let Some(t) = &recipe.train {
        for &d in &t.d {
            let c = train_config(recipe, d, 0).expect("train recipe");
            c.validate()?;
        }
    }
    let parse = |s: &str| {
        Spec::parse(s)
            .map(|_| ())
            .map_err(|e| usage(format!("`{s}`: {e}")))
    };
    if let Some(e) = &recipe.escape {
        for s in &e.students {
            parse(s)?;
        }
    }
    if let Some(c) = &recipe.concordance {
        parse(&c.student)?;
        if let Some(t) = &c.teacher {
            parse(t)?;
        }
    }
    if let Some(t) = &recipe.two_timescale {
        t.config()?;
    }
    if let Some(t) = &recipe.deep_rates {
        t.validate()?;
    }
    if let Some(t) = &recipe.dimension_free {
        t.check(recipe.seed)?;
    }
    if let Some(t) = &recipe.langevin {
        t.check(recipe.seed)?;
    }
    Ok(())
}

/// Runs `job` and writes its files into `dir` (created). `log` receives progress lines.
pub fn run_job(
    recipe: &Recipe,
    job: &Job,
    dir: &Path,
    log: &dyn Fn(&str),
) -> Result<(), RecipeError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create {}: {e}", dir.display())))?;
    match job {
        Job::Train { d, draw, .. } => train_job(recipe, *d, *draw, dir, log),
        Job::Meanfield { d, .. } => meanfield_job(recipe, *d, dir),
        Job::Escape { student, .. } => escape_job(recipe, student, dir),
        Job::Concordance { d, .. } => concordance_job(recipe, *d, dir),
        Job::DimensionFree { d, draw, .. } => {
            super::dimension_free::run_job(recipe, *d, *draw, dir, log)
        }
        Job::LangevinFlow { beta, .. } => {
            super::langevin::run_flow_job(recipe.langevin.as_ref().expect("kind"), *beta, dir)
        }
        Job::LangevinNoisy { beta, draw, .. } => super::langevin::run_noisy_job(
            recipe.langevin.as_ref().expect("kind"),
            recipe.seed,
            *beta,
            *draw,
            dir,
        ),
        Job::TwoTimescale { seed, .. } => {
            super::two_timescale::run_job(recipe.two_timescale.as_ref().expect("kind"), *seed, dir)
        }
        Job::DeepRates {
            layers, d, draw, ..
        } => super::deep_rates::run_job(
            recipe.deep_rates.as_ref().expect("kind"),
            recipe.seed,
            *layers,
            *d,
            *draw,
            dir,
        ),
    }
}

#[derive(serde::Serialize)]
struct TrainDoc<'a> {
    command: &'static str,
    version: &'static str,
    draw: usize,
    config: &'a Config,
    steps: usize,
    series_degree: usize,
    kernels_exact: bool,
}

fn train_job(
    recipe: &Recipe,
    d: usize,
    draw: usize,
    dir: &Path,
    log: &dyn Fn(&str),
) -> Result<(), RecipeError> {
    let config = train_config(recipe, d, draw).ok_or_else(|| usage("not a train recipe"))?;
    train_files(config, draw, dir, log)
}

/// Runs one training configuration (`draws = 1`) and writes `train.csv`, `histograms.csv`
/// and `run.json` into `dir`, with `draw` as the draw column (shared by the train and
/// dimension-free recipe kinds).
pub fn train_files(
    config: Config,
    draw: usize,
    dir: &Path,
    log: &dyn Fn(&str),
) -> Result<(), RecipeError> {
    let run = Run::new(config)?;
    let mut state = run.start()?;
    let steps = run.config.steps();
    let started = Instant::now();
    let mut next_report = 0.1;
    while state.step <= steps {
        run.advance(&mut state)?;
        let frac = state.step as f64 / (steps + 1) as f64;
        if frac >= next_report && state.step <= steps {
            let el = started.elapsed().as_secs_f64();
            log(&format!(
                "  step {}/{steps} ({:.0}%), {el:.0} s, about {:.0} s left",
                state.step,
                100.0 * frac,
                el * (1.0 - frac) / frac
            ));
            next_report += 0.1;
        }
    }
    let mut csv = String::from(Row::HEADER);
    csv.push('\n');
    for r in &state.rows {
        let mut r = r.clone();
        r.draw = draw;
        csv.push_str(&r.csv());
        csv.push('\n');
    }
    let mut hist = String::from(HistRow::HEADER);
    hist.push('\n');
    for r in &state.hist {
        let mut r = r.clone();
        r.draw = draw;
        hist.push_str(&r.csv());
        hist.push('\n');
    }
    let doc = TrainDoc {
        command: "reproduce",
        version: env!("CARGO_PKG_VERSION"),
        draw,
        config: &run.config,
        steps,
        series_degree: run.model.degree,
        kernels_exact: run.model.exact,
    };
    let json = serde_json::to_string_pretty(&doc).map_err(|e| failure(format!("JSON: {e}")))?;
    write(dir, "train.csv", &csv)?;
    write(dir, "histograms.csv", &hist)?;
    write(dir, "run.json", &(json + "\n"))
}

/// Output times k·dt (k ≥ 0) up to t_end, and t_end itself.
fn grid(t_end: f64, dt: f64) -> Vec<f64> {
    let n = (t_end / dt + 1e-9).floor() as usize;
    let mut ts: Vec<f64> = (0..=n).map(|k| k as f64 * dt).collect();
    if ts
        .last()
        .is_some_and(|&t| t_end - t > 1e-9 * t_end.max(1.0))
    {
        ts.push(t_end);
    }
    ts
}

fn meanfield_job(recipe: &Recipe, d: usize, dir: &Path) -> Result<(), RecipeError> {
    let t = recipe
        .train
        .as_ref()
        .ok_or_else(|| usage("not a train recipe"))?;
    let teacher = t.teacher.clone().unwrap_or_else(|| t.student.clone());
    let m = model(&t.student, &teacher, d, t.degree)?;
    let layout = Layout {
        panels: t.panels,
        ..Layout::default()
    };
    let mut flow =
        Flow::new(&m, layout, Tolerance::new(t.rtol)).map_err(|e| usage(e.to_string()))?;
    let alpha0: Vec<f64> = t
        .track_sqrt_d
        .iter()
        .map(|c| (c / (d as f64).sqrt()).clamp(-1.0, 1.0))
        .collect();
    flow.add_test_particles(&alpha0)
        .map_err(|e| usage(e.to_string()))?;
    let spec = SummarySpec::default();
    let mut csv = String::from("t,loss,risk,alpha_mean_abs,escaped_fraction,q05,q25,q50,q75,q95\n");
    let mut traj = String::from("t,c,alpha0,alpha\n");
    for time in grid(Recipe::train_horizon(t, d), t.dt_out) {
        flow.advance_to(time).map_err(|e| failure(e.to_string()))?;
        let s = flow.snapshot(&spec);
        csv.push_str(&format!(
            "{:e},{:e},{:e},{:e},{:e}",
            time, s.loss, s.risk, s.alpha_mean_abs, s.escaped_fraction
        ));
        for (_, q) in &s.quantiles {
            csv.push_str(&format!(",{q:e}"));
        }
        csv.push('\n');
        for ((c, a0), a) in t.track_sqrt_d.iter().zip(&alpha0).zip(flow.test_alpha()) {
            traj.push_str(&format!("{time:e},{c:e},{a0:e},{a:e}\n"));
        }
    }
    write(dir, "meanfield.csv", &csv)?;
    write(dir, "trajectories.csv", &traj)
}

/// The information exponent of ψ = Σ c_k c*_k s^k (first k ≥ 1 with a nonzero coefficient)
/// and that coefficient.
fn leading(psi: &[f64]) -> Option<(usize, f64)> {
    psi.iter()
        .enumerate()
        .skip(1)
        .find(|(_, c)| c.abs() > 1e-300)
        .map(|(k, &c)| (k, c))
}

/// The escape time from α_0 to α_1 of dα/dt = 2·scale·k·c·α^{k−1} (docs/conventions.md §6): the
/// interaction-free, small-α approximation.
pub fn escape_formula(k: usize, c: f64, scale: f64, alpha0: f64, alpha1: f64) -> f64 {
    let rate = 2.0 * scale * c;
    match k {
        1 => (alpha1 - alpha0) / rate,
        2 => (alpha1 / alpha0).ln() / (2.0 * rate),
        _ => {
            let p = (k - 2) as f64;
            (alpha0.powf(-p) - alpha1.powf(-p)) / (rate * k as f64 * p)
        }
    }
}

fn escape_job(recipe: &Recipe, student: &str, dir: &Path) -> Result<(), RecipeError> {
    let e = recipe
        .escape
        .as_ref()
        .ok_or_else(|| usage("not an escape recipe"))?;
    let mut csv = String::from("student,k,d,c,alpha0,threshold,t_flow,t_formula,ratio\n");
    for &d in &e.d {
        let m = model(student, student, d, e.degree)?;
        let psi = m.psi.to_f64();
        let (k, ck) = leading(&psi)
            .ok_or_else(|| usage(format!("`{student}`: no nonzero c_k c*_k with k >= 1")))?;
        let layout = Layout {
            panels: e.panels,
            ..Layout::default()
        };
        let mut flow =
            Flow::new(&m, layout, Tolerance::default()).map_err(|x| usage(x.to_string()))?;
        let alpha0: Vec<f64> = e
            .alpha0_sqrt_d
            .iter()
            .map(|c| (c / (d as f64).sqrt()).min(1.0))
            .collect();
        flow.add_test_particles(&alpha0)
            .map_err(|x| usage(x.to_string()))?;
        flow.set_escape_threshold(e.threshold)
            .map_err(|x| usage(x.to_string()))?;
        let formula: Vec<f64> = alpha0
            .iter()
            .map(|&a| escape_formula(k, ck, m.scale(), a, e.threshold))
            .collect();
        let cap = 100.0 * formula.iter().cloned().fold(1.0, f64::max);
        let mut target = 1.0f64;
        while flow.escape_times().iter().any(|x| x.is_none()) && flow.time() < cap {
            target = (target * 1.5).min(cap);
            flow.advance_to(target)
                .map_err(|x| failure(x.to_string()))?;
        }
        for (i, (&c, &a0)) in e.alpha0_sqrt_d.iter().zip(&alpha0).enumerate() {
            let tf = flow.escape_times()[i];
            let (tf_s, ratio) = match tf {
                Some(x) if formula[i] > 0.0 => (format!("{x:e}"), format!("{:e}", x / formula[i])),
                Some(x) => (format!("{x:e}"), String::new()),
                None => (String::new(), String::new()),
            };
            csv.push_str(&format!(
                "{student},{k},{d},{c:e},{a0:e},{:e},{tf_s},{:e},{ratio}\n",
                e.threshold, formula[i]
            ));
        }
    }
    write(dir, "escape.csv", &csv)
}

fn concordance_job(recipe: &Recipe, d: usize, dir: &Path) -> Result<(), RecipeError> {
    let c = recipe
        .concordance
        .as_ref()
        .ok_or_else(|| usage("not a concordance recipe"))?;
    let teacher = c.teacher.clone().unwrap_or_else(|| c.student.clone());
    let m = model(&c.student, &teacher, d, c.degree)?;
    let t_end = c
        .t_end
        .unwrap_or_else(|| default_horizon(d, c.information_exponent));
    let layout = Layout {
        panels: c.panels,
        ..Layout::default()
    };
    let s = crate::hessian::concordance_flow(
        &m,
        layout,
        Tolerance::new(1e-10),
        t_end,
        c.particles,
        c.alpha_cut,
        c.dt,
    )
    .map_err(|e| failure(format!("d = {d}: {e}")))?;
    // The command's row and schema (`crate::concordance`), without the timing column.
    let row = crate::concordance::PerD::new(d, s.t_end, &s, c.alpha_cut, None, 0.0)?;
    write(
        dir,
        "concordance.csv",
        &crate::concordance::csv(&[row], false),
    )
}
