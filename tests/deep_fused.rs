//! The fused SIMD path of the deep model (src/deep/fused.rs, src/fast/deep_edges.rs) against
//! independent references: the vector ψ, ψ', asin against MPFR (rug, 128 bits); every pass
//! against the scalar reference `deep::finite` within the a-priori bounds derived in
//! proofs-notes/deep-meanfield.md §9; the fused RK4/Euler updates against the textbook
//! formulas; thread-count bit identity; and every SIMD level (`MFORACLE_SIMD`, child process).

use mforacle::deep::{self, finite, fused, Net, Psi};
use mforacle::fast::deep_edges::{self as kern, EPS_ASIN, EPS_DPSI, EPS_PSI};
use rug::Float;

/// Unit roundoff.
const U: f64 = f64::EPSILON / 2.0;
/// Error of the libm reference maps of `Psi::value`/`deriv` and of `asin`: the libm functions
/// are accurate to 1 ulp; composed (atan ∘ sinh: the sinh error δ|sinh| is damped by
/// sech² ≤ 1, plus one ulp of atan ≤ π/2) they stay within 4u absolute.
const E_LIBM: f64 = 4.0 * U;

fn mp(x: f64) -> Float {
    Float::with_val(128, x)
}

fn grid() -> Vec<f64> {
    let mut t: Vec<f64> = (-50_000..=50_000).map(|k| k as f64 * 8e-4).collect();
    t.extend((0..2000).map(|k| 40.0 + k as f64 * 0.35));
    t.extend([
        0.0,
        -0.0,
        1e-300,
        5e-324,
        1e-8,
        0.881_373_587_019_543,
        0.881_373_587_019_544,
        708.0,
        709.9,
        1e4,
        1e300,
    ]);
    let neg: Vec<f64> = t.iter().map(|x| -x).collect();
    t.extend(neg);
    t
}

#[test]
fn psi_kernels_within_their_bounds() {
    let t = grid();
    let mut p = vec![0.0; t.len()];
    let mut dp = vec![0.0; t.len()];
    kern::psi_values(true, false, &t, &mut p);
    kern::psi_values(true, true, &t, &mut dp);
    let (mut ep, mut ed) = (0.0f64, 0.0f64);
    for i in 0..t.len() {
        let x = mp(t[i]);
        let gd = Float::with_val(128, x.clone().sinh()).atan();
        let sech = Float::with_val(128, x.cosh()).recip();
        ep = ep.max((mp(p[i]) - gd).to_f64().abs());
        ed = ed.max((mp(dp[i]) - sech).to_f64().abs());
    }
    assert!(ep <= EPS_PSI, "gd error {ep:e} > {EPS_PSI:e}");
    assert!(ed <= EPS_DPSI, "sech error {ed:e} > {EPS_DPSI:e}");
    // id is exact.
    kern::psi_values(false, false, &t, &mut p);
    assert_eq!(p, t);
    kern::psi_values(false, true, &t, &mut dp);
    assert!(dp.iter().all(|&x| x == 1.0));
    // asin on [−1, 1], both branches and the end points.
    let mut q: Vec<f64> = (-50_000..=50_000).map(|k| k as f64 * 2e-5).collect();
    q.extend([0.5, -0.5, 0.5 + 1e-16, 1.0 - 1e-16, -1.0 + 1e-16, 1e-300]);
    let mut s = vec![0.0; q.len()];
    kern::asin_values(&q, &mut s);
    let mut ea = 0.0f64;
    for i in 0..q.len() {
        ea = ea.max((mp(s[i]) - mp(q[i]).asin()).to_f64().abs());
    }
    assert!(ea <= EPS_ASIN, "asin error {ea:e} > {EPS_ASIN:e}");
    // The bounds are not vacuous: a quarter of them is already above the observed errors.
    eprintln!("observed: gd {ep:e}, sech {ed:e}, asin {ea:e}");
}

