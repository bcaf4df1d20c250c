//! # Recipes: the primary paper's experiments as data
//!
//! A recipe is a TOML document (the built-in ones live in `recipes/*.toml` at the crate root
//! and are embedded in the binary; `mforacle reproduce --recipe-file PATH` loads another) with
//! a name, what it reproduces, how it differs from the paper's code, a seed, and exactly one
//! of three experiment tables:
//! - `[train]`: finite-width projected GD on the exact population loss with coupled ideal
//!   particles ([`crate::dynamics`]) for every d and draw, plus the exact mean-field flow per d
//!   ([`crate::meanfield::flow`]) for the loss curve and the overlap trajectories;
//! - `[escape]`: escape times of tracked particles of the exact flow against the asymptotic
//!   formula of docs/conventions.md §6;
//! - `[concordance]`: the self-concordance constants of docs/conventions.md §5 per d
//!   ([`crate::hessian::concordance_flow`]).
//!
//! A recipe expands to a deterministic list of independent [`Job`]s ([`Recipe::jobs`]); a
//! train job is one (d, draw), run as `Config { draws: 1, seed: seed + draw }`, so draw r of a
//! recipe is exactly `mforacle train … --seed S+r --draws 1`, and jobs can run in any order or
//! on any machine (`--shard i/n`). Each job writes its files under `runs/<job id>/`
//! ([`run`]); the figures and the manifest are then made from those files alone
//! ([`crate::figures`], `cli::reproduce`), so a merged sharded run gives the same bytes as an
//! unsharded one. Notes: `proofs-notes/recipes.md`; tests: `tests/reproduce.rs`.

pub mod deep_rates;
pub mod dimension_free;
pub mod figures;
pub mod fit;
pub mod langevin;
pub mod manifest;
pub mod run;
pub mod table;
pub mod two_timescale;

use serde::{Deserialize, Serialize};

/// The built-in recipes: (name, TOML text). The first is the default of `reproduce`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "poc-he4-d32-quick",
        include_str!("../../recipes/poc-he4-d32-quick.toml"),
    ),
    (
        "poc-he4-d32",
        include_str!("../../recipes/poc-he4-d32.toml"),
    ),
    ("sweep-d", include_str!("../../recipes/sweep-d.toml")),
    (
        "misspecified",
        include_str!("../../recipes/misspecified.toml"),
    ),
    ("ge4", include_str!("../../recipes/ge4.toml")),
    (
        "escape-times",
        include_str!("../../recipes/escape-times.toml"),
    ),
    (
        "concordance",
        include_str!("../../recipes/concordance.toml"),
    ),
    (
        "two-timescale-quick",
        include_str!("../../recipes/two-timescale-quick.toml"),
    ),
    (
        "two-timescale-sec6",
        include_str!("../../recipes/two-timescale-sec6.toml"),
    ),
    (
        "deep-rates-quick",
        include_str!("../../recipes/deep-rates-quick.toml"),
    ),
    ("deep-rates", include_str!("../../recipes/deep-rates.toml")),
    (
        "dimension-free-quick",
        include_str!("../../recipes/dimension-free-quick.toml"),
    ),
    (
        "dimension-free",
        include_str!("../../recipes/dimension-free.toml"),
    ),
    ("langevin", include_str!("../../recipes/langevin.toml")),
];

/// The name of the default recipe.
pub const DEFAULT: &str = "poc-he4-d32-quick";

/// A recipe, as parsed from TOML (unknown keys are refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    /// The figure of the paper it reproduces.
    pub reproduces: String,
    /// What differs from the paper's code.
    pub differences: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<EscapeRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concordance: Option<ConcordanceRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_timescale: Option<two_timescale::TwoTimescaleRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_rates: Option<deep_rates::DeepRatesRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_free: Option<dimension_free::DimensionFreeRecipe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub langevin: Option<langevin::LangevinRecipe>,
}

fn default_eta() -> f64 {
    0.01
}
fn default_ten() -> usize {
    10
}
fn default_hundred() -> usize {
    100
}
fn default_update() -> String {
    "euclidean".into()
}
fn default_init() -> String {
    "uniform".into()
}
fn default_panels() -> usize {
    200
}
fn default_rtol() -> f64 {
    1e-10
}
fn default_degree() -> usize {
    60
}
fn default_dt_out() -> f64 {
    0.1
}

