//! `mforacle two-timescale eval --input FILE [--lambda L] [--lambda-a A] [--lambda-w W]
//!  [--eta E] [--sigma-tilde S] [--oracle --digits D] [--format json] [--out FILE]`
//!
//! The input is JSON `{"x": [[..d..] × n], "y": [n], "w": [[..d+1..] × m],
//! "x_test": [[..d..]] (optional), "f_star": {"kind": "product", "indices": [0, 1]} or
//! {"kind": "y"} (optional; default x_0·x_1), "eps": [n] (optional label-noise draw),
//! "xi": [[..d+1..] × m] (optional Langevin draw)}`. The loss carries the paper's ½ (printed as
//! `loss_scale: "half"`). Conventions and formulas: `proofs-notes/two-timescale.md`.

use super::{emit, CliError};
use crate::output::render_with_bound;
use crate::two_timescale::eval::{evaluate, Evaluation, Step};
use crate::two_timescale::oracle::{self, Field, Shape};
use crate::two_timescale::{Input, Params, ParamsF64, Target};
use clap::{Subcommand, ValueEnum};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Sub {
    /// Objective, readout, diagnostics, first variation and drifts of the two-timescale
    /// (kernel-ridge readout) mean-field model on given data and particles, with the state
    /// after one GD, Langevin and label-noise step.
    Eval(EvalArgs),
    /// Train the first layer by the discretised two-timescale mean-field Langevin dynamics on
    /// sampled data (readout recomputed exactly every step), for several σ, σ̃ and seeds with
    /// paired draws; writes curves.csv and run.json to --out.
    Train(TrainArgs),
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Output directory (created if missing): curves.csv and run.json, each written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Input dimension d.
    #[arg(long, default_value_t = 15)]
    pub d: usize,
    /// Training samples n.
    #[arg(long, default_value_t = 256)]
    pub n: usize,
    /// Test points (clean targets) for test_mse and align_test.
    #[arg(long = "n-test", default_value_t = 512)]
    pub n_test: usize,
    /// Particles m.
    #[arg(long, default_value_t = 512)]
    pub m: usize,
    /// Iterations.
    #[arg(long, default_value_t = 3000)]
    pub iters: usize,
    /// Log the diagnostics every this many iterations (and at 0 and the last).
    #[arg(long = "log-every", default_value_t = 50)]
    pub log_every: usize,
    /// Label-noise levels σ of the data, comma-separated (y = f° + Unif[−σ, σ]); runs without
    /// label noise.
    #[arg(long, default_value = "0,1,2")]
    pub sigma: String,
    /// Label-noise levels σ̃ of the training procedure, comma-separated; each σ̃ > 0 is run at
    /// σ = --label-noise-sigma.
    #[arg(long = "label-noise", default_value = "")]
    pub label_noise: String,
    /// The data noise σ of the label-noise runs.
    #[arg(long = "label-noise-sigma", default_value_t = 2.0)]
    pub label_noise_sigma: f64,
    /// Seeds, comma-separated.
    #[arg(long, default_value = "0")]
    pub seeds: String,
    /// Initial particles: `prior` (N(0, I/λ_w)) or `sd=S` (N(0, S² I)).
    #[arg(long, default_value = "sd=0.25")]
    pub init: String,
    /// f°(x) = product of these coordinates (0-based), comma-separated.
    #[arg(long, default_value = "0,1")]
    pub target: String,
    /// λ (exact decimal; λ̄_a = λλ_a, λ̄_w = λλ_w).
    #[arg(long, default_value = "0.004", allow_hyphen_values = true)]
    pub lambda: String,
    #[arg(long = "lambda-a", default_value = "0.25", allow_hyphen_values = true)]
    pub lambda_a: String,
    #[arg(long = "lambda-w", default_value = "0.25", allow_hyphen_values = true)]
    pub lambda_w: String,
    /// Step size η.
    #[arg(long, default_value = "0.2", allow_hyphen_values = true)]
    pub eta: String,
    /// JSON `{"xi": [iters][m][d+1], "eps": [iters][n] (optional)}`: the Langevin draws ξ and
    /// the label-noise draws ε̃ (used as given in runs with σ̃ > 0) instead of the seed's.
    #[arg(long)]
    pub draws: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// JSON file with x, y, w (and optionally x_test, f_star, eps, xi).
    #[arg(long)]
    pub input: PathBuf,
    /// λ, the overall regularisation (exact decimal; λ̄_a = λλ_a, λ̄_w = λλ_w).
    #[arg(long, default_value = "0.004", allow_hyphen_values = true)]
    pub lambda: String,
    /// λ_a (second-layer weight decay, relative to λ).
    #[arg(long = "lambda-a", default_value = "0.25", allow_hyphen_values = true)]
    pub lambda_a: String,
    /// λ_w (first-layer weight decay, relative to λ).
    #[arg(long = "lambda-w", default_value = "0.25", allow_hyphen_values = true)]
    pub lambda_w: String,
    /// Step size η of the particle updates (w ← w − η∇δG/δμ + √(2ηλ)ξ).
    #[arg(long, default_value = "0.2", allow_hyphen_values = true)]
    pub eta: String,
    /// σ̃, half-width of the label noise Unif[−σ̃, σ̃] (enters the expected G_ε̃).
    #[arg(long = "sigma-tilde", default_value = "1", allow_hyphen_values = true)]
    pub sigma_tilde: String,
    /// The arbitrary-precision oracle (m × m route, MPFR) instead of the f64 path.
    #[arg(long)]
    pub oracle: bool,
    /// Significant digits (oracle).
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    pub digits: i64,
    #[arg(long, value_enum, default_value_t = EvalFormat::Json)]
    pub format: EvalFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// An ordered JSON value whose numbers must be finite.
enum J {
    Num(f64),
    Int(usize),
    Str(String),
    Bool(bool),
    Null,
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl Serialize for J {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Num(x) if x.is_finite() => s.serialize_f64(*x),
            J::Num(x) => Err(S::Error::custom(format!(
                "refusing to write a non-finite number ({x}) to JSON"
            ))),
            J::Int(i) => s.serialize_u64(*i as u64),
            J::Str(t) => s.serialize_str(t),
            J::Bool(b) => s.serialize_bool(*b),
            J::Null => s.serialize_unit(),
            J::Arr(v) => {
                let mut q = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    q.serialize_element(x)?;
                }
                q.end()
            }
            J::Obj(v) => {
                let mut q = s.serialize_map(Some(v.len()))?;
                for (k, x) in v {
                    q.serialize_entry(k, x)?;
                }
                q.end()
            }
        }
    }
}

