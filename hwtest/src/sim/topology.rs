//! Topology descriptions: which nodes exist, their interfaces and MACs, and
//! the links between interfaces. Pure data, built before any core exists;
//! [`Sim::batman`](super::Sim::batman) turns one into running nodes.
//!
//! MACs are deterministic: interface `i` of node `n` is
//! `02:00:00:<n hi>:<n lo>:<i>` (locally administered, unicast), so a MAC in
//! a trace names its node and interface at a glance. A node's first
//! interface is its primary: its MAC is the node's originator address.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use batman::{IfaceKind, Mac};

use super::link::{Endpoint, Link, LinkParams};
use super::rng::SimRng;

/// MAC of interface `iface` of node `node`.
pub fn mac_of(node: usize, iface: usize) -> Mac {
    assert!(
        node <= 0xffff && iface <= 0xff,
        "MAC scheme: node < 65536, iface < 256"
    );
    Mac([2, 0, 0, (node >> 8) as u8, node as u8, iface as u8])
}

/// Inverse of [`mac_of`] for MACs of that scheme.
pub fn parse_mac(mac: Mac) -> Option<(usize, usize)> {
    let b = mac.0;
    if b[0] == 2 && b[1] == 0 && b[2] == 0 {
        Some((
            usize::from(b[3]) << 8 | usize::from(b[4]),
            usize::from(b[5]),
        ))
    } else {
        None
    }
}

/// One hard interface of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceSpec {
    pub mac: Mac,
    pub kind: IfaceKind,
}

/// One node: a name, interfaces (the first is the primary), a position
/// (only meaningful for radio topologies).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub ifaces: Vec<IfaceSpec>,
    pub pos: Option<(f64, f64)>,
}

/// A whole network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Topology {
    pub nodes: Vec<NodeSpec>,
    pub links: Vec<Link>,
}

/// A random geometric mesh that stayed disconnected after every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotConnected {
    pub attempts: u32,
}

impl fmt::Display for NotConnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "random geometric mesh still disconnected after {} placements: raise the radio range",
            self.attempts
        )
    }
}

impl std::error::Error for NotConnected {}

/// Parameters of a random geometric (radio) mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometric {
    /// Number of nodes.
    pub n: usize,
    /// Side of the square they are placed in (metres).
    pub side: f64,
    /// Radio range (metres): nodes closer than this hear each other.
    pub range: f64,
    /// Link timing; its loss applies at close range.
    pub params: LinkParams,
    /// Extra loss at the edge of the range: a pair at distance `d` loses
    /// `params.loss + edge_loss * (d / range)^4` of its frames.
    pub edge_loss: f64,
    /// Placements tried before giving up.
    pub max_attempts: u32,
}

impl Geometric {
    /// `n` nodes with a mean of about `degree` neighbours each in a 1 km
    /// square, lossless good links, 100 attempts.
    pub fn with_degree(n: usize, degree: f64) -> Self {
        let side = 1000.0;
        // Mean degree of a random geometric graph (ignoring the border):
        // (n - 1) * pi r^2 / side^2.
        let range = (degree * side * side / (std::f64::consts::PI * (n.max(2) - 1) as f64)).sqrt();
        Geometric {
            n,
            side,
            range,
            params: LinkParams::wireless(),
            edge_loss: 0.0,
            max_attempts: 100,
        }
    }
}

impl Topology {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a node with no interfaces; returns its index.
    pub fn add_node(&mut self, name: impl Into<String>) -> usize {
        self.nodes.push(NodeSpec {
            name: name.into(),
            ifaces: Vec::new(),
            pos: None,
        });
        self.nodes.len() - 1
    }

    /// Add an interface to `node`; returns its index in the node.
    pub fn add_iface(&mut self, node: usize, kind: IfaceKind) -> usize {
        let i = self.nodes[node].ifaces.len();
        self.nodes[node].ifaces.push(IfaceSpec {
            mac: mac_of(node, i),
            kind,
        });
        i
    }

    /// Join two existing interfaces with a link; returns the link index.
    pub fn connect(&mut self, a: Endpoint, b: Endpoint, p: LinkParams) -> usize {
        assert!(a.node != b.node, "a link joins two different nodes");
        assert!(a.iface < self.nodes[a.node].ifaces.len());
        assert!(b.iface < self.nodes[b.node].ifaces.len());
        self.links.push(Link::new(a, b, p));
        self.links.len() - 1
    }

    /// A point-to-point wired link (a veth pair): a new interface on each
    /// node, joined. Returns the link index.
    pub fn p2p(&mut self, u: usize, v: usize, p: LinkParams) -> usize {
        let iu = self.add_iface(u, IfaceKind::Wired);
        let iv = self.add_iface(v, IfaceKind::Wired);
        self.connect(
            Endpoint { node: u, iface: iu },
            Endpoint { node: v, iface: iv },
            p,
        )
    }

