//! The standard speed cases of the fast path (issue 3), for `mforacle bench` and the criterion
//! bench `benches/fast.rs`.
//!
//! Each case times one evaluation (the velocity alone for N = 4096, everything — loss, both
//! gradients, velocity — for the h_4 route comparison; 4N²d flops counted for every route, so a
//! faster route shows a higher figure) or one Euclidean training step (`step:` cases), and, in
//! the same run and the same thread pool, the GEMM-only throughput of the same shape: W Wᵀ (N×d
//! times d×N, 2N²d flops) with the `gemm` crate's own parallelism, in row panels of at most 2048
//! rows so that the output stays small. The reported time is the fastest of a few repetitions
//! (a shared machine adds noise upwards); the evaluation and the GEMM baseline, on 1 and on 2
//! threads, are measured in alternation (eval 1, GEMM 1, eval 2, GEMM 2, eval 1, …), so that a
//! burst of load from elsewhere hits all sides of the ratios rather than one.

use super::gemm::{gemm, Par, View};
use super::{compute_parts, step, Kernel, LossScale, Problem, Quantities, Route, Update};
use std::time::Instant;

/// One measured case; serialises to the fields `mforacle bench` prints.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BenchCase {
    /// "tiled", "moment", or `auto:` followed by the route chosen; prefixed by `step:` for a
    /// Euclidean training step (evaluation and update) rather than an evaluation.
    pub route: String,
    pub n: usize,
    pub d: usize,
    /// Degree of the student kernel κ (4 for h_4).
    pub degree: usize,
    pub threads: usize,
    /// Seconds per evaluation (per step for `step:` cases).
    #[serde(serialize_with = "crate::output::finite")]
    pub seconds_per_eval: f64,
    /// 4N²d / seconds_per_eval / 1e9.
    #[serde(serialize_with = "crate::output::finite")]
    pub gflops: f64,
    /// GEMM-only GFLOP/s on the same shape in the same run (2N²d flops).
    #[serde(serialize_with = "crate::output::finite")]
    pub gemm_gflops: f64,
}

/// The standard cases: h_4 velocity for N = 4096, d ∈ {256, 1024}, tiled, on 1 and 2 threads
/// (measured in alternation, best of 4 each); h_4 full evaluation at N = 16384, d = 32,
/// automatic route against the tiled route, on all threads; and one Euclidean training step of
/// h_4 at N = 16384, d = 32 by the automatic route, on all threads.
pub fn bench_cases() -> Vec<BenchCase> {
    let all = std::thread::available_parallelism()
        .map(|x| x.get())
        .unwrap_or(1);
    let mut out = vec![];
    for d in [256, 1024] {
        out.extend(bench_threads(
            4096,
            d,
            4,
            &[1, 2],
            Route::Tiled,
            Quantities::VelocityOnly,
            4,
        ));
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
    out.push(bench_step(16384, 32, 4, all, Route::Auto, 5));
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

/// The problem of the speed cases: σ = σ* = h_`degree` (κ = ψ = s^degree, the radial kernels
/// degree · s^degree), a_i = 1/N, random unit rows (seeds 1 and 2), loss scale full.
fn problem<'a>(w: &'a [f64], a: &'a [f64], theta: &'a [f64], degree: usize) -> Problem<'a> {
    let (n, d) = (a.len(), theta.len());
    let mut mono = vec![0.0; degree + 1];
    mono[degree] = 1.0;
    let radial: Vec<f64> = mono.iter().map(|c| c * degree as f64).collect();
    Problem {
        w,
        n,
        d,
        a,
        theta,
        kappa: Kernel::PowerSeries(mono.clone()),
        psi: Kernel::PowerSeries(mono),
        kappa_radial: Kernel::PowerSeries(radial.clone()),
        psi_radial: Kernel::PowerSeries(radial),
        constant: 1.0,
        loss_scale: LossScale::Full,
    }
}

fn route_name(route: Route, chosen: Route) -> String {
    let name = |r: Route| {
        if r == Route::Moment {
            "moment"
        } else {
            "tiled"
        }
    };
    match route {
        Route::Auto => format!("auto:{}", name(chosen)),
        r => name(r).to_string(),
    }
}

/// Times `reps` evaluations of `q` (the velocity alone, as [`super::velocity`] computes it,
/// for `VelocityOnly`) for σ = σ* = h_`degree` with a_i = 1/N on `threads` rayon threads (best
/// of `reps`), and the GEMM baseline of the same shape.
pub fn bench_one(
    n: usize,
    d: usize,
    degree: usize,
    threads: usize,
    route: Route,
    q: Quantities,
    reps: usize,
) -> BenchCase {
    bench_threads(n, d, degree, &[threads], route, q, reps).remove(0)
}

