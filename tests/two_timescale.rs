//! Tests of the two-timescale evaluation (`mforacle::two_timescale`), each against an
//! independent method. Derivations: `proofs-notes/two-timescale.md`.
//!
//! Tolerances of the f64 path come from its accuracy contract (module doc of
//! `two_timescale::eval`): an error of at most C·κ·N·u times a scale of the quantity, with
//! u = 2^{-53}, N = n + m + d + n_test, κ = κ₂(K + nλ̄_a I) ≤ 1 + 1/λ̄_a (K_jj ≤ 1), C = 64,
//! and the scale of each quantity derived in [`scale`] from bounds on the sensitivities
//! (|K_jl| ≤ 1, |h| ≤ 1, ‖c‖ ≤ |y|/(nλ̄_a)). The MPFR quantities carry their own
//! precision-doubling estimates.

use mforacle::output::render_with_bound;
use mforacle::two_timescale::eval::{core, evaluate, Evaluation};
use mforacle::two_timescale::oracle;
use mforacle::two_timescale::{Input, Params, ParamsF64, Target};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rug::Float;
use std::process::Command;

const U: f64 = f64::EPSILON / 2.0;

fn normals(seed: u64, count: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    mforacle::sampling::gaussians(&mut rng, count)
}

/// A problem of the paper's kind: x ~ N(0, I), y = x_0 x_1 + noise, w ~ N(0, s²I).
fn problem(seed: u64, n: usize, m: usize, d: usize, sd: f64) -> Input {
    let x = normals(seed, n * d);
    let noise = normals(seed + 1000, n);
    let y = (0..n)
        .map(|j| x[j * d] * x[j * d + 1.min(d - 1)] + 0.5 * noise[j])
        .collect();
    let w = normals(seed + 2000, m * (d + 1))
        .iter()
        .map(|v| sd * v)
        .collect();
    Input {
        n,
        d,
        m,
        x,
        y,
        w,
        x_test: None,
        f_star: Target::Product(vec![0, 1.min(d - 1)]),
        eps: None,
        xi: None,
    }
}

fn params(lambda: &str) -> (Params, ParamsF64) {
    let p = Params {
        lambda: lambda.into(),
        ..Params::default()
    };
    let f = p.validate().unwrap();
    (p, f)
}

fn mp(w: &[f64], prec: u32) -> Vec<Float> {
    w.iter().map(|v| Float::with_val(prec, *v)).collect()
}

fn to_f64(x: &Float) -> f64 {
    x.to_f64()
}

/// The contract's relative tolerance C·κ·N·u with κ ≤ 1 + 1/λ̄_a.
fn contract(input: &Input, p: &ParamsF64) -> f64 {
    let lam_a = p.lambda * p.lambda_a;
    let nt = input.x_test.as_ref().map_or(0, |t| t.1);
    64.0 * (1.0 + 1.0 / lam_a) * (input.n + input.m + input.d + nt) as f64 * U
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |a, x| a.max(x.abs()))
}

