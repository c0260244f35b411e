//! The attempt tag: every worker starts with `SMITH_ATTEMPT=<instance>/<request>/<task>/<attempt>`
//! in its environment, and everything it starts inherits it — whatever session or process group
//! a tool moves to. Stopping an attempt stops every process carrying its tag (started after the
//! attempt's process); the startup sweep stops those of requests a killed smithd left running.
//! A process that clears its own environment escapes the tag (the group kill and, where it runs,
//! a cgroup are the other nets); this is containment for accidents, not a security boundary.

use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::proc_info::{self, ProcStat};
use super::reaper;

/// The environment variable that carries the tag.
pub const TAG_VAR: &str = "SMITH_ATTEMPT";

/// This smithd's part of every tag (random per start).
fn instance() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_string())
}

/// One attempt's tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptTag(String);

impl AttemptTag {
    /// The tag of attempt `attempt` of task `task_id` of request `request_id`, by this smithd.
    pub fn new(request_id: &str, task_id: &str, attempt: u32) -> Self {
        Self(format!("{}/{request_id}/{task_id}/{attempt}", instance()))
    }

    /// A tag another smithd gave (a control plane's, for an attempt a worker node runs):
    /// `instance/request/task/attempt`, each part non-empty.
    pub fn parse(tag: &str) -> Option<Self> {
        let parts: Vec<&str> = tag.split('/').collect();
        (parts.len() == 4 && parts.iter().all(|p| !p.is_empty()) && parts[3].parse::<u32>().is_ok())
            .then(|| Self(tag.to_string()))
    }

    /// The tag an attempt has on a worker node: its own with the node's mark after it
    /// (`instance/request/task/attempt/name@id`), so that a control plane on the same host never
    /// takes a node's processes for its own leftovers, and a node started again finds its own.
    pub fn on_node(&self, mark: &str) -> Self {
        Self(format!("{}/{}", self.0, mark.replace('/', "_")))
    }

    /// The tag as it appears in the environment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request id inside a tag's value.
pub fn request_of(tag: &str) -> Option<&str> {
    tag.split('/').nth(1)
}

/// The worker node a tag's process runs under (`None`: a control plane's own).
pub fn node_of(tag: &str) -> Option<&str> {
    tag.split('/').nth(4)
}

/// Whether a tag was given by this smithd.
pub fn is_ours(tag: &str) -> bool {
    tag.split('/').next() == Some(instance()) && node_of(tag).is_none()
}

/// A live process that carries a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// What /proc says about it.
    pub stat: ProcStat,
    /// Its tag.
    pub tag: String,
}

/// Live (not zombie) processes whose tag satisfies `want`, started at or after `since` (clock
/// ticks since boot), this process excluded. Scans all of /proc.
pub fn find(want: impl Fn(&str) -> bool, since: Option<u64>) -> Vec<Tagged> {
    among(proc_info::all_pids(), want, since)
}

/// [`find`] among `pids` only.
fn among(pids: Vec<u32>, want: impl Fn(&str) -> bool, since: Option<u64>) -> Vec<Tagged> {
    let me = std::process::id();
    pids.into_iter()
        .filter(|&pid| pid != me)
        .filter_map(proc_info::stat)
        .filter(|s| !s.is_zombie() && since.is_none_or(|t| s.start_time >= t))
        .filter_map(|stat| {
            let tag = proc_info::environ_var(stat.pid, TAG_VAR)?;
            want(&tag).then_some(Tagged { stat, tag })
        })
        .collect()
}

/// The processes carrying `tag` once the attempt's own process has exited. With smithd a
/// subreaper, every process that outlived it descends from an orphan smithd adopted (its parent
/// chain, broken where a process died, was re-attached to smithd), so only those trees are looked
/// at — none, usually. Otherwise, all of /proc.
fn left_behind(tag: &str, since: Option<u64>) -> Vec<Tagged> {
    if reaper::is_subreaper()
        && let Some(adopted) = reaper::adopted()
    {
        if adopted.is_empty() {
            return Vec::new();
        }
        if let Some(tree) = proc_info::descendants(adopted) {
            return among(tree, |t| t == tag, since);
        }
    }
    find(|t| t == tag, since)
}

