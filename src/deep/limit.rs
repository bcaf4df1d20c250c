//! The infinite-width limit of the L = 2 model (placeholder while the finite-N slice lands).
