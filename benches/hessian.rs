//! Criterion benches of the local-Hessian module (src/hessian; proofs-notes/local-hessian.md §7).
//!
//! `cargo bench --bench hessian` runs, with sample_size(10):
//! - `sweep_h4_d256/interaction_free`: the self-concordance summary of h_4 at d = 256 to the
//!   default horizon T = 0.5·d = 128 (200 test particles, RK4 at h·Lip ≤ 0.05), f64;
//! - `sweep_h4_d256/flow`: the same along the reduced flow with interaction (50 panels = 1600 nodes,
//!   100 test particles, time grid 0.02: the command's defaults);
//! - `jacobian/N1024_d256`: one d×d tangent Jacobian of a finite-width neuron (O(Nd²)).

use criterion::{criterion_group, criterion_main, Criterion};
use mforacle::activation::Spec;
use mforacle::fast::{Kernel, LossScale, Problem};
use mforacle::hessian::{self, general, PowerSeries, SelfTerm};
use mforacle::meanfield::flow::{Layout, Tolerance};
use mforacle::meanfield::Model;
use mforacle::population::LossScale as PopScale;
use std::time::Duration;

fn model(d: usize) -> Model {
    let s = Spec::parse("he4").unwrap();
    Model::new(&s, &s, d, 30, 30, PopScale::Full, 0.0).unwrap()
}

fn sweeps(c: &mut Criterion) {
    let d = 256;
    let m = model(d);
    let t = 0.5 * d as f64;
    let psi = PowerSeries::new(m.psi.to_f64());
    let mut g = c.benchmark_group("sweep_h4_d256");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("interaction_free", |b| {
        b.iter(|| hessian::concordance_interaction_free(&psi, 1.0, d, t, 100, 0.9))
    });
    g.bench_function("flow", |b| {
        b.iter(|| {
            hessian::concordance_flow(
                &m,
                Layout {
                    panels: 50,
                    ..Layout::default()
                },
                Tolerance::new(1e-10),
                t,
                50,
                0.9,
                0.02,
            )
            .unwrap()
        })
    });
    g.finish();
}

fn jacobian(c: &mut Criterion) {
    let (n, d) = (1024, 256);
    let m = model(d);
    let mut w = vec![0.0; n * d];
    for i in 0..n {
        w[i * d + (i % d)] = 1.0;
    }
    let a = vec![1.0 / n as f64; n];
    let mut theta = vec![0.0; d];
    theta[0] = 0.6;
    theta[1] = 0.8;
    let p = Problem {
        w: &w,
        n,
        d,
        a: &a,
        theta: &theta,
        kappa: Kernel::PowerSeries(m.kappa.to_f64()),
        psi: Kernel::PowerSeries(m.psi.to_f64()),
        kappa_radial: Kernel::PowerSeries(m.kappa_radial.to_f64()),
        psi_radial: Kernel::PowerSeries(m.psi_radial.to_f64()),
        constant: 1.0,
        loss_scale: LossScale::Full,
    };
    c.bench_function("jacobian/N1024_d256", |b| {
        b.iter(|| general::tangent_jacobian(&p, 3, SelfTerm::Frozen))
    });
}

criterion_group!(benches, sweeps, jacobian);
criterion_main!(benches);
