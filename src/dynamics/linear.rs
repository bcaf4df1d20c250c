//! # The linearised gap along the discrete ideal particles (`train --linearised`)
//!
//! docs/conventions.md §5 (last item); derivation, error bounds and tests: proofs-notes/linearised-gap.md.
//!
//! Training is the recursion W_{k+1} = Φ_N(W_k) (one projected-GD step of all N neurons, the
//! fast path's [`fast::step`] with the run's update rule), the discrete ideal particles the
//! recursion w̄_{i,k+1} = Φ_MF(w̄_{i,k}; ρ_k) (one step of the discrete mean-field map of
//! [`crate::meanfield::flow::DiscreteFlow`], law ρ_k held by its nodes). With the gap
//! Δ_k = W_k − W̄_k and the source S_k = Φ_N(W̄_k) − W̄_{k+1} (the finite-width network's step
//! taken from the ideal positions, minus the ideal step), two linear recursions, on the same
//! time grid as training:
//!
//! - **full**: δ_{k+1} = DΦ_N(W̄_k)δ_k + S_k, the exact linearisation of the training recursion
//!   about the ideal positions (Δ_{k+1} − δ_{k+1} = DΦ_N(W̄_k)(Δ_k − δ_k) + O(‖Δ_k‖²)).
//!   DΦ_N(W̄)δ is a Jacobian–vector product of the whole finite-width step (every neuron moves:
//!   it contains the collective term (1/N)Σ_j ∇_{w'}v(w̄_i, w̄_j)δ_j), by central differences
//!   of [`fast::step`] along the row-normalised curve W̄ ± sδ_T (δ_T: δ projected on the
//!   tangent spaces), s = [`JVP_STEP`]/max_i ‖δ_{T,i}‖;
//! - **local**: δ_{i,k+1} = J_i δ_{i,k} + S_{i,k}, J_i the derivative of the single-particle
//!   discrete map w ↦ Φ_MF(w; ρ_k) at w̄_{i,k} (law held fixed: the local Hessian alone). In the
//!   frame {ê, ⊥} (ê = ∂w̄/∂ϑ, ⊥ = the d − 2 directions orthogonal to θ and w̄) it is
//!   ê_k ↦ m'(ϑ_k) ê_{k+1} and f ↦ (cos ϑ_{k+1}/cos ϑ_k) f on ⊥, w̄_k ↦ 0, where m is the
//!   scalar map ϑ ↦ ϑ + atan2(ηg, 1 − ηr) (Euclidean), ϑ + atan(ηg) (tangent), ϑ + ηg
//!   (geodesic) and dg/dϑ = λ_e, the closed-form eigenvalue along e of the local Hessian
//!   H_t = ∇_w v(w; ρ_t) ([`crate::hessian::symmetric`], with A, B, A', B' of the discrete law
//!   by [`crate::hessian::law::ReducedLaw`]). Hence m' = 1 + ηλ_e + O(η²) and
//!   cos ϑ_{k+1}/cos ϑ_k = 1 + ηλ_⊥ + O(η²): J = I_T + η(H − ⟨·, v̄⟩w̄) + O(η²), the Euler
//!   step of δ̇ = Hδ − ⟨δ, v̄⟩w̄ + s.
//!
//! Both start from δ_0 = Δ_0 (zero in exact arithmetic, a few ulps in f64).
//!
//! ## Accuracy contract
//! - full: the Jacobian–vector product has relative error ≤ (s‖δ‖)²/6·C₃ + 2e_Φ/(s‖δ‖) per
//!   step, C₃ ≤ 3 + η·sup‖V'''‖ (third derivative of the step map along the normalised curve),
//!   e_Φ ≲ 4d·u + η·ε_v (rounding of one step: normalisation and the fast path's velocity
//!   bound ε_v); at [`JVP_STEP`] = 1e-5 this is ≲ 1e-9 per step for the cases measured
//!   (proofs-notes/linearised-gap.md §4), so ≲ 1e-6 over 1500 steps, against the O(N^{−1/2})
//!   relative remainder the columns measure.
//! - local: λ_e from the closed form (a few ulps relative to the terms; the law's own error is
//!   the flow's), evaluated at (α, β) = (sin ϑ, |cos ϑ|) of the particle's latitude
//!   ([`ReducedLaw::hessian_at`]): β keeps a few ulps of relative accuracy up to the poles, where
//!   √(1 − α²) would lose it (≈ u/β²) and give β = 0 and NaN (1/β in dB/dα) for particles within
//!   1e-8 rad of ±θ; dr/dϑ (enters m' at O(η²) only) by central differences with step
//!   [`RADIAL_STEP`] in ϑ (error ≲ 1e-10 relative, times η²).
//! - every reduction is sequential in index order: the same bits for any thread count.

