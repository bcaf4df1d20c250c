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
use crate::figures::{self, Written};
use crate::recipes::manifest::{finish, json, write, ShardDoc, FORMAT};
use crate::recipes::{self, Job, Recipe};
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
#[derive(serde::Serialize)]
struct JobTime {
    job: String,
    seconds: f64,
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