/// The scale S of a quantity: its f64 error is at most contract·S. Each line bounds how an
/// error δc ≤ κNu‖c‖ of the readout (and the Gram's own rounding) propagates:
/// |K_jl|, |h| ≤ 1 give |δ(Kc)_j|, |δa_i| ≤ √n‖δc‖; U = (λ̄_a/2)yᵀc has
/// (λ̄_a/2)Σ|y_j c_j| ≤ |y|²/(2n); the drift is a sum of products a_i c_j x_jk.
fn scale(name: &str, e: &Evaluation, input: &Input, p: &ParamsF64) -> f64 {
    let (n, d) = (input.n, input.d);
    let nf = n as f64;
    let lam_a = p.lambda * p.lambda_a;
    let lam_w = p.lambda * p.lambda_w;
    let y2 = input.y.iter().map(|v| v * v).sum::<f64>();
    let g_scale = y2 / (2.0 * nf) + e.reg;
    let c2 = norm2(&e.readout);
    let cmag = nf.sqrt() * c2; // bounds |a_i| and |(Kc)_j|
    let x1: f64 = input
        .x
        .chunks(d)
        .map(|r| r.iter().map(|v| v.abs()).sum::<f64>() + 1.0)
        .sum();
    let wmax = max_abs(&input.w);
    let drift_scale = 2.0 * lam_a * cmag * c2 * x1 + lam_w * wmax;
    let eps_n = input.eps.as_ref().map_or(0.0, |v| norm2(v)) / (nf * lam_a); // ‖e‖ ≤ |ε̃|/(nλ̄_a)
    let ln_drift_scale = drift_scale + 2.0 * lam_a * nf.sqrt() * eps_n * eps_n * x1;
    let cyt = y2.sqrt() / (nf * lam_a); // universal bound on ‖c‖ at any particles
    let universal_drift = 2.0 * lam_a * nf.sqrt() * cyt * cyt * x1 + lam_w * wmax;
    let get = |k: &str| -> f64 {
        e.named()
            .into_iter()
            .find(|(nm, _)| nm == k)
            .map_or(0.0, |(_, v)| max_abs(&v))
    };
    let base = name.rsplit('.').next().unwrap();
    if name.starts_with("after_") {
        return match base {
            "objective" => g_scale + get(name) + y2 / (2.0 * nf),
            "degrees_of_freedom" => get(name) + 1.0,
            "alignment" => 1.0,
            "w" => wmax + p.eta * (universal_drift + ln_drift_scale) + 1.0,
            _ => panic!("no scale for {name}"),
        };
    }
    match name {
        "objective" | "U" => g_scale,
        "reg" => e.reg,
        "readout" => c2,
        "second_layer" | "predictions" | "test_predictions" => cmag,
        "degrees_of_freedom" => e.degrees_of_freedom + 1.0,
        "alignment" | "alignment_labels" | "alignment_test" => 1.0,
        "alignment_centred" => {
            // cancellation in PKP: relative to ‖K‖_F/‖PKP‖_F
            let co = core(input, p, &input.w).unwrap();
            let k = &co.k;
            let r: Vec<f64> = (0..n)
                .map(|j| k[j * n..(j + 1) * n].iter().sum::<f64>() / nf)
                .collect();
            let s = r.iter().sum::<f64>() / nf;
            let mut f2 = 0.0;
            for j in 0..n {
                for l in 0..n {
                    let v = k[j * n + l] - r[j] - r[l] + s;
                    f2 += v * v;
                }
            }
            4.0 * nf * e.frobenius_k / f2.sqrt()
        }
        "trace_K" | "frobenius_K" => nf,
        "train_mse" => 2.0 * e.train_mse.sqrt() * cmag + e.train_mse,
        "test_mse" => {
            let t = e.test_mse.unwrap();
            2.0 * t.sqrt() * cmag + t
        }
        "second_layer_l2" => 2.0 * cmag * cmag,
        "first_variation" => lam_a * cmag * cmag + lam_w * wmax * wmax * (d + 1) as f64,
        "drift" => drift_scale,
        "label_noise_drift" => ln_drift_scale,
        "objective_label_noise" => {
            let cm = c2 + eps_n;
            get(name) + (y2.sqrt() + nf * cm) * cm + lam_a * nf * cm * cm + e.reg
        }
        "expected_objective_label_noise" => {
            g_scale + p.sigma_tilde * p.sigma_tilde * (e.degrees_of_freedom + 1.0) / nf
        }
        _ => panic!("no scale for {name}"),
    }
}

/// Compares every f64 quantity with the oracle's (digits significant digits): |f64 − oracle|
/// ≤ contract·scale + the oracle's bound. Returns the largest ratio error/allowed.
fn compare_with_oracle(input: &Input, p: &Params, digits: u32) -> Result<f64, String> {
    let pf = p.validate().unwrap();
    let ev = evaluate(input, &pf)?;
    let fields = oracle::evaluate(input, p, digits).map_err(|e| e.to_string())?;
    let ours = ev.named();
    let tol = contract(input, &pf);
    let mut worst: f64 = 0.0;
    if ours.len() != fields.len() {
        return Err(format!(
            "f64 has {:?}, oracle {:?}",
            ours.iter().map(|x| &x.0).collect::<Vec<_>>(),
            fields.iter().map(|x| &x.name).collect::<Vec<_>>()
        ));
    }
    for ((name, vals), f) in ours.iter().zip(&fields) {
        if name != &f.name || vals.len() != f.values.len() {
            return Err(format!("field mismatch {name} / {}", f.name));
        }
        let s = scale(name, &ev, input, &pf);
        for (k, (v, (o, b))) in vals.iter().zip(f.values.iter().zip(&f.bounds)).enumerate() {
            let err = (v - to_f64(o)).abs();
            let allowed = tol * s + to_f64(b) + to_f64(o).abs() * U;
            if err > allowed {
                return Err(format!(
                    "{name}[{k}]: f64 {v:e}, oracle {}, error {err:e} > allowed {allowed:e}",
                    to_f64(o)
                ));
            }
            worst = worst.max(err / allowed);
        }
    }
    Ok(worst)
}

