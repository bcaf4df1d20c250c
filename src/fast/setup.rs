//! The fast path's problem set-up from activation specs, and one population evaluation with
//! its complete error bound: what `mforacle population --fast` and the Python package call.
//!
//! [`population_kernels`] turns a student σ and a teacher σ* into the four kernels the fast
//! formulas need (κ = κ_{σ,σ}, ψ = κ_{σ,σ*}, κ_{zσ',σ}, κ_{zσ',σ*}; docs/conventions.md §2),
//! the constant E σ*² + ν², and the uniform truncation bounds of each series on [−1, 1].
//! The series coefficients come from the oracle's coefficient tables ([`crate::coeffs`]): they
//! are *input data* of the fast path, not formula code it shares with the oracle.
//! [`evaluate_population`] runs [`super::evaluate`] and adds to [`super::error_bound`] the
//! series truncation.
//!
//! Accuracy contract. The kernels are truncated at degree K = `degree` clamped to [2, 64]
//! (relu–relu pairs use the closed form, truncation 0). With R_f = E[f²] − Σ_{k≤K} c_k(f)² and
//! R'_f = E[f'²] − Σ_{k≤K} k c_k(f)² (Parseval remainders, upper bounds from the tables' bounds
//! and a quadrature of E[f²]), the truncation on [−1, 1] is bounded by Cauchy–Schwarz
//! (proofs-notes/dual-kernels.md): |κ − κ_K| ≤ R_σ, |ψ − ψ_K| ≤ √(R_σ R_σ*), |κ' − κ'_K| ≤ R'_σ,
//! |ψ' − ψ'_K| ≤ √(R'_σ R'_σ*), |κ_{zσ',τ} − its truncation| ≤ √(R_{zσ'} R_τ). The bounds of
//! [`PopulationEvaluation`] are the a-priori f64 rounding bound of [`super::error_bound`] (for the
//! route used) plus these truncations propagated through the formulas: a bound on |printed −
//! exact population quantity| for the given f64 weights, conditional on the tables' bounds.

use super::{Kernel, Problem, Route};
use crate::activation::{Expr, Func, Spec};
use crate::coeffs;
use crate::conventions::{failure, usage, BoundKind, Error, LossScale};
use crate::kernel;

/// The kernels of a population problem, ready for the fast path.
#[derive(Clone, Debug)]
pub struct PopulationKernels {
    /// The series degree K actually used (the requested degree clamped to [2, 64]).
    pub series_degree: usize,
    /// κ = κ_{σ,σ}.
    pub kappa: Kernel,
    /// ψ = κ_{σ,σ*}.
    pub psi: Kernel,
    /// κ_{zσ',σ}.
    pub kappa_radial: Kernel,
    /// κ_{zσ',σ*}.
    pub psi_radial: Kernel,
    /// E σ*² + ν².
    pub constant: f64,
    /// Uniform truncation bounds of the kernels on [−1, 1].
    pub truncation: Truncation,
}

/// Uniform bounds on [−1, 1] of |kernel − its truncated series| (0 for closed forms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truncation {
    pub kappa: f64,
    pub psi: f64,
    pub kappa_prime: f64,
    pub psi_prime: f64,
    pub kappa_radial: f64,
    pub psi_radial: f64,
}

/// The network: W (N×d row-major, unit rows), output weights a (N), teacher direction θ (d).
#[derive(Clone, Copy, Debug)]
pub struct Network<'a> {
    pub w: &'a [f64],
    pub n: usize,
    pub d: usize,
    pub a: &'a [f64],
    pub theta: &'a [f64],
}

/// The result of [`evaluate_population`]; N×d arrays row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct PopulationEvaluation {
    /// The route actually used (never `Auto`).
    pub route: Route,
    pub loss: f64,
    pub loss_error_bound: f64,
    pub tangent_gradient: Vec<f64>,
    pub tangent_gradient_error_bound: Vec<f64>,
    pub radial_gradient: Vec<f64>,
    pub radial_gradient_error_bound: Vec<f64>,
    pub velocity: Vec<f64>,
    pub velocity_error_bound: Vec<f64>,
}

