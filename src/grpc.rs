//! Placeholder: gRPC message framing (work in progress).