// ---------------------------------------------------------------------------------------
// Drift against central differences of G(μ_W) in MPFR

/// ∂G(μ_W)/∂w_ik by a central difference at `prec` bits with step h = 2^{-80}, G evaluated
/// by the oracle's definition (minimum over a of F). Truncation h²/6·|∂³G| ~ 1e-48·|∂³G|;
/// rounding 2^{-prec}·G/h.
fn central_difference(
    input: &Input,
    p: &Params,
    g: impl Fn(&Input, &Params, &[Float], u32) -> Result<Float, String>,
    prec: u32,
) -> Vec<f64> {
    let w = mp(&input.w, prec);
    let h = Float::with_val(prec, 1) >> 80u32;
    (0..w.len())
        .map(|k| {
            let mut wp = w.clone();
            let mut wm = w.clone();
            wp[k] += &h;
            wm[k] -= &h;
            let gp = g(input, p, &wp, prec).unwrap();
            let gm = g(input, p, &wm, prec).unwrap();
            let d = Float::with_val(prec, &gp - &gm) / Float::with_val(prec, &h * 2u32);
            // ∂G/∂w_i = (1/m)∇δG/δμ(w_i): report the drift m·∂G/∂w_i
            to_f64(&(d * input.m as u32))
        })
        .collect()
}

#[test]
fn drift_equals_mpfr_central_difference_of_objective() {
    // λ = 0.04: λ̄_a = 0.01, κ ≤ 101, so the f64 contract 4κ(n+m+d)u ≈ 6e-13 < 1e-12.
    let (p, pf) = params("0.04");
    let input = problem(7, 6, 4, 3, 1.0);
    let fd = central_difference(&input, &p, oracle::objective, 600);
    // the oracle's drift formula at 600 bits vs the difference quotient: truncation
    // h²/6·|∂³G| with h = 2^{-80} (≈ 1e-49 times a modest constant), far below 1e-30
    let od: Vec<f64> = oracle::drift(&input, &p, &mp(&input.w, 600), 600)
        .unwrap()
        .iter()
        .map(to_f64)
        .collect();
    let scale = max_abs(&fd);
    assert!(scale > 1e-3, "a degenerate case: drift ≈ 0");
    for (a, b) in od.iter().zip(&fd) {
        // (both rounded to f64 for the comparison: 2u relative)
        assert!(
            (a - b).abs() <= 4.0 * U * scale,
            "oracle drift {a} vs FD {b}"
        );
    }
    // the f64 drift, to ≤ 1e-12 relative (the contract for this case is 6e-13)
    let ev = evaluate(&input, &pf).unwrap();
    let tol = 4.0 * (1.0 + 1.0 / (pf.lambda * pf.lambda_a)) * 13.0 * U;
    assert!(tol <= 1e-12);
    for (a, b) in ev.drift.iter().zip(&fd) {
        assert!((a - b).abs() <= tol * scale, "f64 drift {a} vs FD {b}");
    }
}

#[test]
fn drift_at_paper_parameters_matches_central_difference() {
    // λ = 0.004 (λ̄_a = 0.001): κ ≤ 1001; contract C·κ·N·u.
    let (p, pf) = params("0.004");
    let input = problem(11, 8, 5, 3, 0.5);
    let fd = central_difference(&input, &p, oracle::objective, 600);
    let ev = evaluate(&input, &pf).unwrap();
    let tol = contract(&input, &pf);
    let scale = max_abs(&fd);
    let worst = ev
        .drift
        .iter()
        .zip(&fd)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0, f64::max);
    assert!(worst <= tol, "relative error {worst:e} > {tol:e}");
}

