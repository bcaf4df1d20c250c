//! `mforacle concordance --student SPEC [--teacher SPEC] --d LIST [--t-end T|auto]
//!  [--oracle --digits D] [--certify --alpha-min A --alpha-max B] [--format json|csv] [--out FILE]`
//!
//! The self-concordance constants of background §5 along the reduced mean-field flow
//! (`crate::hessian`), for every d of the list, with power-law fits in d. Definitions (also in
//! proofs-notes/local-hessian.md §6):
//! - particles: the family ±Q((i + ½)/M), i < M, of quantiles of |α_0| under the uniform law on
//!   S^{d−1} (`--particles M`), followed as test particles of the flow with interaction (default;
//!   `--no-interaction` uses the interaction-free flow dα/dt = 2·scale·β²ψ'(α));
//! - "at initialisation": the particle at α_0 = +median|α_0| (~0.674/√d), t = 0;
//! - r1_sup, r2_sup: suprema over the family and over the times with |α(t)| ≤ `--alpha-cut`
//!   (R2 ~ 1/β is unbounded as particles converge to ±θ); beta_r2_sup: sup of β·R2 over all times;
//! - integral_h: ∫_0^T ‖H_t(w̄_i)‖dt per particle (median and quantiles over the family), the
//!   growth factor exp of it, and the Grönwall factor exp(Lip·T) with Lip = sup over the sphere
//!   of ‖H‖ of the interaction-free velocity; both also as log10 (the factors overflow f64 for
//!   long horizons and are then omitted, never written as inf);
//! - t-end auto: max(ln d, 0.5·d^{k/2−1}) with k the pair's information exponent (background §7).

use super::{emit, CliError, Scale};
use crate::activation::Spec;
use crate::hessian::{
    self, certify_r2, symmetric::symmetric_hessian_rug, CertifyError, ConcordanceSummary,
    PowerSeries, Weight,
};
use crate::meanfield::flow::{Layout, Tolerance};
use crate::meanfield::Model;
use crate::output::finite;
use crate::population::LossScale;
use rug::Float;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    student: String,
    /// Default: the student.
    #[arg(long)]
    teacher: Option<String>,
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
    #[arg(long, value_enum, default_value_t = Scale::Full)]
    loss_scale: Scale,
    /// Panels per side of the flow's node layout (with interaction; 16 nodes each). For h_4 at
    /// d = 256 the median integral of ||H|| moves by 4e-5 relative from 50 panels/dt 0.02 to
    /// 200 panels/dt 0.01.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    panels: i64,
    /// Time-grid step for sampling H along the flow with interaction.
    #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
    dt: f64,
    #[arg(long, value_enum, default_value_t = OutFormat::Json)]
    format: OutFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

fn finite_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => finite(v, s),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
struct PerD {
    d: usize,
    #[serde(serialize_with = "finite")]
    t_end: f64,
    #[serde(serialize_with = "finite")]
    alpha0_median: f64,
    #[serde(serialize_with = "finite")]
    r1_at_init: f64,
    #[serde(serialize_with = "finite")]
    r2_at_init: f64,
    #[serde(serialize_with = "finite")]
    r1_sup: f64,
    #[serde(serialize_with = "finite")]
    r1_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    r1_sup_t: f64,
    #[serde(serialize_with = "finite")]
    r2_sup: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_alpha0: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_t: f64,
    #[serde(serialize_with = "finite")]
    r2_sup_alpha: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_sup: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_sup_alpha: f64,
    #[serde(serialize_with = "finite")]
    integral_h_median: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q10: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q25: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q75: f64,
    #[serde(serialize_with = "finite")]
    integral_h_q90: f64,
    #[serde(serialize_with = "finite")]
    integral_h_max: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    growth_factor_median: Option<f64>,
    #[serde(serialize_with = "finite")]
    growth_factor_median_log10: f64,
    #[serde(serialize_with = "finite")]
    integral_lambda_max_median: f64,
    #[serde(serialize_with = "finite")]
    ln_gap_e_median: f64,
    #[serde(serialize_with = "finite")]
    ln_gap_perp_median: f64,
    #[serde(serialize_with = "finite")]
    lipschitz: f64,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    gronwall_factor: Option<f64>,
    #[serde(serialize_with = "finite")]
    gronwall_factor_log10: f64,
    particles: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    oracle: Option<OracleInit>,
    #[serde(serialize_with = "finite")]
    seconds: f64,
}

