//! `mforacle meanfield --student SPEC [--teacher SPEC] --d D --t-end T [--dt-out 0.5]
//!  [--loss-scale full|half] [--noise-variance V] [--panels N] [--order Q] [--rtol R]
//!  [--threshold 0.9] [--track a0,a1,...] [--check-nodes [--check-panels P]] [--out DIR]
//!  [--format csv|json]`
//!
//! The exact reduced mean-field flow for a uniform start (docs/conventions.md §4), in f64
//! ([`crate::meanfield::flow`]). One row per output time k·dt-out (and t-end), columns
//! `t,loss,risk,alpha_mean_abs,escaped_fraction,q05,q25,q50,q75,q95`, and with
//! `--check-nodes` one `*_node_diff` column per quantity: |value − value of a second run with
//! `--check-panels` panels per side| (default panels/2), the measured node-convergence error
//! (of the coarser run; the finer one is more accurate). Numbers are printed with 17 significant
//! digits (`{:.16e}`), which round-trips every f64.
//!
//! `--out DIR` (created if missing) writes, each atomically: `meanfield.csv`, `meanfield.json`
//! (every parameter, the crate version, the model's series degree and truncation bounds, node
//! diagnostics, integrator counters, every row with its histogram), and with `--track`
//! `trajectories.csv` (α_t of each tracked α_0) and `escape_times.csv` (first time |α_t| ≥
//! threshold, empty when not reached by t-end). Without `--out`, the CSV (or with `--format
//! json` the JSON document) goes to standard output.
//!
//! `--oracle --digits D` runs the MPFR oracle flow (`crate::meanfield::oracle`) instead, with
//! its achieved accuracy in every row ([`run_oracle`]).

use super::{emit, CliError};
use crate::activation::Spec;
use crate::conventions::BoundKind;
use crate::meanfield::flow::{Flow, Layout, Snapshot, SummarySpec, Tolerance};
use crate::meanfield::Model;
use crate::output::finite;
use crate::population::LossScale;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Output formats of the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MfFormat {
    Csv,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pair: super::pair::SpecPair,
    #[arg(long, allow_negative_numbers = true)]
    d: i64,
    #[arg(long, allow_negative_numbers = true)]
    t_end: f64,
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    dt_out: f64,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    /// Label-noise variance ν² (adds scale·ν² to the loss).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise_variance: f64,
    /// Panels per side of α = 0 (breakpoints (j/N)^grading).
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    panels: i64,
    /// Gauss–Legendre nodes per panel.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    order: i64,
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
    grading: f64,
    /// Error-per-step tolerance of the integrator (relative and absolute, on α).
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    rtol: f64,
    /// Escape threshold on |α|.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    threshold: f64,
    /// Initial overlaps α_0 to follow (trajectories and escape times), comma separated.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    track: Vec<f64>,
    /// Rerun with --check-panels panels and print the differences.
    #[arg(long)]
    check_nodes: bool,
    /// Panels per side of the comparison run (default: panels/2).
    #[arg(long, allow_negative_numbers = true)]
    check_panels: Option<i64>,
    /// Histogram bins on [-1, 1] (JSON output).
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    bins: i64,
    /// Series degree of non-polynomial kernels (polynomials are exact).
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    degree: i64,
    /// Digits of the coefficient tables (and of the oracle).
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    digits: u32,
    /// The MPFR oracle flow instead of the f64 flow.
    #[arg(long)]
    oracle: bool,
    #[arg(long, value_enum, default_value_t = MfFormat::Csv)]
    format: MfFormat,
    /// Output directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

const LEVELS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];
/// Largest number of output rows.
const MAX_ROWS: f64 = 1e6;

use crate::conventions::usage;

/// Checked inputs.
struct Setup {
    model: Model,
    layout: Layout,
    check: Option<Layout>,
    tol: Tolerance,
    times: Vec<f64>,
    spec: SummarySpec,
}

fn positive(name: &str, v: i64) -> Result<usize, CliError> {
    if v <= 0 {
        Err(usage(format!("--{name} {v}: must be a positive integer")))
    } else {
        Ok(v as usize)
    }
}

