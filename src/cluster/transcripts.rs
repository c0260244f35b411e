//! Claude transcripts carried between hosts, so that a task restarted on another node resumes
//! its conversation. The CLI keeps a session in `$CLAUDE_CONFIG_DIR/projects/<dir>/<id>.jsonl`
//! (and a directory of the same name beside it; `<dir>` is the cwd with `/` replaced by `-`) and
//! `--resume <id>` finds it there. A node puts both in the `smith_transcripts` object store
//! while the attempt runs (when they changed) and when it ends; a node about to resume a session
//! it does not have fetches them into its own Claude config, under the new cwd's project
//! directory. Objects are named `<id>.jsonl` and `<id>/<path>`, with `<id>.files` listing the
//! directory's (a restore reads it instead of listing the whole bucket), and kept
//! `TRANSCRIPTS_MAX_AGE`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, object_store, stream};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

/// The bucket.
pub const TRANSCRIPTS_BUCKET: &str = "smith_transcripts";
/// How long a transcript is kept after its last change.
pub const TRANSCRIPTS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The transcripts store, as a node uses it.
#[derive(Clone)]
pub struct Transcripts {
    store: object_store::ObjectStore,
}

impl Transcripts {
    /// Opens the bucket (made when missing).
    pub async fn open(js: &jetstream::Context) -> Result<Self, String> {
        let store = match js.get_object_store(TRANSCRIPTS_BUCKET).await {
            Ok(s) => s,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: TRANSCRIPTS_BUCKET.into(),
                    max_age: TRANSCRIPTS_MAX_AGE,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("cannot set up the transcripts bucket: {e}"))?,
        };
        Ok(Self { store })
    }

    /// Puts session `id`'s transcript from `config` (a Claude config directory), when there is
    /// one; `seen` has what was put before (path → size and modification time), and what this
    /// put is added to it. Returns how many files went.
    pub async fn save(
        &self,
        config: &Path,
        id: &str,
        seen: &mut BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
    ) -> Result<usize, String> {
        let Some(file) = find(config, id) else {
            return Ok(0);
        };
        let mut files = vec![(format!("{id}.jsonl"), file.clone())];
        let dir = file.with_extension("");
        for path in walk(&dir) {
            if let Ok(rel) = path.strip_prefix(&dir) {
                files.push((format!("{id}/{}", rel.display()), path));
            }
        }
        // The directory's files by name, kept beside them: a restore reads this instead of
        // listing the whole bucket.
        let manifest: Vec<String> = files.iter().skip(1).map(|(n, _)| n.clone()).collect();
        let mut put = 0;
        for (name, path) in files {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let stamp = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
            if seen.get(&path) == Some(&stamp) {
                continue;
            }
            let mut f = tokio::fs::File::open(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.store
                .put(name.as_str(), &mut f)
                .await
                .map_err(|e| format!("putting {name}: {e}"))?;
            seen.insert(path, stamp);
            put += 1;
        }
        let listed = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            manifest.hash(&mut h);
            (h.finish(), std::time::UNIX_EPOCH)
        };
        if seen.get(&dir) != Some(&listed) {
            let name = manifest_name(id);
            let text = manifest.join("\n");
            self.store
                .put(name.as_str(), &mut text.as_bytes())
                .await
                .map_err(|e| format!("putting {name}: {e}"))?;
            seen.insert(dir, listed);
        }
        Ok(put)
    }

    /// Makes session `id` resumable from `cwd` under `config`: nothing when the config has it
    /// already, else its transcript fetched into `projects/<cwd's dir>/`. `Ok(false)`: the store
    /// has none either.
    pub async fn restore(&self, config: &Path, id: &str, cwd: &Path) -> Result<bool, String> {
        if find(config, id).is_some() {
            return Ok(true);
        }
        let dir = config.join("projects").join(project_dir(cwd));
        let main = format!("{id}.jsonl");
        // No transcript at all: the CLI will say it has no such conversation.
        let Some(first) = self.read(&main).await? else {
            return Ok(false);
        };
        let mut names = match self.read(&manifest_name(id)).await? {
            Some(text) => String::from_utf8_lossy(&text)
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            // Put by a node without manifests: the bucket is listed.
            None => self.listed(id).await?,
        };
        names.insert(0, main);
        let mut first = Some(first);
        for name in names {
            let bytes = match first.take() {
                Some(b) => b,
                None => self
                    .read(&name)
                    .await?
                    .ok_or_else(|| format!("{name} is listed but not in the store"))?,
            };
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(true)
    }

    /// Object `name`'s bytes (`None`: there is none), see [`read_fresh`].
    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        read_fresh(name, || async { self.store.get(name).await.ok() }).await
    }

    /// The names of session `id`'s directory files, from a listing of the whole bucket (an
    /// error when it gets nothing for [`READ_STALL`]).
    async fn listed(&self, id: &str) -> Result<Vec<String>, String> {
        let prefix = format!("{id}/");
        let mut names = Vec::new();
        let mut listed = self
            .store
            .list()
            .await
            .map_err(|e| format!("listing transcripts: {e}"))?;
        // A listing that gets nothing for a while is given up, like a read.
        loop {
            let next = tokio::time::timeout(READ_STALL, listed.next())
                .await
                .map_err(|_| "listing transcripts: it stalled".to_string())?;
            let Some(info) = next else { break };
            if let Ok(info) = info
                && info.name.starts_with(&prefix)
                && !info.deleted
            {
                names.push(info.name);
            }
        }
        Ok(names)
    }
}

