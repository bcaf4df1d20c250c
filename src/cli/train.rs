//! `mforacle train`: finite-width projected GD on the exact population loss, every neuron
//! coupled to its ideal mean-field particle (src/dynamics).
//!
//! Outputs (with `--out DIR`, each written atomically): `train.csv` (one row per recorded step,
//! width and draw; columns of [`crate::dynamics::Row`]), `histograms.csv` (overlap, ‖Δ(i)‖ and
//! √N‖Δ(i)‖ histograms), `run.json` (every parameter, the crate version, the seed, the steps
//! and the wall time). Without `--out`, train.csv goes to standard output. A checkpoint
//! `DIR/checkpoint.bin` is written every `--checkpoint-seconds` (default 300) and removed when
//! the run completes; `--resume` continues from it (same parameters required).
//!
//! `--linearised` (off by default) also integrates the linearised gap along the discrete ideal
//! particles (src/dynamics/linear.rs, proofs-notes/linearised-gap.md) and appends four columns
//! to train.csv (the first 14 columns, histograms.csv and, but for `"linearised": true`,
//! run.json are unchanged):
//! - `lin_mean_n_gap_sq`: mean_i N‖δ^loc_i‖², δ^loc the local linearisation (the local Hessian
//!   of the mean-field law alone: δ_{k+1} = J_loc δ_k + S_k);
//! - `lin_full_mean_n_gap_sq`: mean_i N‖δ^full_i‖², δ^full the full linearisation (the
//!   Jacobian of the whole finite-width step at the ideal positions, collective term included:
//!   δ_{k+1} = DΦ_N(W̄_k)δ_k + S_k, the exact linearisation of the training recursion);
//! - `lin_rel_error`: √(Σ_i‖δ^loc_i − Δ_i‖² / Σ_i‖Δ_i‖²), Δ_i = w_i − w̄_i against the discrete
//!   ideal particles (0 when both sums vanish, e.g. at t = 0 where δ_0 = Δ_0);
//! - `lin_full_rel_error`: the same for δ^full (O(N^{−1/2}): the second-order remainder).
//!
//! S_k = Φ_N(W̄_k) − W̄_{k+1} is the source (the network's step from the ideal positions minus
//! the ideal step). Cost: three extra fast-path steps per step and network. The δ's are part
//! of the checkpoint; resuming with a different `--linearised` setting is refused (exit 2).

use super::CliError;
use crate::conventions::{LossScale, Update};
use crate::dynamics::{checkpoint, Config, HistRow, Row, Run};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pair: super::pair::SpecPair,
    #[arg(long, allow_negative_numbers = true)]
    d: usize,
    /// Strictly increasing widths, comma separated; smaller networks are the first neurons of
    /// the largest one.
    #[arg(long, value_delimiter = ',', required = true)]
    widths: Vec<usize>,
    /// Learning rate η (the weights move with ηN; one step is mean-field time η).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    eta: f64,
    #[arg(long, default_value_t = 15.0, allow_negative_numbers = true)]
    t_end: f64,
    #[arg(long, default_value_t = 1)]
    draws: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Update::Euclidean)]
    update: Update,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise_variance: f64,
    /// Series degree of non-polynomial kernels.
    #[arg(long, default_value_t = 60)]
    degree: usize,
    /// Record every this many steps (and the last).
    #[arg(long, default_value_t = 1)]
    record_every: usize,
    /// Histograms every this many steps (and the last).
    #[arg(long, default_value_t = 100)]
    histogram_every: usize,
    /// Panels per side of the mean-field flow's node layout.
    #[arg(long, default_value_t = 200)]
    panels: usize,
    /// Relative tolerance of the mean-field flow's integrator.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    rtol: f64,
    /// Initial neurons: i.i.d. uniform on the sphere (the paper's), or stratified in the
    /// overlap with θ (variance reduction: each nested width is stratified at resolution 1/N).
    #[arg(long, value_enum, default_value_t = InitArg::Uniform)]
    init: InitArg,
    /// Output directory (train.csv, histograms.csv, run.json, checkpoint.bin).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue from DIR/checkpoint.bin.
    #[arg(long, requires = "out")]
    resume: bool,
    /// Seconds of wall time between checkpoints.
    #[arg(long, default_value_t = 300.0)]
    checkpoint_seconds: f64,
    /// Stop after this many steps of this invocation, leaving a checkpoint (for tests of
    /// --resume: simulates a run killed after a checkpoint).
    #[arg(long, hide = true, requires = "out")]
    halt_after: Option<usize>,
    /// Also integrate the linearised gap along the discrete ideal particles (local Hessian
    /// alone, and the full finite-width Jacobian) and add the lin_* columns to train.csv
    /// (three extra fast-path steps per step and network).
    #[arg(long)]
    linearised: bool,
    #[command(flatten)]
    alpha: alpha::AlphaArgs,
    /// Noisy projected GD at inverse temperature β > 0: w ← normalise(w + η v + √(2η/β) P_w g)
    /// (tangent step, counter-based Gaussian increments shared by the nested widths); writes
    /// width,draw,step,t,loss,risk,mean_s,mean_s2,mean_abs_s (no ideal particles; compare with
    /// `langevin flow`). Not with --linearised or --resume.
    #[arg(long, allow_negative_numbers = true)]
    beta: Option<f64>,
}

