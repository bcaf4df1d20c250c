//! Tests of `mforacle::hessian` (proofs-note: proofs-notes/local-hessian.md). Every comparison
//! is between two independent computations, with a tolerance derived from an error bound.

use mforacle::activation::Spec;
use mforacle::fast::{self, Kernel, LossScale, Problem, Route};
use mforacle::hessian::dual::{jacobian_dual, RugProblem};
use mforacle::hessian::interval::Interval;
use mforacle::hessian::{
    self, certify_r2, general, interaction_free, interaction_free_trajectory, PowerSeries,
    ReducedLaw, SelfTerm, Weight,
};
use mforacle::meanfield::flow::{Flow, Layout, Tolerance};
use mforacle::meanfield::Model;
use mforacle::population::LossScale as PopScale;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::Float;

const U: f64 = f64::EPSILON / 2.0;

fn model(s: &str, t: &str, d: usize) -> Model {
    Model::new(
        &Spec::parse(s).unwrap(),
        &Spec::parse(t).unwrap(),
        d,
        30,
        40,
        PopScale::Full,
        0.0,
    )
    .unwrap()
}

fn unit(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..d).map(|_| rng.gen::<f64>() * 2.0 - 1.0).collect();
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// Symmetric case, interaction-free: the closed-form eigenvalues (MPFR) equal the dual-number
/// Jacobian of the MPFR velocity to working precision, for a polynomial and a series pair.
#[test]
fn symmetric_closed_form_matches_dual() {
    let prec = 200;
    for (s, t) in [
        ("he4", "he4"),
        ("he4+0.5*he3", "0.3*he3+he4"),
        ("tanh", "erf"),
    ] {
        let m = model(s, t, 5);
        let d = 6;
        let psi: Vec<Float> = m
            .psi
            .coefficients
            .iter()
            .map(|c| Float::with_val(prec, c))
            .collect();
        let scale = Float::with_val(prec, 1);
        for &a in &[0.05, -0.3, 0.7, 0.95] {
            let alpha = Float::with_val(prec, a);
            let beta = Float::with_val(prec, 1 - Float::with_val(prec, alpha.square_ref())).sqrt();
            let mut w0 = vec![Float::new(prec); d];
            w0[0] = alpha.clone();
            w0[1] = beta.clone();
            let mut theta = vec![Float::new(prec); d];
            theta[0] = Float::with_val(prec, 1);
            let p = RugProblem {
                prec,
                w: vec![],
                a: vec![],
                theta,
                kappa: vec![Float::new(prec)],
                psi: psi.clone(),
                scale: scale.clone(),
            };
            let h = jacobian_dual(&p, &w0, None);
            // e = βθ − αu, f = e_3.
            let mut e = vec![Float::new(prec); d];
            e[0] = beta.clone();
            e[1] = -alpha.clone();
            let he: Vec<Float> = (0..d)
                .map(|r| {
                    let mut s = Float::new(prec);
                    for c in 0..d {
                        s += Float::with_val(prec, &h[r][c] * &e[c]);
                    }
                    s
                })
                .collect();
            let [le, lp, _] = hessian::symmetric::symmetric_hessian_rug(&psi, &scale, &alpha, prec);
            let mag: Float =
                Float::with_val(prec, le.abs_ref()) + Float::with_val(prec, lp.abs_ref()) + 1u32;
            let tol = Float::with_val(prec, &mag >> (prec - 24));
            for r in 0..d {
                let want = Float::with_val(prec, &le * &e[r]);
                let diff = Float::with_val(prec, &he[r] - &want).abs();
                assert!(diff < tol, "{s}/{t} alpha {a}: H e - lambda_e e = {diff}");
            }
            for k in 2..d {
                for r in 0..d {
                    let want = if r == k { lp.clone() } else { Float::new(prec) };
                    let diff = Float::with_val(prec, &h[r][k] - &want).abs();
                    assert!(diff < tol, "{s}/{t} alpha {a}: H[{r}][{k}] off by {diff}");
                }
            }
            // and the f64 closed form agrees with the MPFR one to f64 accuracy
            let hf = interaction_free(&PowerSeries::new(m.psi.to_f64()), 1.0, a);
            let rel = |x: f64, y: &Float| (x - y.to_f64()).abs() / mag.to_f64();
            assert!(rel(hf.lambda_e, &le) < 64.0 * 30.0 * U);
            assert!(rel(hf.lambda_perp, &lp) < 64.0 * 30.0 * U);
        }
    }
}

fn random_problem(
    rng: &mut ChaCha8Rng,
    n: usize,
    d: usize,
    m: &Model,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut w = Vec::new();
    for _ in 0..n {
        w.extend(unit(rng, d));
    }
    let a: Vec<f64> = (0..n)
        .map(|_| 0.5 + rng.gen::<f64>())
        .map(|x| x / n as f64)
        .collect();
    let theta = unit(rng, d);
    let _ = m;
    (w, a, theta)
}

fn problem<'a>(w: &'a [f64], a: &'a [f64], theta: &'a [f64], d: usize, m: &Model) -> Problem<'a> {
    Problem {
        w,
        n: a.len(),
        d,
        a,
        theta,
        kappa: Kernel::PowerSeries(m.kappa.to_f64()),
        psi: Kernel::PowerSeries(m.psi.to_f64()),
        kappa_radial: Kernel::PowerSeries(m.kappa_radial.to_f64()),
        psi_radial: Kernel::PowerSeries(m.psi_radial.to_f64()),
        constant: 1.0,
        loss_scale: LossScale::Full,
    }
}

/// sup_{|s|≤1} |f^{(r)}| of a power series: Σ k^{(r)} |c_k|.
fn sup_deriv(c: &[f64], r: usize) -> f64 {
    (r..c.len())
        .map(|k| (0..r).map(|i| (k - i) as f64).product::<f64>() * c[k].abs())
        .sum()
}

/// General case: the f64 tangent Jacobian equals the MPFR dual-number Jacobian (frozen and
/// moving self-term) to the f64 rounding bound γ_n·(sum of the magnitudes of the terms).
#[test]
fn general_f64_matches_dual() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let m = model("he4+0.4*he3+0.2*he1", "he4+0.3*he2", 5);
    let (n, d) = (5, 7);
    let prec = 160;
    for _ in 0..3 {
        let (w, a, theta) = random_problem(&mut rng, n, d, &m);
        let p = problem(&w, &a, &theta, d, &m);
        let f = |x: &[f64]| -> Vec<Float> { x.iter().map(|v| Float::with_val(prec, *v)).collect() };
        let rp = RugProblem {
            prec,
            w: w.chunks(d).map(f).collect(),
            a: f(&a),
            theta: f(&theta),
            kappa: f(&m.kappa.to_f64()),
            psi: f(&m.psi.to_f64()),
            scale: Float::with_val(prec, 1),
        };
        let (k, ps) = (m.kappa.to_f64(), m.psi.to_f64());
        let asum: f64 = a.iter().sum();
        let mag = 2.0
            * (sup_deriv(&ps, 2)
                + sup_deriv(&ps, 1)
                + asum * (sup_deriv(&k, 2) + sup_deriv(&k, 1)));
        let tol = 4.0 * (2.0 * (k.len() + d + n + 10) as f64) * U * mag;
        for i in 0..n {
            for (st, moving) in [(SelfTerm::Frozen, None), (SelfTerm::Moving, Some(i))] {
                let h = general::tangent_jacobian(&p, i, st);
                let hd = jacobian_dual(&rp, &rp.w[i], moving);
                for r in 0..d {
                    for c in 0..d {
                        let diff = (h[r * d + c] - hd[r][c].to_f64()).abs();
                        assert!(
                            diff <= tol,
                            "neuron {i} {st:?} H[{r}][{c}] off by {diff} > {tol}"
                        );
                    }
                }
                // symmetric, and H w_i = 0
                for r in 0..d {
                    for c in 0..d {
                        assert!((h[r * d + c] - h[c * d + r]).abs() <= 2.0 * tol);
                    }
                }
            }
        }
    }
}

