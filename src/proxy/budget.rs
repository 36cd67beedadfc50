//! The retry budget of a service (a ServiceProfile's `retryBudget`): retries may add at most
//! `retryRatio` of the original requests' load, plus a reserve of `minRetriesPerSecond × ttl`
//! retries so services with little traffic can still retry, counted over a window of `ttl` that
//! slides in tenths. A failing upstream therefore never sees a retry storm: over any window,
//! retries ≤ ratio × requests + reserve.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::maps::ConcurrentMap;
use crate::profile::duration::parse_go_duration;
use crate::profile::model;

/// Fixed-point scale: one request deposits this many units.
const UNIT: i64 = 1000;
/// The window slides in this many steps.
const SLOTS: usize = 10;

/// A service's retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    /// Units one retry costs (`UNIT / ratio`).
    withdraw: i64,
    /// Units available beyond deposits within a window.
    reserve: i64,
    slot_len: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// Deposits minus withdrawals per slot; the current slot is `current`.
    slots: [i64; SLOTS],
    current: usize,
    slot_start: Instant,
}

impl RetryBudget {
    /// A budget allowing `ratio` retries per request plus `min_per_second × ttl` per window.
    pub fn new(ratio: f32, min_per_second: u32, ttl: Duration) -> Self {
        // A ratio of 0 leaves (almost) only the reserve: one retry per thousand requests.
        let ratio = f64::from(ratio).clamp(0.001, 1000.0);
        let withdraw = ((UNIT as f64) / ratio).round().max(1.0) as i64;
        let ttl = ttl.clamp(Duration::from_secs(1), Duration::from_secs(60));
        let reserve_retries = i64::from(min_per_second) * ttl.as_secs() as i64;
        RetryBudget {
            withdraw,
            reserve: reserve_retries.saturating_mul(withdraw),
            slot_len: ttl / SLOTS as u32,
            state: Mutex::new(Window {
                slots: [0; SLOTS],
                current: 0,
                slot_start: Instant::now(),
            }),
        }
    }

    /// The budget a profile asks for (its `ttl` already validated), or Linkerd's defaults.
    pub fn from_profile(budget: Option<&model::RetryBudget>) -> Self {
        let default = model::RetryBudget::default();
        let b = budget.unwrap_or(&default);
        let ttl = parse_go_duration(&b.ttl).unwrap_or(Duration::from_secs(10));
        RetryBudget::new(b.retry_ratio, b.min_retries_per_second, ttl)
    }

    /// An original request: adds to the budget.
    pub fn deposit(&self) {
        let mut w = self.window();
        let i = w.current;
        w.slots[i] += UNIT;
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn withdraw(&self) -> bool {
        let mut w = self.window();
        let balance: i64 = w.slots.iter().sum::<i64>() + self.reserve;
        if balance < self.withdraw {
            return false;
        }
        let i = w.current;
        w.slots[i] -= self.withdraw;
        true
    }

    /// The window, with slots older than `ttl` expired.
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut steps = 0;
        while now.duration_since(w.slot_start) >= self.slot_len && steps <= SLOTS {
            w.current = (w.current + 1) % SLOTS;
            let i = w.current;
            w.slots[i] = 0;
            w.slot_start += self.slot_len;
            steps += 1;
        }
        if steps > SLOTS {
            // Idle for longer than the window: every slot has expired.
            w.slot_start = now;
        }
        w
    }
}

/// The retry budgets of services without a ServiceProfile: each gets Linkerd's default budget
/// (`retryRatio` 0.2, `minRetriesPerSecond` 10, `ttl` 10s) for the retries every request may get
/// (an HTTP/2 stream the server did not process). At most `capacity` services have their own;
/// beyond, they share one, so no set of names can buy unbounded retries.
pub struct DefaultBudgets {
    by_service: ConcurrentMap<Box<str>, Arc<RetryBudget>>,
    shared: Arc<RetryBudget>,
    capacity: usize,
}

impl DefaultBudgets {
    /// Budgets for up to `capacity` services.
    pub fn new(capacity: usize) -> Self {
        DefaultBudgets {
            by_service: ConcurrentMap::default(),
            shared: Arc::new(RetryBudget::from_profile(None)),
            capacity,
        }
    }

    /// The default budget of `service`.
    pub fn get(&self, service: &str) -> Arc<RetryBudget> {
        if let Some(b) = self.by_service.get(service) {
            return b.clone();
        }
        if self.by_service.len() >= self.capacity {
            return self.shared.clone();
        }
        self.by_service
            .entry(service.into())
            .or_insert_with(|| Arc::new(RetryBudget::from_profile(None)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries(budget: &RetryBudget, attempts: usize) -> usize {
        (0..attempts).filter(|_| budget.withdraw()).count()
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_by_ratio_and_reserve() {
        let budget = RetryBudget::new(0.2, 1, Duration::from_secs(10));
        for _ in 0..100 {
            budget.deposit();
        }
        // 100 requests × 0.2 + 1/s × 10 s.
        assert_eq!(retries(&budget, 1000), 30);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_lets_quiet_services_retry() {
        let budget = RetryBudget::new(0.2, 10, Duration::from_secs(10));
        assert_eq!(retries(&budget, 1000), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn services_without_a_profile_get_linkerds_default_budget() {
        let budgets = DefaultBudgets::new(1);
        let web = budgets.get("web-svc:8080");
        assert!(Arc::ptr_eq(&web, &budgets.get("web-svc:8080")));
        for _ in 0..100 {
            web.deposit();
        }
        // 100 requests × 0.2 + 10/s × 10 s.
        assert_eq!(retries(&web, 1000), 120);
        // Beyond the capacity, services share one budget.
        let (a, b) = (budgets.get("a:80"), budgets.get("b:80"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides_over_ttl() {
        let budget = RetryBudget::new(0.5, 0, Duration::from_secs(10));
        for _ in 0..10 {
            budget.deposit();
        }
        assert_eq!(retries(&budget, 3), 3);
        // After the window, old deposits and withdrawals have expired.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(retries(&budget, 1), 0);
        for _ in 0..4 {
            budget.deposit();
        }
        assert_eq!(retries(&budget, 10), 2);
    }
}
