//! A bounded memo for values the hot path derives from request headers — the caller's identity
//! from `mesh-peer`, an inbound authority's service — which take few distinct values in practice,
//! so each is parsed once instead of once per request.

use super::maps::ConcurrentMap;

/// Derived values by the header text they came from; at most `capacity` are kept, beyond which
/// values are computed each time (so hostile input cannot grow memory).
pub struct Memo<V> {
    map: ConcurrentMap<Box<str>, V>,
    capacity: usize,
}

impl<V: Clone> Memo<V> {
    /// An empty memo keeping at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Memo {
            map: ConcurrentMap::default(),
            capacity,
        }
    }

    /// The value for `key`, computed by `make` the first time.
    pub fn get_or(&self, key: &str, make: impl FnOnce() -> V) -> V {
        if let Some(v) = self.map.get(key) {
            return v.clone();
        }
        let v = make();
        if self.map.len() < self.capacity {
            self.map.insert(key.into(), v.clone());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_computed_once_and_the_memo_stays_bounded() {
        let memo = Memo::new(2);
        let mut calls = 0;
        for key in ["a", "a", "b", "c", "c"] {
            memo.get_or(key, || {
                calls += 1;
                key.len()
            });
        }
        assert_eq!(calls, 4, "a and b are memoised; c is over capacity");
        assert_eq!(memo.map.len(), 2);
    }
}
