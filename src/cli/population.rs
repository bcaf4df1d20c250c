//! `mforacle population --student SPEC --teacher SPEC (--weights FILE | --random N,d --seed S)
//!  [--oracle --digits D | --fast] [--loss-scale full|half] [--noise-variance V]`
//!
//! The weights file is JSON `{"theta": [...], "w": [[...], ...], "a": [...] (optional)}`;
//! rows of w and θ must be unit vectors within 1e−12. `a` defaults to 1/N. `--random N,d`
//! draws the rows as normalised Gaussian vectors from a ChaCha8 stream seeded by `--seed`
//! (Box–Muller with the pure-Rust `libm`, so the bits are the same on every platform) and
//! takes θ = e_1.

use super::{emit, CliError};
use crate::activation::Spec;
use crate::coeffs;
use crate::conventions::BoundKind;
use crate::fast;
use crate::output::{finite, render_with_bound};
use crate::population::{LossScale, Oracle, Teacher};
use rug::Float;
use serde::Serialize;
use std::path::Path;

/// Largest network the oracle takes from the command line (it is O(N²) kernel series).
pub const MAX_ORACLE_NEURONS: usize = 64;

pub struct Args<'a> {
    pub student: &'a str,
    pub teacher: &'a str,
    pub weights: Option<&'a Path>,
    pub random: Option<&'a str>,
    pub seed: u64,
    pub fast: bool,
    pub digits: u32,
    pub degree: usize,
    pub loss_scale: LossScale,
    pub noise_variance: f64,
    pub out: Option<&'a Path>,
}

/// The network: rows w (N×d), θ, a.
struct Network {
    w: Vec<Vec<f64>>,
    theta: Vec<f64>,
    a: Vec<f64>,
}

use crate::conventions::usage;

fn numbers(v: &serde_json::Value, field: &str, row: Option<usize>) -> Result<Vec<f64>, CliError> {
    let at = match row {
        Some(r) => format!("field `{field}` row {r}"),
        None => format!("field `{field}`"),
    };
    let arr = v
        .as_array()
        .ok_or_else(|| usage(format!("{at}: expected an array of numbers")))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| usage(format!("{at} entry {i}: not a finite number ({x})")))
        })
        .collect()
}

