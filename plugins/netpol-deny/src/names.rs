//! The names of the objects this plugin writes: what the API server accepts, said before it is
//! asked.

use harden_cli::error::{Error, Result};

/// An object name: a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253).
pub fn validate_name(name: &str) -> Result<()> {
    if apimachinery::validation::is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid --name {name:?}: a NetworkPolicy name is at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"))
            .with_hint("e.g. --name allow-frontend-to-backend"))
    }
}
