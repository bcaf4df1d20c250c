//! Insta snapshots of the coefficient tables of every named function (degree 30, 40 digits)
//! and of a few composite specs. Snapshots live in `snapshots/` at the crate root and CI
//! never writes them (`INSTA_UPDATE=no`).
//!
//! A snapshot is only a regression guard; its values were reviewed against the independent
//! num-bigfloat path, and that review is repeated here on every run: before a table is
//! compared with its snapshot, each entry is checked against the bigfloat path (to its
//! 1e−32·S_σ contract, S_σ ≤ 3 here) and its own bound. A new snapshot therefore cannot be
//! accepted with a value the independent path disagrees with.

use mforacle::activation::Spec;
use mforacle::coeffs::bigfloat::bigfloat_coefficients_strings;
use mforacle::coeffs::hermite_coefficients;
use mforacle::output::render_with_bound;
use rug::Float;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

fn table_text(spec: &str) -> String {
    let s = Spec::parse(spec).unwrap();
    let t = hermite_coefficients(&s, 30, 40).unwrap();
    let reference = bigfloat_coefficients_strings(&s.expr, 30).unwrap();
    let mut out = format!("spec: {spec}\nroute: {}\n", t.routes.describe());
    for (c, r) in t.coefficients.iter().zip(&reference) {
        let b = Float::with_val(300, Float::parse(r).unwrap());
        let d = Float::with_val(300, &c.value - &b).abs();
        let allowed = Float::with_val(64, &c.abs_error_bound) + 3e-32;
        assert!(
            d <= allowed,
            "{spec}: c_{} disagrees with the bigfloat path by {d:.3e}",
            c.k
        );
        let (v, _, status) = if c.exact_zero {
            ("0".to_string(), String::new(), "exact")
        } else {
            render_with_bound(&c.value, &c.abs_error_bound, 40)
        };
        assert!(
            status == "ok" || status == "exact",
            "{spec}: c_{} is {status}",
            c.k
        );
        out.push_str(&format!("{:>2} {v}\n", c.k));
    }
    out
}

macro_rules! snap {
    ($name:ident, $spec:expr) => {
        #[test]
        fn $name() {
            let text = table_text($spec);
            settings().bind(|| insta::assert_snapshot!(stringify!($name), text));
        }
    };
}

snap!(relu, "relu");
snap!(abs, "abs");
snap!(step, "step");
snap!(sign, "sign");
snap!(erf, "erf");
snap!(tanh, "tanh");
snap!(sigmoid, "sigmoid");
snap!(softplus, "softplus");
snap!(gelu, "gelu");
snap!(silu, "silu");
snap!(sin, "sin");
snap!(cos, "cos");
snap!(exp, "exp");
snap!(log1p_z2, "log1p(z^2)");
snap!(he4, "he4");
snap!(ge4, "5*(z^2*exp(-z^2)-sqrt(3)/9)");
snap!(mixed, "0.3*relu(z-0.25)+sin(1.5*z)");