#[derive(Serialize)]
struct OracleInit {
    digits: u32,
    r1_at_init: String,
    r2_at_init: String,
    lambda_e: String,
    lambda_perp: String,
    speed: String,
    /// max relative difference of the f64 r1_at_init, r2_at_init from the oracle's.
    #[serde(serialize_with = "finite")]
    f64_relative_difference: f64,
}

#[derive(Serialize)]
struct CertOut {
    #[serde(serialize_with = "finite")]
    alpha_min: f64,
    #[serde(serialize_with = "finite")]
    alpha_max: f64,
    #[serde(serialize_with = "finite")]
    upper: f64,
    #[serde(serialize_with = "finite")]
    lower: f64,
    #[serde(serialize_with = "finite")]
    argmax: f64,
    #[serde(serialize_with = "finite")]
    gap: f64,
    boxes: usize,
    order_of_psi_prime_at_zero: usize,
    #[serde(serialize_with = "finite")]
    beta_r2_upper_to_one: f64,
    #[serde(serialize_with = "finite")]
    beta_r2_lower_to_one: f64,
    statement: String,
}

#[derive(Serialize)]
struct Report {
    student: String,
    teacher: String,
    loss_scale: &'static str,
    interaction: bool,
    information_exponent: usize,
    #[serde(serialize_with = "finite")]
    alpha_cut: f64,
    per_d: Vec<PerD>,
    fits: serde_json::Map<String, serde_json::Value>,
    #[serde(serialize_with = "finite_opt", skip_serializing_if = "Option::is_none")]
    certified_r2_bound: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<CertOut>,
}

/// t-end auto: max(ln d, 0.5·d^{k/2 − 1}).
pub fn default_horizon(d: usize, k: usize) -> f64 {
    (d as f64)
        .ln()
        .max(0.5 * (d as f64).powf(k as f64 / 2.0 - 1.0))
}

fn parse_spec(s: &str, what: &str) -> Result<Spec, CliError> {
    Spec::parse(s).map_err(|e| usage(format!("--{what}: {e}")))
}

fn information_exponent(s: &Spec, t: &Spec, digits: u32) -> Result<usize, CliError> {
    let deg = 24;
    let a = crate::kernel::Side::new(s, deg, digits).map_err(|e| usage(e.to_string()))?;
    let b = crate::kernel::Side::new(t, deg, digits).map_err(|e| usage(e.to_string()))?;
    match crate::kernel::pair_information_exponent(&a.table, &b.table) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(usage(format!(
            "the pair has no information exponent up to degree {deg} (psi' = 0 to that degree)"
        ))),
        Err(k) => Err(usage(format!(
            "the information exponent is unresolved at k = {k} (raise --digits)"
        ))),
    }
}

fn log10_factor(ln: f64) -> (Option<f64>, f64) {
    let v = ln.exp();
    ((v.is_finite()).then_some(v), ln / std::f64::consts::LN_10)
}

fn oracle_init(model: &Model, digits: u32, s: &ConcordanceSummary) -> OracleInit {
    let prec = crate::coeffs::digits_to_bits(digits) + 32;
    let alpha = Float::with_val(prec, s.alpha0_median);
    let scale = Float::with_val(prec, model.scale());
    let [le, lp, sp] = symmetric_hessian_rug(&model.psi.coefficients, &scale, &alpha, prec);
    let norm = if Float::with_val(prec, le.abs_ref()) > Float::with_val(prec, lp.abs_ref()) {
        Float::with_val(prec, le.abs_ref())
    } else {
        Float::with_val(prec, lp.abs_ref())
    };
    let r1 = Float::with_val(prec, &norm / &sp);
    let r2 = Float::with_val(prec, &r1 * Float::with_val(prec, alpha.abs_ref()));
    let rel = |x: f64, y: &Float| ((Float::with_val(prec, x) - y) / y).to_f64().abs();
    let dec = |x: &Float| crate::output::decimal(x, digits);
    OracleInit {
        digits,
        r1_at_init: dec(&r1),
        r2_at_init: dec(&r2),
        lambda_e: dec(&le),
        lambda_perp: dec(&lp),
        speed: dec(&sp),
        f64_relative_difference: rel(s.r1_at_init, &r1).max(rel(s.r2_at_init, &r2)),
    }
}

