//! Tests of the kernel (lazy) limit (`mforacle::langevin::kernel`, `mforacle langevin kernel`).
//! Proofs-note: proofs-notes/langevin-kernel.md. Each check compares independent routes:
//! Funk–Hecke coefficients by the closed form, the Hermite series and quadrature of the
//! closed-form kernel; the relu kernel's closed form against its Gegenbauer series; the trace
//! identity against the Hermite norms; R_K(∞) against a Nyström solve of kernel ridge
//! regression in the overlap variable. Tolerances are the routes' own bounds.

use mforacle::activation::Spec;
use mforacle::langevin::kernel::{self, KernelLimit, Trained};
use mforacle::langevin::{fast, gauss, harmonic_dimension, kernel_relu};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;

mod common;
use std::process::{Command, Output};

const U: f64 = f64::EPSILON / 2.0;

fn spec(s: &str) -> Spec {
    Spec::parse(s).unwrap()
}

fn limit(student: &str, teacher: &str, d: usize, trained: Trained, degree: usize) -> KernelLimit {
    kernel::build(
        &spec(student),
        &spec(teacher),
        d,
        degree,
        LossScale::Full,
        trained,
        2000,
        1e-10,
    )
    .unwrap()
}

/// μ_l = E_t[κ(t) P_l(t)] by n-point Gauss–Legendre in the angle θ (t = cos θ, weight
/// sin^{d−2}θ), for a kernel smooth in θ; returns (μ_l, Σ|terms|/Σ weights).
fn mu_by_angle_quadrature(kappa: impl Fn(f64) -> f64, l: usize, d: usize, n: usize) -> (f64, f64) {
    let (x, w) = gauss::gauss_jacobi(n, 0.0, 0.0);
    let (mut num, mut abs, mut den) = (0.0, 0.0, 0.0);
    for (xi, wi) in x.iter().zip(&w) {
        let th = std::f64::consts::PI * (xi + 1.0) / 2.0;
        let t = th.cos();
        let jac = wi * th.sin().powi(d as i32 - 2);
        let term = jac * kappa(t) * fast::gegenbauer(l, d, t)[l];
        num += term;
        abs += term.abs();
        den += jac;
    }
    (num / den, abs / den)
}

#[test]
fn relu_funk_hecke_three_routes() {
    for d in [3usize, 4, 7, 16] {
        let closed = kernel_relu::funk_hecke(d, 40);
        let m = Model::new(
            &spec("relu"),
            &spec("relu"),
            d,
            398,
            20,
            LossScale::Full,
            0.0,
        )
        .unwrap();
        let series = kernel::funk_hecke_series(&m.kappa, d);
        for l in 0..=40 {
            let nl = harmonic_dimension(l, d);
            let (q1, a1) = mu_by_angle_quadrature(kernel_relu::kappa, l, d, 300);
            let (q2, _) = mu_by_angle_quadrature(kernel_relu::kappa, l, d, 600);
            // quadrature: the change under doubling (exponential convergence: κ is analytic in
            // θ) plus the rounding of the n-term sum
            let q_err = (q1 - q2).abs() + 4.0 * 600.0 * U * a1;
            let mu_closed = closed.nu[l] / nl;
            assert!(
                (mu_closed - q2).abs() <= closed.bound[l] / nl + q_err,
                "d={d} l={l}: closed {mu_closed:e} quadrature {q2:e} (err {q_err:e})"
            );
            // the series route, within its rigorous tail (≈1e-4 at degree 398 for relu)
            assert!(
                (series.nu[l] - closed.nu[l]).abs() <= series.bound[l] + closed.bound[l],
                "d={d} l={l}: series {} closed {}",
                series.nu[l],
                closed.nu[l]
            );
            if l % 2 == 1 && l >= 3 {
                assert_eq!(closed.nu[l], 0.0);
            }
        }
        // Σ ν_l = κ(1) = 1/2 over all l: the partial sum to 2000 is below it by the tail
        let long = kernel_relu::funk_hecke(d, 2000);
        let sum: f64 = long.nu.iter().sum();
        assert!(sum <= 0.5 + 1e-13 && sum > 0.5 - 1e-4, "d={d}: {sum}");
    }
}

