//! The conventions every layer shares: the loss scale, the projected-GD update rules, the
//! error family, and the conventions text that outputs carry.
//!
//! This is the bottom layer: it imports nothing from the crate, and every other module takes
//! these definitions from here (re-exported where older paths are public, e.g.
//! `population::LossScale`, `fast::Update`), so that there is exactly one of each. The
//! mathematics behind them is stated in `docs/conventions.md` (§1 Hermite basis and loss,
//! §3 gradients and updates).
//!
//! Exit codes are not decided here: [`Error`] only says whether a failure is the caller's
//! (`Usage`) or not (`Failure`); the command line maps those to exit codes 2 and 1.

/// Default loss E[(f − y)²] (no ½), or half of it. The half scale halves the loss, every
/// gradient and the velocity: one step of the half scale is mean-field time η/2 of the default
/// flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LossScale {
    /// E[(f − y)²] (the default; no ½)
    #[default]
    Full,
    /// ½E[(f − y)²]
    Half,
}

impl LossScale {
    /// 1 or ½ (multiplying by either is exact in binary floating point).
    pub fn factor(self) -> f64 {
        match self {
            LossScale::Full => 1.0,
            LossScale::Half => 0.5,
        }
    }

    /// The name used on the command line and in outputs: `full` or `half`.
    pub fn name(self) -> &'static str {
        match self {
            LossScale::Full => "full",
            LossScale::Half => "half",
        }
    }

    /// The scale called `name` (inverse of [`LossScale::name`]).
    pub fn from_name(name: &str) -> Option<LossScale> {
        [LossScale::Full, LossScale::Half]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Projected-GD update rules, all with learning rate ηN on the weights (one step is
/// mean-field time η). All three move w along the same great circle; Euclidean and Tangent
/// differ at O(η²), Tangent and Geodesic at O(η³) (proofs-notes/population.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Update {
    /// w ← w − ηN(g + ρw), then normalise (the primary paper's code).
    Euclidean,
    /// w ← w − ηN g, then normalise.
    Tangent,
    /// The exponential map.
    Geodesic,
}

impl Update {
    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Update::Euclidean => "euclidean",
            Update::Tangent => "tangent",
            Update::Geodesic => "geodesic",
        }
    }

    /// The rule called `name` (inverse of [`Update::name`]).
    pub fn from_name(name: &str) -> Option<Update> {
        [Update::Euclidean, Update::Tangent, Update::Geodesic]
            .into_iter()
            .find(|u| u.name() == name)
    }
}

/// The default horizon max(ln d, 0.5·d^{k/2−1}) of the primary paper's sweeps, for dimension d
/// and information exponent k (docs/conventions.md §7); `--t-end auto` and the recipes use it.
pub fn default_horizon(d: usize, k: usize) -> f64 {
    (d as f64)
        .ln()
        .max(0.5 * (d as f64).powf(k as f64 / 2.0 - 1.0))
}

/// What a printed error bound is: the crate's three kinds, one type for every layer
/// (coefficients, kernels, population, flows and the rows).
///
/// - `Exact`: the value is exact; the bound is only the rounding of the exact value to the
///   printed one.
/// - `Enclosure`: proven, truth ∈ value ± bound: every rounding outward (interval/ball
///   arithmetic), or an a-priori rounding analysis proven in a proofs-note and evaluated with
///   upward rounding, and every input itself exact or an enclosure.
/// - `Estimate`: a-posteriori (a quadrature's level difference, a step-halving or
///   node-refinement difference, a first-order propagation), checked against independent
///   routes but not proven.
///
/// The kinds are ordered by strength, `Exact < Enclosure < Estimate`; a result computed from
/// several inputs has the weakest of their kinds ([`BoundKind::weakest`]), and a rounded
/// result from exact inputs is at best an enclosure ([`BoundKind::rounded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundKind {
    /// The value is exact.
    Exact,
    /// Proven: truth ∈ value ± bound.
    Enclosure,
    /// Not proven.
    Estimate,
}

impl BoundKind {
    /// `exact`, `enclosure` or `estimate`, as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            BoundKind::Exact => "exact",
            BoundKind::Enclosure => "enclosure",
            BoundKind::Estimate => "estimate",
        }
    }

    /// The kind of a result that depends on both `self` and `other`: the weaker one.
    pub fn weakest(self, other: BoundKind) -> BoundKind {
        self.max(other)
    }

    /// The weakest kind of a list (`Exact` for an empty one).
    pub fn weakest_of(kinds: impl IntoIterator<Item = BoundKind>) -> BoundKind {
        kinds.into_iter().fold(BoundKind::Exact, BoundKind::weakest)
    }

    /// The kind of a result computed from inputs of kind `self` with rounded operations whose
    /// errors the bound covers: `Exact` becomes `Enclosure`, the others stay.
    pub fn rounded(self) -> BoundKind {
        self.weakest(BoundKind::Enclosure)
    }
}

