//! The ideal particles of a training run: one continuous and one discrete mean-field test
//! particle per initial neuron of every draw, carried by the f64 reduced flow
//! ([`crate::meanfield::flow`]): the continuous flow is advanced to every step time k·η, the
//! discrete map takes one step per training step.
//!
//! A test particle's latitude ϑ gives the ideal particle w̄ = sin ϑ θ + cos ϑ u with u the
//! neuron's initial direction orthogonal to θ (docs/conventions.md §4, "Coupled ideal particles").

use super::{Config, TrainError};
use crate::meanfield::flow::{DiscreteFlow, Flow, Layout, Tolerance};
use crate::meanfield::Model;
use crate::population::Update;

/// Continuous and discrete ideal particles, and the two mean-field laws that drive them.
#[derive(Clone, Debug)]
pub struct Ideal {
    continuous: Flow,
    discrete: DiscreteFlow,
    /// Number of nodes (the discrete map's test particles come after them in `latitudes()`).
    nodes: usize,
}

fn fail(e: impl std::fmt::Display) -> TrainError {
    TrainError::Failure(format!("mean-field flow: {e}"))
}

impl Ideal {
    /// Flows for `model` with test particles at the initial overlaps `alpha0` (all draws,
    /// draw-major, N_max each).
    pub fn new(model: &Model, config: &Config, alpha0: &[f64]) -> Result<Ideal, TrainError> {
        let layout = Layout {
            panels: config.panels,
            ..Layout::default()
        };
        let update = match config.update.as_str() {
            "tangent" => Update::Tangent,
            "geodesic" => Update::Geodesic,
            _ => Update::Euclidean,
        };
        let mut continuous = Flow::new(model, layout, Tolerance::new(config.rtol)).map_err(fail)?;
        continuous.add_test_particles(alpha0).map_err(fail)?;
        let mut discrete = DiscreteFlow::new(model, layout, config.eta, update).map_err(fail)?;
        discrete.add_test_particles(alpha0).map_err(fail)?;
        Ok(Ideal {
            nodes: layout.node_count(),
            continuous,
            discrete,
        })
    }

    /// Advances both to step `k` (time k·η).
    pub fn advance(&mut self, k: usize, eta: f64) -> Result<(), TrainError> {
        self.continuous.advance_to(k as f64 * eta).map_err(fail)?;
        while self.discrete.steps() < k {
            self.discrete.step();
        }
        Ok(())
    }

    fn pairs(lat: &[f64], from: usize, n: usize) -> Vec<(f64, f64)> {
        lat[from..from + n].iter().map(|t| t.sin_cos()).collect()
    }

    /// (ᾱ, β̄) of the continuous ideal particles `offset..offset + n`, as the flow carries
    /// them (β̄ keeps its relative accuracy up to the poles).
    pub fn continuous_alpha(&self, offset: usize, n: usize) -> Vec<(f64, f64)> {
        let (a, b) = (self.continuous.test_alpha(), self.continuous.test_beta());
        a[offset..offset + n]
            .iter()
            .zip(&b[offset..offset + n])
            .map(|(x, y)| (*x, *y))
            .collect()
    }

    /// The same for the discrete ideal particles.
    pub fn discrete_alpha(&self, offset: usize, n: usize) -> Vec<(f64, f64)> {
        Self::pairs(self.discrete.latitudes(), self.nodes + offset, n)
    }

    /// Latitudes ϑ (unwrapped) of the discrete ideal particles `offset..offset + n`.
    pub fn discrete_latitudes(&self, offset: usize, n: usize) -> &[f64] {
        &self.discrete.latitudes()[self.nodes + offset..self.nodes + offset + n]
    }

    /// The discrete mean-field map (its law: nodes, weights, coefficients).
    pub fn discrete_flow(&self) -> &DiscreteFlow {
        &self.discrete
    }

    /// Loss of the continuous mean-field law at the current time.
    pub fn continuous_loss(&self) -> f64 {
        self.continuous.loss()
    }

    /// Loss of the discrete mean-field law at the current step.
    pub fn discrete_loss(&self) -> f64 {
        self.discrete.loss()
    }

    /// E_{α',z}[κ(αα' + ββ'z)] under the continuous law.
    pub fn kernel_mean_at(&self, alpha: f64) -> f64 {
        self.continuous.kernel_mean_at(alpha)
    }

    /// [`Ideal::kernel_mean_at`] for every α of `alpha` (the law's moments formed once).
    pub fn kernel_means_at(&self, alpha: &[f64]) -> Vec<f64> {
        self.continuous.kernel_means_at(alpha)
    }

    /// E[κ(αα' + ββ'z)] under the continuous law.
    pub fn self_kernel_mean(&self) -> f64 {
        self.continuous.self_kernel_mean()
    }

    /// Everything needed to continue to the same bits (for checkpoints).
    pub fn state(&self) -> Vec<f64> {
        let mut v = self.continuous.save_state();
        v.extend(self.discrete.save_state());
        v
    }

    /// Restores [`Ideal::state`].
    pub fn restore(&mut self, v: &[f64]) -> Result<(), String> {
        let n = self.continuous.save_state().len();
        if v.len() != n + self.discrete.save_state().len() {
            return Err("the mean-field state has the wrong length".into());
        }
        self.continuous.restore_state(&v[..n])?;
        self.discrete.restore_state(&v[n..])
    }
}