/// a_{k,l} = E[t^k P_l(t)] for k = l + 2j, by the ratio a_{k+2,l}/a_{k,l} =
/// (k+2)(k+1)/((k−l+2)(k−l+1)) · (j + ½)/(j + ½ + l + (d−1)/2) from a_{l,l} =
/// l! 2^{−l} Γ(d/2)/Γ(l + d/2) (Rodrigues' formula and l integrations by parts).
fn monomial_projections(l: usize, kmax: usize, d: usize) -> Vec<f64> {
    let df = d as f64;
    let mut out = vec![0.0; kmax + 1];
    if l > kmax {
        return out;
    }
    let mut a = (libm::lgamma(l as f64 + 1.0) - l as f64 * std::f64::consts::LN_2
        + libm::lgamma(df / 2.0)
        - libm::lgamma(l as f64 + df / 2.0))
    .exp();
    let mut k = l;
    let mut j = 0usize;
    while k <= kmax {
        out[k] = a;
        let (kf, lf, jf) = (k as f64, l as f64, j as f64);
        a *= (kf + 2.0) * (kf + 1.0) / ((kf - lf + 2.0) * (kf - lf + 1.0)) * (jf + 0.5)
            / (jf + 0.5 + lf + (df - 1.0) / 2.0);
        k += 2;
        j += 1;
    }
    out
}

#[test]
fn erf_funk_hecke_three_routes() {
    let kappa_erf = |t: f64| 2.0 / std::f64::consts::PI * (2.0 * t / 3.0).asin();
    for d in [3usize, 5, 12] {
        let m = Model::new(&spec("erf"), &spec("erf"), d, 150, 20, LossScale::Full, 0.0).unwrap();
        let series = kernel::funk_hecke_series(&m.kappa, d);
        let a = m.kappa.to_f64();
        for l in 0..=30 {
            let nl = harmonic_dimension(l, d);
            // monomial route: μ_l = Σ_k a_k a_{k,l}, all terms ≥ 0
            let proj = monomial_projections(l, a.len() - 1, d);
            let mono: f64 = a.iter().zip(&proj).map(|(x, p)| x * p).sum();
            let mono_err = 64.0 * (a.len() as f64 + l as f64 + d as f64) * U * mono
                + m.kappa.tail[0] / nl.sqrt();
            let (q1, a1) = mu_by_angle_quadrature(kappa_erf, l, d, 200);
            let (q2, _) = mu_by_angle_quadrature(kappa_erf, l, d, 400);
            let q_err = (q1 - q2).abs() + 4.0 * 400.0 * U * a1;
            let s = series.nu[l] / nl;
            let s_err = series.bound[l] / nl;
            assert!(
                (s - mono).abs() <= s_err + mono_err,
                "d={d} l={l}: series {s:e} monomial {mono:e}"
            );
            assert!(
                (s - q2).abs() <= s_err + q_err,
                "d={d} l={l}: series {s:e} quadrature {q2:e} ({:e} > {:e})",
                (s - q2).abs(),
                s_err + q_err
            );
        }
    }
}

#[test]
fn relu_kernel_closed_form_against_series() {
    for d in [3usize, 5, 8] {
        for trained in [Trained::A, Trained::W, Trained::Aw] {
            let lim = limit("relu", "relu", d, trained, 120);
            let (ca, cw) = trained.weights();
            let mut worst: f64 = 0.0;
            for i in 0..=40 {
                let c = -1.0 + i as f64 / 20.0;
                let s = lim.kernel_series(c);
                let (v, b) = kernel_relu::averaged_tangent_kernel(d, ca, cw, c);
                assert!(
                    (s.value - v).abs() <= s.bound + b,
                    "d={d} {trained:?} c={c}: series {} ± {:e}, closed {v}",
                    s.value,
                    s.bound
                );
                worst = worst.max(s.bound);
            }
            // the bound is informative: the relu tail after l = 2000
            assert!(worst < 1e-2, "d={d} {trained:?}: bound {worst:e}");
        }
    }
}

/// tr T = E_x K_0(x, x) = c_a E σ² + c_w (d − 1) E σ'², from the Hermite norms.
fn trace_from_norms(student: &str, d: usize, trained: Trained) -> f64 {
    let s = spec(student);
    let n0 = mforacle::coeffs::norm_squared(&s, 20).unwrap().0.to_f64();
    let n1 = mforacle::coeffs::norm_squared(&s.derivative().unwrap(), 20)
        .unwrap()
        .0
        .to_f64();
    let (ca, cw) = trained.weights();
    ca * n0 + cw * (d as f64 - 1.0) * n1
}

