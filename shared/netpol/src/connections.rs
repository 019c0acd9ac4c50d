//! Connection sets: for every pair of groups, every protocol and port the policies allow at once
//! (`TCP 80,443`, `All`), instead of one port at a time.
//!
//! Ports are not tried one by one. Every port number a policy can tell apart is a boundary: the
//! start and the end + 1 of each NetworkPolicy port or range and of each cluster-policy port or
//! range, and every named container port of a pod (named ports in rules resolve to those numbers
//! on the destination). Between two boundaries every port of a protocol gets the same answer from
//! every rule; intervals covered by the same port specs (say 1-79 and 81-442 when only 80 and 443
//! are named) get the same answer too, so one matrix per such class (its first port) decides all
//! of its intervals. Each cell keeps the index of its distinct answer pattern, so memory follows
//! cells, not cells × classes.

use std::collections::HashMap;
use std::fmt;

use crate::matrix::Matrix;
use crate::model::{Cluster, GroupId, PortRef};
use crate::tier::TierPort;
use crate::{Cell, PortQuery, Protocol};

/// The protocols a connection set covers, in the order it prints them.
pub const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// A set of ports per protocol: sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionSet {
    /// Indexed as [`PROTOCOLS`].
    pub ranges: [Vec<(u16, u16)>; 3],
}

fn protocol_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

impl ConnectionSet {
    /// Every port of every protocol.
    pub fn all() -> Self {
        Self { ranges: [vec![(1, 65535)], vec![(1, 65535)], vec![(1, 65535)]] }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.ranges.iter().all(|r| r.as_slice() == [(1, 65535)])
    }

    pub fn contains(&self, port: u16, protocol: Protocol) -> bool {
        self.ranges[protocol_index(protocol)].iter().any(|&(a, b)| (a..=b).contains(&port))
    }

    /// Adds `start..=end` of a protocol; ranges must be added in increasing order per protocol.
    fn push(&mut self, protocol: Protocol, start: u16, end: u16) {
        let ranges = &mut self.ranges[protocol_index(protocol)];
        match ranges.last_mut() {
            Some(last) if u32::from(last.1) + 1 == u32::from(start) => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }

    /// The ranges of one protocol.
    pub fn of(&self, protocol: Protocol) -> &[(u16, u16)] {
        &self.ranges[protocol_index(protocol)]
    }
}

fn write_ranges(f: &mut fmt::Formatter<'_>, ranges: &[(u16, u16)]) -> fmt::Result {
    for (i, &(a, b)) in ranges.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        if a == b { write!(f, "{a}")? } else { write!(f, "{a}-{b}")? }
    }
    Ok(())
}

/// `All`, `None`, or per protocol `TCP 80,443`, `TCP 1-65535 except 22`, joined by `; `.
impl fmt::Display for ConnectionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All");
        }
        if self.is_empty() {
            return f.write_str("None");
        }
        let mut first = true;
        for (i, ranges) in self.ranges.iter().enumerate() {
            if ranges.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{} ", PROTOCOLS[i])?;
            let (lo, hi) = (ranges[0].0, ranges[ranges.len() - 1].1);
            if lo == 1 && hi == 65535 {
                // Both ends are in: the gaps are the shorter way to say it.
                f.write_str("1-65535")?;
                if ranges.len() > 1 {
                    let gaps: Vec<(u16, u16)> = ranges.windows(2).map(|w| (w[0].1 + 1, w[1].0 - 1)).collect();
                    f.write_str(" except ")?;
                    write_ranges(f, &gaps)?;
                }
            } else {
                write_ranges(f, ranges)?;
            }
        }
        Ok(())
    }
}

/// A cell's answer: what some possible evaluation allows, and the part of it that another
/// possible evaluation denies (cluster policies of one priority, peers not evaluated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Connections {
    pub allowed: ConnectionSet,
    /// A subset of `allowed`; empty when the whole answer is certain.
    pub uncertain: ConnectionSet,
}

impl Connections {
    pub fn certain(&self) -> bool {
        self.uncertain.is_empty()
    }
}

/// `TCP 80,443`, and `TCP 80,443 (uncertain: TCP 443)` when part of it is uncertain.
impl fmt::Display for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.allowed)?;
        if !self.certain() {
            write!(f, " (uncertain: {})", self.uncertain)?;
        }
        Ok(())
    }
}

