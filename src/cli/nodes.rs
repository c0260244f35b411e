//! The worker nodes under the cluster line of `smith status`: one line each.

use crate::protocol::{ClusterStatus, NodeState};

/// `  node NAME STATE: RUNNING/CAPACITY running, smithd VERSION, seen AGO ago, roots …` per
/// node ("" without nodes); `now_ms` is the time the ages are counted to.
pub fn node_lines(c: &ClusterStatus, now_ms: i64) -> String {
    let mut out = String::new();
    for n in &c.nodes {
        let state = match n.state {
            NodeState::Up => "up",
            NodeState::Lost => "LOST (its attempts are restarted elsewhere)",
            NodeState::Stopped => "stopped",
        };
        let ago = (now_ms - n.last_seen_ms).max(0) as f64 / 1000.0;
        out.push_str(&format!(
            "  node {} {state}: {}/{} running, smithd {}, seen {ago:.1}s ago, roots {}\n",
            n.name,
            n.running,
            n.capacity,
            n.version,
            n.roots.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NodeStatus;

    #[test]
    fn one_line_per_node() {
        let c = ClusterStatus {
            nodes: vec![NodeStatus {
                name: "n1".into(),
                state: NodeState::Lost,
                capacity: 4,
                running: 1,
                version: "0.1.0".into(),
                roots: vec!["/w".into()],
                last_seen_ms: 1_000,
            }],
            ..ClusterStatus::default()
        };
        assert_eq!(
            node_lines(&c, 3_500),
            "  node n1 LOST (its attempts are restarted elsewhere): 1/4 running, smithd 0.1.0, seen 2.5s ago, roots /w\n"
        );
        assert_eq!(node_lines(&ClusterStatus::default(), 0), "");
    }
}