#[test]
fn label_noise_drift_is_the_gradient_of_the_noisy_objective() {
    // ∇δG_ε̃/δμ including the dependence of the noisy readout on μ, against the central
    // difference of G_ε̃ (its definition with c̃ = A^{-1}(y + ε̃)) in MPFR.
    let (p, pf) = params("0.04");
    let mut input = problem(13, 6, 4, 2, 1.0);
    input.eps = Some(normals(99, 6).iter().map(|v| v.clamp(-1.0, 1.0)).collect());
    let fd = central_difference(&input, &p, oracle::objective_label_noise, 600);
    let ev = evaluate(&input, &pf).unwrap();
    let ln = ev.label_noise.as_ref().unwrap();
    let scale = max_abs(&fd);
    let tol = 4.0 * (1.0 + 1.0 / (pf.lambda * pf.lambda_a)) * 12.0 * U;
    for (a, b) in ln.drift.iter().zip(&fd) {
        assert!(
            (a - b).abs() <= tol * scale,
            "label-noise drift {a} vs FD {b}"
        );
    }
    // and it is not the clean drift (the test would notice a missing ε̃ term)
    let diff = max_abs(
        &ln.drift
            .iter()
            .zip(&ev.drift)
            .map(|(a, b)| a - b)
            .collect::<Vec<_>>(),
    );
    assert!(diff > 1e3 * tol * scale);
}

// ---------------------------------------------------------------------------------------
// Readout: n × n against m × m

#[test]
fn readout_of_cholesky_route_equals_normal_equations() {
    // f64 n × n route (Cholesky of K + nλ̄_a I) against the oracle's m × m normal equations,
    // for n > m and n < m.
    for (seed, n, m) in [(3u64, 40usize, 12usize), (4, 9, 30)] {
        let mut input = problem(seed, n, m, 4, 1.0);
        input.x_test = Some((normals(seed + 7, 5 * 4), 5));
        let (p, _) = params("0.004");
        let worst = compare_with_oracle(&input, &p, 25).unwrap();
        eprintln!("n = {n}, m = {m}: largest error/allowed {worst:.3e}");
        assert!(worst <= 1.0);
    }
}

// ---------------------------------------------------------------------------------------
// Duplicating every particle

#[test]
fn duplicating_particles_changes_nothing() {
    let (_, pf) = params("0.004");
    let mut input = problem(21, 10, 5, 3, 1.0);
    input.eps = Some(normals(5, 10).iter().map(|v| v.clamp(-1.0, 1.0)).collect());
    let mut dup = input.clone();
    dup.m = 2 * input.m;
    dup.w = [input.w.clone(), input.w.clone()].concat();
    let a = evaluate(&input, &pf).unwrap();
    let b = evaluate(&dup, &pf).unwrap();
    let tol = contract(&dup, &pf);
    let close = |x: f64, y: f64, s: f64, what: &str| {
        assert!((x - y).abs() <= tol * s, "{what}: {x} vs {y}");
    };
    let g_s = scale("objective", &a, &input, &pf);
    close(a.objective, b.objective, g_s, "G");
    close(
        a.degrees_of_freedom,
        b.degrees_of_freedom,
        a.degrees_of_freedom + 1.0,
        "dof",
    );
    for (x, y) in a.readout.iter().zip(&b.readout) {
        close(*x, *y, norm2(&a.readout), "c");
    }
    let ds = scale("drift", &a, &input, &pf);
    let half = a.drift.len();
    for k in 0..half {
        close(a.drift[k], b.drift[k], ds, "drift (first copy)");
        close(a.drift[k], b.drift[half + k], ds, "drift (second copy)");
    }
    let (la, lb) = (a.label_noise.unwrap(), b.label_noise.unwrap());
    close(la.objective, lb.objective, g_s + 1.0, "G_eps");
    // a non-trivial change of the measure does change G (the comparison can fail)
    let mut other = dup.clone();
    other.w[0] += 0.5;
    let c = evaluate(&other, &pf).unwrap();
    assert!((c.objective - a.objective).abs() > 1e3 * tol * g_s);
}

// ---------------------------------------------------------------------------------------
// Label noise: E G_ε̃ = G + σ̃²·dof/(6n)

