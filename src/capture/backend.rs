//! The three ways to install the rule set, and `auto`, which picks the first that works here:
//! nftables itself (`nft`), then iptables on nf_tables (`iptables-nft`), then the legacy
//! x_tables (`iptables-legacy`). Each applies in one transaction per tool run; with iptables the
//! IPv4 and IPv6 inputs are two runs, and a failed IPv6 run puts the IPv4 rules back as they were.

use std::fmt;

use super::command::{self, ToolError};
use super::iptables::{self, NatState};
use super::nft;
use super::rules::{Chains, Family};

/// A backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `nft -f -`: one `inet` table for both families.
    Nft,
    /// `iptables-nft-restore` / `ip6tables-nft-restore`.
    IptablesNft,
    /// `iptables-legacy-restore` / `ip6tables-legacy-restore`.
    IptablesLegacy,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Nft => "nft",
            Backend::IptablesNft => "iptables-nft",
            Backend::IptablesLegacy => "iptables-legacy",
        })
    }
}

/// No backend can be used here.
#[derive(Debug, thiserror::Error)]
#[error("no capture backend works here:\n{}", .tried.iter().map(|(b, e)| format!("  {b}: {e}")).collect::<Vec<_>>().join("\n"))]
pub struct NoBackend {
    /// Each backend tried, with why it did not answer.
    pub tried: Vec<(Backend, ToolError)>,
}

/// Why the rules could not be installed, removed or read.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    NoBackend(#[from] NoBackend),
    // The tool's error is part of this message, not its `source`: `mesh: {err:#}` prints a
    // chain, and would say it twice.
    #[error("{backend}{}: {error}", .family.map(|f| format!(" ({})", f.name())).unwrap_or_default())]
    Tool {
        backend: Backend,
        /// The family of the failed run (`None` for nft, which applies both in one).
        family: Option<Family>,
        error: ToolError,
    },
}

impl Backend {
    /// In the order `auto` tries them.
    pub const ALL: [Backend; 3] = [Backend::Nft, Backend::IptablesNft, Backend::IptablesLegacy];

