//! Placeholder: owned by the metrics work in progress.
