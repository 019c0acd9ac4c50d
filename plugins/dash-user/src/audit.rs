//! placeholder
use clap::Args;
use shared::cli::KubeArgs;
use shared::error::{Outcome, Result};
#[derive(Debug, Args)]
pub struct AuditCmd {}
impl AuditCmd {
    pub async fn run(self, _kube: &KubeArgs) -> Result<Outcome> { Ok(Outcome::Good) }
}