/// The connection sets between a list of groups. Row = source, column = destination.
#[derive(Debug, Clone)]
pub struct ConnectionMatrix {
    pub groups: Vec<GroupId>,
    /// The distinct answers, sorted; [`ConnectionMatrix::cell`] indexes them.
    pub sets: Vec<Connections>,
    /// Per protocol, the first port of each interval the computation used.
    pub intervals: [Vec<u16>; 3],
    cells: Vec<u32>,
}

impl ConnectionMatrix {
    /// The index into [`ConnectionMatrix::sets`] of the cell between the groups at positions
    /// `from` and `to` of [`ConnectionMatrix::groups`] (two different pods of them).
    pub fn cell(&self, from: usize, to: usize) -> usize {
        self.cells[from * self.groups.len() + to] as usize
    }

    pub fn connections(&self, from: usize, to: usize) -> &Connections {
        &self.sets[self.cell(from, to)]
    }

    /// The indices into [`ConnectionMatrix::sets`] of a row's cells, column by column.
    pub fn row(&self, from: usize) -> &[u32] {
        let n = self.groups.len();
        &self.cells[from * n..(from + 1) * n]
    }
}

/// How the ports of every protocol split into intervals whose ports every rule answers alike, and
/// which intervals answer alike as well (a class): those covered by the same port specs of the
/// policies. A named container port's number is an interval, and a class, of its own.
#[derive(Debug, Clone)]
pub struct PortClasses {
    /// Per protocol (as [`PROTOCOLS`]), the sorted first port of each interval.
    pub starts: [Vec<u16>; 3],
    /// Per protocol and interval, its class.
    pub class: [Vec<usize>; 3],
    /// Per class, the port and protocol the engine is asked about for it.
    pub representative: Vec<(u16, Protocol)>,
}

impl Cluster {
    /// Per protocol, the sorted first ports of the intervals inside which every rule of every
    /// policy answers the same for every pod (see the module documentation).
    pub fn port_intervals(&self) -> [Vec<u16>; 3] {
        self.port_classes().starts
    }

    /// The intervals (see [`Cluster::port_intervals`]) and their classes: intervals covered by the
    /// same port specs (numbers, ranges, whole protocols) get the same answer from every rule, so
    /// one matrix answers for all of them.
    pub fn port_classes(&self) -> PortClasses {
        // Every numbered port spec as (protocol, start, end); a whole protocol is 1-65535.
        let mut specs: Vec<(usize, u16, u16)> = Vec::new();
        for policy in &self.policies {
            for rule in policy.ingress.iter().chain(&policy.egress) {
                for spec in &rule.ports {
                    let p = protocol_index(spec.protocol);
                    match (&spec.port, spec.end_port) {
                        (Some(PortRef::Number(start)), Some(end)) => specs.push((p, *start, end)),
                        (Some(PortRef::Number(n)), None) => specs.push((p, *n, *n)),
                        (None, _) => specs.push((p, 1, 65535)),
                        // Names resolve to the pods' container ports, added below.
                        (Some(PortRef::Name(_)), _) => {}
                    }
                }
            }
        }
        for policy in &self.tiers.policies {
            for rule in policy.ingress.iter().chain(&policy.egress) {
                for port in &rule.ports {
                    if let TierPort::Range { protocol, start, end } = port {
                        specs.push((protocol_index(*protocol), *start, *end));
                    }
                }
            }
        }
        specs.sort_unstable();
        specs.dedup();
        let mut named: Vec<(usize, u16)> = Vec::new();
        for pod in &self.pods {
            for port in &pod.named_ports {
                named.push((protocol_index(port.protocol), port.port));
            }
        }
        named.sort_unstable();
        named.dedup();
        let mut starts: [Vec<u32>; 3] = [vec![1], vec![1], vec![1]];
        for &(p, start, end) in &specs {
            starts[p].push(u32::from(start));
            starts[p].push(u32::from(end) + 1);
        }
        for &(p, port) in &named {
            starts[p].push(u32::from(port));
            starts[p].push(u32::from(port) + 1);
        }
        let starts: [Vec<u16>; 3] = starts.map(|mut s| {
            s.retain(|&port| port <= 65535);
            s.sort_unstable();
            s.dedup();
            s.into_iter().map(|port| port as u16).collect()
        });
        // A class is the list of specs covering the interval, or a named port's own number.
        #[derive(PartialEq, Eq, Hash)]
        enum Key {
            Specs(Vec<u32>),
            Named(usize, u16),
        }
        let mut classes: HashMap<Key, usize> = HashMap::new();
        let mut representative = Vec::new();
        let mut class: [Vec<usize>; 3] = Default::default();
        for (p, protocol_starts) in starts.iter().enumerate() {
            for &start in protocol_starts {
                let key = if named.binary_search(&(p, start)).is_ok() {
                    Key::Named(p, start)
                } else {
                    Key::Specs(
                        specs
                            .iter()
                            .enumerate()
                            .filter(|(_, (q, a, b))| *q == p && (*a..=*b).contains(&start))
                            .map(|(i, _)| i as u32)
                            .collect(),
                    )
                };
                let id = *classes.entry(key).or_insert_with(|| {
                    representative.push((start, PROTOCOLS[p]));
                    representative.len() - 1
                });
                class[p].push(id);
            }
        }
        PortClasses { starts, class, representative }
    }

