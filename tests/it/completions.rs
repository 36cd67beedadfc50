//! The committed completion scripts and manual pages match what the binary generates.

use crate::harness::{fixture, root, run};

/// (arguments to `mesh`, committed file).
const SCRIPTS: [(&[&str], &str); 4] = [
    (&["completions", "bash"], "completions/mesh.bash"),
    (&["completions", "zsh"], "completions/_mesh"),
    (&["completions", "fish"], "completions/mesh.fish"),
    (&["completions", "powershell"], "completions/_mesh.ps1"),
];

#[test]
fn committed_completion_scripts_are_fresh() {
    for (args, file) in SCRIPTS {
        let r = run(args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout == fixture(file),
            "{file} is stale; regenerate it with: cargo run -q -- {} > {file}",
            args.join(" ")
        );
    }
}

/// docs/man holds exactly the pages `mesh man --dir` writes, one per visible command and
/// subcommand, each as generated.
#[test]
fn committed_man_pages_are_exactly_the_generated_set() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let generated = man_pages(dir.path());
    let committed = man_pages(&root().join("docs/man"));
    let refresh = "regenerate them with: cargo run -q -- man --dir docs/man (and remove the pages it does not write)";
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "docs/man has a different set of pages; {refresh}"
    );
    for (name, text) in &generated {
        assert!(
            committed[name] == *text,
            "docs/man/{name} is stale; {refresh}"
        );
    }
    for name in [
        "mesh.1",
        "mesh-profile.1",
        "mesh-profile-check.1",
        "mesh-completions.1",
    ] {
        assert!(generated.contains_key(name), "{name} is generated");
    }
}

/// Every `mesh-…(1)` a committed page refers to is a committed page (no `mesh-help(1)`, which
/// nothing generates).
#[test]
fn every_page_a_man_page_names_exists() {
    let pages = man_pages(&root().join("docs/man"));
    let reference = regex::Regex::new(r"\bmesh(?:\\-[a-z]+)*\(1\)").unwrap();
    for (name, text) in &pages {
        for found in reference.find_iter(text) {
            let target = found.as_str().replace("\\-", "-").replace("(1)", ".1");
            assert!(
                pages.contains_key(&target),
                "docs/man/{name} names {}, but there is no docs/man/{target}",
                found.as_str()
            );
        }
    }
}

/// The `*.1` files of `dir`, by name.
fn man_pages(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "1"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn help_names_every_profile_source() {
    let r = run(&["profile", "--help"]);
    assert_eq!(r.code, 0);
    for flag in [
        "--open-api <FILE>",
        "--proto <FILE>",
        "--template",
        "--qualified-names",
        "-o, --output",
        "check",
    ] {
        assert!(
            r.stdout.contains(flag),
            "help mentions {flag}:\n{}",
            r.stdout
        );
    }
}

/// What each hidden subcommand's `--help` summary says: a script that holds it offers the command.
fn hidden_subcommands() -> Vec<(String, String)> {
    use clap::CommandFactory;
    mesh::cli::Cli::command()
        .get_subcommands()
        .filter(|sub| sub.is_hide_set())
        .map(|sub| {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            (sub.get_name().to_owned(), about)
        })
        .collect()
}

/// `man` and `test-server` are hidden from `--help`, and so from every shell's completion.
#[test]
fn no_completion_script_offers_a_hidden_subcommand() {
    let hidden = hidden_subcommands();
    assert!(hidden.iter().any(|(name, _)| name == "test-server"));
    for (_, file) in SCRIPTS {
        let script = fixture(file);
        for (name, about) in &hidden {
            assert!(
                !script.contains(about.as_str()),
                "{file} offers the hidden subcommand {name} ({about:?})"
            );
        }
    }
    for line in ["mesh ", "mesh help "] {
        let offered = bash_completes(line);
        assert!(
            offered.iter().any(|w| w == "profile"),
            "{line:?}: {offered:?}"
        );
        for (name, _) in &hidden {
            assert!(
                !offered.contains(name),
                "bash offers {name} after {line:?}: {offered:?}"
            );
        }
    }
}

/// What the committed bash script offers for `line` (ending where the cursor is), run in bash.
fn bash_completes(line: &str) -> Vec<String> {
    let script = root().join("completions/mesh.bash");
    let program = format!(
        "source {script:?}\nCOMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}\n\
         read -ra COMP_WORDS <<< \"$COMP_LINE\"\n\
         [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n\
         COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         _mesh mesh \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// fish completes what each position takes: shells after `mesh completions`, subcommands after
/// `mesh help` and `mesh`, nothing (not file names) at a name such as `mesh stat RESOURCE`, and
/// still file names where files go. Run in fish when it is installed (CI installs it); otherwise
/// the script's text is checked for the lines that do it.
#[test]
fn fish_completes_values_and_subcommands_where_they_go_not_file_names() {
    let script = fixture("completions/mesh.fish");
    let shells = "complete -c mesh -n \"__fish_mesh_using_subcommand completions\" -f -a \"bash elvish fish powershell zsh\"";
    assert!(script.contains(shells), "mesh.fish lacks: {shells}");
    let has_fish = std::process::Command::new("fish")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fish {
        eprintln!("fish is not installed: its completions were checked as text only");
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("stray-file.txt"), "").unwrap();
    let complete = |line: &str| -> Vec<String> {
        let program = format!(
            "source {:?}; complete -C {line:?}",
            root().join("completions/mesh.fish")
        );
        let out = std::process::Command::new("fish")
            .args(["--no-config", "-c", &program])
            .current_dir(cwd.path())
            .output()
            .expect("fish runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each candidate is `word<TAB>description`.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect()
    };
    let stray = "stray-file.txt".to_owned();
    let shells = complete("mesh completions ");
    assert!(shells.contains(&"fish".to_owned()), "{shells:?}");
    assert!(
        !shells.contains(&stray),
        "mesh completions offers files: {shells:?}"
    );
    for line in ["mesh ", "mesh help "] {
        let offered = complete(line);
        assert!(
            offered.contains(&"stat".to_owned()),
            "{line:?}: {offered:?}"
        );
        assert!(
            !offered.contains(&stray),
            "{line:?} offers files: {offered:?}"
        );
        for (name, _) in hidden_subcommands() {
            assert!(
                !offered.contains(&name),
                "{line:?} offers {name}: {offered:?}"
            );
        }
    }
    for line in ["mesh stat ", "mesh profile ", "mesh tap "] {
        let offered = complete(line);
        assert!(
            !offered.contains(&stray),
            "{line:?} offers files: {offered:?}"
        );
    }
    let files = complete("mesh profile check ");
    assert!(
        files.contains(&stray),
        "mesh profile check takes files: {files:?}"
    );
}