use crate::conventions::usage;

fn vec_j(v: &[f64]) -> J {
    J::Arr(v.iter().map(|x| J::Num(*x)).collect())
}

fn rows_j(v: &[f64], cols: usize) -> J {
    J::Arr(v.chunks(cols).map(vec_j).collect())
}

fn opt(x: Option<f64>) -> J {
    x.map_or(J::Null, J::Num)
}

pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Sub::Eval(a) => run_eval(a),
        Sub::Train(a) => run_train(a),
    }
}

fn header(input: &Input, params: &Params, pf: &ParamsF64, mode: &str) -> Vec<(String, J)> {
    let lam_a = pf.lambda * pf.lambda_a;
    let lam_w = pf.lambda * pf.lambda_w;
    let target = match &input.f_star {
        Target::Labels => "y (the labels)".to_string(),
        Target::Product(idx) => idx
            .iter()
            .map(|k| format!("x_{k}"))
            .collect::<Vec<_>>()
            .join("*"),
    };
    vec![
        ("mode".into(), J::Str(mode.into())),
        (
            "model".into(),
            J::Str(
                "h(x;w) = tanh(u.x + b); c = (K + n*lambda_bar_a*I)^-1 y, K = H H^T/m; \
                 G = (lambda_bar_a/2) y.c + (lambda_bar_w/2) E|w|^2 (loss with 1/2)"
                    .into(),
            ),
        ),
        ("loss_scale".into(), J::Str("half".into())),
        ("n".into(), J::Int(input.n)),
        ("d".into(), J::Int(input.d)),
        ("m".into(), J::Int(input.m)),
        (
            "n_test".into(),
            J::Int(input.x_test.as_ref().map_or(0, |t| t.1)),
        ),
        ("f_star".into(), J::Str(target)),
        ("lambda".into(), J::Str(params.lambda.clone())),
        ("lambda_a".into(), J::Str(params.lambda_a.clone())),
        ("lambda_w".into(), J::Str(params.lambda_w.clone())),
        ("eta".into(), J::Str(params.eta.clone())),
        ("sigma_tilde".into(), J::Str(params.sigma_tilde.clone())),
        ("lambda_bar_a".into(), J::Num(lam_a)),
        ("lambda_bar_w".into(), J::Num(lam_w)),
        (
            "langevin_scale".into(),
            J::Num((2.0 * pf.eta * pf.lambda).sqrt()),
        ),
    ]
}

