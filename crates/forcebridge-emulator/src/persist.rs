//! The state file behind `--state FILE`: the org, the Bulk API 2.0 jobs and the Chatter message
//! segments as one JSON document, written atomically.
//!
//! Invariant: the file on disk is always a complete state — a new version is written to a sibling
//! temporary file, flushed to disk, then renamed over the old one, so a crash at any moment leaves
//! either the old state or the new one, never a torn file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::HashMap;

use crate::app::SharedState;
use crate::bulk::saved::Saved;
use crate::org::Org;

/// The format version written into the file; a file of another version is refused with a clear error.
const FORMAT: u32 = 1;

#[derive(serde::Serialize)]
struct FileOut<'a> {
    format: u32,
    org: &'a Org,
    bulk: &'a Saved,
    chatter: &'a Segments,
}

/// Chatter message segments by feed item id.
pub type Segments = HashMap<String, Vec<serde_json::Value>>;

/// What a state file holds. `bulk` and `chatter` are absent from files written before they were
/// kept (same format: those files load with no jobs and no segments).
#[derive(Debug, serde::Deserialize)]
pub struct Loaded {
    pub org: Org,
    #[serde(default)]
    pub bulk: Option<Saved>,
    #[serde(default)]
    pub chatter: Option<Segments>,
}

/// Everything the state file keeps, copied at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub org: Org,
    pub bulk: Saved,
    pub chatter: Segments,
}

impl Snapshot {
    /// Copies the state of a running emulator, taking one lock at a time (org, then jobs, then
    /// segments), never nested.
    pub fn of(state: &crate::app::AppState) -> Snapshot {
        let org = match state.org.read() {
            Ok(org) => org.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Snapshot {
            org,
            bulk: Saved::of(&state.bulk),
            chatter: state.chatter.snapshot(),
        }
    }
}

/// Reads the state from `path`; `Ok(None)` when the file does not exist yet.
///
/// # Errors
/// A message saying what is wrong with the file.
pub fn load(path: &Path) -> Result<Option<Loaded>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    // Check the format before the shape, so an old or future file gets the version message
    // rather than a confusing field error.
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not an emulator state file ({e})"))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(u64::from(FORMAT)) {
        return Err(match format {
            Some(f) => {
                format!("state file format {f} is not supported (this emulator writes format {FORMAT})")
            }
            None => "not an emulator state file (no \"format\" field)".to_string(),
        });
    }
    let file: Loaded =
        serde_json::from_value(value).map_err(|e| format!("the state file is damaged ({e})"))?;
    Ok(Some(file))
}

/// Writes `snapshot` to `path` atomically.
///
/// # Errors
/// The I/O error, when the folder is not writable or the disk is full.
pub fn save(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let out = FileOut {
        format: FORMAT,
        org: &snapshot.org,
        bulk: &snapshot.bulk,
        chatter: &snapshot.chatter,
    };
    let bytes = serde_json::to_vec(&out).map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The background writer of one emulator.
#[derive(Debug)]
pub struct Persister {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Persister {
    /// Writes the last changes and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts writing the state to `path` after every change (at most every 100 ms).
pub fn spawn(state: SharedState, path: PathBuf) -> Persister {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            let last = tokio::select! {
                _ = state.dirty.notified() => false,
                _ = &mut stopped => true,
            };
            if !last {
                // Coalesce bursts of writes into one save.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Copying and encoding a large state (uploads, results) is blocking work.
            let (st, file) = (state.clone(), path.clone());
            let result = tokio::task::spawn_blocking(move || save(&file, &Snapshot::of(&st))).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot write the emulator state file"),
                Err(e) => tracing::error!(error = %e, "state writer task failed"),
            }
            if last {
                break;
            }
        }
    });
    Persister { stop, task }
}
