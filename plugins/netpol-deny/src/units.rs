//! Rows and columns of every pod-by-pod answer (matrix, probe, exposure, who-can-reach): one pod,
//! or pods no policy tells apart folded into one.

use std::collections::BTreeMap;

use netpol::{Cluster, GroupId, PodId};

/// A row or column: one pod, or pods no policy tells apart.
pub struct Unit {
    pub label: String,
    pub namespace: String,
    pub pods: Vec<PodId>,
    /// The owner all its pods share, if they share one.
    pub owner: Option<String>,
    pub group: GroupId,
}

pub struct Units(pub Vec<Unit>);

impl Units {
    /// Folds pods of the same engine group and the same owner, or none (unless `fold` is false);
    /// sorted by label.
    pub fn new(cluster: &Cluster, pods: &[PodId], fold: bool) -> Self {
        let mut by_group: BTreeMap<(GroupId, Option<&str>), Vec<PodId>> = BTreeMap::new();
        let mut singles = Vec::new();
        for &pod in pods {
            if fold {
                let key = (cluster.pods[pod].group, cluster.pods[pod].owner.as_deref());
                by_group.entry(key).or_default().push(pod);
            } else {
                singles.push(vec![pod]);
            }
        }
        singles.extend(by_group.into_values());
        let mut units: Vec<Unit> = singles
            .into_iter()
            .map(|pods| {
                let first = &cluster.pods[pods[0]];
                let namespace = cluster.namespaces[first.namespace].name.clone();
                let owner =
                    first.owner.clone().filter(|o| pods.iter().all(|&p| cluster.pods[p].owner.as_ref() == Some(o)));
                let label = match (pods.len(), &owner) {
                    (1, _) => cluster.pod_name(pods[0]),
                    (n, Some(owner)) => {
                        let owner_name = owner.split_once('/').map_or(owner.as_str(), |(_, name)| name);
                        format!("{namespace}/{owner_name} ({n} pods)")
                    }
                    (n, None) => format!("{} (+{} alike)", cluster.pod_name(pods[0]), n - 1),
                };
                Unit { label, namespace, owner, group: first.group, pods }
            })
            .collect();
        units.sort_by(|a, b| a.label.cmp(&b.label));
        Units(units)
    }

    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.0.iter().map(|u| u.group)
    }
}