    /// The connection sets between `groups` (see [`Cluster::groups_of`]): one [`Cluster::matrix`]
    /// per class of port intervals, each cell's answers over the classes made into a pattern.
    pub fn connections(&self, groups: &[GroupId]) -> ConnectionMatrix {
        let n = groups.len();
        let classes = self.port_classes();
        let mut work = crate::matrix::Work::new(self);
        // With up to 64 classes a cell's pattern is a pair of bit masks, read 64 cells at a time
        // from every class's matrix kept at once; past that (or past the memory this would take),
        // the patterns grow one class at a time.
        let bytes_per_matrix = n * n.div_ceil(64) * 8;
        let (patterns, mut cells) = if classes.representative.len() <= 64
            && classes.representative.len() * bytes_per_matrix <= KEPT_MATRICES_BYTES
        {
            let matrices: Vec<Matrix> = classes
                .representative
                .iter()
                .map(|&(port, protocol)| self.matrix_in(&mut work, groups, &PortQuery::new(port, protocol)))
                .collect();
            patterns_by_masks(&matrices, n)
        } else {
            patterns_class_by_class(self, &mut work, groups, &classes)
        };
        let mut sets = Vec::with_capacity(patterns.len());
        for pattern in &patterns {
            let mut out = Connections::default();
            for (p, starts) in classes.starts.iter().enumerate() {
                for (i, &start) in starts.iter().enumerate() {
                    let end = starts.get(i + 1).map_or(65535, |&next| next - 1);
                    match pattern[classes.class[p][i]] {
                        1 => out.allowed.push(PROTOCOLS[p], start, end),
                        2 => {
                            out.allowed.push(PROTOCOLS[p], start, end);
                            out.uncertain.push(PROTOCOLS[p], start, end);
                        }
                        _ => {}
                    }
                }
            }
            sets.push(out);
        }
        // Different patterns can make the same set (adjacent intervals merge): one index per set,
        // so that callers may compare indices; sorted, so that the same answer has the same
        // indices whatever order the groups came in (live or from files).
        let mut distinct: Vec<Connections> = sets.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let remap: Vec<u32> = sets.iter().map(|set| distinct.binary_search(set).unwrap_or_default() as u32).collect(); // always found
        for cell in &mut cells {
            *cell = remap[*cell as usize];
        }
        ConnectionMatrix { groups: groups.to_vec(), sets: distinct, intervals: classes.starts, cells }
    }
}

/// How much memory the matrices of every class may take at once (see [`Cluster::connections`]).
const KEPT_MATRICES_BYTES: usize = 192 << 20;

/// A cell's state in one class: 0 denied, 1 allowed, 2 allowed but uncertain.
type Pattern = Vec<u8>;

