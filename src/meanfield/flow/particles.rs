//! The problem data and the particles of the reduced flow ([`Core`]), shared by the continuous
//! flow ([`super::Flow`]) and the discrete map ([`super::DiscreteFlow`]): the state (α, β) of
//! every particle, the moments of the law, the velocity and radial coefficients, the risk and
//! the loss. Accuracy: the module contract of [`super`].

use super::*;

/// The problem data and the particles, shared by the continuous and the discrete flow.
#[derive(Clone, Debug)]
pub(super) struct Core {
    pub(super) nodes: Nodes,
    pub(super) exp: Expansion,
    pub(super) scale: f64,
    pub(super) teacher_norm: f64,
    pub(super) noise_variance: f64,
    /// Node count M: of the n particles, 0..m are the nodes, m..n the test particles.
    pub(super) m: usize,
    /// The state, 2n numbers: y[..n] the overlaps α (nodes then test particles), y[n..] their
    /// β (same order; β = √(1 − α²) ≥ 0 for the continuous flow, β = cos ϑ of either sign for
    /// the discrete map). Both are carried so that each keeps its own relative accuracy (β near
    /// the poles, α near the equator).
    pub(super) y: Vec<f64>,
}

impl Core {
    pub(super) fn new(model: &Model, layout: Layout) -> Result<Core, FlowError> {
        let nodes = nodes(layout, model.d).map_err(FlowError::Layout)?;
        let exp = Expansion::new(
            &model.kappa.to_f64(),
            &model.psi.to_f64(),
            &model.kappa_radial.to_f64(),
            &model.psi_radial.to_f64(),
            model.d,
        );
        let noise = model.noise_variance;
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(FlowError::Input(
                "the noise variance must be finite and >= 0".into(),
            ));
        }
        let (mut y, beta) = (nodes.alpha(), nodes.beta());
        y.extend(beta);
        Ok(Core {
            m: nodes.len(),
            y,
            nodes,
            exp,
            scale: model.scale(),
            teacher_norm: model.teacher_norm.0.to_f64(),
            noise_variance: noise,
        })
    }

    /// Number of particles n (nodes and test particles).
    pub(super) fn n(&self) -> usize {
        self.y.len() / 2
    }

    /// (α, β) of the nodes of state `y`.
    pub(super) fn node_pairs<'a>(&self, y: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        let n = y.len() / 2;
        (&y[..self.m], &y[n..n + self.m])
    }

    pub(super) fn moments_of(&self, y: &[f64]) -> Vec<f64> {
        let (a, b) = self.node_pairs(y);
        self.exp.moments(a, b, &self.nodes.weights)
    }

    pub(super) fn moments(&self) -> Vec<f64> {
        self.moments_of(&self.y)
    }

    /// The right-hand side for every particle of state `y` = (α…, β…): with
    /// G = g/(2·scale·β) a polynomial in (α, β²), dα/dt = βg = 2·scale·β²G and
    /// dβ/dt = −αg = −2·scale·αβG (the rotation of (α, β) at angular speed −g).
    pub(super) fn velocity(&self, y: &[f64], out: &mut [f64]) {
        let (na, nb) = self.node_pairs(y);
        let g = self
            .exp
            .g_polynomial(&self.exp.g_moments(na, nb, &self.nodes.weights));
        let c = 2.0 * self.scale;
        let n = y.len() / 2;
        let (a, b) = y.split_at(n);
        let b2: Vec<f64> = b.iter().map(|x| x * x).collect();
        let (da, db) = out.split_at_mut(n);
        g.eval_many(a, &b2, da);
        for i in 0..n {
            let cg = c * da[i];
            da[i] = cg * b2[i];
            db[i] = -(cg * a[i]) * b[i];
        }
    }

    /// Appends test particles at the points (α, β) of the unit circle (the caller checks them).
    pub(super) fn add_pairs(&mut self, alpha: &[f64], beta: &[f64]) -> Range<usize> {
        let n = self.n();
        let start = n - self.m;
        let mut y = Vec::with_capacity(2 * (n + alpha.len()));
        y.extend_from_slice(&self.y[..n]);
        y.extend_from_slice(alpha);
        y.extend_from_slice(&self.y[n..]);
        y.extend_from_slice(beta);
        self.y = y;
        start..start + alpha.len()
    }

    /// Checks test particles given as points (α, β), β ≥ 0, with |α² + β² − 1| ≤ 1e-12, and
    /// returns them scaled onto the unit circle.
    pub(super) fn check_pairs(
        alpha: &[f64],
        beta: &[f64],
    ) -> Result<(Vec<f64>, Vec<f64>), FlowError> {
        if alpha.len() != beta.len() {
            return Err(FlowError::Input(format!(
                "{} overlaps but {} betas",
                alpha.len(),
                beta.len()
            )));
        }
        let mut out = (
            Vec::with_capacity(alpha.len()),
            Vec::with_capacity(alpha.len()),
        );
        for (&a, &b) in alpha.iter().zip(beta) {
            let r2 = a * a + b * b;
            if !(a.is_finite() && b.is_finite() && b >= 0.0 && (r2 - 1.0).abs() <= 1e-12) {
                return Err(FlowError::Input(format!(
                    "test particle (alpha, beta) = ({a}, {b}) is not a point of the unit circle \
                     with beta >= 0"
                )));
            }
            let r = r2.sqrt();
            out.0.push(a / r);
            out.1.push(b / r);
        }
        Ok(out)
    }

    /// ϑ = atan2(α, β) of every particle.
    pub(super) fn latitudes(&self) -> Vec<f64> {
        let n = self.n();
        self.y[..n]
            .iter()
            .zip(&self.y[n..])
            .map(|(a, b)| a.atan2(*b))
            .collect()
    }

    /// Test particles at overlaps α ∈ [−1, 1], β = √((1 − α)(1 + α)) ≥ 0.
    pub(super) fn add(&mut self, alpha0: &[f64]) -> Result<Range<usize>, FlowError> {
        if let Some(a) = alpha0
            .iter()
            .find(|a| !(a.is_finite() && (-1.0..=1.0).contains(*a)))
        {
            return Err(FlowError::Input(format!(
                "test particle overlap {a} is not in [-1, 1]"
            )));
        }
        let beta: Vec<f64> = alpha0.iter().map(|&a| Self::beta(a)).collect();
        Ok(self.add_pairs(alpha0, &beta))
    }

    pub(super) fn psi_mean(&self) -> f64 {
        self.y[..self.m]
            .iter()
            .zip(&self.nodes.weights)
            .map(|(a, w)| w * horner(&self.exp.psi, *a))
            .sum()
    }

    pub(super) fn risk(&self) -> f64 {
        let p = self.moments();
        self.exp.self_kappa_mean(&p) - 2.0 * self.psi_mean() + self.teacher_norm
    }

    pub(super) fn loss(&self) -> f64 {
        self.scale * (self.risk() + self.noise_variance)
    }

    /// β² = (1 − α)(1 + α) (no cancellation near ±1).
    pub(super) fn beta2(alpha: f64) -> f64 {
        ((1.0 - alpha) * (1.0 + alpha)).max(0.0)
    }

    pub(super) fn beta(alpha: f64) -> f64 {
        Self::beta2(alpha).sqrt()
    }

    pub(super) fn kernel_mean_at(&self, alpha: f64) -> f64 {
        self.exp
            .kappa_mean_polynomial(&self.moments())
            .eval(alpha, Self::beta2(alpha))
    }

    pub(super) fn kernel_means_at(&self, alpha: &[f64]) -> Vec<f64> {
        let poly = self.exp.kappa_mean_polynomial(&self.moments());
        alpha
            .iter()
            .map(|&a| poly.eval(a, Self::beta2(a)))
            .collect()
    }

    pub(super) fn velocity_coefficient(&self, alpha: f64) -> f64 {
        2.0 * self.scale
            * Self::beta(alpha)
            * self
                .exp
                .g_polynomial(&self.moments())
                .eval(alpha, Self::beta2(alpha))
    }

    pub(super) fn radial_coefficient(&self, alpha: f64) -> f64 {
        let r = self.exp.radial_mean_polynomial(&self.moments());
        2.0 * self.scale * (r.eval(alpha, Self::beta2(alpha)) - horner(&self.exp.psi_radial, alpha))
    }

    /// (g, r) at latitudes ϑ with signed β = cos ϑ, the law's polynomials formed once; the
    /// same operations as [`DiscreteFlow::step`].
    pub(super) fn map_coefficients_at(&self, latitudes: &[f64]) -> Vec<(f64, f64)> {
        let p = self.moments();
        let g = self.exp.g_polynomial(&p);
        let r = self.exp.radial_mean_polynomial(&p);
        let c = 2.0 * self.scale;
        latitudes
            .iter()
            .map(|t| {
                let (sa, b) = t.sin_cos();
                let b2 = b * b;
                (
                    c * b * g.eval(sa, b2),
                    c * (r.eval(sa, b2) - horner(&self.exp.psi_radial, sa)),
                )
            })
            .collect()
    }

    pub(super) fn dissipation(&self) -> f64 {
        let g = self.exp.g_polynomial(&self.moments());
        let c = 2.0 * self.scale;
        let (na, nb) = self.node_pairs(&self.y);
        na.iter()
            .zip(nb)
            .zip(&self.nodes.weights)
            .map(|((&a, &b), w)| {
                let b2 = b * b;
                let gg = c * g.eval(a, b2);
                w * b2 * gg * gg
            })
            .sum()
    }
}
