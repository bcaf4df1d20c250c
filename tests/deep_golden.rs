//! Golden suite `deep` (src/golden/deep.rs): an f64 backend written here from the closed forms
//! of `deep::finite` (risk, velocities; its own Euler and RK4 steps) and the f64 flow of
//! `deep::train` (the N = 64 trajectory at the suite's step H) passes `check` on files read
//! back from the golden directory; the same results with one entry moved by 10 tolerances fail,
//! naming the quantity. The trajectory's reference is RK4 on the scalar closed forms, so the
//! fused path of `deep train` is checked against an independent route (and, at the same step,
//! within rounding of it).

mod common;

use mforacle::deep::{finite, limit, train, Net, Psi};
use mforacle::golden::{self, npy};
use std::path::{Path, PathBuf};

fn read(p: &Path) -> npy::Array {
    npy::from_bytes(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The network of a small case, read back from its input files.
fn net_of(case_dir: &Path, layers: usize, psi: Psi) -> Net {
    let u = read(&case_dir.join("u.npy"));
    let a = read(&case_dir.join("a.npy")).data;
    let theta1 = read(&case_dir.join("theta1.npy")).data;
    let theta2 = if layers == 3 {
        read(&case_dir.join("theta2.npy")).data
    } else {
        Vec::new()
    };
    Net {
        layers,
        n: u.shape[0],
        d: u.shape[1],
        psi,
        u: u.data,
        a,
        theta1,
        theta2,
    }
}

/// θ + c·k for both layers.
fn shifted(net: &Net, k: &finite::Eval, c: f64) -> Net {
    let mut m = net.clone();
    for (x, v) in m.theta1.iter_mut().zip(&k.vel1) {
        *x += c * v;
    }
    for (x, v) in m.theta2.iter_mut().zip(&k.vel2) {
        *x += c * v;
    }
    m
}

/// One classical RK4 step of both layers (the backend's own, from `finite::evaluate`).
fn rk4(net: &Net, h: f64) -> Net {
    let k1 = finite::evaluate(net);
    let k2 = finite::evaluate(&shifted(net, &k1, h / 2.0));
    let k3 = finite::evaluate(&shifted(net, &k2, h / 2.0));
    let k4 = finite::evaluate(&shifted(net, &k3, h));
    let mut m = net.clone();
    let comb = |x: &mut [f64], a: &[f64], b: &[f64], c: &[f64], d: &[f64]| {
        for i in 0..x.len() {
            x[i] += h / 6.0 * (a[i] + 2.0 * b[i] + 2.0 * c[i] + d[i]);
        }
    };
    comb(&mut m.theta1, &k1.vel1, &k2.vel1, &k3.vel1, &k4.vel1);
    comb(&mut m.theta2, &k1.vel2, &k2.vel2, &k3.vel2, &k4.vel2);
    m
}

type Results = Vec<(String, Vec<(String, Vec<usize>, Vec<f64>)>)>;

/// The f64 route's results for every case of the suite, from the golden directory's inputs.
fn f64_results(g: &Path) -> Results {
    use mforacle::golden::deep as gd;
    let mut out = Vec::new();
    for (layers, psi) in [(2, Psi::Gd), (2, Psi::Id), (3, Psi::Gd)] {
        let name = format!("l{layers}-{}-n4-d3", psi.name());
        let net = net_of(&g.join(&name), layers, psi);
        let n = net.n;
        let ev = finite::evaluate(&net);
        let mut qs = vec![
            ("risk".to_string(), vec![], vec![ev.risk]),
            ("velocity1".to_string(), vec![n, n], ev.vel1.clone()),
        ];
        if layers == 3 {
            qs.push(("velocity2".into(), vec![n, n], ev.vel2.clone()));
        }
        let euler = shifted(&net, &ev, gd::ETA);
        let step = rk4(&net, gd::H);
        for (tag, m) in [("euler", &euler), ("rk4", &step)] {
            qs.push((format!("{tag}_theta1"), vec![n, n], m.theta1.clone()));
            if layers == 3 {
                qs.push((format!("{tag}_theta2"), vec![n, n], m.theta2.clone()));
            }
            qs.push((format!("{tag}_risk"), vec![], vec![finite::risk(m)]));
        }
        out.push((name, qs));
    }
    let rows = train::run(
        &gd::trajectory_case(),
        gd::TRAJ_H,
        &limit::Params::new(Psi::Gd),
    );
    let col = |f: fn(&train::Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let nt = rows.len();
    let traj: Vec<(String, Vec<usize>, Vec<f64>)> = vec![
        ("risk".into(), vec![nt], col(|r| r.risk)),
        ("risk_limit".into(), vec![nt], col(|r| r.risk_limit)),
        ("loss_gap".into(), vec![nt], col(|r| r.loss_gap)),
        ("edge_gap".into(), vec![nt], col(|r| r.edge_gap)),
        ("node_gap".into(), vec![nt], col(|r| r.node_gap)),
        ("function_gap".into(), vec![nt], col(|r| r.function_gap)),
    ];
    out.push((
        format!("l2-gd-n{}-d{}-trajectory", gd::TRAJ_N, gd::TRAJ_D),
        traj,
    ));
    out
}

fn write(root: &Path, res: &Results) {
    for (case, qs) in res {
        let c = root.join(case);
        std::fs::create_dir_all(&c).unwrap();
        for (q, shape, data) in qs {
            std::fs::write(
                c.join(format!("{q}.npy")),
                npy::to_bytes(shape, data).unwrap(),
            )
            .unwrap();
        }
    }
}

fn check(r: &Path, g: &Path) -> std::process::Output {
    common::bin()
        .args(["check", "--suite", "deep"])
        .arg(r)
        .arg("--golden")
        .arg(g)
        .output()
        .unwrap()
}

/// Moves entry `index` of quantity `q` of `case` by 10 tolerances.
fn planted(res: &Results, g: &Path, case: &str, q: &str, index: usize) -> Results {
    let tol = common::golden_tolerance(g, case, q)[index];
    let mut bad = res.clone();
    let qs = &mut bad.iter_mut().find(|c| c.0 == case).unwrap().1;
    let data = &mut qs.iter_mut().find(|x| x.0 == q).unwrap().2;
    data[index] += 10.0 * tol;
    bad
}

#[test]
fn golden_suite_deep_passes_the_f64_route_and_catches_a_planted_error() {
    let dir: PathBuf = common::scratch("deep_golden", "suite");
    let g = dir.join("g");
    let o = common::bin()
        .args(["golden", "--suite", "deep", "--out"])
        .arg(&g)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let res = f64_results(&g);
    // Every quantity of the suite is produced (the check would refuse a missing one).
    let suite = golden::find_suite("deep").unwrap();
    assert_eq!(suite.name, "deep");
    let good = dir.join("good");
    write(&good, &res);
    let o = check(&good, &g);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The trajectory's tolerance is measured, not vacuous: at t = 1 the f64 route at step H
    // differs from the reference (step H/4, limit refined) by more than the rounding term.
    {
        use mforacle::golden::deep as gd;
        let case = format!("l2-gd-n{}-d{}-trajectory", gd::TRAJ_N, gd::TRAJ_D);
        let expected = read(&g.join(&case).join("expected").join("risk.npy")).data;
        let mine = &res.iter().find(|c| c.0 == case).unwrap().1[0].2;
        let last = expected.len() - 1;
        let dev = (mine[last] - expected[last]).abs();
        let round = golden::ULPS
            * golden::UNIT_ROUNDOFF
            * (gd::TRAJ_T_END / gd::TRAJ_H + (gd::TRAJ_N + gd::TRAJ_D) as f64)
            * expected[last].abs().max(1.0);
        let tol = common::golden_tolerance(&g, &case, "risk")[last];
        assert!(dev > round, "deviation {dev:e} within rounding {round:e}");
        assert!(dev <= tol, "{dev:e} > {tol:e}");
        eprintln!(
            "trajectory risk at t = 1: deviation {dev:e}, rounding {round:e}, tolerance {tol:e}"
        );
        // At the same step and limit setting the fused path (`train::run`) and the suite's
        // scalar route (`reference_rows`: RK4 on `deep::finite`) differ by rounding only: every
        // field at every time within the suite's rounding term.
        let scalar = gd::reference_rows(gd::TRAJ_H, &limit::Params::new(Psi::Gd));
        let traj = &res.iter().find(|c| c.0 == case).unwrap().1;
        let mut worst = 0.0f64;
        for (q, (name, _, fast)) in traj.iter().enumerate() {
            for k in 0..fast.len() {
                let x = scalar[k][q];
                let steps = k as f64 * gd::TRAJ_DT_OUT / gd::TRAJ_H;
                let round = golden::ULPS
                    * golden::UNIT_ROUNDOFF
                    * (steps + (gd::TRAJ_N + gd::TRAJ_D) as f64)
                    * x.abs().max(1.0);
                let dev = (fast[k] - x).abs();
                worst = worst.max(dev / round);
                assert!(
                    dev <= round,
                    "{name}[{k}]: fused {} vs scalar {x}, beyond {round:e}",
                    fast[k]
                );
            }
        }
        eprintln!("fused against scalar RK4 at step H: largest deviation/rounding {worst:e}");
    }
    for (k, (case, q, index)) in [
        ("l2-gd-n4-d3", "velocity1", 5),
        ("l3-gd-n4-d3", "rk4_theta2", 7),
        ("l2-id-n4-d3", "euler_risk", 0),
        ("l2-gd-n64-d2-trajectory", "edge_gap", 2),
        ("l2-gd-n64-d2-trajectory", "loss_gap", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let bad = dir.join(format!("bad{k}"));
        write(&bad, &planted(&res, &g, case, q, index));
        let o = check(&bad, &g);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            !o.status.success(),
            "{case}/{q}[{index}] 10 tolerances off passed"
        );
        assert!(text.contains(q), "{q} not named: {text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