/// G_ε̃ for every sign pattern of ε̃_j = ±σ̃/√3 averages to G − (λ̄_a/2)(σ̃²/3)tr A^{-1} +
/// σ̃²/6 = G + σ̃²·dof/(6n) exactly (E[ε̃_j ε̃_l] over the patterns is (σ̃²/3)δ_jl, the same
/// second moment as Unif[−σ̃, σ̃]). Checked in MPFR at 200 bits.
#[test]
fn label_noise_expectation_is_exact_over_sign_patterns() {
    let p = Params {
        sigma_tilde: "2".into(),
        ..Params::default()
    };
    let mut input = problem(31, 7, 4, 2, 1.0);
    let prec = 200;
    let s = Float::with_val(prec, 2) / Float::with_val(prec, 3).sqrt();
    let w = mp(&input.w, prec);
    let mut sum = Float::new(prec);
    for pattern in 0u32..(1 << input.n) {
        // ε̃ is binary64: ±s rounded to f64; the identity holds with σ̃²/3 = s_f64²
        let eps: Vec<f64> = (0..input.n)
            .map(|j| {
                if pattern >> j & 1 == 1 {
                    s.to_f64()
                } else {
                    -s.to_f64()
                }
            })
            .collect();
        input.eps = Some(eps);
        sum += oracle::objective_label_noise(&input, &p, &w, prec).unwrap();
    }
    let mean = sum / (1u32 << input.n);
    // σ̃² here is 3·s_f64² (the second moment of the f64 draw), exact in the identity
    let sf = Float::with_val(prec, s.to_f64());
    let var = Float::with_val(prec, sf.square_ref()); // = σ̃²/3 for the drawn values
    let fields = oracle::evaluate_at(&input, &p, prec).unwrap();
    let get = |k: &str| fields.iter().find(|f| f.0 == k).unwrap().2[0].clone();
    let g = get("objective");
    let dof = get("degrees_of_freedom");
    let want = g + var * dof / (2 * input.n as u32);
    let diff = Float::with_val(prec, &mean - &want).abs();
    assert!(
        diff < Float::with_val(prec, &want) * 1e-50,
        "average over sign patterns {} vs G + σ̃²dof/(6n) {}",
        mean.to_f64(),
        want.to_f64()
    );
    // the printed expectation field uses σ̃ = 2: G + 4·dof/(6n)
    let exp_field = get("expected_objective_label_noise");
    let check = get("objective")
        + Float::with_val(prec, 4) * get("degrees_of_freedom") / (6 * input.n as u32);
    assert!(Float::with_val(prec, &exp_field - &check).abs() < 1e-50);
}

/// Monte Carlo: ε̃ ~ Unif[−σ̃, σ̃]^n, the mean of G_ε̃ over N draws within 5 standard errors
/// of G + σ̃²·dof/(6n) (a false alarm has probability ≈ 6e-7), while the paper's printed
/// coefficient λ̄_a σ̃²/(6m) (and no penalty at all) are rejected.
#[test]
fn label_noise_expectation_by_monte_carlo() {
    let p = Params {
        sigma_tilde: "2".into(),
        ..Params::default()
    };
    let pf = p.validate().unwrap();
    let mut input = problem(41, 6, 5, 2, 1.0);
    let base = evaluate(&input, &pf).unwrap();
    let draws = 20000;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    use rand::Rng;
    let mut vals = Vec::with_capacity(draws);
    for _ in 0..draws {
        input.eps = Some((0..input.n).map(|_| rng.gen_range(-2.0..2.0)).collect());
        vals.push(
            evaluate(&input, &pf)
                .unwrap()
                .label_noise
                .unwrap()
                .objective,
        );
    }
    let mean = vals.iter().sum::<f64>() / draws as f64;
    let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (draws - 1) as f64;
    let se = (var / draws as f64).sqrt();
    let nf = input.n as f64;
    let want = base.objective + 4.0 * base.degrees_of_freedom / (6.0 * nf);
    assert!(
        (mean - want).abs() <= 5.0 * se,
        "MC mean {mean} vs {want} (se {se})"
    );
    let paper = base.objective
        + pf.lambda * pf.lambda_a * 4.0 * base.degrees_of_freedom / (6.0 * input.m as f64);
    assert!(
        (mean - paper).abs() > 5.0 * se,
        "the test cannot tell the coefficients apart"
    );
    assert!((mean - base.objective).abs() > 5.0 * se);
}

// ---------------------------------------------------------------------------------------
// Convexity along mixtures, non-convexity along a straight line