fn certify(
    student: &Spec,
    teacher: &Spec,
    model: &Model,
    a: &Args,
    digits: u32,
) -> Result<CertOut, CliError> {
    if !(a.gap > 0.0 && a.gap < 1.0) {
        return Err(usage(format!("--gap must be in (0, 1), got {}", a.gap)));
    }
    let prec = 128.max(crate::coeffs::digits_to_bits(digits.min(60)));
    let refuse = |e: CertifyError| -> CliError {
        match e {
            CertifyError::NoSecondDerivative(why) => {
                let mut kinks = Vec::new();
                for (name, s) in [("student", student), ("teacher", teacher)] {
                    for k in s.kinks() {
                        kinks.push(format!(
                            "{name} {} has a kink at z = {:.6}",
                            s.source,
                            k.location(64).to_f64()
                        ));
                    }
                }
                let reason = if kinks.is_empty() {
                    why
                } else {
                    format!(
                        "{}: its second derivative is a Dirac mass there, so {why} \
                         (the sum of k^2 c_k c*_k diverges); --certify needs psi'' on the range",
                        kinks.join(", ")
                    )
                };
                usage(format!("--certify refused: {reason}"))
            }
            CertifyError::Budget(_) => CliError::Failure(format!("--certify: {e}")),
            other => usage(format!("--certify: {other}")),
        }
    };
    let c = certify_r2(
        &model.psi,
        a.alpha_min,
        a.alpha_max,
        a.gap,
        Weight::R2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let cb = certify_r2(
        &model.psi,
        a.alpha_min,
        1.0,
        a.gap,
        Weight::BetaR2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let statement = format!(
        "for every alpha in [{}, {}], R2(alpha) = |alpha|·||H||/||v|| of the interaction-free \
         velocity of this pair is <= {:e} (and some alpha has R2 >= {:e}); for every alpha in \
         [{}, 1], beta·R2 <= {:e}; R2 is unbounded on [alpha_min, 1) (beta·R2 -> 1 as alpha -> 1)",
        a.alpha_min, a.alpha_max, c.upper, c.lower, a.alpha_min, cb.upper
    );
    Ok(CertOut {
        alpha_min: a.alpha_min,
        alpha_max: a.alpha_max,
        upper: c.upper,
        lower: c.lower,
        argmax: c.argmax,
        gap: a.gap,
        boxes: c.boxes + cb.boxes,
        order_of_psi_prime_at_zero: c.order_at_zero,
        beta_r2_upper_to_one: cb.upper,
        beta_r2_lower_to_one: cb.lower,
        statement,
    })
}

pub fn run(a: Args) -> Result<(), CliError> {
    let student = parse_spec(&a.student, "student")?;
    let teacher = match &a.teacher {
        Some(t) => parse_spec(t, "teacher")?,
        None => student.clone(),
    };
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
    let scale = match a.loss_scale {
        Scale::Full => LossScale::Full,
        Scale::Half => LossScale::Half,
    };
    let k = information_exponent(&student, &teacher, digits)?;
    let mk = |d: usize| {
        Model::new(&student, &teacher, d, a.degree as usize, digits, scale, 0.0)
            .map_err(|e| usage(e.to_string()))
    };
    let certificate = if a.certify {
        Some(certify(&student, &teacher, &mk(ds[0])?, &a, digits)?)
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
        let oracle = a.oracle.then(|| oracle_init(&model, digits, &s));
        let q = s.integral_h_quantiles;
        let (gf, gf10) = log10_factor(q[2]);
        let (gw, gw10) = log10_factor(s.lipschitz * t_end);
        if !s.r1_sup.0.value.is_finite() || !s.r2_sup.0.value.is_finite() {
            return Err(CliError::Failure(format!(
                "d = {d}: no particle has |alpha| <= alpha-cut = {} at any time, or R1 is \
                 infinite (psi' = 0 at a particle)",
                a.alpha_cut
            )));
        }
        per_d.push(PerD {
            d,
            t_end,
            alpha0_median: s.alpha0_median,
            r1_at_init: s.r1_at_init,
            r2_at_init: s.r2_at_init,
            r1_sup: s.r1_sup.0.value,
            r1_sup_alpha0: s.r1_sup.1,
            r1_sup_t: s.r1_sup.0.t,
            r2_sup: s.r2_sup.0.value,
            r2_sup_alpha0: s.r2_sup.1,
            r2_sup_t: s.r2_sup.0.t,
            r2_sup_alpha: s.r2_sup.0.alpha,
            beta_r2_sup: s.beta_r2_sup.0.value,
            beta_r2_sup_alpha: s.beta_r2_sup.0.alpha,
            integral_h_median: q[2],
            integral_h_q10: q[0],
            integral_h_q25: q[1],
            integral_h_q75: q[3],
            integral_h_q90: q[4],
            integral_h_max: s.integral_h_max,
            growth_factor_median: gf,
            growth_factor_median_log10: gf10,
            integral_lambda_max_median: s.integral_lambda_max_median,
            ln_gap_e_median: s.ln_gap_e_median,
            ln_gap_perp_median: s.ln_gap_perp_median,
            lipschitz: s.lipschitz,
            gronwall_factor: gw,
            gronwall_factor_log10: gw10,
            particles: s.particles,
            oracle,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let mut fits = serde_json::Map::new();
    if ds.len() >= 2 {
        let x: Vec<f64> = ds.iter().map(|&d| d as f64).collect();
        let cols: [(&str, Vec<f64>); 6] = [
            ("r1_at_init", per_d.iter().map(|p| p.r1_at_init).collect()),
            ("r2_at_init", per_d.iter().map(|p| p.r2_at_init).collect()),
            ("r1_sup", per_d.iter().map(|p| p.r1_sup).collect()),
            ("r2_sup", per_d.iter().map(|p| p.r2_sup).collect()),
            ("beta_r2_sup", per_d.iter().map(|p| p.beta_r2_sup).collect()),
            (
                "integral_h_median",
                per_d.iter().map(|p| p.integral_h_median).collect(),
            ),
        ];
        for (name, y) in cols {
            if let Some(f) = hessian::fit_power_law(&x, &y) {
                if f.exponent.is_finite() {
                    fits.insert(format!("{name}_exponent"), f.exponent.into());
                }
                if let Some(e) = f.exponent_error.filter(|e| e.is_finite()) {
                    fits.insert(format!("{name}_exponent_error"), e.into());
                }
            }
        }
    }
    let report = Report {
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        loss_scale: match scale {
            LossScale::Full => "full",
            LossScale::Half => "half",
        },
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
        OutFormat::Csv => {
            let mut s = String::from(
                "d,t_end,alpha0_median,r1_at_init,r2_at_init,r1_sup,r2_sup,beta_r2_sup,\
                 integral_h_median,growth_factor_median_log10,integral_lambda_max_median,\
                 lipschitz,gronwall_factor_log10,seconds\n",
            );
            for p in &report.per_d {
                s += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    p.d,
                    p.t_end,
                    p.alpha0_median,
                    p.r1_at_init,
                    p.r2_at_init,
                    p.r1_sup,
                    p.r2_sup,
                    p.beta_r2_sup,
                    p.integral_h_median,
                    p.growth_factor_median_log10,
                    p.integral_lambda_max_median,
                    p.lipschitz,
                    p.gronwall_factor_log10,
                    p.seconds
                );
            }
            s
        }
    };
    emit(&text, a.out.as_deref())
}
