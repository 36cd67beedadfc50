use std::collections::VecDeque;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::*;

/// Patience for what must happen; it only bounds a failing test.
const PATIENCE: Duration = Duration::from_secs(10);

/// What a connection did: `("start" | "end", its client's id)`.
type Events = mpsc::UnboundedReceiver<(&'static str, u8)>;

async fn next(events: &mut Events) -> (&'static str, u8) {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("in time")
        .expect("an event")
}

#[tokio::test]
async fn the_limit_holds_a_connection_until_one_closes() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (signal, drain) = drain();
    let (events_tx, mut events): (_, Events) = mpsc::unbounded_channel();
    let listener = Listener::new(tcp, "test", "test connection", 1, &PanicCounter::default());
    // Each connection says who it is, then stays until its client closes.
    let run = tokio::spawn(listener.run(drain, move |mut conn: TcpStream, _, _drain| {
        let events = events_tx.clone();
        async move {
            let mut id = [0u8; 1];
            conn.read_exact(&mut id).await.unwrap();
            events.send(("start", id[0])).unwrap();
            let _ = conn.read(&mut [0u8; 1]).await;
            events.send(("end", id[0])).unwrap();
        }
    }));

    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"1").await.unwrap();
    assert_eq!(next(&mut events).await, ("start", b'1'));
    // The kernel completes the second connection (the listen backlog); the proxy must not take
    // it while the first one holds the only permit. (Waiting can only make this pass wrongly,
    // never fail wrongly.)
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"2").await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(200), events.recv()).await;
    assert!(early.is_err(), "served over the limit: {early:?}");

    drop(first);
    assert_eq!(next(&mut events).await, ("end", b'1'));
    assert_eq!(next(&mut events).await, ("start", b'2'));

    // Draining: the loop stops accepting (its socket closes) and the drain ends with the last
    // connection.
    drop(second);
    assert_eq!(next(&mut events).await, ("end", b'2'));
    assert!(signal.drain(PATIENCE).await, "every connection ended");
    tokio::time::timeout(PATIENCE, run).await.unwrap().unwrap();
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the listening socket is closed");
}

/// Connections from a script: `Ok` a connection, `Err` a failed accept; then none ever again.
/// Every call is reported with its (paused) time.
struct Scripted {
    script: VecDeque<io::Result<()>>,
    calls: UnboundedSender<Instant>,
}

impl Scripted {
    fn new(
        script: impl IntoIterator<Item = io::Result<()>>,
    ) -> (Self, mpsc::UnboundedReceiver<Instant>) {
        let (calls, rx) = mpsc::unbounded_channel();
        let script = script.into_iter().collect();
        (Scripted { script, calls }, rx)
    }
}

impl Accept for Scripted {
    type Conn = ();

    async fn accept(&mut self) -> io::Result<((), SocketAddr)> {
        let _ = self.calls.send(Instant::now());
        match self.script.pop_front() {
            Some(result) => result.map(|()| ((), SocketAddr::from(([127, 0, 0, 1], 1)))),
            None => std::future::pending().await,
        }
    }
}

fn emfile() -> io::Result<()> {
    Err(io::Error::from_raw_os_error(
        nix::errno::Errno::EMFILE as i32,
    ))
}

#[tokio::test(start_paused = true)]
async fn a_failing_accept_backs_off_doubling_up_to_a_second_and_a_success_resets_it() {
    let script = [emfile(), emfile(), emfile(), Ok(())]
        .into_iter()
        .chain((0..9).map(|_| emfile()));
    let (accept, mut calls) = Scripted::new(script);
    let (_signal, drain) = drain();
    let listener = Listener::new(
        accept,
        "test",
        "test connection",
        10,
        &PanicCounter::default(),
    );
    tokio::spawn(listener.run(drain, |(), _, _| async {}));

    let mut at = Vec::new();
    for _ in 0..14 {
        at.push(calls.recv().await.unwrap());
    }
    let waits: Vec<u64> = at
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    assert_eq!(
        waits,
        [5, 10, 20, 0, 5, 10, 20, 40, 80, 160, 320, 640, 1000],
        "ms between accepts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_backoff_ends_when_the_drain_is_signaled() {
    let (accept, mut calls) = Scripted::new([emfile()]);
    let (signal, drain) = drain();
    let listener = Listener::new(
        accept,
        "test",
        "test connection",
        10,
        &PanicCounter::default(),
    );
    let run = tokio::spawn(listener.run(drain, |(), _, _| async {}));
    let first = calls.recv().await.unwrap();
    signal.signal();
    run.await.unwrap();
    assert!(
        first.elapsed() < ACCEPT_BACKOFF_FIRST,
        "returned while backing off"
    );
}

#[tokio::test(start_paused = true)]
async fn the_drain_waits_for_connections_up_to_the_grace_period() {
    let grace = Duration::from_secs(30);
    for finishes_when_asked in [true, false] {
        let (accept, _calls) = Scripted::new([Ok(())]);
        let (signal, drain) = drain();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let mut started_tx = Some(started_tx);
        let listener = Listener::new(
            accept,
            "test",
            "test connection",
            10,
            &PanicCounter::default(),
        );
        tokio::spawn(listener.run(drain, move |(), _, mut drain| {
            let started = started_tx.take();
            async move {
                let _ = started.map(|s| s.send(()));
                if finishes_when_asked {
                    drain.signaled().await;
                } else {
                    std::future::pending::<()>().await;
                }
            }
        }));
        started.await.unwrap();
        let begun = Instant::now();
        let finished = signal.drain(grace).await;
        assert_eq!(finished, finishes_when_asked);
        let waited = if finishes_when_asked {
            Duration::ZERO
        } else {
            grace
        };
        assert_eq!(begun.elapsed(), waited);
    }
}
