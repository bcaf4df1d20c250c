//! `mforacle deep`: the deep mean-field model (src/deep).
//!
//! - `deep limit --layers 2|3 --psi gd|id [--d D] --t-end T [--dt-out H] [--track a,...]
//!   [--format json|csv] [--out FILE]`: the infinite-width risk R_∞(t) by method A (reduced ODE
//!   in Γ(a, t)), with three estimates per output time: `node_diff` (A rerun with twice the
//!   a-nodes, twice the θ0/s panels and more table nodes), `step_diff` (A rerun with the step
//!   halved), `diff_ab` (A − B, B the ideal particles on a grid). The reduced state Γ(a, t),
//!   α(a, t) is printed at the tracked a (default 0.5, 1, √3). The limit does not depend on d
//!   (accepted and checked for consistency with `eval`). With `--eta η`: the discrete map of
//!   Euler GD (method B with Euler steps), `node_diff`, `diff_ab` for ψ = id, and the flow's
//!   `risk_flow` at the same times.
//! - `deep eval --layers 2|3 --psi gd|id --d D --n N [--seed S] [--oracle --digits D]
//!   [--unit SPEC [--unit-degree K]] [--format json|csv]`: the finite-N risk and N²-scaled
//!   velocities of the seeded network at initialisation (f64, or the MPFR oracle with error
//!   estimates). A non-default `--unit` goes through [`deep::general`] (f64, with its truncation
//!   estimate) or [`deep::oracle_general`]; `limit --unit` uses the 1-D kernels of
//!   [`deep::limit_unit`], `train --unit` the general route with RK4 ([`deep::train_unit`],
//!   L = 2 flow only).
//!
//! - `deep limit --layers 3`, `deep train --layers 3`: see [`l3`].
//!
//! Bad input exits with code 2 and one line on stderr before any work.

use super::{emit, CliError};
use crate::deep::{self, finite, limit, oracle, Psi};
use crate::output::decimal;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeepFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// The infinite-width limit risk R_∞(t) and reduced state (L = 2: Γ(a, t), α(a, t); L = 3:
    /// Γ1, Ω, α, b), with node refinement, step halving and the difference to the
    /// ideal-particle method.
    Limit(LimitArgs),
    /// Finite-N risk and N²-scaled velocities of the seeded network at initialisation.
    Eval(EvalArgs),
    /// Finite-width N²-scaled gradient flow (RK4, or Euler GD with --eta; L = 2 or 3) of seeded
    /// networks, each edge coupled to its ideal particle: risk, limit risk, loss, edge and node
    /// gaps per time.
    Train(TrainArgs),
}

/// `--layers`, `--psi`, `--d`: the network class of `eval` and `train`.
#[derive(clap::Args, Debug)]
struct NetArgs {
    /// Inner layers: 2 (one trained N × N layer) or 3 (two trained layers).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    layers: i64,
    /// The unit σ of every hidden node, an activation spec (the grammar of `coeffs`). The
    /// default erf(z/sqrt(2)) is the teacher's unit and uses the erf closed forms; any other
    /// spec whose derivative is a function (step and sign are refused) goes through the
    /// norm-dependent dual kernel (`eval`, `train`) and the limit's 1-D Gaussian integrals
    /// along w* (`limit`, `train`); much slower than erf. `train --unit`: L = 2, RK4 only.
    #[arg(long, default_value = deep::general::ERF_UNIT)]
    unit: String,
    /// Edge map ψ of the trained edges: gd (the Gudermannian, bounded) or id.
    #[arg(long, default_value = "gd")]
    psi: String,
    /// Input dimension d ≥ 1 (x ~ N(0, I_d), frozen features u_i ~ N(0, I_d)).
    #[arg(long, allow_negative_numbers = true)]
    d: i64,
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Strictly increasing widths, comma separated (independent networks).
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        required = true
    )]
    widths: Vec<i64>,
    /// Draws per width (draw r uses the key seed + 1000003·r).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    draws: i64,
    /// Seed of the networks (θ(0), u, a regenerated from it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// End time (t = steps · step).
    #[arg(long, allow_negative_numbers = true)]
    t_end: f64,
    /// Interval between output times (and --t-end itself).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    dt_out: f64,
    /// RK4 step of the finite-width flow (rerun with half of it to estimate the time error).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    dt: f64,
    /// Euler GD with this step η instead of the RK4 flow, against the discrete mean-field map
    /// (--t-end and --dt-out must be whole multiples of η).
    #[arg(long, allow_negative_numbers = true)]
    eta: Option<f64>,
    #[arg(long, value_enum, default_value_t = DeepFormat::Csv)]
    format: DeepFormat,
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    rates: RatesArgs,
}