fn load(path: &Path) -> Result<Network, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read --weights {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("--weights {}: not JSON: {e}", path.display())))?;
    let obj = v
        .as_object()
        .ok_or_else(|| usage("--weights: expected a JSON object with theta, w and optionally a"))?;
    for k in obj.keys() {
        if !["theta", "w", "a"].contains(&k.as_str()) {
            return Err(usage(format!(
                "--weights: unknown field `{k}` (expected theta, w, a)"
            )));
        }
    }
    let theta = numbers(
        obj.get("theta")
            .ok_or_else(|| usage("--weights: missing field `theta`"))?,
        "theta",
        None,
    )?;
    let rows = obj
        .get("w")
        .ok_or_else(|| usage("--weights: missing field `w`"))?
        .as_array()
        .ok_or_else(|| usage("field `w`: expected an array of rows"))?;
    let w = rows
        .iter()
        .enumerate()
        .map(|(i, r)| numbers(r, "w", Some(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let a = match obj.get("a") {
        Some(x) => Some(numbers(x, "a", None)?),
        None => None,
    };
    finish(w, theta, a)
}

/// Checks shapes and unit norms ([`fast::check_network`]); a defaults to 1/N.
fn finish(w: Vec<Vec<f64>>, theta: Vec<f64>, a: Option<Vec<f64>>) -> Result<Network, CliError> {
    let a = fast::check_network(&w, &theta, a.as_deref())?;
    Ok(Network { w, theta, a })
}

/// Estimated peak memory of a population evaluation of N neurons in dimension d
/// ([`crate::memory`]; an estimate). Fast path, per weight entry (N·d): the rows as read or
/// drawn and their flat copy (16 B), the evaluator's work arrays and results (≈ 7 × 8 B),
/// the error bounds and the rows of the JSON document (≈ 6 × 8 B) and the pretty-printed JSON
/// text, four numbers of ≈ 32 B each per entry, with up to 1.5× slack from the growth of the
/// string: 256 B in all; per neuron 256 B (row headers, a, radial terms). Measured peak resident
/// size for `--random 50000,16 --fast`: 173 MiB, against 208 MiB estimated (README "Reliability").
/// Oracle: per entry 14 MPFR numbers (w, values and bounds of the gradient and velocity,
/// temporaries) of 48 B plus their limbs, and four decimal strings of `digits` + 48 B.
pub fn memory_estimate(n: usize, d: usize, fast: bool, digits: u32) -> crate::memory::Bytes {
    use crate::memory::Bytes;
    let entries = Bytes::items(n, 1).times(d);
    if fast {
        entries.times(256).plus(Bytes::items(n, 256))
    } else {
        let limbs = (u64::from(digits) * 4 + 128).div_ceil(64);
        let per_entry = 14 * (48 + 8 * limbs) + 4 * (u64::from(digits) + 48);
        Bytes(entries.0.and_then(|e| e.checked_mul(per_entry))).plus(Bytes::items(n, 1024))
    }
}

fn check_memory(what: &str, n: usize, d: usize, args: &Args) -> Result<(), CliError> {
    let mode = if args.fast { "--fast" } else { "--oracle" };
    crate::memory::check(
        &format!("population {what} {mode}"),
        memory_estimate(n, d, args.fast, args.digits),
    )
    .map_err(usage)
}

fn random(spec: &str, args: &Args) -> Result<Network, CliError> {
    let seed = args.seed;
    let parts: Vec<&str> = spec.split(',').collect();
    let parse = |s: &str, what: &str| {
        s.trim().parse::<usize>().map_err(|_| {
            usage(format!(
                "--random {spec}: {what} must be a positive integer"
            ))
        })
    };
    if parts.len() != 2 {
        return Err(usage(format!("--random {spec}: expected N,d")));
    }
    let (n, d) = (parse(parts[0], "N")?, parse(parts[1], "d")?);
    if n == 0 {
        return Err(usage(
            "--random: N = 0 (the network needs at least one neuron)",
        ));
    }
    if d < 2 {
        return Err(usage(format!(
            "--random: d = {d}, the dimension must be at least 2"
        )));
    }
    if !args.fast && n > MAX_ORACLE_NEURONS {
        return Err(usage(format!(
            "N = {n} is above the oracle's command-line limit {MAX_ORACLE_NEURONS}; use --fast"
        )));
    }
    // Before drawing: the rows alone may not fit.
    check_memory(&format!("--random {n},{d}"), n, d, args)?;
    let w = crate::sampling::sphere_rows(seed, n, d);
    let mut theta = vec![0.0; d];
    theta[0] = 1.0;
    finish(w, theta, None)
}

#[derive(Serialize)]
struct OracleDoc {
    mode: &'static str,
    student: String,
    teacher: String,
    n: usize,
    d: usize,
    digits: u32,
    loss_scale: &'static str,
    loss: String,
    loss_error_bound: String,
    /// "exact", "enclosure" or "estimate" ([`crate::conventions::BoundKind`]): the weakest kind
    /// of the kernels the quantity is computed from (`Oracle::loss_kind`, `gradient_kind`).
    loss_bound_kind: BoundKind,
    tangent_gradient: Vec<Vec<String>>,
    tangent_gradient_error_bound: Vec<Vec<String>>,
    tangent_gradient_bound_kind: BoundKind,
    radial_gradient: Vec<String>,
    radial_gradient_error_bound: Vec<String>,
    radial_gradient_bound_kind: BoundKind,
    velocity: Vec<Vec<String>>,
    velocity_error_bound: Vec<Vec<String>>,
    velocity_bound_kind: BoundKind,
}

#[derive(Serialize)]
struct FastDoc {
    mode: &'static str,
    route: String,
    student: String,
    teacher: String,
    n: usize,
    d: usize,
    series_degree: usize,
    loss_scale: &'static str,
    #[serde(serialize_with = "finite")]
    loss: f64,
    /// f64 rounding (a-priori) plus the kernels' series truncation (Parseval remainders).
    #[serde(serialize_with = "finite")]
    loss_error_bound: f64,
    /// Always "estimate" ([`fast::POPULATION_BOUND_KIND`]): the truncation bounds rest on the
    /// tables' quadrature norms and the rounding bound is first order.
    loss_bound_kind: BoundKind,
    tangent_gradient: Vec<Vec<Finite>>,
    radial_gradient: Vec<Finite>,
    velocity: Vec<Vec<Finite>>,
    /// What the per-entry bounds cover.
    gradient_error_bounds: &'static str,
    tangent_gradient_error_bound: Vec<Vec<Finite>>,
    radial_gradient_error_bound: Vec<Finite>,
    velocity_error_bound: Vec<Vec<Finite>>,
    /// The kind of the three gradient bounds: "estimate", as for the loss.
    gradient_bound_kind: BoundKind,
}

/// An f64 that refuses to serialise unless finite.
#[derive(Serialize)]
struct Finite(#[serde(serialize_with = "finite")] f64);

fn rows(v: &[f64], d: usize) -> Vec<Vec<Finite>> {
    v.chunks(d)
        .map(|r| r.iter().map(|x| Finite(*x)).collect())
        .collect()
}

pub fn run(args: Args) -> Result<(), CliError> {
    let student = Spec::parse(args.student).map_err(|e| usage(e.to_string()))?;
    let teacher = Spec::parse(args.teacher).map_err(|e| usage(e.to_string()))?;
    if !(args.noise_variance.is_finite() && args.noise_variance >= 0.0) {
        return Err(usage("--noise-variance must be a finite number >= 0"));
    }
    if args.digits == 0 || args.digits > coeffs::MAX_DIGITS {
        return Err(usage(format!(
            "--digits {} is out of range (1..={})",
            args.digits,
            coeffs::MAX_DIGITS
        )));
    }
    let net = match (args.weights, args.random) {
        (Some(p), None) => load(p)?,
        (None, Some(r)) => random(r, &args)?,
        _ => return Err(usage("give exactly one of --weights FILE and --random N,d")),
    };
    let (n, d) = (net.w.len(), net.theta.len());
    if args.weights.is_some() && (args.fast || n <= MAX_ORACLE_NEURONS) {
        check_memory(&format!("--weights (N = {n}, d = {d})"), n, d, &args)?;
    }
    let text = if args.fast {
        run_fast(&args, &student, &teacher, &net)?
    } else {
        if n > MAX_ORACLE_NEURONS {
            return Err(usage(format!(
                "N = {n} is above the oracle's command-line limit {MAX_ORACLE_NEURONS}; use --fast"
            )));
        }
        let oracle = Oracle::new(
            &student,
            std::slice::from_ref(&teacher),
            args.degree,
            args.digits,
        )
        .map_err(|e| usage(e.to_string()))?
        .with_loss_scale(args.loss_scale);
        let prec = oracle.precision();
        let fl = |x: f64| Float::with_val(prec, x);
        let w: Vec<Vec<Float>> = net
            .w
            .iter()
            .map(|r| r.iter().map(|x| fl(*x)).collect())
            .collect();
        let mut t =
            Teacher::single_index(teacher.clone(), net.theta.iter().map(|x| fl(*x)).collect());
        t.noise_variance = fl(args.noise_variance);
        let a: Vec<Float> = net.a.iter().map(|x| fl(*x)).collect();
        let r = oracle
            .evaluate(&a, &w, &t)
            .map_err(|e| usage(e.to_string()))?;
        let dg = args.digits;
        let show =
            |b: &crate::population::Bounded| render_with_bound(&b.value, &b.abs_error_bound, dg);
        let split =
            |m: &Vec<Vec<crate::population::Bounded>>| -> (Vec<Vec<String>>, Vec<Vec<String>>) {
                let vals = m
                    .iter()
                    .map(|r| r.iter().map(|b| show(b).0).collect())
                    .collect();
                let bnds = m
                    .iter()
                    .map(|r| r.iter().map(|b| show(b).1).collect())
                    .collect();
                (vals, bnds)
            };
        let (tg, tgb) = split(&r.tangent_gradient);
        let (vel, velb) = split(&r.velocity);
        let (loss, loss_b, _) = show(&r.loss);
        let doc = OracleDoc {
            mode: "oracle",
            student: student.source.clone(),
            teacher: teacher.source.clone(),
            n,
            d,
            digits: dg,
            loss_scale: args.loss_scale.name(),
            loss,
            loss_error_bound: loss_b,
            loss_bound_kind: r.loss_kind,
            tangent_gradient: tg,
            tangent_gradient_error_bound: tgb,
            tangent_gradient_bound_kind: r.gradient_kind,
            radial_gradient: r.radial_gradient.iter().map(|b| show(b).0).collect(),
            radial_gradient_error_bound: r.radial_gradient.iter().map(|b| show(b).1).collect(),
            radial_gradient_bound_kind: r.gradient_kind,
            velocity: vel,
            velocity_error_bound: velb,
            velocity_bound_kind: r.gradient_kind,
        };
        super::json(&doc)?
    };
    emit(&text, args.out)
}

fn run_fast(
    args: &Args,
    student: &Spec,
    teacher: &Spec,
    net: &Network,
) -> Result<String, CliError> {
    let kernels = fast::population_kernels(student, teacher, args.degree, args.noise_variance)?;
    let w: Vec<f64> = net.w.iter().flatten().copied().collect();
    let (n, d) = (net.w.len(), net.theta.len());
    let network = fast::Network {
        w: &w,
        n,
        d,
        a: &net.a,
        theta: &net.theta,
    };
    let ev = fast::evaluate_population(&kernels, &network, args.loss_scale, fast::Route::Auto)?;
    let doc = FastDoc {
        mode: "fast",
        route: format!("{:?}", ev.route),
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        n,
        d,
        series_degree: kernels.series_degree,
        loss_scale: args.loss_scale.name(),
        loss: ev.loss,
        loss_error_bound: ev.loss_error_bound,
        loss_bound_kind: fast::POPULATION_BOUND_KIND,
        tangent_gradient: rows(&ev.tangent_gradient, d),
        radial_gradient: ev.radial_gradient.iter().map(|x| Finite(*x)).collect(),
        velocity: rows(&ev.velocity, d),
        gradient_error_bounds: "f64 rounding (a-priori) plus the kernels' series truncation (Parseval remainders of the oracle's tables)",
        tangent_gradient_error_bound: rows(&ev.tangent_gradient_error_bound, d),
        radial_gradient_error_bound: ev
            .radial_gradient_error_bound
            .iter()
            .map(|x| Finite(*x))
            .collect(),
        velocity_error_bound: rows(&ev.velocity_error_bound, d),
        gradient_bound_kind: fast::POPULATION_BOUND_KIND,
    };
    super::json(&doc)
}