fn setup(a: &Args) -> Result<Setup, CliError> {
    let (student, teacher) = a
        .pair
        .parse_with(|s, _| Spec::parse(s).map_err(|e| usage(e.to_string())))?;
    if a.d < 3 {
        return Err(usage(format!("--d {}: the reduced flow needs d >= 3", a.d)));
    }
    if !(a.t_end.is_finite() && a.t_end > 0.0) {
        return Err(usage(format!(
            "--t-end {}: must be finite and > 0",
            a.t_end
        )));
    }
    if !(a.dt_out.is_finite() && a.dt_out > 0.0) {
        return Err(usage(format!(
            "--dt-out {}: must be finite and > 0",
            a.dt_out
        )));
    }
    if a.t_end / a.dt_out > MAX_ROWS {
        return Err(usage(format!(
            "--t-end / --dt-out = {}: more than {MAX_ROWS} output rows",
            a.t_end / a.dt_out
        )));
    }
    if !(a.noise_variance.is_finite() && a.noise_variance >= 0.0) {
        return Err(usage("--noise-variance must be a finite number >= 0"));
    }
    if !(a.rtol.is_finite() && a.rtol >= 1e-15 && a.rtol < 1e-2) {
        return Err(usage(format!(
            "--rtol {}: must be in [1e-15, 1e-2)",
            a.rtol
        )));
    }
    if !(a.threshold > 0.0 && a.threshold < 1.0) {
        return Err(usage(format!(
            "--threshold {}: must be in (0, 1)",
            a.threshold
        )));
    }
    if let Some(x) = a.track.iter().find(|x| !(x.is_finite() && x.abs() <= 1.0)) {
        return Err(usage(format!("--track {x}: overlaps must be in [-1, 1]")));
    }
    let panels = positive("panels", a.panels)?;
    let order = positive("order", a.order)?;
    let bins = positive("bins", a.bins)?;
    if bins > 10000 {
        return Err(usage(format!("--bins {bins}: at most 10000")));
    }
    let degree = positive("degree", a.degree)?;
    if a.digits == 0 || a.digits > crate::coeffs::MAX_DIGITS {
        return Err(usage(format!(
            "--digits {} is out of range (1..={})",
            a.digits,
            crate::coeffs::MAX_DIGITS
        )));
    }
    let layout = Layout {
        panels,
        order,
        grading: a.grading,
    };
    layout
        .validate()
        .map_err(|e| usage(format!("node layout: {e}")))?;
    let check = if a.check_nodes {
        let p = match a.check_panels {
            Some(p) => positive("check-panels", p)?,
            None => (panels / 2).max(1),
        };
        if p == panels {
            return Err(usage(format!(
                "--check-panels {p}: must differ from --panels (default panels/2)"
            )));
        }
        Some(Layout {
            panels: p,
            ..layout
        })
    } else {
        if a.check_panels.is_some() {
            return Err(usage("--check-panels needs --check-nodes"));
        }
        None
    };
    let check_panels = check.as_ref().map_or(0, |c| c.panels);
    crate::memory::check(
        "meanfield",
        memory_estimate(
            panels,
            check_panels,
            order,
            a.t_end / a.dt_out,
            a.track.len(),
        ),
    )
    .map_err(usage)?;
    let scale = a.loss_scale;
    // The oracle's tables carry 10 guard digits beyond the digits it is asked for.
    let table_digits = if a.oracle {
        (a.digits + 10).min(crate::coeffs::MAX_DIGITS)
    } else {
        a.digits
    };
    let model = Model::new(
        &student,
        &teacher,
        a.d as usize,
        degree,
        table_digits,
        scale,
        a.noise_variance,
    )
    .map_err(|e| usage(e.to_string()))?;
    let n = (a.t_end / a.dt_out + 1e-9).floor() as usize;
    let mut times: Vec<f64> = (0..=n).map(|k| k as f64 * a.dt_out).collect();
    if a.t_end - times[n] > 1e-9 * a.t_end {
        times.push(a.t_end);
    } else {
        times[n] = a.t_end;
    }
    Ok(Setup {
        model,
        layout,
        check,
        tol: Tolerance::new(a.rtol),
        times,
        spec: SummarySpec {
            threshold: a.threshold,
            quantile_levels: LEVELS.to_vec(),
            bins,
        },
    })
}