/// A network of each class with node vectors pushed towards α e₁ (so that the readout's
/// asin runs on both of its branches), N not a multiple of the lane count.
fn nets() -> Vec<Net> {
    let mut out = Vec::new();
    for (layers, psi, n, d) in [
        (2, Psi::Gd, 37, 3),
        (2, Psi::Id, 64, 5),
        (3, Psi::Gd, 45, 4),
        (3, Psi::Id, 24, 1),
    ] {
        let mut net = deep::init(layers, n, d, psi, 7 + n as u64);
        for j in 0..n {
            let sgn = if net.a[j] > 0.0 { 2.5 } else { -2.5 };
            for i in 0..n {
                net.theta1[j * n + i] += sgn * net.u[i * d] * (1.0 + 0.3 * (j % 3) as f64);
            }
        }
        out.push(net);
    }
    out
}

/// Σ|terms| bound factor of recursive (or lane-blocked) summation of up to `n` terms in f64,
/// both computations: (n + n/8 + 6)·u ≤ 2(n + 4)u.
fn gam(n: usize) -> f64 {
    2.0 * (n as f64 + 4.0) * U
}

fn check(name: &str, got: f64, want: f64, bound: f64) {
    assert!(
        (got - want).abs() <= bound,
        "{name}: fast {got:e} vs reference {want:e}, difference {:e} > bound {bound:e}",
        (got - want).abs()
    );
}

#[test]
fn pass_one_within_its_bound() {
    for net in nets() {
        let (n, d) = (net.n, net.d);
        let f = fused::Frozen::new(&net);
        let fast = fused::node_vectors(&f, &net.theta1);
        let refv = finite::node_vectors(&net);
        let eps = if net.psi == Psi::Gd {
            EPS_PSI + E_LIBM
        } else {
            0.0
        };
        for j in 0..n {
            for m in 0..d {
                let (mut su, mut spu) = (0.0, 0.0);
                for i in 0..n {
                    let u = net.u[i * d + m].abs();
                    su += u;
                    spu += net.psi.value(net.theta1[j * n + i]).abs() * u;
                }
                let b = (eps * su + gam(n) * spu) / n as f64 + 2.0 * U * refv[j * d + m].abs();
                check("v", fast[j * d + m], refv[j * d + m], b);
            }
        }
        if net.layers == 3 {
            let fb = fused::readout_b(&f, &net.theta2);
            let rb = finite::readout_b(&net);
            for j in 0..n {
                let (mut sa, mut spa) = (0.0, 0.0);
                for k in 0..n {
                    sa += net.a[k].abs();
                    spa += (net.a[k] * net.psi.value(net.theta2[j * n + k])).abs();
                }
                let b = (eps * sa + gam(n) * spa) / n as f64 + 2.0 * U * rb[j].abs();
                check("b", fb[j], rb[j], b);
            }
        }
    }
}

