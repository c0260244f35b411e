//! What /proc says about a process: state, parent, group, start time, one environment variable.
//! Used to recognise processes later (pids are reused: the start time tells), to find the
//! processes of an attempt wherever they moved, and to check who is on the other end of the
//! control socket.

use std::io::Read;

/// The parts of `/proc/<pid>/stat` smith uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The pid.
    pub pid: u32,
    /// One-letter state (`R`, `S`, `Z`, …).
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
    /// Process group.
    pub pgrp: u32,
    /// Start time in clock ticks since boot.
    pub start_time: u64,
}

impl ProcStat {
    /// A zombie (exited, not reaped).
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// `/proc/<pid>/stat`, parsed; `None` when the process is gone.
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22).
pub fn process_start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// When `stat`'s process started, in Unix milliseconds (from the boot time and the clock tick).
pub fn started_unix_ms(stat: &ProcStat) -> Option<i64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)? as i64;
    Some(btime * 1000 + (stat.start_time as i64) * 1000 / tick)
}

/// The chain of ancestors of `pid` (its parent first), up to init, at most 64.
pub fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut at = pid;
    while out.len() < 64 {
        match stat(at).map(|s| s.ppid) {
            Some(parent) if parent > 1 => {
                out.push(parent);
                at = parent;
            }
            _ => break,
        }
    }
    out
}

/// Every pid in /proc now.
pub fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The value of `name` in the environment `pid` started with (`None`: unset, gone, or not
/// readable). Reads at most 1 MiB.
pub fn environ_var(pid: u32, name: &str) -> Option<String> {
    let mut buf = Vec::new();
    std::fs::File::open(format!("/proc/{pid}/environ"))
        .ok()?
        .take(1 << 20)
        .read_to_end(&mut buf)
        .ok()?;
    buf.split(|&b| b == 0).find_map(|entry| {
        let rest = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(rest).into_owned())
    })
}

/// The direct children of `pid` (every thread's `children` list); `None` when the kernel does
/// not provide those lists (CONFIG_PROC_CHILDREN) or the process is gone.
pub fn children_of(pid: u32) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut any = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            any = true;
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    any.then_some(out)
}

/// The direct children of this process.
pub fn own_children() -> Option<Vec<u32>> {
    children_of(std::process::id())
}

/// `roots` and all their descendants (through the `children` lists); `None` when the kernel
/// does not provide those lists.
pub fn descendants(roots: Vec<u32>) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut todo = roots;
    while let Some(pid) = todo.pop() {
        if out.len() > 100_000 {
            break;
        }
        out.push(pid);
        // A process that is gone has no children left to list.
        if let Some(children) = children_of(pid) {
            todo.extend(children);
        } else if std::fs::metadata(format!("/proc/{pid}")).is_ok() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_described() {
        let me = stat(std::process::id()).expect("own stat");
        assert_eq!(me.ppid, nix::unistd::getppid().as_raw() as u32);
        assert_eq!(Some(me.start_time), process_start_time(std::process::id()));
        assert!(!me.is_zombie());
        assert!(stat(u32::MAX - 1).is_none());
        assert!(all_pids().contains(&std::process::id()));
        assert_eq!(
            environ_var(std::process::id(), "PATH"),
            std::env::var("PATH").ok()
        );
        assert_eq!(
            environ_var(std::process::id(), "SMITH_SURELY_UNSET_VAR"),
            None
        );
        let started = started_unix_ms(&me).expect("start in ms");
        let now = crate::store::records::now_ms();
        assert!(
            started <= now && now - started < 3_600_000,
            "{started} vs {now}"
        );
        assert_eq!(
            ancestors(std::process::id()).first(),
            Some(&(nix::unistd::getppid().as_raw() as u32))
        );
    }
}
