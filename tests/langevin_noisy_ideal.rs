//! Noisy coupled ideal particles of `train --beta` (src/dynamics/noisy_ideal.rs,
//! proofs-notes/langevin.md §10a). Every tolerance here can fail: the ideal particles are
//! i.i.d. samples of the projected Euler–Maruyama law, which is ρ_t up to an O(η) weak error,
//! so the moments of s are tested with 4 standard errors (CLT, the variance from the flow's own
//! moments) plus the allowance A_η = η/2 for the Euler bias (measured: 0.23η for E s, 0.1η for
//! E s², 200 000 particles at η = 0.04, 0.02, 0.01; an allowance, not a bound); a wrong
//! reference (the flow at β/2, the law of the wrong noise constant √(4η/β)) is rejected by the
//! same statistic.

use mforacle::activation::Spec;
use mforacle::dynamics::noise;
use mforacle::langevin::flow::{self, Problem, QUANTITIES};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;
use std::process::Command;

const STUDENT: &str = "he1+he2";
const TEACHER: &str = "he1";
const D: usize = 4;
const BETA: f64 = 1.5;
const ETA: f64 = 0.005;

fn model() -> Model {
    let s = Spec::parse(STUDENT).unwrap();
    let t = Spec::parse(TEACHER).unwrap();
    Model::new(&s, &t, D, 20, 20, LossScale::Full, 0.0).unwrap()
}

/// Column index in `train --beta`'s CSV.
fn col(header: &str, name: &str) -> usize {
    header.split(',').position(|c| c == name).unwrap()
}