use super::{Ideal, Run, State, TrainError};
use crate::fast;
use crate::hessian::law::ReducedLaw;
use crate::hessian::symmetric::{PowerSeries, SymmetricHessian};
use crate::meanfield::flow::DiscreteFlow;
use crate::meanfield::Model;

/// Size max_i ‖s δ_{T,i}‖ of the central-difference perturbation of the full linearisation
/// (the rounding/truncation balance of proofs-notes/linearised-gap.md §4).
pub const JVP_STEP: f64 = 1e-5;

/// Step in ϑ of the central difference giving dr/dϑ.
pub const RADIAL_STEP: f64 = 1e-5;

/// The fixed data of the local linearisation.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    psi: PowerSeries,
    kappa: Vec<f64>,
    scale: f64,
}

impl Setup {
    pub(crate) fn new(model: &Model) -> Setup {
        Setup {
            psi: PowerSeries::new(model.psi.to_f64()),
            kappa: model.kappa.to_f64(),
            scale: model.scale(),
        }
    }
}

/// The local discrete map's derivative at one discrete ideal particle, at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalStep {
    /// Latitude ϑ_k of the ideal particle (α = sin ϑ, signed β = cos ϑ).
    pub latitude: f64,
    /// The closed-form local Hessian H_t(w̄) under the discrete law at this step.
    pub hessian: SymmetricHessian,
    /// g (signed: the map's velocity coefficient, odd in β) and the radial coefficient r.
    pub g: f64,
    pub r: f64,
    /// dr/dϑ.
    pub r_prime: f64,
    /// m'(ϑ): the local map's factor along ê.
    pub along_e: f64,
}

/// δ_local and δ_full of one network (N×d row-major each).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearGaps {
    pub local: Vec<f64>,
    pub full: Vec<f64>,
}

/// The columns added to a row by `--linearised`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearColumns {
    /// mean_i N‖δ^loc_i‖².
    #[serde(serialize_with = "crate::output::finite")]
    pub lin_mean_n_gap_sq: f64,
    /// mean_i N‖δ^full_i‖².
    #[serde(serialize_with = "crate::output::finite")]
    pub lin_full_mean_n_gap_sq: f64,
    /// √(Σ_i‖δ^loc_i − Δ_i‖² / Σ_i‖Δ_i‖²), Δ against the discrete ideal particles (0 when both
    /// sums are 0).
    #[serde(serialize_with = "crate::output::finite")]
    pub lin_rel_error: f64,
    /// The same for δ^full.
    #[serde(serialize_with = "crate::output::finite")]
    pub lin_full_rel_error: f64,
}

impl LinearColumns {
    pub const HEADER: &'static str =
        "lin_mean_n_gap_sq,lin_full_mean_n_gap_sq,lin_rel_error,lin_full_rel_error";
}

/// The local steps of the ideal particles at latitudes `lat` under the current law of `flow`.
pub(crate) fn local_steps(
    setup: &Setup,
    flow: &DiscreteFlow,
    lat: &[f64],
    eta: f64,
    update: fast::Update,
) -> Vec<LocalStep> {
    let d = flow.nodes().d;
    let law = ReducedLaw::new(&setup.kappa, d, flow.alpha(), &flow.nodes().weights);
    let h = RADIAL_STEP;
    let mut points = Vec::with_capacity(3 * lat.len());
    for &t in lat {
        points.extend_from_slice(&[t, t + h, t - h]);
    }
    let coef = flow.map_coefficients_at(&points);
    lat.iter()
        .enumerate()
        .map(|(i, &t)| {
            // (α, β) from the latitude: β = |cos ϑ| keeps its relative accuracy up to the poles
            // (√(1 − α²) would not); |·| because H is intrinsic and the law's polynomials
            // depend on β² only (a particle past the pole, cos ϑ < 0, is w = αθ + |β|(−u)).
            let (alpha, beta) = (t.sin(), t.cos().abs());
            let hessian = law.hessian_at(&setup.psi, setup.scale, alpha, beta);
            let (g, r) = coef[3 * i];
            let r_prime = (coef[3 * i + 1].1 - coef[3 * i + 2].1) / (2.0 * h);
            let le = hessian.lambda_e;
            // m(ϑ) = ϑ + atan2(Y, X) with Y = ηg, X = 1 − ηr; d atan2 = (X dY − Y dX)/(X² + Y²)
            // with dY = ηλ_e (dg/dϑ = λ_e), dX = −η r'.
            let along_e = match update {
                fast::Update::Euclidean => {
                    let (x, y) = (1.0 - eta * r, eta * g);
                    1.0 + eta * (x * le + y * r_prime) / (x * x + y * y)
                }
                fast::Update::Tangent => 1.0 + eta * le / (1.0 + (eta * g) * (eta * g)),
                fast::Update::Geodesic => 1.0 + eta * le,
            };
            LocalStep {
                latitude: t,
                hessian,
                g,
                r,
                r_prime,
                along_e,
            }
        })
        .collect()
}

