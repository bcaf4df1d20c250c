//! `mforacle golden` / `mforacle check` end to end (proofs-notes/golden-files.md): the oracle's
//! own values pass; perturbations beyond tolerance fail naming the quantity, within half of it
//! pass; malformed results are exit 2 with one line; golden files are reproducible byte for
//! byte; and an honest f64 backend (the crate's fast path, `mforacle::fast`) passes the
//! `population` and `step` suites while deliberately wrong ones (radial j = i term omitted,
//! ½ loss scale) fail.

mod common;
use common::{run, stderr, stdout};

use mforacle::fast;
use mforacle::golden::npy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mforacle-golden-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The golden directory of a suite, generated once per test binary.
fn golden(suite: &'static str) -> PathBuf {
    static DIRS: OnceLock<std::sync::Mutex<BTreeMap<&'static str, PathBuf>>> = OnceLock::new();
    let m = DIRS.get_or_init(|| std::sync::Mutex::new(BTreeMap::new()));
    let mut m = m.lock().unwrap();
    if let Some(p) = m.get(suite) {
        return p.clone();
    }
    let dir = scratch(&format!("gold-{suite}")).join("g");
    let o = run(&["golden", "--suite", suite, "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "golden {suite}: {}", stderr(&o));
    m.insert(suite, dir.clone());
    dir
}

fn manifest(g: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(g.join("manifest.json")).unwrap()).unwrap()
}

fn cases(g: &Path) -> Vec<String> {
    manifest(g)["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn read_npy(p: &Path) -> npy::Array {
    npy::from_bytes(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn write_npy(p: &Path, shape: &[usize], data: &[f64]) {
    std::fs::write(p, npy::to_bytes(shape, data).unwrap()).unwrap();
}

/// Results = the golden expected values (expected/<q>.npy copied to <case>/<q>.npy).
fn results_from_expected(g: &Path, name: &str) -> PathBuf {
    let r = scratch(name);
    for c in cases(g) {
        std::fs::create_dir_all(r.join(&c)).unwrap();
        for e in std::fs::read_dir(g.join(&c).join("expected")).unwrap() {
            let p = e.unwrap().path();
            let f = p.file_name().unwrap().to_string_lossy().to_string();
            if !f.ends_with(".tol.npy") {
                std::fs::copy(&p, r.join(&c).join(&f)).unwrap();
            }
        }
    }
    r
}

fn check(suite: &str, results: &Path, g: Option<&Path>) -> Output {
    let mut args = vec!["check", "--suite", suite, results.to_str().unwrap()];
    if let Some(g) = g {
        args.push("--golden");
        args.push(g.to_str().unwrap());
    }
    run(&args)
}

fn one_line_exit2(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {e}\nstdout: {}",
        stdout(o)
    );
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(e.contains(needle), "{needle:?} not in {e}");
}

#[test]
fn oracle_values_pass_every_suite() {
    for suite in ["hermite", "kernel", "population", "step"] {
        let g = golden(suite);
        let r = results_from_expected(&g, &format!("self-{suite}"));
        let o = check(suite, &r, Some(&g));
        assert!(o.status.success(), "{suite}: {}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("0 failed"), "{}", stdout(&o));
    }
    // Without --golden the suite is recomputed by the oracle: the same verdict.
    let g = golden("hermite");
    let r = results_from_expected(&g, "self-hermite-recomputed");
    let o = run(&[
        "check",
        "--suite",
        "hermite",
        r.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pass"], true);
    assert_eq!(v["rows"].as_array().unwrap().len(), 5);
}

#[test]
fn perturbation_beyond_tolerance_fails_naming_the_quantity() {
    let g = golden("population");
    let r = results_from_expected(&g, "beyond");
    let case = "he4-he4-n8-d16";
    let p = r.join(case).join("tangent_gradient.npy");
    let mut a = read_npy(&p);
    let tol = common::golden_tolerance(&g, case, "tangent_gradient");
    let i = 2 * 16 + 5;
    a.data[i] += 2.0 * tol[i];
    write_npy(&p, &a.shape, &a.data);
    let o = check("population", &r, Some(&g));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("he4-he4-n8-d16/tangent_gradient"), "{e}");
    assert!(e.contains("[2, 5]"), "worst index named: {e}");
    assert!(!e.contains("velocity"), "{e}");
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with(case) && l.contains("tangent_gradient"))
        .unwrap()
        .to_string();
    assert!(line.ends_with("FAIL"), "{line}");
    // JSON format: the same verdict, per row.
    let o = run(&[
        "check",
        "--suite",
        "population",
        r.to_str().unwrap(),
        "--golden",
        g.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["pass"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["quantity"], "tangent_gradient");
    assert!((failed[0]["max_error_over_tolerance"].as_f64().unwrap() - 2.0).abs() < 1e-3);
}

#[test]
fn perturbation_within_half_tolerance_passes() {
    let g = golden("population");
    let r = results_from_expected(&g, "within");
    for case in cases(&g) {
        for q in ["loss", "tangent_gradient", "radial_gradient", "velocity"] {
            let p = r.join(&case).join(format!("{q}.npy"));
            let mut a = read_npy(&p);
            let tol = common::golden_tolerance(&g, &case, q);
            for (k, (x, t)) in a.data.iter_mut().zip(&tol).enumerate() {
                *x += if k % 2 == 0 { 0.5 * t } else { -0.5 * t };
            }
            write_npy(&p, &a.shape, &a.data);
        }
    }
    let o = check("population", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn malformed_results_are_exit_2_with_one_line() {
    let g = golden("step");
    let case = "he4-he4-n8-d16";
    // missing quantity
    let r = results_from_expected(&g, "missing");
    std::fs::remove_file(r.join(case).join("w_tangent.npy")).unwrap();
    one_line_exit2(&check("step", &r, Some(&g)), "missing quantity `w_tangent`");
    // extra quantity
    let r = results_from_expected(&g, "extra");
    write_npy(&r.join(case).join("w_extra.npy"), &[1], &[0.0]);
    one_line_exit2(&check("step", &r, Some(&g)), "extra quantity `w_extra`");
    // extra case
    let r = results_from_expected(&g, "extra-case");
    std::fs::create_dir_all(r.join("no-such-case")).unwrap();
    one_line_exit2(
        &check("step", &r, Some(&g)),
        "extra case directory `no-such-case`",
    );
    // wrong shape (transposed)
    let r = results_from_expected(&g, "shape");
    let p = r.join(case).join("w_euclidean.npy");
    let a = read_npy(&p);
    write_npy(&p, &[a.shape[1], a.shape[0]], &a.data);
    one_line_exit2(
        &check("step", &r, Some(&g)),
        "has shape [16, 8], expected [8, 16]",
    );
    // NaN in an .npy
    let r = results_from_expected(&g, "nan");
    let p = r.join(case).join("w_geodesic.npy");
    let mut a = read_npy(&p);
    a.data[3] = f64::NAN;
    write_npy(&p, &a.shape, &a.data);
    one_line_exit2(&check("step", &r, Some(&g)), "is NaN");
    // NaN in results.json (Python's json writes the non-JSON token NaN), or null
    for (text, needle) in [
        ("{\"w_geodesic\": [[NaN]]}", "not valid JSON"),
        ("{\"w_geodesic\": null}", "null"),
    ] {
        let r = results_from_expected(&g, "nan-json");
        std::fs::remove_file(r.join(case).join("w_geodesic.npy")).unwrap();
        std::fs::write(r.join(case).join("results.json"), text).unwrap();
        one_line_exit2(&check("step", &r, Some(&g)), needle);
    }
    // float32 instead of float64
    let r = results_from_expected(&g, "f32");
    let p = r.join(case).join("w_tangent.npy");
    std::fs::write(&p, f32_npy(&[8, 16])).unwrap();
    one_line_exit2(&check("step", &r, Some(&g)), "float64");
    // the same quantity twice
    let r = results_from_expected(&g, "twice");
    std::fs::write(r.join(case).join("results.json"), "{\"w_tangent\": 1.0}").unwrap();
    one_line_exit2(&check("step", &r, Some(&g)), "given twice");
    // a missing results directory
    one_line_exit2(
        &check("step", &g.join("no-such-dir"), Some(&g)),
        "does not exist",
    );
}

/// A float32 .npy of zeros (what `np.save` writes for a float32 array).
fn f32_npy(shape: &[usize]) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let dims: Vec<String> = shape.iter().map(|x| x.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend(vec![0u8; 4 * n]);
    b
}

#[test]
fn results_json_is_accepted() {
    let g = golden("step");
    let r = results_from_expected(&g, "json");
    let case = "relu-relu-n5-d6";
    let a = read_npy(&r.join(case).join("w_tangent.npy"));
    std::fs::remove_file(r.join(case).join("w_tangent.npy")).unwrap();
    let rows: Vec<Vec<f64>> = a.data.chunks(a.shape[1]).map(|x| x.to_vec()).collect();
    std::fs::write(
        r.join(case).join("results.json"),
        serde_json::to_string(&serde_json::json!({ "w_tangent": rows })).unwrap(),
    )
    .unwrap();
    let o = check("step", &r, Some(&g));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unknown_suite_lists_the_known_ones() {
    let d = scratch("unknown");
    for args in [
        vec![
            "golden",
            "--suite",
            "nope",
            "--out",
            d.join("x").to_str().unwrap(),
        ],
        vec!["check", "--suite", "nope", d.to_str().unwrap()],
    ] {
        let o = run(&args);
        one_line_exit2(&o, "unknown suite `nope`");
        assert!(
            stderr(&o).contains("hermite, kernel, population, step"),
            "{}",
            stderr(&o)
        );
    }
    // --out on a directory that is not a golden directory is refused
    std::fs::write(d.join("precious.txt"), "keep me").unwrap();
    let o = run(&["golden", "--suite", "step", "--out", d.to_str().unwrap()]);
    one_line_exit2(&o, "not a golden directory");
    assert!(d.join("precious.txt").exists());
}

#[test]
fn golden_twice_is_byte_identical() {
    for suite in ["hermite", "step"] {
        let d = scratch(&format!("twice-{suite}"));
        let (a, b) = (d.join("a"), d.join("b"));
        for x in [&a, &b] {
            let o = run(&["golden", "--suite", suite, "--out", x.to_str().unwrap()]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        // writing over an existing golden directory works and gives the same bytes
        let o = run(&["golden", "--suite", suite, "--out", b.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let (fa, fb) = (common::all_files(&a), common::all_files(&b));
        assert!(fa.len() > 5);
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (k, v) in &fa {
            assert!(v == &fb[k], "{suite}: {} differs", k.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// An honest f64 backend: the crate's fast path fed with the case's inputs.

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Honest,
    /// Leaves out the j = i term of the radial gradient.
    NoSelfRadial,
    /// Uses ½E[(f − y)²].
    HalfScale,
}

struct Inputs {
    w: Vec<f64>,
    n: usize,
    d: usize,
    a: Vec<f64>,
    theta: Vec<f64>,
    constant: f64,
    kernels: [fast::Kernel; 4],
    eta: Option<f64>,
}

fn load_inputs(case_dir: &Path) -> Inputs {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case_dir.join("inputs.json")).unwrap())
            .unwrap();
    let arr = |name: &str| read_npy(&case_dir.join(format!("{name}.npy")));
    let w = arr("w");
    let kernels = match doc["parameters"]["kernel_form"].as_str().unwrap() {
        "relu-closed-form" => std::array::from_fn(|_| fast::Kernel::ReluRelu),
        "power-series" => ["kappa", "psi", "kappa_radial", "psi_radial"]
            .map(|k| fast::Kernel::PowerSeries(arr(&format!("{k}_series")).data)),
        other => panic!("unknown kernel form {other}"),
    };
    let eta = case_dir
        .join("eta.npy")
        .exists()
        .then(|| arr("eta").data[0]);
    Inputs {
        n: w.shape[0],
        d: w.shape[1],
        w: w.data,
        a: arr("a").data,
        theta: arr("theta").data,
        constant: arr("constant").data[0],
        kernels,
        eta,
    }
}

fn problem(x: &Inputs, scale: fast::LossScale) -> fast::Problem<'_> {
    let [kappa, psi, kappa_radial, psi_radial] = x.kernels.clone();
    fast::Problem {
        w: &x.w,
        n: x.n,
        d: x.d,
        a: &x.a,
        theta: &x.theta,
        kappa,
        psi,
        kappa_radial,
        psi_radial,
        constant: x.constant,
        loss_scale: scale,
    }
}

/// Runs the backend on every case of the population suite, writing RESULTS_DIR.
fn population_backend(g: &Path, backend: Backend, name: &str) -> PathBuf {
    let r = scratch(name);
    for case in cases(g) {
        let x = load_inputs(&g.join(&case));
        let scale = if backend == Backend::HalfScale {
            fast::LossScale::Half
        } else {
            fast::LossScale::Full
        };
        let p = problem(&x, scale);
        let mut ev = fast::evaluate(&p, fast::Route::Auto).unwrap();
        if backend == Backend::NoSelfRadial {
            let self_term = p.kappa_radial.value(1.0);
            for i in 0..x.n {
                ev.radial_gradient[i] -= 2.0 * x.a[i] * x.a[i] * self_term;
            }
        }
        let out = r.join(&case);
        std::fs::create_dir_all(&out).unwrap();
        write_npy(&out.join("loss.npy"), &[], &[ev.loss]);
        write_npy(
            &out.join("tangent_gradient.npy"),
            &[x.n, x.d],
            &ev.tangent_gradient,
        );
        write_npy(
            &out.join("radial_gradient.npy"),
            &[x.n],
            &ev.radial_gradient,
        );
        write_npy(&out.join("velocity.npy"), &[x.n, x.d], &ev.velocity);
    }
    r
}

#[test]
fn f64_fast_path_passes_population_and_wrong_backends_fail() {
    let g = golden("population");
    let r = population_backend(&g, Backend::Honest, "fast-honest");
    let o = check("population", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // How close to the tolerances an honest f64 backend comes (for the note): printed.
    let o = run(&[
        "check",
        "--suite",
        "population",
        r.to_str().unwrap(),
        "--golden",
        g.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let worst = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["max_error_over_tolerance"].as_f64().unwrap())
        .fold(0.0, f64::max);
    println!("fast path: largest error/tolerance over the population suite = {worst:.3e}");
    assert!(worst < 1.0);

    let r = population_backend(&g, Backend::NoSelfRadial, "fast-no-self");
    let o = check("population", &r, Some(&g));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(e.contains("/radial_gradient"), "{e}");
    assert!(
        !e.contains("/tangent_gradient") && !e.contains("/loss"),
        "{e}"
    );

    let r = population_backend(&g, Backend::HalfScale, "fast-half");
    let o = check("population", &r, Some(&g));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    for q in [
        "/loss",
        "/tangent_gradient",
        "/radial_gradient",
        "/velocity",
    ] {
        assert!(e.contains(q), "{q} not in {e}");
    }
}

#[test]
fn f64_fast_path_passes_step() {
    let g = golden("step");
    let r = scratch("fast-step");
    for case in cases(&g) {
        let x = load_inputs(&g.join(&case));
        let p = problem(&x, fast::LossScale::Full);
        let out = r.join(&case);
        std::fs::create_dir_all(&out).unwrap();
        for (u, q) in [
            (fast::Update::Euclidean, "w_euclidean"),
            (fast::Update::Tangent, "w_tangent"),
            (fast::Update::Geodesic, "w_geodesic"),
        ] {
            let w = fast::step(&p, x.eta.unwrap(), u, fast::Route::Auto).unwrap();
            write_npy(&out.join(format!("{q}.npy")), &[x.n, x.d], &w);
        }
    }
    let o = check("step", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// The README's NumPy script (examples/check_numpy.py), where python3 has numpy.
#[test]
fn numpy_example_passes_where_numpy_is_available() {
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_numpy {
        println!("note: python3 with numpy is not available; examples/check_numpy.py not run");
        return;
    }
    let g = golden("population");
    let r = scratch("numpy");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/check_numpy.py");
    let o = Command::new("python3")
        .arg(&script)
        .args([g.to_str().unwrap(), r.to_str().unwrap()])
        .env("MFORACLE", env!("CARGO_BIN_EXE_mforacle"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("0 failed"), "{}", stdout(&o));
}

/// An independent f64 backend for the `hermite` suite: the trapezoid rule on [−40, 40] with
/// step 1/32 (spectrally accurate for these smooth, Gaussian-weighted integrands) and the
/// normalised recurrence for h_k; relu by Stein's identity c_k = φ(0)h_{k−2}(0)/√(k(k−1)).
#[test]
fn f64_quadrature_passes_hermite() {
    let g = golden("hermite");
    let r = scratch("f64-hermite");
    let kmax = 30;
    let hermite = |z: f64| {
        let mut h = vec![1.0, z];
        for k in 1..kmax {
            let next = (z * h[k] - (k as f64).sqrt() * h[k - 1]) / ((k + 1) as f64).sqrt();
            h.push(next);
        }
        h
    };
    for case in cases(&g) {
        let doc: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(g.join(&case).join("inputs.json")).unwrap(),
        )
        .unwrap();
        let src = doc["parameters"]["activation"].as_str().unwrap();
        let c: Vec<f64> = if src == "relu" {
            let phi0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
            let h0 = hermite(0.0);
            (0..=kmax)
                .map(|k| match k {
                    0 => phi0,
                    1 => 0.5,
                    _ => phi0 * h0[k - 2] / ((k * (k - 1)) as f64).sqrt(),
                })
                .collect()
        } else {
            let spec = mforacle::activation::Spec::parse(src).unwrap();
            let step = 1.0 / 32.0;
            let mut c = vec![0.0; kmax + 1];
            for j in -1280i32..=1280 {
                let z = j as f64 * step;
                let wgt = step * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let f = spec.eval_f64(z) * wgt;
                for (ck, hk) in c.iter_mut().zip(hermite(z)) {
                    *ck += f * hk;
                }
            }
            c
        };
        std::fs::create_dir_all(r.join(&case)).unwrap();
        std::fs::write(
            r.join(&case).join("results.json"),
            serde_json::to_string(&serde_json::json!({ "c": c })).unwrap(),
        )
        .unwrap();
    }
    let o = check("hermite", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    println!("{}", stdout(&o));
}

// ---------------------------------------------------------------------------------------------
// Suites `meanfield` and `concordance` (proofs-notes/golden-files.md, sections of the same
// names): the oracle's own values pass, an independent f64 computation passes, a perturbation
// of one entry by twice its tolerance fails naming the quantity.

/// The largest error/tolerance over every row of a passing check (JSON output).
fn worst_ratio(suite: &str, r: &Path, g: &Path) -> f64 {
    let o = run(&[
        "check",
        "--suite",
        suite,
        r.to_str().unwrap(),
        "--golden",
        g.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["max_error_over_tolerance"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

fn inputs_doc(case_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(case_dir.join("inputs.json")).unwrap()).unwrap()
}

#[test]
fn oracle_values_pass_meanfield_and_concordance() {
    for suite in ["meanfield", "concordance"] {
        let g = golden(suite);
        let r = results_from_expected(&g, &format!("self-{suite}"));
        let o = check(suite, &r, Some(&g));
        assert!(o.status.success(), "{suite}: {}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("0 failed"), "{}", stdout(&o));
    }
}

/// The f64 reduced flow `meanfield::flow::Flow` (Dormand–Prince 5(4), nodes in the latitude;
/// shares only the kernels' coefficients with the oracle) at its defaults, written in the
/// results layout; `wrong_scale` swaps the loss scale (a wrong backend).
fn meanfield_backend(g: &Path, name: &str, wrong_scale: bool) -> PathBuf {
    use mforacle::meanfield::flow::{Flow, Layout, SummarySpec, Tolerance};
    use mforacle::population::LossScale;
    let r = scratch(name);
    for case in cases(g) {
        let dir = g.join(&case);
        let p = &inputs_doc(&dir)["parameters"];
        let spec = |k: &str| mforacle::activation::Spec::parse(p[k].as_str().unwrap()).unwrap();
        let mut scale = match p["loss_scale"].as_str().unwrap() {
            "full" => LossScale::Full,
            _ => LossScale::Half,
        };
        if wrong_scale {
            scale = if scale == LossScale::Full {
                LossScale::Half
            } else {
                LossScale::Full
            };
        }
        let d = p["d"].as_u64().unwrap() as usize;
        let model = mforacle::meanfield::Model::new(
            &spec("student"),
            &spec("teacher"),
            d,
            10,
            30,
            scale,
            0.0,
        )
        .unwrap();
        let times = read_npy(&dir.join("t.npy")).data;
        let alpha0 = read_npy(&dir.join("alpha0.npy")).data;
        let t_traj = read_npy(&dir.join("t_traj.npy")).data;
        let with_abs = dir.join("expected").join("alpha_mean_abs.npy").exists();
        let mut flow = Flow::new(&model, Layout::default(), Tolerance::default()).unwrap();
        flow.add_test_particles(&alpha0).unwrap();
        let (mut loss, mut mean_abs) = (Vec::new(), Vec::new());
        let mut traj = vec![f64::NAN; alpha0.len() * t_traj.len()];
        for &t in &times {
            flow.advance_to(t).unwrap();
            loss.push(flow.loss());
            if with_abs {
                mean_abs.push(flow.snapshot(&SummarySpec::default()).alpha_mean_abs);
            }
            if let Some(j) = t_traj.iter().position(|&s| (s - t).abs() < 1e-12) {
                for (i, a) in flow.test_alpha().iter().enumerate() {
                    traj[i * t_traj.len() + j] = *a;
                }
            }
        }
        let out = r.join(&case);
        std::fs::create_dir_all(&out).unwrap();
        write_npy(&out.join("loss.npy"), &[times.len()], &loss);
        if with_abs {
            write_npy(&out.join("alpha_mean_abs.npy"), &[times.len()], &mean_abs);
        }
        write_npy(
            &out.join("alpha_t.npy"),
            &[alpha0.len(), t_traj.len()],
            &traj,
        );
    }
    r
}

#[test]
fn f64_flow_passes_meanfield() {
    let g = golden("meanfield");
    let r = meanfield_backend(&g, "flow-meanfield", false);
    let o = check("meanfield", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let worst = worst_ratio("meanfield", &r, &g);
    println!("f64 flow (defaults): largest error/tolerance over the meanfield suite = {worst:.3e}");
    assert!(worst < 1.0);
    // The wrong loss scale (½ instead of 1 and back): loss and trajectories fail.
    let r = meanfield_backend(&g, "flow-meanfield-scale", true);
    let o = check("meanfield", &r, Some(&g));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    for q in [
        "he4-d17-t4/loss",
        "he4-d17-t4/alpha_t",
        "misspecified-d9-half-t2/loss",
    ] {
        assert!(e.contains(q), "{q} not in {e}");
    }
}

/// Perturbs entry `index` (flat, C order) of `case/quantity` by twice its tolerance and checks
/// that exactly that quantity fails, at that index.
fn perturbed_fails(suite: &'static str, case: &str, q: &str, index: usize, shown: &str) {
    let g = golden(suite);
    let r = results_from_expected(&g, &format!("beyond-{suite}"));
    let p = r.join(case).join(format!("{q}.npy"));
    let mut a = read_npy(&p);
    let tol = common::golden_tolerance(&g, case, q);
    a.data[index] -= 2.0 * tol[index];
    write_npy(&p, &a.shape, &a.data);
    let o = check(suite, &r, Some(&g));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&format!("{case}/{q}")), "{e}");
    assert!(e.contains(shown), "worst index {shown} named: {e}");
    let failing: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.ends_with("FAIL"))
        .map(|l| l.to_string())
        .collect();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(
        failing[0].starts_with(case) && failing[0].contains(q),
        "{failing:?}"
    );
}

#[test]
fn meanfield_perturbation_beyond_tolerance_fails_naming_the_quantity() {
    // trajectory of alpha0[3] at t_traj[2]: flat index 3*4 + 2
    perturbed_fails("meanfield", "he4-d17-t4", "alpha_t", 3 * 4 + 2, "[3, 2]");
    perturbed_fails("meanfield", "misspecified-d9-half-t2", "loss", 4, "[4]");
}

#[test]
fn concordance_perturbation_beyond_tolerance_fails_naming_the_quantity() {
    perturbed_fails("concordance", "he4-d64", "r1", 2, "[2]");
    perturbed_fails("concordance", "erf-half", "lambda_e", 5, "[5]");
}

/// An independent f64 backend for `concordance`: `hessian::symmetric::interaction_free` (f64
/// Horner on the given coefficients) and its r1(), r2(). And, for erf, the golden values
/// (computed from the Hermite-series ψ) against the MPFR closed form
/// ψ = (2/π)asin(2s/3) (`kernel::closed_value`), within the sum of both bounds.
#[test]
fn f64_closed_form_passes_concordance() {
    use mforacle::hessian::symmetric::{interaction_free, PowerSeries};
    let g = golden("concordance");
    let r = scratch("f64-concordance");
    for case in cases(&g) {
        let dir = g.join(&case);
        let alpha = read_npy(&dir.join("alpha.npy")).data;
        let psi = PowerSeries::new(read_npy(&dir.join("psi_series.npy")).data);
        let scale = read_npy(&dir.join("scale.npy")).data[0];
        let h: Vec<_> = alpha
            .iter()
            .map(|&a| interaction_free(&psi, scale, a))
            .collect();
        let out = r.join(&case);
        std::fs::create_dir_all(&out).unwrap();
        let n = alpha.len();
        for q in ["lambda_e", "lambda_perp", "speed", "r1", "r2"] {
            let v: Vec<f64> = h
                .iter()
                .map(|x| match q {
                    "lambda_e" => x.lambda_e,
                    "lambda_perp" => x.lambda_perp,
                    "speed" => x.speed,
                    "r1" => x.r1(),
                    _ => x.r2(),
                })
                .collect();
            write_npy(&out.join(format!("{q}.npy")), &[n], &v);
        }
    }
    let o = check("concordance", &r, Some(&g));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let worst = worst_ratio("concordance", &r, &g);
    println!(
        "f64 interaction_free: largest error/tolerance over the concordance suite = {worst:.3e}"
    );

    // erf: series route (golden) against the closed form in MPFR.
    use mforacle::kernel::{closed_value, ClosedKernel};
    use rug::Float;
    let prec = 256;
    let ck = ClosedKernel::ErfErf(rug::Rational::from(1), rug::Rational::from(1));
    let dir = g.join("erf-half");
    let alpha = read_npy(&dir.join("alpha.npy")).data;
    let ex: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let qd = |name: &str| -> (Vec<Float>, Vec<f64>) {
        let q = ex["quantities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap();
        let vals = q["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Float::with_val(prec, Float::parse(s.as_str().unwrap()).unwrap()))
            .collect();
        let b = q["abs_error_bound"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse::<f64>().unwrap())
            .collect();
        (vals, b)
    };
    let (le, le_b) = qd("lambda_e");
    let (lp, lp_b) = qd("lambda_perp");
    let (sp, sp_b) = qd("speed");
    let mut worst_closed = 0.0f64;
    for (i, &a) in alpha.iter().enumerate() {
        let af = Float::with_val(prec, a);
        let d1 = closed_value(&ck, &af, 1, prec).unwrap();
        let d2 = closed_value(&ck, &af, 2, prec).unwrap();
        // scale ½: 2·scale = 1
        let beta2 = Float::with_val(prec, 1 - Float::with_val(prec, af.square_ref()));
        let beta = Float::with_val(prec, beta2.sqrt_ref());
        let cl_e =
            Float::with_val(prec, &beta2 * &d2.value) - Float::with_val(prec, &af * &d1.value);
        let cl_p = -Float::with_val(prec, &af * &d1.value);
        let cl_v = Float::with_val(prec, &beta * &d1.value).abs();
        let cb = d1.abs_error_bound.to_f64() + d2.abs_error_bound.to_f64() + 1e-70;
        for (gold, gb, cl) in [
            (&le[i], le_b[i], cl_e),
            (&lp[i], lp_b[i], cl_p),
            (&sp[i], sp_b[i], cl_v),
        ] {
            let diff = Float::with_val(prec, gold - &cl).abs().to_f64();
            assert!(
                diff <= gb + 2.0 * cb,
                "erf alpha = {a}: golden {gold} closed form {cl} differ by {diff:e} > {:e}",
                gb + 2.0 * cb
            );
            worst_closed = worst_closed.max(diff);
        }
    }
    println!("erf: golden (series) vs closed form: largest difference {worst_closed:.3e}");
}

/// Every quantity carries the kind of its reference values (`bound_kind`, the same in the
/// manifest and in expected.json), `check` prints it in every format, a golden directory
/// without kinds is still checked (kind `unrecorded`), and an unknown kind is refused.
#[test]
fn bound_kinds_are_written_and_printed() {
    let kinds = ["exact", "enclosure", "estimate"];
    for (suite, expect) in [
        // relu, tanh and gelu tables by the enclosure route, he4 and paper-sigma exact
        (
            "hermite",
            &[
                ("relu", "enclosure"),
                ("tanh", "enclosure"),
                ("he4", "exact"),
            ][..],
        ),
        // every pair's tables and norms are exact or enclosed
        (
            "kernel",
            &[("tanh-tanh", "enclosure"), ("paper-sigma-he4", "enclosure")][..],
        ),
        (
            "population",
            &[
                ("tanh-tanh-n6-d24", "enclosure"),
                ("relu-relu-n5-d4", "enclosure"),
            ][..],
        ),
    ] {
        let g = golden(suite);
        let m = manifest(&g);
        for c in m["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let ex: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(g.join(name).join("expected.json")).unwrap(),
            )
            .unwrap();
            for (qm, qe) in c["quantities"]
                .as_array()
                .unwrap()
                .iter()
                .zip(ex["quantities"].as_array().unwrap())
            {
                let k = qe["bound_kind"].as_str().unwrap();
                assert!(kinds.contains(&k), "{suite}/{name}: {k}");
                assert_eq!(qm["bound_kind"], qe["bound_kind"], "{suite}/{name}");
                if let Some((_, want)) = expect.iter().find(|(c, _)| *c == name) {
                    assert_eq!(k, *want, "{suite}/{name}/{}", qe["name"]);
                }
            }
        }
        let r = results_from_expected(&g, &format!("kinds-{suite}"));
        let o = run(&[
            "check",
            "--suite",
            suite,
            r.to_str().unwrap(),
            "--golden",
            g.to_str().unwrap(),
            "--format",
            "csv",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "bound_kind").unwrap();
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            if let Some((_, want)) = expect.iter().find(|(c, _)| *c == f[0]) {
                assert_eq!(f[col], *want, "{l}");
            }
            assert!(kinds.contains(&f[col]), "{l}");
        }
    }
    // a copy of the hermite suite without kinds, then with a wrong one
    let g = golden("hermite");
    let copy = scratch("kinds-old").join("g");
    for (p, bytes) in common::all_files(&g) {
        let to = copy.join(&p);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    let ex_path = copy.join("tanh").join("expected.json");
    let mut ex: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ex_path).unwrap()).unwrap();
    ex["quantities"][0]
        .as_object_mut()
        .unwrap()
        .remove("bound_kind");
    std::fs::write(&ex_path, serde_json::to_string(&ex).unwrap()).unwrap();
    let r = results_from_expected(&g, "kinds-old-results");
    let o = check("hermite", &r, Some(&copy));
    assert!(o.status.success(), "{}", stderr(&o));
    let tanh_row = stdout(&o)
        .lines()
        .find(|l| l.starts_with("tanh"))
        .unwrap()
        .to_string();
    assert!(tanh_row.contains("unrecorded"), "{tanh_row}");
    ex["quantities"][0]["bound_kind"] = "proven".into();
    std::fs::write(&ex_path, serde_json::to_string(&ex).unwrap()).unwrap();
    one_line_exit2(&check("hermite", &r, Some(&copy)), "bound_kind must be");
}