/// `--init`, `--corr-times`, `--summary` of `deep train`.
#[derive(clap::Args, Debug)]
struct RatesArgs {
    /// Frozen features: iid (u_i ~ N(0, I), a_j ~ U[-sqrt3, sqrt3]) or stratified (quantile
    /// midpoints for s_i = u_i1 and a_j, the other coordinates of u orthogonalised against s;
    /// --layers 2 only).
    #[arg(long, default_value = "iid")]
    init: String,
    /// Output times at which the edge-increment correlations are computed (RK4 only; written
    /// to the --summary file). Classes of edge pairs: L = 2 input, output; L = 3 l1-input,
    /// l1-output, l2-input, l2-output, cross (the last three share a trained-only node).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    corr_times: Vec<f64>,
    /// Write the per-time summary (statistics over draws, fitted exponents in N with bootstrap
    /// standard errors) and the correlations to this JSON file. With --layers 3 the rows then
    /// carry the function gap as well.
    #[arg(long)]
    summary: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct LimitArgs {
    /// Inner layers: 2 (state Γ(a, t)) or 3 (state Γ1, Ω).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    layers: i64,
    /// The unit σ of every hidden node, an activation spec (the grammar of `coeffs`). The
    /// default erf(z/sqrt(2)) is the teacher's unit and uses the erf closed forms; any other
    /// spec whose derivative is a function (step and sign are refused) goes through the
    /// norm-dependent dual kernel (`eval`, `train`) and the limit's 1-D Gaussian integrals
    /// along w* (`limit`, `train`); much slower than erf. `train --unit`: L = 2, RK4 only.
    #[arg(long, default_value = deep::general::ERF_UNIT)]
    unit: String,
    /// Edge map ψ: gd or id.
    #[arg(long, default_value = "gd")]
    psi: String,
    /// Input dimension (the limit does not depend on it).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    d: i64,
    /// End time.
    #[arg(long, allow_negative_numbers = true)]
    t_end: f64,
    /// Interval between output times (and --t-end itself).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    dt_out: f64,
    /// Frozen output weights a ∈ [−√3, √3] at which Γ(a, t) and α(a, t) are printed.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    track: Vec<f64>,
    /// Gauss–Legendre nodes in a ∈ [0, √3] (method A); for a --unit that is not odd, on each
    /// of [−√3, 0] and [0, √3].
    #[arg(long, default_value_t = 48, allow_negative_numbers = true)]
    a_nodes: i64,
    /// Largest RK4 step of method A [default: 0.0125; 0.00625 for --layers 3 --psi id, whose
    /// step error at 0.0125 is 1.2e-10 near t = 1].
    #[arg(long, allow_negative_numbers = true)]
    dt: Option<f64>,
    /// Panels per unit length of method B's s rule (raise for long times).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    b_s_panels: i64,
    /// Largest RK4 step of method B [default: 0.0125; 0.00625 for --layers 3 --psi id]: with
    /// these the check A − B resolves the 1e-10 accuracy of R_∞ to t = 10.
    #[arg(long, allow_negative_numbers = true)]
    b_dt: Option<f64>,
    /// The discrete map of Euler GD with this step η instead of the flow (method B with Euler
    /// steps; --t-end and --dt-out must be whole multiples of η).
    #[arg(long, allow_negative_numbers = true)]
    eta: Option<f64>,
    #[arg(long, value_enum, default_value_t = DeepFormat::Json)]
    format: DeepFormat,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Width N.
    #[arg(long, allow_negative_numbers = true)]
    n: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The MPFR oracle (N ≤ 64) instead of the f64 path.
    #[arg(long)]
    oracle: bool,
    /// Significant digits of the oracle (10..=1000).
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    digits: i64,
    /// Degree K of the Hermite series of a non-erf --unit (f64 route and oracle tables;
    /// 1..=400). The f64 route prints its truncation estimate.
    #[arg(long, default_value_t = deep::general::DEFAULT_DEGREE as i64, allow_negative_numbers = true)]
    unit_degree: i64,
    #[arg(long, value_enum, default_value_t = DeepFormat::Json)]
    format: DeepFormat,
    #[arg(long)]
    out: Option<PathBuf>,
}

use crate::conventions::{usage, BoundKind};

mod l3;

/// Largest state the commands accept (bytes), checked before any allocation: 20 GiB (N = 16384
/// Euler fits; `memory::check` also compares against the memory available on the machine).
const MAX_BYTES: f64 = 20.0 * 1024.0 * 1024.0 * 1024.0;
/// Largest width of the oracle.
const ORACLE_MAX_N: usize = 64;
/// Largest number of output times of `limit`.
const MAX_TIMES: f64 = 1e5;
/// Largest number of `--track` values of `deep limit`.
const MAX_TRACK: usize = 1024;
/// Largest `--draws` of `deep train` (every draw of every width is a separate run; the rows of
/// all of them are kept for the output).
const MAX_DRAWS: i64 = 100_000;

pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Sub::Limit(a) => run_limit(a),
        Sub::Eval(a) => run_eval(a),
        Sub::Train(a) => run_train(a),
    }
}

/// The --unit spec: `None` for the default erf unit (closed forms), else the parsed spec.
fn unit_of(text: &str) -> Result<Option<crate::activation::Spec>, CliError> {
    let spec =
        crate::activation::Spec::parse(text).map_err(|e| usage(format!("--unit {text}: {e}")))?;
    Ok(if deep::general::is_default_erf(&spec) {
        None
    } else {
        Some(spec)
    })
}

/// The --unit of `deep limit` and `deep train`: `None` for the default erf (closed-form
/// kernels), else the general unit (checked by [`deep::general::Unit::new`]: σ' a function)
/// with its compiled σ, σ' for the limit's 1-D quadrature.
fn limit_unit_of(text: &str) -> Result<Option<deep::limit_unit::LimitUnit>, CliError> {
    match unit_of(text)? {
        None => Ok(None),
        Some(spec) => {
            let u =
                deep::general::Unit::new(&spec, deep::general::DEFAULT_DEGREE).map_err(usage)?;
            Ok(Some(deep::limit_unit::LimitUnit::new(&u)))
        }
    }
}

fn layers_of(l: i64) -> Result<usize, CliError> {
    if l == 2 || l == 3 {
        Ok(l as usize)
    } else {
        Err(usage(format!(
            "--layers {l}: supported numbers of inner layers are 2 and 3"
        )))
    }
}

fn dim_of(d: i64) -> Result<usize, CliError> {
    if d < 1 {
        Err(usage(format!(
            "--d {d}: the input dimension must be at least 1"
        )))
    } else {
        Ok(d as usize)
    }
}

fn ser<T: Serialize>(v: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| CliError::Failure(format!("cannot serialise the result: {e}")))
}