    /// The tool that applies input for `family`.
    fn restore_bin(self, family: Family) -> &'static str {
        match (self, family) {
            (Backend::Nft, _) => "nft",
            (Backend::IptablesNft, Family::V4) => "iptables-nft-restore",
            (Backend::IptablesNft, Family::V6) => "ip6tables-nft-restore",
            (Backend::IptablesLegacy, Family::V4) => "iptables-legacy-restore",
            (Backend::IptablesLegacy, Family::V6) => "ip6tables-legacy-restore",
        }
    }

    /// The tool that shows the rules for `family`.
    fn save_bin(self, family: Family) -> &'static str {
        match (self, family) {
            (Backend::Nft, _) => "nft",
            (Backend::IptablesNft, Family::V4) => "iptables-nft-save",
            (Backend::IptablesNft, Family::V6) => "ip6tables-nft-save",
            (Backend::IptablesLegacy, Family::V4) => "iptables-legacy-save",
            (Backend::IptablesLegacy, Family::V6) => "ip6tables-legacy-save",
        }
    }

    /// The families this backend applies separately (nft: one run for both).
    fn runs(self) -> &'static [Family] {
        match self {
            Backend::Nft => &[Family::V4],
            _ => &Family::ALL,
        }
    }

    fn tool_error(self, family: Family) -> impl FnOnce(ToolError) -> BackendError {
        let family = (self != Backend::Nft).then_some(family);
        move |error| BackendError::Tool {
            backend: self,
            family,
            error,
        }
    }

    /// Asks the kernel through this backend's tool; `Ok` when it answers.
    async fn probe(self) -> Result<(), ToolError> {
        match self {
            Backend::Nft => command::run("nft", &["list", "tables"], None).await,
            _ => command::run(self.save_bin(Family::V4), &["-t", "nat"], None).await,
        }
        .map(drop)
    }

    /// The first backend that answers here (`auto`), with a sentence saying why it was chosen.
    pub async fn detect() -> Result<(Backend, String), NoBackend> {
        let mut tried: Vec<(Backend, ToolError)> = Vec::new();
        for backend in Backend::ALL {
            match backend.probe().await {
                Ok(()) => {
                    let skipped: Vec<String> = tried
                        .iter()
                        .map(|(b, e)| {
                            let why = if e.is_missing() {
                                "not installed"
                            } else {
                                "failed"
                            };
                            format!("{b}: {why}")
                        })
                        .collect();
                    let why = if skipped.is_empty() {
                        format!("auto: {backend} answered")
                    } else {
                        format!("auto: {backend} answered; {}", skipped.join(", "))
                    };
                    return Ok((backend, why));
                }
                // Without the privilege no backend answers: say so, not "none works".
                Err(e) if e.is_permission() => {
                    tried.push((backend, e));
                    return Err(NoBackend { tried });
                }
                Err(e) => tried.push((backend, e)),
            }
        }
        Err(NoBackend { tried })
    }

    /// The backend `auto` would pick judging by the binaries in `PATH` only (for `--dry-run`,
    /// which asks the kernel nothing).
    pub fn guess() -> Backend {
        Backend::ALL
            .into_iter()
            .find(|b| command::in_path(b.restore_bin(Family::V4)))
            .unwrap_or(Backend::Nft)
    }

    /// The input(s) installing `chains` would feed the tools, given what is installed (`None`:
    /// as in a namespace without mesh's rules, for `--dry-run`).
    pub fn install_inputs(self, chains: &Chains, states: Option<&[NatState]>) -> Vec<String> {
        match self {
            Backend::Nft => vec![nft::install_script(chains)],
            _ => Family::ALL
                .iter()
                .enumerate()
                .map(|(i, family)| {
                    let state = states.and_then(|s| s.get(i)).cloned().unwrap_or_default();
                    iptables::install_input(chains, *family, &state, self.restore_bin(*family))
                })
                .collect(),
        }
    }

    /// The input(s) removing what `mesh init` installs (for `--uninstall --dry-run`; a real
    /// removal reads what is there first).
    pub fn uninstall_inputs(self) -> Vec<String> {
        match self {
            Backend::Nft => vec![nft::uninstall_script()],
            _ => Family::ALL
                .iter()
                .filter_map(|family| {
                    let tool = self.restore_bin(*family);
                    iptables::uninstall_input(*family, &NatState::as_installed(), tool)
                })
                .collect(),
        }
    }

    /// Installs `chains`, replacing mesh's earlier rules; running it again changes nothing.
    pub async fn install(self, chains: &Chains) -> Result<(), BackendError> {
        if self == Backend::Nft {
            let script = nft::install_script(chains);
            return apply_nft(&script).await;
        }
        let saved = self.read_saved().await?;
        let states: Vec<NatState> = saved.iter().map(|s| NatState::parse(s)).collect();
        let inputs = self.install_inputs(chains, Some(&states));
        for (i, (family, input)) in Family::ALL.iter().zip(&inputs).enumerate() {
            if let Err(e) = self.restore(*family, input).await {
                // Half a rule set (IPv4 captured, IPv6 not) is worse than none: put back what
                // this run changed, as it was (the earlier rules of a re-run, or nothing).
                // Failing that too, the first error is the one to report.
                for (done, before) in Family::ALL[..i].iter().zip(&saved) {
                    let _ = self.roll_back(*done, before).await;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Puts `family`'s nat table back as `before` (its `-save -t nat` output) showed it.
    async fn roll_back(self, family: Family, before: &str) -> Result<(), BackendError> {
        if NatState::parse(before).installed() {
            // Without --noflush the tool replaces the tables its input names (here only nat)
            // with exactly what was saved.
            command::run(self.restore_bin(family), &[], Some(before))
                .await
                .map(drop)
                .map_err(self.tool_error(family))
        } else {
            self.uninstall_family(family).await.map(drop)
        }
    }

    /// Removes mesh's rules; `Ok(false)` when there were none.
    pub async fn uninstall(self) -> Result<bool, BackendError> {
        if self == Backend::Nft {
            let had = self.installed().await?;
            apply_nft(&nft::uninstall_script()).await?;
            return Ok(had);
        }
        let mut removed = false;
        for family in Family::ALL {
            removed |= self.uninstall_family(family).await?;
        }
        Ok(removed)
    }

    /// Whether any of mesh's rules are installed through this backend.
    pub async fn installed(self) -> Result<bool, BackendError> {
        if self == Backend::Nft {
            return match command::run("nft", &["list", "table", "inet", "mesh"], None).await {
                Ok(_) => Ok(true),
                Err(ToolError::Failed { stderr, .. }) if stderr.contains("No such file") => {
                    Ok(false)
                }
                Err(e) => Err(self.tool_error(Family::V4)(e)),
            };
        }
        Ok(self
            .read_saved()
            .await?
            .iter()
            .any(|s| NatState::parse(s).installed()))
    }

    /// The rules as the backend's own listing shows them (`nft list ruleset`, or
    /// `iptables-save -t nat` then `ip6tables-save -t nat`): what "idempotent" is judged by.
    pub async fn listing(self) -> Result<String, BackendError> {
        if self == Backend::Nft {
            return command::run("nft", &["list", "ruleset"], None)
                .await
                .map_err(self.tool_error(Family::V4));
        }
        let mut out = String::new();
        for family in Family::ALL {
            out.push_str(
                &command::run(self.save_bin(family), &["-t", "nat"], None)
                    .await
                    .map_err(self.tool_error(family))?,
            );
        }
        Ok(out)
    }

    /// Each family's `-save -t nat` output.
    async fn read_saved(self) -> Result<Vec<String>, BackendError> {
        let mut saved = Vec::new();
        for family in self.runs() {
            saved.push(
                command::run(self.save_bin(*family), &["-t", "nat"], None)
                    .await
                    .map_err(self.tool_error(*family))?,
            );
        }
        Ok(saved)
    }

    async fn restore(self, family: Family, input: &str) -> Result<(), BackendError> {
        command::run(self.restore_bin(family), &["--noflush"], Some(input))
            .await
            .map(drop)
            .map_err(self.tool_error(family))
    }

    async fn uninstall_family(self, family: Family) -> Result<bool, BackendError> {
        let saved = command::run(self.save_bin(family), &["-t", "nat"], None)
            .await
            .map_err(self.tool_error(family))?;
        match iptables::uninstall_input(family, &NatState::parse(&saved), self.restore_bin(family))
        {
            Some(input) => self.restore(family, &input).await.map(|()| true),
            None => Ok(false),
        }
    }
}

async fn apply_nft(script: &str) -> Result<(), BackendError> {
    command::run("nft", &["-f", "-"], Some(script))
        .await
        .map(drop)
        .map_err(Backend::Nft.tool_error(Family::V4))
}
