//! `mesh identity`: the trust anchor, the issuer and workload certificates (being written).
