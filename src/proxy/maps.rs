//! The maps the request path looks up on every request (metric series, balancer and connection
//! pool state, memoised header values, retry budgets, profiles), hashed with aHash instead of the
//! standard library's SipHash-1-3: keys such as a series' labels are hashed several times per
//! request, and SipHash was about 4% of the outbound proxy's instructions (callgrind, one hop,
//! HTTP/1). aHash is keyed with per-process random state, so colliding keys cannot be precomputed
//! against it; every map here is also bounded by size.

use std::collections::HashMap;

use dashmap::DashMap;

/// The hasher of the request path's maps.
pub type Hasher = ahash::RandomState;

/// A sharded concurrent map with [`Hasher`]; `ConcurrentMap::default()` makes an empty one.
pub type ConcurrentMap<K, V> = DashMap<K, V, Hasher>;

/// A map read without locks (behind an `ArcSwap`) with [`Hasher`].
pub type ReadMap<K, V> = HashMap<K, V, Hasher>;
