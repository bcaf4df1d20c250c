//! The two-timescale case of `mforacle bench`: one training iteration (readout recomputed
//! exactly, drift, update) at n = 1000, m = 2000, d = 15, timed against the same run's blocked
//! SYRK n × m plus Cholesky n (target ratio ≤ 1.3) and, when `python3` with NumPy is found,
//! against the NumPy formulation in `python/bench/two_timescale_step.py` on the same number of
//! threads (ratio NumPy / Rust; target ≥ 1.5). Times are the best of a few repetitions after
//! one warm-up; only the ratios measured in one run are claims.

use super::train::{self, Config, Init};
use super::ParamsF64;

/// The measured case.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Case {
    pub n: usize,
    pub m: usize,
    pub d: usize,
    pub threads: usize,
    /// Best seconds of one full iteration (train::step).
    pub seconds_per_iteration: f64,
    /// Best seconds of the SYRK K = HHᵀ/m (n × m) plus the Cholesky factor of K + nλ̄_a I.
    pub seconds_syrk_cholesky: f64,
    /// seconds_per_iteration / seconds_syrk_cholesky.
    pub ratio_to_syrk_cholesky: f64,
    /// GFLOP/s of the SYRK + Cholesky (n²m + n³/3 flops).
    pub syrk_cholesky_gflops: f64,
    /// Best seconds of the NumPy iteration (None when python3/NumPy is unavailable).
    pub numpy_seconds_per_iteration: Option<f64>,
    /// numpy / Rust.
    pub speedup_over_numpy: Option<f64>,
    pub numpy_note: String,
}

/// Measures the case at n × m (the standard one is 1000 × 2000, d = 15).
pub fn case(n: usize, m: usize, d: usize, reps: usize) -> Case {
    let params = ParamsF64 {
        lambda: 0.004,
        lambda_a: 0.25,
        lambda_w: 0.25,
        eta: 0.2,
        sigma_tilde: 0.0,
    };
    let cfg = Config {
        d,
        n,
        n_test: 0,
        m,
        iters: 1,
        log_every: 0,
        params,
        init: Init::Sd(0.25),
        target: vec![0, 1],
    };
    let pr = train::problem(&cfg, 0, 1.0);
    let xi = crate::sampling::gaussians(&mut rand::SeedableRng::seed_from_u64(1), m * (d + 1));
    let mut w = pr.w0.clone();
    let it = crate::fast::best_after_warmup(reps, || {
        let (_, w2) =
            train::step(&pr.x, &pr.y, d, &w, &params, &xi, None).expect("positive definite");
        w = w2;
    });
    let h = train::hidden(&pr.x, d, &w, m);
    let ridge = n as f64 * params.lambda * params.lambda_a;
    let base = crate::fast::best_after_warmup(reps, || {
        let mut k = train::gram_lower(&h, n, m);
        for j in 0..n {
            k[j * n + j] += ridge;
        }
        std::hint::black_box(train::cholesky_owned(k, n).expect("positive definite"));
    });
    let threads = rayon::current_num_threads();
    let (np, note) = crate::fast::numpy_seconds(
        "two_timescale_step.py",
        &[n, m, d],
        reps,
        threads,
        "dgemm Gram, LAPACK gesv readout (NumPy has no SYRK or triangular solve)",
    );
    let flops = (n * n * m) as f64 + (n * n * n) as f64 / 3.0;
    Case {
        n,
        m,
        d,
        threads,
        seconds_per_iteration: it,
        seconds_syrk_cholesky: base,
        ratio_to_syrk_cholesky: it / base,
        syrk_cholesky_gflops: flops / base / 1e9,
        numpy_seconds_per_iteration: np,
        speedup_over_numpy: np.map(|s| s / it),
        numpy_note: note,
    }
}

/// The standard case of `mforacle bench`.
pub fn standard() -> Case {
    case(1000, 2000, 15, 5)
}

impl Case {
    /// A CSV block (header and one line) for `bench --format csv|table`.
    pub fn csv(&self) -> String {
        format!(
            "two_timescale: n,m,d,threads,seconds_per_iteration,seconds_syrk_cholesky,ratio,\
             numpy_seconds,speedup_over_numpy\n{},{},{},{},{:.6},{:.6},{:.3},{},{}\n",
            self.n,
            self.m,
            self.d,
            self.threads,
            self.seconds_per_iteration,
            self.seconds_syrk_cholesky,
            self.ratio_to_syrk_cholesky,
            self.numpy_seconds_per_iteration
                .map_or("-".into(), |s| format!("{s:.6}")),
            self.speedup_over_numpy
                .map_or("-".into(), |s| format!("{s:.3}")),
        )
    }
}
