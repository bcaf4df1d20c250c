//! Criterion bench of the population oracle (src/population.rs; proofs-notes/population.md).
//!
//! `cargo bench --bench population` times, for N = 16 neurons in d = 64 at 30 digits, the
//! oracle's set-up (coefficient tables and kernels: `new/…`) and one evaluation of loss,
//! gradients and velocity (`evaluate/…`), for a polynomial pair, relu–relu (closed form) and
//! tanh against he3 (a truncated series). It replaces a timing that used to live in the tests.

use criterion::{criterion_group, criterion_main, Criterion};
use mforacle::activation::Spec;
use mforacle::population::{Oracle, Teacher};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::Float;
use std::time::Duration;

fn unit(rng: &mut ChaCha8Rng, d: usize) -> Vec<Float> {
    let n = statrs::distribution::Normal::standard();
    let g: Vec<f64> = (0..d).map(|_| rng.sample(n)).collect();
    let r = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    g.iter().map(|x| Float::with_val(53, x / r)).collect()
}

fn oracle(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut g = c.benchmark_group("population_oracle_n16_d64");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (s, t, deg) in [
        ("he4", "0.6*he4+0.3*he6", 20),
        ("relu", "relu", 60),
        ("tanh", "he3", 100),
    ] {
        let (s, t) = (Spec::parse(s).unwrap(), Spec::parse(t).unwrap());
        let teacher = Teacher::single_index(t.clone(), unit(&mut rng, 64));
        let w: Vec<Vec<Float>> = (0..16).map(|_| unit(&mut rng, 64)).collect();
        let a = vec![Float::with_val(64, 1) / 16u32; 16];
        let name = format!("{}-{}", s.source, t.source);
        g.bench_function(format!("new/{name}"), |b| {
            b.iter(|| Oracle::new(&s, &teacher.specs(), deg, 30).unwrap())
        });
        let o = Oracle::new(&s, &teacher.specs(), deg, 30).unwrap();
        g.bench_function(format!("evaluate/{name}"), |b| {
            b.iter(|| o.evaluate(&a, &w, &teacher).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, oracle);
criterion_main!(benches);