/// How long a read of an object may get nothing before it is given up.
const READ_STALL: Duration = Duration::from_secs(5);
/// How many times an object is read before its read is an error.
const READ_TRIES: usize = 3;

/// Object `name`'s bytes, its current version from `get` (`None`: there is none). An object
/// replaced while it is read (a node puts a running session's transcript again as it grows, and
/// the put purges the old chunks) would never deliver the rest of its chunks: a read that gets
/// nothing for [`READ_STALL`] starts over from the object's current version, [`READ_TRIES`]
/// times in all.
async fn read_fresh<R, F, Fut>(name: &str, mut get: F) -> Result<Option<Vec<u8>>, String>
where
    R: tokio::io::AsyncRead + Unpin,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<R>>,
{
    for _ in 0..READ_TRIES {
        let Some(object) = get().await else {
            return Ok(None);
        };
        match read_all(object).await {
            Ok(bytes) => return Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                tracing::debug!(%name, "an object read stalled (replaced meanwhile?): read again");
            }
            Err(e) => return Err(format!("reading {name}: {e}")),
        }
    }
    Err(format!(
        "reading {name}: it stalled for {} {READ_TRIES} times",
        humantime::format_duration(READ_STALL)
    ))
}

/// All of `object`, each read bounded by [`READ_STALL`] (`TimedOut` when one is exceeded).
async fn read_all(mut object: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = tokio::time::timeout(READ_STALL, object.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "stalled"))??;
        if n == 0 {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// The object that lists session `id`'s directory files.
fn manifest_name(id: &str) -> String {
    format!("{id}.files")
}

/// One attempt's transcript kept in the store: put now and then while it runs (one put at a
/// time, only what changed) and once more at its end.
pub struct Keeper {
    store: Transcripts,
    config: PathBuf,
    id: String,
    seen: std::sync::Arc<tokio::sync::Mutex<BTreeMap<PathBuf, (u64, std::time::SystemTime)>>>,
}

impl Keeper {
    /// Keeps session `id` of a worker whose Claude config is `config`.
    pub fn new(store: Transcripts, config: PathBuf, id: String) -> Self {
        Self {
            store,
            config,
            id,
            seen: Default::default(),
        }
    }

    /// Puts what changed, in the background (nothing when a put is under way).
    pub fn tick(&self) {
        let Ok(mut seen) = self.seen.clone().try_lock_owned() else {
            return;
        };
        let (store, config, id) = (self.store.clone(), self.config.clone(), self.id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.save(&config, &id, &mut seen).await {
                tracing::debug!(session = %id, error = %e, "transcript not put yet");
            }
        });
    }

    /// Puts what changed, and waits for it.
    pub async fn finish(&self) {
        let mut seen = self.seen.lock().await;
        if let Err(e) = self.store.save(&self.config, &self.id, &mut seen).await {
            tracing::warn!(session = %self.id, error = %e, "the transcript could not be kept: a restart elsewhere starts the conversation anew");
        }
    }
}

