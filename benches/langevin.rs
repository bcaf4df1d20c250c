//! Criterion bench of the noise of `train --beta` (src/dynamics/noise.rs).
//!
//! `cargo bench --bench langevin` prints, for N ∈ {1024, 4096}, d = 64, σ = σ* = h_4 (the
//! automatic route), the seconds of one noiseless tangent training step (velocity only, then
//! `fast::apply_update`, as `train` on a non-recording step) and of one noisy step (velocity, then
//! `dynamics::noise::noisy_tangent_step`) measured in the same run, and their ratio; then the
//! criterion groups `noisy_step/N{..}/{plain,noisy}` (sample_size 10).

use criterion::{criterion_group, Criterion};
use mforacle::dynamics::noise;
use mforacle::fast::{self, Kernel, LossScale, Problem, Route, Update};
use std::time::{Duration, Instant};

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

fn noisy(p: &Problem, k: u64) -> Vec<f64> {
    let v = fast::velocity(p, Route::Auto).unwrap();
    noise::noisy_tangent_step(
        p.w,
        &v,
        p.d,
        0.01,
        (0.02f64 / 10.0).sqrt(),
        noise::noise_key(0, 0, k),
    )
}

fn seconds(f: &mut dyn FnMut(u64), reps: u64) -> f64 {
    f(0);
    let t = Instant::now();
    for k in 0..reps {
        f(k);
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn ratios() {
    let d = 64;
    for n in [1024usize, 4096] {
        let w = unit_rows(n, d);
        let a = vec![1.0 / n as f64; n];
        let mut theta = vec![0.0; d];
        theta[0] = 1.0;
        let p = problem(&w, &a, &theta, n, d);
        let reps = if n > 2000 { 5 } else { 20 };
        // interleaved: plain, noisy, plain, noisy (the machine's load affects both alike)
        let (mut sp, mut sn) = (0.0, 0.0);
        for _ in 0..2 {
            sp += seconds(&mut |_| drop(plain(&p)), reps);
            sn += seconds(&mut |k| drop(noisy(&p, k)), reps);
        }
        println!(
            "noisy_step N={n} d={d}: plain {:.4e} s/step, noisy {:.4e} s/step, ratio noisy/plain {:.3}",
            sp / 2.0,
            sn / 2.0,
            sn / sp
        );
    }
}

fn bench(c: &mut Criterion) {
    let d = 64;
    for n in [1024usize, 4096] {
        let w = unit_rows(n, d);
        let a = vec![1.0 / n as f64; n];
        let mut theta = vec![0.0; d];
        theta[0] = 1.0;
        let p = problem(&w, &a, &theta, n, d);
        let mut g = c.benchmark_group(format!("noisy_step/N{n}"));
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        g.bench_function("plain", |b| b.iter(|| plain(&p)));
        g.bench_function("noisy", |b| b.iter(|| noisy(&p, 1)));
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