#[test]
fn objective_is_convex_along_mixtures_not_along_lines() {
    let (_, pf) = params("0.004");
    let a = problem(51, 12, 3, 2, 1.0);
    let b = problem(52, 12, 3, 2, 1.5);
    let steps = 8;
    // μ_t = (1 − t)μ_0 + tμ_1 at t = k/8: 8 − k copies of W_0 and k copies of W_1
    let g: Vec<f64> = (0..=steps)
        .map(|k| {
            let mut inp = a.clone();
            inp.w = [a.w.repeat(steps - k), b.w.repeat(k)].concat();
            inp.m = steps * a.m;
            evaluate(&inp, &pf).unwrap().objective
        })
        .collect();
    let mut big = a.clone();
    big.m = steps * a.m;
    let tol =
        contract(&big, &pf) * (a.y.iter().map(|v| v * v).sum::<f64>() / (2.0 * a.n as f64) + 1.0);
    let mut positive = 0;
    for k in 1..steps {
        let second = g[k - 1] - 2.0 * g[k] + g[k + 1];
        assert!(
            second >= -4.0 * tol,
            "G not convex along the mixture at k = {k}: {second:e}"
        );
        if second > 4.0 * tol {
            positive += 1;
        }
    }
    assert!(
        positive > 0,
        "the mixture is flat: the test would not see a concave G"
    );
    // straight line in particle space from W_0 to −W_0 (tanh odd: K and |w|² agree at the
    // ends) passes through W = 0 where K = 0 and G = |y|²/(2n) > G(W_0)
    let line = |t: f64| {
        let mut inp = a.clone();
        inp.w = a.w.iter().map(|v| (1.0 - 2.0 * t) * v).collect();
        evaluate(&inp, &pf).unwrap().objective
    };
    let (g0, gh, g1) = (line(0.0), line(0.5), line(1.0));
    assert!((g0 - g1).abs() <= tol);
    assert!(
        gh - 0.5 * (g0 + g1) > 1e6 * tol,
        "midpoint {gh} not above the chord {g0}"
    );
}

// ---------------------------------------------------------------------------------------
// f64 against the oracle, on generated valid inputs

#[derive(Clone, Debug)]
struct Case {
    input: Input,
    params: Params,
}

fn pick<T: Clone>(g: &mut Gen, xs: &[T]) -> T {
    g.choose(xs).unwrap().clone()
}

/// A uniform value in [−r, r] from the generator (never NaN).
fn unif(g: &mut Gen, r: f64) -> f64 {
    (u32::arbitrary(g) as f64 / u32::MAX as f64 * 2.0 - 1.0) * r
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let n = 1 + usize::arbitrary(g) % 8;
        let m = 1 + usize::arbitrary(g) % 6;
        let d = 1 + usize::arbitrary(g) % 3;
        fn v(g: &mut Gen, k: usize, r: f64) -> Vec<f64> {
            (0..k).map(|_| unif(g, r)).collect()
        }
        let x = v(g, n * d, 2.5);
        let y = v(g, n, 2.0);
        let w = v(g, m * (d + 1), 2.0);
        let eps = v(g, n, 1.5);
        let xi = v(g, m * (d + 1), 2.5);
        let nt = usize::arbitrary(g) % 4;
        let xt = v(g, nt * d, 2.5);
        let f_star = match (usize::arbitrary(g) % 3, d) {
            (0, _) => Target::Labels,
            (1, _) | (_, 1) => Target::Product(vec![0]),
            _ => Target::Product(vec![0, d - 1]),
        };
        let input = Input {
            n,
            d,
            m,
            x,
            y,
            w,
            x_test: (nt > 0).then_some((xt, nt)),
            f_star,
            eps: bool::arbitrary(g).then_some(eps),
            xi: bool::arbitrary(g).then_some(xi),
        };
        let params = Params {
            lambda: pick(g, &["0.004", "0.04", "0.1"]).into(),
            lambda_a: pick(g, &["0.25", "1"]).into(),
            lambda_w: pick(g, &["0.25", "0"]).into(),
            eta: pick(g, &["0.2", "1"]).into(),
            sigma_tilde: pick(g, &["1", "2"]).into(),
        };
        Case { input, params }
    }
}