/// Positions of the discrete ideal particles `pairs` = (sin ϑ, cos ϑ) of the first n neurons
/// (N×d): w̄ = sin ϑ θ + cos ϑ u, u = (w(0) − α(0)θ)/β(0), θ = e_1 (the coordinates of
/// `Run::gaps`; a neuron with β(0) = 0 has w̄ = sin ϑ θ).
pub(crate) fn positions(w0: &[f64], beta0: &[f64], pairs: &[(f64, f64)], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; pairs.len() * d];
    for (i, (x, &(sa, cb))) in out.chunks_mut(d).zip(pairs).enumerate() {
        let b0 = beta0[i];
        let f = if b0 > 0.0 { cb / b0 } else { 0.0 };
        x[0] = sa;
        for l in 1..d {
            x[l] = f * w0[i * d + l];
        }
    }
    out
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// J δ for one particle: the local map's derivative (module doc) from ϑ_k (`step.latitude`) to
/// ϑ_{k+1} = `next`, for the neuron with initial row `w0` (β(0) = `b0`), written to `out`.
pub(crate) fn apply_local(
    step: &LocalStep,
    next: f64,
    w0: &[f64],
    b0: f64,
    delta: &[f64],
    out: &mut [f64],
) {
    let d = delta.len();
    let (s0, c0) = step.latitude.sin_cos();
    let (s1, c1) = next.sin_cos();
    // w̄_k = (s0, c0 u), ê_k = (c0, −s0 u), ê_{k+1} = (c1, −s1 u), u = w0[1..]/b0.
    let inv = if b0 > 0.0 { 1.0 / b0 } else { 0.0 };
    let mut a_w = s0 * delta[0];
    let mut a_e = c0 * delta[0];
    for l in 1..d {
        let u = w0[l] * inv;
        a_w += c0 * u * delta[l];
        a_e -= s0 * u * delta[l];
    }
    if b0 == 0.0 || c0 == 0.0 {
        // an ideal particle at ±θ (a fixed point, no ê): the tangent projection only
        let wb0 = s0;
        out[0] = delta[0] - a_w * wb0;
        out[1..].copy_from_slice(&delta[1..]);
        return;
    }
    let perp = c1 / c0;
    let me = step.along_e * a_e;
    out[0] = perp * (delta[0] - a_e * c0 - a_w * s0) + me * c1;
    for l in 1..d {
        let u = w0[l] * inv;
        out[l] = perp * (delta[l] + a_e * s0 * u - a_w * c0 * u) - me * s1 * u;
    }
}

impl Run {
    /// DΦ_N(W̄)δ by central differences of the fast-path step (module doc), n neurons.
    pub(crate) fn full_jvp(
        &self,
        wbar: &[f64],
        delta: &[f64],
        n: usize,
    ) -> Result<Vec<f64>, TrainError> {
        let d = self.config.d;
        let mut tangent = vec![0.0; n * d];
        let mut max = 0.0f64;
        for ((t, w), x) in tangent
            .chunks_mut(d)
            .zip(wbar.chunks(d))
            .zip(delta.chunks(d))
        {
            let c = dot(w, x);
            for l in 0..d {
                t[l] = x[l] - c * w[l];
            }
            max = max.max(dot(t, t).sqrt());
        }
        if max == 0.0 {
            return Ok(vec![0.0; n * d]);
        }
        let s = JVP_STEP / max;
        let shifted = |sign: f64| -> Vec<f64> {
            let mut y = vec![0.0; n * d];
            for ((y, w), t) in y.chunks_mut(d).zip(wbar.chunks(d)).zip(tangent.chunks(d)) {
                for l in 0..d {
                    y[l] = w[l] + sign * s * t[l];
                }
                let norm = dot(y, y).sqrt();
                y.iter_mut().for_each(|v| *v /= norm);
            }
            y
        };
        let (plus, minus) = (shifted(1.0), shifted(-1.0));
        let a = vec![1.0 / n as f64; n];
        let fail = |e: fast::FastError| TrainError::Failure(e.to_string());
        let step = |w: &[f64]| {
            fast::step(
                &self.problem(w, &a),
                self.config.eta,
                self.update,
                fast::Route::Auto,
            )
            .map_err(fail)
        };
        let (fp, fm) = (step(&plus)?, step(&minus)?);
        Ok(fp
            .iter()
            .zip(&fm)
            .map(|(p, m)| (p - m) / (2.0 * s))
            .collect())
    }