/// Checks that every value is finite, then prints `out` as JSON or `csv()` to `path`.
fn emit_checked<T: Serialize>(
    all: &[f64],
    what: &str,
    out: &T,
    format: DeepFormat,
    csv: impl FnOnce() -> String,
    path: Option<&std::path::Path>,
) -> Result<(), CliError> {
    require_finite(all, what)?;
    let text = match format {
        DeepFormat::Json => ser(out)?,
        DeepFormat::Csv => csv(),
    };
    emit(&text, path)
}

/// Fails with "`what` produced a non-finite value" unless every value is finite.
fn require_finite(xs: &[f64], what: &str) -> Result<(), CliError> {
    if xs.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(CliError::Failure(format!(
            "{what} produced a non-finite value"
        )))
    }
}

#[derive(Serialize)]
struct LimitOut {
    layers: usize,
    psi: &'static str,
    d: usize,
    /// The unit σ when it is not the default erf (kernels by 1-D quadrature along w*).
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    times: Vec<f64>,
    risk: Vec<f64>,
    track_a: Vec<f64>,
    /// gamma[t][k] = Γ(track_a[k], times[t]).
    gamma: Vec<Vec<f64>>,
    alpha: Vec<Vec<f64>>,
    risk_b: Vec<f64>,
    diff_ab: Vec<f64>,
    node_diff: Vec<f64>,
    step_diff: Vec<f64>,
    bound_kind: &'static str,
    table_check: f64,
    a_nodes: usize,
    dt: f64,
    b_particles: usize,
    b_dt: f64,
    version: &'static str,
}

fn run_limit(a: LimitArgs) -> Result<(), CliError> {
    let layers = layers_of(a.layers)?;
    let lunit = limit_unit_of(&a.unit)?;
    let unit = match &lunit {
        None => limit::Unit::Erf,
        Some(u) => limit::Unit::General(u),
    };
    let psi = Psi::parse(&a.psi).map_err(usage)?;
    let d = dim_of(a.d)?;
    check_times(a.t_end, a.dt_out)?;
    // Default steps: R_∞ to 1e-10 up to t = 10 by every estimate (proofs-note §3, "Reported
    // estimates"; `tests/deep_input.rs`, `default_limit_steps_reach_1e_10`).
    let fine = layers == 3 && psi == Psi::Id;
    let dt = a.dt.unwrap_or(if fine { 0.00625 } else { 0.0125 });
    let b_dt = a.b_dt.unwrap_or(if fine { 0.00625 } else { 0.0125 });
    for (name, v) in [("--dt", dt), ("--b-dt", b_dt)] {
        if !(v.is_finite() && v > 0.0 && a.t_end / v <= 1e7) {
            return Err(usage(format!(
                "{name} {v}: must be positive with at most 1e7 steps"
            )));
        }
    }
    if !(1..=64).contains(&a.a_nodes) {
        return Err(usage(format!("--a-nodes {}: must be in 1..=64", a.a_nodes)));
    }
    if !(1..=8).contains(&a.b_s_panels) {
        return Err(usage(format!(
            "--b-s-panels {}: must be in 1..=8",
            a.b_s_panels
        )));
    }
    let mut p = limit::Params::new(psi);
    p.a_nodes = a.a_nodes as usize;
    p.h = dt;
    let mut pb = limit::BParams::new(psi);
    pb.s_panels_per_unit = a.b_s_panels as usize;
    pb.h = b_dt;
    if layers == 3 {
        if !a.track.is_empty() {
            return Err(usage(
                "--track: the L = 3 limit has no output-weight types to track (state Γ1, Ω)",
            ));
        }
        if let Some(eta) = a.eta {
            check_eta(eta, a.t_end, a.dt_out)?;
        }
        return l3::run_limit(&a, psi, d, &p, &pb, unit);
    }
    let r3 = 3f64.sqrt();
    let track = if a.track.is_empty() {
        vec![0.5, 1.0, r3]
    } else {
        a.track.clone()
    };
    if let Some(x) = track.iter().find(|x| !(x.is_finite() && x.abs() <= r3)) {
        return Err(usage(format!(
            "--track {x}: must lie in [-sqrt(3), sqrt(3)]"
        )));
    }
    if track.len() > MAX_TRACK {
        return Err(usage(format!(
            "--track: {} values, at most {MAX_TRACK}",
            track.len()
        )));
    }
    // Method B's particles dominate: per a-node (its own rule, and with --eta every tracked a)
    // pb.particles()/a_nodes of them, four times as many in the refined run; at most nine arrays
    // of that size at once (RK4's stages); the tables of method A per output time are small.
    let per_node = pb.particles() as f64 / pb.a_nodes as f64;
    let b_nodes = 2 * pb.a_nodes + if a.eta.is_some() { track.len() } else { 0 };
    let n_times = (a.t_end / a.dt_out).ceil() + 2.0;
    let bytes = 8.0 * 9.0 * 4.0 * per_node * b_nodes as f64
        + 8.0 * 8.0 * n_times * (track.len() + p.a_nodes) as f64
        + deep::train3::BASE_BYTES;
    crate::memory::check("deep limit", crate::memory::Bytes(Some(bytes as u64))).map_err(usage)?;
    if let Some(eta) = a.eta {
        check_eta(eta, a.t_end, a.dt_out)?;
        return run_discrete(a, layers, psi, d, eta, &p, &pb, &track, unit);
    }
    let (t_end, dt_out) = (a.t_end, a.dt_out);
    let flow_a = |q: &limit::Params, tr: &[f64]| {
        limit::method_a_with(q, unit, limit::Stepping::Rk4 { h: q.h }, t_end, dt_out, tr)
    };
    let main = flow_a(&p, &track);
    let fine = flow_a(&p.refined(), &[]);
    let half = flow_a(&p.halved(), &[]);
    let b = limit::method_b_with(
        &pb,
        unit,
        limit::Stepping::Rk4 { h: pb.h },
        t_end,
        dt_out,
        &[],
    );
    let diff = |x: &[f64]| -> Vec<f64> { main.risk.iter().zip(x).map(|(u, v)| u - v).collect() };
    let out = LimitOut {
        layers,
        psi: psi.name(),
        d,
        unit: lunit.as_ref().map(|u| u.source.clone()),
        times: main.times.clone(),
        risk: main.risk.clone(),
        track_a: track.clone(),
        gamma: main.gamma.clone(),
        alpha: main.alpha.clone(),
        diff_ab: diff(&b.risk),
        risk_b: b.risk.clone(),
        node_diff: diff(&fine.risk),
        step_diff: diff(&half.risk),
        bound_kind: BoundKind::Estimate.as_str(),
        table_check: main.table_check.max(fine.table_check),
        a_nodes: p.a_nodes,
        dt: p.h,
        b_particles: pb.particles(),
        b_dt: pb.h,
        version: env!("CARGO_PKG_VERSION"),
    };
    let all: Vec<f64> = out
        .risk
        .iter()
        .chain(&out.risk_b)
        .chain(out.gamma.iter().flatten())
        .chain(out.alpha.iter().flatten())
        .chain(&out.diff_ab)
        .chain(&out.node_diff)
        .chain(&out.step_diff)
        .chain(std::iter::once(&out.table_check))
        .copied()
        .collect();
    let csv = || {
        let mut s = String::from("t,risk,risk_b,diff_ab,node_diff,step_diff,bound_kind");
        for x in &track {
            s += &format!(",gamma_a{x},alpha_a{x}");
        }
        s.push('\n');
        for i in 0..out.times.len() {
            s += &format!(
                "{:.16e},{:.16e},{:.16e},{:.3e},{:.3e},{:.3e},{}",
                out.times[i],
                out.risk[i],
                out.risk_b[i],
                out.diff_ab[i],
                out.node_diff[i],
                out.step_diff[i],
                out.bound_kind
            );
            for k in 0..track.len() {
                s += &format!(",{:.16e},{:.16e}", out.gamma[i][k], out.alpha[i][k]);
            }
            s.push('\n');
        }
        s
    };
    emit_checked(&all, "the limit", &out, a.format, csv, a.out.as_deref())
}

