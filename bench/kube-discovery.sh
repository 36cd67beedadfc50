#!/usr/bin/env bash
# Scale of `mesh proxy --discovery kube`: 1,000 services x 10 endpoints served by the replay API
# server of the tests (tests/it/kube_replay.rs), each service looked up once through a real
# proxy, against the same endpoints from an endpoints file as the baseline in the same run.
# Prints RSS growth, CPU time and wall time of the proxy for both, and the ratios.
#
# The replay server speaks HTTP/1.1 without TLS, so each watch is a connection of its own; a real
# API server multiplexes watches over HTTP/2, which costs a proxy less per watch (but the API
# server the same number of watches). Run: bash bench/kube-discovery.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test it kube_discovery::scale_1000_services_by_10_endpoints \
  -- --ignored --nocapture 2>&1 | grep -E '^(1000 services|source|endpoints file|kube|ratio)'
