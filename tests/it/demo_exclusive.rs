//! One `mesh demo` per registry, also when two start at the same moment: it used to check the
//! registry's records and register its proxies later, so two demos started together both ran,
//! registering every workload twice (8 records), and `mesh stat` summed both as one.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `mesh demo` of `duration` in `registry`, its output piped.
fn demo(registry: &Path, duration: &str) -> Child {
    crate::harness::mesh_process()
        .args([
            "demo",
            "--duration",
            duration,
            "--vote-interval",
            "50ms",
            "--registry",
        ])
        .arg(registry)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit, at most `bound` (a demo that does not stop fails the test).
async fn finish(mut child: Child, bound: Duration) -> Output {
    let deadline = Instant::now() + bound;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mesh demo still running after {bound:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn of_two_demos_started_together_on_one_registry_one_runs_and_the_other_is_refused() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("registry");
        let (a, b) = (demo(&registry, "4s"), demo(&registry, "4s"));
        let outputs = [
            finish(a, Duration::from_secs(60)).await,
            finish(b, Duration::from_secs(60)).await,
        ];
        let text = |o: &Output| {
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        let ran: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
        let refused: Vec<&Output> = outputs.iter().filter(|o| !o.status.success()).collect();
        let all = outputs.iter().map(text).collect::<Vec<_>>().join("\n---\n");
        assert_eq!((ran.len(), refused.len()), (1, 1), "round {round}:\n{all}");
        assert!(
            String::from_utf8_lossy(&ran[0].stdout).contains("demo ready"),
            "round {round}:\n{all}"
        );
        assert_eq!(refused[0].status.code(), Some(1), "round {round}:\n{all}");
        assert!(
            refused[0].stdout.is_empty(),
            "round {round}: nothing started\n{all}"
        );
        let why = String::from_utf8_lossy(&refused[0].stderr);
        assert!(
            // The pid is named once the holder has written it; a demo refused in the instant
            // between the holder's lock and its write says "another mesh demo" alone.
            why.starts_with("mesh: another mesh demo ")
                && why.contains(&format!(
                    "is running in the registry {}: stop it, or give this one its own registry \
                     with --registry DIR",
                    registry.display()
                )),
            "round {round}: {why}"
        );
        let left: Vec<_> = std::fs::read_dir(&registry)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "round {round}: left behind {left:?}");
    }
}

/// A demo killed outright leaves its lock file; the next demo takes it over.
#[tokio::test]
async fn a_lock_file_left_by_a_dead_demo_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    std::fs::write(registry.join(".emojivoto.lock"), format!("{}\n", dead.id())).unwrap();
    let out = finish(demo(&registry, "1s"), Duration::from_secs(60)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!registry.join(".emojivoto.lock").exists());
}
