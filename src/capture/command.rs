//! Running the backends' tools (`nft`, `iptables-restore`, `iptables-save`): input on stdin, a
//! bounded wait, and a failure that names the command, its output, and what is most likely
//! missing (the binary, a capability, a kernel module).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// How long one tool may run: they take milliseconds, but iptables may wait on the xtables lock.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// A tool that did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The binary is not in `PATH`.
    #[error("`{bin}` is not installed (not found in PATH): install {package}, or choose another --backend")]
    Missing { bin: String, package: &'static str },
    /// It ran and failed.
    #[error("`{command}` failed ({status}): {stderr}{hint}", hint = hint(.stderr))]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    /// It did not finish in time.
    #[error("`{command}` did not finish within {}s", TOOL_TIMEOUT.as_secs())]
    Timeout { command: String },
    /// It could not be started or talked to.
    #[error("running `{command}`: {error}")]
    Io {
        command: String,
        error: std::io::Error,
    },
}

impl ToolError {
    /// Whether the tool is simply absent (so `auto` may try the next backend).
    pub fn is_missing(&self) -> bool {
        matches!(self, ToolError::Missing { .. })
    }

    /// Whether the failure is a missing privilege (no other backend will do better).
    pub fn is_permission(&self) -> bool {
        matches!(self, ToolError::Failed { stderr, .. } if permission_denied(stderr))
    }
}

/// Runs `bin args`, feeding it `stdin`, and returns its stdout.
pub async fn run(bin: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ToolError> {
    let command = std::iter::once(bin)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let io = |error| ToolError::Io {
        command: command.clone(),
        error,
    };
    let mut child = match Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::Missing {
                bin: bin.to_string(),
                package: package_of(bin),
            })
        }
        Err(e) => return Err(io(e)),
    };
    let pipe = child.stdin.take();
    let feed = async move {
        if let (Some(input), Some(mut pipe)) = (stdin, pipe) {
            match pipe.write_all(input.as_bytes()).await {
                // The tool stopped reading (it failed early): its status and words say why.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            // Dropping the pipe closes stdin, which ends the tool's input.
        }
        std::io::Result::Ok(())
    };
    // Fed while its output is read, both under the bound: a tool that stops reading can block
    // neither.
    let both = async { tokio::join!(feed, child.wait_with_output()) };
    let output = match tokio::time::timeout(TOOL_TIMEOUT, both).await {
        Ok((fed, output)) => {
            let output = output.map_err(&io)?;
            if output.status.success() {
                fed.map_err(&io)?;
            }
            output
        }
        Err(_) => return Err(ToolError::Timeout { command }),
    };
    if !output.status.success() {
        return Err(ToolError::Failed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether `bin` is an executable file in `PATH` (for choosing a backend without running it).
pub fn in_path(bin: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(bin))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The Debian package that has `bin`.
fn package_of(bin: &str) -> &'static str {
    if bin == "nft" {
        "nftables"
    } else {
        "iptables"
    }
}

fn permission_denied(stderr: &str) -> bool {
    stderr.contains("Permission denied") || stderr.contains("Operation not permitted")
}

/// What the tool's own words most likely mean, as a sentence to append.
fn hint(stderr: &str) -> &'static str {
    if permission_denied(stderr) {
        "\n  -> changing the network namespace's rules needs CAP_NET_ADMIN: run as root, or give \
         the init container the NET_ADMIN capability"
    } else if stderr.contains("Table does not exist")
        || stderr.contains("do you need to insmod")
        || stderr.contains("No such file or directory")
        || stderr.contains("not supported")
    {
        "\n  -> the kernel lacks what this backend needs (the nat table, REDIRECT, owner or \
         multiport matches: iptable_nat/ip6table_nat for iptables-legacy, nft_chain_nat, \
         nft_redir and xt_* for the nf_tables backends): load the modules on the node, or \
         choose another --backend"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_binary_names_itself_and_its_package() {
        let err = run("mesh-no-such-tool", &[], None).await.unwrap_err();
        assert!(err.is_missing());
        assert!(err
            .to_string()
            .contains("`mesh-no-such-tool` is not installed"));
    }

    #[tokio::test]
    async fn a_failure_carries_the_tools_words_and_a_hint() {
        let err = run(
            "sh",
            &[
                "-c",
                "echo 'iptables-restore: Permission denied (you must be root)' >&2; exit 4",
            ],
            None,
        )
        .await
        .unwrap_err();
        assert!(err.is_permission());
        let text = err.to_string();
        assert!(
            text.contains("you must be root") && text.contains("NET_ADMIN"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn stdin_reaches_the_tool() {
        assert_eq!(run("cat", &[], Some("*nat\n")).await.unwrap(), "*nat\n");
    }
}
