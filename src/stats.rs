//! Placeholder: the `/stats` JSON contract between proxies and the CLI (work in progress).