    /// Node index by name.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Primary MAC (originator address) of a node.
    pub fn primary_mac(&self, node: usize) -> Mac {
        self.nodes[node].ifaces[0].mac
    }

    /// Links joining nodes `u` and `v`.
    pub fn links_between(&self, u: usize, v: usize) -> Vec<usize> {
        (0..self.links.len())
            .filter(|&l| self.links[l].joins(u, v))
            .collect()
    }

    /// Node adjacency (one entry per neighbour, whatever the link count).
    pub fn adjacency(&self) -> Vec<Vec<usize>> {
        let mut adj = vec![Vec::new(); self.nodes.len()];
        for l in &self.links {
            if !adj[l.a.node].contains(&l.b.node) {
                adj[l.a.node].push(l.b.node);
                adj[l.b.node].push(l.a.node);
            }
        }
        adj
    }

    /// Hop distances from `src` (`usize::MAX` if unreachable).
    pub fn hops_from(&self, src: usize) -> Vec<usize> {
        let adj = self.adjacency();
        let mut dist = vec![usize::MAX; self.nodes.len()];
        let mut q = VecDeque::new();
        dist[src] = 0;
        q.push_back(src);
        while let Some(u) = q.pop_front() {
            for &v in &adj[u] {
                if dist[v] == usize::MAX {
                    dist[v] = dist[u] + 1;
                    q.push_back(v);
                }
            }
        }
        dist
    }

    /// Every node reaches every other.
    pub fn is_connected(&self) -> bool {
        self.nodes.is_empty() || self.hops_from(0).iter().all(|&d| d != usize::MAX)
    }

    /// Longest shortest path in hops (`None` if disconnected).
    pub fn diameter(&self) -> Option<usize> {
        let mut best = 0;
        for s in 0..self.nodes.len() {
            for d in self.hops_from(s) {
                if d == usize::MAX {
                    return None;
                }
                best = best.max(d);
            }
        }
        Some(best)
    }

    /// `n` nodes in a line, `n0 - n1 - ... `, point-to-point wired links.
    pub fn line(n: usize, p: LinkParams) -> Self {
        let mut t = Topology::new();
        for i in 0..n {
            t.add_node(format!("n{i}"));
        }
        for i in 1..n {
            t.p2p(i - 1, i, p);
        }
        t
    }

    /// A line closed into a ring (`n >= 3`).
    pub fn ring(n: usize, p: LinkParams) -> Self {
        assert!(n >= 3, "a ring needs at least 3 nodes");
        let mut t = Self::line(n, p);
        t.p2p(n - 1, 0, p);
        t
    }

    /// Name of grid node at row `r`, column `c`: `n<r><c>` as in the
    /// anchors (`n00`..`n22`), `n<r>_<c>` once a coordinate needs two digits.
    pub fn grid_name(r: usize, c: usize, w: usize, h: usize) -> String {
        if w <= 10 && h <= 10 {
            format!("n{r}{c}")
        } else {
            format!("n{r}_{c}")
        }
    }

    /// A `w` x `h` grid (columns x rows), each node joined to its 4
    /// neighbours by point-to-point wired links. Node index `r * w + c`.
    /// Links are created row by row, rightwards link before downwards link,
    /// so node (0,0)'s primary faces (0,1).
    pub fn grid(w: usize, h: usize, p: LinkParams) -> Self {
        let mut t = Topology::new();
        for r in 0..h {
            for c in 0..w {
                t.add_node(Self::grid_name(r, c, w, h));
            }
        }
        for r in 0..h {
            for c in 0..w {
                let u = r * w + c;
                if c + 1 < w {
                    t.p2p(u, u + 1, p);
                }
                if r + 1 < h {
                    t.p2p(u, u + w, p);
                }
            }
        }
        t
    }

    /// A random geometric mesh: nodes uniform in a square, one wireless
    /// interface each, a link for every pair within radio range. Placements
    /// are redrawn from `rng` until the mesh is connected, at most
    /// `g.max_attempts` times.
    pub fn random_geometric(g: &Geometric, rng: &mut SimRng) -> Result<Self, NotConnected> {
        for _ in 0..g.max_attempts {
            let pos: Vec<(f64, f64)> = (0..g.n)
                .map(|_| (rng.unit_f64() * g.side, rng.unit_f64() * g.side))
                .collect();
            let t = Self::geometric_at(&pos, g);
            if t.is_connected() {
                return Ok(t);
            }
        }
        Err(NotConnected {
            attempts: g.max_attempts,
        })
    }

