//! The Gaussian increments of `train --beta` (src/dynamics/noise.rs, src/dynamics/ziggurat.rs;
//! proofs-notes/langevin.md §10). Every test is a statistical test with a stated threshold
//! that a wrong generator fails (each has a negative control run through the same statistic):
//! - one-sample: 2^20 increments (16 384 neurons × d = 64 of one step) against N(0, 1):
//!   mean, variance, skewness and excess kurtosis within 5 standard errors (√(1/n), √(2/n),
//!   √(6/n), √(24/n)); the Kolmogorov–Smirnov distance below 1.95/√n (the asymptotic 0.1 %
//!   critical value); Pearson's χ² on 256 equiprobable bins below the 0.1 % quantile of χ²(255);
//! - the tail beyond the ziggurat's r = 3.654…: counts beyond r and beyond 4 and 4.5 in 2^23
//!   draws within 5 binomial standard deviations of n·P(|Z| > x);
//! - independence: neighbouring streams (neuron i, i + 1), neighbouring steps (k, k + 1) and
//!   neighbouring coordinates (j, j + 1): correlation of x and of x² within 5/√n, and Pearson's
//!   χ² of the pair on a 16 × 16 grid of equiprobable cells below the 0.1 % quantile of χ²(255);
//! - bits: the same increments and steps for 1 and 3 threads, and neuron i's increments the same
//!   at every width.
//!
//! Thresholds are fixed before the data (the draws are seeded, so each verdict is reproducible);
//! at the stated levels a correct generator fails a given check with probability ≤ 1e-3.

use mforacle::dynamics::{noise, ziggurat};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

const D: usize = 64;

/// 2^20 increments: neurons 0..16384 of (seed, draw, step), d = 64.
fn increments(seed: u64, step: u64) -> Vec<f64> {
    let key = noise::noise_key(seed, 0, step);
    (0..(1 << 20) / D)
        .flat_map(|i| noise::increments(key, i, D))
        .collect()
}

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).unwrap()
}

/// |moment − expected| / standard error for the mean, variance, skewness, excess kurtosis.
fn moment_scores(x: &[f64]) -> [f64; 4] {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let c = |p: i32| x.iter().map(|v| (v - m).powi(p)).sum::<f64>() / n;
    let (m2, m3, m4) = (c(2), c(3), c(4));
    [
        m.abs() / (1.0 / n).sqrt(),
        (m2 - 1.0).abs() / (2.0 / n).sqrt(),
        (m3 / m2.powf(1.5)).abs() / (6.0 / n).sqrt(),
        (m4 / (m2 * m2) - 3.0).abs() / (24.0 / n).sqrt(),
    ]
}

/// √n · (Kolmogorov–Smirnov distance to N(0, 1)).
fn ks_score(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let z = std_normal();
    let dist = s
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = z.cdf(v);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max);
    dist * n.sqrt()
}

/// The equiprobable bin of N(0, 1) among `bins` that holds `v`.
fn bin(v: f64, bins: usize) -> usize {
    ((std_normal().cdf(v) * bins as f64) as usize).min(bins - 1)
}

