//! Single-thread timings of the three row kernels of the deep fused path (pass 1
//! `psi_sums`, pass 2 with the Euler update `euler_row`, the node-pair tiles `pair_tile`), to
//! see where one velocity evaluation spends its time (`proofs-notes/deep-meanfield.md` §9):
//! `cargo run --release --example deep_kernels -- KERNEL N D REPEATS [ROWS]` with KERNEL one of
//! `p1`, `p2`, `pairs`; prints the best time in ns per trained edge (for `pairs`: per N² node
//! pairs, i.e. per edge of one evaluation) and a hash of the output bits (same bits ⇔ same
//! hash, to compare builds). ψ = gd, pseudo-random θ ~ N(0, 1.5²) and features, ROWS rows of θ
//! (default N).
use mforacle::fast::deep_edges as kern;
use std::time::Instant;

fn unif(s: &mut u64) -> f64 {
    *s = s
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*s >> 11) as f64) / (1u64 << 53) as f64
}

fn gauss(s: &mut u64) -> f64 {
    let (a, b) = (unif(s).max(1e-300), unif(s));
    (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
}

fn hash(x: &[f64]) -> u64 {
    x.iter().fold(0xcbf2_9ce4_8422_2325, |h, v| {
        (h ^ v.to_bits()).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| a.get(i).and_then(|x| x.parse::<usize>().ok());
    let (Some(n), Some(d), Some(reps)) = (num(1), num(2), num(3)) else {
        eprintln!("usage: deep_kernels p1|p2|pairs N D REPEATS [ROWS]");
        std::process::exit(2);
    };
    let which = a[0].as_str();
    let rows = num(4).unwrap_or(n).min(n);
    if n == 0 || d == 0 || reps == 0 || rows == 0 || !["p1", "p2", "pairs"].contains(&which) {
        eprintln!("usage: deep_kernels p1|p2|pairs N D REPEATS [ROWS] (all positive)");
        std::process::exit(2);
    }
    let mut s = 12_345u64;
    let ut: Vec<f64> = (0..n * d).map(|_| gauss(&mut s)).collect();
    let theta: Vec<f64> = (0..rows * n).map(|_| 1.5 * gauss(&mut s)).collect();
    let mut best = f64::INFINITY;
    let mut h = 0;
    for _ in 0..reps {
        match which {
            "p1" => {
                let mut out = vec![0.0; rows * d];
                let t0 = Instant::now();
                for (j, o) in out.chunks_mut(d).enumerate() {
                    kern::psi_sums(true, &theta[j * n..(j + 1) * n], &ut, o);
                }
                best = best.min(t0.elapsed().as_secs_f64());
                h = hash(&out);
            }
            "p2" => {
                let mut th = theta.clone();
                let vj: Vec<f64> = (0..d).map(|m| 0.1 * (m as f64 - 3.0)).collect();
                let t0 = Instant::now();
                for row in th.chunks_mut(n) {
                    kern::euler_row(true, row, &ut, &vj, 0.7, 0.01);
                }
                best = best.min(t0.elapsed().as_secs_f64());
                h = hash(&th);
            }
            _ => {
                let vt: Vec<f64> = ut.iter().map(|x| 0.6 * x).collect();
                let alpha: Vec<f64> = (0..n)
                    .map(|k| {
                        1.0 / (1.0 + (0..d).map(|m| vt[m * n + k].powi(2)).sum::<f64>()).sqrt()
                    })
                    .collect();
                let c: Vec<f64> = (0..n)
                    .map(|k| ((k * 7919) % 1000) as f64 / 500.0 - 1.0)
                    .collect();
                let tile = mforacle::deep::fused::pair_tile_size(n);
                let nt = n.div_ceil(tile);
                let w = d + 2;
                let range = |t: usize| (t * tile, ((t + 1) * tile).min(n));
                let mut all = Vec::new();
                let t0 = Instant::now();
                for x in 0..nt {
                    for y in x..nt {
                        let (rx, ry) = (range(x), range(y));
                        let mut fwd = vec![0.0; (rx.1 - rx.0) * w];
                        let mut bwd = vec![0.0; if x == y { 0 } else { (ry.1 - ry.0) * w }];
                        kern::pair_tile(&vt, &alpha, &c, d, rx, ry, &mut fwd, &mut bwd);
                        all.extend(fwd);
                        all.extend(bwd);
                    }
                }
                best = best.min(t0.elapsed().as_secs_f64());
                h = hash(&all);
            }
        }
    }
    let edges = if which == "pairs" { n * n } else { rows * n } as f64;
    println!(
        "{which} n={n} d={d} rows={rows} simd={:?} best {best:.6} s, {:.3} ns/edge, hash {h:016x}",
        mforacle::fast::simd::level(),
        best / edges * 1e9
    );
}
