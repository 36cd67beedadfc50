//! Placeholder: small real upstreams for tests, benchmarks and the demo (work in progress).
