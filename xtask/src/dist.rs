//! `cargo xtask dist`: release archives and rendered krew manifests (filled in by the krew work, issue 9).

pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask dist is not implemented yet")
}