#[test]
fn node_pairs_within_their_bound() {
    const TWO_PI: f64 = std::f64::consts::FRAC_2_PI;
    for net in nets() {
        let (n, d) = (net.n, net.d);
        let v = finite::node_vectors(&net);
        let c = if net.layers == 3 {
            finite::readout_b(&net)
        } else {
            net.a.clone()
        };
        let rf = finite::readout(&v, &c, n, d);
        // The default tiling (one tile at these N) and small tiles (whole and partial blocks
        // of lanes, many off-diagonal tiles: each pair computed once for both rows).
        for tile in [fused::pair_tile_size(n), 8, 13] {
            let fast = fused::readout_tiled(&v, &c, n, d, tile);
            let norm: Vec<f64> = v.chunks(d).map(|r| r.iter().map(|x| x * x).sum()).collect();
            let mut big_q = 0.0f64;
            // Per row: bounds on Σ_k c_k asin q (drk), Σ_k w⟨v_j,v_k⟩ (ds), Σ_k w v_k (dacc), and
            // the magnitudes of the sums.
            let mut drk = vec![0.0; n];
            let mut rk_abs = vec![0.0; n];
            for j in 0..n {
                let vj = &v[j * d..(j + 1) * d];
                let (mut ds, mut s_abs) = (0.0, 0.0);
                let mut dacc = vec![0.0; d];
                let mut acc_abs = vec![0.0; d];
                for k in 0..n {
                    let vk = &v[k * d..(k + 1) * d];
                    let dot: f64 = vj.iter().zip(vk).map(|(x, y)| x * y).sum();
                    let sdot: f64 = vj.iter().zip(vk).map(|(x, y)| (x * y).abs()).sum();
                    let al = 1.0 / ((1.0 + norm[j]) * (1.0 + norm[k])).sqrt();
                    let q = dot * al;
                    big_q = big_q.max(q.abs());
                    let kappa = 1.0 / (1.0 - q * q);
                    // q: α_j, α_k (3u each), the product and dot's order (2d u Σ|v_j v_k|).
                    let dq = (12.0 * q.abs() + 2.0 * (d as f64 + 1.0) * sdot * al) * U;
                    let w = c[k] * al * kappa.sqrt();
                    let dw = w.abs() * (kappa * q.abs() * dq + 8.0 * U);
                    let dasin = EPS_ASIN + E_LIBM + dq * kappa.sqrt();
                    drk[j] += c[k].abs() * dasin;
                    rk_abs[j] += (c[k] * q.asin()).abs();
                    ds += dw * dot.abs() + w.abs() * 2.0 * d as f64 * U * sdot;
                    s_abs += (w * dot).abs();
                    for m in 0..d {
                        dacc[m] += dw * vk[m].abs();
                        acc_abs[m] += (w * vk[m]).abs();
                    }
                }
                drk[j] = TWO_PI * (drk[j] + gam(n) * rk_abs[j]);
                rk_abs[j] *= TWO_PI;
                ds += gam(n) * s_abs;
                let inv = 1.0 / n as f64;
                let x1 = vj[0];
                let r = 1.0 / (2.0 * (1.0 + norm[j]) - x1 * x1).sqrt();
                for m in 0..d {
                    let t_abs = r * ((m == 0) as u8 as f64 + (x1 * vj[m]).abs() / (1.0 + norm[j]));
                    let sv = s_abs * vj[m].abs() / (1.0 + norm[j]);
                    let b = TWO_PI
                        * (12.0 * U * t_abs
                            + inv
                                * (dacc[m]
                                    + gam(n) * acc_abs[m]
                                    + ds * vj[m].abs() / (1.0 + norm[j]))
                            + 8.0 * U * inv * (acc_abs[m] + sv));
                    check("V", fast.big_v[j * d + m], rf.big_v[j * d + m], b);
                }
                let kt = (TWO_PI * (x1 / (2.0 * (1.0 + norm[j])).sqrt()).asin()).abs();
                let be =
                    drk[j] * inv + 4.0 * U * (rk_abs[j] * inv + kt) + 2.0 * E_LIBM + 8.0 * U * kt;
                check("e", fast.e[j], rf.e[j], be);
            }
            let inv = 1.0 / n as f64;
            let quad_b: f64 = (0..n)
                .map(|j| c[j].abs() * (drk[j] + 2.0 * U * rk_abs[j]))
                .sum::<f64>()
                + gam(n) * (0..n).map(|j| (c[j]).abs() * rk_abs[j]).sum::<f64>();
            let lin_abs: f64 = c.iter().sum::<f64>().abs() + c.iter().map(|x| x.abs()).sum::<f64>();
            let br = quad_b * inv * inv + 2.0 * inv * lin_abs * (E_LIBM + gam(n)) + 8.0 * U;
            check("risk", fast.risk, rf.risk, br);
            assert!(
                big_q > 0.5,
                "the asin's second branch is exercised (max |q| = {big_q})"
            );
        }
    }
}