    /// A radio mesh with the given node positions (see [`Geometric`]).
    pub fn geometric_at(pos: &[(f64, f64)], g: &Geometric) -> Self {
        let mut t = Topology::new();
        for (i, &p) in pos.iter().enumerate() {
            let n = t.add_node(format!("r{i}"));
            t.nodes[n].pos = Some(p);
            t.add_iface(n, IfaceKind::Wireless);
        }
        // Cell grid so that building a 250-node mesh is not quadratic.
        let cell = g.range.max(1e-9);
        let cols = ((g.side / cell).ceil() as usize).max(1);
        let key = |p: (f64, f64)| {
            let cx = ((p.0 / cell) as usize).min(cols - 1);
            let cy = ((p.1 / cell) as usize).min(cols - 1);
            (cx, cy)
        };
        let mut cells: Vec<Vec<usize>> = vec![Vec::new(); cols * cols];
        for (i, &p) in pos.iter().enumerate() {
            let (cx, cy) = key(p);
            cells[cy * cols + cx].push(i);
        }
        for (i, &p) in pos.iter().enumerate() {
            let (cx, cy) = key(p);
            let mut near = Vec::new();
            for ny in cy.saturating_sub(1)..=(cy + 1).min(cols - 1) {
                for nx in cx.saturating_sub(1)..=(cx + 1).min(cols - 1) {
                    near.extend(cells[ny * cols + nx].iter().copied().filter(|&j| j > i));
                }
            }
            near.sort_unstable();
            for j in near {
                let q = pos[j];
                let d = ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt();
                if d < g.range {
                    let loss = (g.params.loss + g.edge_loss * (d / g.range).powi(4)).min(1.0);
                    t.connect(
                        Endpoint { node: i, iface: 0 },
                        Endpoint { node: j, iface: 0 },
                        g.params.with_loss(loss),
                    );
                }
            }
        }
        t
    }

    /// The hand-built two-interface topology:
    ///
    /// ```text
    ///        link 0 (A.if0 - B.if0)
    ///   A ========================== B ---- C
    ///        link 1 (A.if1 - B.if1)    link 2 (B.if2 - C.if0)
    /// ```
    ///
    /// A and B are joined twice, primary to primary and secondary to
    /// secondary; C hangs off B so that A has a two-hop destination too.
    /// Nodes: A = 0, B = 1, C = 2.
    pub fn two_iface(p: LinkParams) -> Self {
        let mut t = Topology::new();
        let a = t.add_node("A");
        let b = t.add_node("B");
        let c = t.add_node("C");
        t.p2p(a, b, p);
        t.p2p(a, b, p);
        t.p2p(b, c, p);
        t
    }

    /// Attach a new node `name` to `to` with a point-to-point link; returns
    /// (node, link).
    pub fn attach(&mut self, name: &str, to: usize, p: LinkParams) -> (usize, usize) {
        let n = self.add_node(name);
        let l = self.p2p(n, to, p);
        (n, l)
    }

    /// Set both directions of every link to `p`'s loss.
    pub fn set_loss_everywhere(&mut self, loss: f64) {
        for l in &mut self.links {
            for p in &mut l.params {
                p.loss = loss;
            }
        }
    }

    /// Largest one-way link delay in the topology.
    pub fn max_link_delay(&self) -> Duration {
        self.links
            .iter()
            .flat_map(|l| l.params.iter().map(|p| p.max_delay()))
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_deterministic_and_parse_back() {
        assert_eq!(mac_of(0, 0).to_string(), "02:00:00:00:00:00");
        assert_eq!(mac_of(258, 3).to_string(), "02:00:00:01:02:03");
        assert_eq!(parse_mac(mac_of(258, 3)), Some((258, 3)));
        assert_eq!(parse_mac(Mac::BROADCAST), None);
        assert!(mac_of(7, 1).is_unicast());
    }

    #[test]
    fn line_and_ring() {
        let l = Topology::line(4, LinkParams::wired());
        assert_eq!(l.nodes.len(), 4);
        assert_eq!(l.links.len(), 3);
        assert_eq!(l.diameter(), Some(3));
        assert_eq!(l.nodes[0].ifaces.len(), 1);
        assert_eq!(l.nodes[1].ifaces.len(), 2);
        let r = Topology::ring(6, LinkParams::wired());
        assert_eq!(r.links.len(), 6);
        assert_eq!(r.diameter(), Some(3));
        assert!(r.nodes.iter().all(|n| n.ifaces.len() == 2));
    }

    #[test]
    fn grid_shape_names_and_interfaces() {
        let g = Topology::grid(3, 3, LinkParams::wired());
        assert_eq!(g.nodes.len(), 9);
        assert_eq!(g.links.len(), 12);
        assert_eq!(g.diameter(), Some(4));
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names[0], "n00");
        assert_eq!(names[5], "n12");
        assert_eq!(names[8], "n22");
        // corner 2, edge 3, middle 4 interfaces
        assert_eq!(g.nodes[0].ifaces.len(), 2);
        assert_eq!(g.nodes[1].ifaces.len(), 3);
        assert_eq!(g.nodes[4].ifaces.len(), 4);
        // n00's primary faces n01
        let l0 = &g.links[0];
        assert_eq!((l0.a, l0.b.node), (Endpoint { node: 0, iface: 0 }, 1));
        // every interface is on exactly one link, every MAC is unique
        let mut seen = std::collections::HashSet::new();
        for (n, spec) in g.nodes.iter().enumerate() {
            for (i, ifc) in spec.ifaces.iter().enumerate() {
                assert!(seen.insert(ifc.mac));
                assert_eq!(parse_mac(ifc.mac), Some((n, i)));
                let uses = g
                    .links
                    .iter()
                    .filter(|l| {
                        l.a == Endpoint { node: n, iface: i }
                            || l.b == Endpoint { node: n, iface: i }
                    })
                    .count();
                assert_eq!(uses, 1);
            }
        }
        let big = Topology::grid(10, 10, LinkParams::wired());
        assert_eq!(big.links.len(), 180);
        assert_eq!(big.diameter(), Some(18));
        assert_eq!(big.nodes[99].name, "n99");
        assert_eq!(
            Topology::grid(11, 2, LinkParams::wired()).nodes[12].name,
            "n1_1"
        );
    }