/// Once the attempt's own process has exited: stops every process carrying `tag` that started
/// with or after it (`since`, clock ticks since boot), the usual sequence with `grace`. Looks
/// again after each round (one may have forked while it was stopped), a few rounds at most.
/// Returns how many.
pub async fn stop_tagged(tag: &str, since: Option<u64>, grace: Duration) -> usize {
    let mut stopped = 0;
    for _ in 0..5 {
        let left = left_behind(tag, since);
        if left.is_empty() {
            break;
        }
        stopped += left.len();
        stop(&left, grace).await;
    }
    stopped
}

/// Whether `p` is still the same live process.
fn alive(p: &ProcStat) -> bool {
    proc_info::stat(p.pid).is_some_and(|now| now.start_time == p.start_time && !now.is_zombie())
}

fn signal_all(procs: &[Tagged], signal: Signal) {
    for p in procs.iter().filter(|p| alive(&p.stat)) {
        let _ = kill(Pid::from_raw(p.stat.pid as i32), signal);
    }
}

/// Stops `procs` with the usual sequence: SIGTERM, up to `grace` for them to go, SIGKILL; the
/// ones this process adopted are reaped. Logs each.
pub async fn stop(procs: &[Tagged], grace: Duration) {
    if procs.is_empty() {
        return;
    }
    for p in procs {
        tracing::info!(pid = p.stat.pid, tag = %p.tag, "stopping a process an attempt left behind");
    }
    signal_all(procs, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while procs.iter().any(|p| alive(&p.stat)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signal_all(procs, Signal::SIGKILL);
    for _ in 0..100 {
        procs.iter().for_each(|p| {
            reaper::reap(p.stat.pid);
        });
        if !procs.iter().any(|p| alive(&p.stat)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGKILL to `procs` at once (cleanup in `Drop`, where nothing can wait).
pub fn kill_now(procs: &[Tagged]) {
    signal_all(procs, Signal::SIGKILL);
    for p in procs {
        reaper::reap(p.stat.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_its_instance_and_request() {
        let tag = AttemptTag::new("r-abc", "t2", 3);
        assert!(tag.as_str().ends_with("/r-abc/t2/3"));
        assert_eq!(request_of(tag.as_str()), Some("r-abc"));
        assert!(is_ours(tag.as_str()));
        assert!(!is_ours("00000000/r-abc/t2/3"));
        // A worker node's process of this smithd's attempt is the node's.
        assert!(!is_ours(tag.on_node("n1").as_str()));
        assert_eq!(node_of(tag.on_node("n/1").as_str()), Some("n_1"));
        assert_eq!(node_of(tag.as_str()), None);
        let parsed = AttemptTag::parse(tag.as_str()).unwrap();
        assert_eq!(parsed, tag);
        assert!(AttemptTag::parse("a/b/c").is_none());
        assert!(AttemptTag::parse("a/b/c/x").is_none());
    }

    #[tokio::test]
    async fn tagged_processes_are_found_in_any_session_and_stopped() {
        let tag = AttemptTag::new("r-test-find", "t1", 1);
        // A process in a session of its own, as the CLI starts tool commands.
        let mut child = std::process::Command::new("setsid")
            .args(["sleep", "600"])
            .env(TAG_VAR, tag.as_str())
            .spawn()
            .unwrap();
        let pid = child.id();
        let want = |t: &str| t == tag.as_str();
        let mut found = Vec::new();
        for _ in 0..200 {
            found = find(want, None);
            if !found.is_empty() && proc_info::environ_var(pid, TAG_VAR).is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!found.is_empty(), "the tagged sleep was found");
        stop(&found, Duration::from_millis(200)).await;
        let _ = child.wait();
        assert!(find(want, None).is_empty(), "nothing tagged is left");
    }
}