/// The kind of every bound of [`PopulationEvaluation`] (loss and the three gradient
/// quantities): an estimate, since the series-truncation bounds rest on the tables' quadrature
/// norms and the rounding bound is first order. `mforacle population --fast` and the Python
/// package print it as `loss_bound_kind` and `gradient_bound_kind`.
pub const POPULATION_BOUND_KIND: BoundKind = BoundKind::Estimate;

/// Largest series degree used (larger requests are clamped).
pub const MAX_FAST_SERIES_DEGREE: usize = 64;

fn is_relu(s: &Spec) -> bool {
    s.expr == Expr::Call(Func::Relu, Box::new(Expr::Z))
}

/// The precision of the fast path's series: tables at 25 digits, products at 128 bits, the
/// radial kernels from f64-rounded coefficients, remainders from quadratures at 20 digits.
const PRECISION: kernel::Precision = kernel::Precision {
    table_digits: 25,
    teacher_extra: 0,
    product_bits: 128,
    radial_from_f64: true,
    remainders: kernel::Remainders::Quadrature {
        digits: 20,
        bits: 128,
    },
};

/// The kernels of student σ against teacher σ* with label noise variance ν² ≥ 0, as series of
/// degree `degree` (clamped to [2, 64]) or closed forms, with their truncation bounds.
/// Errors: `Usage` for input that has no answer (ν² negative or not finite, a student or a
/// teacher with a jump where a derivative is needed, coefficients that cannot be computed),
/// `Failure` when a quadrature fails.
pub fn population_kernels(
    student: &Spec,
    teacher: &Spec,
    degree: usize,
    noise_variance: f64,
) -> Result<PopulationKernels, Error> {
    if !(noise_variance.is_finite() && noise_variance >= 0.0) {
        return Err(usage("noise variance must be a finite number >= 0"));
    }
    let k = degree.clamp(2, MAX_FAST_SERIES_DEGREE);
    let series = kernel::PopulationSeries::new(student, teacher, k, &PRECISION)?;
    let kappa = if is_relu(student) {
        Kernel::ReluRelu
    } else {
        Kernel::PowerSeries(series.kappa.to_f64())
    };
    let psi = if is_relu(student) && is_relu(teacher) {
        Kernel::ReluRelu
    } else {
        Kernel::PowerSeries(series.psi.to_f64())
    };
    let (teacher_norm, _) = coeffs::norm_squared(teacher, 25).map_err(failure)?;
    let constant = teacher_norm.to_f64() + noise_variance;
    // Series truncation, zero for closed-form kernels (see the module's accuracy contract),
    // with R' the remainders of Σ k c_k² = E f'², each inflated by 10⁻¹² and 10⁻³⁰⁰ for the
    // rounding of its subtraction.
    let closed_kappa = matches!(kappa, Kernel::ReluRelu);
    let closed_psi = matches!(psi, Kernel::ReluRelu);
    let both_closed = closed_kappa && closed_psi;
    let rem =
        |r: Option<f64>| r.expect("computed by the quadrature route") * (1.0 + 1e-12) + 1e-300;
    let rb = &series.remainders;
    let (r0s, r0t, rz) = (rem(rb.student[0]), rem(rb.teacher[0]), rem(rb.z_dsigma));
    let r1s = if both_closed { 0.0 } else { rem(rb.student[1]) };
    let r1t = if closed_psi { 0.0 } else { rem(rb.teacher[1]) };
    let truncation = Truncation {
        kappa: if closed_kappa { 0.0 } else { r0s },
        psi: if closed_psi { 0.0 } else { (r0s * r0t).sqrt() },
        kappa_prime: if closed_kappa { 0.0 } else { r1s },
        psi_prime: if closed_psi { 0.0 } else { (r1s * r1t).sqrt() },
        kappa_radial: (rz * r0s).sqrt(),
        psi_radial: (rz * r0t).sqrt(),
    };
    Ok(PopulationKernels {
        series_degree: k,
        kappa_radial: Kernel::PowerSeries(series.kappa_radial.to_f64()),
        psi_radial: Kernel::PowerSeries(series.psi_radial.to_f64()),
        kappa,
        psi,
        constant,
        truncation,
    })
}
/// Loss, tangent and radial gradients and velocity of every neuron by the fast path, each with
/// its error bound (f64 rounding plus series truncation). Errors: `Usage` for a network of the
/// wrong shape or with non-finite entries, or a route that is unavailable.
pub fn evaluate_population(
    kernels: &PopulationKernels,
    net: &Network,
    loss_scale: LossScale,
    route: Route,
) -> Result<PopulationEvaluation, Error> {
    let (n, d) = (net.n, net.d);
    let problem = Problem {
        w: net.w,
        n,
        d,
        a: net.a,
        theta: net.theta,
        kappa: kernels.kappa.clone(),
        psi: kernels.psi.clone(),
        kappa_radial: kernels.kappa_radial.clone(),
        psi_radial: kernels.psi_radial.clone(),
        constant: kernels.constant,
        loss_scale,
    };
    let ev = super::evaluate(&problem, route).map_err(|e| usage(e.to_string()))?;
    let mut eb = super::error_bound(&problem, ev.route).map_err(|e| usage(e.to_string()))?;
    let t = &kernels.truncation;
    let sum_a: f64 = net.a.iter().map(|x| x.abs()).sum();
    let factor = loss_scale.factor();
    let trunc = factor * (sum_a * sum_a * t.kappa + 2.0 * sum_a * t.psi);
    // ‖Σ_j a_j δκ'_ij w_j − δψ'_i θ‖₂ ≤ Σ|a_j|·t_kappa1 + t_psi1 bounds every entry of that
    // vector and of its projection; velocity: 2·that, tangent gradient: 2|a_i|·that.
    let vtrunc = factor * 2.0 * (sum_a * t.kappa_prime + t.psi_prime);
    let rtrunc = factor * 2.0 * (sum_a * t.kappa_radial + t.psi_radial);
    for i in 0..n {
        let ai = net.a[i].abs();
        for l in 0..d {
            eb.velocity[i * d + l] += vtrunc;
            eb.tangent_gradient[i * d + l] += ai * vtrunc;
        }
        eb.radial_gradient[i] += ai * rtrunc;
    }
    Ok(PopulationEvaluation {
        route: ev.route,
        loss: ev.loss,
        loss_error_bound: eb.loss + trunc,
        tangent_gradient: ev.tangent_gradient,
        tangent_gradient_error_bound: eb.tangent_gradient,
        radial_gradient: ev.radial_gradient,
        radial_gradient_error_bound: eb.radial_gradient,
        velocity: ev.velocity,
        velocity_error_bound: eb.velocity,
    })
}

