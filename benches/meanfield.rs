//! Benchmarks of the f64 reduced mean-field flow: the standard case h_4, d = 32, t = 15 at the
//! default layout (the `meanfield` command's default run), and one right-hand side's worth of
//! work at a non-polynomial kernel of degree 40.

use criterion::{criterion_group, criterion_main, Criterion};
use mforacle::activation::Spec;
use mforacle::meanfield::flow::{Flow, Layout, Tolerance};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;

fn model(spec: &str, d: usize) -> Model {
    let s = Spec::parse(spec).unwrap();
    Model::new(&s, &s, d, 40, 30, LossScale::Full, 0.0).unwrap()
}

fn bench(c: &mut Criterion) {
    let he4 = model("he4", 32);
    let mut g = c.benchmark_group("meanfield");
    g.sample_size(10);
    g.bench_function("he4_d32_t15_default", |b| {
        b.iter(|| {
            let mut f = Flow::new(&he4, Layout::default(), Tolerance::new(1e-10)).unwrap();
            f.advance_to(15.0).unwrap();
            f.loss()
        })
    });
    let np = model("5*(z^2*exp(-z^2)-sqrt(3)/9)", 32);
    g.bench_function("nonpolynomial_d32_t1_degree40", |b| {
        b.iter(|| {
            let mut f = Flow::new(&np, Layout::default(), Tolerance::new(1e-10)).unwrap();
            f.advance_to(1.0).unwrap();
            f.loss()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