#[test]
fn trace_identity_sum_of_multiplicity_times_eigenvalue() {
    for student in ["erf", "sin(z)", "z^3-z"] {
        for d in [3usize, 6, 20] {
            for trained in [Trained::A, Trained::W, Trained::Aw] {
                let lim = limit(student, student, d, trained, 150);
                let direct = trace_from_norms(student, d, trained);
                let sum: f64 = (0..=lim.lmax)
                    .map(|l| lim.multiplicity[l] * lim.lambda[l].value)
                    .sum();
                let err: f64 = (0..=lim.lmax)
                    .map(|l| lim.multiplicity[l] * lim.lambda[l].bound)
                    .sum::<f64>()
                    + lim.kernel_tail;
                assert!(
                    (sum - direct).abs() <= err + 1e-14 * direct,
                    "{student} d={d} {trained:?}: Σ N_l λ_l = {sum} vs {direct} (err {err:e})"
                );
                // the kernel series at c = 1 is the same sum
                let k1 = lim.kernel_series(1.0);
                assert!((k1.value - direct).abs() <= k1.bound + 1e-14 * direct);
            }
        }
    }
}

/// R_K(∞) by a Nyström solve of population kernel ridge regression for trained a (T = A*A):
/// f = A*(K + λ)^{−1}ψ_θ with K the operator of κ(⟨w, w'⟩) on zonal functions of s = ⟨w, θ⟩,
/// K̄(s, s') = E_z κ(ss' + rr'z) (z with density ∝ (1 − z²)^{(d−4)/2}), so that
/// R = E σ*² − 2E[gψ] + E[g K̄ g]. Gauss–Jacobi rules in s and z, Gaussian elimination.
fn krr_nystrom(
    kappa: &dyn Fn(f64) -> f64,
    teacher_norm: f64,
    d: usize,
    ridge: f64,
    n: usize,
) -> f64 {
    let a = (d as f64 - 3.0) / 2.0;
    let (s, w) = gauss::gauss_jacobi(n, a, a);
    let bz = (d as f64 - 4.0) / 2.0;
    let (z, wz) = gauss::gauss_jacobi(n, bz, bz);
    let r: Vec<f64> = s.iter().map(|x| (1.0 - x * x).max(0.0).sqrt()).collect();
    let kb: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    (0..n)
                        .map(|m| wz[m] * kappa((s[i] * s[j] + r[i] * r[j] * z[m]).clamp(-1.0, 1.0)))
                        .sum()
                })
                .collect()
        })
        .collect();
    let psi: Vec<f64> = s.iter().map(|&x| kappa(x)).collect();
    // (K̄ W + λ I) g = ψ
    let g = common::solve_ridge(&kb, &w, ridge, &psi);
    let cross: f64 = (0..n).map(|i| w[i] * g[i] * psi[i]).sum();
    let quad: f64 = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| w[i] * w[j] * g[i] * kb[i][j] * g[j])
                .sum::<f64>()
        })
        .sum();
    teacher_norm - 2.0 * cross + quad
}

