//! `mforacle langevin kernel`: the kernel (lazy) limit (crate::langevin::kernel): eigenvalues
//! of the tangent kernel at initialisation with multiplicities, the kernel in the overlap
//! (series with its bound; closed form for relu), the kernel-flow risk curve R_K(t) with an
//! optional ridge, its t → ∞ limit (kernel ridge regression) and the never-learnable energy.
//! Every number carries its bound and the bound's kind.

use super::{num_f64, usage, CliError, Num};
use crate::activation::Spec;
use crate::conventions::LossScale;
use crate::langevin::kernel::Trained;
use crate::langevin::{kernel_relu, BoundKind, LangevinError, Quantity};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainArg {
    A,
    W,
    Aw,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelFormat {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct KernelArgs {
    #[command(flatten)]
    pair: crate::cli::pair::SpecPair,
    /// Dimension d >= 3.
    #[arg(long, allow_negative_numbers = true)]
    d: i64,
    /// Trained parameters: a (random features), w (first layer, a = ±1 fixed) or aw (both).
    #[arg(long, value_enum, default_value_t = TrainArg::Aw)]
    train: TrainArg,
    #[arg(long, value_enum, default_value_t = LossScale::Full)]
    loss_scale: LossScale,
    /// Ridge λ >= 0 of the kernel flow df/dt = -2c[T(f - f*) + λ f].
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    ridge: f64,
    /// Last time of the risk curve.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    t_end: f64,
    /// Spacing of the risk curve.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    dt_out: f64,
    /// Overlaps c = cos angle(x, x') at which the kernel is printed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "-1,-0.5,0,0.5,1",
        allow_negative_numbers = true
    )]
    overlaps: Vec<f64>,
    /// Print the eigenvalues λ_0..λ_L.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    eigenvalues: i64,
    /// Series degree of non-polynomial kernels (polynomials are exact; at most 398).
    #[arg(long, default_value_t = 120, allow_negative_numbers = true)]
    degree: i64,
    /// Last l of the relu closed-form route.
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    lmax: i64,
    /// Largest accepted sup-norm truncation bound of the κ and ψ series.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    kernel_tol: f64,
    #[arg(long, value_enum, default_value_t = KernelFormat::Json)]
    format: KernelFormat,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Eigen {
    l: usize,
    multiplicity: String,
    mu: Num,
    lambda: Num,
    energy: Num,
}

#[derive(Serialize)]
struct KernelAt {
    overlap: String,
    series: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed: Option<Num>,
}

#[derive(Serialize)]
struct RiskAt {
    t: String,
    value: String,
    bound: String,
    bound_kind: BoundKind,
}

#[derive(Serialize)]
struct Doc {
    command: &'static str,
    convention: &'static str,
    student: String,
    teacher: String,
    d: usize,
    train: &'static str,
    loss_scale: &'static str,
    ridge: String,
    series_degree: usize,
    route: &'static str,
    lmax: usize,
    trace: Num,
    eigenvalues: Vec<Eigen>,
    kernel: Vec<KernelAt>,
    risk: Vec<RiskAt>,
    risk_infinity: Num,
    never_learnable: Num,
    beyond_lmax: String,
}

const CONVENTION: &str = "f_alpha = alpha E_rho[a sigma(<w,x>)], w uniform on S^(d-1), a = +-1, f_0 = 0, time rescaled by alpha^-2; \
K_0(x,x') = c_a E_w[sigma sigma'] + c_w E_w[sigma'(w.x) sigma'(w.x') <P_w x, P_w x'>] ((c_a,c_w) = (1,1) aw, (0,1) w, (1,0) a); \
df/dt = -2c[T(f - f*) + ridge f], c = 1 full, 1/2 half; lambda_l = mu_l(kappa)(c_a + c_w l(l+d-2)) with multiplicity N_l, mu_l = E[kappa(t) P_l(t)]; \
energy_l = N_l mu_l(psi)^2/mu_l(kappa); kernel(c) = sum_l N_l lambda_l P_l(c) = E_r K_0(r u, r u') (r ~ chi_d), = d K_0(x,x')/(|x||x'|) for relu; \
risk R_K(t) = E sigma*^2 - sum_l energy_l (1 - g_l(t)^2), g_l = (ridge + lambda_l exp(-2c(lambda_l+ridge)t))/(lambda_l+ridge)";

pub fn run(a: KernelArgs) -> Result<(), CliError> {
    if a.d < 3 {
        return Err(usage(format!("--d {}: the kernel limit needs d >= 3", a.d)));
    }
    if a.d > 100_000 {
        return Err(usage(format!("--d {}: at most 100000", a.d)));
    }
    if !(a.ridge.is_finite() && a.ridge >= 0.0) {
        return Err(usage(format!(
            "--ridge {}: must be a finite number >= 0",
            a.ridge
        )));
    }
    if !(a.t_end.is_finite() && a.t_end >= 0.0) {
        return Err(usage(format!(
            "--t-end {}: must be finite and >= 0",
            a.t_end
        )));
    }
    if !(a.dt_out.is_finite() && a.dt_out > 0.0) || a.t_end / a.dt_out > 1e6 {
        return Err(usage(format!(
            "--dt-out {}: must be > 0 with at most 10^6 points",
            a.dt_out
        )));
    }
    if let Some(c) = a.overlaps.iter().find(|c| !(c.abs() <= 1.0)) {
        return Err(usage(format!("--overlaps: {c} is outside [-1, 1]")));
    }
    let max_degree = crate::meanfield::model::MAX_SERIES_DEGREE as i64 - 2;
    if !(2..=max_degree).contains(&a.degree) {
        return Err(usage(format!(
            "--degree {}: out of range (2..={max_degree})",
            a.degree
        )));
    }
    if !(1..=100_000).contains(&a.lmax) {
        return Err(usage(format!(
            "--lmax {}: out of range (1..=100000)",
            a.lmax
        )));
    }
    if !(a.kernel_tol.is_finite() && a.kernel_tol > 0.0) {
        return Err(usage(format!("--kernel-tol {}: must be > 0", a.kernel_tol)));
    }
    if a.eigenvalues < 0 {
        return Err(usage(format!(
            "--eigenvalues {}: must be >= 0",
            a.eigenvalues
        )));
    }
    let (student, teacher) = a
        .pair
        .parse_with(|s, _| Spec::parse(s).map_err(|e| usage(e.to_string())))?;
    let trained = match a.train {
        TrainArg::A => Trained::A,
        TrainArg::W => Trained::W,
        TrainArg::Aw => Trained::Aw,
    };
    let d = a.d as usize;
    let lim = crate::langevin::kernel::build(
        &student,
        &teacher,
        d,
        a.degree as usize,
        a.loss_scale,
        trained,
        a.lmax as usize,
        a.kernel_tol,
    )
    .map_err(|e| match e {
        LangevinError::NoConvergence(m) => CliError::Failure(m),
        LangevinError::Kernel(m) if m.starts_with("quadrature:") => CliError::Failure(m),
        other => usage(other.to_string()),
    })?;
    let (ca, cw) = trained.weights();
    let relu = crate::kernel::closed_kernel(&student, &student)
        == Some(crate::kernel::ClosedKernel::ReluRelu);
    let steps = (a.t_end / a.dt_out).round() as usize;
    let times: Vec<f64> = (0..=steps)
        .map(|k| (k as f64 * a.dt_out).min(a.t_end))
        .collect();
    let risk: Vec<RiskAt> = times
        .iter()
        .map(|&t| {
            let q = lim.risk(t, a.ridge);
            let n = num_f64(&q);
            RiskAt {
                t: format!("{t}"),
                value: n.value,
                bound: n.bound,
                bound_kind: n.bound_kind,
            }
        })
        .collect();
    if a.format == KernelFormat::Csv {
        let mut s = String::from("t,risk,bound,bound_kind\n");
        for r in &risk {
            s += &format!(
                "{},{},{},{}\n",
                r.t,
                r.value,
                r.bound,
                r.bound_kind.as_str()
            );
        }
        return crate::cli::emit(&s, a.out.as_deref());
    }
    let n_eig = (a.eigenvalues as usize).min(lim.lmax);
    let doc = Doc {
        command: "langevin kernel",
        convention: CONVENTION,
        student: student.source.clone(),
        teacher: teacher.source.clone(),
        d,
        train: trained.name(),
        loss_scale: a.loss_scale.name(),
        ridge: format!("{:e}", a.ridge),
        series_degree: lim.lmax.min(a.degree as usize),
        route: lim.kappa.route,
        lmax: lim.lmax,
        trace: num_f64(&Quantity {
            value: lim.trace,
            bound: 64.0 * f64::EPSILON * lim.trace.abs(),
            kind: BoundKind::Estimate,
        }),
        eigenvalues: (0..=n_eig)
            .map(|l| Eigen {
                l,
                multiplicity: format!("{:.0}", lim.multiplicity[l]),
                mu: num_f64(&lim.mu[l]),
                lambda: num_f64(&lim.lambda[l]),
                energy: num_f64(&lim.energy[l]),
            })
            .collect(),
        kernel: a
            .overlaps
            .iter()
            .map(|&c| KernelAt {
                overlap: format!("{c}"),
                series: num_f64(&lim.kernel_series(c)),
                closed: relu.then(|| {
                    let (v, b) = kernel_relu::averaged_tangent_kernel(d, ca, cw, c);
                    num_f64(&Quantity {
                        value: v,
                        bound: b,
                        kind: BoundKind::Estimate,
                    })
                }),
            })
            .collect(),
        risk,
        risk_infinity: num_f64(&lim.krr_risk(a.ridge)),
        never_learnable: num_f64(&lim.never_learnable),
        beyond_lmax: super::up(lim.beyond),
    };
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| CliError::Failure(e.to_string()))? + "\n";
    crate::cli::emit(&text, a.out.as_deref())
}
