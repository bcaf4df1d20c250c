//! Criterion bench of the noise of `train --beta` (src/dynamics/noise.rs).
//!
//! `cargo bench --bench langevin` prints, for N ∈ {1024, 4096}, d = 64, σ = σ* = h_4 (the
//! automatic route), β = 10, η = 0.01, the seconds of
//! - `plain`: one noiseless tangent training step (velocity only, then `fast::apply_update`, as
//!   `train` on a non-recording step),
//! - `noisy`: one noisy step of the network alone (velocity, then
//!   `dynamics::noise::noisy_tangent_step`),
//! - `coupled`: one step of `train --beta` on a non-recording step (velocity, then
//!   `dynamics::noise::coupled_step`: the network and its noisy ideal particles, driven by the
//!   limit law of `dynamics::noisy_ideal::NoisyIdeal`, with the same increments),
//! - `increments`: the N·d Gaussian increments alone (`noise::fill_increments`, all neurons),
//! - `box_muller`: the same ChaCha8 streams through Box–Muller (`sampling::gaussians`, the
//!   transform of the noise before issue 14's speed fix; for comparison only),
//!
//! measured in the same run, interleaved rep by rep (plain, noisy, coupled, increments,
//! box_muller, plain, …) so that the machine's load affects all alike; it prints the medians
//! and the ratios of the medians to `plain`, in wall time and in the process's CPU time
//! (Linux: /proc/self/task/*/schedstat; the steadier of the two on a loaded machine). Then the criterion groups `noisy_step/N{..}/{plain,noisy,coupled}`
//! (sample_size 10). `MFORACLE_BENCH_QUICK=1` prints the ratios only.

use criterion::{criterion_group, Criterion};
use mforacle::activation::Spec;
use mforacle::dynamics::noise;
use mforacle::dynamics::noisy_ideal::NoisyIdeal;
use mforacle::fast::{self, Kernel, LossScale, Problem, Route, Update};
use mforacle::meanfield::Model;
use rayon::prelude::*;
use std::time::{Duration, Instant};

const D: usize = 64;
const ETA: f64 = 0.01;
const BETA: f64 = 10.0;
/// Steps of the ideal particles' limit law held (step k of the bench uses k mod STEPS).
const STEPS: usize = 50;

fn unit_rows(n: usize, d: usize) -> Vec<f64> {
    let mut w: Vec<f64> = (0..n * d)
        .map(|i| ((i as f64 * 0.618_033_988_75).fract() - 0.5))
        .collect();
    for row in w.chunks_exact_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    w
}

fn problem<'a>(w: &'a [f64], a: &'a [f64], theta: &'a [f64], n: usize, d: usize) -> Problem<'a> {
    let h4 = Kernel::PowerSeries(vec![0.0, 0.0, 0.0, 0.0, 1.0]);
    let r4 = Kernel::PowerSeries(vec![0.0, 0.0, 0.0, 0.0, 4.0]);
    Problem {
        w,
        n,
        d,
        a,
        theta,
        kappa: h4.clone(),
        psi: h4,
        kappa_radial: r4.clone(),
        psi_radial: r4,
        constant: 1.0,
        loss_scale: LossScale::Full,
    }
}

/// The noiseless tangent step as `train` takes it on a non-recording step: velocity only.
fn plain(p: &Problem) -> Vec<f64> {
    let v = fast::velocity(p, Route::Auto).unwrap();
    let ev = fast::Evaluation {
        route: Route::Auto,
        loss: f64::NAN,
        tangent_gradient: v.iter().map(|x| -x / p.n as f64).collect(),
        radial_gradient: Vec::new(),
        velocity: v,
    };
    fast::apply_update(p, &ev, 0.01, Update::Tangent)
}

fn sigma() -> f64 {
    (2.0 * ETA / BETA).sqrt()
}

fn noisy(p: &Problem, k: u64) -> Vec<f64> {
    let v = fast::velocity(p, Route::Auto).unwrap();
    noise::noisy_tangent_step(p.w, &v, p.d, ETA, sigma(), noise::noise_key(0, 0, k))
}

/// The limit law of the he4/he4 model at d = 64, β = 10 (the kernels of `problem`).
fn ideal() -> NoisyIdeal {
    let he4 = Spec::parse("he4").unwrap();
    let m = Model::new(
        &he4,
        &he4,
        D,
        20,
        20,
        mforacle::population::LossScale::Full,
        0.0,
    )
    .unwrap();
    NoisyIdeal::new(&m, BETA, ETA, STEPS, 1e-9).unwrap()
}

