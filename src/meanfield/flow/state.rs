//! Saving and restoring the numerical state of a flow, for checkpoints of long runs
//! (`mforacle train --resume`): a restored flow continues to the same bits as one that was
//! never interrupted.
//!
//! Continuous flow: a format tag, the time, the integrator's proposed next step, the overlaps
//! α and the β of the nodes and test particles, and the escape times. Discrete map: the step count and the unwrapped
//! latitudes. Everything else is a function of these (the first stage f(t, y) is recomputed
//! from y, which gives the bits the first-same-as-last stage had) or does not affect the
//! numbers (counters).

use super::{DiscreteFlow, Flow};

/// The first number of a continuous flow state: the format tag. Format 1 (before β was
/// carried) started with the time t ≥ 0 and is refused by [`Flow::restore_state`].
const FLOW_STATE_FORMAT_2: f64 = -2.0;

impl Flow {
    /// Everything that determines the continuation, as numbers: [format tag −2, t, next step
    /// (−1: none), α of the nodes and test particles, β of the same, escape times (NaN: none)].
    /// Restoring it into a flow built with the same model, layout, tolerance, test-particle
    /// count and threshold continues to the same bits (f is recomputed from the state,
    /// deterministically).
    pub fn save_state(&self) -> Vec<f64> {
        let mut v = vec![FLOW_STATE_FORMAT_2, self.t, self.h.unwrap_or(-1.0)];
        v.extend_from_slice(&self.core.y);
        v.extend(self.escape.iter().map(|e| e.unwrap_or(f64::NAN)));
        v
    }

    /// Restores [`Flow::save_state`]; refuses a state of another format or shape.
    pub fn restore_state(&mut self, v: &[f64]) -> Result<(), String> {
        match v.first() {
            Some(&x) if x == FLOW_STATE_FORMAT_2 => {}
            Some(&x) if x >= 0.0 => {
                return Err(
                    "flow state of format 1 (overlaps only, written before the flow carried \
                     beta): not readable by this version; rerun without --resume"
                        .into(),
                )
            }
            _ => return Err("flow state: unknown format tag".into()),
        }
        let v = &v[1..];
        let n = self.core.y.len();
        if v.len() != 2 + n + self.escape.len() {
            return Err(format!(
                "flow state has {} numbers, expected {}",
                v.len() + 1,
                3 + n + self.escape.len()
            ));
        }
        if !v[..2 + n].iter().all(|x| x.is_finite()) {
            return Err("flow state has a non-finite time, step, overlap or beta".into());
        }
        let np = n / 2;
        let (a, b) = v[2..2 + n].split_at(np);
        if a.iter()
            .zip(b)
            .any(|(x, y)| *y < 0.0 || ((x * x + y * y) - 1.0).abs() > 1e-12)
        {
            return Err("flow state: a particle is not on the unit circle with beta >= 0".into());
        }
        self.t = v[0];
        self.h = (v[1] > 0.0).then_some(v[1]);
        self.core.y.copy_from_slice(&v[2..2 + n]);
        for (e, x) in self.escape.iter_mut().zip(&v[2 + n..]) {
            *e = x.is_finite().then_some(*x);
        }
        self.latitudes = self.core.latitudes();
        self.f_valid = false;
        Ok(())
    }
}

impl DiscreteFlow {
    /// [steps, latitudes (nodes then test particles)]: restoring it into a map built with the
    /// same model, layout, η, update and test-particle count continues to the same bits.
    pub fn save_state(&self) -> Vec<f64> {
        let mut v = vec![self.steps as f64];
        v.extend_from_slice(&self.theta);
        v
    }

    /// Restores [`DiscreteFlow::save_state`].
    pub fn restore_state(&mut self, v: &[f64]) -> Result<(), String> {
        let n = self.theta.len();
        if v.len() != 1 + n {
            return Err(format!(
                "discrete state has {} numbers, expected {}",
                v.len(),
                1 + n
            ));
        }
        if !(v.iter().all(|x| x.is_finite()) && v[0] >= 0.0 && v[0].fract() == 0.0) {
            return Err("discrete state: bad step count or non-finite latitude".into());
        }
        self.steps = v[0] as usize;
        self.theta.copy_from_slice(&v[1..]);
        let n = self.theta.len();
        let (ya, yb) = self.core.y.split_at_mut(n);
        for ((a, b), t) in ya.iter_mut().zip(yb).zip(&self.theta) {
            (*a, *b) = t.sin_cos();
        }
        Ok(())
    }
}
