//! `mforacle concordance` end to end (proofs-note: proofs-notes/local-hessian.md §6).

mod common;
use common::bin;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().arg("concordance").args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn json_interaction_free_with_certificate_and_oracle() {
    let (code, out, err) = run(&[
        "--student",
        "he4",
        "--d",
        "16,32,64",
        "--no-interaction",
        "--particles",
        "20",
        "--oracle",
        "--certify",
        "--alpha-max",
        "0.9",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["information_exponent"], 4);
    let per = v["per_d"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    for p in per {
        let d = p["d"].as_f64().unwrap();
        // auto horizon max(ln d, 0.5 d^{k/2-1}) = 0.5 d for k = 4
        assert!((p["t_end"].as_f64().unwrap() - (0.5 * d).max(d.ln())).abs() < 1e-12);
        let r2 = p["r2_at_init"].as_f64().unwrap();
        assert!(r2 > 2.8 && r2 < 3.0);
        assert!(p["oracle"]["f64_relative_difference"].as_f64().unwrap() < 1e-14);
        assert!(p["integral_h_median"].as_f64().unwrap() > 0.0);
        assert!(p["gronwall_factor_log10"].as_f64().unwrap() > 0.0);
    }
    let e = v["fits"]["r1_at_init_exponent"].as_f64().unwrap();
    assert!((e - 0.5).abs() < 0.05, "{e}");
    assert!(v["fits"]["r1_at_init_exponent_error"].as_f64().unwrap() >= 0.0);
    let c = v["certified_r2_bound"].as_f64().unwrap();
    assert!((3.0..3.0 * (1.0 + 1e-6) + 1e-12).contains(&c), "{c}");
    assert!(!out.contains("null") && !out.contains("NaN"));
}

#[test]
fn csv_and_out_file() {
    let dir = std::env::temp_dir().join(format!("mforacle-conc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.csv");
    let (code, out, err) = run(&[
        "--student",
        "he3",
        "--d",
        "20",
        "--t-end",
        "2",
        "--no-interaction",
        "--particles",
        "5",
        "--format",
        "csv",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    let text = std::fs::read_to_string(&f).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("d,t_end,"));
    assert!(lines[1].starts_with("20,2,"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_interaction_small() {
    let (code, out, err) = run(&[
        "--student",
        "he4",
        "--d",
        "16",
        "--t-end",
        "3",
        "--particles",
        "5",
        "--panels",
        "20",
        "--dt",
        "0.05",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["interaction"], true);
    assert!(v["per_d"][0]["r1_at_init"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        &["--student", "he4", "--d", "2"][..],
        &["--student", "he4", "--d", "16", "--t-end", "-1"],
        &["--student", "he4", "--d", "16", "--t-end", "soon"],
        &["--student", "he4(", "--d", "16"],
        &["--student", "step", "--d", "16", "--no-interaction"],
        &[
            "--student",
            "relu",
            "--d",
            "16",
            "--certify",
            "--no-interaction",
            "--t-end",
            "1",
        ],
        &[
            "--student",
            "he4",
            "--d",
            "16",
            "--certify",
            "--alpha-max",
            "1",
        ],
        &[
            "--student",
            "he4+he2",
            "--teacher",
            "he4-0.5*he2",
            "--d",
            "16",
            "--certify",
            "--alpha-min",
            "0.1",
            "--alpha-max",
            "0.9",
            "--no-interaction",
            "--t-end",
            "1",
        ],
        &["--student", "he4", "--d", "16", "--particles", "0"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let (_, _, err) = run(&[
        "--student",
        "relu",
        "--d",
        "16",
        "--certify",
        "--no-interaction",
        "--t-end",
        "1",
    ]);
    assert!(err.contains("kink"), "{err}");
}

/// `--oracle` with interaction: the median particle followed in MPFR along the flow (a zero-weight
/// tracer of the oracle). The new JSON fields parse; each D-digit string matches its f64 twin
/// within the reported relative difference; and the oracle agrees with the f64 flow within the
/// derived tolerance: both approximate the same exact value, each within twice its own error
/// estimate (oracle: the sum of its check reruns' relative changes; f64: the change against a flow
/// with twice the panels and 1/100 of the tolerance; a rule whose error at least halves on
/// refinement is within 2× that change), plus f64 rounding ≤ (M + 4K² + 64)·u·(majorant/|value|)
/// ≤ 1e-12 (M = 640 nodes, K = 4, majorant/|value| ≤ 10 here). At t = 0 the law is uniform, so
/// A = cα, B = cβ and the flow's first row must equal the interaction-free closed form of the
/// `oracle` block (to the t = 0 node estimate and the printing of two 20-digit strings).
#[test]
fn oracle_along_the_flow_with_interaction() {
    let (code, out, err) = run(&[
        "--student",
        "he4",
        "--d",
        "16",
        "--t-end",
        "2",
        "--particles",
        "5",
        "--panels",
        "20",
        "--dt",
        "0.05",
        "--oracle",
        "--digits",
        "20",
        "--oracle-panels",
        "8",
        "--oracle-outputs",
        "4",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("null") && !out.contains("NaN"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = &v["per_d"][0];
    let o = &p["oracle"];
    let f = &o["flow"];
    let num = |x: &serde_json::Value| x.as_f64().unwrap();
    let prec = 256;
    let dec = |x: &serde_json::Value| mforacle::output::parse_decimal(x.as_str().unwrap(), prec);
    assert_eq!(dec(&f["alpha0"]).to_f64(), num(&p["alpha0_median"]));
    assert!(f["precision_bits"].as_u64().unwrap() >= 66 + 32);
    let rows = f["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let names = ["alpha", "r1", "r2", "lambda_e", "lambda_perp", "speed"];
    let (mut dmax, mut emax) = (0.0f64, 0.0f64);
    for (i, r) in rows.iter().enumerate() {
        assert!((num(&r["t"]) - 0.5 * i as f64).abs() < 1e-15);
        let est = num(&r["relative_error_estimate"]);
        let fest = num(&r["f64_relative_error_estimate"]);
        let diff = num(&r["f64_relative_difference"]);
        assert!(
            (num(&r["err_time"]) + num(&r["err_rounding"]) + num(&r["err_nodes"]) - est).abs()
                <= 1e-12 * est
        );
        let mut worst = 0.0f64;
        for q in names {
            let s = r[q].as_str().unwrap();
            // 20 significant digits
            let mant: String = s
                .split('e')
                .next()
                .unwrap()
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect();
            assert_eq!(mant.len(), 20, "{q}: {s}");
            let x = dec(&r[q]);
            let y = num(&r["f64"][q]);
            let rel = (rug::Float::with_val(prec, y - &x) / &x).to_f64().abs();
            worst = worst.max(rel);
            let tol = 2.0 * (est + fest) + 1e-12;
            assert!(
                rel <= tol,
                "t = {} {q}: oracle {s} f64 {y}: {rel:e} > {tol:e}",
                num(&r["t"])
            );
        }
        assert!(
            (worst - diff).abs() <= 1e-12 * diff.max(1e-300) + 1e-15,
            "{worst} {diff}"
        );
        dmax = dmax.max(diff);
        emax = emax.max(num(&r["f64_relative_difference_eigenvalues"]));
        assert!(num(&r["loss_digits"]) > 3.0);
    }
    assert_eq!(num(&f["f64_relative_difference_max"]), dmax);
    assert_eq!(num(&f["f64_relative_difference_eigenvalues_max"]), emax);
    // t = 0: the interacting law is uniform, the interaction-free closed form is exact.
    let est0 = num(&rows[0]["relative_error_estimate"]);
    for (q, init) in [
        ("lambda_e", "lambda_e"),
        ("lambda_perp", "lambda_perp"),
        ("speed", "speed"),
        ("r1", "r1_at_init"),
    ] {
        let (x, y) = (dec(&rows[0][q]), dec(&o[init]));
        let rel = (rug::Float::with_val(prec, &x - &y) / &y).to_f64().abs();
        assert!(rel <= 2.0 * est0 + 2e-19, "{q}: {rel:e}");
    }
}

#[test]
fn oracle_flow_bad_input_exits_2() {
    for args in [
        &[
            "--student",
            "he4",
            "--d",
            "16",
            "--oracle",
            "--oracle-panels",
            "0",
        ][..],
        &[
            "--student",
            "he4",
            "--d",
            "16",
            "--oracle",
            "--oracle-outputs",
            "-3",
        ],
        &[
            "--student",
            "he4",
            "--d",
            "16",
            "--oracle",
            "--oracle-tolerance",
            "0",
        ],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// `concordance --student he4 --d 32,64 --t-end 1 --particles 40 EXTRA` as parsed JSON.
fn he4_d32_64_t1(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "--student",
        "he4",
        "--d",
        "32,64",
        "--t-end",
        "1",
        "--particles",
        "40",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// With interaction, h_4's velocity coefficient g changes sign along the flow at small α (the
/// interaction term, linear in α once the law has moved, overtakes 2ψ'(α)β = 8α³β), so R1, R2
/// are unbounded there: the command must say so and drop the suprema's fits. The sign change it
/// reports is confirmed independently by the MPFR oracle: the reported particle, followed as a
/// zero-weight tracer of `meanfield::oracle::run_with`, has g of one sign at t = 0 and of the
/// other at the reported time, on two node layouts (16 and 32 panels) — so the sign is not a
/// node-quadrature artefact. Without interaction no sign change is possible (a scalar
/// autonomous ODE cannot cross an equilibrium) and every fit is present.
#[test]
fn velocity_sign_change_makes_sups_unbounded_confirmed_by_oracle() {
    use mforacle::activation::Spec;
    use mforacle::meanfield::oracle::{self, Layout, OracleOptions, PassKind};
    use mforacle::meanfield::Model;
    use mforacle::population::LossScale;
    use rug::Float;

    let v = he4_d32_64_t1(&[]);
    for p in v["per_d"].as_array().unwrap() {
        assert!(p["velocity_sign_changes"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["sups_bounded"], false);
    }
    let omitted = v["fits"]["omitted"].as_array().unwrap();
    for name in ["r1_sup_exponent", "r2_sup_exponent", "beta_r2_sup_exponent"] {
        assert!(omitted.iter().any(|o| o == name), "{omitted:?}");
        assert!(v["fits"].get(name).is_none());
    }
    assert!(v["fits"]["r1_at_init_exponent"].is_number());
    let p = &v["per_d"][0];
    let t_star = p["first_sign_change_t"].as_f64().unwrap();
    let alpha0 = p["first_sign_change_alpha0"].as_f64().unwrap();
    assert!(t_star > 0.0 && t_star <= 1.0 && alpha0.abs() < 1.0);

    // The oracle: he4, d = 32, output times 0 and t*, tracer at alpha0.
    let s = Spec::parse("he4").unwrap();
    let model = Model::new(&s, &s, 32, 30, 30, LossScale::Full, 0.0).unwrap();
    let mut signs = Vec::new();
    for panels in [16, 32] {
        let opts = OracleOptions {
            layout: Layout {
                panels,
                ..Layout::default()
            },
            digits: 20,
            t_end: t_star,
            dt_out: t_star,
            check_nodes: false,
            check_steps: false,
            check_precision: false,
            ..OracleOptions::default()
        };
        let tracer = [Float::with_val(128, alpha0)];
        let mut g = Vec::new();
        oracle::run_with(&model, &opts, &tracer, &mut |o| {
            if matches!(o.kind, PassKind::Main) {
                let (a, b) = (&o.tracers[0], &o.tracers[1]);
                g.push(o.field.velocity(o.moments, a, b).to_f64());
            }
        })
        .unwrap();
        assert_eq!(g.len(), 2, "outputs at t = 0 and t*");
        signs.push((g[0].signum(), g[1].signum()));
        // At t = 0 the law is uniform: g = 2·βψ'(α) = 8βα³ exactly.
        let exact0 = 8.0 * (1.0 - alpha0 * alpha0).sqrt() * alpha0.powi(3);
        assert!(
            (g[0] - exact0).abs() <= 1e-12 * exact0.abs(),
            "{} vs {exact0}",
            g[0]
        );
        eprintln!(
            "panels {panels}: t* = {t_star}, alpha0 = {alpha0}, g(0) = {:e}, g(t*) = {:e}",
            g[0], g[1]
        );
        assert!(
            g[0] * g[1] < 0.0,
            "panels {panels}: g(0) = {}, g(t*) = {}",
            g[0],
            g[1]
        );
    }
    assert_eq!(signs[0], signs[1]);

    let v = he4_d32_64_t1(&["--no-interaction"]);
    for p in v["per_d"].as_array().unwrap() {
        assert_eq!(p["velocity_sign_changes"], 0);
        assert_eq!(p["sups_bounded"], true);
    }
    assert!(v["fits"].get("omitted").is_none());
    assert!(v["fits"]["r2_sup_exponent"].is_number());
}
