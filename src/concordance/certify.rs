//! `--certify`: a proved upper bound on sup R2 over [alpha-min, alpha-max] for the
//! interaction-free velocity ([`crate::hessian::certify_r2`], interval arithmetic), and on
//! β·R2 up to α = 1, with the statement printed next to it.
//!
//! Accuracy contract: `upper` is an enclosure (proved upper bound, outward rounding); `lower` is
//! a value R2 attains (a proved lower bound on the supremum); the gap between them is at most
//! `gap` relative.

use super::CertOut;
use crate::activation::Spec;
use crate::conventions::{usage, BoundKind, Error};
use crate::hessian::{certify_r2, CertifyError, Weight};
use crate::meanfield::Model;

pub fn certify(
    student: &Spec,
    teacher: &Spec,
    model: &Model,
    range: (f64, f64),
    gap: f64,
    digits: u32,
) -> Result<CertOut, Error> {
    let (alpha_min, alpha_max) = range;
    if !(gap > 0.0 && gap < 1.0) {
        return Err(usage(format!("--gap must be in (0, 1), got {}", gap)));
    }
    let prec = 128.max(crate::coeffs::digits_to_bits(digits.min(60)));
    let refuse = |e: CertifyError| -> Error {
        match e {
            CertifyError::NoSecondDerivative(why) => {
                let mut kinks = Vec::new();
                for (name, s) in [("student", student), ("teacher", teacher)] {
                    for k in s.kinks() {
                        kinks.push(format!(
                            "{name} {} has a kink at z = {:.6}",
                            s.source,
                            k.location(64).to_f64()
                        ));
                    }
                }
                let reason = if kinks.is_empty() {
                    why
                } else {
                    format!(
                        "{}: its second derivative is a Dirac mass there, so {why} \
                         (the sum of k^2 c_k c*_k diverges); --certify needs psi'' on the range",
                        kinks.join(", ")
                    )
                };
                usage(format!("--certify refused: {reason}"))
            }
            CertifyError::Budget(_) => Error::Failure(format!("--certify: {e}")),
            other => usage(format!("--certify: {other}")),
        }
    };
    let c = certify_r2(
        &model.psi,
        alpha_min,
        alpha_max,
        gap,
        Weight::R2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let cb = certify_r2(
        &model.psi,
        alpha_min,
        1.0,
        gap,
        Weight::BetaR2,
        prec,
        2_000_000,
    )
    .map_err(refuse)?;
    let statement = format!(
        "for every alpha in [{}, {}], R2(alpha) = |alpha|·||H||/||v|| of the interaction-free \
         velocity of this pair is <= {:e} (and some alpha has R2 >= {:e}); for every alpha in \
         [{}, 1], beta·R2 <= {:e}; R2 is unbounded on [alpha_min, 1) (beta·R2 -> 1 as alpha -> 1)",
        alpha_min, alpha_max, c.upper, c.lower, alpha_min, cb.upper
    );
    Ok(CertOut {
        alpha_min,
        alpha_max,
        upper: c.upper,
        lower: c.lower,
        argmax: c.argmax,
        gap,
        boxes: c.boxes + cb.boxes,
        order_of_psi_prime_at_zero: c.order_at_zero,
        beta_r2_upper_to_one: cb.upper,
        beta_r2_lower_to_one: cb.lower,
        statement,
        bound_kind: if model.exact {
            BoundKind::Enclosure
        } else {
            BoundKind::Estimate
        },
    })
}
