//! `mforacle bench [--format json|table|csv]`: the fast path's standard speed cases.

use super::{emit, CliError, Format};
use crate::fast::{bench_cases, BenchCase};

#[derive(serde::Serialize)]
struct Doc {
    /// The SIMD level the run-time dispatch chose on this machine.
    simd: String,
    cases: Vec<BenchCase>,
    two_timescale: crate::two_timescale::bench::Case,
    deep: Vec<crate::deep::bench::Case>,
}

pub fn run(format: Format) -> Result<(), CliError> {
    let doc = Doc {
        simd: format!("{:?}", crate::fast::simd::level()),
        cases: bench_cases(),
        two_timescale: crate::two_timescale::bench::standard(),
        deep: crate::deep::bench::standard(),
    };
    let text = match format {
        Format::Json => {
            serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::Failure(format!("JSON: {e}")))?
                + "\n"
        }
        Format::Csv | Format::Table => {
            let mut t = String::from(
                "route,n,d,degree,threads,seconds_per_eval,gflops,gemm_gflops,ratio\n",
            );
            for c in &doc.cases {
                t.push_str(&format!(
                    "{},{},{},{},{},{:.6},{:.2},{:.2},{:.3}\n",
                    c.route,
                    c.n,
                    c.d,
                    c.degree,
                    c.threads,
                    c.seconds_per_eval,
                    c.gflops,
                    c.gemm_gflops,
                    c.gflops / c.gemm_gflops
                ));
            }
            t + &doc.two_timescale.csv() + &crate::deep::bench::csv(&doc.deep)
        }
    };
    emit(&text, None)
}