#[test]
fn risk_curve_endpoints_and_krr_limit() {
    let kappa_erf = |t: f64| 2.0 / std::f64::consts::PI * (2.0 * t / 3.0).asin();
    let cases: [(&str, &dyn Fn(f64) -> f64, usize); 3] = [
        ("erf", &kappa_erf, 5),
        ("erf", &kappa_erf, 12),
        ("relu", &kernel_relu::kappa, 6),
    ];
    for (student, kappa, d) in cases {
        let tn = mforacle::coeffs::norm_squared(&spec(student), 20)
            .unwrap()
            .0
            .to_f64();
        for trained in [Trained::A, Trained::W, Trained::Aw] {
            let lim = limit(student, student, d, trained, 150);
            for ridge in [0.0, 0.1] {
                // R_K(0) = E σ*² (f_0 = 0), by a quadrature of σ*² independent of the spectrum
                let r0 = lim.risk(0.0, ridge);
                assert!((r0.value - tn).abs() <= r0.bound + 1e-14, "{student} R(0)");
                // non-increasing in t
                let mut prev = r0.value;
                for k in 1..=20 {
                    let r = lim.risk(k as f64 * 0.5, ridge).value;
                    assert!(
                        r <= prev + 1e-15,
                        "{student} d={d} {trained:?}: R increases"
                    );
                    prev = r;
                }
            }
        }
        // R_K(∞) = KRR, trained a, against the Nyström solve
        let lim = limit(student, student, d, Trained::A, 150);
        for ridge in [0.02, 0.2] {
            let rk = lim.krr_risk(ridge);
            let n1 = krr_nystrom(kappa, tn, d, ridge, 40);
            let n2 = krr_nystrom(kappa, tn, d, ridge, 80);
            let tol = rk.bound + 2.0 * (n1 - n2).abs() + 1e-13;
            assert!(
                (rk.value - n2).abs() <= tol,
                "{student} d={d} ridge {ridge}: spectral {} Nyström {n2} (doubling {:e})",
                rk.value,
                (n1 - n2).abs()
            );
        }
    }
}

// ---------------------------------------------------------------- CLI

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn cli_bad_input_is_one_line_exit_2() {
    let k = ["langevin", "kernel", "--student", "erf"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        k.iter().cloned().chain(extra.iter().cloned()).collect()
    };
    assert_usage_error(&with(&["--d", "2"]), "--d 2");
    assert_usage_error(&with(&["--d", "-4"]), "--d");
    assert_usage_error(&with(&["--d", "5", "--ridge", "-1"]), "--ridge");
    assert_usage_error(&with(&["--d", "5", "--ridge", "nan"]), "--ridge");
    assert_usage_error(&with(&["--d", "5", "--overlaps", "0.5,1.5"]), "--overlaps");
    assert_usage_error(&with(&["--d", "5", "--dt-out", "0"]), "--dt-out");
    // a kernel whose series cannot be bounded at the requested accuracy
    assert_usage_error(
        &with(&["--d", "5", "--teacher", "erf(2*z)"]),
        "cannot be bounded",
    );
    assert_usage_error(
        &[
            "langevin",
            "kernel",
            "--student",
            "tanh",
            "--d",
            "5",
            "--degree",
            "20",
        ],
        "cannot be bounded",
    );
    // trained w needs σ' ∈ L²: a jump is refused
    assert_usage_error(
        &[
            "langevin",
            "kernel",
            "--student",
            "step",
            "--d",
            "5",
            "--train",
            "w",
        ],
        "step",
    );
    // β of the Gibbs fixed point (the same command family)
    for beta in ["0", "-2", "nan"] {
        assert_usage_error(
            &[
                "langevin",
                "gibbs",
                "--student",
                "erf",
                "--d",
                "5",
                "--beta",
                beta,
            ],
            "--beta",
        );
    }
    assert_usage_error(
        &[
            "langevin",
            "gibbs",
            "--student",
            "erf",
            "--d",
            "2",
            "--beta",
            "1",
        ],
        "--d",
    );
}

