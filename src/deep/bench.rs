//! The deep case of `mforacle bench`: one Euler step of the N²-scaled flow (pass 1, node
//! pairs, pass 2 fused with the update: one velocity evaluation) at N = 4096, d = 8, ψ = gd,
//! for L = 2 and L = 3, reported in ns per trained edge per core, against the scalar reference
//! ([`super::finite::evaluate`] plus the update) and, when `python3` with NumPy is found,
//! against the NumPy formulation of the same step in `python/bench/deep_step.py` on the same
//! number of threads, measured in the same run. Times are the best of a few repetitions after
//! one warm-up; only the ratios measured in one run are claims.

use super::{finite, fused, Net, Psi};

/// One measured case.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Case {
    pub layers: usize,
    pub n: usize,
    pub d: usize,
    pub psi: &'static str,
    pub threads: usize,
    /// The SIMD level of the run-time dispatch.
    pub simd: String,
    /// Best seconds of one fused Euler step (one velocity evaluation and the update).
    pub seconds_per_step: f64,
    /// seconds · threads / trained edges.
    pub ns_per_edge_per_core: f64,
    /// Best seconds of the scalar reference step (finite::evaluate and the update).
    pub reference_seconds_per_step: f64,
    /// reference / fused.
    pub speedup_over_reference: f64,
    /// Best seconds of the NumPy step (None when python3/NumPy is unavailable).
    pub numpy_seconds_per_step: Option<f64>,
    /// numpy / fused.
    pub speedup_over_numpy: Option<f64>,
    pub numpy_note: String,
}

/// Measures one Euler step (η = 0.01) at width N, dimension d, L layers, ψ = gd.
pub fn case(layers: usize, n: usize, d: usize, reps: usize) -> Case {
    let net: Net = super::init(layers, n, d, Psi::Gd, 1);
    let frozen = fused::Frozen::new(&net);
    let eta = 0.01;
    let mut a = net.clone();
    let fast = crate::fast::best_after_warmup(reps, || fused::euler_step(&frozen, &mut a, eta));
    let mut b = net.clone();
    let reference = crate::fast::best_after_warmup(1, || {
        let ev = finite::evaluate(&b);
        for (x, v) in b.theta1.iter_mut().zip(&ev.vel1) {
            *x += eta * v;
        }
        for (x, v) in b.theta2.iter_mut().zip(&ev.vel2) {
            *x += eta * v;
        }
    });
    let threads = rayon::current_num_threads();
    let edges = ((layers - 1) * n * n) as f64;
    let (np, note) = crate::fast::numpy_seconds(
        "deep_step.py",
        &[layers, n, d],
        reps,
        threads,
        "vectorised NumPy (arctan(sinh), 1/cosh, BLAS products, the node pairs as N × N arrays)",
    );
    Case {
        layers,
        n,
        d,
        psi: "gd",
        threads,
        simd: format!("{:?}", crate::fast::simd::level()),
        seconds_per_step: fast,
        ns_per_edge_per_core: fast * threads as f64 / edges * 1e9,
        reference_seconds_per_step: reference,
        speedup_over_reference: reference / fast,
        numpy_seconds_per_step: np,
        speedup_over_numpy: np.map(|s| s / fast),
        numpy_note: note,
    }
}

/// The standard cases of `mforacle bench`: L = 2 and L = 3 at N = 4096, d = 8.
pub fn standard() -> Vec<Case> {
    vec![case(2, 4096, 8, 5), case(3, 4096, 8, 5)]
}

/// A CSV block (header and one line per case) for `bench --format csv|table`.
pub fn csv(cases: &[Case]) -> String {
    let mut t = String::from(
        "deep: layers,n,d,psi,threads,simd,seconds_per_step,ns_per_edge_per_core,\
         reference_seconds,speedup_over_reference,numpy_seconds,speedup_over_numpy\n",
    );
    for c in cases {
        t.push_str(&format!(
            "{},{},{},{},{},{},{:.6},{:.3},{:.4},{:.2},{},{}\n",
            c.layers,
            c.n,
            c.d,
            c.psi,
            c.threads,
            c.simd,
            c.seconds_per_step,
            c.ns_per_edge_per_core,
            c.reference_seconds_per_step,
            c.speedup_over_reference,
            c.numpy_seconds_per_step
                .map_or("-".into(), |s| format!("{s:.6}")),
            c.speedup_over_numpy
                .map_or("-".into(), |s| format!("{s:.2}")),
        ));
    }
    t
}