#[test]
fn f64_path_agrees_with_oracle_on_generated_inputs() {
    fn prop(c: Case) -> bool {
        match compare_with_oracle(&c.input, &c.params, 25) {
            Ok(w) => {
                if std::env::var_os("TT_REPORT").is_some() {
                    eprintln!("largest error/allowed {w:.3e}");
                }
                w <= 1.0
            }
            Err(e) => {
                eprintln!("{e}");
                false
            }
        }
    }
    QuickCheck::new()
        .tests(80)
        .quickcheck(prop as fn(Case) -> bool);
}

// ---------------------------------------------------------------------------------------
// Snapshot of a small fixed case at 20 digits, reviewed against the f64 path on every run

fn small_case() -> Input {
    Input::from_json(
        r#"{"x": [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [-1.25, -0.5]],
            "y": [-0.25, 0.5, -1.5, 0.75],
            "w": [[1.0, 0.5, -0.25], [-0.5, 2.0, 0.125], [0.75, -1.0, 0.5]],
            "x_test": [[1.0, 1.0], [-2.0, 0.5]],
            "eps": [0.25, -0.5, 0.75, -1.0],
            "xi": [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5], [-1.5, 0.5, 1.0]]}"#,
    )
    .unwrap()
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn snapshot_small_case_oracle_20_digits() {
    let input = small_case();
    let p = Params::default();
    // review: the f64 path (an independent route) agrees within its contract
    let worst = compare_with_oracle(&input, &p, 20).unwrap();
    eprintln!("largest error/allowed {worst:.3e}");
    assert!(worst <= 1.0);
    let fields = oracle::evaluate(&input, &p, 20).unwrap();
    let mut text = String::from("two-timescale eval, oracle, 20 digits, default parameters\n");
    for f in &fields {
        let shown: Vec<String> = f
            .values
            .iter()
            .zip(&f.bounds)
            .map(|(v, b)| {
                let (s, _, status) = render_with_bound(v, b, 20);
                assert_eq!(status, "ok", "{}: fewer than 20 digits", f.name);
                s
            })
            .collect();
        text.push_str(&format!("{}: {}\n", f.name, shown.join(" ")));
    }
    settings().bind(|| insta::assert_snapshot!("two_timescale_small", text));
}

// ---------------------------------------------------------------------------------------
// The command line