fn run_eval(a: EvalArgs) -> Result<(), CliError> {
    let params = Params {
        lambda: a.lambda.clone(),
        lambda_a: a.lambda_a.clone(),
        lambda_w: a.lambda_w.clone(),
        eta: a.eta.clone(),
        sigma_tilde: a.sigma_tilde.clone(),
    };
    let pf = params.validate().map_err(|e| usage(e.0))?;
    if a.oracle && !(1..=oracle::MAX_DIGITS as i64).contains(&a.digits) {
        return Err(usage(format!(
            "--digits {} is out of range (1..={})",
            a.digits,
            oracle::MAX_DIGITS
        )));
    }
    let text = std::fs::read_to_string(&a.input)
        .map_err(|e| usage(format!("cannot read --input {}: {e}", a.input.display())))?;
    let input = Input::from_json(&text)
        .map_err(|e| usage(format!("--input {}: {}", a.input.display(), e.0)))?;
    let doc = if a.oracle {
        let fields = oracle::evaluate(&input, &params, a.digits as u32)?;
        let mut h = header(&input, &params, &pf, "oracle");
        h.push(("digits".into(), J::Int(a.digits as usize)));
        h.extend(oracle_body(&input, &fields, a.digits as u32));
        J::Obj(h)
    } else {
        let ev = evaluate(&input, &pf).map_err(CliError::Failure)?;
        let mut h = header(&input, &params, &pf, "f64");
        h.extend(f64_body(&input, &ev));
        J::Obj(h)
    };
    let mut text =
        serde_json::to_string_pretty(&doc).map_err(|e| CliError::Failure(e.to_string()))?;
    text.push('\n');
    emit(&text, a.out.as_deref())
}

fn step_j(s: &Step, dp: usize, extra: Vec<(String, J)>) -> J {
    let mut v = vec![
        ("objective".into(), J::Num(s.objective)),
        ("degrees_of_freedom".into(), J::Num(s.degrees_of_freedom)),
        ("alignment".into(), opt(s.alignment)),
        ("w".into(), rows_j(&s.w, dp)),
    ];
    v.extend(extra);
    J::Obj(v)
}

fn f64_body(input: &Input, e: &Evaluation) -> Vec<(String, J)> {
    let dp = input.d + 1;
    let mut v: Vec<(String, J)> = vec![
        ("objective".into(), J::Num(e.objective)),
        ("U".into(), J::Num(e.u)),
        ("reg".into(), J::Num(e.reg)),
        ("readout".into(), vec_j(&e.readout)),
        ("second_layer".into(), vec_j(&e.second_layer)),
        ("predictions".into(), vec_j(&e.predictions)),
        (
            "test_predictions".into(),
            e.test_predictions.as_deref().map_or(J::Null, vec_j),
        ),
        ("degrees_of_freedom".into(), J::Num(e.degrees_of_freedom)),
        ("alignment".into(), opt(e.alignment)),
        ("alignment_labels".into(), opt(e.alignment_labels)),
        ("alignment_test".into(), opt(e.alignment_test)),
        ("alignment_centred".into(), opt(e.alignment_centred)),
        ("trace_K".into(), J::Num(e.trace_k)),
        ("frobenius_K".into(), J::Num(e.frobenius_k)),
        ("train_mse".into(), J::Num(e.train_mse)),
        ("test_mse".into(), opt(e.test_mse)),
        ("second_layer_l2".into(), J::Num(e.second_layer_l2)),
        ("first_variation".into(), vec_j(&e.first_variation)),
        ("drift".into(), rows_j(&e.drift, dp)),
    ];
    if let Some(ln) = &e.label_noise {
        v.push(("label_noise_drift".into(), rows_j(&ln.drift, dp)));
        v.push(("objective_label_noise".into(), J::Num(ln.objective)));
        v.push((
            "expected_objective_label_noise".into(),
            J::Num(ln.expected_objective),
        ));
    }
    v.push(("after_gd_step".into(), step_j(&e.after_gd_step, dp, vec![])));
    if let Some(s) = &e.after_langevin_step {
        v.push(("after_langevin_step".into(), step_j(s, dp, vec![])));
    }
    if let Some(s) = &e.after_label_noise_step {
        let extra = vec![("langevin_noise".into(), J::Bool(input.xi.is_some()))];
        v.push(("after_label_noise_step".into(), step_j(s, dp, extra)));
    }
    v
}

