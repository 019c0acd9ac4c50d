//! Placeholder: filled in by the netpol-deny work (issue 3).

use clap::Args;
use shared::cli::KubeArgs;
use shared::error::{Error, Outcome, Result};

#[derive(Args)]
pub struct ApplyCmd {}

impl ApplyCmd {
    pub async fn run(self, _kube: &KubeArgs) -> Result<Outcome> {
        Err(Error::other("not implemented yet"))
    }
}

#[derive(Args)]
pub struct AllowCmd {}

impl AllowCmd {
    pub async fn run(self, _kube: &KubeArgs) -> Result<Outcome> {
        Err(Error::other("not implemented yet"))
    }
}
