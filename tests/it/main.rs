//! Integration tests: one binary (one link on a 2-core machine), one module per area.

mod harness;
mod net;
mod process;
mod python;

mod completions;
mod crd_schema;
mod demo;
mod fuzz_regressions;
mod help;
mod profile_bad_input;
mod profile_check;
mod profile_generate;
mod proxy_bad_input;
mod proxy_faults;
mod proxy_lifecycle;
mod proxy_load;
mod proxy_reliability;
mod proxy_startup;
mod proxy_tcp;
mod proxy_traffic;
mod reference;
mod tap;
mod testsvc;
mod viz;
mod viz_prometheus;