/// General case against central finite differences of `fast::velocity` along tangent geodesics
/// w(h) = cos h·w + sin h·ξ. Frozen law: a probe neuron with a = 0 at w(h) (the law, including
/// neuron i's atom at w_i, does not move). Moving: neuron i itself moves. Tolerance:
/// h²/6·sup‖v'''‖ + (ε_v + 8u·L + 2u·‖F‖)/h (truncation + rounding; proofs-note §3), with the a-priori
/// bounds sup‖v'''‖ ≤ 2F₃ + 6F₂ + 12F₁ + 8F₀ and L ≤ 2(F₁ + F₀). The test also checks that the FD
/// separates the two conventions (their difference 2a_iκ'(1) is far above the tolerance).
#[test]
fn general_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let m = model("he4+0.4*he3", "he4", 5);
    let (n, d) = (6, 9);
    let (k, ps) = (m.kappa.to_f64(), m.psi.to_f64());
    for trial in 0..2 {
        let (w, a, theta) = random_problem(&mut rng, n, d, &m);
        let i = trial % n;
        let asum: f64 = a.iter().sum();
        let ka = |r: usize| sup_deriv(&k, r);
        let pa = |r: usize| sup_deriv(&ps, r);
        let f0 = 2.0 * (pa(1) + asum * ka(1));
        let f1 = 2.0 * (pa(2) + asum * (ka(2) + ka(1)));
        let f2 = 2.0 * (pa(3) + pa(2) + asum * (ka(3) + ka(2) + ka(1)));
        let f3 = 2.0 * (pa(4) + 3.0 * pa(3) + pa(2) + asum * (ka(4) + 3.0 * ka(3) + ka(2) + ka(1)));
        let v3 = 2.0 * f3 + 6.0 * f2 + 12.0 * f1 + 8.0 * f0;
        let lip = 2.0 * (f1 + f0);
        let wi = w[i * d..(i + 1) * d].to_vec();
        // tangent unit ξ
        let r = unit(&mut rng, d);
        let c: f64 = r.iter().zip(&wi).map(|(x, y)| x * y).sum();
        let xi: Vec<f64> = r.iter().zip(&wi).map(|(x, y)| x - c * y).collect();
        let nx = xi.iter().map(|x| x * x).sum::<f64>().sqrt();
        let xi: Vec<f64> = xi.iter().map(|x| x / nx).collect();
        for st in [SelfTerm::Frozen, SelfTerm::Moving] {
            let vel = |hh: f64| -> (Vec<f64>, f64) {
                let wh: Vec<f64> = wi
                    .iter()
                    .zip(&xi)
                    .map(|(x, y)| hh.cos() * x + hh.sin() * y)
                    .collect();
                let (mut ww, mut aa) = (w.clone(), a.clone());
                let row = match st {
                    SelfTerm::Frozen => {
                        ww.extend(&wh);
                        aa.push(0.0);
                        n
                    }
                    SelfTerm::Moving => {
                        ww[i * d..(i + 1) * d].copy_from_slice(&wh);
                        i
                    }
                };
                let p = problem(&ww, &aa, &theta, d, &m);
                let v = fast::velocity(&p, Route::Tiled).unwrap();
                let eb = fast::error_bound(&p, Route::Tiled).unwrap();
                let ev = eb.velocity[row * d..(row + 1) * d]
                    .iter()
                    .cloned()
                    .fold(0.0, f64::max);
                (v[row * d..(row + 1) * d].to_vec(), ev)
            };
            let (_, ev) = vel(0.0);
            let num = ev + 8.0 * U * lip + 2.0 * U * f0;
            let h = (3.0 * num / v3).cbrt();
            let (vp, evp) = vel(h);
            let (vm, evm) = vel(-h);
            let num = evp.max(evm) + 8.0 * U * lip + 2.0 * U * f0;
            let tol = h * h / 6.0 * v3 + num / h + 64.0 * (d + n) as f64 * U * (f1 + f0);
            let fd: Vec<f64> = vp
                .iter()
                .zip(&vm)
                .map(|(x, y)| (x - y) / (2.0 * h))
                .collect();
            let cc: f64 = fd.iter().zip(&wi).map(|(x, y)| x * y).sum();
            let fd: Vec<f64> = fd.iter().zip(&wi).map(|(x, y)| x - cc * y).collect();
            let p = problem(&w, &a, &theta, d, &m);
            let other = if st == SelfTerm::Frozen {
                SelfTerm::Moving
            } else {
                SelfTerm::Frozen
            };
            let apply = |st: SelfTerm| -> Vec<f64> {
                let hm = general::tangent_jacobian(&p, i, st);
                (0..d)
                    .map(|r| (0..d).map(|c| hm[r * d + c] * xi[c]).sum())
                    .collect()
            };
            let (hx, hy) = (apply(st), apply(other));
            let err = hx
                .iter()
                .zip(&fd)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                err <= tol,
                "{st:?}: FD error {err} > tolerance {tol} (h = {h})"
            );
            let sep = hy
                .iter()
                .zip(&fd)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                sep > 10.0 * tol,
                "{st:?}: FD does not separate the conventions ({sep} vs {tol})"
            );
        }
    }
}

/// The Jacobi eigenvalues of the test-particle Hessian in a symmetric configuration reproduce the
/// closed form (λ_e once, λ_⊥ d − 2 times, 0 on w).
#[test]
fn general_test_particle_symmetric_eigenvalues() {
    let m = model("he4", "he4", 5);
    let d = 8;
    let mut theta = vec![0.0; d];
    theta[0] = 1.0;
    let alpha: f64 = 0.3;
    let mut w = vec![0.0; d];
    w[0] = alpha;
    w[1] = (1.0 - alpha * alpha).sqrt();
    let p = problem(&[], &[], &theta, d, &m);
    let p = Problem { n: 0, ..p };
    let h = general::test_particle(&p, &w);
    let eig = general::symmetric_eigenvalues(&h, d).unwrap();
    let ev = &eig.values;
    let hs = interaction_free(&PowerSeries::new(m.psi.to_f64()), 1.0, alpha);
    let mut want = vec![hs.lambda_perp; d - 2];
    want.push(hs.lambda_e);
    want.push(0.0);
    want.sort_by(|a, b| a.total_cmp(b));
    for (x, y) in ev.iter().zip(&want) {
        assert!((x - y).abs() < 1e-12, "{ev:?} vs {want:?}");
    }
}