/// Pearson's χ² of counts against equal expectations.
fn chi2(counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let e = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

/// The 0.1 % critical value of χ²(dof).
fn chi2_critical(dof: usize) -> f64 {
    ChiSquared::new(dof as f64).unwrap().inverse_cdf(0.999)
}

fn chi2_one_sample(x: &[f64]) -> f64 {
    let mut counts = vec![0u64; 256];
    x.iter().for_each(|&v| counts[bin(v, 256)] += 1);
    chi2(&counts)
}

/// The verdicts of the one-sample checks: (moment scores ≤ 5, KS ≤ 1.95, χ² ≤ critical).
fn one_sample_passes(x: &[f64]) -> (bool, String) {
    let m = moment_scores(x);
    let ks = ks_score(x);
    let c2 = chi2_one_sample(x);
    let crit = chi2_critical(255);
    let ok = m.iter().all(|s| *s <= 5.0) && ks <= 1.95 && c2 <= crit;
    (
        ok,
        format!("moment scores {m:.2?} (≤ 5), √n·KS {ks:.3} (≤ 1.95), χ² {c2:.1} (≤ {crit:.1})"),
    )
}

#[test]
fn increments_are_standard_normal() {
    for (seed, step) in [(0, 0), (7, 123)] {
        let x = increments(seed, step);
        let (ok, report) = one_sample_passes(&x);
        println!("seed {seed} step {step}: {report}");
        assert!(ok, "seed {seed} step {step}: {report}");
    }
    // Negative controls through the same statistics: a 1 % scale error (variance 14 standard
    // errors off), and a generator that never returns the wedges (the ziggurat's rejection
    // branch replaced by a redraw: 1.5 % of the mass moved into the rectangles).
    let x = increments(0, 0);
    let scaled: Vec<f64> = x.iter().map(|v| 1.01 * v).collect();
    assert!(!one_sample_passes(&scaled).0);
    let t = ziggurat::table();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let no_wedges: Vec<f64> = (0..1 << 20)
        .map(|_| loop {
            use rand::RngCore;
            let b = rng.next_u64();
            let i = (b & 0xff) as usize;
            let u = ((b >> 12) as f64 + 0.5) / (1u64 << 51) as f64 - 1.0;
            let v = u * t.x[i];
            if v.abs() < t.x[i + 1] {
                break v;
            }
        })
        .collect();
    let (ok, report) = one_sample_passes(&no_wedges);
    assert!(!ok, "a ziggurat without wedges and tail passed: {report}");
}

#[test]
fn tail_beyond_r_has_the_normal_mass() {
    let n = 1usize << 23;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut x = vec![0.0; n];
    ziggurat::fill(&mut rng, &mut x);
    let z = std_normal();
    for a in [ziggurat::R, 4.0, 4.5] {
        let count = x.iter().filter(|v| v.abs() > a).count() as f64;
        let p = 2.0 * z.cdf(-a);
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        println!("|x| > {a}: {count} vs {mean:.1} ± {sd:.1}");
        assert!(
            (count - mean).abs() <= 5.0 * sd,
            "|x| > {a}: {count} vs {mean:.1} ± {sd:.1}"
        );
        // both signs
        let pos = x.iter().filter(|v| **v > a).count() as f64;
        assert!((pos - mean / 2.0).abs() <= 5.0 * (mean / 4.0).sqrt() + 1.0);
    }
    // Power of the check: a tail sampled as r + Exp(1) (a wrong rate: mean overshoot 1 instead
    // of ≈ 1/r) would put the observed mass beyond r times e^{−(4.5 − r)} beyond 4.5, about 16
    // times the normal count; the same 5-σ statistic must reject that count.
    let beyond_r = x.iter().filter(|v| v.abs() > ziggurat::R).count() as f64;
    let wrong_beyond = beyond_r * (-(4.5 - ziggurat::R)).exp();
    let p = 2.0 * z.cdf(-4.5);
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    assert!((wrong_beyond - mean).abs() > 5.0 * sd);
}

/// Correlation scores (|r|·√n) of x and of x² between the paired samples, and the χ² of the
/// pairs on a 16 × 16 grid of equiprobable cells.
fn pair_scores(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let corr = |x: &[f64], y: &[f64]| {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let sxy: f64 = x.iter().zip(y).map(|(p, q)| (p - mx) * (q - my)).sum();
        let sxx: f64 = x.iter().map(|p| (p - mx).powi(2)).sum();
        let syy: f64 = y.iter().map(|q| (q - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt() * n.sqrt()
    };
    let sq = |x: &[f64]| x.iter().map(|v| v * v).collect::<Vec<_>>();
    let mut cells = vec![0u64; 256];
    a.iter()
        .zip(b)
        .for_each(|(&x, &y)| cells[16 * bin(x, 16) + bin(y, 16)] += 1);
    (corr(a, b).abs(), corr(&sq(a), &sq(b)).abs(), chi2(&cells))
}

fn pairs_pass(a: &[f64], b: &[f64]) -> (bool, String) {
    let (c1, c2, x2) = pair_scores(a, b);
    let crit = chi2_critical(255);
    (
        c1 <= 5.0 && c2 <= 5.0 && x2 <= crit,
        format!("√n|r| {c1:.2}, √n|r(x², y²)| {c2:.2} (≤ 5), χ² {x2:.1} (≤ {crit:.1})"),
    )
}

#[test]
fn neighbouring_streams_steps_and_coordinates_are_independent() {
    let key = noise::noise_key(3, 0, 0);
    let neurons = (1 << 20) / D;
    let rows: Vec<Vec<f64>> = (0..=neurons)
        .map(|i| noise::increments(key, i, D))
        .collect();
    // neuron i against neuron i + 1, coordinate by coordinate
    let a: Vec<f64> = rows[..neurons].concat();
    let b: Vec<f64> = rows[1..].concat();
    let (ok, r) = pairs_pass(&a, &b);
    println!("streams i, i+1: {r}");
    assert!(ok, "streams i, i+1: {r}");
    // step k against step k + 1, same neurons
    let (x, y) = (increments(3, 0), increments(3, 1));
    let (ok, r) = pairs_pass(&x, &y);
    println!("steps k, k+1: {r}");
    assert!(ok, "steps k, k+1: {r}");
    // coordinate j against j + 1 within a row
    let (mut p, mut q) = (Vec::new(), Vec::new());
    for row in &rows {
        p.extend_from_slice(&row[..D - 1]);
        q.extend_from_slice(&row[1..]);
    }
    let (ok, r) = pairs_pass(&p, &q);
    println!("coordinates j, j+1: {r}");
    assert!(ok, "coordinates j, j+1: {r}");
    // Negative controls: a 1 % admixture of the neighbour (correlation 0.01, about 10 standard
    // errors) and a dependence in magnitude only (y·|x|^0.1 / normaliser, uncorrelated signs).
    let mixed: Vec<f64> = a.iter().zip(&b).map(|(u, v)| v + 0.01 * u).collect();
    assert!(!pairs_pass(&a, &mixed).0);
    let magnitude: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(u, v)| v * u.abs().powf(0.1))
        .collect();
    assert!(!pairs_pass(&a, &magnitude).0);
}

#[test]
fn steps_are_bit_identical_for_any_thread_count_and_width() {
    let (n, d) = (300, 7);
    let w: Vec<f64> = mforacle::sampling::sphere_rows(1, n, d).concat();
    let wbar: Vec<f64> = mforacle::sampling::sphere_rows(2, n, d).concat();
    let v: Vec<f64> = (0..n * d)
        .map(|j| ((j * 31) % 17) as f64 / 17.0 - 0.5)
        .collect();
    let field = |x: &[f64], out: &mut [f64]| out.iter_mut().zip(x).for_each(|(o, a)| *o = 0.3 * a);
    let key = noise::noise_key(4, 2, 9);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let a = noise::noisy_tangent_step(&w, &v, d, 0.01, 0.2, key);
            let (b, c) = noise::coupled_step(&w, &v, &wbar, &field, d, 0.01, 0.2, key);
            let e = noise::noisy_field_step(&wbar, &field, d, 0.01, 0.2, key);
            [a, b, c, e].map(|x| x.iter().map(|y| y.to_bits()).collect::<Vec<_>>())
        })
    };
    let one = run(1);
    assert_eq!(one, run(3));
    // the network part of the coupled step is the network's step, its ideal part the ideal
    // particles' step
    assert_eq!(one[0], one[1]);
    assert_eq!(one[2], one[3]);
    // nested widths: the first 100 neurons of the width-300 step are the width-100 step
    let small = noise::noisy_tangent_step(&w[..100 * d], &v[..100 * d], d, 0.01, 0.2, key);
    assert_eq!(
        small.iter().map(|y| y.to_bits()).collect::<Vec<_>>(),
        one[0][..100 * d]
    );
    // and the increments themselves do not depend on the row length requested after them
    assert_eq!(
        noise::increments(key, 5, 3),
        noise::increments(key, 5, 10)[..3]
    );
}
