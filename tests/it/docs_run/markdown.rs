//! Reading the commands out of a Markdown document: its fenced `sh`, `bash`, `shell` and `console`
//! blocks, and the `<!-- docs-run: skip REASON -->` marker that may stand on the line directly
//! before one.
//!
//! In `sh`/`bash`/`shell` blocks every line is a command (a line ending in `\` goes on on the next
//! one; blank lines and `#` comments are not commands). In `console` blocks, lines beginning with
//! `$ ` are commands and the lines after one, up to the next, are what it prints. Other fences
//! (`text`, `yaml`, `json`, none) are not commands.

/// Fence languages whose blocks are commands.
const RUNNABLE: &[&str] = &["sh", "bash", "shell", "console"];

/// What stands between `<!--` and `-->` on a marker line.
const MARKER: &str = "docs-run:";

/// One command as a document writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocCommand {
    /// The line it starts on (1-based).
    pub line: usize,
    /// The command, continuation lines included, without a trailing `&`.
    pub text: String,
    /// It ends in `&`: it runs in the background while the document's later commands run.
    pub background: bool,
    /// In a `console` block, the first line shown as its output.
    pub shown_output: Option<String>,
}

/// A fenced block of commands.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The line of its opening fence (1-based).
    pub line: usize,
    pub commands: Vec<DocCommand>,
    /// Why it is not run, from the marker before it.
    pub skip: Option<String>,
}

/// A marker the document got wrong, with its line (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerError {
    pub line: usize,
    pub message: String,
}

/// The blocks of commands in `text`, and the markers that are wrong.
pub fn blocks(text: &str) -> (Vec<Block>, Vec<MarkerError>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(directive) = marker(line) {
            let next_is_runnable = lines
                .get(i + 1)
                .and_then(|l| fence_language(l))
                .is_some_and(|lang| RUNNABLE.contains(&lang));
            match directive.strip_prefix("skip") {
                Some(reason) if reason.is_empty() || reason.starts_with(char::is_whitespace) => {
                    if reason.trim().is_empty() {
                        errors.push(MarkerError {
                            line: i + 1,
                            message: "`docs-run: skip` without a reason: say why the block \
                                      cannot run (needs a cluster, root, a long build, …)"
                                .into(),
                        });
                    }
                }
                _ => errors.push(MarkerError {
                    line: i + 1,
                    message: format!(
                        "unknown docs-run marker {directive:?}: the one marker is \
                         `<!-- docs-run: skip REASON -->`"
                    ),
                }),
            }
            if !next_is_runnable {
                errors.push(MarkerError {
                    line: i + 1,
                    message: "a docs-run marker must stand on the line directly before a \
                              ```sh, ```bash, ```shell or ```console block"
                        .into(),
                });
            }
        }
        let Some(lang) = fence_language(line) else {
            i += 1;
            continue;
        };
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .unwrap_or(lines.len());
        if RUNNABLE.contains(&lang) {
            let skip = i
                .checked_sub(1)
                .and_then(|p| marker(lines[p]))
                .and_then(|d| d.strip_prefix("skip"))
                .map(|reason| reason.trim().to_string());
            let body = &lines[i + 1..end];
            let commands = if lang == "console" {
                console_commands(body, i + 2)
            } else {
                script_commands(body, i + 2)
            };
            blocks.push(Block {
                line: i + 1,
                commands,
                skip,
            });
        }
        i = end + 1;
    }
    (blocks, errors)
}

/// The language of an opening fence line (`""` for a bare fence), or `None` for other lines.
fn fence_language(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("```")?;
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// The directive of a `<!-- docs-run: … -->` line.
fn marker(line: &str) -> Option<&str> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    Some(inner.strip_prefix(MARKER)?.trim())
}

/// Commands of a `sh` block whose first line is `first_line`.
fn script_commands(body: &[&str], first_line: usize) -> Vec<DocCommand> {
    let mut commands = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let trimmed = body[i].trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        while body[i].trim_end().ends_with('\\') && i + 1 < body.len() {
            i += 1;
        }
        commands.push(command(&body[start..=i], first_line + start, None));
        i += 1;
    }
    commands
}

