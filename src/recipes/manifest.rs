//! The manifest of a recipe run (`manifest.json`: the recipe with overrides, the seed, the crate
//! version, the conventions, the jobs with their files, the figures) and of a shard
//! (`shard.json`), written after the jobs; [`finish`] also draws the figures
//! ([`super::figures`]).
//!
//! Contract: the manifest is a deterministic function of the recipe and the job files
//! (byte-identical across runs with the same seed); timings are kept out of it.

use super::figures::{concordance_figure, escape_figure, train_figures};
use super::{Job, Recipe};
use crate::conventions::{usage, Error};
use crate::figures::{self, Written};
use std::collections::BTreeMap;
use std::path::Path;

/// Format tag of manifest.json and shard.json.
pub const FORMAT: &str = "mforacle-reproduce/1";

#[derive(serde::Serialize, serde::Deserialize)]
pub struct ShardDoc {
    pub format: String,
    pub version: String,
    pub recipe: Recipe,
    pub shard: usize,
    pub shards: usize,
    pub jobs: Vec<String>,
}

/// Pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(x: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(x)
        .map(|s| s + "\n")
        .map_err(|e| Error::Failure(format!("JSON: {e}")))
}

/// Writes `p` atomically.
pub fn write(p: &Path, text: &str) -> Result<(), Error> {
    crate::output::write_atomic(p, text.as_bytes())
        .map_err(|e| Error::Failure(format!("cannot write {}: {e}", p.display())))
}

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
pub fn finish(out: &Path, recipe: &Recipe) -> Result<Vec<Written>, Error> {
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
    if let Some(t) = &recipe.two_timescale {
        figs.extend(super::two_timescale::figures(out, recipe, t)?);
    }
    if let Some(t) = &recipe.deep_rates {
        figs.extend(super::deep_rates::figures(out, recipe, t)?);
    }
    if let Some(t) = &recipe.dimension_free {
        figs.extend(super::dimension_free::figures(out, recipe, t)?);
    }
    if let Some(t) = &recipe.langevin {
        figs.extend(super::langevin::figures(out, recipe, t)?);
    }
    let written = figs
        .iter()
        .map(|f| figures::write(f, out).map_err(Error::Failure))
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
