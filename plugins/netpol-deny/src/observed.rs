//! A real connection attempt beside the engine's verdict: one pair's attempt between live pods (or
//! why there is none), and how an observation reads against what the policies say. `probe` makes
//! them for a matrix, `can-reach --probe` for one pair.

use harden_cli::error::Result;
use harden_kube::probe::{Destination, Observed, Prober};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use netpol::{Cluster, PodId, Protocol};
use serde_json::{Value, json};

/// One pair, for `can-reach --probe`: the live pods read, then one attempt (or why not).
pub async fn probe_pair(
    client: &kube::Client,
    cluster: &Cluster,
    src: PodId,
    dst: PodId,
    verdict: &netpol::Verdict,
    prober: &Prober,
) -> Result<Observed> {
    let get = |pod: PodId| {
        let ns = cluster.namespaces[cluster.pods[pod].namespace].name.clone();
        let name = cluster.pods[pod].name.clone();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        async move { api.get(&name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading pod {ns}/{name}"))) }
    };
    let (s, d) = (get(src).await?, get(dst).await?);
    Ok(if verdict.protocol != Protocol::Tcp {
        Observed::NotProbed("only TCP is probed".into())
    } else if !running(&s) {
        Observed::NotProbed(format!("{} is not Running", show(&s)))
    } else if !running(&d) {
        Observed::NotProbed(format!("{} is not Running", show(&d)))
    } else {
        match cluster.pods[dst].ips.first() {
            Some(ip) => prober.probe(&s, Destination::Pod(&d, *ip), verdict.port).await,
            None => Observed::NotProbed(format!("{} has no IP", show(&d))),
        }
    })
}

/// `Probe (...): connected (as the policies say)` under the engine's explanation.
pub fn observed_line(observed: &Observed, expected: bool) -> String {
    let agreement = match (observed, expected) {
        (Observed::NotProbed(why), _) => format!("not probed: {why}"),
        (observed, expected) if !observed.differs(expected) => match observed.detail() {
            Some(detail) => format!("as the policies say; {detail}"),
            None => "as the policies say".to_string(),
        },
        (observed, _) => format!("DIFFERS: {}", difference(observed)),
    };
    format!("\nProbe (a real TCP connection attempt from the source pod): {} ({agreement})\n", observed.word())
}

/// Why an observation contradicts the policies, and where to look.
pub fn difference(observed: &Observed) -> String {
    match observed {
        Observed::Connected => {
            "connected although the policies deny it (is NetworkPolicy enforced here? try `kubectl netpol-deny doctor`)"
                .to_string()
        }
        Observed::NothingListening(detail) => format!(
            "the packet arrived although the policies deny it: {detail} (is NetworkPolicy enforced here? try \
             `kubectl netpol-deny doctor`)"
        ),
        Observed::Blocked(_) => format!(
            "{} although the policies allow it{} (a firewall, the CNI, or an object the engine does not model)",
            observed.word(),
            observed.detail().map(|d| format!(": {d}")).unwrap_or_default()
        ),
        Observed::NotProbed(why) => format!("not probed: {why}"),
    }
}

pub fn observed_json(observed: &Observed, expected: bool) -> Value {
    let mut value = observed.json();
    value["differs"] = json!(observed.differs(expected));
    value
}

pub fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

pub fn show(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or(""), pod.metadata.name.as_deref().unwrap_or(""))
}