#[test]
fn cli_relu_json_fields() {
    let o = run(&[
        "langevin",
        "kernel",
        "--student",
        "relu",
        "--d",
        "6",
        "--train",
        "w",
        "--t-end",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"], "closed-form-relu");
    assert_eq!(v["train"], "w");
    let f = |x: &serde_json::Value| x.as_str().unwrap().parse::<f64>().unwrap();
    // λ_1 = μ_1·(d − 1) with μ_1 = d b_1² = 1/(4d): exactly 5/24 at d = 6
    let l1 = &v["eigenvalues"][1];
    assert_eq!(l1["multiplicity"], "6");
    assert!((f(&l1["lambda"]["value"]) - 5.0 / 24.0).abs() <= f(&l1["lambda"]["bound"]));
    // λ_0 = 0 when only w is trained
    assert_eq!(f(&v["eigenvalues"][0]["lambda"]["value"]), 0.0);
    // risk at t = 0 is E relu² = 1/2
    assert!((f(&v["risk"][0]["value"]) - 0.5).abs() <= f(&v["risk"][0]["bound"]) + 1e-15);
    for k in v["kernel"].as_array().unwrap() {
        let (s, c) = (&k["series"], &k["closed"]);
        assert!((f(&s["value"]) - f(&c["value"])).abs() <= f(&s["bound"]) + f(&c["bound"]));
        assert_eq!(s["bound_kind"], "estimate");
    }
}

// ---------------------------------------------------------------- the α-scaled network

use mforacle::dynamics::lazy::LazyRun;

fn erf_model(d: usize) -> Model {
    Model::new(&spec("erf"), &spec("erf"), d, 120, 20, LossScale::Full, 0.0).unwrap()
}

/// R_{N,α}(T) is even in 1/α (the doubled start is symmetric under a → −a, i.e. α → −α), so
/// R_α − R_∞ = C α^{−2} + O(α^{−4}). With D(α) = R_α − R_{2α}, the local exponent
/// p = log2(D(α)/D(2α)) is 2 + O(α^{−2}), its deviation shrinking 4× per doubling: the last
/// p must be within |p_last − p_prev| (three times the predicted deviation
/// (p_prev − p_last)/3) of 2, and far from 1 (the α^{−1} rate of an unsymmetrised start).
#[test]
fn alpha_exponent_is_two() {
    let m = erf_model(5);
    let alphas = [4.0, 8.0, 16.0, 32.0, 64.0];
    for trained in [Trained::W, Trained::Aw] {
        let r: Vec<f64> = alphas
            .iter()
            .map(|&a| {
                let run = LazyRun::new(&m, 64, a, 0.01, trained);
                run.risk_curve(3, 0, 100, 100).last().unwrap().1
            })
            .collect();
        let dd: Vec<f64> = r.windows(2).map(|w| w[0] - w[1]).collect();
        let p: Vec<f64> = dd.windows(2).map(|w| (w[0] / w[1]).log2()).collect();
        // least-squares slope of log|D| against log α
        let xs: Vec<f64> = alphas[..dd.len()].iter().map(|a| a.ln()).collect();
        let ys: Vec<f64> = dd.iter().map(|x| x.abs().ln()).collect();
        let (mx, my) = (
            xs.iter().sum::<f64>() / xs.len() as f64,
            ys.iter().sum::<f64>() / ys.len() as f64,
        );
        let slope = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>()
            / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
        println!("{trained:?}: R = {r:?}, local exponents {p:?}, fitted slope {slope:.4}");
        let (last, prev) = (p[p.len() - 1], p[p.len() - 2]);
        assert!(
            (last - 2.0).abs() <= (last - prev).abs() + 1e-3,
            "{trained:?}: exponents {p:?}"
        );
        assert!((last - 1.0).abs() > 0.5);
        assert!((slope + 2.0).abs() < 0.1, "{trained:?}: slope {slope}");
    }
    // trained a only: f is linear in a, so the risk does not depend on α at all
    let ra: Vec<f64> = [4.0, 64.0]
        .iter()
        .map(|&a| {
            let run = LazyRun::new(&m, 64, a, 0.01, Trained::A);
            run.risk_curve(3, 0, 100, 100).last().unwrap().1
        })
        .collect();
    assert!((ra[0] - ra[1]).abs() < 1e-13, "{ra:?}");
}

/// The α → ∞ limit (Richardson in α^{−2} from α = 16, 32) of the width-N network, averaged
/// over draws, against the discrete-time kernel curve R^η(k) = Eσ*² − Σ_l E_l(1 − (1 −
/// 2cηλ_l)^{2k}) of the infinite-width limit: within 4 standard errors of the draws (the
/// empirical kernel fluctuates as N^{−1/2}) plus the curve's own bound.
#[test]
fn alpha_network_approaches_the_kernel_curve() {
    let d = 5;
    let m = erf_model(d);
    let lim = limit("erf", "erf", d, Trained::Aw, 120);
    let (eta, steps, n, draws) = (0.01, 100usize, 256usize, 8u64);
    let k = steps as f64;
    let mut kernel_eta = lim.teacher_norm;
    for l in 0..=lim.lmax {
        let q = 1.0 - 2.0 * lim.c * eta * lim.lambda[l].value;
        kernel_eta -= lim.energy[l].value * (1.0 - q.powf(2.0 * k));
    }
    let ests: Vec<f64> = (0..draws)
        .map(|draw| {
            let r = |a: f64| {
                LazyRun::new(&m, n, a, eta, Trained::Aw)
                    .risk_curve(11, draw, steps, steps)
                    .last()
                    .unwrap()
                    .1
            };
            (4.0 * r(32.0) - r(16.0)) / 3.0
        })
        .collect();
    let mean = ests.iter().sum::<f64>() / draws as f64;
    let sd = (ests.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (draws as f64 - 1.0)).sqrt();
    let se = sd / (draws as f64).sqrt();
    let cont = lim.risk(1.0, 0.0);
    println!(
        "N = {n}: mean {mean:.6e} ± {se:.2e} (sd {sd:.2e}); discrete kernel curve {kernel_eta:.6e}, continuous R_K(1) = {:.6e}",
        cont.value
    );
    assert!(
        (mean - kernel_eta).abs() <= 4.0 * se + cont.bound,
        "mean {mean} vs {kernel_eta} (se {se:e})"
    );
}

#[test]
fn cli_train_alpha() {
    let o = run(&[
        "train",
        "--student",
        "erf",
        "--d",
        "5",
        "--widths",
        "16,32",
        "--alpha",
        "8",
        "--eta",
        "0.05",
        "--t-end",
        "0.5",
        "--record-every",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,width,draw,alpha,risk,kernel_risk,kernel_risk_bound,kernel_risk_bound_kind"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            let (nums, kind) = l.rsplit_once(',').unwrap();
            assert_eq!(kind, "estimate", "R_K's bound is a-posteriori");
            nums.split(',').map(|x| x.parse().unwrap()).collect()
        })
        .collect();
    assert_eq!(rows.len(), 2 * 3);
    for r in &rows {
        if r[0] == 0.0 {
            // f_0 = 0 exactly: the risk is E erf² = (2/π) asin(2/3), as is R_K(0)
            let e = 2.0 / std::f64::consts::PI * (2.0f64 / 3.0).asin();
            assert!(
                (r[4] - e).abs() < 1e-14 && (r[5] - e).abs() < 1e-14,
                "{r:?}"
            );
        }
    }
    assert_usage_error(
        &[
            "train",
            "--student",
            "erf",
            "--d",
            "5",
            "--widths",
            "15",
            "--alpha",
            "8",
        ],
        "even",
    );
    assert_usage_error(
        &[
            "train",
            "--student",
            "erf",
            "--d",
            "5",
            "--widths",
            "16",
            "--alpha",
            "0",
        ],
        "--alpha",
    );
    assert_usage_error(
        &[
            "train",
            "--student",
            "erf",
            "--d",
            "5",
            "--widths",
            "16",
            "--alpha",
            "nan",
        ],
        "--alpha",
    );
}

// ---------------------------------------------------------------- golden suite `langevin`

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("langevin-kernel-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes RESULTS/<case>/results.json from the f64 routes (`langevin::fast::gibbs` and the
/// f64 kernel spectrum), optionally with β off by 1 % and d off by one (wrong backends).
fn f64_backend(g: &std::path::Path, name: &str, wrong: bool) -> std::path::PathBuf {
    let r = scratch(name);
    for e in std::fs::read_dir(g).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        let inputs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("inputs.json")).unwrap())
                .unwrap();
        let p = &inputs["parameters"];
        let student = p["student"].as_str().unwrap();
        let mut d = p["d"].as_u64().unwrap() as usize;
        let doc = if case.starts_with("flow") {
            // route A of the flow (finite volumes), independent of the suite's route B
            let mut beta = p["beta"].as_f64().unwrap();
            if wrong {
                beta *= 1.01;
            }
            let m = Model::new(
                &spec(student),
                &spec(student),
                d,
                120,
                20,
                LossScale::Full,
                0.0,
            )
            .unwrap();
            let prob = mforacle::langevin::flow::Problem::new(&m, beta, 1e-12).unwrap();
            let mut times = vec![0.0];
            times.extend(
                p["times"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_f64().unwrap()),
            );
            let a = mforacle::langevin::flow_fv::solve(&prob, &times, 1e-11).unwrap();
            let q = |name: &str| {
                let i = mforacle::langevin::flow::QUANTITIES
                    .iter()
                    .position(|x| *x == name)
                    .unwrap();
                a.values[1..].iter().map(|r| r[i]).collect::<Vec<f64>>()
            };
            serde_json::json!({
                "risk": q("risk"), "free_energy": q("free_energy"), "mean_s": q("mean_s"),
            })
        } else if case.starts_with("gibbs") {
            let mut beta = p["beta"].as_f64().unwrap();
            if wrong {
                beta *= 1.01;
            }
            let m = Model::new(
                &spec(student),
                &spec(student),
                d,
                120,
                20,
                LossScale::Full,
                0.0,
            )
            .unwrap();
            let g = fast::gibbs(&m, beta, 4, 1e-10).unwrap();
            serde_json::json!({
                "free_energy": g.free_energy.value, "loss": g.loss.value, "risk": g.risk.value,
                "kl_to_uniform": g.kl_to_uniform.value, "log_partition": g.log_partition.value,
                "mean_s": g.mean_s.value, "mean_s2": g.mean_s2.value,
                "interaction": g.interaction.value,
                "gegenbauer_moments": g.gegenbauer_moments.iter().map(|q| q.value).collect::<Vec<_>>(),
            })
        } else {
            if wrong {
                d += 1;
            }
            let lim = limit(student, student, d, Trained::Aw, 150);
            serde_json::json!({
                "mu": (0..=8).map(|l| lim.mu[l].value).collect::<Vec<_>>(),
                "lambda_aw": (0..=8).map(|l| lim.lambda[l].value).collect::<Vec<_>>(),
                "multiplicity": (0..=8).map(|l| lim.multiplicity[l]).collect::<Vec<_>>(),
            })
        };
        std::fs::create_dir_all(r.join(&case)).unwrap();
        std::fs::write(r.join(&case).join("results.json"), doc.to_string()).unwrap();
    }
    r
}

