//! # Local Hessians and the self-concordance constants (docs/conventions.md §5)
//!
//! The local Hessian of a particle is H_t(w) = ∇_w v(w; ρ_t), the covariant derivative on the
//! sphere of its mean-field velocity with the law ρ_t held fixed: a symmetric linear map on the
//! tangent space at w (v is minus the Riemannian gradient of 2ψ(⟨w,θ⟩) − 2∫κ(⟨w,w'⟩)dρ).
//!
//! - [`symmetric`]: the closed form in the rotation-invariant case, H = β²G'(α)eeᵀ − αG(α)I_T
//!   (λ_e = βg', λ_⊥ = −αg/β, ‖v‖ = |g|), without interaction (G = 2·scale·ψ') and with the
//!   reduced flow's A, B; f64 and MPFR ([`symmetric::symmetric_hessian_rug`] without interaction,
//!   [`symmetric::with_interaction_rug`] and [`symmetric::ratios_rug`] from the oracle's exact g, g'
//!   of `meanfield::oracle::Field::velocity_and_derivative`).
//! - [`general`]: the d×d tangent Jacobian of a neuron of a finite-width network (any N, any
//!   positions), H = 2·scale·[ψ''θ_Tθ_Tᵀ − Σ_j a_jκ''(s_j)w_{jT}w_{jT}ᵀ] − ⟨w,F⟩P_w, with the
//!   neuron's own atom frozen (law fixed) or moving (the finite-width dynamics).
//! - [`eigen`]: eigenvalues of a symmetric matrix by Jacobi (stopped by a criterion) with an
//!   estimate and an MPFR enclosure of their error (Kahan's residual theorem).
//! - [`dual`]: forward-mode dual numbers over MPFR applied to an MPFR evaluation of the velocity
//!   (exact directional derivatives, no step): the independent check of both closed forms;
//!   [`dual::reduced_velocity_dual`] differentiates the reduced velocity g(α) of a law through the
//!   term-by-term A, B formula (the check of the oracle's g').
//! - [`interval`], [`certify`]: outward-rounded interval arithmetic and the branch-and-bound proof
//!   of an upper bound on sup R2 over an α range.
//! - [`trajectory`]: R1 = ‖H‖/‖v‖, R2 = |α|R1, ∫‖H‖, the eigenvalue integrals and the
//!   linearised gap along trajectories of the interaction-free reduced flow;
//!   [`concordance_interaction_free`] summarises a family of test particles for one d, and
//!   [`fit_power_law`] fits exponents in d.
//!
//! Layering: this module reads `fast` (Problem, Kernel), `meanfield` (Model, SeriesKernel) and
//! `activation`; nothing below imports it. Proofs-note: proofs-notes/local-hessian.md.
//! Tests: tests/hessian.rs, tests/concordance_cli.rs; bench: benches/hessian.rs.

pub mod certify;
pub mod dual;
pub mod eigen;
pub mod general;
pub use crate::interval;
pub mod law;
pub mod symmetric;
pub mod trajectory;

pub use certify::{certify_r2, Certificate, CertifyError, Weight};
pub use general::{tangent_jacobian, test_particle, SelfTerm};
pub use law::ReducedLaw;
pub use symmetric::{interaction_free, symmetric_hessian, PowerSeries, SymmetricHessian};
pub use trajectory::{
    abs_overlap_quantile, interaction_free_lipschitz, interaction_free_trajectory, linearised_gap,
    GapGrowth, Sup, TrajectoryStats,
};

use rayon::prelude::*;

/// A least-squares fit y ≈ C·x^p on log–log axes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerFit {
    pub exponent: f64,
    /// Standard error of the exponent: √(SSR/(n − 2)/Σ(ln x − mean)²); `None` for n < 3.
    pub exponent_error: Option<f64>,
    pub prefactor: f64,
}

/// Fits ln y = ln C + p ln x by ordinary least squares (needs ≥ 2 distinct x, all x, y > 0).
pub fn fit_power_law(x: &[f64], y: &[f64]) -> Option<PowerFit> {
    let n = x.len();
    if n < 2 || y.len() != n || x.iter().chain(y).any(|v| !(*v > 0.0 && v.is_finite())) {
        return None;
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let mx = lx.iter().sum::<f64>() / n as f64;
    let my = ly.iter().sum::<f64>() / n as f64;
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let p = sxy / sxx;
    let c = my - p * mx;
    let ssr: f64 = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (b - c - p * a).powi(2))
        .sum();
    let exponent_error = (n >= 3).then(|| (ssr / (n - 2) as f64 / sxx).sqrt());
    Some(PowerFit {
        exponent: p,
        exponent_error,
        prefactor: c.exp(),
    })
}