fn coupled(p: &Problem, wbar: &[f64], ideal: &NoisyIdeal, k: u64) -> (Vec<f64>, Vec<f64>) {
    let v = fast::velocity(p, Route::Auto).unwrap();
    let step = k as usize % STEPS;
    let vbar = |x: &[f64], out: &mut [f64]| ideal.velocity_into(step, p.theta, x, out);
    let key = noise::noise_key(0, 0, k);
    noise::coupled_step(p.w, &v, wbar, &vbar, p.d, ETA, sigma(), key)
}

fn increments(n: usize, k: u64) -> Vec<f64> {
    let mut g = vec![0.0; n * D];
    let key = noise::noise_key(0, 0, k);
    g.par_chunks_mut(D)
        .enumerate()
        .for_each(|(i, row)| noise::fill_increments(key, i, row));
    g
}

/// The increments as drawn before the ziggurat: Box–Muller on the same streams, one Vec per
/// neuron.
fn box_muller(n: usize, k: u64) -> Vec<f64> {
    use rand::SeedableRng;
    let mut g = vec![0.0; n * D];
    let key = noise::noise_key(0, 0, k);
    g.par_chunks_mut(D).enumerate().for_each(|(i, row)| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(key);
        rng.set_stream(i as u64);
        row.copy_from_slice(&mforacle::sampling::gaussians(&mut rng, D));
    });
    g
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let m = x.len() / 2;
    if x.len() % 2 == 1 {
        x[m]
    } else {
        (x[m - 1] + x[m]) / 2.0
    }
}

/// CPU time of this process in ns (the sum of sum_exec_runtime over its threads, from
/// /proc/self/task/*/schedstat), or None off Linux. On a loaded machine it is the steadier
/// measure: it counts the work done, not the time spent waiting for a core.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn ratios() {
    let ideal = ideal();
    let names = ["plain", "noisy", "coupled", "increments", "box_muller"];
    for n in [1024usize, 4096] {
        let w = unit_rows(n, D);
        let wbar = unit_rows(n, D);
        let a = vec![1.0 / n as f64; n];
        let mut theta = vec![0.0; D];
        theta[0] = 1.0;
        let p = problem(&w, &a, &theta, n, D);
        let reps = if n > 2000 { 12 } else { 60 };
        let (mut wall, mut cpu) = (vec![vec![]; 5], vec![vec![]; 5]);
        // warm-up, then interleaved rep by rep
        drop((plain(&p), noisy(&p, 0), coupled(&p, &wbar, &ideal, 0)));
        drop((increments(n, 0), box_muller(n, 0)));
        for k in 1..=reps as u64 {
            let mut cases: [Box<dyn FnMut()>; 5] = [
                Box::new(|| drop(plain(&p))),
                Box::new(|| drop(noisy(&p, k))),
                Box::new(|| drop(coupled(&p, &wbar, &ideal, k))),
                Box::new(|| drop(increments(n, k))),
                Box::new(|| drop(box_muller(n, k))),
            ];
            for (j, f) in cases.iter_mut().enumerate() {
                let (c0, s) = (cpu_ns(), Instant::now());
                f();
                wall[j].push(s.elapsed().as_secs_f64());
                if let (Some(c0), Some(c1)) = (c0, cpu_ns()) {
                    cpu[j].push((c1 - c0) as f64 * 1e-9);
                }
            }
        }
        for (label, t) in [("wall", wall), ("cpu", cpu)] {
            if t[0].is_empty() {
                continue;
            }
            let m: Vec<f64> = t.into_iter().map(median).collect();
            let cols: Vec<String> = (0..5)
                .map(|j| format!("{} {:.4e} s", names[j], m[j]))
                .collect();
            let ratios: Vec<String> = (1..5)
                .map(|j| format!("{}/plain {:.3}", names[j], m[j] / m[0]))
                .collect();
            println!(
                "noisy_step N={n} d={D} {label} ({reps} reps, medians): {}; {}",
                cols.join(", "),
                ratios.join(", ")
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    let ideal = ideal();
    for n in [1024usize, 4096] {
        let w = unit_rows(n, D);
        let wbar = unit_rows(n, D);
        let a = vec![1.0 / n as f64; n];
        let mut theta = vec![0.0; D];
        theta[0] = 1.0;
        let p = problem(&w, &a, &theta, n, D);
        let mut g = c.benchmark_group(format!("noisy_step/N{n}"));
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        g.bench_function("plain", |b| b.iter(|| plain(&p)));
        g.bench_function("noisy", |b| b.iter(|| noisy(&p, 1)));
        g.bench_function("coupled", |b| b.iter(|| coupled(&p, &wbar, &ideal, 1)));
        g.finish();
    }
}

criterion_group!(benches, bench);

fn main() {
    ratios();
    if std::env::var("MFORACLE_BENCH_QUICK").is_ok() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