/// [`bench_one`] for each thread count of `threads`, the repetitions of the evaluations and of
/// the GEMM baselines taken in alternation (so that a transient load affects all of them alike).
pub fn bench_threads(
    n: usize,
    d: usize,
    degree: usize,
    threads: &[usize],
    route: Route,
    q: Quantities,
    reps: usize,
) -> Vec<BenchCase> {
    let w = random_sphere(n, d, 1);
    let theta = random_sphere(1, d, 2);
    let a = vec![1.0 / n as f64; n];
    let problem = problem(&w, &a, &theta, degree);
    let chosen = super::resolve(&problem, route, q).unwrap();
    let tangent = q == Quantities::All;
    let mut out_buf = vec![Vec::new(); threads.len()];
    // Jobs 2k (evaluation) and 2k + 1 (GEMM baseline) on thread count k, all in alternation.
    let counts: Vec<usize> = threads.iter().flat_map(|&t| [t, t]).collect();
    let times = alternate_indexed(&counts, reps, |job, t| {
        if job % 2 == 0 {
            std::hint::black_box(compute_parts(&problem, chosen, q, tangent).unwrap());
        } else {
            gemm_baseline(&w, n, d, t, &mut out_buf[job / 2]);
        }
    });
    let (seconds, gemm): (Vec<f64>, Vec<f64>) = times.chunks_exact(2).map(|x| (x[0], x[1])).unzip();
    threads
        .iter()
        .enumerate()
        .map(|(k, &t)| BenchCase {
            route: route_name(route, chosen),
            n,
            d,
            degree,
            threads: t,
            seconds_per_eval: seconds[k],
            gflops: 4.0 * (n * n * d) as f64 / seconds[k] / 1e9,
            gemm_gflops: 2.0 * (n * n * d) as f64 / gemm[k] / 1e9,
        })
        .collect()
}

/// Times one Euclidean training step, [`step`] with η = 10⁻³ (evaluation of loss, gradients
/// and radial part, then the update of all N neurons), for σ = σ* = h_`degree`, a_i = 1/N, on
/// `threads` threads: best of `reps` after one untimed step; the GEMM baseline as in
/// [`bench_one`].
pub fn bench_step(
    n: usize,
    d: usize,
    degree: usize,
    threads: usize,
    route: Route,
    reps: usize,
) -> BenchCase {
    let w = random_sphere(n, d, 1);
    let theta = random_sphere(1, d, 2);
    let a = vec![1.0 / n as f64; n];
    let problem = problem(&w, &a, &theta, degree);
    let chosen = super::resolve(&problem, route, Quantities::All).unwrap();
    let one = || {
        std::hint::black_box(step(&problem, 1e-3, Update::Euclidean, route).unwrap());
    };
    let seconds = alternate(&[threads], reps, one)[0];
    let mut buf = Vec::new();
    let gemm = alternate_indexed(&[threads], reps, |_, t| {
        gemm_baseline(&w, n, d, t, &mut buf)
    });
    BenchCase {
        route: format!("step:{}", route_name(route, chosen)),
        n,
        d,
        degree,
        threads,
        seconds_per_eval: seconds,
        gflops: 4.0 * (n * n * d) as f64 / seconds / 1e9,
        gemm_gflops: 2.0 * (n * n * d) as f64 / gemm[0] / 1e9,
    }
}

/// Best of `reps` timings of `f` on a pool of each thread count, the pools taken in turn
/// within every repetition.
fn alternate(threads: &[usize], reps: usize, f: impl Fn() + Sync) -> Vec<f64> {
    alternate_indexed(threads, reps, |_, _| f())
}

fn alternate_indexed(
    threads: &[usize],
    reps: usize,
    mut f: impl FnMut(usize, usize) + Send,
) -> Vec<f64> {
    let pools: Vec<rayon::ThreadPool> = threads
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("thread pool")
        })
        .collect();
    // One untimed run each (first touch of buffers, thread start-up).
    for (k, pool) in pools.iter().enumerate() {
        pool.install(|| f(k, threads[k]));
    }
    let mut best = vec![f64::INFINITY; threads.len()];
    for _ in 0..reps.max(1) {
        for (k, pool) in pools.iter().enumerate() {
            let t = Instant::now();
            pool.install(|| f(k, threads[k]));
            best[k] = best[k].min(t.elapsed().as_secs_f64());
        }
    }
    best
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

/// The fastest of `reps` timed calls of `f`, after one untimed warm-up call (a shared machine
/// only adds noise upwards). Used by the row benchmarks (`deep::bench`, `two_timescale::bench`).
pub fn best_after_warmup(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    best_of(reps, f)
}

/// Runs the NumPy formulation `python/bench/<script>` with `args` and `reps` on `threads` BLAS
/// threads and reads the seconds it prints; `Some(seconds)` with `what` as the note, or `None`
/// with the reason (no python3, no NumPy, no time printed), never an error: the comparison is
/// optional where NumPy is absent.
pub fn numpy_seconds(
    script: &str,
    args: &[usize],
    reps: usize,
    threads: usize,
    what: &str,
) -> (Option<f64>, String) {
    let path = format!("{}/python/bench/{script}", env!("CARGO_MANIFEST_DIR"));
    let t = threads.to_string();
    let out = std::process::Command::new("python3")
        .arg(&path)
        .args(args.iter().map(|a| a.to_string()))
        .arg(reps.to_string())
        .env("OPENBLAS_NUM_THREADS", &t)
        .env("OMP_NUM_THREADS", &t)
        .env("MKL_NUM_THREADS", &t)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            match String::from_utf8_lossy(&o.stdout).trim().parse::<f64>() {
                Ok(s) => (
                    Some(s),
                    format!("python/bench/{script} on {threads} BLAS thread(s): {what}"),
                ),
                Err(_) => (None, "the NumPy script printed no time".into()),
            }
        }
        Ok(o) => (
            None,
            format!(
                "NumPy formulation not run: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("error")
            ),
        ),
        Err(e) => (None, format!("NumPy formulation not run: python3: {e}")),
    }
}
