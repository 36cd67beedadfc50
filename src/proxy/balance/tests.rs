use super::*;

fn endpoints(n: u16) -> Vec<Endpoint> {
    (1..=n)
        .map(|i| Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 9000 + i)),
            identity: None,
            tls: None,
        })
        .collect()
}

fn balancer(max_in_flight: usize) -> Balancer {
    Balancer::new(DispatchLimits {
        max_in_flight,
        max_queued: 100,
    })
}

/// A request's dispatch deadline, arriving now: 3 s, `--dispatch-timeout`'s default.
fn dispatch_at() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

fn no_h2(_: SocketAddr) -> Option<u32> {
    None
}

#[tokio::test(start_paused = true)]
async fn the_faster_endpoint_gets_the_requests() {
    let b = balancer(100);
    let eps = endpoints(2);
    let fast = eps[0].addr;
    // Teach the balancer: endpoint 1 answers in 1 ms, endpoint 2 in 50 ms.
    for (ep, rtt) in [(0, 1), (1, 50)] {
        let load = b.load(eps[ep].addr);
        load.observe(Duration::from_millis(rtt), Instant::now());
    }
    let mut to_fast = 0;
    for _ in 0..1000 {
        let f = b.acquire("svc", &eps, no_h2, dispatch_at()).await.unwrap();
        if f.endpoint.addr == fast {
            to_fast += 1;
        }
    }
    assert!(to_fast >= 800, "{to_fast} of 1000 to the fast endpoint");
}

#[tokio::test(start_paused = true)]
async fn pending_requests_make_an_endpoint_costlier() {
    let b = balancer(100);
    let eps = endpoints(2);
    let held: Vec<InFlight> = (0..10)
        .map(|_| {
            let load = b.load(eps[0].addr);
            assert!(load.try_take(100));
            InFlight {
                endpoint: eps[0].clone(),
                load,
                queue: b.queue("svc"),
                sent: Instant::now(),
            }
        })
        .collect();
    let f = b.acquire("svc", &eps, no_h2, dispatch_at()).await.unwrap();
    assert_eq!(f.endpoint.addr, eps[1].addr);
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn a_saturated_service_waits_then_fails_fast_until_capacity_returns() {
    let b = balancer(1000);
    let eps = endpoints(1);
    let ten = |_: SocketAddr| Some(10);
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(b.acquire("svc", &eps, ten, dispatch_at()).await.unwrap());
    }
    let waited_from = Instant::now();
    let err = b
        .acquire("svc", &eps, ten, dispatch_at())
        .await
        .err()
        .unwrap();
    assert_eq!(waited_from.elapsed(), Duration::from_secs(3));
    assert_eq!(
        err,
        Saturation {
            known: 1,
            ready: 1,
            in_flight: 10,
            max_streams: Some(10),
            max_in_flight: 1000,
            waited: Duration::from_secs(3),
            queue_full: false,
        }
    );
    // Failing fast: the next request is refused at once.
    let err = b
        .acquire("svc", &eps, ten, dispatch_at())
        .await
        .err()
        .unwrap();
    assert_eq!(err.waited, Duration::ZERO);
    // One request completes: capacity is back.
    held.pop();
    assert!(b.acquire("svc", &eps, ten, dispatch_at()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_waiting_request_gets_the_first_slot_freed() {
    let b = Arc::new(balancer(1));
    let eps = endpoints(1);
    let first = b.acquire("svc", &eps, no_h2, dispatch_at()).await.unwrap();
    let waiter = {
        let (b, eps) = (b.clone(), eps.clone());
        tokio::spawn(async move {
            b.acquire("svc", &eps, no_h2, dispatch_at())
                .await
                .map(|f| f.endpoint.clone())
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(first);
    assert_eq!(waiter.await.unwrap().unwrap(), eps[0]);
}

#[tokio::test(start_paused = true)]
async fn unreachable_endpoints_are_left_out_for_a_backoff() {
    let b = balancer(100);
    let eps = endpoints(2);
    let f = b
        .acquire("svc", &eps, |_| None, dispatch_at())
        .await
        .unwrap();
    let dead = f.endpoint.addr;
    f.unreachable();
    drop(f);
    for _ in 0..50 {
        let f = b.acquire("svc", &eps, no_h2, dispatch_at()).await.unwrap();
        assert_ne!(f.endpoint.addr, dead);
    }
    // After the backoff it is probed again.
    tokio::time::advance(BACKOFF_MIN).await;
    let mut seen = false;
    for _ in 0..50 {
        seen |= b
            .acquire("svc", &eps, no_h2, dispatch_at())
            .await
            .unwrap()
            .endpoint
            .addr
            == dead;
    }
    assert!(seen);
}