/// Random symmetric S = Q·diag(λ)·Qᵀ built at 320 bits (Q a product of three Householder
/// reflectors of random vectors, orthogonal to working precision), rounded to f64: the Jacobi
/// eigenvalues with the MPFR enclosure radius r contain the true eigenvalues of the f64 matrix.
/// Those differ from λ by at most δ = ‖S_f64 − S_320‖_F + 2^−300·‖S‖_F (Weyl), so the check is
/// |λ_i − μ_i| ≤ r + δ, with δ computed in MPFR rounded up. Also: r ≤ 64·d·u·‖S‖_F (the bound
/// is tight, so the test can fail), `estimate` ≥ the actual error, clustered and repeated
/// eigenvalues included, and convergence takes fewer than 20 sweeps.
#[test]
fn eigen_jacobi_encloses_known_spectrum() {
    use hessian::eigen::symmetric_eigen;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let p = 320;
    for trial in 0..24 {
        let d = 2 + trial % 11;
        let mut lam: Vec<f64> = (0..d).map(|_| rng.gen::<f64>() * 20.0 - 10.0).collect();
        if trial % 3 == 1 {
            // a cluster and a repeated eigenvalue
            lam[0] = 1.0;
            lam[d - 1] = 1.0;
            if d > 2 {
                lam[1] = 1.0 + 1e-9;
            }
        }
        // Q = H1 H2 H3, H = I − 2vvᵀ/(vᵀv)
        let mut q: Vec<Float> = (0..d * d)
            .map(|i| Float::with_val(p, (i % (d + 1) == 0) as u32))
            .collect();
        for _ in 0..3 {
            let v: Vec<Float> = (0..d)
                .map(|_| Float::with_val(p, rng.gen::<f64>() - 0.5))
                .collect();
            let vv = v.iter().fold(Float::with_val(p, 0), |a, x| a + x * x);
            let mut nq = q.clone();
            for r in 0..d {
                let qv = (0..d).fold(Float::with_val(p, 0), |a, k| a + &q[r * d + k] * &v[k]);
                let f = Float::with_val(p, &qv * 2u32) / &vv;
                for c in 0..d {
                    nq[r * d + c] = Float::with_val(p, &q[r * d + c] - &f * &v[c]);
                }
            }
            q = nq;
        }
        let mut s = vec![0.0; d * d];
        let mut delta2 = Float::with_val(p, 0);
        let mut norm2 = Float::with_val(p, 0);
        for r in 0..d {
            for c in 0..d {
                let e = (0..d).fold(Float::with_val(p, 0), |a, k| {
                    a + Float::with_val(p, &q[r * d + k] * &q[c * d + k]) * lam[k]
                });
                s[r * d + c] = e.to_f64();
                let diff = Float::with_val(p, &e - s[r * d + c]);
                delta2 += Float::with_val(p, diff.square_ref());
                norm2 += Float::with_val(p, e.square_ref());
            }
        }
        let delta =
            delta2.sqrt().to_f64() * (1.0 + 1e-10) + norm2.sqrt().to_f64() * 2f64.powi(-300);
        let eig = symmetric_eigen(&s, d).unwrap();
        let r = eig.enclosure(&s, 128).unwrap();
        let mut sorted = lam.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let fro = eig.frobenius;
        assert!(eig.sweeps < 20, "d = {d}: {} sweeps", eig.sweeps);
        assert!(
            r <= 64.0 * d as f64 * U * fro,
            "d = {d}: radius {r:e} not tight"
        );
        for (x, y) in eig.values.iter().zip(&sorted) {
            let err = (x - y).abs();
            assert!(
                err <= r + delta,
                "d = {d}: |{x} - {y}| = {err:e} > {r:e} + {delta:e}"
            );
            assert!(
                err <= eig.estimate + delta,
                "d = {d}: estimate {:e}",
                eig.estimate
            );
        }
    }
}

