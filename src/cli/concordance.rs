//! `mforacle concordance --student SPEC [--teacher SPEC] --d LIST [--t-end T|auto]
//!  [--oracle --digits D [--oracle-panels 16] [--oracle-order 16] [--oracle-outputs 16]
//!  [--oracle-tolerance TOL]] [--certify --alpha-min A --alpha-max B] [--format json|csv]
//!  [--out FILE]`
//!
//! Argument parsing and printing only: the report, its fields, the `--oracle` tracer, the
//! `--certify` bound, the fits and the CSV schema are [`crate::concordance`]'s (whose module
//! documentation defines every output field).

use super::{emit, CliError};
use crate::activation::Spec;
use crate::concordance::{self, PerD, Report};
use crate::hessian::{self, PowerSeries};
use crate::meanfield::flow::{Layout, Tolerance};
use crate::meanfield::Model;
use crate::population::LossScale;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pair: super::pair::SpecPair,
    /// Dimensions, comma separated (each ≥ 3).
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        allow_negative_numbers = true
    )]
    d: Vec<i64>,
    /// Horizon T, or `auto` = max(ln d, 0.5·d^{k/2−1}).
    #[arg(long, default_value = "auto", allow_hyphen_values = true)]
    t_end: String,
    /// Also evaluate the constants at initialisation with the MPFR closed form.
    #[arg(long)]
    oracle: bool,
    /// Significant digits of the coefficient tables and of the oracle.
    #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
    digits: i64,
    /// Prove an upper bound on sup R2 over [alpha-min, alpha-max] (interaction-free velocity).
    #[arg(long)]
    certify: bool,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    alpha_min: f64,
    /// R2 ~ 1/β is unbounded as α → 1, so the range stops at alpha-max < 1.
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    alpha_max: f64,
    /// Relative gap between the certified upper bound and the best proved lower value.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    gap: f64,
    /// R1, R2 suprema only over times with |α(t)| ≤ alpha-cut.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    alpha_cut: f64,
    /// M: the family has 2M test particles.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    particles: i64,
    /// Use the interaction-free flow (no A, B terms).
    #[arg(long)]
    no_interaction: bool,
    /// Series degree of non-polynomial kernels.
    #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
    degree: i64,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    /// Panels per side of the flow's node layout (with interaction; 16 nodes each). For h_4 at
    /// d = 256 the median integral of ||H|| moves by 4e-5 relative from 50 panels/dt 0.02 to
    /// 200 panels/dt 0.01.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    panels: i64,
    /// Time-grid step for sampling H along the flow with interaction.
    #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
    dt: f64,
    /// `--oracle` with interaction: panels per side of the MPFR oracle's node layout (order
    /// `--oracle-order`, grading 3); its node check reruns with twice as many.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_panels: i64,
    /// `--oracle` with interaction: Gauss–Legendre nodes per panel of the oracle's layout.
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_order: i64,
    /// `--oracle` with interaction: number of output intervals on [0, t-end] (the oracle's
    /// output times are t-end·i/n).
    #[arg(long, default_value_t = 16, allow_negative_numbers = true)]
    oracle_outputs: i64,
    /// `--oracle` with interaction: the oracle's per-step tolerance in loss units (default
    /// 10^{−min(digits, 17)−3}: the coarse layout's node error is far larger; 10^{−digits−3}
    /// makes every printed digit one of the node system).
    #[arg(long, allow_negative_numbers = true)]
    oracle_tolerance: Option<f64>,
    #[arg(long, value_enum, default_value_t = OutFormat::Json)]
    format: OutFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}
use crate::conventions::{default_horizon, usage};

