//! Hermite-coefficient tables: the speed targets.
//!
//! `cargo bench --bench coeffs`. The headline number is the whole table c_0..c_100 of tanh at
//! 50 digits (target: at most 0.15 s on one core here). Also degree 200 at 100 digits, and the
//! closed-form relu and gelu tables.
use criterion::{criterion_group, criterion_main, Criterion};
use mforacle::activation::Spec;
use mforacle::coeffs::hermite_coefficients;
use std::time::Duration;

fn tables(c: &mut Criterion) {
    let mut g = c.benchmark_group("coefficient_tables");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, spec, degree, digits) in [
        ("tanh_k100_d50", "tanh", 100usize, 50u32),
        ("tanh_k200_d100", "tanh", 200, 100),
        ("relu_k100_d50", "relu", 100, 50),
        ("gelu_k100_d50", "gelu", 100, 50),
        ("relu_k1000_d50", "relu", 1000, 50),
    ] {
        let s = Spec::parse(spec).expect("valid spec");
        g.bench_function(name, |b| {
            b.iter(|| hermite_coefficients(&s, degree, digits).expect("table"))
        });
    }
    g.finish();
}

criterion_group!(benches, tables);
criterion_main!(benches);
