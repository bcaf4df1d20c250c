//! The constants of §5 along ideal trajectories of the interaction-free reduced flow, and the
//! linearised gap.
//!
//! Interaction-free flow: every particle moves on its own, dα/dt = βg = 2·scale·β²ψ'(α). With
//! α = cos φ (φ ∈ (0, π), which keeps |α| ≤ 1 exactly), dφ/dt = −g(cos φ) = −2·scale·sin φ·ψ'.
//! Along each trajectory the state is augmented with the running integrals
//! ∫‖H‖, ∫λ_e, ∫λ_⊥, ∫λ_max (λ_max = max(λ_e, λ_⊥), the logarithmic norm of the symmetric H),
//! and the suprema of R1, R2 (over times with |α(t)| ≤ α_cut) and of β·R2 (over all times) are
//! recorded at every step. Integration: classical RK4 with a fixed step h ≤ 0.05/Lip (Lip the
//! sup of |dφ̇/dφ| = sup‖H‖ on the sphere), so h·Lip ≤ 0.05 and the global error is ~(h·Lip)⁴.
//!
//! Linearised gap (docs/conventions.md §5, proofs-notes/local-hessian.md §5): δ̇ = H_t δ along the ideal
//! trajectory splits in the moving frame {e(t), f} (f ⊥ θ, u fixed) into δ_e(T) =
//! exp(∫λ_e)δ_e(0) and δ_⊥(T) = exp(∫λ_⊥)δ_⊥(0). In the interaction-free (autonomous) flow both
//! are also known in closed form: exp∫λ_e = g(α_T)/g(α_0) (∂φ_T/∂φ_0 of an autonomous scalar
//! ODE) and exp∫λ_⊥ = β_T/β_0 (a rotation about θ keeps α and scales distances by β); the tests
//! compare the integrals with them. Tests: tests/hessian.rs (`trajectory_*`, `gap_*`).

use super::symmetric::{interaction_free, PowerSeries, SymmetricHessian};

/// A supremum with where it was attained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sup {
    pub value: f64,
    pub t: f64,
    pub alpha: f64,
}

impl Sup {
    fn none() -> Sup {
        Sup {
            value: f64::NEG_INFINITY,
            t: 0.0,
            alpha: 0.0,
        }
    }
    fn offer(&mut self, value: f64, t: f64, alpha: f64) {
        if value > self.value {
            *self = Sup { value, t, alpha };
        }
    }
}

/// The constants of one trajectory from α_0 to the horizon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrajectoryStats {
    pub alpha0: f64,
    pub alpha_end: f64,
    /// sup R1 over times with |α(t)| ≤ α_cut (−∞ if none).
    pub r1_sup: Sup,
    /// sup R2 over times with |α(t)| ≤ α_cut.
    pub r2_sup: Sup,
    /// sup β·R2 over all times.
    pub beta_r2_sup: Sup,
    /// The first sample (t, α) at which the signed velocity coefficient g has another sign than
    /// at the previous sample (g = 0 counts as a sign of its own; both samples with |α| ≤ α_cut,
    /// the range of the R1, R2 suprema): between the two samples v
    /// passed through 0 while H did not, so R1, R2 and β·R2 are unbounded on that trajectory
    /// and the sampled suprema above are only lower bounds that depend on the time grid.
    /// Always `None` for the interaction-free flow (a scalar autonomous ODE cannot cross an
    /// equilibrium).
    pub velocity_sign_change: Option<(f64, f64)>,
    /// ∫_0^T ‖H_t(w̄(t))‖ dt.
    pub integral_norm: f64,
    pub integral_lambda_e: f64,
    pub integral_lambda_perp: f64,
    pub integral_lambda_max: f64,
}

/// Growth of the linearised gap over [0, T]: ln of |δ_e(T)/δ_e(0)| and |δ_⊥(T)/δ_⊥(0)|.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GapGrowth {
    pub alpha_end: f64,
    pub ln_growth_e: f64,
    pub ln_growth_perp: f64,
}

/// sup over α ∈ [−1, 1] of ‖H‖ for the interaction-free velocity (the Lipschitz constant of the
/// velocity field on the sphere), by a grid of 20001 points refined by golden-section search
/// around the best one. A numerical maximum, not a proved bound.
pub fn interaction_free_lipschitz(psi: &PowerSeries, scale: f64) -> f64 {
    let f = |a: f64| interaction_free(psi, scale, a).norm();
    let n = 20000;
    let (mut best, mut at) = (f(1.0).max(f(-1.0)), 1.0);
    for i in 0..=n {
        let a = -1.0 + 2.0 * i as f64 / n as f64;
        let v = f(a);
        if v > best {
            best = v;
            at = a;
        }
    }
    let (mut lo, mut hi) = (
        (at - 2.0 / n as f64).max(-1.0),
        (at + 2.0 / n as f64).min(1.0),
    );
    let r = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let (x1, x2) = (hi - r * (hi - lo), lo + r * (hi - lo));
        if f(x1) > f(x2) {
            hi = x2;
        } else {
            lo = x1;
        }
        best = best.max(f(0.5 * (lo + hi)));
    }
    best
}