fn parse_spec(s: &str, what: &str) -> Result<Spec, CliError> {
    Spec::parse(s).map_err(|e| usage(format!("--{what}: {e}")))
}
pub fn run(a: Args) -> Result<(), CliError> {
    let (student, teacher) = a.pair.parse_with(parse_spec)?;
    if a.d.is_empty() || a.d.iter().any(|&d| !(3..=1_000_000).contains(&d)) {
        return Err(usage(format!(
            "--d: every dimension must be an integer in 3..=1000000 (got {:?})",
            a.d
        )));
    }
    let ds: Vec<usize> = a.d.iter().map(|&d| d as usize).collect();
    if !(8..=1000).contains(&a.digits) {
        return Err(usage(format!(
            "--digits must be in 8..=1000, got {}",
            a.digits
        )));
    }
    let digits = a.digits as u32;
    if !(2..=400).contains(&a.degree) {
        return Err(usage(format!(
            "--degree must be in 2..=400, got {}",
            a.degree
        )));
    }
    if !(1..=100_000).contains(&a.particles) {
        return Err(usage(format!(
            "--particles must be in 1..=100000, got {}",
            a.particles
        )));
    }
    if !(a.alpha_cut > 0.0 && a.alpha_cut <= 1.0) {
        return Err(usage(format!(
            "--alpha-cut must be in (0, 1], got {}",
            a.alpha_cut
        )));
    }
    if !(a.dt > 0.0 && a.dt <= 1.0) {
        return Err(usage(format!("--dt must be in (0, 1], got {}", a.dt)));
    }
    if !(1..=100_000).contains(&a.panels) {
        return Err(usage(format!(
            "--panels must be in 1..=100000, got {}",
            a.panels
        )));
    }
    for (name, v, hi) in [
        ("--oracle-panels", a.oracle_panels, 10_000),
        ("--oracle-order", a.oracle_order, 64),
        ("--oracle-outputs", a.oracle_outputs, 10_000),
    ] {
        if !(1..=hi).contains(&v) {
            return Err(usage(format!("{name} must be in 1..={hi}, got {v}")));
        }
    }
    if let Some(t) = a.oracle_tolerance {
        if !(t > 0.0 && t < 1.0) {
            return Err(usage(format!(
                "--oracle-tolerance must be in (0, 1), got {t}"
            )));
        }
    }
    let t_fixed = if a.t_end == "auto" {
        None
    } else {
        let t: f64 = a.t_end.parse().map_err(|_| {
            usage(format!(
                "--t-end must be a number or `auto`, got {:?}",
                a.t_end
            ))
        })?;
        if !(t > 0.0 && t.is_finite() && t <= 1e6) {
            return Err(usage(format!("--t-end must be in (0, 1e6], got {t}")));
        }
        Some(t)
    };
    let scale = a.loss_scale;
    let k = concordance::information_exponent(&student, &teacher, digits)?;
    let mk = |d: usize| {
        Model::new(&student, &teacher, d, a.degree as usize, digits, scale, 0.0)
            .map_err(|e| usage(e.to_string()))
    };
    let certificate = if a.certify {
        Some(concordance::certify(
            &student,
            &teacher,
            &mk(ds[0])?,
            (a.alpha_min, a.alpha_max),
            a.gap,
            digits,
        )?)
    } else {
        None
    };
    let mut per_d = Vec::new();
    for &d in &ds {
        let start = Instant::now();
        let model = mk(d)?;
        let t_end = t_fixed.unwrap_or_else(|| default_horizon(d, k));
        let psi = PowerSeries::new(model.psi.to_f64());
        let m = a.particles as usize;
        let s = if a.no_interaction {
            hessian::concordance_interaction_free(&psi, model.scale(), d, t_end, m, a.alpha_cut)
        } else {
            let layout = Layout {
                panels: a.panels as usize,
                ..Layout::default()
            };
            hessian::concordance_flow(
                &model,
                layout,
                Tolerance::new(1e-10),
                t_end,
                m,
                a.alpha_cut,
                a.dt,
            )
            .map_err(|e| CliError::Failure(format!("d = {d}: {e}")))?
        };
        let mut oracle = a
            .oracle
            .then(|| concordance::oracle_init(&model, digits, &s));
        if let (Some(o), false) = (oracle.as_mut(), a.no_interaction) {
            // The oracle's tables carry 10 guard digits (as `mforacle meanfield --oracle`).
            let table_digits = (digits + 10).min(crate::coeffs::MAX_DIGITS);
            let om = Model::new(
                &student,
                &teacher,
                d,
                a.degree as usize,
                table_digits,
                scale,
                0.0,
            )
            .map_err(|e| usage(e.to_string()))?;
            let su = concordance::OracleFlowSetup {
                panels: a.oracle_panels as usize,
                order: a.oracle_order as usize,
                outputs: a.oracle_outputs as usize,
                tolerance: Some(
                    a.oracle_tolerance
                        .unwrap_or_else(|| 10f64.powi(-(digits.min(17) as i32) - 3)),
                ),
                f64_panels: a.panels as usize,
                f64_tolerance: 1e-10,
            };
            o.flow = Some(concordance::oracle_flow(
                &om,
                &model,
                digits,
                t_end,
                s.alpha0_median,
                &su,
            )?);
        }
        per_d.push(PerD::new(
            d,
            t_end,
            &s,
            a.alpha_cut,
            oracle,
            start.elapsed().as_secs_f64(),
        )?);
    }
    let fits = concordance::fits(&ds, &per_d);
    let report = Report {
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        loss_scale: scale.name(),
        interaction: !a.no_interaction,
        information_exponent: k,
        alpha_cut: a.alpha_cut,
        per_d,
        fits,
        certified_r2_bound: certificate.as_ref().map(|c| c.upper),
        certificate,
    };
    let text = match a.format {
        OutFormat::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Failure(e.to_string()))?
                + "\n"
        }
        OutFormat::Csv => concordance::csv(&report.per_d, true),
    };
    emit(&text, a.out.as_deref())
}