mod alpha;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitArg {
    Uniform,
    Stratified,
}

#[derive(serde::Serialize)]
struct RunDoc<'a> {
    command: &'static str,
    version: &'static str,
    config: &'a Config,
    steps: usize,
    series_degree: usize,
    kernels_exact: bool,
    outputs: [&'static str; 2],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    linearised: bool,
}

/// The run's configuration from the command line, with the update rule `update`.
fn config_of(args: &Args, update: &str) -> Config {
    Config {
        teacher: args.pair.teacher_source().to_string(),
        student: args.pair.student.clone(),
        d: args.d,
        widths: args.widths.clone(),
        eta: args.eta,
        t_end: args.t_end,
        draws: args.draws,
        seed: args.seed,
        update: update.into(),
        loss_scale: args.loss_scale.name().into(),
        noise_variance: args.noise_variance,
        degree: args.degree,
        record_every: args.record_every,
        histogram_every: args.histogram_every,
        panels: args.panels,
        rtol: args.rtol,
        init: match args.init {
            InitArg::Uniform => "uniform",
            InitArg::Stratified => "stratified",
        }
        .into(),
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    if args.alpha.alpha.is_some() && args.beta.is_some() {
        return Err(CliError::Usage(
            "--alpha and --beta cannot be combined (the lazy limit is noiseless)".into(),
        ));
    }
    if let Some(a) = args.alpha.alpha {
        return alpha::run(&args, a);
    }
    if let Some(beta) = args.beta {
        return run_noisy(args, beta);
    }
    if !(args.checkpoint_seconds.is_finite() && args.checkpoint_seconds > 0.0) {
        return Err(CliError::Usage(
            "--checkpoint-seconds must be a positive number".into(),
        ));
    }
    let config = config_of(&args, args.update.name());
    if config.validate().is_ok() {
        crate::memory::check("train", memory_estimate(&config, args.linearised))
            .map_err(CliError::Usage)?;
    }
    let started = Instant::now();
    let run = Run::with_linearised(config, args.linearised)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    let ckpt = args.out.as_ref().map(|d| d.join("checkpoint.bin"));
    let mut state = match (&ckpt, args.resume) {
        (Some(p), true) => checkpoint::load(p, &run)?,
        _ => run.start()?,
    };
    let steps = run.config.steps();
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(steps as u64 + 1);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] step {pos}/{len} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_position(state.step as u64);
        Some(b)
    } else {
        None
    };
    let mut last_ckpt = Instant::now();
    let mut taken = 0usize;
    while state.step <= steps {
        run.advance(&mut state)?;
        taken += 1;
        if let Some(b) = &bar {
            b.set_position(state.step as u64);
        }
        let halt = args.halt_after.is_some_and(|h| taken >= h) && state.step <= steps;
        if let Some(p) = &ckpt {
            if halt || last_ckpt.elapsed().as_secs_f64() >= args.checkpoint_seconds {
                checkpoint::save(p, &run, &state)?;
                last_ckpt = Instant::now();
            }
        }
        if halt {
            if let Some(b) = &bar {
                b.abandon();
            }
            eprintln!(
                "mforacle: halted after step {} of {steps}; continue with --resume",
                state.step
            );
            return Ok(());
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut csv = Row::header(run.linearised());
    csv.push('\n');
    for r in &state.rows {
        csv.push_str(&r.csv());
        csv.push('\n');
    }
    match &args.out {
        None => super::emit(&csv, None),
        Some(dir) => {
            let mut hist = String::from(HistRow::HEADER);
            hist.push('\n');
            for r in &state.hist {
                hist.push_str(&r.csv());
                hist.push('\n');
            }
            let doc = RunDoc {
                command: "train",
                version: env!("CARGO_PKG_VERSION"),
                config: &run.config,
                steps,
                series_degree: run.model.degree,
                kernels_exact: run.model.exact,
                outputs: ["train.csv", "histograms.csv"],
                linearised: run.linearised(),
            };
            let json = serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::Failure(format!("JSON: {e}")))?;
            super::emit(&csv, Some(&dir.join("train.csv")))?;
            super::emit(&hist, Some(&dir.join("histograms.csv")))?;
            super::emit(&(json + "\n"), Some(&dir.join("run.json")))?;
            if let Some(p) = &ckpt {
                let _ = std::fs::remove_file(p);
            }
            // run.json holds only what determines the numbers (byte-identical across runs);
            // the wall time goes to the terminal.
            eprintln!(
                "mforacle: wrote {}/{{train.csv,histograms.csv,run.json}} in {:.1} s ({} threads{})",
                dir.display(),
                started.elapsed().as_secs_f64(),
                rayon::current_num_threads(),
                if args.resume { ", resumed" } else { "" }
            );
            Ok(())
        }
    }
}