#[derive(Serialize)]
struct EvalOut {
    layers: usize,
    psi: &'static str,
    n: usize,
    d: usize,
    seed: u64,
    method: &'static str,
    /// Decimal strings (oracle: `digits` significant digits; f64: 17).
    risk: String,
    risk_err: Option<String>,
    /// vel1[j·N + i] = dθ_ij/dt.
    vel1: Vec<String>,
    vel1_err: Option<Vec<String>>,
    vel2: Vec<String>,
    vel2_err: Option<Vec<String>>,
    /// Kind of the printed errors (oracle only; the f64 route prints no bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    bound_kind: Option<&'static str>,
    /// The unit σ when it is not the default erf.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    /// The general route's series truncation (f64, non-erf unit only).
    #[serde(skip_serializing_if = "Option::is_none")]
    truncation: Option<Truncation>,
    version: &'static str,
}

/// Estimated truncation of the Hermite series at degree K (Parseval route, per pair; the f64
/// quadrature of the coefficient tables and the rounding are not included).
#[derive(Serialize)]
struct Truncation {
    degree: usize,
    risk: String,
    /// Largest over all velocities.
    velocity_max: String,
    bound_kind: &'static str,
}

/// --t-end positive and --dt-out positive with at most `MAX_TIMES` output times.
/// η positive, at most 1e6 steps, and --t-end, --dt-out whole multiples of it.
fn check_eta(eta: f64, t_end: f64, dt_out: f64) -> Result<(), CliError> {
    if !(eta.is_finite() && eta > 0.0 && t_end / eta <= 1e6) {
        return Err(usage(format!(
            "--eta {eta}: must be positive with at most 1e6 steps"
        )));
    }
    for (name, v) in [("--t-end", t_end), ("--dt-out", dt_out)] {
        if limit::euler_steps(v, eta).is_none() {
            return Err(usage(format!(
                "{name} {v}: must be a whole multiple of --eta {eta}"
            )));
        }
    }
    // The intervals the runs step through (a --t-end just past a multiple of --dt-out adds a
    // short last interval, which must also be whole steps).
    let times = limit::output_times(t_end, dt_out);
    if let Some(w) = times
        .windows(2)
        .find(|w| limit::euler_steps(w[1] - w[0], eta).is_none())
    {
        return Err(usage(format!(
            "--t-end {t_end}: the output interval [{}, {}] is not a whole multiple of --eta {eta}",
            w[0], w[1]
        )));
    }
    Ok(())
}

