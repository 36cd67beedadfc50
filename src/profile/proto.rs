//! `mesh profile --proto`: one route per rpc, from `.proto` files read with `protobuf-parse`'s
//! pure-Rust parser (no `protoc` needed).
//!
//! Routes are named by the rpc (`VoteDoughnut`) and match `POST /<package>.<Service>/<Rpc>`, as gRPC
//! requests do; `idempotency_level` `IDEMPOTENT` or `NO_SIDE_EFFECTS` makes a route retryable. A route
//! needs only the service definitions, so when `protobuf-parse` cannot read a file — imports that
//! cannot be found, syntax it does not know (`edition = "2023"`), option forms it refuses — the
//! services are read by `scan` instead, and a notice names the file and the reason. Only when the
//! services themselves are malformed does generation fail, with the parser's line and column.
//!
//! `idempotency_level` is read as Linkerd's generator reads it: also quoted (`= "IDEMPOTENT"`) and
//! parenthesised (`option (idempotency_level) = …`), which Linkerd's tests expect to make a route
//! retryable. protoc refuses both forms, so mesh says so, with the form it accepts.

mod scan;
mod unmarked;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use protobuf::descriptor::method_options::IdempotencyLevel;

use super::go_regex::quote_meta;
use super::model::{RequestMatch, RouteSpec, ServiceProfile};
use super::unmatchable::unmatchable_notices;
use super::{Generated, ProfileTarget};

/// Why `.proto` files could not become a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The file could not be read.
    #[error("{file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid protobuf syntax.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    /// Two rpcs would produce the same route name.
    #[error(
        "two routes would be named {name:?}: {first} and {second}; \
         pass --qualified-names to name routes Service/Rpc"
    )]
    DuplicateRoute {
        name: String,
        first: String,
        second: String,
    },
}

/// Deepest nesting of braces, brackets, parentheses and angle brackets read. Real files nest a few
/// levels; the parser recurses per level and would overflow its stack thousands of levels down.
const MAX_NESTING: usize = 100;

/// One rpc, wherever it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rpc {
    package: String,
    service: String,
    name: String,
    retryable: bool,
}

impl Rpc {
    /// The gRPC request path: `/<package>.<Service>/<Rpc>` (`/<Service>/<Rpc>` without a package).
    fn grpc_path(&self) -> String {
        if self.package.is_empty() {
            format!("/{}/{}", self.service, self.name)
        } else {
            format!("/{}.{}/{}", self.package, self.service, self.name)
        }
    }
}

/// Generates a profile from `.proto` files, in the order given; `include_dirs` are searched for
/// imports after each file's own directory.
pub fn profile_from_protos(
    files: &[PathBuf],
    include_dirs: &[PathBuf],
    target: &ProfileTarget,
    qualified_names: bool,
) -> Result<Generated, ProtoError> {
    let mut profile =
        ServiceProfile::new(&target.service, &target.namespace, &target.cluster_domain);
    let mut notices = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for file in files {
        for rpc in read_rpcs(file, include_dirs, &mut notices)? {
            let path = rpc.grpc_path();
            let name = if qualified_names {
                format!("{}/{}", rpc.service, rpc.name)
            } else {
                rpc.name.clone()
            };
            let origin = format!("{} ({})", path.trim_start_matches('/'), file.display());
            if let Some(first) = seen.insert(name.clone(), origin.clone()) {
                return Err(ProtoError::DuplicateRoute {
                    name,
                    first,
                    second: origin,
                });
            }
            profile.spec.routes.push(RouteSpec {
                condition: RequestMatch::method_and_path("POST", quote_meta(&path)),
                is_retryable: rpc.retryable,
                name,
                response_classes: Vec::new(),
                timeout: None,
            });
        }
    }
    notices.extend(unmatchable_notices(&profile));
    Ok(Generated { profile, notices })
}