/// The patterns and each cell's pattern, from the matrices of every class (at most 64): for each
/// row and 64 columns, the classes' words are transposed so that each column's word holds its
/// allowed classes (and another its uncertain ones); a run of 64 cells where every class is all
/// or nothing is one pattern.
fn patterns_by_masks(matrices: &[Matrix], n: usize) -> (Vec<Pattern>, Vec<u32>) {
    let k = matrices.len();
    let any_uncertain = matrices.iter().any(Matrix::any_uncertain);
    let mut index: HashMap<(u64, u64), u32, std::hash::BuildHasherDefault<MaskHasher>> = HashMap::default();
    let mut masks: Vec<(u64, u64)> = Vec::new();
    let mut intern = |key: (u64, u64)| -> u32 {
        *index.entry(key).or_insert_with(|| {
            masks.push(key);
            (masks.len() - 1) as u32
        })
    };
    let mut cells: Vec<u32> = vec![0; n * n];
    let mut allowed = [0u64; 64];
    let mut uncertain = [0u64; 64];
    for row in 0..n {
        let rows: Vec<(&[u64], Option<&[u64]>)> = matrices.iter().map(|m| m.row_words(row)).collect();
        let out = &mut cells[row * n..(row + 1) * n];
        for (w, cells) in out.chunks_mut(64).enumerate() {
            let full = if cells.len() == 64 { u64::MAX } else { (1u64 << cells.len()) - 1 };
            allowed[..k].iter_mut().zip(&rows).for_each(|(a, r)| *a = r.0[w]);
            let certain = !any_uncertain || rows.iter().all(|r| r.1.is_none_or(|u| u[w] == 0));
            if certain && allowed[..k].iter().all(|&a| a == 0 || a == full) {
                let mask = allowed[..k].iter().enumerate().fold(0u64, |m, (c, &a)| m | (u64::from(a != 0) << c));
                cells.fill(intern((mask, 0)));
                continue;
            }
            allowed[k..].fill(0);
            crate::bits::transpose64(&mut allowed);
            if certain {
                uncertain.fill(0);
            } else {
                uncertain[..k].iter_mut().zip(&rows).for_each(|(u, r)| *u = r.1.map_or(0, |u| u[w]));
                uncertain[k..].fill(0);
                crate::bits::transpose64(&mut uncertain);
            }
            let mut last: Option<((u64, u64), u32)> = None;
            for (j, cell) in cells.iter_mut().enumerate() {
                let key = (allowed[j], uncertain[j]);
                *cell = match last {
                    Some((previous, id)) if previous == key => id,
                    _ => {
                        let id = intern(key);
                        last = Some((key, id));
                        id
                    }
                };
            }
        }
    }
    let patterns = masks
        .iter()
        .map(|&(allowed, uncertain)| {
            (0..k).map(|c| if uncertain >> c & 1 == 1 { 2 } else { (allowed >> c & 1) as u8 }).collect()
        })
        .collect();
    (patterns, cells)
}

/// The patterns one class at a time: each cell's pattern is followed by its state in the next
/// class, a transition made once per pattern and state.
fn patterns_class_by_class(
    cluster: &Cluster,
    work: &mut crate::matrix::Work<'_>,
    groups: &[GroupId],
    classes: &PortClasses,
) -> (Vec<Pattern>, Vec<u32>) {
    let n = groups.len();
    let mut patterns: Vec<Pattern> = vec![Vec::new()];
    let mut cells: Vec<u32> = vec![0; n * n];
    for &(port, protocol) in &classes.representative {
        let matrix = cluster.matrix_in(work, groups, &PortQuery::new(port, protocol));
        // Pattern `id` followed by state `s` becomes `next[id][s]`, made once.
        let mut next: Vec<[u32; 3]> = vec![[u32::MAX; 3]; patterns.len()];
        let mut grown: Vec<Pattern> = Vec::with_capacity(patterns.len());
        let uncertain_any = matrix.any_uncertain();
        for (from, row) in cells.chunks_mut(n.max(1)).enumerate() {
            for (to, cell) in row.iter_mut().enumerate() {
                // A numbered query always resolves: no NoSuchPort.
                let state = match matrix.cell(from, to) {
                    Cell::Allowed if uncertain_any && !matrix.certain(from, to) => 2u8,
                    Cell::Allowed => 1,
                    Cell::Denied | Cell::NoSuchPort => 0,
                };
                let slot = &mut next[*cell as usize][state as usize];
                if *slot == u32::MAX {
                    let mut pattern = patterns[*cell as usize].clone();
                    pattern.push(state);
                    *slot = grown.len() as u32;
                    grown.push(pattern);
                }
                *cell = *slot;
            }
        }
        patterns = grown;
    }
    (patterns, cells)
}

/// A hasher for pairs of masks: one multiply per word (the default hasher's cost shows when every
/// cell of a large matrix looks its pattern up).
#[derive(Default)]
struct MaskHasher(u64);

impl std::hash::Hasher for MaskHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}
