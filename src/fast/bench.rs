//! The standard speed cases of the fast path (issue 3), for `mforacle bench` and the criterion
//! bench `benches/fast.rs`.
//!
//! Each case times one evaluation (the velocity alone for N = 4096, everything — loss, both
//! gradients, velocity — for the h_4 route comparison; 4N²d flops counted for every route, so a
//! faster route shows a higher figure) and, in the same run and the same thread pool,
//! the GEMM-only throughput of the same shape: W Wᵀ (N×d times d×N, 2N²d flops) with the `gemm`
//! crate's own parallelism, in row panels of at most 2048 rows so that the output stays small.
//! The reported time is the fastest of a few repetitions (a shared machine adds noise upwards).

use super::gemm::{gemm, Par, View};
use super::{compute, Kernel, LossScale, Problem, Quantities, Route};
use std::time::Instant;

/// One measured case; serialises to the fields `mforacle bench` prints.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchCase {
    /// "tiled", "moment", or `auto:` followed by the route chosen.
    pub route: String,
    pub n: usize,
    pub d: usize,
    /// Degree of the student kernel κ (4 for h_4).
    pub degree: usize,
    pub threads: usize,
    #[serde(serialize_with = "crate::output::finite")]
    pub seconds_per_eval: f64,
    /// 4N²d / seconds_per_eval / 1e9.
    #[serde(serialize_with = "crate::output::finite")]
    pub gflops: f64,
    /// GEMM-only GFLOP/s on the same shape in the same run (2N²d flops).
    #[serde(serialize_with = "crate::output::finite")]
    pub gemm_gflops: f64,
}

/// The standard cases: h_4 velocity for N = 4096, d ∈ {256, 1024}, tiled, on 1 and 2 threads;
/// h_4 full evaluation at N = 16384, d = 32, automatic route against the tiled route, on all
/// threads.
pub fn bench_cases() -> Vec<BenchCase> {
    let all = std::thread::available_parallelism()
        .map(|x| x.get())
        .unwrap_or(1);
    let mut out = vec![];
    for d in [256, 1024] {
        for threads in [1, 2] {
            out.push(bench_one(
                4096,
                d,
                4,
                threads,
                Route::Tiled,
                Quantities::VelocityOnly,
                2,
            ));
        }
    }
    out.push(bench_one(
        16384,
        32,
        4,
        all,
        Route::Auto,
        Quantities::All,
        3,
    ));
    out.push(bench_one(
        16384,
        32,
        4,
        all,
        Route::Tiled,
        Quantities::All,
        2,
    ));
    out
}

/// Deterministic pseudo-random unit rows (splitmix64 and Box–Muller).
pub(crate) fn random_sphere(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut w = vec![0.0; n * d];
    for row in w.chunks_exact_mut(d) {
        for x in row.iter_mut() {
            let (u1, u2) = (uniform().max(1e-300), uniform());
            *x = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    w
}

/// Times `reps` evaluations of `q` for σ = σ* = h_`degree` (κ = ψ = s^degree) with a_i = 1/N on
/// `threads` rayon threads (best of `reps`), and the GEMM baseline of the same shape.
pub fn bench_one(
    n: usize,
    d: usize,
    degree: usize,
    threads: usize,
    route: Route,
    q: Quantities,
    reps: usize,
) -> BenchCase {
    let w = random_sphere(n, d, 1);
    let theta = random_sphere(1, d, 2);
    let a = vec![1.0 / n as f64; n];
    let mut mono = vec![0.0; degree + 1];
    mono[degree] = 1.0;
    let problem = Problem {
        w: &w,
        n,
        d,
        a: &a,
        theta: &theta,
        kappa: Kernel::PowerSeries(mono.clone()),
        psi: Kernel::PowerSeries(mono.clone()),
        kappa_radial: Kernel::PowerSeries(mono.iter().map(|c| c * degree as f64).collect()),
        psi_radial: Kernel::PowerSeries(mono.iter().map(|c| c * degree as f64).collect()),
        constant: 1.0,
        loss_scale: LossScale::Full,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let (seconds, gemm) = pool.install(|| {
        let chosen = super::resolve(&problem, route, q).unwrap();
        let seconds = best_of(reps, || {
            std::hint::black_box(compute(&problem, chosen, q).unwrap());
        });
        (seconds, gemm_gflops(&w, n, d, threads, reps))
    });
    let chosen = super::resolve(&problem, route, q).unwrap();
    let name = |r: Route| {
        if r == Route::Moment {
            "moment"
        } else {
            "tiled"
        }
    };
    BenchCase {
        route: match route {
            Route::Auto => format!("auto:{}", name(chosen)),
            r => name(r).to_string(),
        },
        n,
        d,
        degree,
        threads,
        seconds_per_eval: seconds,
        gflops: 4.0 * (n * n * d) as f64 / seconds / 1e9,
        gemm_gflops: gemm,
    }
}

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// GFLOP/s of W Wᵀ (2N²d flops) with the `gemm` crate's own parallelism on `threads` threads
/// (best of `reps` after one untimed run that touches the output buffer).
pub fn gemm_gflops(w: &[f64], n: usize, d: usize, threads: usize, reps: usize) -> f64 {
    let mut c = Vec::new();
    gemm_baseline(w, n, d, threads, &mut c);
    let seconds = best_of(reps, || gemm_baseline(w, n, d, threads, &mut c));
    2.0 * (n * n * d) as f64 / seconds / 1e9
}

/// The GEMM-only baseline: W Wᵀ for W N×d row-major, in row panels of at most 2048 rows written
/// to `out` (resized to panel × N).
pub fn gemm_baseline(w: &[f64], n: usize, d: usize, threads: usize, out: &mut Vec<f64>) {
    let panel = n.min(2048);
    out.resize(panel * n, 0.0);
    for i0 in (0..n).step_by(panel) {
        let rows = panel.min(n - i0);
        let lhs = View::rows(w, i0 * d, d);
        let rhs = View::transposed(w, 0, d);
        gemm(rows, n, d, out, 0, n, false, lhs, rhs, Par::Rayon(threads));
    }
    std::hint::black_box(&out);
}