/// Checks a network given as rows `w` (N rows), the teacher direction `theta` and the output
/// weights `a`, in this order and with these messages (the command line's and the Python
/// package's): N ≥ 1, d = len(θ) ≥ 2, θ of unit norm, every row of length d and of unit norm
/// (| ‖v‖ − 1 | ≤ 1e−12, the squares summed in index order), a of length N. Returns a, 1/N
/// each when absent.
pub fn check_network<R: AsRef<[f64]>>(
    w: &[R],
    theta: &[f64],
    a: Option<&[f64]>,
) -> Result<Vec<f64>, Error> {
    let n = w.len();
    if n == 0 {
        return Err(usage(
            "field `w`: N = 0 (the network needs at least one neuron)",
        ));
    }
    let d = theta.len();
    if d < 2 {
        return Err(usage(format!(
            "field `theta`: d = {d}, the dimension must be at least 2"
        )));
    }
    let unit = |v: &[f64]| {
        let s: f64 = v.iter().map(|x| x * x).sum();
        (s.sqrt() - 1.0).abs() <= 1e-12
    };
    if !unit(theta) {
        return Err(usage(
            "field `theta`: not a unit vector (| ||theta|| - 1 | > 1e-12)",
        ));
    }
    for (i, r) in w.iter().enumerate() {
        let r = r.as_ref();
        if r.len() != d {
            return Err(usage(format!(
                "field `w` row {i}: {} entries, expected d = {d} (the length of theta)",
                r.len()
            )));
        }
        if !unit(r) {
            return Err(usage(format!(
                "field `w` row {i}: not a unit vector (| ||w_i|| - 1 | > 1e-12)"
            )));
        }
    }
    match a {
        Some(a) if a.len() != n => Err(usage(format!(
            "field `a`: {} entries, expected N = {n}",
            a.len()
        ))),
        Some(a) => Ok(a.to_vec()),
        None => Ok(vec![1.0 / n as f64; n]),
    }
}