/// Integrates one particle of the interaction-free flow from α_0 to `t_end` and returns its
/// constants. `lip` is [`interaction_free_lipschitz`] (sets the step); `alpha_cut` restricts the
/// R1, R2 suprema to |α| ≤ α_cut.
pub fn interaction_free_trajectory(
    psi: &PowerSeries,
    scale: f64,
    alpha0: f64,
    t_end: f64,
    lip: f64,
    alpha_cut: f64,
) -> TrajectoryStats {
    assert!(alpha0.abs() < 1.0 && t_end >= 0.0);
    let h_of = |phi: f64| -> SymmetricHessian { interaction_free(psi, scale, phi.cos()) };
    // y = [φ, ∫‖H‖, ∫λ_e, ∫λ_⊥, ∫λ_max]
    let rhs = |y: &[f64; 5]| -> [f64; 5] {
        let phi = y[0];
        let h = h_of(phi);
        let dpsi = psi.derivative(1, h.alpha);
        [
            -2.0 * scale * phi.sin() * dpsi,
            h.norm(),
            h.lambda_e,
            h.lambda_perp,
            h.lambda_max(),
        ]
    };
    let steps = ((t_end * lip / 0.05).ceil() as usize)
        .max((t_end * 200.0).ceil() as usize)
        .max(1);
    let h = t_end / steps as f64;
    let mut y = [alpha0.acos(), 0.0, 0.0, 0.0, 0.0];
    let (mut r1, mut r2, mut br2) = (Sup::none(), Sup::none(), Sup::none());
    let mut record = |t: f64, y: &[f64; 5]| {
        let hs = h_of(y[0]);
        if hs.alpha.abs() <= alpha_cut {
            r1.offer(hs.r1(), t, hs.alpha);
            r2.offer(hs.r2(), t, hs.alpha);
        }
        // β·R2 = |α|‖H‖/(2·scale·|ψ'|), finite up to α = ±1.
        let dpsi = psi.derivative(1, hs.alpha);
        br2.offer(
            hs.alpha.abs() * hs.norm() / (2.0 * scale * dpsi.abs()),
            t,
            hs.alpha,
        );
    };
    record(0.0, &y);
    let add = |y: &[f64; 5], k: &[f64; 5], c: f64| -> [f64; 5] {
        std::array::from_fn(|i| y[i] + c * k[i])
    };
    for s in 0..steps {
        let k1 = rhs(&y);
        let k2 = rhs(&add(&y, &k1, 0.5 * h));
        let k3 = rhs(&add(&y, &k2, 0.5 * h));
        let k4 = rhs(&add(&y, &k3, h));
        for i in 0..5 {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        record((s + 1) as f64 * h, &y);
    }
    TrajectoryStats {
        alpha0,
        alpha_end: y[0].cos(),
        r1_sup: r1,
        r2_sup: r2,
        beta_r2_sup: br2,
        velocity_sign_change: None,
        integral_norm: y[1],
        integral_lambda_e: y[2],
        integral_lambda_perp: y[3],
        integral_lambda_max: y[4],
    }
}

/// The linearised gap of the interaction-free flow: for a particle starting at α_0, the growth
/// of δ_e and δ_⊥ over [0, t_end] (natural logarithms), from the integrated eigenvalues.
pub fn linearised_gap(psi: &PowerSeries, scale: f64, alpha0: f64, t_end: f64) -> GapGrowth {
    let lip = interaction_free_lipschitz(psi, scale);
    let s = interaction_free_trajectory(psi, scale, alpha0, t_end, lip, 1.0);
    GapGrowth {
        alpha_end: s.alpha_end,
        ln_growth_e: s.integral_lambda_e,
        ln_growth_perp: s.integral_lambda_perp,
    }
}

/// Quantiles of |α_0| under the uniform law on S^{d−1}: α_0² ~ Beta(1/2, (d − 1)/2).
pub fn abs_overlap_quantile(d: usize, q: f64) -> f64 {
    use statrs::distribution::{Beta, ContinuousCDF};
    let b = Beta::new(0.5, (d as f64 - 1.0) / 2.0).expect("d >= 2");
    b.inverse_cdf(q).sqrt()
}
