//! The Prometheus endpoint under a hostile local client: connections that never send are bounded
//! and time out, and running out of file descriptors pauses the endpoint instead of ending it.

use std::net::TcpStream;
use std::time::Duration;

use crate::support::daemon::Daemon;
use crate::support::eventually;
use crate::support::prometheus::{prometheus_addr, serves};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Sets the soft and hard RLIMIT_NOFILE of `pid`.
fn set_nofile(pid: u32, soft: u64, hard: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: prlimit reads `limit` (a valid rlimit) and writes nothing (null old-limit pointer).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The soft and hard RLIMIT_NOFILE of `pid`.
fn nofile(pid: u32) -> (u64, u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads no new limit (null) and writes the current one into `old`, a valid
    // rlimit that lives across the call.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            std::ptr::null(),
            &mut old,
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    (old.rlim_cur, old.rlim_max)
}

fn started() -> Daemon {
    let mut d = Daemon::new("[telemetry]\nprometheus_listen = \"127.0.0.1:0\"\n");
    d.start();
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_scrapers_are_bounded_and_time_out() {
    let d = started();
    let addr = prometheus_addr(&d);
    assert!(serves(&addr), "a scrape works");
    let base = open_fds(d.pid());
    let silent: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // smithd keeps at most MAX_CONNECTIONS (16) of them; the rest are closed at once.
    assert!(
        eventually(Duration::from_secs(5), || async {
            open_fds(d.pid()) <= base + 16 + 2
        })
        .await,
        "{} descriptors open, {base} before",
        open_fds(d.pid())
    );
    // Their header timeout (5 s) frees the slots while they are still connected.
    assert!(
        eventually(Duration::from_secs(15), || async { serves(&addr) }).await,
        "the endpoint stays reachable"
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn running_out_of_descriptors_pauses_the_endpoint_instead_of_ending_it() {
    let d = started();
    let addr = prometheus_addr(&d);
    let pid = d.pid();
    let (soft, hard) = nofile(pid);
    // No descriptor left: the next accept fails with EMFILE.
    set_nofile(pid, open_fds(pid) as u64, hard);
    let waiting: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    assert!(
        eventually(Duration::from_secs(5), || async {
            d.log().contains("metrics endpoint: accept failed")
        })
        .await,
        "{}",
        d.log()
    );
    set_nofile(pid, soft, hard);
    drop(waiting);
    assert!(
        eventually(Duration::from_secs(10), || async { serves(&addr) }).await,
        "the endpoint came back:\n{}",
        d.log()
    );
}