fn read_rpcs(
    file: &Path,
    include_dirs: &[PathBuf],
    notices: &mut Vec<String>,
) -> Result<Vec<Rpc>, ProtoError> {
    let display = file.display().to_string();
    let read_error = |source| ProtoError::Read {
        file: display.clone(),
        source,
    };
    let marked = std::fs::read_to_string(file).map_err(read_error)?;
    // protoc skips a byte-order mark; protobuf-parse would stop at it (see `unmarked`).
    let content = crate::yaml::strip_bom(&marked);
    let syntax_error = |(line, column, message): scan::ScanError| ProtoError::Syntax {
        file: display.clone(),
        line,
        column,
        message,
    };
    scan::check_nesting(content, MAX_NESTING).map_err(syntax_error)?;
    // A full parse first, so syntax errors are reported with their location before anything else.
    if let Err(e) = protobuf_parse::pure::parse_dependencies(content) {
        let (line, column, message) = (e.line, e.col, e.error.to_string());
        // Syntax the parser does not know (editions, newer keywords): the services alone may still
        // be read. When they cannot be either, the error further into the file is the one to show:
        // the parser's when both stop at the same place, as its messages say more.
        let scanned = match scan::scan(content) {
            Ok(scanned) => scanned,
            Err(scanned) if (scanned.0, scanned.1) > (line, column) => {
                return Err(syntax_error(scanned))
            }
            Err(_) => return Err(syntax_error((line, column, message))),
        };
        let reason = match &scanned.edition {
            Some(edition) => format!(
                "edition {edition:?} is newer than the protobuf parser mesh uses, which stops at \
                 {line}:{column}: {message}"
            ),
            None => format!("the protobuf parser stops at {line}:{column}: {message}"),
        };
        notices.push(format!(
            "{display}: {reason}; routes were read from the service definitions alone"
        ));
        return Ok(with_loose_notices(&display, scanned, notices));
    }

    let own_dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let search: Vec<&Path> = std::iter::once(own_dir)
        .chain(include_dirs.iter().map(PathBuf::as_path))
        .collect();
    let is_marked = content.len() != marked.len();
    let copy =
        unmarked::UnmarkedCopy::write(file, content, is_marked, &search).map_err(read_error)?;
    let mut parser = protobuf_parse::Parser::new();
    parser.pure();
    if let Some(copy) = &copy {
        parser.include(copy.dir());
    }
    parser
        .include(own_dir)
        .includes(include_dirs)
        .input(copy.as_ref().and_then(|c| c.file()).unwrap_or(file));
    match parser.parse_and_typecheck() {
        Ok(parsed) => {
            let descriptor = parsed
                .file_descriptors
                .iter()
                .rev()
                .find(|d| Path::new(d.name()).file_name() == file.file_name())
                .or(parsed.file_descriptors.last());
            Ok(descriptor.map(rpcs_of_descriptor).unwrap_or_default())
        }
        Err(e) => {
            let mut cause = root_cause(&e);
            // Name the files the user has, not their private copies.
            if let Some(copy) = &copy {
                if let Some(input) = copy.file() {
                    cause = cause.replace(&input.display().to_string(), &display);
                }
                cause = cause.replace(&format!("{}/", copy.dir().display()), "");
            }
            notices.push(format!(
                "{display}: {cause}; routes were read from the service definitions alone"
            ));
            let scanned = scan::scan(content).map_err(syntax_error)?;
            Ok(with_loose_notices(&display, scanned, notices))
        }
    }
}

/// The scanned rpcs, after a notice for each `idempotency_level` written in a form protoc refuses.
fn with_loose_notices(file: &str, scanned: scan::Scanned, notices: &mut Vec<String>) -> Vec<Rpc> {
    const LEVELS: [&str; 3] = ["IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS", "IDEMPOTENT"];
    for option in &scanned.loose_options {
        let fix = if LEVELS.contains(&option.level.as_str()) {
            format!("write `option idempotency_level = {};`", option.level)
        } else {
            format!("the level is one of {}, unquoted", LEVELS.join(", "))
        };
        let retryable = scan::is_retryable_level(&option.level);
        notices.push(format!(
            "{file}:{}:{}: rpc {}: protoc refuses `{}` ({fix}); mesh reads it as Linkerd \
             does, so the route is {}retryable",
            option.line,
            option.column,
            option.rpc,
            option.written,
            if retryable { "" } else { "not " }
        ));
    }
    scanned.rpcs
}

fn rpcs_of_descriptor(file: &protobuf::descriptor::FileDescriptorProto) -> Vec<Rpc> {
    file.service
        .iter()
        .flat_map(|service| {
            service.method.iter().map(|method| Rpc {
                package: file.package().to_string(),
                service: service.name().to_string(),
                name: method.name().to_string(),
                retryable: matches!(
                    method.options.idempotency_level(),
                    IdempotencyLevel::IDEMPOTENT | IdempotencyLevel::NO_SIDE_EFFECTS
                ),
            })
        })
        .collect()
}

/// The innermost message of an error chain, without the parser's "using pure parser:" preamble.
fn root_cause(e: &anyhow::Error) -> String {
    let text = e.root_cause().to_string();
    text.trim_start_matches("using pure parser: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback scanner must read the same rpcs as the full parser where both can run.
    #[test]
    fn scanner_agrees_with_the_parser_on_resolvable_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "fixtures/demo/emoji.proto",
            "fixtures/demo/voting.proto",
            "fixtures/profile/proto/nopackage.proto",
        ] {
            let path = root.join(file);
            let mut notices = Vec::new();
            let parsed = read_rpcs(&path, &[], &mut notices).unwrap();
            assert!(notices.is_empty(), "{file} resolves fully: {notices:?}");
            let scanned = scan::scan(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(parsed, scanned.rpcs, "{file}");
            assert!(!parsed.is_empty());
        }
    }
}
