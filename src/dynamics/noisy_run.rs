//! The loop of `train --beta` as a library function: noisy projected GD (src/dynamics/noise.rs),
//! one network per width and draw (the nested widths share initial neurons and Brownian
//! increments), each neuron coupled to its noisy ideal particle driven by the limit law
//! (src/dynamics/noisy_ideal.rs). `mforacle train --beta` and the `langevin` recipe
//! (src/recipes/langevin.rs) both call [`run`], so the recipe's finite-N rows are the bytes of
//! `train --beta` for the same settings (tested in tests/reproduce_langevin.rs).
//!
//! Accuracy contract: the rows are the fast path's values ([`crate::fast`]) at the simulated
//! positions, as printed by `train --beta`; the snapshots are the raw overlaps s_i = ⟨w_i, θ⟩.

use super::noise;
use super::noisy_ideal::{self, NoisyIdeal};
use super::{Config, Run};
use crate::conventions::{failure, Error};
use crate::fast;

/// Header of `train --beta`'s train.csv: the network's columns, then the coupled ideal
/// particles' (gap = mean_i |w_i − w̄_i|², their empirical loss and moments of s̄_i = ⟨w̄_i, θ⟩),
/// then the limit law's (`langevin flow` route B at t).
pub const NOISY_HEADER: &str = "width,draw,step,t,loss,risk,mean_s,mean_s2,mean_abs_s,gap,ideal_loss,ideal_mean_s,ideal_mean_s2,ideal_mean_abs_s,flow_loss,flow_mean_s,flow_mean_s2";

/// Relative tolerance of the limit law that drives the noisy ideal particles.
pub const NOISY_FLOW_TOL: f64 = 1e-9;

/// The overlaps s_i = ⟨w_i, θ⟩ of one network at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub width: usize,
    pub draw: usize,
    pub step: usize,
    pub s: Vec<f64>,
}

/// The output of [`run`].
#[derive(Clone, Debug)]
pub struct NoisyRun {
    /// The validated configuration.
    pub config: Config,
    pub steps: usize,
    /// train.csv, header included.
    pub csv: String,
    /// The overlaps at the requested steps, per draw and width in run order.
    pub snapshots: Vec<Snapshot>,
}

/// Runs noisy projected GD at inverse temperature `beta` (checked by the caller: finite,
/// in (0, 1e6]; d >= 3) and records the overlaps at `snapshot_steps`.
pub fn run(config: Config, beta: f64, snapshot_steps: &[usize]) -> Result<NoisyRun, Error> {
    let run = Run::new(config)?;
    let c = &run.config;
    let (d, steps) = (c.d, c.steps());
    let sigma = (2.0 * c.eta / beta).sqrt();
    let scale = run.model.scale();
    let ideal = NoisyIdeal::new(&run.model, beta, c.eta, steps, NOISY_FLOW_TOL).map_err(|e| {
        failure(format!(
            "the noisy ideal particles' limit law (langevin flow at beta {beta}): {e}"
        ))
    })?;
    let theta = run.theta().to_vec();
    let mut csv = String::from(NOISY_HEADER);
    csv.push('\n');
    let mut snapshots = Vec::new();
    let fail = |e: fast::FastError| failure(e.to_string());
    for r in 0..c.draws {
        for &n in &c.widths {
            let mut w = run.initial[r][..n * d].to_vec();
            let mut wbar = w.clone();
            let a = vec![1.0 / n as f64; n];
            for k in 0..=steps {
                if snapshot_steps.contains(&k) {
                    snapshots.push(Snapshot {
                        width: n,
                        draw: r,
                        step: k,
                        s: (0..n).map(|i| w[i * d]).collect(),
                    });
                }
                let record = k % c.record_every == 0 || k == steps;
                let p = run.problem(&w, &a);
                let v = if record {
                    let ev = fast::evaluate(&p, fast::Route::Auto).map_err(fail)?;
                    let ev_bar =
                        fast::evaluate(&run.problem(&wbar, &a), fast::Route::Auto).map_err(fail)?;
                    let nf = n as f64;
                    let s = |x: &[f64], f: &dyn Fn(f64) -> f64| {
                        (0..n).map(|i| f(x[i * d])).sum::<f64>() / nf
                    };
                    let gap = (0..n * d).map(|j| (w[j] - wbar[j]).powi(2)).sum::<f64>() / nf;
                    let fo = ideal.flow_outputs(k);
                    csv += &format!(
                        "{n},{r},{k},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e}\n",
                        k as f64 * c.eta,
                        ev.loss,
                        ev.loss / scale,
                        s(&w, &|x| x),
                        s(&w, &|x| x * x),
                        s(&w, &|x: f64| x.abs()),
                        gap,
                        ev_bar.loss,
                        s(&wbar, &|x| x),
                        s(&wbar, &|x| x * x),
                        s(&wbar, &|x: f64| x.abs()),
                        fo[noisy_ideal::LOSS],
                        fo[noisy_ideal::MEAN_S],
                        fo[noisy_ideal::MEAN_S2],
                    );
                    ev.velocity
                } else if k < steps {
                    fast::velocity(&p, fast::Route::Auto).map_err(fail)?
                } else {
                    Vec::new()
                };
                if k < steps {
                    let key = noise::noise_key(c.seed, r as u64, k as u64);
                    let vbar = |x: &[f64], out: &mut [f64]| ideal.velocity_into(k, &theta, x, out);
                    (w, wbar) = noise::coupled_step(&w, &v, &wbar, &vbar, d, c.eta, sigma, key);
                }
            }
        }
    }
    Ok(NoisyRun {
        config: run.config.clone(),
        steps,
        csv,
        snapshots,
    })
}