#[test]
fn golden_langevin_suite_f64_routes_pass_and_wrong_ones_fail() {
    let g = scratch("golden").join("g");
    let o = run(&[
        "golden",
        "--suite",
        "langevin",
        "--out",
        g.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let check = |r: &std::path::Path| {
        run(&[
            "check",
            "--suite",
            "langevin",
            r.to_str().unwrap(),
            "--golden",
            g.to_str().unwrap(),
        ])
    };
    let good = f64_backend(&g, "good", false);
    let o = check(&good);
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("0 failed"), "{out}");
    let bad = f64_backend(&g, "bad", true);
    let o = check(&bad);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let bad_out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        bad_out
            .lines()
            .any(|l| l.starts_with("flow-") && l.ends_with("FAIL")),
        "the flow values at beta·1.01 were not rejected: {bad_out}"
    );
    // one flow value moved by 3 tolerances (and nothing else) fails, naming that quantity
    let case = "flow-erf-d5-beta2";
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(g.join(case).join("expected.json")).unwrap())
            .unwrap();
    let qd = expected["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "mean_s")
        .unwrap()
        .clone();
    let tol = match qd.get("tolerance_entrywise") {
        Some(t) => t[1].as_f64().unwrap(),
        None => qd["tolerance"]["value"].as_f64().unwrap(),
    };
    let path = good.join(case).join("results.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let v = doc["mean_s"][1].as_f64().unwrap();
    doc["mean_s"][1] = serde_json::json!(v + 3.0 * tol);
    let moved = scratch("moved");
    for e in std::fs::read_dir(&good).unwrap() {
        let dir = e.unwrap().path();
        let name = dir.file_name().unwrap().to_owned();
        std::fs::create_dir_all(moved.join(&name)).unwrap();
        std::fs::copy(
            dir.join("results.json"),
            moved.join(&name).join("results.json"),
        )
        .unwrap();
    }
    std::fs::write(moved.join(case).join("results.json"), doc.to_string()).unwrap();
    let o = check(&moved);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.ends_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with(case) && failed[0].contains("mean_s"),
        "{out}"
    );
    // `check` without --golden recomputes the suite: the same verdict for the good backend
    let o = run(&["check", "--suite", "langevin", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn train_alpha_same_bits_for_one_and_two_threads() {
    let args = [
        "train",
        "--student",
        "erf",
        "--d",
        "6",
        "--widths",
        "64",
        "--alpha",
        "4",
        "--eta",
        "0.05",
        "--t-end",
        "0.5",
        "--draws",
        "2",
    ];
    let out = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_mforacle"))
            .args(args)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(out("1"), out("2"));
}