/// `[train]`: widths nested in one draw, per d and draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRecipe {
    pub student: String,
    /// Default: the student.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    pub d: Vec<usize>,
    pub widths: Vec<usize>,
    pub draws: usize,
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Horizon; when absent, the default max(ln d, 0.5·d^{k/2−1}) with k =
    /// `information_exponent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_end: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub information_exponent: Option<usize>,
    #[serde(default = "default_ten")]
    pub record_every: usize,
    #[serde(default = "default_hundred")]
    pub histogram_every: usize,
    #[serde(default = "default_update")]
    pub update: String,
    #[serde(default = "default_init")]
    pub init: String,
    #[serde(default = "default_panels")]
    pub panels: usize,
    #[serde(default = "default_rtol")]
    pub rtol: f64,
    #[serde(default = "default_degree")]
    pub degree: usize,
    /// Overlap trajectories of the mean-field flow from α_0 = c/√d for each c.
    #[serde(default)]
    pub track_sqrt_d: Vec<f64>,
    /// Output step of the mean-field curve.
    #[serde(default = "default_dt_out")]
    pub dt_out: f64,
}

/// `[escape]`: escape times of particles at α_0 = c/√d until |α| ≥ threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscapeRecipe {
    pub students: Vec<String>,
    pub d: Vec<usize>,
    pub alpha0_sqrt_d: Vec<f64>,
    pub threshold: f64,
    #[serde(default = "default_panels")]
    pub panels: usize,
    #[serde(default = "default_degree")]
    pub degree: usize,
}

/// `[concordance]`: the constants of docs/conventions.md §5 per d.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcordanceRecipe {
    pub student: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    pub d: Vec<usize>,
    pub information_exponent: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_end: Option<f64>,
    pub particles: usize,
    pub panels: usize,
    pub dt: f64,
    pub alpha_cut: f64,
    #[serde(default = "default_degree")]
    pub degree: usize,
}

/// One independent unit of work of a recipe.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// The exact mean-field flow of a train recipe at dimension d.
    Meanfield {
        id: String,
        d: usize,
    },
    /// Draw `draw` of a train recipe at dimension d.
    Train {
        id: String,
        d: usize,
        draw: usize,
    },
    /// Escape times of one student over every d.
    Escape {
        id: String,
        student: String,
    },
    /// The concordance constants at dimension d.
    Concordance {
        id: String,
        d: usize,
    },
    TwoTimescale {
        id: String,
        seed: u64,
    },
    /// Draw `draw` of a deep-rates recipe at (L, d), every width.
    DeepRates {
        id: String,
        layers: usize,
        d: usize,
        draw: usize,
    },
    /// Draw `draw` of a dimension-free recipe at dimension d.
    DimensionFree {
        id: String,
        d: usize,
        draw: usize,
    },
    /// The reduced Langevin flow and p* at β = beta[beta] of a langevin recipe.
    LangevinFlow {
        id: String,
        beta: usize,
    },
    /// Draw `draw` of the noisy runs at β = beta[beta], every width.
    LangevinNoisy {
        id: String,
        beta: usize,
        draw: usize,
    },
}

impl Job {
    pub fn id(&self) -> &str {
        match self {
            Job::Meanfield { id, .. }
            | Job::Train { id, .. }
            | Job::Escape { id, .. }
            | Job::Concordance { id, .. }
            | Job::TwoTimescale { id, .. }
            | Job::DeepRates { id, .. }
            | Job::DimensionFree { id, .. }
            | Job::LangevinFlow { id, .. }
            | Job::LangevinNoisy { id, .. } => id,
        }
    }
}

pub use crate::conventions::default_horizon;