/// Commands of a `console` block: `$ ` lines and what follows them.
fn console_commands(body: &[&str], first_line: usize) -> Vec<DocCommand> {
    let mut commands = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let Some(first) = body[i].strip_prefix("$ ") else {
            i += 1;
            continue;
        };
        let start = i;
        let mut text = vec![first];
        while text.last().is_some_and(|l| l.trim_end().ends_with('\\')) && i + 1 < body.len() {
            i += 1;
            text.push(body[i]);
        }
        let shown_output = body
            .get(i + 1)
            .filter(|l| !l.starts_with("$ "))
            .map(|l| l.to_string());
        commands.push(command(&text, first_line + start, shown_output));
        i += 1;
    }
    commands
}

fn command(lines: &[&str], line: usize, shown_output: Option<String>) -> DocCommand {
    let mut text = lines.join("\n");
    // The trailing comment of the last line goes, so that a `&` before it is seen.
    let last_start = text.rfind('\n').map_or(0, |n| n + 1);
    let code_end = last_start + comment_start(&text[last_start..]);
    text.truncate(code_end);
    let trimmed = text.trim_end();
    let background = trimmed.ends_with('&') && !trimmed.ends_with("&&");
    let text = if background {
        trimmed[..trimmed.len() - 1].trim_end().to_string()
    } else {
        trimmed.to_string()
    };
    DocCommand {
        line,
        text,
        background,
        shown_output,
    }
}

/// Where a shell comment begins in `line` (a `#` after a blank, outside quotes), or its length.
fn comment_start(line: &str) -> usize {
    let (mut single, mut double, mut prev_blank) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_blank => return i,
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# Title

```sh
mesh stat deploy   # what serves
mesh proxy --workload deploy/web \\
  --admin 127.0.0.1:4191 &   # runs on
curl -s 'x#y' | jq '.a # b'
```

<!-- docs-run: skip needs a cluster -->
```bash
kubectl apply -f x.yaml
```

```console
$ mesh routes deploy/voting -n emojivoto
ROUTE   SERVICE
$ mesh edges deploy
```

```yaml
a: 1
```
";

    #[test]
    fn commands_continuations_background_comments_and_console_output_are_read() {
        let (blocks, errors) = blocks(DOC);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(blocks.len(), 3);
        let texts: Vec<(usize, &str, bool)> = blocks[0]
            .commands
            .iter()
            .map(|c| (c.line, c.text.as_str(), c.background))
            .collect();
        assert_eq!(
            texts,
            [
                (4, "mesh stat deploy", false),
                (
                    5,
                    "mesh proxy --workload deploy/web \\\n  --admin 127.0.0.1:4191",
                    true
                ),
                (7, "curl -s 'x#y' | jq '.a # b'", false),
            ]
        );
        assert_eq!(blocks[1].skip.as_deref(), Some("needs a cluster"));
        assert_eq!(blocks[2].commands[0].line, 16);
        assert_eq!(
            blocks[2].commands[0].shown_output.as_deref(),
            Some("ROUTE   SERVICE")
        );
        assert_eq!(blocks[2].commands[1].shown_output, None);
    }

    #[test]
    fn a_marker_without_a_reason_or_not_before_a_command_block_is_an_error() {
        let doc = "<!-- docs-run: skip -->\n```sh\nls\n```\n\n<!-- docs-run: skip slow -->\n\n\
                   ```sh\nls\n```\n<!-- docs-run: skipping it -->\n```sh\nls\n```\n\
                   <!-- docs-run: skip yaml -->\n```yaml\na: 1\n```\n";
        let (_, errors) = blocks(doc);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 6, 11, 15], "{errors:#?}");
        assert!(errors[0].message.contains("without a reason"));
        assert!(errors[2].message.contains("unknown docs-run marker"));
    }
}