#[test]
fn pass_two_within_its_bound() {
    for net in nets() {
        let (n, d) = (net.n, net.d);
        let gd = net.psi == Psi::Gd;
        let v = finite::node_vectors(&net);
        let c = if net.layers == 3 {
            finite::readout_b(&net)
        } else {
            net.a.clone()
        };
        let r = finite::readout(&v, &c, n, d);
        let want = finite::first_layer_velocity(&net, &c, &r.big_v);
        let f = fused::Frozen::new(&net);
        let eps = if gd { EPS_DPSI + E_LIBM } else { 0.0 };
        let mut row = vec![0.0; n];
        for j in 0..n {
            let vj = &r.big_v[j * d..(j + 1) * d];
            kern::velocity_row(
                gd,
                &net.theta1[j * n..(j + 1) * n],
                &f.ut,
                vj,
                2.0 * c[j],
                &mut row,
            );
            for i in 0..n {
                let ui = &net.u[i * d..(i + 1) * d];
                let dot: f64 = ui.iter().zip(vj).map(|(x, y)| x * y).sum();
                let sdot: f64 = ui.iter().zip(vj).map(|(x, y)| (x * y).abs()).sum();
                let cj = 2.0 * c[j].abs();
                let b = cj * (eps * dot.abs() + 2.0 * (d as f64 + 2.0) * U * sdot)
                    + 4.0 * U * want[j * n + i].abs();
                check("vel1", row[i], want[j * n + i], b);
            }
        }
        if net.layers == 3 {
            let want2 = finite::second_layer_velocity(net.psi, &net.theta2, &net.a, &r.e, n);
            for j in 0..n {
                let th = &net.theta2[j * n..(j + 1) * n];
                kern::velocity_row(gd, th, &net.a, &[1.0], -2.0 * r.e[j], &mut row);
                for k in 0..n {
                    let b =
                        2.0 * (net.a[k] * r.e[j]).abs() * eps + 6.0 * U * want2[j * n + k].abs();
                    check("vel2", row[k], want2[j * n + k], b);
                }
            }
        }
    }
}

/// The fused updates are exactly the textbook formulas applied to the fused velocities (the
/// same operations in the same order, so bit for bit).
#[test]
fn fused_updates_are_the_textbook_steps() {
    for net in nets() {
        let f = fused::Frozen::new(&net);
        let eta = 0.03;
        let ev = fused::evaluate(&f, &net);
        let mut e = net.clone();
        fused::euler_step(&f, &mut e, eta);
        let mut want = net.clone();
        for (x, v) in want.theta1.iter_mut().zip(&ev.vel1) {
            *x += eta * v;
        }
        for (x, v) in want.theta2.iter_mut().zip(&ev.vel2) {
            *x += eta * v;
        }
        assert_eq!(e, want);
        // RK4.
        let dt = 0.02;
        let vel = |th1: &[f64], th2: &[f64]| {
            let mut m = net.clone();
            m.theta1 = th1.to_vec();
            m.theta2 = th2.to_vec();
            let ev = fused::evaluate(&f, &m);
            (ev.vel1, ev.vel2)
        };
        let add = |y: &[f64], k: &[f64], c: f64| -> Vec<f64> {
            y.iter().zip(k).map(|(a, b)| a + c * b).collect()
        };
        let (y1, y2) = (net.theta1.clone(), net.theta2.clone());
        let k1 = vel(&y1, &y2);
        let k2 = vel(&add(&y1, &k1.0, 0.5 * dt), &add(&y2, &k1.1, 0.5 * dt));
        let k3 = vel(&add(&y1, &k2.0, 0.5 * dt), &add(&y2, &k2.1, 0.5 * dt));
        let k4 = vel(&add(&y1, &k3.0, dt), &add(&y2, &k3.1, dt));
        let comb = |y: &[f64], a: &[f64], b: &[f64], c: &[f64], e: &[f64]| -> Vec<f64> {
            (0..y.len())
                .map(|i| y[i] + dt / 6.0 * (a[i] + 2.0 * b[i] + 2.0 * c[i] + e[i]))
                .collect()
        };
        let mut r = net.clone();
        let mut s = fused::Rk4Scratch::new(&net);
        fused::rk4_step(&f, &mut r, &mut s, dt);
        assert_eq!(r.theta1, comb(&y1, &k1.0, &k2.0, &k3.0, &k4.0));
        assert_eq!(r.theta2, comb(&y2, &k1.1, &k2.1, &k3.1, &k4.1));
    }
}