#[derive(Serialize)]
struct DiscreteOut {
    layers: usize,
    psi: &'static str,
    d: usize,
    /// The unit σ when it is not the default erf.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    eta: f64,
    method: &'static str,
    times: Vec<f64>,
    risk: Vec<f64>,
    track_a: Vec<f64>,
    /// alpha[t][k] = α(track_a[k], times[t]) of the discrete map.
    alpha: Vec<Vec<f64>>,
    /// Method B refined (twice the a-nodes, θ0 and s panels) minus the main run.
    node_diff: Vec<f64>,
    /// ψ = id only: method B − method A with the same Euler steps (A is exact for id).
    #[serde(skip_serializing_if = "Option::is_none")]
    diff_ab: Option<Vec<f64>>,
    /// The flow's R_∞ (method A, RK4) at the same times: risk − risk_flow is the O(η) effect
    /// of the step.
    risk_flow: Vec<f64>,
    bound_kind: &'static str,
    a_nodes: usize,
    b_particles: usize,
    version: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn run_discrete(
    a: LimitArgs,
    layers: usize,
    psi: Psi,
    d: usize,
    eta: f64,
    p: &limit::Params,
    pb: &limit::BParams,
    track: &[f64],
    unit: limit::Unit,
) -> Result<(), CliError> {
    let (t_end, dt_out) = (a.t_end, a.dt_out);
    let euler = limit::Stepping::Euler { eta };
    let main = limit::method_b_with(pb, unit, euler, t_end, dt_out, track);
    let mut fine_p = *pb;
    fine_p.a_nodes *= 2;
    fine_p.theta_panels_per_unit *= 2;
    fine_p.s_panels_per_unit *= 2;
    let fine = limit::method_b_with(&fine_p, unit, euler, t_end, dt_out, &[]);
    let by_a = (psi == Psi::Id).then(|| limit::method_a_with(p, unit, euler, t_end, dt_out, &[]));
    let flow = limit::method_a_with(p, unit, limit::Stepping::Rk4 { h: p.h }, t_end, dt_out, &[]);
    let diff = |x: &[f64]| -> Vec<f64> { main.risk.iter().zip(x).map(|(u, v)| u - v).collect() };
    let out = DiscreteOut {
        layers,
        psi: psi.name(),
        d,
        unit: match unit {
            limit::Unit::Erf => None,
            limit::Unit::General(u) => Some(u.source.clone()),
        },
        eta,
        method: "B: ideal particles on a quadrature grid, Euler steps",
        times: main.times.clone(),
        risk: main.risk.clone(),
        track_a: track.to_vec(),
        alpha: main.alpha.clone(),
        node_diff: diff(&fine.risk),
        diff_ab: by_a.map(|t| diff(&t.risk)),
        risk_flow: flow.risk.clone(),
        bound_kind: BoundKind::Estimate.as_str(),
        a_nodes: pb.a_nodes,
        b_particles: pb.particles(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let all: Vec<f64> = out
        .risk
        .iter()
        .chain(out.alpha.iter().flatten())
        .chain(&out.node_diff)
        .chain(out.diff_ab.iter().flatten())
        .chain(&out.risk_flow)
        .copied()
        .collect();
    let csv = || {
        let mut s = String::from("t,risk,node_diff,diff_ab,bound_kind,risk_flow");
        for x in track {
            s += &format!(",alpha_a{x}");
        }
        s.push('\n');
        for i in 0..out.times.len() {
            let dab = match &out.diff_ab {
                Some(v) => format!("{:.3e}", v[i]),
                None => String::new(),
            };
            s += &format!(
                "{:.16e},{:.16e},{:.3e},{},{},{:.16e}",
                out.times[i], out.risk[i], out.node_diff[i], dab, out.bound_kind, out.risk_flow[i]
            );
            for k in 0..track.len() {
                s += &format!(",{:.16e}", out.alpha[i][k]);
            }
            s.push('\n');
        }
        s
    };
    emit_checked(
        &all,
        "the discrete limit",
        &out,
        a.format,
        csv,
        a.out.as_deref(),
    )
}

fn check_times(t_end: f64, dt_out: f64) -> Result<(), CliError> {
    if !(t_end.is_finite() && t_end > 0.0) {
        return Err(usage(format!("--t-end {t_end}: must be a positive number")));
    }
    if !(dt_out.is_finite() && dt_out > 0.0) || t_end / dt_out > MAX_TIMES {
        return Err(usage(format!(
            "--dt-out {dt_out}: must be positive with at most {MAX_TIMES} output times"
        )));
    }
    Ok(())
}

fn run_eval(a: EvalArgs) -> Result<(), CliError> {
    let layers = layers_of(a.net.layers)?;
    let psi = Psi::parse(&a.net.psi).map_err(usage)?;
    let d = dim_of(a.net.d)?;
    if a.n < 1 {
        return Err(usage(format!("--n {}: the width must be at least 1", a.n)));
    }
    let n = a.n as usize;
    deep::check_shape(layers, n, d, MAX_BYTES).map_err(usage)?;
    // The printed velocities dominate: per trained edge a decimal string (≤ 32 bytes plus a
    // 24-byte String header) and its JSON or CSV text (≤ 40 bytes), on top of the state.
    let edges = (layers - 1)
        .checked_mul(n)
        .and_then(|x| x.checked_mul(n))
        .unwrap_or(usize::MAX);
    let need = crate::memory::Bytes(Some(deep::state_bytes(layers, n, d) as u64))
        .plus(crate::memory::Bytes::items(edges, 96));
    crate::memory::check("deep eval", need).map_err(usage)?;
    if a.oracle {
        if n > ORACLE_MAX_N {
            return Err(usage(format!(
                "--n {n}: the oracle takes N <= {ORACLE_MAX_N}"
            )));
        }
        if !(10..=1000).contains(&a.digits) {
            return Err(usage(format!(
                "--digits {}: must be in 10..=1000",
                a.digits
            )));
        }
    }
    let unit = unit_of(&a.net.unit)?;
    if !(1..=deep::general::MAX_DEGREE as i64).contains(&a.unit_degree) {
        return Err(usage(format!(
            "--unit-degree {}: must be in 1..={}",
            a.unit_degree,
            deep::general::MAX_DEGREE
        )));
    }
    let unit = match unit {
        Some(spec) => Some(deep::general::Unit::new(&spec, a.unit_degree as usize).map_err(usage)?),
        None => None,
    };
    let net = deep::init(layers, n, d, psi, a.seed);
    if let Some(u) = &unit {
        return eval_general(&a, u, &net);
    }
    let out = if a.oracle {
        oracle_out(&oracle::evaluate(&net, a.digits as u32), &net, &a, None)
    } else {
        let e = finite::evaluate(&net);
        f64_out(e.risk, &e.vel1, &e.vel2, &net, &a, None, None)?
    };
    write_eval(&out, n, a.format, a.out.as_deref())
}

/// `deep eval` with a non-erf unit: the general route (f64 with the truncation estimate, or the
/// MPFR oracle of [`deep::oracle_general`]).
fn eval_general(a: &EvalArgs, unit: &deep::general::Unit, net: &deep::Net) -> Result<(), CliError> {
    let n = net.n;
    let source = Some(unit.spec.source.clone());
    let out = if a.oracle {
        let o = deep::oracle_general::evaluate(&unit.spec, net, unit.degree, a.digits as u32)
            .map_err(|e| CliError::Failure(format!("--unit {}: {e}", unit.spec.source)))?;
        oracle_out(&o, net, a, source)
    } else {
        let e = deep::general::evaluate(unit, net);
        require_finite(&[e.risk_tail, e.velocity_tail], "the truncation estimate")?;
        let t = Truncation {
            degree: unit.degree,
            risk: format!("{:.3e}", e.risk_tail),
            velocity_max: format!("{:.3e}", e.velocity_tail),
            bound_kind: BoundKind::Estimate.as_str(),
        };
        f64_out(e.risk, &e.vel1, &e.vel2, net, a, source, Some(t))?
    };
    write_eval(&out, n, a.format, a.out.as_deref())
}

/// The oracle's values as `digits`-digit decimals, errors rounded up, kind estimate.
fn oracle_out(
    o: &oracle::OracleEval,
    net: &deep::Net,
    a: &EvalArgs,
    unit: Option<String>,
) -> EvalOut {
    let digits = a.digits as u32;
    let dec = |v: &[rug::Float]| v.iter().map(|x| decimal(x, digits)).collect::<Vec<_>>();
    let bnd = |v: &[rug::Float]| v.iter().map(crate::output::bound_up).collect::<Vec<_>>();
    EvalOut {
        layers: net.layers,
        psi: net.psi.name(),
        n: net.n,
        d: net.d,
        seed: a.seed,
        method: "oracle",
        risk: decimal(&o.risk, digits),
        risk_err: Some(crate::output::bound_up(&o.risk_err)),
        vel1: dec(&o.vel1),
        vel1_err: Some(bnd(&o.vel1_err)),
        vel2: dec(&o.vel2),
        vel2_err: Some(bnd(&o.vel2_err)),
        bound_kind: Some(BoundKind::Estimate.as_str()),
        unit,
        truncation: None,
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// The f64 values (17 digits, no bound), after checking that every one is finite.
fn f64_out(
    risk: f64,
    vel1: &[f64],
    vel2: &[f64],
    net: &deep::Net,
    a: &EvalArgs,
    unit: Option<String>,
    truncation: Option<Truncation>,
) -> Result<EvalOut, CliError> {
    if !std::iter::once(&risk)
        .chain(vel1)
        .chain(vel2)
        .all(|x| x.is_finite())
    {
        return Err(CliError::Failure("non-finite risk or velocity".into()));
    }
    let f = |v: &[f64]| v.iter().map(|x| format!("{x:.16e}")).collect::<Vec<_>>();
    Ok(EvalOut {
        layers: net.layers,
        psi: net.psi.name(),
        n: net.n,
        d: net.d,
        seed: a.seed,
        method: "f64",
        risk: format!("{risk:.16e}"),
        risk_err: None,
        vel1: f(vel1),
        vel1_err: None,
        vel2: f(vel2),
        vel2_err: None,
        bound_kind: None,
        unit,
        truncation,
        version: env!("CARGO_PKG_VERSION"),
    })
}

fn write_eval(
    out: &EvalOut,
    n: usize,
    format: DeepFormat,
    path: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let text = match format {
        DeepFormat::Json => ser(out)?,
        DeepFormat::Csv => {
            let mut s = String::from("quantity,layer,j,i,value,error,bound_kind\n");
            let kind = out.bound_kind.unwrap_or_default();
            s += &format!(
                "risk,,,,{},{},{kind}\n",
                out.risk,
                out.risk_err.clone().unwrap_or_default()
            );
            for (layer, vals, errs) in
                [(1, &out.vel1, &out.vel1_err), (2, &out.vel2, &out.vel2_err)]
            {
                for (idx, v) in vals.iter().enumerate() {
                    let e = errs.as_ref().map(|x| x[idx].clone()).unwrap_or_default();
                    s += &format!("velocity,{layer},{},{},{v},{e},{kind}\n", idx / n, idx % n);
                }
            }
            if let Some(t) = &out.truncation {
                s += &format!("risk_truncation,,,,{},,{}\n", t.risk, t.bound_kind);
                s += &format!(
                    "velocity_truncation_max,,,,{},,{}\n",
                    t.velocity_max, t.bound_kind
                );
            }
            s
        }
    };
    emit(&text, path)
}

/// The runs of `deep train`: every width (ascending), then every draw.
fn cases(a: &TrainArgs, psi: Psi, d: usize) -> Vec<deep::train::Case> {
    let mut out = Vec::new();
    for &n in &a.widths {
        for r in 0..a.draws as usize {
            out.push(deep::train::Case {
                n: n as usize,
                d,
                psi,
                seed: a.seed,
                draw: r,
                t_end: a.t_end,
                dt_out: a.dt_out,
            });
        }
    }
    out
}

fn run_train(a: TrainArgs) -> Result<(), CliError> {
    let general = match unit_of(&a.net.unit)? {
        None => None,
        Some(spec) => {
            Some(deep::general::Unit::new(&spec, deep::general::DEFAULT_DEGREE).map_err(usage)?)
        }
    };
    let layers = layers_of(a.net.layers)?;
    let psi = Psi::parse(&a.net.psi).map_err(usage)?;
    let d = dim_of(a.net.d)?;
    if let Some(w) = a.widths.iter().find(|&&w| w < 1) {
        return Err(usage(format!("--widths: width {w} must be at least 1")));
    }
    if a.widths.windows(2).any(|w| w[1] <= w[0]) {
        return Err(usage("--widths: must be strictly increasing"));
    }
    if !(1..=MAX_DRAWS).contains(&a.draws) {
        return Err(usage(format!(
            "--draws {}: must be between 1 and {MAX_DRAWS}",
            a.draws
        )));
    }
    if a.rates.summary.is_some() && a.draws < 2 {
        return Err(usage(format!(
            "--summary: needs --draws 2 or more (the spread over draws and the bootstrap), got {}",
            a.draws
        )));
    }
    check_times(a.t_end, a.dt_out)?;
    if !(a.dt.is_finite() && a.dt > 0.0 && a.t_end / a.dt <= 1e7) {
        return Err(usage(format!(
            "--dt {}: must be positive with at most 1e7 steps",
            a.dt
        )));
    }
    if let Some(eta) = a.eta {
        check_eta(eta, a.t_end, a.dt_out)?;
    }
    let init = deep::train::Init::parse(&a.rates.init).map_err(usage)?;
    check_corr_times(&a.rates, a.eta.is_some(), a.t_end, a.dt_out)?;
    if layers == 3 && init != deep::train::Init::Iid {
        return Err(usage(
            "--init stratified is for --layers 2 only".to_string(),
        ));
    }
    let nmax = *a.widths.last().unwrap() as usize;
    let n_times = (a.t_end / a.dt_out).ceil() as usize + 2;
    if let Some(unit) = &general {
        return train_general(&a, psi, d, layers, init, unit, nmax, n_times);
    }
    let pb = limit::BParams::new(psi);
    let bytes = match (layers, a.eta) {
        (3, _) => l3::train_bytes(nmax, d, a.t_end, a.eta, &pb, !a.rates.corr_times.is_empty()),
        (_, None) => {
            deep::train::train_bytes_with(nmax, d, n_times, !a.rates.corr_times.is_empty())
        }
        (_, Some(eta)) => deep::train::euler_bytes(nmax, d, (a.t_end / eta).round() as usize, &pb),
    } + rows_bytes(a.widths.len(), a.draws as usize, n_times);
    crate::memory::check("deep train", crate::memory::Bytes(Some(bytes as u64))).map_err(usage)?;
    if bytes > MAX_BYTES || nmax > 1 << 20 {
        return Err(usage(format!(
            "--widths: N = {nmax} needs about {bytes:.3e} bytes, more than the limit {MAX_BYTES:.3e}"
        )));
    }
    eprintln!(
        "mforacle deep train: about {:.1} MiB for the largest width",
        bytes / 1048576.0
    );
    let extras = deep::train::Extras {
        init,
        corr_times: a.rates.corr_times.clone(),
    };
    let lp = limit::Params::new(psi);
    if layers == 3 {
        return l3::run_train(&a, psi, d, &lp, &pb);
    }
    let mut rows = Vec::new();
    let mut corr = Vec::new();
    for case in cases(&a, psi, d) {
        match a.eta {
            None => {
                let o = deep::train::run_with(&case, a.dt, &lp, &extras);
                rows.extend(o.rows);
                corr.extend(o.corr);
            }
            Some(eta) => rows.extend(deep::train::run_euler_with(&case, eta, &pb, init)),
        }
    }
    if !rows.iter().all(|r| {
        [r.risk, r.risk_limit, r.edge_gap, r.node_gap, r.function_gap]
            .iter()
            .all(|x| x.is_finite())
    }) || !corr
        .iter()
        .all(|c| [c.finite, c.ideal, c.limit].iter().all(|x| x.is_finite()))
    {
        return Err(CliError::Failure(
            "the flow produced a non-finite value".into(),
        ));
    }
    let text = match a.format {
        DeepFormat::Json => ser(&rows)?,
        DeepFormat::Csv => {
            let mut s =
                String::from("t,n,draw,risk,risk_limit,loss_gap,edge_gap,node_gap,function_gap\n");
            for r in &rows {
                s += &format!(
                    "{:.16e},{},{},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e}\n",
                    r.t,
                    r.n,
                    r.draw,
                    r.risk,
                    r.risk_limit,
                    r.loss_gap,
                    r.edge_gap,
                    r.node_gap,
                    r.function_gap
                );
            }
            s
        }
    };
    // Both texts before any file (a non-finite summary value fails here, writing nothing);
    // then the main output: a failing --out leaves no summary behind.
    let mut summary = None;
    if let Some(path) = &a.rates.summary {
        let out = SummaryOut {
            layers,
            psi: psi.name(),
            d,
            init: init.name(),
            widths: a.widths.iter().map(|&w| w as usize).collect(),
            draws: a.draws as usize,
            summary: deep::rates::summary(&rows, init == deep::train::Init::Stratified),
            correlations: corr,
            version: env!("CARGO_PKG_VERSION"),
        };
        summary = Some((ser(&out)?, path));
    }
    emit(&text, a.out.as_deref())?;
    if let Some((text, path)) = summary {
        emit(&text, Some(path))?;
    }
    Ok(())
}

/// Bytes of the rows every width and draw leaves for the output: the row (9 numbers) and its
/// JSON text (at most 9 numbers of 25 characters with their keys), 400 bytes allowed.
fn rows_bytes(widths: usize, draws: usize, n_times: usize) -> f64 {
    400.0 * widths as f64 * draws as f64 * n_times as f64
}

/// Largest estimated CPU time of `deep train --unit` (seconds), checked before any work.
const MAX_GENERAL_SECONDS: f64 = 86400.0;

/// `deep train --unit SPEC` (a non-default unit): L = 2, RK4, i.i.d. or stratified features
/// ([`deep::train_unit`]); the rows without the function gap, each with the unit.
#[allow(clippy::too_many_arguments)]
fn train_general(
    a: &TrainArgs,
    psi: Psi,
    d: usize,
    layers: usize,
    init: deep::train::Init,
    unit: &deep::general::Unit,
    nmax: usize,
    n_times: usize,
) -> Result<(), CliError> {
    if layers != 2 || a.eta.is_some() || !a.rates.corr_times.is_empty() || a.rates.summary.is_some()
    {
        return Err(usage(format!(
            "--unit {}: deep train with a non-default unit supports --layers 2 with the RK4 \
             flow only (no --eta, --corr-times, --summary)",
            a.net.unit
        )));
    }
    let k = unit.degree;
    let bytes = deep::train_unit::train_bytes(nmax, d, k, n_times);
    crate::memory::check("deep train", crate::memory::Bytes(Some(bytes as u64))).map_err(usage)?;
    if bytes > MAX_BYTES {
        return Err(usage(format!(
            "--widths: N = {nmax} needs about {bytes:.3e} bytes, more than the limit {MAX_BYTES:.3e}"
        )));
    }
    // 4 evaluations per RK4 step, one more per output time; every width and draw.
    let steps = (a.t_end / a.dt).ceil() + n_times as f64;
    let secs: f64 = a
        .widths
        .iter()
        .map(|&n| deep::train_unit::seconds_per_evaluation(n as usize, k) * 4.0 * steps)
        .sum::<f64>()
        * a.draws as f64;
    if secs > MAX_GENERAL_SECONDS {
        return Err(usage(format!(
            "--widths: the general unit's O(N^2 K) velocities would take about {secs:.1e} CPU \
             seconds (more than {MAX_GENERAL_SECONDS:.0}); use smaller widths, fewer draws or \
             a larger --dt"
        )));
    }
    eprintln!(
        "mforacle deep train: about {:.1} MiB for the largest width, about {:.0} CPU s (estimate)",
        bytes / 1048576.0,
        secs
    );
    let lp = limit::Params::new(psi);
    let lu = deep::limit_unit::LimitUnit::new(unit);
    let mut rows = Vec::new();
    for case in cases(a, psi, d) {
        rows.extend(deep::train_unit::run(&case, a.dt, &lp, unit, &lu, init));
    }
    if !rows.iter().all(|r| {
        [r.risk, r.risk_limit, r.edge_gap, r.node_gap]
            .iter()
            .all(|x| x.is_finite())
    }) {
        return Err(CliError::Failure(
            "the flow produced a non-finite value".into(),
        ));
    }
    #[derive(Serialize)]
    struct UnitRow<'a> {
        #[serde(flatten)]
        row: &'a deep::train_unit::Row,
        unit: &'a str,
    }
    let text = match a.format {
        DeepFormat::Json => ser(&rows
            .iter()
            .map(|row| UnitRow {
                row,
                unit: &unit.spec.source,
            })
            .collect::<Vec<_>>())?,
        DeepFormat::Csv => {
            let mut s = String::from("t,n,draw,risk,risk_limit,loss_gap,edge_gap,node_gap,unit\n");
            for r in &rows {
                s += &format!(
                    "{:.16e},{},{},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e},\"{}\"\n",
                    r.t,
                    r.n,
                    r.draw,
                    r.risk,
                    r.risk_limit,
                    r.loss_gap,
                    r.edge_gap,
                    r.node_gap,
                    unit.spec.source.replace('"', "\"\"")
                );
            }
            s
        }
    };
    emit(&text, a.out.as_deref())
}

/// The `--summary` file of `deep train`.
#[derive(Serialize)]
struct SummaryOut {
    layers: usize,
    psi: &'static str,
    d: usize,
    init: &'static str,
    widths: Vec<usize>,
    draws: usize,
    summary: Vec<deep::rates::SummaryRow>,
    correlations: Vec<deep::train::CorrRow>,
    version: &'static str,
}

/// --corr-times: finite, in [0, t_end], RK4 only, and only with --summary (where they go).
fn check_corr_times(r: &RatesArgs, euler: bool, t_end: f64, dt_out: f64) -> Result<(), CliError> {
    if r.corr_times.is_empty() {
        return Ok(());
    }
    if euler {
        return Err(usage(
            "--corr-times: only with the RK4 flow (not with --eta)",
        ));
    }
    if r.summary.is_none() {
        return Err(usage(
            "--corr-times: needs --summary FILE (the correlations go there)",
        ));
    }
    if let Some(t) = r
        .corr_times
        .iter()
        .find(|t| !(t.is_finite() && **t > 0.0 && **t <= t_end))
    {
        // At t = 0 every increment is zero: the correlation is 0/0.
        return Err(usage(format!("--corr-times {t}: must lie in (0, --t-end]")));
    }
    let on_grid = |t: f64| {
        let k = (t / dt_out).round();
        (t - k * dt_out).abs() <= 1e-9 * t.max(1.0) || (t - t_end).abs() <= 1e-9 * t_end
    };
    if let Some(t) = r.corr_times.iter().find(|t| !on_grid(**t)) {
        return Err(usage(format!(
            "--corr-times {t}: must be an output time (a multiple of --dt-out, or --t-end)"
        )));
    }
    Ok(())
}