/// The q-quantile (linear interpolation between order statistics) of unsorted data.
pub fn quantile(data: &[f64], q: f64) -> f64 {
    let mut v = data.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < v.len() {
        v[i] * (1.0 - f) + v[i + 1] * f
    } else {
        v[i]
    }
}

/// The self-concordance summary of one dimension d.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcordanceSummary {
    pub d: usize,
    pub t_end: f64,
    /// The median of |α_0| under the uniform law (the "typical particle at initialisation").
    pub alpha0_median: f64,
    /// R1, R2 of the particle at α_0 = +median|α_0|, t = 0.
    pub r1_at_init: f64,
    pub r2_at_init: f64,
    /// sup over the family and over times with |α| ≤ α_cut, with the maximiser's α_0.
    pub r1_sup: (Sup, f64),
    pub r2_sup: (Sup, f64),
    /// sup of β·R2 over the family and all times.
    pub beta_r2_sup: (Sup, f64),
    /// Number of family particles whose velocity coefficient g changed sign while |α| ≤ α_cut
    /// ([`TrajectoryStats::velocity_sign_change`]). When > 0, R1, R2 and β·R2 are unbounded along
    /// the flow, and `r1_sup`, `r2_sup`, `beta_r2_sup` are grid-dependent lower bounds.
    pub velocity_sign_changes: usize,
    /// The earliest such change: (t, α_0, α).
    pub first_sign_change: Option<(f64, f64, f64)>,
    /// Quantiles 0.1, 0.25, 0.5, 0.75, 0.9 of ∫_0^T‖H‖ over the family.
    pub integral_h_quantiles: [f64; 5],
    pub integral_h_max: f64,
    /// Median of ∫λ_max (ln of the log-norm bound on the linearised gap growth).
    pub integral_lambda_max_median: f64,
    /// Medians of ∫λ_e and ∫λ_⊥ (ln growth of δ_e, δ_⊥).
    pub ln_gap_e_median: f64,
    pub ln_gap_perp_median: f64,
    /// sup‖H‖ on the sphere (interaction-free), the Grönwall rate.
    pub lipschitz: f64,
    pub particles: usize,
    pub trajectories: Vec<TrajectoryStats>,
}

/// Runs the family of 2M test particles α_0 = ±Q((i + ½)/M), i < M (Q the quantile function of
/// |α_0| on S^{d−1}), of the interaction-free flow to `t_end` and summarises the constants. Each
/// particle carries mass 1/(2M) of the initial law, so unweighted quantiles over the family are
/// quantiles under the law.
pub fn concordance_interaction_free(
    psi: &PowerSeries,
    scale: f64,
    d: usize,
    t_end: f64,
    particles: usize,
    alpha_cut: f64,
) -> ConcordanceSummary {
    let lip = interaction_free_lipschitz(psi, scale);
    let alphas = particle_family(d, particles);
    let traj: Vec<TrajectoryStats> = alphas
        .par_iter()
        .map(|&a| interaction_free_trajectory(psi, scale, a, t_end, lip, alpha_cut))
        .collect();
    summarise(
        d,
        t_end,
        lip,
        traj,
        interaction_free(psi, scale, abs_overlap_quantile(d, 0.5)),
    )
}

/// The test-particle family of [`concordance_interaction_free`]: ±Q((i + ½)/M), i < M.
pub fn particle_family(d: usize, particles: usize) -> Vec<f64> {
    let m = particles.max(1);
    (0..m)
        .map(|i| abs_overlap_quantile(d, (i as f64 + 0.5) / m as f64))
        .flat_map(|a| [a, -a])
        .collect()
}