/// The known recipe names, comma separated (for error messages).
pub fn known() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in recipe `name`: its TOML text, or an error listing the known ones.
pub fn builtin_text(name: &str) -> Result<&'static str, String> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("unknown recipe `{name}` (known recipes: {})", known()))
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl Recipe {
    /// Parses and validates a recipe.
    pub fn parse(text: &str) -> Result<Recipe, String> {
        let r: Recipe = toml::from_str(text).map_err(|e| {
            let msg = e.to_string();
            format!(
                "recipe: {}",
                msg.lines()
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })?;
        r.validate()?;
        Ok(r)
    }

    /// Checks the ranges (the specs are checked when the jobs build their models).
    pub fn validate(&self) -> Result<(), String> {
        let n = [
            self.train.is_some(),
            self.escape.is_some(),
            self.concordance.is_some(),
            self.two_timescale.is_some(),
            self.deep_rates.is_some(),
            self.dimension_free.is_some(),
            self.langevin.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if n != 1 {
            return Err(format!(
                "recipe `{}`: exactly one of [train], [escape], [concordance], [two_timescale], [deep_rates], [dimension_free], [langevin] is needed (found {n})",
                self.name
            ));
        }
        // names are directory names
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "recipe name `{}`: use letters, digits and '-'",
                self.name
            ));
        }
        let dims = |ds: &[usize]| -> Result<(), String> {
            if ds.is_empty() || ds.iter().any(|&d| d < 3) {
                return Err("d: a nonempty list of dimensions >= 3 is needed".into());
            }
            if ds.windows(2).any(|w| w[1] <= w[0]) {
                return Err("d: must be strictly increasing".into());
            }
            Ok(())
        };
        let pos = |name: &str, x: f64| -> Result<(), String> {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} = {x}: must be a positive finite number"))
            }
        };
        if let Some(t) = &self.train {
            dims(&t.d)?;
            if t.draws == 0 {
                return Err("draws: at least 1".into());
            }
            pos("eta", t.eta)?;
            pos("dt_out", t.dt_out)?;
            match (t.t_end, t.information_exponent) {
                (Some(x), _) => pos("t_end", x)?,
                (None, Some(k)) if k >= 1 => {}
                _ => {
                    return Err(
                        "train: give t_end, or information_exponent (>= 1) for the default horizon"
                            .into(),
                    )
                }
            }
            if let Some(c) = t.track_sqrt_d.iter().find(|c| !c.is_finite()) {
                return Err(format!("track_sqrt_d: {c} is not finite"));
            }
        }
        if let Some(e) = &self.escape {
            dims(&e.d)?;
            if e.students.is_empty() || e.alpha0_sqrt_d.is_empty() {
                return Err("escape: students and alpha0_sqrt_d must be nonempty".into());
            }
            for &c in &e.alpha0_sqrt_d {
                pos("alpha0_sqrt_d", c)?;
            }
            if !(e.threshold > 0.0 && e.threshold < 1.0) {
                return Err(format!("threshold = {}: must be in (0, 1)", e.threshold));
            }
        }
        if let Some(t) = &self.dimension_free {
            dims(&t.d)?;
            if t.widths.windows(2).any(|w| w[1] <= w[0]) || t.widths.first() == Some(&0) {
                return Err("widths: must be strictly increasing and positive".into());
            }
            pos("eta", t.eta)?;
            pos("t_end", t.t_end)?;
        }
        if let Some(c) = &self.concordance {
            dims(&c.d)?;
            pos("dt", c.dt)?;
            if let Some(t) = c.t_end {
                pos("t_end", t)?;
            }
            if c.particles == 0 || c.panels == 0 {
                return Err("particles and panels must be at least 1".into());
            }
            if !(c.alpha_cut > 0.0 && c.alpha_cut < 1.0) {
                return Err(format!("alpha_cut = {}: must be in (0, 1)", c.alpha_cut));
            }
        }
        Ok(())
    }

    /// The kind of experiment: "train", "escape" or "concordance".
    pub fn kind(&self) -> &'static str {
        if self.train.is_some() {
            "train"
        } else if self.escape.is_some() {
            "escape"
        } else if self.two_timescale.is_some() {
            "two_timescale"
        } else if self.deep_rates.is_some() {
            "deep_rates"
        } else if self.dimension_free.is_some() {
            "dimension_free"
        } else if self.langevin.is_some() {
            "langevin"
        } else {
            "concordance"
        }
    }

    /// The horizon of a train recipe at dimension d.
    pub fn train_horizon(t: &TrainRecipe, d: usize) -> f64 {
        t.t_end
            .unwrap_or_else(|| default_horizon(d, t.information_exponent.unwrap_or(1)))
    }

    /// The independent jobs, in their canonical order (job j belongs to shard j mod n).
    pub fn jobs(&self) -> Vec<Job> {
        let mut out = Vec::new();
        if let Some(t) = &self.train {
            for &d in &t.d {
                out.push(Job::Meanfield {
                    id: format!("mf-d{d}"),
                    d,
                });
                for r in 0..t.draws {
                    out.push(Job::Train {
                        id: format!("train-d{d}-r{r}"),
                        d,
                        draw: r,
                    });
                }
            }
        }
        if let Some(e) = &self.escape {
            for s in &e.students {
                out.push(Job::Escape {
                    id: format!("escape-{}", sanitize(s)),
                    student: s.clone(),
                });
            }
        }
        if let Some(t) = &self.two_timescale {
            out.extend(t.jobs(self.seed));
        }
        if let Some(t) = &self.deep_rates {
            out.extend(t.jobs());
        }
        if let Some(t) = &self.dimension_free {
            out.extend(t.jobs());
        }
        if let Some(t) = &self.langevin {
            out.extend(t.jobs());
        }
        if let Some(c) = &self.concordance {
            for &d in &c.d {
                out.push(Job::Concordance {
                    id: format!("concordance-d{d}"),
                    d,
                });
            }
        }
        out
    }
}