/// Why a computation could not give an answer: the input was wrong (`Usage`: the caller can
/// fix it; exit code 2 on the command line) or something else failed (`Failure`: exit code 1).
/// The message is one line, without a trailing period, naming the offending input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failure(String),
}

impl Error {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::Usage(m) | Error::Failure(m) => m,
        }
    }
}

/// A usage error (bad input).
pub fn usage(m: impl Into<String>) -> Error {
    Error::Usage(m.into())
}

/// A failure that is not the caller's.
pub fn failure(m: impl Into<String>) -> Error {
    Error::Failure(m.into())
}

/// The Hermite convention, as printed next to coefficient tables.
pub const HERMITE: &str =
    "c_k = E[f(Z) h_k(Z)], Z ~ N(0,1), h_k = He_k/sqrt(k!) (normalised probabilists' Hermite)";

/// The command line's one-paragraph statement of the conventions (`mforacle --help`).
pub const SUMMARY: &str =
    "Conventions: normalised probabilists' Hermite basis h_k = He_k/sqrt(k!), \
                  c_k(f) = E[f(Z) h_k(Z)] with Z ~ N(0,1); loss without 1/2.";

/// The population conventions carried by golden files (what a backend must compute).
pub const POPULATION: &str = "Hermite: h_k = He_k/sqrt(k!) (normalised probabilists'), c_k(f) = E[f(Z) h_k(Z)], Z ~ N(0,1). \
Kernels: kappa_{sigma,tau}(s) = sum_k c_k(sigma) c_k(tau) s^k. Population: x ~ N(0, I_d), f(x) = sum_i a_i sigma(<w_i,x>), \
teacher y = sigma*(<theta,x>), loss E[(f - y)^2] (no 1/2), tangent gradient g_i = P_i grad_{w_i} L, \
radial gradient rho_i = <w_i, grad_{w_i} L> (true x-gradient, j = i term included), velocity v_i = -g_i/a_i; \
one projected-GD step has learning rate eta*N. Arrays are float64, C order.";

/// The conventions of a recipe run, as the (key, text) pairs of its manifest.
pub const MANIFEST: [(&str, &str); 7] = [
    (
        "hermite",
        "normalised probabilists' h_k = He_k/sqrt(k!); c_k = E[f(Z) h_k(Z)]",
    ),
    ("loss", "L = E[(f(x) - y)^2], no 1/2 (loss_scale full)"),
    (
        "learning_rate",
        "eta*N on the weights (mean-field scaling), a_i = 1/N fixed",
    ),
    ("time", "t = steps * eta"),
    (
        "update",
        "Euclidean step then normalise (the paper's), unless the recipe says otherwise",
    ),
    (
        "reference",
        "the exact reduced mean-field flow from the uniform law (docs/conventions.md section 4)",
    ),
    (
        "draws",
        "draw r of seed S is `mforacle train ... --seed S+r --draws 1`",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    /// Names round-trip, and the command line's spelling (clap's value names) is the same
    /// `name()` that outputs and checkpoints carry, so a checkpoint's `update`/`loss_scale`
    /// strings parse back to the rule the command line chose.
    #[test]
    fn names_round_trip_and_match_the_command_line() {
        for s in LossScale::value_variants() {
            assert_eq!(LossScale::from_name(s.name()), Some(*s));
            let pv = s.to_possible_value().unwrap();
            assert_eq!(pv.get_name(), s.name());
        }
        for u in Update::value_variants() {
            assert_eq!(Update::from_name(u.name()), Some(*u));
            let pv = u.to_possible_value().unwrap();
            assert_eq!(pv.get_name(), u.name());
        }
        assert_eq!(LossScale::from_name("quarter"), None);
        assert_eq!(Update::from_name("Euclidean"), None);
        assert_eq!(LossScale::Half.factor() * 2.0, LossScale::Full.factor());
    }

    /// The combination rule: a result is no stronger than its weakest input, and rounding an
    /// exact input gives at best an enclosure.
    #[test]
    fn bound_kinds_combine_to_the_weakest() {
        use BoundKind::*;
        let all = [Exact, Enclosure, Estimate];
        for a in all {
            for b in all {
                let w = a.weakest(b);
                assert!(w >= a && w >= b && (w == a || w == b));
            }
            assert_eq!(a.rounded(), if a == Exact { Enclosure } else { a });
        }
        assert_eq!(
            BoundKind::weakest_of([Exact, Estimate, Enclosure]),
            Estimate
        );
        assert_eq!(BoundKind::weakest_of([]), Exact);
        assert_eq!(serde_json::to_string(&Enclosure).unwrap(), "\"enclosure\"");
        assert_eq!(Estimate.as_str(), "estimate");
    }
}