    /// Φ_N(W̄): one training step of the network placed at the ideal positions.
    pub(crate) fn step_from(&self, wbar: &[f64], n: usize) -> Result<Vec<f64>, TrainError> {
        let a = vec![1.0 / n as f64; n];
        fast::step(
            &self.problem(wbar, &a),
            self.config.eta,
            self.update,
            fast::Route::Auto,
        )
        .map_err(|e| TrainError::Failure(e.to_string()))
    }

    /// Positions (N×d) of the discrete ideal particles of the first `n` neurons of draw `r` at
    /// the state's current step.
    pub fn discrete_ideal_positions(&self, state: &State, r: usize, n: usize) -> Vec<f64> {
        self.ideal_positions(&state.ideal, r, n)
    }

    pub(crate) fn ideal_positions(&self, ideal: &Ideal, r: usize, n: usize) -> Vec<f64> {
        let n_max = *self.config.widths.last().expect("validated");
        let pairs = ideal.discrete_alpha(r * n_max, n);
        positions(&self.initial[r], &self.beta0[r], &pairs, self.config.d)
    }

    /// The local steps (closed-form H under the discrete law, the local map's factors) of the
    /// N_max ideal particles of draw `r` at the state's current step; `None` without
    /// `--linearised`.
    pub fn local_steps(&self, state: &State, r: usize) -> Option<Vec<LocalStep>> {
        let setup = self.linear.as_ref()?;
        let n_max = *self.config.widths.last().expect("validated");
        let lat = state.ideal.discrete_latitudes(r * n_max, n_max);
        Some(local_steps(
            setup,
            state.ideal.discrete_flow(),
            lat,
            self.config.eta,
            self.update,
        ))
    }
}

/// The recorded columns from the network `w`, the ideal positions `wbar` and the δ's (n rows).
pub(crate) fn columns(w: &[f64], wbar: &[f64], gaps: &LinearGaps, n: usize) -> LinearColumns {
    let nf = n as f64;
    let (mut sl, mut sf, mut el, mut ef, mut sd) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 0..w.len() {
        let delta = w[k] - wbar[k];
        let (l, f) = (gaps.local[k], gaps.full[k]);
        sl += l * l;
        sf += f * f;
        el += (l - delta) * (l - delta);
        ef += (f - delta) * (f - delta);
        sd += delta * delta;
    }
    let rel = |e: f64| if e == 0.0 { 0.0 } else { (e / sd).sqrt() };
    LinearColumns {
        lin_mean_n_gap_sq: nf * (sl / nf),
        lin_full_mean_n_gap_sq: nf * (sf / nf),
        lin_rel_error: rel(el),
        lin_full_rel_error: rel(ef),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Spec;
    use crate::meanfield::flow::Layout;
    use crate::population::{LossScale, Update};
    use std::f64::consts::FRAC_PI_2;

    /// Particles at (or within rounding of) ±θ, where β = √(1 − α²) is 0 in f64, get finite
    /// local steps that continue those of nearby latitudes (β from the latitude).
    #[test]
    fn local_steps_are_finite_and_continuous_at_the_poles() {
        let he4 = Spec::parse("he4").unwrap();
        let model = Model::new(&he4, &he4, 8, 60, 25, LossScale::Full, 0.0).unwrap();
        let layout = Layout {
            panels: 10,
            ..Layout::default()
        };
        let mut flow = DiscreteFlow::new(&model, layout, 0.01, Update::Euclidean).unwrap();
        for _ in 0..50 {
            flow.step();
        }
        let setup = Setup::new(&model);
        let lat = [
            FRAC_PI_2,
            FRAC_PI_2 - 1e-9,
            FRAC_PI_2 - 1e-4,
            -FRAC_PI_2,
            FRAC_PI_2 + 1e-9,
        ];
        let st = local_steps(&setup, &flow, &lat, 0.01, fast::Update::Euclidean);
        for s in &st {
            assert!(
                s.along_e.is_finite() && s.hessian.lambda_e.is_finite(),
                "{s:?}"
            );
        }
        // λ_e is smooth in (α, β²): at β = 1e-4 it differs from the pole value by O(β²)·C
        let le = |i: usize| st[i].hessian.lambda_e;
        assert!((le(0) - le(2)).abs() < 1e-6, "{} {}", le(0), le(2));
        assert!((le(0) - le(1)).abs() < 1e-6 && (le(0) - le(4)).abs() < 1e-6);
    }
}