/// `--oracle`: the MPFR oracle flow ([`crate::meanfield::oracle`], independent of the f64
/// flow), with every accuracy check on (rerun with halved steps, at 64 more bits, and with
/// twice the panels). CSV columns `t,loss,alpha_mean_abs,err_time,err_rounding,err_nodes,
/// err_kernel,err_total,digits,bound_kind`: the loss and E|α| with `--digits` significant
/// digits, the error estimates with 3, `digits` = −log10(err_total/|loss|), the digits the
/// estimates support, and `bound_kind` = `estimate` (the step-halving, +64-bit and
/// panel-doubling differences are a-posteriori). Written to standard output or
/// `DIR/meanfield_oracle.csv`.
fn run_oracle(a: &Args, s: &Setup) -> Result<(), CliError> {
    use crate::meanfield::oracle;
    if a.grading.fract() != 0.0 {
        return Err(usage(format!(
            "--grading {}: the oracle takes an integer grading",
            a.grading
        )));
    }
    let steps = a.t_end / a.dt_out;
    if (steps - steps.round()).abs() > 1e-9 * steps.max(1.0) {
        return Err(usage(format!(
            "--oracle: --t-end {} must be a whole number of --dt-out {}",
            a.t_end, a.dt_out
        )));
    }
    let opts = oracle::OracleOptions {
        layout: oracle::Layout {
            panels: s.layout.panels,
            order: s.layout.order,
            grading: a.grading as u32,
        },
        digits: a.digits,
        t_end: a.t_end,
        dt_out: a.dt_out,
        ..oracle::OracleOptions::default()
    };
    let curve = oracle::run(&s.model, &opts).map_err(|e| usage(e.to_string()))?;
    let e3 = |x: Option<f64>| x.map_or("".to_string(), |v| format!("{v:.3e}"));
    let mut text = String::from(
        "t,loss,alpha_mean_abs,err_time,err_rounding,err_nodes,err_kernel,err_total,digits,bound_kind\n",
    );
    for r in &curve.rows {
        text.push_str(&format!(
            "{},{},{},{:.3e},{},{},{:.3e},{:.3e},{:.1},estimate\n",
            crate::output::decimal(&r.t, 17),
            crate::output::decimal(&r.loss, a.digits),
            crate::output::decimal(&r.alpha_mean_abs, a.digits),
            r.err_time,
            e3(r.err_rounding),
            e3(r.err_nodes),
            r.err_kernel,
            r.err_total,
            r.digits
        ));
    }
    match &a.out {
        None => emit(&text, None),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", dir.display())))?;
            emit(&text, Some(&dir.join("meanfield_oracle.csv")))
        }
    }
}

/// One run: snapshots at `times`, tracked trajectories, escape times, counters.
struct RunResult {
    snaps: Vec<Snapshot>,
    tracks: Vec<Vec<f64>>,
    escape: Vec<Option<f64>>,
    stats: crate::meanfield::flow::Stats,
    node_count: usize,
    weight_sum_error: f64,
}

fn integrate(
    s: &Setup,
    layout: Layout,
    track: &[f64],
    threshold: f64,
) -> Result<RunResult, CliError> {
    let fail = |e: crate::meanfield::flow::FlowError| CliError::Failure(e.to_string());
    let mut f = Flow::new(&s.model, layout, s.tol).map_err(fail)?;
    f.set_escape_threshold(threshold).map_err(fail)?;
    f.add_test_particles(track).map_err(fail)?;
    let mut snaps = Vec::with_capacity(s.times.len());
    let mut tracks = Vec::with_capacity(s.times.len());
    for &t in &s.times {
        f.advance_to(t).map_err(fail)?;
        snaps.push(f.snapshot(&s.spec));
        tracks.push(f.test_alpha().to_vec());
    }
    Ok(RunResult {
        snaps,
        tracks,
        escape: f.escape_times().to_vec(),
        stats: f.stats(),
        node_count: f.nodes().len(),
        weight_sum_error: f.nodes().weight_sum_error,
    })
}

/// The values of a row that get a node difference, in column order.
fn row_values(s: &Snapshot) -> Vec<f64> {
    let mut v = vec![s.loss, s.risk, s.alpha_mean_abs, s.escaped_fraction];
    v.extend(s.quantiles.iter().map(|q| q.1));
    v
}

const COLUMNS: [&str; 9] = [
    "loss",
    "risk",
    "alpha_mean_abs",
    "escaped_fraction",
    "q05",
    "q25",
    "q50",
    "q75",
    "q95",
];

fn num(x: f64) -> String {
    format!("{x:.16e}")
}