/// The Claude config directory a worker with environment `env` uses.
pub fn claude_config(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".claude")))
}

/// The project directory the CLI keeps a cwd's sessions in: the path with `/` (and, as the CLI
/// does, every other character that is not a letter, a digit or `-`) replaced by `-`.
pub fn project_dir(cwd: &Path) -> String {
    cwd.display()
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Session `id`'s transcript under `config`, in whichever project directory.
fn find(config: &Path, id: &str) -> Option<PathBuf> {
    let name = format!("{id}.jsonl");
    std::fs::read_dir(config.join("projects"))
        .ok()?
        .flatten()
        .map(|d| d.path().join(&name))
        .find(|p| p.is_file())
}

/// The files under `dir` (none when it is not there).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_dir_is_the_cwd_with_separators_as_dashes() {
        assert_eq!(
            project_dir(Path::new("/home/dev/project")),
            "-home-dev-project"
        );
        assert_eq!(project_dir(Path::new("/tmp/.tmpX/work")), "-tmp--tmpX-work");
    }

    /// A reader that gives `head`, then nothing ever (an object whose chunks were purged).
    struct Stalls(Option<Vec<u8>>);

    impl tokio::io::AsyncRead for Stalls {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            match self.0.take() {
                Some(head) => {
                    buf.put_slice(&head);
                    std::task::Poll::Ready(Ok(()))
                }
                None => std::task::Poll::Pending,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_stalls_starts_over_from_the_current_version_and_gives_up_in_the_end() {
        use tokio::io::AsyncRead;
        type Reader = std::pin::Pin<Box<dyn AsyncRead + Send>>;
        // The first version stalls after its first chunk; the second is read whole.
        let mut versions: Vec<Reader> = vec![
            Box::pin(&b"v2 whole"[..]),
            Box::pin(Stalls(Some(b"v1 par".to_vec()))),
        ];
        let start = tokio::time::Instant::now();
        let got = read_fresh("s.jsonl", || std::future::ready(versions.pop())).await;
        assert_eq!(got, Ok(Some(b"v2 whole".to_vec())));
        assert_eq!(start.elapsed(), READ_STALL);
        // None there: none.
        assert_eq!(
            read_fresh("x", || std::future::ready(None::<&[u8]>)).await,
            Ok(None)
        );
        // Stalling every time: an error that says so, after READ_TRIES tries.
        let mut tries = 0;
        let err = read_fresh("s.jsonl", || {
            tries += 1;
            std::future::ready(Some(Stalls(None)))
        })
        .await
        .unwrap_err();
        assert_eq!(tries, READ_TRIES);
        assert!(err.contains("s.jsonl") && err.contains("stalled"), "{err}");
    }

    #[test]
    fn a_transcript_is_found_in_any_project_dir() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("projects/-a-b");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("s1.jsonl"), "{}\n").unwrap();
        assert_eq!(find(d.path(), "s1"), Some(p.join("s1.jsonl")));
        assert_eq!(find(d.path(), "s2"), None);
        let env: BTreeMap<String, String> = [("HOME".to_string(), "/h".to_string())].into();
        assert_eq!(claude_config(&env), Some(PathBuf::from("/h/.claude")));
    }
}