fn run(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mforacle"));
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mforacle-tt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn cli_bad_input_is_refused_with_the_field_named() {
    let dir = scratch("bad");
    let ok_x = r#""x": [[1, 2], [3, 4]]"#;
    let cases: &[(&str, &[&str], &str)] = &[
        (
            r#"{"x": [[1, 2], [3]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &[],
            "field `x` row 1",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1], "w": [[1, 2, 3]]}"#,
            &[],
            "field `y`",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2]]}"#,
            &[],
            "field `w` row 0",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, "NaN"], "w": [[1, 2, 3]]}"#,
            &[],
            "field `y` entry 1",
        ),
        (r#"{"x": [], "y": [], "w": [[1, 2, 3]]}"#, &[], "n = 0"),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": []}"#,
            &[],
            "m = 0",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]], "eps": [1]}"#,
            &[],
            "field `eps`",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]], "xi": [[1, 2, 3], [1, 2, 3]]}"#,
            &[],
            "field `xi`",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]], "f_star": {"kind": "product", "indices": [5]}}"#,
            &[],
            "field `f_star`",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]], "z": 1}"#,
            &[],
            "unknown field `z`",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--lambda", "-0.1"],
            "--lambda",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--lambda-a", "-1"],
            "--lambda-a",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--lambda-w", "-1"],
            "--lambda-w",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--lambda", "0"],
            "--lambda",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--sigma-tilde", "nan"],
            "--sigma-tilde",
        ),
        (
            r#"{"x": [[1, 2], [3, 4]], "y": [1, 2], "w": [[1, 2, 3]]}"#,
            &["--oracle", "--digits", "0"],
            "--digits",
        ),
    ];
    let _ = ok_x;
    for (i, (json, flags, needle)) in cases.iter().enumerate() {
        let f = dir.join(format!("in{i}.json"));
        std::fs::write(&f, json).unwrap();
        let out = dir.join(format!("out{i}.json"));
        let mut args = vec![
            "two-timescale",
            "eval",
            "--input",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let o = run(&args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(err.contains(needle), "case {i}: `{needle}` not in {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "case {i}: {err}");
        assert!(!out.exists(), "case {i}: an output file was written");
    }
}

#[test]
fn cli_json_fields_values_and_thread_independence() {
    let dir = scratch("json");
    let mut input = problem(61, 150, 120, 5, 1.0);
    input.eps = Some(normals(3, 150).iter().map(|v| v.clamp(-1.0, 1.0)).collect());
    input.xi = Some(normals(4, 120 * 6));
    input.x_test = Some((normals(5, 40 * 5), 40));
    let rows = |v: &[f64], c: usize| v.chunks(c).map(|r| r.to_vec()).collect::<Vec<_>>();
    let doc = serde_json::json!({
        "x": rows(&input.x, 5), "y": input.y, "w": rows(&input.w, 6),
        "x_test": rows(&input.x_test.as_ref().unwrap().0, 5),
        "eps": input.eps, "xi": rows(input.xi.as_ref().unwrap(), 6),
    });
    let f = dir.join("in.json");
    std::fs::write(&f, doc.to_string()).unwrap();
    let args = [
        "two-timescale",
        "eval",
        "--input",
        f.to_str().unwrap(),
        "--format",
        "json",
    ];
    let one = run(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = run(&args, &[("RAYON_NUM_THREADS", "2")]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(one.stdout, two.stdout, "output depends on the thread count");
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    for k in [
        "objective",
        "U",
        "reg",
        "readout",
        "second_layer",
        "predictions",
        "test_predictions",
        "degrees_of_freedom",
        "alignment",
        "alignment_labels",
        "alignment_test",
        "alignment_centred",
        "trace_K",
        "frobenius_K",
        "train_mse",
        "test_mse",
        "second_layer_l2",
        "first_variation",
        "drift",
        "label_noise_drift",
        "objective_label_noise",
        "expected_objective_label_noise",
        "after_gd_step",
        "after_langevin_step",
        "after_label_noise_step",
    ] {
        assert!(v.get(k).is_some_and(|x| !x.is_null()), "missing {k}");
    }
    for s in [
        "after_gd_step",
        "after_langevin_step",
        "after_label_noise_step",
    ] {
        for k in ["objective", "degrees_of_freedom", "alignment", "w"] {
            assert!(v[s].get(k).is_some(), "missing {s}.{k}");
        }
    }
    // the printed numbers are the library's (JSON round-trips f64 exactly)
    let pf = Params::default().validate().unwrap();
    let ev = evaluate(&input, &pf).unwrap();
    assert_eq!(v["objective"].as_f64().unwrap(), ev.objective);
    assert_eq!(
        v["degrees_of_freedom"].as_f64().unwrap(),
        ev.degrees_of_freedom
    );
    assert_eq!(v["drift"][3][2].as_f64().unwrap(), ev.drift[3 * 6 + 2]);
    assert_eq!(v["loss_scale"], "half");
    // U = (λ̄_a/2)yᵀc and reg = (λ̄_w/2)E|w|² add up to G; dof ≤ min(n, m)
    assert!((ev.u + ev.reg - ev.objective).abs() <= 2.0 * U * ev.objective);
    assert!(ev.degrees_of_freedom > 0.0 && ev.degrees_of_freedom < 120.0);
    // the oracle mode prints decimal strings with bounds, their kind stated
    let small = dir.join("small.json");
    std::fs::write(
        &small,
        r#"{"x": [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]], "y": [-0.5, 0.375, -1.5], "w": [[1.0, 0.5, -0.25], [-0.5, 2.0, 0.125]]}"#,
    )
    .unwrap();
    let o = run(
        &[
            "two-timescale",
            "eval",
            "--input",
            small.to_str().unwrap(),
            "--oracle",
            "--digits",
            "25",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bound_kind"].as_str().unwrap(), "estimate");
    assert!(v["bound_method"]
        .as_str()
        .unwrap()
        .starts_with("precision doubling"));
    assert!(v["objective"].as_str().unwrap().contains('e'));
    assert!(v["objective_error_bound"].is_string());
    assert_eq!(v["drift"].as_array().unwrap().len(), 2);
    assert_eq!(v["fewer_digits"].as_array().unwrap().len(), 0);
    assert!(v["test_mse"].is_null() && v["test_predictions"].is_null());
}