fn csv(main: &RunResult, diffs: Option<&[Vec<f64>]>) -> String {
    let mut out = String::from("t");
    for c in COLUMNS {
        out.push(',');
        out.push_str(c);
    }
    if diffs.is_some() {
        for c in COLUMNS {
            out.push_str(&format!(",{c}_node_diff"));
        }
    }
    out.push('\n');
    for (k, s) in main.snaps.iter().enumerate() {
        out.push_str(&num(s.t));
        for v in row_values(s) {
            out.push(',');
            out.push_str(&num(v));
        }
        if let Some(d) = diffs {
            for v in &d[k] {
                out.push(',');
                out.push_str(&num(*v));
            }
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct F(#[serde(serialize_with = "finite")] f64);

#[derive(Serialize)]
struct JsonRow {
    #[serde(serialize_with = "finite")]
    t: f64,
    #[serde(serialize_with = "finite")]
    loss: f64,
    #[serde(serialize_with = "finite")]
    risk: f64,
    #[serde(serialize_with = "finite")]
    alpha_mean_abs: f64,
    #[serde(serialize_with = "finite")]
    escaped_fraction: f64,
    quantiles: Vec<(F, F)>,
    histogram: Vec<F>,
    /// |this − comparison run| per column of the CSV (with --check-nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    node_diff: Option<Vec<F>>,
}

#[derive(Serialize)]
struct Tracked {
    #[serde(serialize_with = "finite")]
    alpha0: f64,
    /// First time |α_t| ≥ threshold; null when not reached by t_end.
    escape_time: Option<F>,
    alpha: Vec<F>,
}

#[derive(Serialize)]
struct Doc {
    command: &'static str,
    crate_version: &'static str,
    student: String,
    teacher: String,
    d: usize,
    loss_scale: &'static str,
    #[serde(serialize_with = "finite")]
    noise_variance: f64,
    #[serde(serialize_with = "finite")]
    t_end: f64,
    #[serde(serialize_with = "finite")]
    dt_out: f64,
    #[serde(serialize_with = "finite")]
    threshold: f64,
    panels: usize,
    order: usize,
    #[serde(serialize_with = "finite")]
    grading: f64,
    node_count: usize,
    /// Σ node weights − 1.
    #[serde(serialize_with = "finite")]
    weight_sum_error: f64,
    #[serde(serialize_with = "finite")]
    rtol: f64,
    #[serde(serialize_with = "finite")]
    atol: f64,
    series_degree: usize,
    digits: u32,
    exact_series: bool,
    /// Series truncation bounds of κ and ψ (value, first, second derivative); null = none.
    kappa_tail: Vec<Option<F>>,
    psi_tail: Vec<Option<F>>,
    /// Their kind: "exact" (zero) for exact series (polynomials), else "estimate" (Parseval
    /// remainders from quadrature norms).
    tail_bound_kind: BoundKind,
    /// The kind of `node_diff` and `max_node_diff`, the accuracy measure of the flow's values:
    /// "estimate" (the difference to a run with another node layout).
    node_diff_bound_kind: BoundKind,
    accepted_steps: usize,
    rejected_steps: usize,
    rhs_evaluations: usize,
    quantile_levels: Vec<F>,
    bins: usize,
    check_panels: Option<usize>,
    /// Largest node difference per CSV column over all rows.
    max_node_diff: Option<Vec<(String, F)>>,
    rows: Vec<JsonRow>,
    tracked: Vec<Tracked>,
}

fn tails(t: &[f64; 3]) -> Vec<Option<F>> {
    t.iter().map(|x| x.is_finite().then_some(F(*x))).collect()
}

pub fn run(a: Args) -> Result<(), CliError> {
    let s = setup(&a)?;
    if a.oracle {
        return run_oracle(&a, &s);
    }
    let main = integrate(&s, s.layout, &a.track, a.threshold)?;
    let diffs: Option<Vec<Vec<f64>>> = match s.check {
        Some(l) => {
            let other = integrate(&s, l, &[], a.threshold)?;
            Some(
                main.snaps
                    .iter()
                    .zip(&other.snaps)
                    .map(|(x, y)| {
                        row_values(x)
                            .iter()
                            .zip(row_values(y))
                            .map(|(u, v)| (u - v).abs())
                            .collect()
                    })
                    .collect(),
            )
        }
        None => None,
    };
    let table = csv(&main, diffs.as_deref());
    let doc = Doc {
        command: "meanfield",
        crate_version: env!("CARGO_PKG_VERSION"),
        student: s.model.student.source.clone(),
        teacher: s.model.teacher.source.clone(),
        d: s.model.d,
        loss_scale: a.loss_scale.name(),
        noise_variance: a.noise_variance,
        t_end: a.t_end,
        dt_out: a.dt_out,
        threshold: a.threshold,
        panels: s.layout.panels,
        order: s.layout.order,
        grading: s.layout.grading,
        node_count: main.node_count,
        weight_sum_error: main.weight_sum_error,
        rtol: s.tol.rtol,
        atol: s.tol.atol,
        series_degree: s.model.degree,
        digits: s.model.digits,
        exact_series: s.model.exact,
        kappa_tail: tails(&s.model.kappa.tail),
        psi_tail: tails(&s.model.psi.tail),
        tail_bound_kind: if s.model.exact {
            BoundKind::Exact
        } else {
            BoundKind::Estimate
        },
        node_diff_bound_kind: BoundKind::Estimate,
        accepted_steps: main.stats.accepted,
        rejected_steps: main.stats.rejected,
        rhs_evaluations: main.stats.rhs_evaluations,
        quantile_levels: LEVELS.iter().map(|x| F(*x)).collect(),
        bins: s.spec.bins,
        check_panels: s.check.map(|l| l.panels),
        max_node_diff: diffs.as_ref().map(|d| {
            COLUMNS
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    (
                        name.to_string(),
                        F(d.iter().map(|r| r[c]).fold(0.0, f64::max)),
                    )
                })
                .collect()
        }),
        rows: main
            .snaps
            .iter()
            .enumerate()
            .map(|(k, x)| JsonRow {
                t: x.t,
                loss: x.loss,
                risk: x.risk,
                alpha_mean_abs: x.alpha_mean_abs,
                escaped_fraction: x.escaped_fraction,
                quantiles: x.quantiles.iter().map(|q| (F(q.0), F(q.1))).collect(),
                histogram: x.histogram.iter().map(|h| F(*h)).collect(),
                node_diff: diffs.as_ref().map(|d| d[k].iter().map(|v| F(*v)).collect()),
            })
            .collect(),
        tracked: a
            .track
            .iter()
            .enumerate()
            .map(|(i, a0)| Tracked {
                alpha0: *a0,
                escape_time: main.escape[i].map(F),
                alpha: main.tracks.iter().map(|r| F(r[i])).collect(),
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&doc)
        .map_err(|e| CliError::Failure(format!("JSON: {e}")))?
        + "\n";
    match &a.out {
        None => match a.format {
            MfFormat::Csv => emit(&table, None),
            MfFormat::Json => emit(&json, None),
        },
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", dir.display())))?;
            let file = |name: &str| -> PathBuf { Path::new(dir).join(name) };
            if !a.track.is_empty() {
                let mut tr = String::from("t");
                for a0 in &a.track {
                    tr.push_str(&format!(",alpha0={}", num(*a0)));
                }
                tr.push('\n');
                for (sn, row) in main.snaps.iter().zip(&main.tracks) {
                    tr.push_str(&num(sn.t));
                    for v in row {
                        tr.push(',');
                        tr.push_str(&num(*v));
                    }
                    tr.push('\n');
                }
                emit(&tr, Some(&file("trajectories.csv")))?;
                let mut es = String::from("alpha0,escape_time\n");
                for (a0, e) in a.track.iter().zip(&main.escape) {
                    es.push_str(&format!(
                        "{},{}\n",
                        num(*a0),
                        e.map(num).unwrap_or_default()
                    ));
                }
                emit(&es, Some(&file("escape_times.csv")))?;
            }
            emit(&table, Some(&file("meanfield.csv")))?;
            emit(&json, Some(&file("meanfield.json")))
        }
    }
}

/// Estimated peak memory of `meanfield` ([`crate::memory`]; an estimate): 2·panels·order
/// nodes per layout (the run's and, with `--check-nodes`, the comparison's) at 256 B each
/// (the state, the integrator's stages and the node tables: measured ≈ 120 B per node for
/// h_4 and tanh at d = 32, `--panels 1000` and `4000`, 10 and 22 MB peak), the output rows at
/// (tracks + 32) × 32 B, and 16 MiB of fixed tables. Checked arithmetic throughout.
pub fn memory_estimate(
    panels: usize,
    check_panels: usize,
    order: usize,
    rows: f64,
    tracks: usize,
) -> crate::memory::Bytes {
    use crate::memory::Bytes;
    let nodes = |p: usize| Bytes::items(p, 2).times(order);
    let rows = if (0.0..1e15).contains(&rows) {
        rows as usize + 2
    } else {
        usize::MAX
    };
    nodes(panels)
        .plus(nodes(check_panels))
        .times(256)
        .plus(Bytes::items(rows, 32).times(tracks.saturating_add(32)))
        .plus(Bytes::items(16, 1 << 20))
}
