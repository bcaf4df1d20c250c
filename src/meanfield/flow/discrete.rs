//! The discrete mean-field map of the projected-GD update rules ([`DiscreteFlow`]), on the
//! particles of [`super::particles::Core`]. Accuracy: the module contract of [`super`].

use super::*;

/// The discrete mean-field map: every particle (node or test) moves by one step of size η of
/// the projected-GD update rule under the current law, all at once:
/// ϑ ← ϑ + atan2(ηg, 1 − ηr) (Euclidean), ϑ + atan(ηg) (tangent), ϑ + ηg (geodesic), with
/// g, r evaluated at signed β = cos ϑ (g is odd and r even in β, so a particle that overshoots
/// θ is handled exactly). The latitudes are kept unwrapped ([`DiscreteFlow::latitudes`]): the
/// ideal particle is w̄ = sin ϑ·θ + cos ϑ·u(0). Mean-field time = steps·η.
#[derive(Clone, Debug)]
pub struct DiscreteFlow {
    pub(super) core: Core,
    pub(super) theta: Vec<f64>,
    pub(super) eta: f64,
    pub(super) update: Update,
    pub(super) steps: usize,
}

impl DiscreteFlow {
    /// The discrete map with step `eta` > 0 and `update`, from the uniform law.
    pub fn new(
        model: &Model,
        layout: Layout,
        eta: f64,
        update: Update,
    ) -> Result<DiscreteFlow, FlowError> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(FlowError::Input(format!("eta = {eta} must be > 0")));
        }
        let core = Core::new(model, layout)?;
        Ok(DiscreteFlow {
            theta: core.nodes.theta.clone(),
            core,
            eta,
            update,
            steps: 0,
        })
    }

    law_accessors!();

    /// Adds test particles at overlaps `alpha` at the current step (β ≥ 0).
    pub fn add_test_particles(&mut self, alpha: &[f64]) -> Result<Range<usize>, FlowError> {
        let r = self.core.add(alpha)?;
        self.theta.extend(alpha.iter().map(|a| a.asin()));
        Ok(r)
    }

    /// Latitudes of the nodes then the test particles, unwrapped (α = sin ϑ, β = cos ϑ).
    pub fn latitudes(&self) -> &[f64] {
        &self.theta
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Mean-field time steps·η.
    pub fn time(&self) -> f64 {
        self.steps as f64 * self.eta
    }

    /// One step of the map for all particles.
    pub fn step(&mut self) {
        let core = &self.core;
        let p = core.moments();
        let g: Bivariate = core.exp.g_polynomial(&p);
        let r = match self.update {
            Update::Euclidean => Some(core.exp.radial_mean_polynomial(&p)),
            _ => None,
        };
        let psi_radial = core.exp.psi_radial.clone();
        let c = 2.0 * core.scale;
        let eta = self.eta;
        let n = self.core.n();
        let (ya, yb) = self.core.y.split_at_mut(n);
        for ((t, a), bt) in self.theta.iter_mut().zip(ya).zip(yb) {
            let (sa, b) = t.sin_cos();
            let b2 = b * b;
            let gv = c * b * g.eval(sa, b2);
            let d = match self.update {
                Update::Geodesic => eta * gv,
                Update::Tangent => (eta * gv).atan(),
                Update::Euclidean => {
                    let rp = r.as_ref().expect("radial polynomial");
                    let rv = c * (rp.eval(sa, b2) - horner(&psi_radial, sa));
                    (eta * gv).atan2(1.0 - eta * rv)
                }
            };
            *t += d;
            (*a, *bt) = t.sin_cos();
        }
        self.steps += 1;
    }
}
