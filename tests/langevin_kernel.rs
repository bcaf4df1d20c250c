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
    let mut m: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .map(|j| kb[i][j] * w[j] + if i == j { ridge } else { 0.0 })
                .collect();
            row.push(psi[i]);
            row
        })
        .collect();
    for col in 0..n {
        let p = (col..n)
            .max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))
            .unwrap();
        m.swap(col, p);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            for k in col..=n {
                m[row][k] -= f * m[col][k];
            }
        }
    }
    let mut g = vec![0.0; n];
    for i in (0..n).rev() {
        let mut v = m[i][n];
        for k in i + 1..n {
            v -= m[i][k] * g[k];
        }
        g[i] = v / m[i][i];
    }
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
        assert_eq!(s["kind"], "estimate");
    }
}
