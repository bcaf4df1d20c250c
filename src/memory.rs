//! Memory estimates made before allocating: a command whose memory grows with its inputs
//! estimates its peak first and refuses (a usage error, exit 2, with the estimate in the
//! message) what cannot fit, instead of aborting in the allocator (exit 134) or starting a job
//! that swaps for hours.
//!
//! Accuracy contract: an *estimate*, not a bound. Each command's model counts its large buffers
//! (f64 arrays, row vectors, the output text) per element, from the code, and is checked against
//! the peak resident size measured on one run (README "Reliability"). The arithmetic itself is
//! checked: an estimate that overflows u64 is reported as "more than 2^64 bytes" and refused,
//! never wrapped.
//!
//! The limit is the `MemAvailable` line of `/proc/meminfo` (what the kernel can give without
//! swapping). The environment variable `MFORACLE_MEMORY_LIMIT` (bytes, with an optional suffix
//! K, M, G or T, powers of 1024) replaces it, for tests and for machines without `/proc`.
//! Without either the check passes (nothing to compare with).

/// A byte count built with checked arithmetic: `None` means "more than `u64::MAX`".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub Option<u64>);

impl Bytes {
    pub const ZERO: Bytes = Bytes(Some(0));

    /// `count` items of `size` bytes each.
    pub fn items(count: usize, size: u64) -> Bytes {
        Bytes((count as u64).checked_mul(size))
    }

    pub fn plus(self, other: Bytes) -> Bytes {
        Bytes(self.0.zip(other.0).and_then(|(a, b)| a.checked_add(b)))
    }

    pub fn times(self, k: usize) -> Bytes {
        Bytes(self.0.and_then(|a| a.checked_mul(k as u64)))
    }
}

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => write!(f, "more than 2^64 bytes"),
            Some(b) => write!(f, "{}", human(b)),
        }
    }
}

/// Bytes in binary units with three significant digits ("1.50 GiB").
pub fn human(b: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{x:.2} {}", UNITS[u])
    }
}

/// Parses `MFORACLE_MEMORY_LIMIT`: digits with an optional K/M/G/T suffix (powers of 1024).
pub fn parse_limit(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 10),
        'M' => (&s[..s.len() - 1], 20),
        'G' => (&s[..s.len() - 1], 30),
        'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()?
        .checked_mul(1u64 << shift)
}

/// The memory a command may use and where that number comes from, or `Err` if
/// `MFORACLE_MEMORY_LIMIT` is set but malformed.
pub fn available() -> Result<Option<(u64, &'static str)>, String> {
    if let Ok(v) = std::env::var("MFORACLE_MEMORY_LIMIT") {
        return parse_limit(&v)
            .map(|b| Some((b, "MFORACLE_MEMORY_LIMIT")))
            .ok_or_else(|| {
                format!("MFORACLE_MEMORY_LIMIT={v}: expected a byte count such as 8G or 500M")
            });
    }
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return Ok(None);
    };
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .and_then(|kb| kb.checked_mul(1024))
        .map(|b| (b, "MemAvailable in /proc/meminfo")))
}

/// Refuses `need` if it exceeds the available memory: `Err` carries the one-line message
/// (`what` names the job, e.g. "population --random 100000000,64 --fast").
pub fn check(what: &str, need: Bytes) -> Result<(), String> {
    let Some((limit, source)) = available()? else {
        return Ok(());
    };
    match need.0 {
        Some(b) if b <= limit => Ok(()),
        _ => Err(format!(
            "{what} needs an estimated {need} of memory, more than the {} available ({source}; set MFORACLE_MEMORY_LIMIT to change the limit)",
            human(limit)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic_saturates_to_none() {
        assert_eq!(Bytes::items(usize::MAX, 16).0, None);
        assert_eq!(Bytes::items(3, 8).plus(Bytes::items(1, 1)).0, Some(25));
        assert_eq!(Bytes(Some(u64::MAX)).plus(Bytes::items(1, 1)).0, None);
        assert_eq!(Bytes(None).times(0).0, None);
        assert_eq!(human(1536), "1.50 KiB");
        assert_eq!(parse_limit("2G"), Some(2 << 30));
        assert_eq!(parse_limit("17"), Some(17));
        assert_eq!(parse_limit("99999999999T"), None);
        assert_eq!(parse_limit("x"), None);
        assert_eq!(parse_limit(""), None);
    }
}
