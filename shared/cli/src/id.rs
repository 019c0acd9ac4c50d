//! Short random ids for the names of objects a run makes (`kube-bench-node-w1-k3x9q-0`,
//! `netpol-doctor-k3x9q`, `verify-bin-k3x9q`), so two runs never collide.

use std::hash::{BuildHasher, Hasher};

/// Five base-36 characters (lower-case letters and digits, a valid DNS label part), from the clock,
/// the process id and the standard library's random hasher seed.
pub fn short() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    let mut n = hasher.finish();
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..5)
        .map(|_| {
            let c = digits[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_short_dns_label_parts_and_differ() {
        let id = super::short();
        assert_eq!(id.len(), 5);
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert!((0..20).map(|_| super::short()).any(|other| other != id));
    }
}