/// The oracle fields as decimal strings with `<name>_error_bound` beside each.
fn oracle_body(input: &Input, fields: &[Field], digits: u32) -> Vec<(String, J)> {
    let p = oracle::precision(digits);
    let mut top: Vec<(String, J)> = vec![(
        "bound_kind".into(),
        J::Str(crate::conventions::BoundKind::Estimate.as_str().into()),
    )];
    top.push((
        "bound_method".into(),
        J::Str(format!(
            "precision doubling: values at {} bits, bound |v({} bits) - v({p} bits)| \
             + 2^-{p}|v| plus the decimal rounding; not an enclosure",
            2 * p,
            2 * p
        )),
    ));
    let mut partial = Vec::new();
    let mut nested: Vec<(String, Vec<(String, J)>)> = Vec::new();
    for f in fields {
        let shown: Vec<(String, String, &str)> = f
            .values
            .iter()
            .zip(&f.bounds)
            .map(|(v, b)| render_with_bound(v, b, digits))
            .collect();
        if shown.iter().any(|s| s.2 != "ok") {
            partial.push(J::Str(f.name.clone()));
        }
        let pick = |k: usize| -> J {
            let strs: Vec<J> = shown
                .iter()
                .map(|s| J::Str(if k == 0 { s.0.clone() } else { s.1.clone() }))
                .collect();
            match f.shape {
                Shape::Scalar => strs.into_iter().next().unwrap_or(J::Null),
                Shape::Vector => J::Arr(strs),
                Shape::Matrix(c) => {
                    let mut rows = Vec::new();
                    let mut it = strs.into_iter();
                    loop {
                        let r: Vec<J> = it.by_ref().take(c).collect();
                        if r.is_empty() {
                            break;
                        }
                        rows.push(J::Arr(r));
                    }
                    J::Arr(rows)
                }
            }
        };
        let (group, name) = match f.name.split_once('.') {
            Some((g, n)) => (Some(g.to_string()), n.to_string()),
            None => (None, f.name.clone()),
        };
        let pair = [
            (name.clone(), pick(0)),
            (format!("{name}_error_bound"), pick(1)),
        ];
        match group {
            None => top.extend(pair),
            Some(g) => {
                if let Some(entry) = nested.iter_mut().find(|e| e.0 == g) {
                    entry.1.extend(pair);
                } else {
                    nested.push((g, pair.into_iter().collect()));
                }
            }
        }
    }
    // quantities without data (no x_test, no test target, zero denominators) are null, as in
    // the f64 output
    for name in [
        "test_predictions",
        "alignment",
        "alignment_labels",
        "alignment_test",
        "alignment_centred",
        "test_mse",
    ] {
        if !top.iter().any(|(k, _)| k == name) {
            top.push((name.into(), J::Null));
            top.push((format!("{name}_error_bound"), J::Null));
        }
    }
    for (g, mut v) in nested {
        if g == "after_label_noise_step" {
            v.push(("langevin_noise".into(), J::Bool(input.xi.is_some())));
        }
        top.push((g, J::Obj(v)));
    }
    top.push(("fewer_digits".into(), J::Arr(partial)));
    top
}

