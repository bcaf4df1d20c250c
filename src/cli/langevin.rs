//! `mforacle langevin gibbs`: the Gibbs fixed point of mean-field Langevin dynamics on the
//! sphere (crate::langevin), by the f64 route (default) or the MPFR oracle (`--oracle`).
//!
//! Output: JSON (default) or a table; every number carries its error bound (3 significant
//! digits, rounded up) and the bound's kind (exact / enclosure / estimate).

use super::{emit, CliError};
use crate::activation::Spec;
use crate::conventions::LossScale;
use crate::langevin::{self, BoundKind, Gibbs, LangevinError, Quantity};
use crate::meanfield::Model;
use crate::output::{bound_up, decimal};
use rug::Float;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// The unique Gibbs fixed point p* ∝ w_unif(s)·exp(−βφ(s; p*)) of the reduced problem for
    /// the law of s = <w, θ>, with free energy, loss, risk, KL, log Z, moments of s and
    /// Gegenbauer moments, each with an error estimate.
    Gibbs(GibbsArgs),
    /// The kernel (lazy) limit: eigenvalues of the tangent kernel at initialisation with
    /// multiplicities, the kernel in the overlap (series with bound; closed form for relu), the
    /// kernel-flow risk curve R_K(t) with optional ridge, its t → ∞ limit (kernel ridge
    /// regression) and the never-learnable energy.
    Kernel(kernel::KernelArgs),
    /// The reduced Fokker–Planck flow of the law of s = <w, θ> from the uniform start: risk,
    /// loss, free energy, KL and moments of s at the output times by two independent
    /// discretisations (finite volumes in the latitude; Galerkin in Gegenbauer moments), with
    /// their difference, each value's error estimate, the free energy checked non-increasing
    /// and above the Gibbs minimum F* of `langevin gibbs`.
    Flow(FlowArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FlowFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct FlowArgs {
    #[command(flatten)]
    pair: super::pair::SpecPair,
    /// Dimension d >= 3.
    #[arg(long, allow_negative_numbers = true)]
    d: i64,
    /// Inverse temperature β > 0 (diffusion coefficient 1/β; per-step noise √(2η/β)).
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    /// Final time (> 0, at most 1000).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    t_end: f64,
    /// Output every this much time (and at t_end).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    dt_out: f64,
    /// Target of each route's error estimate (relative to 1 + |value|).
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    tol: f64,
    #[arg(long, value_enum, default_value_t = FlowFormat::Json)]
    format: FlowFormat,
    /// Series degree of non-polynomial kernels (polynomials are exact; at most 398).
    #[arg(long, default_value_t = 120, allow_negative_numbers = true)]
    degree: i64,
    /// Largest accepted sup-norm truncation bound of the κ and ψ series.
    #[arg(long, default_value_t = 1e-12, allow_negative_numbers = true)]
    kernel_tol: f64,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub mod kernel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GibbsFormat {
    Json,
    Table,
}

#[derive(clap::Args, Debug)]
pub struct GibbsArgs {
    #[command(flatten)]
    pair: super::pair::SpecPair,
    /// Dimension d >= 3.
    #[arg(long, allow_negative_numbers = true)]
    d: i64,
    /// Inverse temperature β > 0 (diffusion coefficient 1/β; per-step noise √(2η/β)).
    #[arg(long, allow_negative_numbers = true)]
    beta: f64,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    #[arg(long, value_enum, default_value_t = GibbsFormat::Json)]
    format: GibbsFormat,
    /// The MPFR oracle (Newton on node values) instead of the f64 route.
    #[arg(long)]
    oracle: bool,
    /// Digits of the oracle (its estimate compares with a run at twice the digits).
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    digits: i64,
    /// Series degree of non-polynomial kernels (polynomials are exact; at most 398).
    #[arg(long, default_value_t = 120, allow_negative_numbers = true)]
    degree: i64,
    /// f64 route: largest accepted sup-norm truncation bound of the κ and ψ series.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    kernel_tol: f64,
    /// Oracle: quadrature nodes (default: max(digits + 16, 24) + ceil(4 sqrt(beta))).
    #[arg(long, allow_negative_numbers = true)]
    nodes: Option<i64>,
    /// Report the Gegenbauer moments m_0..m_L.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    moments: i64,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Num {
    value: String,
    bound: String,
    bound_kind: BoundKind,
}

#[derive(Serialize)]
struct Moment {
    l: usize,
    value: String,
    bound: String,
    bound_kind: BoundKind,
}

#[derive(Serialize)]
struct Doc {
    command: &'static str,
    route: &'static str,
    convention: &'static str,
    student: String,
    teacher: String,
    d: usize,
    beta: String,
    loss_scale: &'static str,
    series_degree: usize,
    digits: Option<u32>,
    nodes: usize,
    kernel_tails: [String; 2],
    free_energy: Num,
    loss: Num,
    risk: Num,
    kl_to_uniform: Num,
    log_partition: Num,
    mean_s: Num,
    mean_s2: Num,
    mean_abs_s: Num,
    interaction: Num,
    gegenbauer_moments: Vec<Moment>,
    iterations: usize,
    residual: Num,
}

const CONVENTION: &str = "F = L + KL(p||unif)/beta, L = c E(f-y)^2 (c = 1 full, 1/2 half), risk = E(f-y)^2; \
dynamics d rho = div(rho grad Phi) + (1/beta) Lap rho (per-step noise sqrt(2 eta/beta)); \
p*(s) ∝ (1-s^2)^((d-3)/2) exp(-beta phi(s)), phi = 2c[E_p' kappa - psi] (Mei-Misiakiewicz-Montanari: beta_M = 2c beta); m_l = E P_l(s), P_l Gegenbauer of index (d-2)/2 with P_l(1) = 1";

/// Largest accepted β.
const MAX_BETA: f64 = 1e6;

use crate::conventions::usage;

fn up(b: f64) -> String {
    bound_up(&Float::with_val(53, b))
}

fn num_f64(q: &Quantity<f64>) -> Num {
    Num {
        value: format!("{:.16e}", q.value),
        bound: up(q.bound),
        bound_kind: q.kind,
    }
}

fn num_mp(q: &Quantity<Float>, digits: u32) -> Num {
    Num {
        value: decimal(&q.value, digits),
        bound: up(q.bound),
        bound_kind: q.kind,
    }
}

fn doc_of<T>(g: &Gibbs<T>, f: impl Fn(&Quantity<T>) -> Num, head: Doc) -> Doc {
    Doc {
        free_energy: f(&g.free_energy),
        loss: f(&g.loss),
        risk: f(&g.risk),
        kl_to_uniform: f(&g.kl_to_uniform),
        log_partition: f(&g.log_partition),
        mean_s: f(&g.mean_s),
        mean_s2: f(&g.mean_s2),
        mean_abs_s: f(&g.mean_abs_s),
        interaction: f(&g.interaction),
        gegenbauer_moments: g
            .gegenbauer_moments
            .iter()
            .enumerate()
            .map(|(l, q)| {
                let n = f(q);
                Moment {
                    l,
                    value: n.value,
                    bound: n.bound,
                    bound_kind: n.bound_kind,
                }
            })
            .collect(),
        iterations: g.iterations,
        residual: Num {
            value: format!("{:.3e}", g.residual),
            bound: up(g.residual_bound),
            bound_kind: BoundKind::Estimate,
        },
        nodes: g.nodes,
        kernel_tails: [up(g.kernel_tails[0]), up(g.kernel_tails[1])],
        ..head
    }
}

fn placeholder() -> Num {
    Num {
        value: String::new(),
        bound: String::new(),
        bound_kind: BoundKind::Estimate,
    }
}

fn lerr(e: LangevinError) -> CliError {
    match e {
        LangevinError::NoConvergence(m) => CliError::Failure(m),
        other => usage(other.to_string()),
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Sub::Gibbs(a) => gibbs(a),
        Sub::Kernel(a) => kernel::run(a),
        Sub::Flow(a) => flow(a),
    }
}

/// The checks of β, d and the series degree shared by the subcommands.
pub(super) fn check_common(beta: f64, d: i64, degree: i64) -> Result<(), CliError> {
    if !(beta.is_finite() && beta > 0.0) {
        return Err(usage(format!("--beta {beta}: must be a finite number > 0")));
    }
    if beta > MAX_BETA {
        return Err(usage(format!(
            "--beta {beta}: above the supported {MAX_BETA:e} (the Gibbs law is then a point mass to within the quadrature)"
        )));
    }
    if d < 3 {
        return Err(usage(format!("--d {d}: the reduced problem needs d >= 3")));
    }
    if d > 100_000 {
        return Err(usage(format!("--d {d}: at most 100000")));
    }
    // (the student's table is built to degree K + 2)
    let max_degree = crate::meanfield::model::MAX_SERIES_DEGREE as i64 - 2;
    if !(2..=max_degree).contains(&degree) {
        return Err(usage(format!(
            "--degree {degree}: out of range (2..={max_degree})"
        )));
    }
    Ok(())
}

/// The model of a subcommand (kernels to `table_digits`).
pub(super) fn build_model(
    pair: &super::pair::SpecPair,
    d: i64,
    degree: i64,
    table_digits: u32,
    scale: LossScale,
) -> Result<(Model, Spec, Spec), CliError> {
    let (student, teacher) =
        pair.parse_with(|s, _| Spec::parse(s).map_err(|e| usage(e.to_string())))?;
    let model = Model::new(
        &student,
        &teacher,
        d as usize,
        (degree as usize).max(2),
        table_digits,
        scale,
        0.0,
    )
    .map_err(|e| match e {
        crate::meanfield::ModelError::NoDerivative(src) => usage(format!(
            "{src}: the kernels are built by the reduced-flow model, which needs the student's derivative; students with jumps are not supported by langevin yet"
        )),
        other => usage(other.to_string()),
    })?;
    Ok((model, student, teacher))
}

fn gibbs(a: GibbsArgs) -> Result<(), CliError> {
    check_common(a.beta, a.d, a.degree)?;
    if !(0..=64).contains(&a.moments) {
        return Err(usage(format!(
            "--moments {}: out of range (0..=64)",
            a.moments
        )));
    }
    if !(a.kernel_tol.is_finite() && a.kernel_tol > 0.0) {
        return Err(usage(format!("--kernel-tol {}: must be > 0", a.kernel_tol)));
    }
    if !(1..=200).contains(&a.digits) {
        return Err(usage(format!(
            "--digits {}: out of range (1..=200)",
            a.digits
        )));
    }
    let digits = a.digits as u32;
    let scale = a.loss_scale;
    let table_digits = if a.oracle { digits + 10 } else { 20 };
    let (model, student, teacher) = build_model(&a.pair, a.d, a.degree, table_digits, scale)?;
    let l_out = a.moments as usize;
    let head = Doc {
        command: "langevin gibbs",
        route: if a.oracle {
            "oracle-mpfr-nodes"
        } else {
            "f64-gegenbauer-moments"
        },
        convention: CONVENTION,
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        d: a.d as usize,
        beta: format!("{:e}", a.beta),
        loss_scale: scale.name(),
        series_degree: model.degree,
        digits: if a.oracle { Some(digits) } else { None },
        nodes: 0,
        kernel_tails: [String::new(), String::new()],
        free_energy: placeholder(),
        loss: placeholder(),
        risk: placeholder(),
        kl_to_uniform: placeholder(),
        log_partition: placeholder(),
        mean_s: placeholder(),
        mean_s2: placeholder(),
        mean_abs_s: placeholder(),
        interaction: placeholder(),
        gegenbauer_moments: Vec::new(),
        iterations: 0,
        residual: placeholder(),
    };
    let doc = if a.oracle {
        let nodes = match a.nodes {
            Some(n) if !(2..=langevin::oracle::MAX_ORACLE_NODES as i64).contains(&n) => {
                return Err(usage(format!(
                    "--nodes {n}: out of range (2..={})",
                    langevin::oracle::MAX_ORACLE_NODES
                )))
            }
            Some(n) => n as usize,
            None => langevin::oracle::default_nodes(digits, a.beta),
        };
        let g = langevin::oracle::gibbs(&model, a.beta, digits, nodes, l_out).map_err(lerr)?;
        doc_of(&g, |q| num_mp(q, digits), head)
    } else {
        if a.nodes.is_some() {
            return Err(usage(
                "--nodes applies to --oracle (the f64 route chooses its nodes)",
            ));
        }
        let g = langevin::fast::gibbs(&model, a.beta, l_out, a.kernel_tol).map_err(lerr)?;
        doc_of(&g, num_f64, head)
    };
    let text = match a.format {
        GibbsFormat::Json => {
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Failure(e.to_string()))? + "\n"
        }
        GibbsFormat::Table => table(&doc),
    };
    emit(&text, a.out.as_deref())
}

fn table(doc: &Doc) -> String {
    let mut s = format!(
        "# langevin gibbs ({}): student {}, teacher {}, d = {}, beta = {}, loss scale {}, series degree {}, nodes {}\n",
        doc.route, doc.student, doc.teacher, doc.d, doc.beta, doc.loss_scale, doc.series_degree, doc.nodes
    );
    let kind = |k: BoundKind| match k {
        BoundKind::Exact => "exact",
        BoundKind::Enclosure => "enclosure",
        BoundKind::Estimate => "estimate",
    };
    for (name, n) in [
        ("free_energy", &doc.free_energy),
        ("loss", &doc.loss),
        ("risk", &doc.risk),
        ("kl_to_uniform", &doc.kl_to_uniform),
        ("log_partition", &doc.log_partition),
        ("mean_s", &doc.mean_s),
        ("mean_s2", &doc.mean_s2),
        ("mean_abs_s", &doc.mean_abs_s),
        ("interaction", &doc.interaction),
        ("residual", &doc.residual),
    ] {
        s += &format!(
            "{name} = {}  (+- {}, {})\n",
            n.value,
            n.bound,
            kind(n.bound_kind)
        );
    }
    for m in &doc.gegenbauer_moments {
        s += &format!(
            "m_{} = {}  (+- {}, {})\n",
            m.l,
            m.value,
            m.bound,
            kind(m.bound_kind)
        );
    }
    s += &format!("iterations = {}\n", doc.iterations);
    s
}

// ------------------------------------------------------------------ langevin flow

#[derive(Serialize)]
struct FlowNum {
    value: String,
    bound: String,
    bound_kind: BoundKind,
    /// |route A − route B|.
    diff_ab: String,
    /// Route A's own estimate.
    bound_a: String,
}

#[derive(Serialize)]
struct FlowRow {
    t: String,
    risk: FlowNum,
    loss: FlowNum,
    free_energy: FlowNum,
    kl_to_uniform: FlowNum,
    mean_s: FlowNum,
    mean_s2: FlowNum,
    mean_abs_s: FlowNum,
}

#[derive(Serialize)]
struct FlowGibbs {
    free_energy: Num,
    mean_s: Num,
    mean_s2: Num,
    mean_abs_s: Num,
    /// F(t_end) − F*.
    free_energy_gap_at_t_end: String,
}

#[derive(Serialize)]
struct FlowChecks {
    routes_agree: bool,
    free_energy_nonincreasing: bool,
    free_energy_above_gibbs_minimum: bool,
}

#[derive(Serialize)]
struct FlowDoc {
    command: &'static str,
    convention: &'static str,
    student: String,
    teacher: String,
    d: usize,
    beta: String,
    loss_scale: &'static str,
    series_degree: usize,
    kernel_tails: [String; 2],
    route_a: String,
    route_b: String,
    value_from: &'static str,
    tol: String,
    rows: Vec<FlowRow>,
    gibbs: FlowGibbs,
    checks: FlowChecks,
}

fn flow(a: FlowArgs) -> Result<(), CliError> {
    check_common(a.beta, a.d, a.degree)?;
    if !(a.t_end.is_finite() && a.t_end > 0.0 && a.t_end <= 1000.0) {
        return Err(usage(format!(
            "--t-end {}: must be a number in (0, 1000]",
            a.t_end
        )));
    }
    if !(a.dt_out.is_finite() && a.dt_out > 0.0 && a.t_end / a.dt_out <= 10_000.0) {
        return Err(usage(format!(
            "--dt-out {}: must be > 0 with at most 10000 outputs",
            a.dt_out
        )));
    }
    if !(a.tol.is_finite() && a.tol >= 1e-14 && a.tol < 1.0) {
        return Err(usage(format!("--tol {}: must be in [1e-14, 1)", a.tol)));
    }
    if !(a.kernel_tol.is_finite() && a.kernel_tol > 0.0) {
        return Err(usage(format!("--kernel-tol {}: must be > 0", a.kernel_tol)));
    }
    let scale = a.loss_scale;
    let (model, student, teacher) = build_model(&a.pair, a.d, a.degree, 20, scale)?;
    let problem = langevin::flow::Problem::new(&model, a.beta, a.kernel_tol).map_err(lerr)?;
    let times = langevin::flow::output_times(a.t_end, a.dt_out);
    let fl = langevin::flow::flow(&problem, &times, a.tol).map_err(lerr)?;
    let g = langevin::fast::gibbs(&model, a.beta, 2, a.kernel_tol).map_err(lerr)?;
    // never print NaN or ∞ (the routes refuse them; this guards the printing itself)
    let finite = fl.values.iter().flatten().all(|v| {
        [v.value, v.bound, v.diff_ab, v.bound_a]
            .iter()
            .all(|x| x.is_finite())
    }) && [&g.free_energy, &g.mean_s, &g.mean_s2, &g.mean_abs_s]
        .iter()
        .all(|q| q.value.is_finite() && q.bound.is_finite());
    if !finite {
        return Err(CliError::Failure(
            "langevin flow: a value or bound is not finite (not printed)".into(),
        ));
    }
    let checks = langevin::flow::check(&fl, (g.free_energy.value, g.free_energy.bound));
    let fnum = |v: &langevin::flow::FlowValue| FlowNum {
        value: format!("{:.16e}", v.value),
        bound: up(v.bound),
        bound_kind: BoundKind::Estimate,
        diff_ab: up(v.diff_ab),
        bound_a: up(v.bound_a),
    };
    let rows: Vec<FlowRow> = fl
        .times
        .iter()
        .zip(&fl.values)
        .map(|(t, v)| FlowRow {
            t: format!("{t:e}"),
            risk: fnum(&v[0]),
            loss: fnum(&v[1]),
            free_energy: fnum(&v[2]),
            kl_to_uniform: fnum(&v[3]),
            mean_s: fnum(&v[4]),
            mean_s2: fnum(&v[5]),
            mean_abs_s: fnum(&v[6]),
        })
        .collect();
    let last = fl.values.last().expect("at least two times")[langevin::flow::FREE_ENERGY];
    let doc = FlowDoc {
        command: "langevin flow",
        convention: CONVENTION,
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        d: a.d as usize,
        beta: format!("{:e}", a.beta),
        loss_scale: scale.name(),
        series_degree: model.degree,
        kernel_tails: [up(problem.tails[0]), up(problem.tails[1])],
        route_a: fl.resolution_a.clone(),
        route_b: fl.resolution_b.clone(),
        value_from: "route B (Gegenbauer Galerkin); bound = its estimate + kernel truncation",
        tol: format!("{:e}", a.tol),
        rows,
        gibbs: FlowGibbs {
            free_energy: num_f64(&g.free_energy),
            mean_s: num_f64(&g.mean_s),
            mean_s2: num_f64(&g.mean_s2),
            mean_abs_s: num_f64(&g.mean_abs_s),
            free_energy_gap_at_t_end: format!("{:.3e}", last.value - g.free_energy.value),
        },
        checks: FlowChecks {
            routes_agree: checks.disagreements.is_empty(),
            free_energy_nonincreasing: checks.free_energy_increases.is_empty(),
            free_energy_above_gibbs_minimum: checks.below_minimum.is_empty(),
        },
    };
    let text = match a.format {
        FlowFormat::Json => {
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Failure(e.to_string()))? + "\n"
        }
        FlowFormat::Csv => flow_csv(&doc),
    };
    emit(&text, a.out.as_deref())?;
    if !checks.passed() {
        return Err(CliError::Failure(format!(
            "langevin flow: a check failed (routes disagree at {:?}, free energy increases at {:?}, below F* at {:?}; time index, quantity index)",
            checks.disagreements, checks.free_energy_increases, checks.below_minimum
        )));
    }
    Ok(())
}

fn flow_csv(doc: &FlowDoc) -> String {
    let mut s = String::from("t");
    for q in langevin::flow::QUANTITIES {
        s += &format!(",{q},{q}_bound,{q}_bound_kind,{q}_diff_ab,{q}_bound_a");
    }
    s.push('\n');
    for r in &doc.rows {
        s += &r.t;
        for n in [
            &r.risk,
            &r.loss,
            &r.free_energy,
            &r.kl_to_uniform,
            &r.mean_s,
            &r.mean_s2,
            &r.mean_abs_s,
        ] {
            s += &format!(
                ",{},{},{},{},{}",
                n.value,
                n.bound,
                n.bound_kind.as_str(),
                n.diff_ab,
                n.bound_a
            );
        }
        s.push('\n');
    }
    s
}