    #[test]
    fn random_geometric_is_connected_seeded_and_within_range() {
        let g = Geometric::with_degree(60, 8.0);
        let a = Topology::random_geometric(&g, &mut SimRng::seed_from_u64(5)).unwrap();
        let b = Topology::random_geometric(&g, &mut SimRng::seed_from_u64(5)).unwrap();
        let c = Topology::random_geometric(&g, &mut SimRng::seed_from_u64(6)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.is_connected());
        // Brute-force check of the cell-grid neighbour search.
        let pos: Vec<(f64, f64)> = a.nodes.iter().map(|n| n.pos.unwrap()).collect();
        let mut want = 0;
        for i in 0..pos.len() {
            for j in i + 1..pos.len() {
                let d = ((pos[i].0 - pos[j].0).powi(2) + (pos[i].1 - pos[j].1).powi(2)).sqrt();
                if d < g.range {
                    want += 1;
                    assert_eq!(a.links_between(i, j).len(), 1);
                }
            }
        }
        assert_eq!(a.links.len(), want);
        let mean_degree = 2.0 * want as f64 / pos.len() as f64;
        assert!((4.0..10.0).contains(&mean_degree), "{mean_degree}");
        assert!(a
            .nodes
            .iter()
            .all(|n| n.ifaces.len() == 1 && n.ifaces[0].kind == IfaceKind::Wireless));

        // A range far too small cannot connect: reported, not looped on.
        let tiny = Geometric {
            range: 1.0,
            max_attempts: 3,
            ..g
        };
        assert_eq!(
            Topology::random_geometric(&tiny, &mut SimRng::seed_from_u64(1)),
            Err(NotConnected { attempts: 3 })
        );
    }

    #[test]
    fn edge_loss_grows_with_distance() {
        let g = Geometric {
            edge_loss: 0.5,
            ..Geometric::with_degree(3, 2.0)
        };
        let r = g.range;
        let t = Topology::geometric_at(&[(0.0, 0.0), (0.1 * r, 0.0), (0.9 * r, 0.0)], &g);
        let near = t.links[t.links_between(0, 1)[0]].params[0].loss;
        let far = t.links[t.links_between(0, 2)[0]].params[0].loss;
        assert!(near < 0.001 && (far - 0.5 * 0.9f64.powi(4)).abs() < 1e-9);
    }

    #[test]
    fn two_iface_and_attach() {
        let mut t = Topology::two_iface(LinkParams::wired());
        assert_eq!(t.links_between(0, 1), vec![0, 1]);
        assert_eq!(t.nodes[0].ifaces.len(), 2);
        assert_eq!(t.nodes[1].ifaces.len(), 3);
        assert_eq!(t.links[1].a, Endpoint { node: 0, iface: 1 });
        assert_eq!(t.links[1].b, Endpoint { node: 1, iface: 1 });
        let (x, l) = t.attach("X", 2, LinkParams::wired());
        assert_eq!(t.node("X"), Some(x));
        assert_eq!(t.links[l].b, Endpoint { node: 2, iface: 1 });
        t.set_loss_everywhere(0.3);
        assert!(t
            .links
            .iter()
            .all(|l| l.params.iter().all(|p| p.loss == 0.3)));
        assert_eq!(t.max_link_delay(), LinkParams::wired().max_delay());
    }
}