fn list<T: std::str::FromStr>(
    s: &str,
    flag: &str,
    ok: impl Fn(&T) -> bool,
) -> Result<Vec<T>, CliError> {
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|t| match t.trim().parse::<T>() {
            Ok(v) if ok(&v) => Ok(v),
            _ => Err(usage(format!("--{flag} {s}: `{t}` is not a valid entry"))),
        })
        .collect()
}

fn draws_rows(
    v: Option<&serde_json::Value>,
    field: &str,
    rows: usize,
    width: usize,
) -> Result<Vec<Vec<f64>>, String> {
    let arr = v
        .and_then(|v| v.as_array())
        .ok_or(format!("field `{field}`: expected an array"))?;
    if arr.len() != rows {
        return Err(format!(
            "field `{field}`: {} iterations, expected --iters = {rows}",
            arr.len()
        ));
    }
    arr.iter()
        .enumerate()
        .map(|(it, r)| {
            let flat: Vec<&serde_json::Value> = match r.as_array() {
                Some(a) if a.iter().all(|x| x.is_array()) && !a.is_empty() => a
                    .iter()
                    .flat_map(|x| x.as_array().into_iter().flatten())
                    .collect(),
                Some(a) => a.iter().collect(),
                None => return Err(format!("field `{field}` iteration {it}: expected an array")),
            };
            if flat.len() != width {
                return Err(format!(
                    "field `{field}` iteration {it}: {} numbers, expected {width}",
                    flat.len()
                ));
            }
            flat.iter()
                .map(|x| {
                    x.as_f64().filter(|f| f.is_finite()).ok_or(format!(
                        "field `{field}` iteration {it}: {x} is not a finite number"
                    ))
                })
                .collect()
        })
        .collect()
}

