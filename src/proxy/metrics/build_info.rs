//! `proxy_build_info`: which build a proxy runs, as linkerd2-proxy exports it (value 1, the facts
//! in labels `date`, `git_sha`, `profile`, `vendor`, `version`), so dashboards and alerts that
//! look for mixed versions work.
//!
//! The version is Cargo's. A git commit and build date are known only when the build was told
//! them — `GIT_SHA=$(git rev-parse HEAD) MESH_BUILD_DATE=… cargo build`, as linkerd2-proxy's
//! image build sets `GIT_SHA` — since finding them otherwise needs a build script running git;
//! without them both say `unknown`.

use std::fmt::Write;

use super::labels::push_label;

/// Facts about this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    pub date: &'static str,
    pub git_sha: &'static str,
    /// `release` for an optimised build, `debug` otherwise (the Cargo profile's kind).
    pub profile: &'static str,
    pub vendor: &'static str,
    pub version: &'static str,
}

/// This binary's build.
pub const BUILD_INFO: BuildInfo = BuildInfo {
    date: match option_env!("MESH_BUILD_DATE") {
        Some(d) => d,
        None => "unknown",
    },
    git_sha: match option_env!("GIT_SHA") {
        Some(s) => s,
        None => "unknown",
    },
    profile: if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    },
    vendor: "mesh",
    version: env!("CARGO_PKG_VERSION"),
};

impl BuildInfo {
    /// Writes the family; `own` are the proxy's own labels, which every mesh line carries (and
    /// which let PromQL join the label-less `process_*` lines to a workload, on `instance`).
    pub fn render(&self, out: &mut String, own: &str) {
        let mut labels = own.to_string();
        push_label(&mut labels, "date", self.date);
        push_label(&mut labels, "git_sha", self.git_sha);
        push_label(&mut labels, "profile", self.profile);
        push_label(&mut labels, "vendor", self.vendor);
        push_label(&mut labels, "version", self.version);
        let _ = writeln!(
            out,
            "# HELP proxy_build_info Proxy build info.\n# TYPE proxy_build_info gauge\nproxy_build_info{{{labels}}} 1"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_one_with_the_build_in_labels() {
        let mut out = String::new();
        BUILD_INFO.render(
            &mut out,
            r#"namespace="emojivoto",deployment="web",pod="web-0""#,
        );
        let version = env!("CARGO_PKG_VERSION");
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        assert!(
            out.ends_with(&format!(
                "proxy_build_info{{namespace=\"emojivoto\",deployment=\"web\",pod=\"web-0\",date=\"{}\",git_sha=\"{}\",profile=\"{profile}\",vendor=\"mesh\",version=\"{version}\"}} 1\n",
                BUILD_INFO.date, BUILD_INFO.git_sha
            )),
            "{out}"
        );
        assert!(out.starts_with("# HELP proxy_build_info "), "{out}");
    }
}