#[test]
fn fused_is_thread_count_invariant() {
    let net = deep::init(3, 203, 4, Psi::Gd, 11);
    let f = fused::Frozen::new(&net);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut m = net.clone();
            let mut s = fused::Rk4Scratch::new(&m);
            fused::rk4_step(&f, &mut m, &mut s, 0.05);
            fused::euler_step(&f, &mut m, 0.05);
            let ev = fused::evaluate(&f, &m);
            // Many tiles of the symmetric node-pair pass (the default is one tile at N = 203).
            let r = fused::readout_tiled(&ev.v, &ev.c, m.n, m.d, 16);
            (m, ev, r)
        })
    };
    let (m1, e1, r1) = run(1);
    for t in [2, 3, 5] {
        let (m, e, r) = run(t);
        assert_eq!(r.risk.to_bits(), r1.risk.to_bits(), "{t} threads");
        assert_eq!(r.big_v, r1.big_v);
        assert_eq!(r.e, r1.e);
        assert_eq!(m, m1, "{t} threads");
        assert_eq!(e.risk.to_bits(), e1.risk.to_bits());
        assert_eq!(e.vel1, e1.vel1);
        assert_eq!(e.vel2, e1.vel2);
    }
}

/// Reruns this file's checks in a child process with each SIMD level forced (the level is
/// chosen once per process). Levels above the CPU's fall back and need no run.
#[test]
fn every_simd_level_within_the_bounds() {
    use mforacle::fast::simd::{level, Level};
    if std::env::var("MFORACLE_SIMD").is_ok() {
        return; // already a child
    }
    let levels: &[&str] = match level() {
        Level::Avx512 => &["portable", "avx2", "avx512"],
        Level::Avx2Fma => &["portable", "avx2"],
        Level::Portable => &["portable"],
    };
    let exe = std::env::current_exe().unwrap();
    for lv in levels {
        for t in [
            "psi_kernels_within_their_bounds",
            "pass_one_within_its_bound",
            "node_pairs_within_their_bound",
            "pass_two_within_its_bound",
            "fused_updates_are_the_textbook_steps",
            "pair_tile_rows_are_independent",
        ] {
            let o = std::process::Command::new(&exe)
                .args(["--exact", t, "--test-threads", "1"])
                .env("MFORACLE_SIMD", lv)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success() && out.contains("1 passed"),
                "{t} at level {lv}: {out}{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// The node-pair tile takes its rows two at a time (shared column loads and backward
/// accumulators): each row's forward sums must not depend on its partner, so a tile of many
/// rows (an even and an odd count, d = 8 and the generic d) gives, row by row, the bits of
/// one-row tiles over the same columns. (The backward sums are checked against the reference
/// within their bound by `node_pairs_within_their_bound` with small tiles.)
#[test]
fn pair_tile_rows_are_independent() {
    for (n, d) in [(45, 4), (64, 8), (37, 3), (40, 8)] {
        let net = deep::init(2, n, d, Psi::Gd, 5 + n as u64);
        let v = finite::node_vectors(&net);
        let mut vt = vec![0.0; n * d];
        for k in 0..n {
            for m in 0..d {
                vt[m * n + k] = v[k * d + m];
            }
        }
        let alpha: Vec<f64> = v
            .chunks(d)
            .map(|r| 1.0 / (1.0 + r.iter().map(|x| x * x).sum::<f64>()).sqrt())
            .collect();
        let c = &net.a;
        let w = d + 2;
        let cols = (n / 2, n);
        for rows in [(0, n / 2), (1, n / 2)] {
            let nr = rows.1 - rows.0;
            let mut fwd = vec![0.0; nr * w];
            let mut bwd = vec![0.0; (cols.1 - cols.0) * w];
            kern::pair_tile(&vt, &alpha, c, d, rows, cols, &mut fwd, &mut bwd);
            for j in rows.0..rows.1 {
                let mut f1 = vec![0.0; w];
                kern::pair_tile(&vt, &alpha, c, d, (j, j + 1), cols, &mut f1, &mut []);
                let got = &fwd[(j - rows.0) * w..(j - rows.0 + 1) * w];
                assert!(
                    got.iter().zip(&f1).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "row {j} of tile {rows:?}, n = {n}, d = {d}"
                );
            }
        }
    }
}