/// `train --beta` rows as f64 vectors (header checked).
fn train(widths: &str, draws: usize, t_end: f64, every: usize) -> (String, Vec<Vec<f64>>) {
    let o = Command::new(env!("CARGO_BIN_EXE_mforacle"))
        .args([
            "train",
            "--student",
            STUDENT,
            "--teacher",
            TEACHER,
            "--d",
            &D.to_string(),
            "--widths",
            widths,
            "--eta",
            &ETA.to_string(),
            "--t-end",
            &t_end.to_string(),
            "--draws",
            &draws.to_string(),
            "--beta",
            &BETA.to_string(),
            "--record-every",
            &every.to_string(),
            "--seed",
            "11",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    assert_eq!(
        header,
        "width,draw,step,t,loss,risk,mean_s,mean_s2,mean_abs_s,gap,ideal_loss,ideal_mean_s,ideal_mean_s2,ideal_mean_abs_s,flow_loss,flow_mean_s,flow_mean_s2"
    );
    let rows = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

/// E s and E s² of the flow at `times` for `beta`, from `langevin flow`'s two routes.
fn flow_moments(beta: f64, times: &[f64]) -> Vec<(f64, f64)> {
    let p = Problem::new(&model(), beta, 1e-12).unwrap();
    let f = flow::flow(&p, times, 1e-10).unwrap();
    let (i1, i2) = (
        QUANTITIES.iter().position(|q| *q == "mean_s").unwrap(),
        QUANTITIES.iter().position(|q| *q == "mean_s2").unwrap(),
    );
    f.values
        .iter()
        .map(|r| (r[i1].value, r[i2].value))
        .collect()
}

/// Per recorded time of width `n`: |pooled ideal moment − flow| against 4 SE + A_η, for E s
/// and E s² (pooled over draws: n·draws i.i.d. particles).
fn clt_verdicts(
    header: &str,
    rows: &[Vec<f64>],
    n: usize,
    draws: usize,
    reference: &[(f64, f64)],
    times: &[f64],
) -> Vec<(f64, f64, f64, f64)> {
    let (cs, cs2) = (col(header, "ideal_mean_s"), col(header, "ideal_mean_s2"));
    let (ct, cw) = (col(header, "t"), col(header, "width"));
    let samples = (n * draws) as f64;
    let mut out = Vec::new();
    for (k, &t) in times.iter().enumerate().skip(1) {
        let at: Vec<&Vec<f64>> = rows
            .iter()
            .filter(|r| r[cw] == n as f64 && r[ct] == t)
            .collect();
        assert_eq!(at.len(), draws);
        let m1 = at.iter().map(|r| r[cs]).sum::<f64>() / draws as f64;
        let m2 = at.iter().map(|r| r[cs2]).sum::<f64>() / draws as f64;
        let (e1, e2) = reference[k];
        // Var s = E s² − (E s)²; Var s² ≤ E s⁴ − (E s²)² ≤ E s² − (E s²)² (s⁴ ≤ s²).
        let se1 = ((e2 - e1 * e1) / samples).sqrt();
        let se2 = ((e2 - e2 * e2) / samples).sqrt();
        let a_eta = ETA / 2.0;
        out.push((
            (m1 - e1).abs(),
            4.0 * se1 + a_eta,
            (m2 - e2).abs(),
            4.0 * se2 + a_eta,
        ));
    }
    out
}

#[test]
fn ideal_particles_sample_the_limit_law_and_the_gap_falls_as_one_over_n() {
    // 16 draws: with 4 the slope at t = 1 was −0.75 (a draw fluctuation; 16 give −0.98).
    let draws = 16;
    let (header, rows) = train("256,1024,4096", draws, 1.0, 100);
    let times = [0.0, 0.5, 1.0];
    let reference = flow_moments(BETA, &times);
    // (1) CLT: the ideal particles' moments against `langevin flow` at β …
    for (g1, t1, g2, t2) in clt_verdicts(&header, &rows, 4096, draws, &reference, &times) {
        assert!(g1 <= t1, "E s: |ideal − flow| = {g1:.3e} > {t1:.3e}");
        assert!(g2 <= t2, "E s²: |ideal − flow| = {g2:.3e} > {t2:.3e}");
    }
    // … and the same statistic rejects the law of the wrong noise constant (the flow at β/2).
    let wrong = flow_moments(BETA / 2.0, &times);
    let v = clt_verdicts(&header, &rows, 4096, draws, &wrong, &times);
    assert!(
        v.iter().any(|(g1, t1, g2, t2)| g1 > t1 || g2 > t2),
        "the flow at beta/2 was not rejected: {v:?}"
    );
    // (2) the flow columns are `langevin flow`'s (route B on the step grid vs both routes).
    let (ct, cw) = (col(&header, "t"), col(&header, "width"));
    let (f1, f2) = (col(&header, "flow_mean_s"), col(&header, "flow_mean_s2"));
    for r in rows.iter().filter(|r| r[cw] == 4096.0) {
        let k = times.iter().position(|&t| t == r[ct]).unwrap();
        assert!((r[f1] - reference[k].0).abs() <= 1e-8, "{r:?}");
        assert!((r[f2] - reference[k].1).abs() <= 1e-8, "{r:?}");
    }
    // (3) propagation of chaos: mean_i |w_i − w̄_i|² ∝ 1/N (exponent −1: the empirical law's
    // fluctuation moves the velocity by O(N^{-1/2}), so |w_i − w̄_i| = O(N^{-1/2})). Least-squares
    // slope of log(mean over draws of gap) against log N at t = 0.5 and t = 1; tolerance ±0.25
    // separates −1 from −1/2 (a gap of the order of the fluctuation itself) and from 0 (no
    // coupling); the draw-to-draw spread of the slope is printed.
    let cg = col(&header, "gap");
    for &t in &times[1..] {
        let ns = [256.0f64, 1024.0, 4096.0];
        let per_draw: Vec<Vec<f64>> = (0..draws)
            .map(|r| {
                ns.iter()
                    .map(|&n| {
                        rows.iter()
                            .find(|x| x[cw] == n && x[ct] == t && x[1] == r as f64)
                            .unwrap()[cg]
                    })
                    .collect()
            })
            .collect();
        let slope = |g: &[f64]| {
            let x: Vec<f64> = ns.iter().map(|n| n.ln()).collect();
            let y: Vec<f64> = g.iter().map(|v| v.ln()).collect();
            let (mx, my) = (x.iter().sum::<f64>() / 3.0, y.iter().sum::<f64>() / 3.0);
            let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
            sxy / sxx
        };
        let mean_gap: Vec<f64> = (0..3)
            .map(|j| per_draw.iter().map(|g| g[j]).sum::<f64>() / draws as f64)
            .collect();
        let s = slope(&mean_gap);
        let slopes: Vec<f64> = per_draw.iter().map(|g| slope(g)).collect();
        println!("t = {t}: gaps {mean_gap:?}, slope {s:.3}, per draw {slopes:?}");
        assert!(
            (s + 1.0).abs() <= 0.25,
            "t = {t}: slope {s} (gaps {mean_gap:?})"
        );
    }
}

#[test]
fn coupled_step_leaves_the_network_bits_unchanged() {
    let (n, d) = (37, 5);
    let w: Vec<f64> = mforacle::sampling::sphere_rows(3, n, d).concat();
    let wbar: Vec<f64> = mforacle::sampling::sphere_rows(4, n, d).concat();
    let v: Vec<f64> = (0..n * d)
        .map(|j| ((j * 7919) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let key = noise::noise_key(9, 1, 17);
    let alone = noise::noisy_tangent_step(&w, &v, d, 0.01, 0.1, key);
    let field = |x: &[f64], out: &mut [f64]| out.iter_mut().zip(x).for_each(|(o, a)| *o = -a);
    let (coupled, bar) = noise::coupled_step(&w, &v, &wbar, &field, d, 0.01, 0.1, key);
    assert_eq!(
        alone.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        coupled.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // the ideal particles alone take the same step
    let alone_bar = noise::noisy_field_step(&wbar, &field, d, 0.01, 0.1, key);
    assert_eq!(bar, alone_bar);
}