/// Estimated peak memory of a training run ([`crate::memory`]; an estimate), counted from the
/// state: the initial samples (draws × N_max × d f64, plus the rows as drawn), the networks
/// (draws × Σ widths × d f64, three times that with `--linearised`: δ^local and δ^full), the
/// evaluator's work arrays for the widest network (≈ 8 × N_max × d f64), the ideal particles
/// (≈ 8 f64 per particle), twice the state again for a checkpoint being written, and the
/// recorded rows (≈ 1 KiB per row of train.csv, ≈ 512 B per histogram row: the struct, its CSV
/// line and its copy in the checkpoint). Checked arithmetic throughout.
pub fn memory_estimate(c: &Config, linearised: bool) -> crate::memory::Bytes {
    use crate::memory::Bytes;
    let d = c.d;
    let n_max = c.widths.iter().copied().max().unwrap_or(0);
    let sum_w = c
        .widths
        .iter()
        .try_fold(0usize, |acc, &w| acc.checked_add(w));
    let Some(sum_w) = sum_w else {
        return Bytes(None);
    };
    let copies = if linearised { 3 } else { 1 };
    let initial = Bytes::items(c.draws, 8)
        .times(n_max)
        .times(d)
        .times(2)
        .plus(Bytes::items(n_max, 48));
    let state = Bytes::items(c.draws, 8)
        .times(sum_w)
        .times(d)
        .times(copies)
        .plus(Bytes::items(c.draws, 64).times(n_max));
    let work = Bytes::items(n_max, 64).times(d);
    let steps = c.steps();
    let records = steps / c.record_every.max(1) + 2;
    let hists = steps / c.histogram_every.max(1) + 2;
    let per_record = Bytes::items(c.draws, 1024).times(c.widths.len());
    let per_hist = Bytes::items(c.draws, 512)
        .times(c.widths.len())
        .times(crate::dynamics::BINS * 4);
    initial
        .plus(state.times(3))
        .plus(work)
        .plus(per_record.times(records))
        .plus(per_hist.times(hists))
}

#[allow(unused_imports)]
pub use crate::dynamics::noisy_run::{NOISY_FLOW_TOL, NOISY_HEADER};

#[derive(serde::Serialize)]
struct NoisyRunDoc<'a> {
    command: &'static str,
    version: &'static str,
    config: &'a Config,
    #[serde(serialize_with = "crate::output::finite")]
    beta: f64,
    noise: &'static str,
    steps: usize,
    outputs: [&'static str; 1],
}

/// `train --beta`: noisy projected GD (src/dynamics/noise.rs), one network per width and draw
/// (the nested widths share initial neurons and Brownian increments), rows every
/// `--record-every` steps: loss, risk = loss/c and the empirical moments of s_i = <w_i, θ>.
fn run_noisy(args: Args, beta: f64) -> Result<(), CliError> {
    if !(beta.is_finite() && beta > 0.0 && beta <= 1e6) {
        return Err(CliError::Usage(format!(
            "--beta {beta}: must be a finite number in (0, 1e6]"
        )));
    }
    if args.linearised || args.resume || args.halt_after.is_some() {
        return Err(CliError::Usage(
            "--beta: not with --linearised, --resume or --halt-after".into(),
        ));
    }
    let config = config_of(&args, "tangent");
    if config.validate().is_ok() {
        crate::memory::check("train", memory_estimate(&config, false)).map_err(CliError::Usage)?;
    }
    if config.d < 3 {
        return Err(CliError::Usage(format!(
            "--beta with --d {}: the noisy ideal particles need d >= 3 (reduced flow)",
            config.d
        )));
    }
    let started = Instant::now();
    let nr = crate::dynamics::noisy_run::run(config, beta, &[])?;
    let (c, steps, csv) = (&nr.config, nr.steps, nr.csv);
    match &args.out {
        None => super::emit(&csv, None),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", dir.display())))?;
            let doc = NoisyRunDoc {
                command: "train --beta",
                version: env!("CARGO_PKG_VERSION"),
                config: c,
                beta,
                noise: "w <- normalise(w + eta v + sqrt(2 eta/beta) P_w g), g ~ N(0, I_d) by the ziggurat (256 blocks) on ChaCha8 keyed by (seed, draw, step), stream = neuron",
                steps,
                outputs: ["train.csv"],
            };
            let json = serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::Failure(format!("JSON: {e}")))?;
            super::emit(&csv, Some(&dir.join("train.csv")))?;
            super::emit(&(json + "\n"), Some(&dir.join("run.json")))?;
            eprintln!(
                "mforacle: wrote {}/{{train.csv,run.json}} in {:.1} s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}
