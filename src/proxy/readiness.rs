//! Waiting for a proxy to be ready, as its admin port's `/ready` says: the client side of
//! [`super::admin`], used by `mesh proxy -- APP` (before it starts the app) and by `mesh await`.
//!
//! The admin port answers `/ready` with 200 once the proxy serves (profiles loaded, registered);
//! until then it answers 503, or refuses the connection when nothing listens yet. Both mean "poll
//! again"; only the overall deadline ends the wait.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use crate::admin_api::{AdminClient, AdminError};

/// How often `/ready` is asked while waiting.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The proxy did not say it was ready in time.
#[derive(Debug, thiserror::Error)]
#[error("the proxy at {admin} was not ready within {timeout:?}")]
pub struct NotReady {
    /// The admin address asked.
    pub admin: SocketAddr,
    /// How long the wait was allowed to take.
    pub timeout: Duration,
    /// What the last attempt saw: the error's cause.
    #[source]
    pub last: Attempt,
}

/// What one `GET /ready` saw instead of 200.
#[derive(Debug, thiserror::Error)]
pub enum Attempt {
    /// The admin port answered, not ready yet (`503 Service Unavailable`).
    #[error("{0}")]
    Status(StatusCode),
    /// Nothing listened, or the answer was not HTTP.
    #[error(transparent)]
    Failed(#[from] AdminError),
    /// The wait ended during the attempt.
    #[error("no answer")]
    NoAnswer,
}

/// Asks `http://ADMIN/ready` every `interval` until it answers 200, for at most `timeout`.
pub async fn wait_ready(
    admin: SocketAddr,
    interval: Duration,
    timeout: Duration,
) -> Result<(), NotReady> {
    let client = AdminClient::new();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Each attempt is bounded by what is left of the wait, not only by the client's timeout.
        let last = match tokio::time::timeout(left, ask_ready(&client, admin)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(seen)) => seen,
            Err(_) => Attempt::NoAnswer,
        };
        if Instant::now() + interval > deadline {
            return Err(NotReady {
                admin,
                timeout,
                last,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// One `GET /ready`: `Ok` on 200, otherwise what was seen instead.
async fn ask_ready(client: &AdminClient, admin: SocketAddr) -> Result<(), Attempt> {
    match client.get(admin, "/ready").await?.status {
        StatusCode::OK => Ok(()),
        status => Err(Attempt::Status(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_not_ready_and_the_error_names_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = listener.local_addr().unwrap();
        drop(listener);
        let err = wait_ready(admin, POLL_INTERVAL, Duration::from_millis(100))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&admin.to_string()), "{text}");
        assert!(text.contains("100ms"), "{text}");
    }
}
