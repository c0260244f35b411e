//! A real `nats-server` (Debian's package, which `.ci/run` installs) for the cluster tests:
//! JetStream on (unless asked not to), a free loopback port, a store in a temp dir; stopped and
//! reaped when dropped. A leaf (no other support module): the cluster benchmark uses it too.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary, when it is installed (on the PATH, or where Debian puts it).
pub fn installed() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The server binary; `None` (with the reason printed) only when `SMITH_NATS_UNAVAILABLE` says
/// why it cannot be installed here.
pub fn nats_server() -> Option<PathBuf> {
    match (installed(), std::env::var("SMITH_NATS_UNAVAILABLE")) {
        (Some(p), _) => Some(p),
        (None, Ok(why)) => {
            println!("SKIPPED: nats-server cannot be installed on this machine ({why})");
            None
        }
        (None, Err(_)) => panic!(
            "nats-server is not installed: apt-get install nats-server (bash .ci/run does); \
             SMITH_NATS_UNAVAILABLE=<why> skips the cluster tests"
        ),
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running server.
pub struct NatsServer {
    child: Child,
    /// Its port.
    pub port: u16,
    bin: PathBuf,
    jetstream: bool,
    args: Vec<String>,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `bin` on `port` with `args` added (e.g. `--user u --pass p`); JetStream on unless
    /// `jetstream` is false. Waits until it accepts connections.
    pub fn start(bin: &PathBuf, port: u16, jetstream: bool, args: &[&str]) -> Self {
        let store = tempfile::tempdir().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let child = spawn(bin, port, jetstream, &args, store.path());
        Self {
            child,
            port,
            bin: bin.clone(),
            jetstream,
            args,
            store,
        }
    }

    /// Stops the server and starts it again on the same port with the same store (what
    /// JetStream keeps survives).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(
            &self.bin,
            self.port,
            self.jetstream,
            &self.args,
            self.store.path(),
        );
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// How many messages stream `name` holds now.
    pub fn stream_messages(&self, name: &str) -> u64 {
        self.with_jetstream(|js| async move {
            let mut stream = js.get_stream(name).await.expect("the stream");
            stream.info().await.expect("its info").state.messages
        })
    }

    /// The names of the Claude transcripts the nodes put in the cluster (none before the bucket
    /// is made).
    pub fn transcripts(&self) -> Vec<String> {
        self.with_jetstream(|js| async move { transcripts_in(&js, None).await })
    }

    /// The transcripts the nodes put whose text contains `needle`.
    pub fn transcripts_with(&self, needle: &str) -> Vec<String> {
        self.with_jetstream(|js| async move { transcripts_in(&js, Some(needle)).await })
    }

    /// Runs `f` on a JetStream context of this server, on a runtime of its own; one that takes
    /// over 60 s fails the test.
    fn with_jetstream<T, F, Fut>(&self, f: F) -> T
    where
        F: FnOnce(async_nats::jetstream::Context) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let url = self.url();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let run = async {
                let client = async_nats::connect(url)
                    .await
                    .expect("connect to nats-server");
                f(async_nats::jetstream::new(client)).await
            };
            tokio::time::timeout(Duration::from_secs(60), run)
                .await
                .expect("a look into nats-server within 60 s")
        })
    }
}

fn spawn(
    bin: &PathBuf,
    port: u16,
    jetstream: bool,
    args: &[String],
    store: &std::path::Path,
) -> Child {
    let mut cmd = Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if jetstream {
        cmd.arg("-js").arg("-sd").arg(store);
    }
    let child = cmd.spawn().expect("start nats-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server accepts no connection"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The transcripts in the bucket (whose text contains `needle`, when given). A listing or a
/// read that gets nothing for 5 s is given up (an object replaced while it is read never
/// delivers its purged chunks, and a listing racing puts can stall the same way): what was
/// found so far is the answer, and the caller asks again.
async fn transcripts_in(js: &async_nats::jetstream::Context, needle: Option<&str>) -> Vec<String> {
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
    let stall = Duration::from_secs(5);
    let Ok(Ok(store)) = tokio::time::timeout(stall, js.get_object_store("smith_transcripts")).await
    else {
        return Vec::new();
    };
    let Ok(Ok(mut listed)) = tokio::time::timeout(stall, store.list()).await else {
        return Vec::new();
    };
    let mut names = Vec::new();
    while let Ok(Some(Ok(info))) = tokio::time::timeout(stall, listed.next()).await {
        names.push(info.name);
    }
    let Some(needle) = needle else {
        return names;
    };
    let mut found = Vec::new();
    for name in names {
        let Ok(Ok(mut object)) = tokio::time::timeout(stall, store.get(name.as_str())).await else {
            continue;
        };
        let mut text = String::new();
        let read = tokio::time::timeout(stall, object.read_to_string(&mut text));
        if matches!(read.await, Ok(Ok(_))) && text.contains(needle) {
            found.push(name);
        }
    }
    found
}
