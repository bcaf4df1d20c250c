//! Criterion benches of the fast f64 path (src/fast; proofs-notes/fast-path.md §7).
//!
//! `cargo bench --bench fast` runs, with sample_size(10):
//! - `velocity/N4096/d{256,1024}/threads{1,2}`: the full velocity evaluation (tiled route,
//!   σ = σ* = h_4), throughput counted as 4N²d flops;
//! - `gemm/N4096/d{256,1024}/threads{1,2}`: W Wᵀ alone on the same shape (2N²d flops), the
//!   GEMM-only baseline;
//! - `h4_N16384_d32/{auto,tiled}`: the automatic route (moment tensors) against the tiled route,
//!   throughput counted as 4N²d for both;
//! - `h4_N16384_d32/step_euclidean`: one Euclidean training step (`fast::step`, automatic route:
//!   loss, gradients and radial part, then the update), the unit of a training run; criterion
//!   reports its time per step.
//!
//! Before the criterion groups it prints one line per case of `fast::bench_cases()`, the
//! same-run ratios the issue asks for (velocity GFLOP/s over GEMM GFLOP/s, 2 threads over 1,
//! auto over tiled) and the seconds per Euclidean step. Set `MFORACLE_BENCH_QUICK=1` to print those lines only, or
//! `MFORACLE_BENCH_NO_CASES=1` to skip them (e.g. `cargo bench --bench fast -- h4`).

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use mforacle::fast::{self, Kernel, LossScale, Problem, Route, Update};
use std::time::Duration;

fn unit_rows(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut w: Vec<f64> = (0..n * d).map(|_| next()).collect();
    for row in w.chunks_exact_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    w
}

fn h4() -> Kernel {
    Kernel::PowerSeries(vec![0.0, 0.0, 0.0, 0.0, 1.0])
}

fn problem<'a>(w: &'a [f64], a: &'a [f64], theta: &'a [f64], n: usize, d: usize) -> Problem<'a> {
    Problem {
        w,
        n,
        d,
        a,
        theta,
        kappa: h4(),
        psi: h4(),
        kappa_radial: Kernel::PowerSeries(vec![0.0, 0.0, 0.0, 0.0, 4.0]),
        psi_radial: Kernel::PowerSeries(vec![0.0, 0.0, 0.0, 0.0, 4.0]),
        constant: 1.0,
        loss_scale: LossScale::Full,
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn print_cases() {
    let cases = fast::bench_cases();
    for c in &cases {
        println!(
            "case route={} n={} d={} threads={}: {:.3} s/eval, {:.1} GFLOP/s, gemm {:.1} GFLOP/s, ratio {:.0}%",
            c.route,
            c.n,
            c.d,
            c.threads,
            c.seconds_per_eval,
            c.gflops,
            c.gemm_gflops,
            100.0 * c.gflops / c.gemm_gflops
        );
    }
    for d in [256, 1024] {
        let t = |th: usize| {
            cases
                .iter()
                .find(|c| c.d == d && c.threads == th)
                .map(|c| c.seconds_per_eval)
        };
        if let (Some(t1), Some(t2)) = (t(1), t(2)) {
            println!("speed-up 2 threads over 1, N=4096 d={d}: {:.2}x", t1 / t2);
        }
    }
    let t = |r: &str| {
        cases
            .iter()
            .find(|c| c.d == 32 && c.route.starts_with(r))
            .map(|c| c.seconds_per_eval)
    };
    if let (Some(auto), Some(tiled)) = (t("auto"), t("tiled")) {
        println!(
            "h_4 N=16384 d=32: auto {:.1}x faster than tiled",
            tiled / auto
        );
    }
    if let Some(step) = t("step") {
        println!("h_4 N=16384 d=32: {step:.4} s per Euclidean step (auto route)");
    }
}

fn velocity_and_gemm(c: &mut Criterion) {
    let n = 4096;
    let theta = unit_rows(1, 1024, 2);
    let a = vec![1.0 / n as f64; n];
    for d in [256, 1024] {
        let w = unit_rows(n, d, 1);
        let p = problem(&w, &a, &theta[..d], n, d);
        let flops = 4 * (n * n * d) as u64;
        let mut g = c.benchmark_group(format!("velocity/N{n}/d{d}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(flops));
        for threads in [1, 2] {
            let pool = pool(threads);
            g.bench_function(BenchmarkId::new("threads", threads), |b| {
                pool.install(|| b.iter(|| fast::velocity(&p, Route::Tiled).unwrap()))
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("gemm/N{n}/d{d}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(flops / 2));
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut out = Vec::new();
            fast::gemm_baseline(&w, n, d, threads, &mut out);
            g.bench_function(BenchmarkId::new("threads", threads), |b| {
                pool.install(|| b.iter(|| fast::gemm_baseline(&w, n, d, threads, &mut out)))
            });
        }
        g.finish();
    }
}

fn h4_routes(c: &mut Criterion) {
    let (n, d) = (16384, 32);
    let w = unit_rows(n, d, 1);
    let theta = unit_rows(1, d, 2);
    let a = vec![1.0 / n as f64; n];
    let p = problem(&w, &a, &theta, n, d);
    let mut g = c.benchmark_group("h4_N16384_d32");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(4 * (n * n * d) as u64));
    for (name, route) in [("auto", Route::Auto), ("tiled", Route::Tiled)] {
        g.bench_function(name, |b| b.iter(|| fast::evaluate(&p, route).unwrap()));
    }
    g.finish();
    let mut g = c.benchmark_group("h4_N16384_d32");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    g.bench_function("step_euclidean", |b| {
        b.iter(|| fast::step(&p, 1e-3, Update::Euclidean, Route::Auto).unwrap())
    });
    g.finish();
}

criterion_group!(benches, velocity_and_gemm, h4_routes);

fn main() {
    if std::env::var_os("MFORACLE_BENCH_NO_CASES").is_none() {
        print_cases();
    }
    if std::env::var_os("MFORACLE_BENCH_QUICK").is_none() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
