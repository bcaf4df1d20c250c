//! `mforacle merge SHARD_DIR... --out DIR`: joins the outputs of `reproduce --shard i/n`.
//!
//! Checks that every shard comes from the same recipe (parameters included), crate version and
//! seed, with the same n, that the indices 0..n each appear exactly once and that every shard
//! holds the files of its jobs; copies `runs/<job>/` of every shard into `DIR/runs/`, then makes
//! the figures and the manifest exactly as an unsharded run does (from the job files alone),
//! so `DIR` has the same bytes as `reproduce` without `--shard` (except `timing.json`, which
//! here lists the shards' timings).

use super::reproduce::report;
use super::CliError;
use crate::recipes::manifest::{finish, ShardDoc, FORMAT};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shards' output directories (each with shard.json).
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The merged output directory.
    #[arg(long)]
    out: PathBuf,
}

use crate::conventions::usage;

fn read_shard(dir: &Path) -> Result<ShardDoc, CliError> {
    let p = dir.join("shard.json");
    let text = std::fs::read_to_string(&p).map_err(|e| {
        usage(format!(
            "{}: not a shard directory ({e}); shards are written by `reproduce --shard i/n`",
            p.display()
        ))
    })?;
    let doc: ShardDoc =
        serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?;
    if doc.format != FORMAT {
        return Err(usage(format!(
            "{}: format {} (expected {FORMAT})",
            p.display(),
            doc.format
        )));
    }
    Ok(doc)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(to)
        .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", to.display())))?;
    let mut names: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| usage(format!("cannot read {}: {e}", from.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.file_name())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(usage(format!("{}: no job files", from.display())));
    }
    for n in names {
        let bytes = std::fs::read(from.join(&n))
            .map_err(|e| usage(format!("cannot read {}: {e}", from.join(&n).display())))?;
        crate::output::write_atomic(&to.join(&n), &bytes).map_err(|e| {
            CliError::Failure(format!("cannot write {}: {e}", to.join(&n).display()))
        })?;
    }
    Ok(())
}

pub fn run(args: Args) -> Result<(), CliError> {
    let started = Instant::now();
    let docs = args
        .shards
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &docs[0];
    for (d, doc) in args.shards.iter().zip(&docs).skip(1) {
        if doc.version != first.version {
            return Err(usage(format!(
                "{}: crate version {} differs from {} of {}",
                d.display(),
                doc.version,
                first.version,
                args.shards[0].display()
            )));
        }
        if doc.recipe != first.recipe {
            return Err(usage(format!(
                "{}: recipe or parameters differ from those of {} (recipe {} seed {} against {} seed {})",
                d.display(),
                args.shards[0].display(),
                doc.recipe.name,
                doc.recipe.seed,
                first.recipe.name,
                first.recipe.seed
            )));
        }
        if doc.shards != first.shards {
            return Err(usage(format!(
                "{}: split into {} shards, {} into {}",
                d.display(),
                doc.shards,
                args.shards[0].display(),
                first.shards
            )));
        }
    }
    if first.version != env!("CARGO_PKG_VERSION") {
        return Err(usage(format!(
            "shards were written by mforacle {}, this is {}",
            first.version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let n = first.shards;
    let mut seen: Vec<Option<usize>> = vec![None; n];
    for (k, doc) in docs.iter().enumerate() {
        if doc.shard >= n {
            return Err(usage(format!("shard index {} out of 0..{n}", doc.shard)));
        }
        if let Some(j) = seen[doc.shard] {
            return Err(usage(format!(
                "shard {}/{n} given twice ({} and {})",
                doc.shard,
                args.shards[j].display(),
                args.shards[k].display()
            )));
        }
        seen[doc.shard] = Some(k);
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| seen[*i].is_none())
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!("missing shards: {}", missing.join(", "))));
    }
    let recipe = first.recipe.clone();
    recipe.validate().map_err(usage)?;
    for (j, job) in recipe.jobs().iter().enumerate() {
        let k = seen[j % n].expect("checked");
        if !docs[k].jobs.iter().any(|x| x == job.id()) {
            return Err(usage(format!(
                "{}: job {} missing from shard.json",
                args.shards[k].display(),
                job.id()
            )));
        }
        let from = args.shards[k].join("runs").join(job.id());
        let to = args.out.join("runs").join(job.id());
        if from != to {
            copy_dir(&from, &to)?;
        }
    }
    let figs = finish(&args.out, &recipe)?;
    let mut timings = Vec::new();
    for d in &args.shards {
        if let Ok(t) = std::fs::read_to_string(d.join("timing.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
                timings.push(v);
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    let timing = serde_json::json!({
        "recipe": recipe.name,
        "merge_wall_seconds": total,
        "shards": timings,
    });
    let text = serde_json::to_string_pretty(&timing)
        .map_err(|e| CliError::Failure(format!("JSON: {e}")))?;
    super::emit(&(text + "\n"), Some(&args.out.join("timing.json")))?;
    report(&args.out, &recipe, &figs, total);
    Ok(())
}
