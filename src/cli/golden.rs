//! `mforacle golden --suite NAME --out DIR` and
//! `mforacle check --suite NAME RESULTS_DIR [--golden DIR] [--format table|json|csv]`.
//!
//! `check` compares against the suite recomputed by the oracle, or, with `--golden DIR`,
//! against the expected values and tolerances stored there by `golden`. Exit codes: 0 all
//! quantities within tolerance, 1 some quantity out of tolerance (named on stderr), 2 malformed
//! input (unknown suite, missing or extra case or quantity, wrong shape, NaN or infinity, an
//! unreadable file).

use super::{emit, CliError, Format};
use crate::golden::{self, CheckReport};
use std::path::Path;

pub fn run_golden(suite: &str, out: &Path) -> Result<(), CliError> {
    let entry = golden::find_suite(suite)?;
    let count = golden::generate(entry, out)?;
    eprintln!(
        "mforacle: wrote suite {} ({count} files) to {}",
        entry.name,
        out.display()
    );
    Ok(())
}

fn table(r: &CheckReport) -> String {
    let wc = r
        .rows
        .iter()
        .map(|x| x.case.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let wq = r
        .rows
        .iter()
        .map(|x| x.quantity.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut t = format!(
        "{:wc$}  {:wq$}  {:>11}  {:>11}  {:>11}  {:>9}  {:10}  status\n",
        "case", "quantity", "max_abs_err", "max_rel_err", "tol@worst", "err/tol", "bound_kind"
    );
    for x in &r.rows {
        t.push_str(&format!(
            "{:wc$}  {:wq$}  {:>11.3e}  {:>11.3e}  {:>11.3e}  {:>9.3e}  {:10}  {}\n",
            x.case,
            x.quantity,
            x.max_abs_error,
            x.max_rel_error,
            x.tolerance_at_worst,
            x.max_error_over_tolerance,
            x.bound_kind,
            if x.pass { "pass" } else { "FAIL" }
        ));
    }
    let failed = r.failures().len();
    t.push_str(&format!(
        "suite {}: {} quantities, {} failed\n",
        r.suite,
        r.rows.len(),
        failed
    ));
    t
}

fn csv(r: &CheckReport) -> String {
    let mut t = String::from(
        "case,quantity,max_abs_error,max_rel_error,max_error_over_tolerance,tolerance_at_worst,worst_index,bound_kind,pass\n",
    );
    for x in &r.rows {
        let idx: Vec<String> = x.worst_index.iter().map(|i| i.to_string()).collect();
        t.push_str(&format!(
            "{},{},{:e},{:e},{:e},{:e},{},{},{}\n",
            x.case,
            x.quantity,
            x.max_abs_error,
            x.max_rel_error,
            x.max_error_over_tolerance,
            x.tolerance_at_worst,
            idx.join(" "),
            x.bound_kind,
            x.pass
        ));
    }
    t
}

pub fn run_check(
    suite: &str,
    results: &Path,
    golden_dir: Option<&Path>,
    format: Format,
) -> Result<(), CliError> {
    let entry = golden::find_suite(suite)?;
    let expected = match golden_dir {
        Some(dir) => golden::expected_from_dir(dir, entry.name)?,
        None => golden::expected_from_cases(&golden::build(entry)?),
    };
    let report = golden::check(entry.name, &expected, results)?;
    let text = match format {
        Format::Table => table(&report),
        Format::Csv => csv(&report),
        Format::Json => {
            serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::Failure(format!("JSON: {e}")))?
                + "\n"
        }
    };
    emit(&text, None)?;
    let failures = report.failures();
    if failures.is_empty() {
        Ok(())
    } else {
        let names: Vec<String> = failures
            .iter()
            .map(|x| {
                format!(
                    "{}/{} (error {:.3e} > tolerance {:.3e} at {:?})",
                    x.case, x.quantity, x.error_at_worst, x.tolerance_at_worst, x.worst_index
                )
            })
            .collect();
        Err(CliError::Failure(format!(
            "check failed: {} quantit{} out of tolerance: {}",
            failures.len(),
            if failures.len() == 1 { "y" } else { "ies" },
            names.join("; ")
        )))
    }
}
