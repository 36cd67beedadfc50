//! An exclusive claim on a name in a registry directory, for what must run once per registry
//! (`mesh demo`: a second one would register the same workloads beside the first, and `mesh stat`
//! would sum both as one).
//!
//! The claim is a lock file `DIR/.NAME.lock` held with `flock(LOCK_EX | LOCK_NB)`: taking it is one
//! atomic step, so two claimants started at the same moment cannot both win (checking the records
//! first and registering later could). The kernel releases the lock when its holder dies, so the
//! file a killed holder leaves behind is taken over, whatever pid it names; the holder writes its
//! pid into the file only so that a refused claimant can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// How often a claimant retries when the file it locked was removed by the holder it waited for.
const RETRIES: usize = 8;

/// Why a claim was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another live process holds it.
    #[error("{} is held by {}", path.display(), holder(*pid))]
    Held { path: PathBuf, pid: Option<u32> },
    #[error("locking {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map_or("another process".into(), |p| format!("pid {p}"))
}

/// A claim held until dropped; dropping it removes the lock file, then releases the lock.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    _lock: Flock<File>,
}

impl Claim {
    /// Takes the claim on `name` in `dir` (created if missing), or says who holds it.
    pub fn take(dir: &Path, name: &str) -> Result<Claim, ClaimError> {
        let path = dir.join(format!(".{name}.lock"));
        let io = |source| ClaimError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        for _ in 0..RETRIES {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((mut file, Errno::EWOULDBLOCK)) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    return Err(ClaimError::Held {
                        pid: text.trim().parse().ok(),
                        path,
                    });
                }
                Err((_, errno)) => return Err(io(errno.into())),
            };
            // The holder we raced with may have removed the file between our open and our lock:
            // then we hold a lock on a file nobody else can find, and must lock the one in place.
            let locked = lock.metadata().map_err(io)?;
            match std::fs::metadata(&path) {
                Ok(now) if (now.dev(), now.ino()) == (locked.dev(), locked.ino()) => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            }
            lock.set_len(0).map_err(io)?;
            lock.rewind().map_err(io)?;
            writeln!(lock, "{}", std::process::id()).map_err(io)?;
            return Ok(Claim { path, _lock: lock });
        }
        Err(io(io::Error::other(
            "the lock file kept being replaced while locking it",
        )))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Removed while still locked, so no claimant can lock this file and keep it (see `take`).
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_dropped_and_a_dead_holders_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let claim = Claim::take(dir.path(), "emojivoto").unwrap();
        match Claim::take(dir.path(), "emojivoto") {
            Err(ClaimError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        Claim::take(dir.path(), "other").unwrap();
        drop(claim);
        assert!(!dir.path().join(".emojivoto.lock").exists());
        // A file left by a holder that died (no lock on it) is taken over.
        std::fs::write(dir.path().join(".emojivoto.lock"), "4294967294\n").unwrap();
        let claim = Claim::take(dir.path(), "emojivoto").unwrap();
        let text = std::fs::read_to_string(claim.path()).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
    }

    #[test]
    fn of_claimants_at_the_same_moment_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..50 {
            let won: Vec<Claim> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| s.spawn(|| Claim::take(dir.path(), "emojivoto").ok()))
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| h.join().unwrap())
                    .collect()
            });
            assert_eq!(won.len(), 1);
        }
    }
}