/// The sweep cap reports non-convergence as an error (one sweep cannot diagonalise a random
/// 12×12 matrix to d·u·‖S‖_F), and bad shapes and non-finite entries are refused.
#[test]
fn eigen_jacobi_refuses() {
    use hessian::eigen::{symmetric_eigen, symmetric_eigen_capped, EigenError};
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let d = 12;
    let s: Vec<f64> = (0..d * d).map(|_| rng.gen::<f64>() - 0.5).collect();
    match symmetric_eigen_capped(&s, d, 1) {
        Err(EigenError::NotConverged { sweeps: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(symmetric_eigen(&s, d).is_ok());
    assert!(matches!(
        symmetric_eigen(&s[1..], d),
        Err(EigenError::Shape { .. })
    ));
    let mut bad = s.clone();
    bad[5] = f64::NAN;
    assert_eq!(symmetric_eigen(&bad, d), Err(EigenError::NotFinite));
}

/// Interval operations enclose the MPFR values at a higher precision (random inputs).
#[test]
fn interval_encloses() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let p = 30;
    for _ in 0..500 {
        let mut draw = || {
            let c = rng.gen::<f64>() * 4.0 - 2.0;
            let r = rng.gen::<f64>() * 0.5;
            let x = c + r * (rng.gen::<f64>() * 2.0 - 1.0);
            (
                Interval::new(
                    p,
                    &Float::with_val(200, c - r),
                    &Float::with_val(200, c + r),
                ),
                x,
            )
        };
        let ((a, x), (b, y)) = (draw(), draw());
        let inside = |i: &Interval, v: Float| assert!(i.lo <= v && v <= i.hi, "{i:?} !∋ {v}");
        let (fx, fy) = (Float::with_val(200, x), Float::with_val(200, y));
        inside(&a.add(&b), Float::with_val(200, &fx + &fy));
        inside(&a.sub(&b), Float::with_val(200, &fx - &fy));
        inside(&a.mul(&b), Float::with_val(200, &fx * &fy));
        inside(&a.square(), Float::with_val(200, fx.square_ref()));
        if let Some(q) = a.div(&b) {
            inside(&q, Float::with_val(200, &fx / &fy));
        }
        inside(
            &a.square().sqrt_clamped(),
            Float::with_val(200, fx.abs_ref()),
        );
    }
}

/// sup R2 for ψ = s⁴ on [0, 0.9]: R2 = max(|3 − 4α²|, α²)/β is decreasing then increasing with
/// sup 3 at α = 0 (Q = k − 1 = 3); on [0, 0.99] the endpoint wins; β·R2 on [0, 1] has sup 3.
#[test]
fn certify_he4_closed_form() {
    let m = model("he4", "he4", 5);
    let c = certify_r2(&m.psi, 0.0, 0.9, 1e-8, Weight::R2, 128, 100_000).unwrap();
    assert!(
        c.upper >= 3.0 && c.upper <= 3.0 * (1.0 + 1e-8) + 1e-15,
        "{c:?}"
    );
    assert_eq!(c.order_at_zero, 3);
    let c = certify_r2(&m.psi, -0.5, 0.99, 1e-8, Weight::R2, 128, 100_000).unwrap();
    let at = |a: f64| (3.0f64 - 4.0 * a * a).abs().max(a * a) / (1.0 - a * a).sqrt();
    assert!(
        c.upper >= at(0.99) && c.upper <= at(0.99) * (1.0 + 1e-8 + 1e-14),
        "{c:?}"
    );
    let c = certify_r2(&m.psi, 0.0, 1.0, 1e-8, Weight::BetaR2, 128, 100_000).unwrap();
    assert!(
        c.upper >= 3.0 && c.upper <= 3.0 * (1.0 + 1e-8) + 1e-15,
        "{c:?}"
    );
    // the certified bound is above a dense grid of the closed form
    let c = certify_r2(&m.psi, 0.2, 0.95, 1e-6, Weight::R2, 128, 100_000).unwrap();
    for i in 0..=10_000 {
        let a = 0.2 + 0.75 * i as f64 / 10_000.0;
        assert!(
            at(a) <= c.upper * (1.0 + 1e-12),
            "R2({a}) = {} > {}",
            at(a),
            c.upper
        );
    }
    // R2 ~ 1/β: α_max = 1 is refused for R2
    assert!(certify_r2(&m.psi, 0.0, 1.0, 1e-6, Weight::R2, 128, 1000).is_err());
}

/// A non-polynomial pair (series with tail bounds) certifies, and the bound is above the f64
/// closed form on a grid.
#[test]
fn certify_series_pair() {
    let m = model("he3+0.2*tanh", "he3", 5);
    let c = certify_r2(&m.psi, -0.5, 0.9, 1e-5, Weight::R2, 128, 200_000).unwrap();
    let psi = PowerSeries::new(m.psi.to_f64());
    for i in 0..=2000 {
        let a = -0.5 + 1.4 * i as f64 / 2000.0;
        if a == 0.0 {
            continue;
        }
        let r2 = interaction_free(&psi, 1.0, a).r2();
        assert!(r2 <= c.upper * (1.0 + 1e-9), "R2({a}) = {r2} > {}", c.upper);
    }
}

/// ψ = s⁴ − s²/2 (student he4 + he2, teacher he4 − he2/2... scaled): ψ' vanishes at α = 1/2, where
/// R2 is unbounded; relu–relu has no bound on ψ'': both refused.
#[test]
fn certify_refusals() {
    let m = model("he4+he2", "he4-0.5*he2", 5);
    match certify_r2(&m.psi, 0.1, 0.9, 1e-6, Weight::R2, 128, 100_000) {
        Err(hessian::CertifyError::Unbounded { near, .. }) => {
            assert!((near - 0.5).abs() < 1e-6, "near {near}")
        }
        other => panic!("expected Unbounded, got {other:?}"),
    }
    let m = Model::new(
        &Spec::parse("relu").unwrap(),
        &Spec::parse("relu").unwrap(),
        5,
        30,
        20,
        PopScale::Full,
        0.0,
    )
    .unwrap();
    assert!(matches!(
        certify_r2(&m.psi, 0.0, 0.9, 1e-6, Weight::R2, 128, 1000),
        Err(hessian::CertifyError::NoSecondDerivative(_))
    ));
}

/// Interaction-free trajectories: ∫λ_e = ln(g(α_T)/g(α_0)) and ∫λ_⊥ = ln(β_T/β_0) (autonomous
/// flow), and for ψ = s² the logistic solution α_T² = 1/(1 + (1/α_0² − 1)e^{−8t}).
#[test]
fn trajectory_integrals_closed_form() {
    let psi = PowerSeries::new(model("he4", "he4", 5).psi.to_f64());
    let lip = hessian::interaction_free_lipschitz(&psi, 1.0);
    assert!((lip - 8.0).abs() < 1e-9, "Lip {lip}");
    for &(a0, t) in &[(0.1, 6.0), (0.3, 0.9), (-0.2, 1.8)] {
        let s = interaction_free_trajectory(&psi, 1.0, a0, t, lip, 0.9);
        // (horizons chosen so that 1 − |α_T| ≫ u: the closed forms need g(α_T) ≠ 0 in f64)
        assert!(
            s.alpha_end.abs() > 0.35 && s.alpha_end.abs() < 0.99999,
            "{s:?}"
        );
        let g = |a: f64| 2.0 * (1.0 - a * a).sqrt() * psi.derivative(1, a);
        let b = |a: f64| (1.0 - a * a).sqrt();
        let want_e = (g(s.alpha_end) / g(a0)).ln();
        let want_p = (b(s.alpha_end) / b(a0)).ln();
        assert!(
            (s.integral_lambda_e - want_e).abs() < 1e-6 * (1.0 + want_e.abs()),
            "{s:?}"
        );
        assert!(
            (s.integral_lambda_perp - want_p).abs() < 1e-6 * (1.0 + want_p.abs()),
            "{s:?}"
        );
        let gg = hessian::linearised_gap(&psi, 1.0, a0, t);
        assert_eq!(gg.ln_growth_e, s.integral_lambda_e);
    }
    let psi2 = PowerSeries::new(vec![0.0, 0.0, 1.0]);
    let lip2 = hessian::interaction_free_lipschitz(&psi2, 1.0);
    let s = interaction_free_trajectory(&psi2, 1.0, 0.2, 0.7, lip2, 0.9);
    let want = (1.0 / (1.0 + (1.0 / 0.04 - 1.0) * (-8.0f64 * 0.7).exp())).sqrt();
    assert!(
        (s.alpha_end - want).abs() < 1e-9,
        "{} vs {want}",
        s.alpha_end
    );
}

/// R1 at initialisation (median particle) grows like √d and R2 stays ≈ k − 1 = 3 for h_4.
#[test]
fn r1_at_init_scales_like_sqrt_d() {
    let psi = PowerSeries::new(model("he4", "he4", 5).psi.to_f64());
    let ds = [32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0];
    let r1: Vec<f64> = ds
        .iter()
        .map(|&d| interaction_free(&psi, 1.0, hessian::abs_overlap_quantile(d as usize, 0.5)).r1())
        .collect();
    let fit = hessian::fit_power_law(&ds, &r1).unwrap();
    assert!((fit.exponent - 0.5).abs() < 0.02, "{fit:?}");
    for &d in &ds {
        let r2 = interaction_free(&psi, 1.0, hessian::abs_overlap_quantile(d as usize, 0.5)).r2();
        assert!(r2 > 2.9 && r2 < 3.0, "{r2}");
    }
}

#[test]
fn fit_power_law_recovers_exponent() {
    let x = [2.0, 4.0, 8.0, 16.0];
    let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powf(0.75)).collect();
    let f = hessian::fit_power_law(&x, &y).unwrap();
    assert!((f.exponent - 0.75).abs() < 1e-12 && f.exponent_error.unwrap() < 1e-10);
    let y2 = [3.0, 5.5, 8.0, 15.0];
    let f = hessian::fit_power_law(&x, &y2).unwrap();
    assert!(f.exponent_error.unwrap() > 0.01);
    assert!(hessian::fit_power_law(&x[..2], &y2[..2])
        .unwrap()
        .exponent_error
        .is_none());
}

/// The independent A, B, A', B' of `ReducedLaw` agree with the f64 flow's accessors, and A', B'
/// with central differences of A, B (h = 1e-5, truncation ~h²).
#[test]
fn law_matches_flow() {
    let m = model("he4+0.3*he3", "he4", 16);
    let layout = Layout {
        panels: 20,
        order: 8,
        grading: 3.0,
    };
    let mut flow = Flow::new(&m, layout, Tolerance::new(1e-10)).unwrap();
    flow.advance_to(3.0).unwrap();
    let law = ReducedLaw::new(&m.kappa.to_f64(), 16, flow.alpha(), &flow.nodes().weights);
    for &a in &[-0.6, -0.1, 0.05, 0.4, 0.9] {
        let (x, y) = law.interaction(a);
        let (fx, fy) = flow.interaction(a);
        assert!(
            (x - fx).abs() < 1e-13 && (y - fy).abs() < 1e-13,
            "{a}: {x} {y} vs {fx} {fy}"
        );
        let (dx, dy) = law.interaction_derivatives(a);
        let (fdx, fdy) = flow.interaction_derivatives(a);
        assert!((dx - fdx).abs() < 1e-12 && (dy - fdy).abs() < 1e-12);
        let h = 1e-5;
        let (xp, yp) = law.interaction(a + h);
        let (xm, ym) = law.interaction(a - h);
        assert!((dx - (xp - xm) / (2.0 * h)).abs() < 1e-8);
        assert!((dy - (yp - ym) / (2.0 * h)).abs() < 1e-8);
        // with the law's A, B the g of the closed form is the flow's velocity coefficient
        let hs = law.hessian(&PowerSeries::new(m.psi.to_f64()), 1.0, a);
        let g = flow.velocity_coefficient(a);
        assert!((hs.speed - g.abs()).abs() < 1e-12, "{} vs {g}", hs.speed);
        // λ_e = β g'(α): against a central difference of the flow's g at fixed law
        let gp = (flow.velocity_coefficient(a + h) - flow.velocity_coefficient(a - h)) / (2.0 * h);
        let want = (1.0 - a * a).sqrt() * gp;
        assert!(
            (hs.lambda_e - want).abs() < 1e-7,
            "{} vs {want}",
            hs.lambda_e
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The MPFR local Hessian with interaction (oracle::Field::velocity_and_derivative,
// symmetric::with_interaction_rug), proofs-notes/local-hessian.md §1 and §5.

/// sup_{|s|≤1} |κ^{(r)}| ≤ Σ_k k^{(r)}|c_k| from MPFR coefficients.
fn sup_deriv_rug(c: &[Float], r: usize) -> f64 {
    c.iter()
        .enumerate()
        .map(|(k, x)| {
            (0..r)
                .map(|i| k as f64 - i as f64)
                .product::<f64>()
                .max(0.0)
                * x.to_f64().abs()
        })
        .sum()
}

/// A random law of `n` weighted particles (α_j, β_j = √(1 − α_j²), w_j > 0, Σw = 1) at `prec`.
fn random_law(rng: &mut ChaCha8Rng, n: usize, prec: u32) -> (Vec<Float>, Vec<Float>, Vec<Float>) {
    let al: Vec<Float> = (0..n)
        .map(|_| Float::with_val(prec, rng.gen_range(-0.99..0.99f64)))
        .collect();
    let be: Vec<Float> = al
        .iter()
        .map(|a| Float::with_val(prec, 1 - Float::with_val(prec, a.square_ref())).sqrt())
        .collect();
    let raw: Vec<f64> = (0..n).map(|_| rng.gen_range(0.1..1.0f64)).collect();
    let tot: f64 = raw.iter().sum();
    let w = raw.iter().map(|x| Float::with_val(prec, x / tot)).collect();
    (al, be, w)
}

/// g' of `Field::velocity_and_derivative` (the γ-polynomial differentiated term by term) equals
/// the ε-part of dual numbers pushed through the term-by-term A, B formula plus ψ'
/// (`dual::reduced_velocity_dual`, its own z-moments, binomials and moment sums), and g equals
/// the value part and `Field::velocity`, on random non-uniform laws.
///
/// Bound: both sides evaluate the same terms (regrouped differently) with round-to-nearest at
/// p bits. A term is a product of ≤ K + 6 factors (coefficient, binomial, z-moment, P, powers of
/// α and β), the ε-part of a product of n duals is a sum of n products, and P_{p,l} is a sum over
/// n_law nodes of products of ≤ K + 1 factors; the sums over terms have ≤ K² + 2K summands. So
/// each side is within (K² + 4K + n_law + 20)·2^{−p} of the sum of the absolute values of the
/// terms, which `reduced_velocity_majorant` computes (inputs and moments in absolute value):
/// |difference| ≤ 2(K² + 4K + n_law + 20)·2^{−p}·majorant.
#[test]
fn oracle_g_prime_matches_dual() {
    use mforacle::hessian::dual::{
        reduced_velocity_dual, reduced_velocity_majorant, Dual, SeriesLaw,
    };
    use mforacle::meanfield::oracle::Field;
    let prec = 200;
    let u = Float::with_val(prec, Float::i_exp(1, -(prec as i32)));
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for (s, t, d) in [
        ("he4", "he4", 16usize),
        ("he4+0.3*he3", "he4-0.2*he2", 7),
        ("tanh", "erf", 12),
    ] {
        let m = model(s, t, d);
        let field = Field::new(&m, prec);
        let n = 37;
        let (al, be, w) = random_law(&mut rng, n, prec);
        let mo = field.moments(&al, &be, &w);
        let moment = |p: usize, l: usize, abs: bool| -> Float {
            let mut s = Float::new(prec);
            for ((a, b), wj) in al.iter().zip(&be).zip(&w) {
                let mut x = Float::with_val(prec, wj);
                for _ in 0..p {
                    x *= a;
                }
                for _ in 0..l {
                    x *= b;
                }
                s += if abs { x.abs() } else { x };
            }
            s
        };
        let kappa: Vec<Float> = m
            .kappa
            .coefficients
            .iter()
            .map(|c| Float::with_val(prec, c))
            .collect();
        let psi: Vec<Float> = m
            .psi
            .coefficients
            .iter()
            .map(|c| Float::with_val(prec, c))
            .collect();
        let scale = Float::with_val(prec, m.scale());
        let k = kappa.len().max(psi.len()) as u32;
        let nops = 2 * (k * k + 4 * k + n as u32 + 20);
        for &a in &[-0.8, -0.2, 0.03, 0.5, 0.9] {
            let alpha = Float::with_val(prec, a);
            let beta = Float::with_val(prec, 1 - Float::with_val(prec, alpha.square_ref())).sqrt();
            let (g, gp) = field.velocity_and_derivative(&mo, &alpha, &beta);
            let seed = -Float::with_val(prec, &alpha / &beta);
            let xa = Dual::new(alpha.clone(), Float::with_val(prec, 1));
            let xb = Dual::new(beta.clone(), seed);
            let law = SeriesLaw {
                kappa: &kappa,
                psi: &psi,
                scale: &scale,
                d,
            };
            let dual = reduced_velocity_dual(&law, &|p, l| moment(p, l, false), &xa, &xb);
            let maj = reduced_velocity_majorant(&law, &|p, l| moment(p, l, true), &xa, &xb);
            let tol_g = Float::with_val(prec, &maj.v * &u) * nops;
            let tol_gp = Float::with_val(prec, &maj.d * &u) * nops;
            let dg = Float::with_val(prec, &g - &dual.v).abs();
            let dgp = Float::with_val(prec, &gp - &dual.d).abs();
            assert!(
                dg <= tol_g,
                "{s}/{t} alpha {a}: g {g} vs dual {} (diff {dg}, tol {tol_g})",
                dual.v
            );
            assert!(
                dgp <= tol_gp,
                "{s}/{t} alpha {a}: g' {gp} vs dual {} (diff {dgp}, tol {tol_gp})",
                dual.d
            );
            let gv = field.velocity(&mo, &alpha, &beta);
            assert!(
                Float::with_val(prec, &gv - &g).abs() <= tol_g,
                "{s}/{t}: velocity vs g"
            );
            // Not vacuous: the law is far from uniform, so the interaction moves g' by far more
            // than the tolerance (g' without interaction: 2·scale·(βψ'' − αψ'/β)).
            let free = hessian::symmetric::symmetric_hessian_rug(&psi, &scale, &alpha, prec);
            let gp_free = Float::with_val(prec, &free[0] / &beta);
            assert!(
                Float::with_val(prec, &gp - &gp_free).abs()
                    > Float::with_val(prec, &tol_gp << 100u32)
            );
        }
    }
}

/// Tracers (zero-weight nodes of `oracle::run_with`) leave the run bit-identical, and a tracer
/// started at a node's exact α_0 follows that node bit for bit (main pass), in the half-node mode
/// (he4) and the full mode (ψ with an odd term).
#[test]
fn oracle_tracers_do_not_change_the_run() {
    use mforacle::meanfield::oracle::{self, Layout as OLayout, OracleOptions, PassKind};
    for (s, t, sym) in [("he4", "he4", true), ("he4+0.3*he3", "he4+he3", false)] {
        let m = model(s, t, 10);
        let opts = OracleOptions {
            layout: OLayout {
                panels: 3,
                order: 8,
                grading: 3,
            },
            digits: 20,
            t_end: 1.0,
            dt_out: 0.5,
            check_nodes: true,
            check_steps: true,
            check_precision: false,
            ..OracleOptions::default()
        };
        let plain = oracle::run(&m, &opts).unwrap();
        assert_eq!(plain.symmetric, sym);
        let j = plain.alpha0.len() - 5; // a node with α_0 > 0 (kept in the half-node mode)
        let tracers = [
            plain.alpha0[j].clone(),
            Float::with_val(plain.precision, 0.123),
        ];
        let mut seen = Vec::new();
        let traced = oracle::run_with(&m, &opts, &tracers, &mut |o| {
            seen.push((o.kind, o.index));
            if o.kind == PassKind::Main {
                // node j of the full layout is node j − M/2 of the half state
                let i = if sym { j - plain.alpha0.len() / 2 } else { j };
                assert_eq!(o.tracers.len(), 4);
                assert_eq!(o.tracers[0], o.nodes[2 * i], "alpha at t = {}", o.t);
                assert_eq!(o.tracers[1], o.nodes[2 * i + 1], "beta at t = {}", o.t);
                assert_eq!(o.weights.len() * 2, o.nodes.len());
            }
        })
        .unwrap();
        assert_eq!(plain.steps, traced.steps);
        assert_eq!(plain.alpha_end, traced.alpha_end);
        assert_eq!(plain.beta_end, traced.beta_end);
        for (a, b) in plain.rows.iter().zip(&traced.rows) {
            assert_eq!(a.loss, b.loss);
            assert_eq!(a.dissipation, b.dissipation);
            assert_eq!(a.alpha_mean_abs, b.alpha_mean_abs);
            assert_eq!(a.err_nodes, b.err_nodes);
            assert_eq!(a.err_time, b.err_time);
        }
        let want: Vec<(PassKind, usize)> = [
            PassKind::Main,
            PassKind::HalvedSteps,
            PassKind::RefinedNodes,
        ]
        .iter()
        .flat_map(|&k| (0..3).map(move |i| (k, i)))
        .collect();
        assert_eq!(seen, want);
    }
}

/// [λ_e, λ_⊥, ‖v‖] of the MPFR closed form with interaction at (α, √(1 − α²)) under the law of
/// an oracle observation, as f64.
fn oracle_hessian_at(o: &mforacle::meanfield::oracle::Observation, a: f64) -> [f64; 3] {
    let prec = o.field.prec();
    let al = Float::with_val(prec, a);
    let be = Float::with_val(prec, 1 - Float::with_val(prec, al.square_ref())).sqrt();
    let (g, gp) = o.field.velocity_and_derivative(o.moments, &al, &be);
    let h = hessian::symmetric::with_interaction_rug(&al, &be, &g, &gp, prec);
    [h[0].to_f64(), h[1].to_f64(), h[2].to_f64()]
}

/// The MPFR eigenvalues at the oracle's states (law of the oracle's nodes at t) equal the f64
/// `symmetric::with_interaction` with A, B, A', B' from `ReducedLaw` of the f64 flow's nodes at
/// the same t, at fixed α, for he4 (half-node mode) and a pair with odd ψ (full mode), d = 16,
/// t ≤ 2.
///
/// Tolerance (proofs-notes/local-hessian.md §5). Both are evaluations of the same functional
/// Q(α; ρ) at two discrete laws approximating the exact ρ_t:
/// - node rule: each law's quadrature error, estimated by the same computation with twice the
///   panels (oracle: its `RefinedNodes` pass; f64: a second flow), counted twice (a convergent
///   rule whose error at least halves on doubling has |Q_n − Q_∞| ≤ 2|Q_n − Q_2n|);
/// - the f64 flow's state error: with ρ = Σ w_j δ_{φ_j} (φ the colatitude) and
///   s = cos φ cos φ' + sin φ sin φ' z, every mixed derivative of s in (φ, φ') is ≤ 1 in absolute
///   value (Cauchy–Schwarz, |z| ≤ 1). The interaction part of g is 2·scale·∂_φ∫κ(s)dρ(φ') (since
///   Aβ − Bα = E[κ'(s)(α'β − β'zα)] = −E[κ'(s)∂_φ s]), so moving node j by δφ_j changes g by
///   ≤ 2·scale·(K₂ + K₁)w_j|δφ_j| and dg/dφ by ≤ 2·scale·(K₃ + 3K₂ + K₁)w_j|δφ_j|, K_r = sup|κ^{(r)}|
///   ≤ Σk^{(r)}|κ_k|. With g' = −(dg/dφ)/β: |δλ_e| = β|δg'| ≤ 2·scale·(K₃ + 3K₂ + K₁)·E,
///   |δλ_⊥| ≤ (|α|/β)·2·scale·(K₂ + K₁)·E, |δ‖v‖| ≤ 2·scale·(K₂ + K₁)·E, E = Σ_j w_j|δφ_j|, measured
///   as twice Σ_j w_j|φ_j(tol) − φ_j(tol/100)| (the documented tolerance check of the f64 flow);
/// - f64 rounding of `ReducedLaw` (node sums of ≤ M terms, ≤ 2K² monomials of ≤ 2K + 4 rounded
///   factors): ≤ (M + 4K² + 64)·u·2·scale·[Σk|ψ_k| + Σk²|ψ_k| + 2^{K/2}(K₁ + K₂)(2 + 1/β)²].
///
/// The test also requires the interaction to change every eigenvalue by ≫ the tolerance at
/// t ≥ 1 (against the interaction-free closed form) and the tolerance to be ≤ 1e-6·(1 + |value|),
/// so it can fail. Measured: the difference is 2e-11 … 1e-7, dominated at t = 2 by both node rules
/// (16 panels of 16 nodes each: ~1e-7 on λ_e).
#[test]
fn oracle_hessian_matches_f64_flow() {
    use mforacle::meanfield::oracle::{self, Layout as OLayout, OracleOptions, PassKind};
    let d = 16;
    let (t_end, dt_out, nout) = (2.0, 0.5, 4usize);
    let points = [-0.7, -0.15, 0.08, 0.35, 0.8];
    for (s, t) in [("he4", "he4"), ("he4+0.3*he3", "he4+he3")] {
        let m = model(s, t, d);
        let opts = OracleOptions {
            layout: OLayout {
                panels: 16,
                order: 16,
                grading: 3,
            },
            digits: 20,
            t_end,
            dt_out,
            check_nodes: true,
            check_steps: false,
            check_precision: false,
            ..OracleOptions::default()
        };
        let mut main: Vec<Vec<[f64; 3]>> = Vec::new();
        let mut refined: Vec<Vec<[f64; 3]>> = Vec::new();
        oracle::run_with(&m, &opts, &[], &mut |o| {
            let v: Vec<[f64; 3]> = points.iter().map(|&a| oracle_hessian_at(o, a)).collect();
            match o.kind {
                PassKind::Main => main.push(v),
                PassKind::RefinedNodes => refined.push(v),
                _ => {}
            }
        })
        .unwrap();
        assert_eq!((main.len(), refined.len()), (nout + 1, nout + 1));
        let psi = PowerSeries::new(m.psi.to_f64());
        let kappa = m.kappa.to_f64();
        // (values per time and point, latitudes per time, weights)
        let run_f = |panels: usize, tol: f64| {
            let layout = Layout {
                panels,
                order: 16,
                grading: 3.0,
            };
            let mut flow = Flow::new(&m, layout, Tolerance::new(tol)).unwrap();
            let mut vals = Vec::new();
            let mut lats = Vec::new();
            for i in 0..=nout {
                flow.advance_to(i as f64 * dt_out).unwrap();
                let law = ReducedLaw::new(&kappa, d, flow.alpha(), &flow.nodes().weights);
                let v: Vec<[f64; 3]> = points
                    .iter()
                    .map(|&a| {
                        let h = law.hessian(&psi, 1.0, a);
                        [h.lambda_e, h.lambda_perp, h.speed]
                    })
                    .collect();
                vals.push(v);
                lats.push(flow.alpha().iter().map(|a| a.asin()).collect::<Vec<f64>>());
            }
            (vals, lats, flow.nodes().weights.clone())
        };
        let (f_n, lat_n, w) = run_f(16, 1e-10);
        let (f_2n, _, _) = run_f(32, 1e-10);
        let (_, lat_t, _) = run_f(16, 1e-12);
        let k1 = sup_deriv_rug(&m.kappa.coefficients, 1);
        let k2 = sup_deriv_rug(&m.kappa.coefficients, 2);
        let k3 = sup_deriv_rug(&m.kappa.coefficients, 3);
        let p1 = sup_deriv(&m.psi.to_f64(), 1);
        let p2 = sup_deriv(&m.psi.to_f64(), 2);
        // K: the highest degree with a nonzero coefficient of κ.
        let kdeg = kappa.iter().rposition(|c| *c != 0.0).unwrap_or(0).max(1) as f64;
        let nodes = w.len() as f64;
        for i in 0..=nout {
            let e_state: f64 = 2.0
                * w.iter()
                    .zip(lat_n[i].iter().zip(&lat_t[i]))
                    .map(|(wj, (x, y))| wj * (x - y).abs())
                    .sum::<f64>();
            for (pi, &a) in points.iter().enumerate() {
                let beta = (1.0 - a * a).sqrt();
                let mag = 2.0
                    * (p1 + p2 + 2f64.powf(kdeg / 2.0) * (k1 + k2) * (2.0 + 1.0 / beta).powi(2));
                let round = (nodes + 4.0 * kdeg * kdeg + 64.0) * U * mag;
                let c = [
                    2.0 * (k3 + 3.0 * k2 + k1),
                    a.abs() / beta * 2.0 * (k2 + k1),
                    2.0 * (k2 + k1),
                ];
                let free = interaction_free(&psi, 1.0, a);
                let free = [free.lambda_e, free.lambda_perp, free.speed];
                for q in 0..3 {
                    let (x, y) = (main[i][pi][q], f_n[i][pi][q]);
                    let nodes_err =
                        2.0 * ((x - refined[i][pi][q]).abs() + (y - f_2n[i][pi][q]).abs());
                    let tol = nodes_err + c[q] * e_state + round;
                    assert!(
                        (x - y).abs() <= tol,
                        "{s}/{t} t = {} alpha {a} q {q}: oracle {x} f64 {y} diff {:e} tol {tol:e} \
                         (nodes {nodes_err:e}, state {:e}, rounding {round:e})",
                        i as f64 * dt_out,
                        (x - y).abs(),
                        c[q] * e_state
                    );
                    assert!(
                        tol < 1e-6 * (1.0 + x.abs()),
                        "{s}/{t}: tolerance {tol:e} too loose to test anything"
                    );
                    if i >= 2 {
                        assert!(
                            (x - free[q]).abs() > 100.0 * tol,
                            "{s}/{t}: no interaction seen"
                        );
                    }
                }
            }
        }
    }
}

/// Precision doubling: the tracers' λ_e, λ_⊥, ‖v‖, R1, R2 along the oracle flow at p bits and at
/// ≥ 2p bits on the same fixed steps agree to 2^{−p+40} relative to the eigenvalue scale
/// |λ_e| + |λ_⊥| + ‖v‖ (R1, R2: to their own size). A priori the rounding error of the state is
/// ≤ N·C·e^{Lt}·2^{−p}: N = 16 GBS steps, C ≤ 2^{20} (145 field evaluations per step, each of
/// ≤ 2^6 operations per node, times ≤ 2^6 for the extrapolation tableau's amplification),
/// e^{Lt} ≤ 2^{16} for t ≤ 1 and L = sup‖H‖ ≤ 2(Σk²|ψ_k| + 2Σk²|κ_k|) < 11; the closed form adds
/// (K² + 4K + 20)·2^{−p} of the terms' magnitude. Any f64 step in the chain (≥ 2^{−53}) fails.
#[test]
fn oracle_hessian_precision_doubling() {
    use mforacle::meanfield::oracle::{
        self, working_precision, Layout as OLayout, OracleOptions, PassKind, Steps,
    };
    let m = model("he4+0.3*he3", "he4+he3", 10);
    let run_at = |digits: u32| {
        let prec = working_precision(digits);
        let opts = OracleOptions {
            layout: OLayout {
                panels: 3,
                order: 8,
                grading: 3,
            },
            digits,
            t_end: 1.0,
            dt_out: 0.5,
            steps: Steps::Fixed(8),
            check_nodes: false,
            check_steps: false,
            check_precision: false,
            ..OracleOptions::default()
        };
        let tracers = [Float::with_val(prec, 0.3), Float::with_val(prec, -0.05)];
        let mut out: Vec<[Float; 5]> = Vec::new();
        oracle::run_with(&m, &opts, &tracers, &mut |o| {
            assert_eq!(o.kind, PassKind::Main);
            for tr in o.tracers.chunks(2) {
                let (g, gp) = o.field.velocity_and_derivative(o.moments, &tr[0], &tr[1]);
                let h = hessian::symmetric::with_interaction_rug(&tr[0], &tr[1], &g, &gp, prec);
                let [r1, r2] = hessian::symmetric::ratios_rug(&tr[0], &h, prec);
                let [a, b, c] = h;
                out.push([a, b, c, r1, r2]);
            }
        })
        .unwrap();
        (prec, out)
    };
    let (p, lo) = run_at(20);
    let (p2, hi) = run_at(50);
    assert!(p2 >= 2 * p, "{p2} < 2·{p}");
    let rel = Float::with_val(p2, Float::i_exp(1, 40 - p as i32));
    for (x, y) in lo.iter().zip(&hi) {
        let eig = Float::with_val(p2, x[0].abs_ref()) + Float::with_val(p2, x[1].abs_ref()) + &x[2];
        for q in 0..5 {
            let scale = if q < 3 {
                eig.clone()
            } else {
                Float::with_val(p2, y[q].abs_ref())
            };
            let diff = Float::with_val(p2, &x[q] - &y[q]).abs();
            assert!(
                diff <= Float::with_val(p2, &scale * &rel),
                "q {q}: {} vs {} diff {diff}",
                x[q],
                y[q]
            );
        }
    }
}

/// Item "flow at the poles" (proofs-notes/meanfield-reduction.md §9): test particles planted at
/// β_0 = 2^−33 (1 − |α_0| = 2^−67 ≈ 6.8e-21, far below the f64 spacing of α at 1) on both sides,
/// he4, d = 16, followed by the f64 flow (which carries (α, β)) and, as zero-weight tracers, by
/// the MPFR oracle (which carries (α, β) at 132 bits), t = 0 … 2. ‖v‖ = |g|, R1, R2 (and β) of
/// the f64 flow agree with the oracle's to the f64 contract of `meanfield::flow` (module doc):
/// the error of a reported quantity is its integration part (measured by the tolerance check,
/// 1e-10 against 1e-12) plus its node-rule part (measured by the node check, 16 against 32
/// panels); each estimate is within 2× of the error it estimates for a convergent rule whose
/// error at least halves, so the relative tolerance is 2·(f64 integration + f64 nodes + oracle
/// nodes (its `RefinedNodes` pass)) + rounding, the rounding part ≤ (M + 4K² + 64)·u relative
/// (the node sums of M terms and ≤ 4K² monomial products of the G polynomial, no cancellation at
/// the pole: G there is dominated by ψ'(±1) − A(±1), checked by the interaction-free value).
/// With the overlap alone (β = √(1 − α²) from f64 α = ±1) the f64 flow would report β = 0,
/// ‖v‖ = 0 and R1 = ∞: the test asserts that α alone cannot resolve these particles.
#[test]
fn flow_keeps_beta_at_the_poles_against_oracle() {
    use mforacle::meanfield::oracle::{self, Layout as OLayout, OracleOptions, PassKind};
    let d = 16;
    let (t_end, dt_out, nout) = (2.0, 0.5, 4usize);
    let m = model("he4", "he4", d);
    let beta0 = 2f64.powi(-33);
    let opts = OracleOptions {
        layout: OLayout {
            panels: 16,
            order: 16,
            grading: 3,
        },
        digits: 30,
        t_end,
        dt_out,
        check_nodes: true,
        check_steps: false,
        check_precision: false,
        ..OracleOptions::default()
    };
    let prec = oracle::working_precision(opts.digits);
    let a0 = Float::with_val(prec, 1 - Float::with_val(prec, beta0 * beta0)).sqrt();
    let tracers = [a0.clone(), -a0.clone()];
    // [pass][time][particle] = [β, ‖v‖, R1, R2]
    let mut vals: Vec<Vec<Vec<[f64; 4]>>> = vec![Vec::new(), Vec::new()];
    oracle::run_with(&m, &opts, &tracers, &mut |o| {
        let p = o.field.prec();
        let v: Vec<[f64; 4]> = (0..2)
            .map(|k| {
                let (al, be) = (&o.tracers[2 * k], &o.tracers[2 * k + 1]);
                let (g, gp) = o.field.velocity_and_derivative(o.moments, al, be);
                let h = hessian::symmetric::with_interaction_rug(al, be, &g, &gp, p);
                let [r1, r2] = hessian::symmetric::ratios_rug(al, &h, p);
                [be.to_f64(), h[2].to_f64(), r1.to_f64(), r2.to_f64()]
            })
            .collect();
        match o.kind {
            PassKind::Main => vals[0].push(v),
            PassKind::RefinedNodes => vals[1].push(v),
            _ => {}
        }
    })
    .unwrap();
    let psi = PowerSeries::new(m.psi.to_f64());
    let kappa = m.kappa.to_f64();
    let a0f = a0.to_f64();
    assert_eq!(
        a0f, 1.0,
        "the planted overlap must be beyond f64 resolution"
    );
    let run_f = |panels: usize, tol: f64| -> (Vec<Vec<[f64; 4]>>, Vec<Vec<f64>>) {
        let layout = Layout {
            panels,
            order: 16,
            grading: 3.0,
        };
        let mut flow = Flow::new(&m, layout, Tolerance::new(tol)).unwrap();
        flow.add_test_particles_at(&[a0f, -a0f], &[beta0, beta0])
            .unwrap();
        let mut out = Vec::new();
        let mut alphas = Vec::new();
        for i in 0..=nout {
            flow.advance_to(i as f64 * dt_out).unwrap();
            let law =
                ReducedLaw::from_pairs(&kappa, d, flow.alpha(), flow.beta(), &flow.nodes().weights);
            let (ta, tb) = (flow.test_alpha(), flow.test_beta());
            out.push(
                (0..2)
                    .map(|k| {
                        let h = law.hessian_at(&psi, 1.0, ta[k], tb[k]);
                        [tb[k], h.speed, h.r1(), h.r2()]
                    })
                    .collect(),
            );
            alphas.push(ta.to_vec());
        }
        (out, alphas)
    };
    let (f, fa) = run_f(16, 1e-10);
    let (f2n, _) = run_f(32, 1e-10);
    let (ft, _) = run_f(16, 1e-12);
    let kdeg = kappa.iter().rposition(|c| *c != 0.0).unwrap_or(0).max(1) as f64;
    let round = (2.0 * 16.0 * 16.0 + 4.0 * kdeg * kdeg + 64.0) * U;
    let names = ["beta", "|v|", "R1", "R2"];
    let rel = |x: f64, y: f64| ((x - y) / y).abs();
    let (mut worst, mut max_r, mut max_tol) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..=nout {
        for k in 0..2 {
            // α alone: f64 α = ±1 exactly, so √(1 − α²) = 0 and ‖v‖ = 0.
            assert_eq!(
                fa[i][k].abs(),
                1.0,
                "t = {}: alpha resolved?",
                i as f64 * dt_out
            );
            for q in 0..4 {
                let (x, y) = (f[i][k][q], vals[0][i][k][q]);
                assert!(y.is_finite() && y != 0.0);
                let e_f = rel(x, f2n[i][k][q]) + rel(x, ft[i][k][q]);
                let e_o = rel(y, vals[1][i][k][q]);
                let tol = 2.0 * (e_f + e_o) + round;
                assert!(
                    tol < 1e-5,
                    "{}: tolerance {tol:e} too loose to test",
                    names[q]
                );
                let r = rel(x, y);
                worst = worst.max(r / tol);
                max_r = max_r.max(r);
                max_tol = max_tol.max(tol);
                assert!(
                    r <= tol,
                    "t = {}, particle {k}, {}: f64 {x:e} vs oracle {y:e}: {r:e} > {tol:e}",
                    i as f64 * dt_out,
                    names[q]
                );
            }
        }
    }
    eprintln!(
        "worst |f64 - oracle| / tolerance = {worst:.3}; max relative difference {max_r:.2e}, \
         max tolerance {max_tol:.2e}"
    );
}

/// The interval closed form (`symmetric_hessian_enclosure`, `ratios_enclosure`) at 128 bits
/// contains the round-to-nearest MPFR closed form at 256 bits (whose own error, a few roundings
/// of the largest term, ≤ 64·2^−256·M with M = 2·(Σk²|ψ_k| + 1), is added as a margin), its width
/// is ≤ 2^−100·M (tight: the test can fail), and the 256-bit enclosure intersects the 128-bit one;
/// he4, he4 + 0.3·he3 and a 30-term erf series, random α in (−1, 1).
#[test]
fn symmetric_enclosure_contains_oracle() {
    use hessian::symmetric::{ratios_enclosure, symmetric_hessian_enclosure};
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for (s, t) in [("he4", "he4"), ("he4+0.3*he3", "he4+he3"), ("erf", "erf")] {
        let m = model(s, t, 8);
        let coef = &m.psi.coefficients;
        let mag: f64 = 2.0
            * (1.0
                + coef
                    .iter()
                    .enumerate()
                    .map(|(k, c)| (k * k) as f64 * c.to_f64().abs())
                    .sum::<f64>());
        for _ in 0..40 {
            let a: f64 = rng.gen::<f64>() * 1.98 - 0.99;
            let enc = |p: u32| {
                let psi: Vec<Interval> = coef.iter().map(|c| Interval::point(p, c)).collect();
                let al = Interval::point(p, &Float::with_val(p, a));
                let h = symmetric_hessian_enclosure(&psi, &Interval::int(p, 1), &al);
                let r = ratios_enclosure(&al, &h).unwrap();
                (h, r)
            };
            let (h128, r128) = enc(128);
            let (h256, _) = enc(256);
            let p = 256;
            let oracle = hessian::symmetric::symmetric_hessian_rug(
                coef,
                &Float::with_val(p, 1),
                &Float::with_val(p, a),
                p,
            );
            let [r1, r2] = hessian::symmetric::ratios_rug(&Float::with_val(p, a), &oracle, p);
            let margin = Float::with_val(p, 64.0 * mag) >> 256u32;
            let inside = |x: &Float, iv: &Interval, scale: f64| {
                let m = Float::with_val(p, &margin * scale);
                Float::with_val(p, &iv.lo - &m) <= *x && *x <= Float::with_val(p, &iv.hi + &m)
            };
            for q in 0..3 {
                assert!(
                    inside(&oracle[q], &h128[q], 1.0),
                    "{s}: alpha = {a}, q = {q}"
                );
                let w = Float::with_val(p, &h128[q].hi - &h128[q].lo).to_f64();
                assert!(w <= mag * 2f64.powi(-100), "{s}: width {w:e}");
                assert!(h256[q].lo <= h128[q].hi && h128[q].lo <= h256[q].hi);
            }
            // R1, R2: ratios of enclosed values; the oracle's ratio error scales with R1.
            let rs = 1.0 + r128[0].hi.to_f64().abs();
            assert!(inside(&r1, &r128[0], 4.0 * rs), "{s}: R1 at {a}");
            assert!(inside(&r2, &r128[1], 4.0 * rs), "{s}: R2 at {a}");
        }
    }
}

/// Why the R1, R2 suprema of `concordance_flow` stop at |α| ≤ α_cut (proofs-notes/local-hessian.md
/// §6): not for numerics (the flow carries β, test `flow_keeps_beta_at_the_poles_against_oracle`)
/// but because R1 = ‖H‖/‖v‖ ≥ |λ_⊥|/|g| = |α|/β is unbounded along a converging trajectory. he2,
/// d = 16 (escape by t ≈ 3; then 1 − α ~ t^−2 as the law converges, so β ~ 1/t): with α_cut = 1
/// the sup of R1 is attained at the last sample for T = 9, 18, 36 and grows with the horizon
/// (×1.9 at least per doubling of T), so a sup over all times measures the horizon, not the
/// dynamics; with α_cut = 0.9 it is the same number for every horizon; sup β·R2 (over all times,
/// reported as `beta_r2_sup`) stays bounded (≤ 1 + 1e-9, tending to 1 from below).
#[test]
fn concordance_cut_is_needed_for_a_horizon_free_sup() {
    let m = model("he2", "he2", 16);
    let layout = Layout {
        panels: 20,
        order: 16,
        grading: 3.0,
    };
    let run = |t: f64, cut: f64| {
        hessian::concordance_flow(&m, layout, Tolerance::new(1e-10), t, 8, cut, 0.05).unwrap()
    };
    let horizons = [9.0, 18.0, 36.0];
    let full: Vec<_> = horizons.iter().map(|&t| run(t, 1.0)).collect();
    let cut: Vec<_> = horizons.iter().map(|&t| run(t, 0.9)).collect();
    for (s, t) in full.iter().zip(horizons) {
        assert!(
            (s.r1_sup.0.t - t).abs() < 1e-9,
            "sup R1 at t = {} not at the horizon {t}",
            s.r1_sup.0.t
        );
        assert!(
            s.beta_r2_sup.0.value <= 1.0 + 1e-9,
            "{}",
            s.beta_r2_sup.0.value
        );
    }
    for w in full.windows(2) {
        let growth = w[1].r1_sup.0.value / w[0].r1_sup.0.value;
        assert!(growth > 1.9, "sup R1 grew only {growth}x per doubling of T");
    }
    for c in &cut[1..] {
        assert_eq!(c.r1_sup.0.value, cut[0].r1_sup.0.value);
        assert!(c.r1_sup.0.t < horizons[0]);
    }
}
