//! Comparing secrets (client secrets, passwords) in constant time, so the time a failed
//! comparison takes does not tell an attacker how many leading bytes were right.

use subtle::ConstantTimeEq;

/// Whether two secrets are equal, in time independent of where they differ (only their lengths
/// may show).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "a"));
        assert!(secrets_equal("", ""));
    }
}
