//! Integration tests: one binary (one link on a 2-core machine), one module per area.

mod harness;

mod completions;
mod crd_schema;
mod help;
mod profile_bad_input;
mod profile_check;
mod profile_generate;
mod reference;