/// The same summary along the reduced flow *with* interaction (`crate::meanfield::flow::Flow`,
/// nodes of `layout`, tolerance `tol`): the family of test particles follows the flow, and on a
/// uniform time grid of step ≤ `dt` the law's A, B, A', B' ([`ReducedLaw`], from the flow's nodes
/// and weights) give each particle's H by the closed form; integrals are trapezoidal on the grid.
/// "At initialisation" is the particle at +median|α_0| under the initial law (t = 0).
#[allow(clippy::too_many_arguments)]
pub fn concordance_flow(
    model: &crate::meanfield::Model,
    layout: crate::meanfield::flow::Layout,
    tol: crate::meanfield::flow::Tolerance,
    t_end: f64,
    particles: usize,
    alpha_cut: f64,
    dt: f64,
) -> Result<ConcordanceSummary, String> {
    use crate::meanfield::flow::Flow;
    let d = model.d;
    let scale = model.scale();
    let psi = PowerSeries::new(model.psi.to_f64());
    let kappa = model.kappa.to_f64();
    let lip = interaction_free_lipschitz(&psi, scale);
    let alphas = particle_family(d, particles);
    let mut flow = Flow::new(model, layout, tol).map_err(|e| e.to_string())?;
    flow.add_test_particles(&alphas)
        .map_err(|e| e.to_string())?;
    let weights = flow.nodes().weights.clone();
    let mut acc: Vec<law::Accumulator> = alphas.iter().map(|&a| law::Accumulator::new(a)).collect();
    let steps = ((t_end / dt).ceil() as usize).max(1);
    let med = abs_overlap_quantile(d, 0.5);
    let mut h0 = None;
    for k in 0..=steps {
        let t = t_end * k as f64 / steps as f64;
        flow.advance_to(t).map_err(|e| e.to_string())?;
        let law = ReducedLaw::from_pairs(&kappa, d, flow.alpha(), flow.beta(), &weights);
        if k == 0 {
            h0 = Some(law.hessian(&psi, scale, med));
        }
        let (ta, tb) = (flow.test_alpha(), flow.test_beta());
        acc.par_iter_mut()
            .zip(ta.par_iter().zip(tb))
            .for_each(|(ac, (&a, &b))| {
                let h = law.hessian_at(&psi, scale, a, b);
                ac.record(t, &h, alpha_cut);
            });
    }
    let traj = acc.into_iter().map(|a| a.stats).collect();
    Ok(summarise(
        d,
        t_end,
        lip,
        traj,
        h0.expect("k = 0 is visited"),
    ))
}

fn summarise(
    d: usize,
    t_end: f64,
    lip: f64,
    traj: Vec<TrajectoryStats>,
    h0: SymmetricHessian,
) -> ConcordanceSummary {
    let med = abs_overlap_quantile(d, 0.5);
    let best = |f: &dyn Fn(&TrajectoryStats) -> Sup| -> (Sup, f64) {
        let mut out = (
            Sup {
                value: f64::NEG_INFINITY,
                t: 0.0,
                alpha: 0.0,
            },
            0.0,
        );
        for s in &traj {
            let v = f(s);
            if v.value > out.0.value {
                out = (v, s.alpha0);
            }
        }
        out
    };
    let ih: Vec<f64> = traj.iter().map(|s| s.integral_norm).collect();
    let col = |f: &dyn Fn(&TrajectoryStats) -> f64| -> Vec<f64> { traj.iter().map(f).collect() };
    ConcordanceSummary {
        d,
        t_end,
        alpha0_median: med,
        r1_at_init: h0.r1(),
        r2_at_init: h0.r2(),
        r1_sup: best(&|s| s.r1_sup),
        r2_sup: best(&|s| s.r2_sup),
        beta_r2_sup: best(&|s| s.beta_r2_sup),
        velocity_sign_changes: traj
            .iter()
            .filter(|s| s.velocity_sign_change.is_some())
            .count(),
        first_sign_change: traj
            .iter()
            .filter_map(|s| s.velocity_sign_change.map(|(t, a)| (t, s.alpha0, a)))
            .min_by(|x, y| x.0.total_cmp(&y.0)),
        integral_h_quantiles: [0.1, 0.25, 0.5, 0.75, 0.9].map(|q| quantile(&ih, q)),
        integral_h_max: ih.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        integral_lambda_max_median: quantile(&col(&|s| s.integral_lambda_max), 0.5),
        ln_gap_e_median: quantile(&col(&|s| s.integral_lambda_e), 0.5),
        ln_gap_perp_median: quantile(&col(&|s| s.integral_lambda_perp), 0.5),
        lipschitz: lip,
        particles: traj.len(),
        trajectories: traj,
    }
}