fn run_train(a: TrainArgs) -> Result<(), CliError> {
    use crate::two_timescale::train::{self, Config, Draws, Init};
    let params = Params {
        lambda: a.lambda.clone(),
        lambda_a: a.lambda_a.clone(),
        lambda_w: a.lambda_w.clone(),
        eta: a.eta.clone(),
        sigma_tilde: "0".into(),
    };
    let pf = params.validate().map_err(|e| usage(e.0))?;
    let fin = |v: &f64| v.is_finite() && *v >= 0.0;
    let sigmas: Vec<f64> = list(&a.sigma, "sigma", fin)?;
    let tildes: Vec<f64> = list(&a.label_noise, "label-noise", fin)?;
    let seeds: Vec<u64> = list(&a.seeds, "seeds", |_| true)?;
    let target: Vec<usize> = list(&a.target, "target", |k: &usize| *k < a.d)?;
    if !fin(&a.label_noise_sigma) {
        return Err(usage(format!(
            "--label-noise-sigma {}: must be a finite number >= 0",
            a.label_noise_sigma
        )));
    }
    for (v, flag) in [(a.d, "d"), (a.n, "n"), (a.m, "m"), (a.iters, "iters")] {
        if v == 0 {
            return Err(usage(format!("--{flag} 0: must be at least 1")));
        }
    }
    if seeds.is_empty() || target.is_empty() || (sigmas.is_empty() && tildes.is_empty()) {
        return Err(usage(
            "--seeds, --target and one of --sigma/--label-noise need at least one entry",
        ));
    }
    let init = Init::parse(&a.init).map_err(usage)?;
    let cfg = Config {
        d: a.d,
        n: a.n,
        n_test: a.n_test,
        m: a.m,
        iters: a.iters,
        log_every: a.log_every,
        params: pf,
        init,
        target,
    };
    if train::entries(&cfg) > train::MAX_ENTRIES {
        return Err(usage(format!(
            "--n {} --m {} --n-test {}: n² + nm + n_test² + n_test·m = {} entries exceeds {} (about 2 GiB)",
            a.n, a.m, a.n_test, train::entries(&cfg), train::MAX_ENTRIES
        )));
    }
    let draws = match &a.draws {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| usage(format!("cannot read --draws {}: {e}", p.display())))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| usage(format!("--draws {}: not JSON: {e}", p.display())))?;
            let bad = |e: String| usage(format!("--draws {}: {e}", p.display()));
            let xi = draws_rows(v.get("xi"), "xi", a.iters, a.m * (a.d + 1)).map_err(bad)?;
            let eps = match v.get("eps") {
                None => None,
                Some(e) => Some(draws_rows(Some(e), "eps", a.iters, a.n).map_err(bad)?),
            };
            if tildes.iter().any(|t| *t > 0.0) && eps.is_none() {
                return Err(usage(format!(
                    "--draws {}: label-noise runs (σ̃ > 0) need field `eps`",
                    p.display()
                )));
            }
            Some(Draws { xi, eps })
        }
    };
    let specs = train::runs(&sigmas, &tildes, a.label_noise_sigma, &seeds);
    std::fs::create_dir_all(&a.out)
        .map_err(|e| CliError::Failure(format!("cannot create --out {}: {e}", a.out.display())))?;
    let mut csv = format!("{}\n", train::COLUMNS);
    let mut finals = Vec::new();
    let results = train::run_all(&cfg, &specs, draws.as_ref());
    for (spec, t) in specs.iter().zip(results) {
        let t = t.map_err(|e| {
            CliError::Failure(format!(
                "sigma {} label_noise {} seed {}: {e}",
                spec.sigma, spec.label_noise, spec.seed
            ))
        })?;
        csv.push_str(&train::csv_lines(&t));
        let last = t.rows.last().expect("a final row");
        finals.push(J::Obj(vec![
            ("sigma".into(), J::Num(spec.sigma)),
            ("label_noise".into(), J::Num(spec.label_noise)),
            ("seed".into(), J::Int(spec.seed as usize)),
            ("G".into(), J::Num(last.g)),
            ("dof".into(), J::Num(last.dof)),
            ("align".into(), opt(last.align)),
            ("test_mse".into(), opt(last.test_mse)),
        ]));
    }
    let run_json = J::Obj(vec![
        ("command".into(), J::Str("two-timescale train".into())),
        (
            "model".into(),
            J::Str("h(x;w) = tanh(u.x + b); readout c = (K + n*lambda_bar_a*I)^-1 y recomputed exactly each step; \
                    w <- w - eta*grad dG/dmu(w) + sqrt(2*eta*lambda)*xi; label noise through the noisy readout (loss with 1/2)".into()),
        ),
        ("loss_scale".into(), J::Str("half".into())),
        ("d".into(), J::Int(a.d)),
        ("n".into(), J::Int(a.n)),
        ("n_test".into(), J::Int(a.n_test)),
        ("m".into(), J::Int(a.m)),
        ("iters".into(), J::Int(a.iters)),
        ("log_every".into(), J::Int(a.log_every)),
        ("lambda".into(), J::Str(a.lambda.clone())),
        ("lambda_a".into(), J::Str(a.lambda_a.clone())),
        ("lambda_w".into(), J::Str(a.lambda_w.clone())),
        ("eta".into(), J::Str(a.eta.clone())),
        ("init".into(), J::Str(init.name())),
        ("target".into(), J::Str(a.target.clone())),
        ("sigma".into(), J::Arr(sigmas.iter().map(|v| J::Num(*v)).collect())),
        ("label_noise".into(), J::Arr(tildes.iter().map(|v| J::Num(*v)).collect())),
        ("label_noise_sigma".into(), J::Num(a.label_noise_sigma)),
        ("seeds".into(), J::Arr(seeds.iter().map(|v| J::Int(*v as usize)).collect())),
        ("draws".into(), a.draws.as_ref().map_or(J::Null, |p| J::Str(p.display().to_string()))),
        ("sampling".into(), J::Str("per seed: ChaCha8 streams 0 x, 1 test x, 2 label noise v ~ Unif[-1,1) (y = f + sigma*v), 3 initial w, 4 xi (Box-Muller), 5 label-noise unit draw (eps = sigma_tilde*v'); paired across sigma and sigma_tilde".into())),
        ("columns".into(), J::Str(train::COLUMNS.into())),
        ("final".into(), J::Arr(finals)),
    ]);
    let mut text =
        serde_json::to_string_pretty(&run_json).map_err(|e| CliError::Failure(e.to_string()))?;
    text.push('\n');
    emit(&csv, Some(&a.out.join("curves.csv")))?;
    emit(&text, Some(&a.out.join("run.json")))
}
