//! Integration tests: one binary (one link on a 2-core machine), one module per area.

mod harness;
mod net;
mod process;
mod python;
mod raw_http;

mod completions;
mod crd_schema;
mod demo;
mod fuzz_regressions;
mod help;
mod profile_bad_input;
mod profile_check;
mod profile_generate;
mod proxy_app_ports;
mod proxy_bad_input;
mod proxy_big_heads;
mod proxy_detect;
mod proxy_faults;
mod proxy_framing;
mod proxy_h2_limits;
mod proxy_keepalive;
mod proxy_lifecycle;
mod proxy_policy;
mod proxy_reliability;
mod proxy_startup;
mod proxy_tcp;
mod proxy_traffic;
mod reference;
mod tap;
mod testsvc;
mod viz;
mod viz_prometheus;
