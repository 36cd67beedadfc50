//! `mesh profile`: write a ServiceProfile from OpenAPI, `.proto` files or a template; `mesh profile
//! check`: validate profile files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use super::args::{
    AdminTokenArg, ClusterDomainArg, NamespaceArg, OutputArg, OutputFormats, ProxyAdminArg,
    RegistryArg,
};
use super::print_stdout;
use crate::profile::check::check_profiles;
use crate::profile::names::{check_dns1035_label, NameError};
use crate::profile::openapi::profile_from_openapi;
use crate::profile::proto::profile_from_protos;
use crate::profile::render::{render, Format};
use crate::profile::template::template;
use crate::profile::{Generated, ProfileTarget, ServiceProfile};

/// Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    mut_arg("namespace", |a| a.help("Namespace of the service or resources")),
    mut_arg("registry", |a| a.requires("tap")),
    mut_arg("proxy_admin", |a| a.requires("tap")),
    mut_arg("admin_token_file", |a| a.requires("tap")),
    after_help = "Examples:\n  mesh profile --open-api web.swagger web-svc -n emojivoto > web-profile.yaml\n  \
                  mesh profile --proto voting.proto voting-svc -n emojivoto\n  \
                  mesh profile --template web-svc\n  mesh profile check web-profile.yaml"
)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub check: Option<ProfileCommand>,

    #[command(flatten)]
    pub source: Source,

    /// Directory searched for imports of --proto files (after each file's own directory)
    #[arg(
        short = 'I',
        long = "proto-path",
        value_name = "DIR",
        requires = "proto"
    )]
    pub proto_path: Vec<PathBuf>,

    /// Name proto routes Service/Rpc instead of Rpc
    #[arg(long, requires = "proto")]
    pub qualified_names: bool,

    /// Name of the Kubernetes Service the profile is for
    #[arg(value_parser = parse_service, required = true)]
    pub service: Option<String>,

    #[command(flatten)]
    pub namespace: NamespaceArg,

    #[command(flatten)]
    pub cluster_domain: ClusterDomainArg,

    #[command(flatten)]
    pub output: OutputArg<OutputFormat>,

    #[command(flatten)]
    pub tap: TapOptions,
}

/// Exactly one source of routes.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// Read routes from a Swagger 2.0 or OpenAPI 3.x document (JSON or YAML; - for stdin)
    #[arg(long = "open-api", value_name = "FILE")]
    pub open_api: Option<PathBuf>,

    /// Read one route per rpc from a .proto file (repeatable)
    #[arg(long = "proto", value_name = "FILE")]
    pub proto: Vec<PathBuf>,

    /// Print a commented scaffold that documents every field
    #[arg(long)]
    pub template: bool,

    /// Build routes from live requests to RESOURCE's proxies (deploy/web, po/web-0)
    #[arg(long = "tap", value_name = "RESOURCE")]
    pub tap: Option<String>,
}

/// How `--tap` watches.
#[derive(Debug, Args)]
pub struct TapOptions {
    /// How long to watch live requests
    #[arg(long = "tap-duration", value_name = "DURATION", default_value = "5s", value_parser = super::args::parse_positive_duration, requires = "tap")]
    pub duration: std::time::Duration,

    /// Most routes to write
    #[arg(
        long = "tap-route-limit",
        value_name = "N",
        default_value = "20",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..),
        requires = "tap"
    )]
    pub route_limit: usize,

    /// Fold paths that differ only in an id-like segment (number, UUID, hex) into one route
    #[arg(long = "tap-collapse", requires = "tap")]
    pub collapse: bool,

    #[command(flatten)]
    pub registry: RegistryArg,

    #[command(flatten)]
    pub proxy_admin: ProxyAdminArg,

    #[command(flatten)]
    pub admin_token: AdminTokenArg,
}

/// `mesh profile check`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid
    Check {
        /// Profile files (YAML, several documents allowed; - for stdin)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `-o` values of `mesh profile`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

impl OutputFormats for OutputFormat {
    const DEFAULT: &'static str = "yaml";
}

fn parse_service(s: &str) -> Result<String, NameError> {
    check_dns1035_label(s).map(|()| s.to_string())
}

/// Runs `mesh profile` or `mesh profile check`.
pub fn run(args: ProfileArgs) -> anyhow::Result<ExitCode> {
    if let Some(ProfileCommand::Check { files }) = args.check {
        return check(&files);
    }
    let target = ProfileTarget {
        service: args.service.context("SERVICE is required")?,
        namespace: args.namespace.namespace,
        cluster_domain: args.cluster_domain.cluster_domain,
    };
    check_target(&target)?;
    let format = match args.output.output {
        OutputFormat::Yaml => Format::Yaml,
        OutputFormat::Json => Format::Json,
    };
    let source = args.source;
    let text = if source.template {
        let text = template(&target);
        match format {
            Format::Yaml => text,
            Format::Json => {
                let profile: ServiceProfile =
                    crate::yaml::from_str(&text).context("the built-in template")?;
                render(&profile, format)
            }
        }
    } else if let Some(resource) = &source.tap {
        let generated = from_tap(resource, &target, &args.tap)?;
        finish(generated, format)
    } else if let Some(file) = &source.open_api {
        let document = read_input(file)?;
        let generated =
            profile_from_openapi(&document, &target).with_context(|| input_name(file))?;
        finish(generated, format)
    } else {
        let generated = profile_from_protos(
            &source.proto,
            &args.proto_path,
            &target,
            args.qualified_names,
        )?;
        finish(generated, format)
    };
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Refuses, before anything is written, a profile name that `mesh profile check` would reject,
/// naming the argument that contributes most to its length.
fn check_target(target: &ProfileTarget) -> anyhow::Result<()> {
    let Err(e) = target.check_profile_name() else {
        return Ok(());
    };
    let longest = [
        (target.service.len(), "SERVICE"),
        (target.namespace.len(), "-n/--namespace"),
        (target.cluster_domain.len(), "--cluster-domain"),
    ]
    .into_iter()
    .max_by_key(|(len, _)| *len)
    .map_or("--cluster-domain", |(_, arg)| arg);
    anyhow::bail!(
        "{longest}: mesh profile check and a cluster would refuse the profile's metadata.name \
         (<SERVICE>.<NAMESPACE>.svc.<CLUSTER-DOMAIN>): {e}; shorten {longest}"
    )
}

/// Watches `resource`'s inbound requests for the tap duration, with a progress bar on a terminal.
fn from_tap(
    resource: &str,
    target: &ProfileTarget,
    opts: &TapOptions,
) -> anyhow::Result<Generated> {
    let resource: crate::viz::resource::Resource = resource.parse().context("--tap")?;
    // The token file first: a bad one is the caller's mistake whether or not a proxy runs.
    let token = opts.admin_token.read()?;
    let admins = if opts.proxy_admin.proxy_admin.is_empty() {
        let dir = opts.registry.dir();
        let records = crate::registry::read_records(&dir);
        let selected = crate::viz::tap::select(&records, &resource, Some(&target.namespace));
        if selected.is_empty() {
            return Err(crate::viz::lookup::NoProxyFound::new(
                std::slice::from_ref(&resource),
                Some(&target.namespace),
                &dir,
                &records,
            )
            .into());
        }
        crate::viz::tap::admin_addrs(&selected)
    } else {
        opts.proxy_admin.proxy_admin.clone()
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(opts.duration.as_millis() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // Label and units: what is watched, for how long, and how long it has been (indicatif's
    // default shows only a bar and milliseconds as bare numbers).
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {wide_bar} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(format!(
        "tapping {resource} for {}s",
        opts.duration.as_secs_f64()
    ));
    let runtime = super::runtime(super::Threads::One)?;
    let seen = runtime.block_on(crate::viz::tap::observe_requests(
        admins,
        token,
        opts.duration,
        |e| bar.set_position(e.as_millis() as u64),
    ))?;
    bar.finish_and_clear();
    if seen.is_empty() {
        // The profile is still written (a valid one, with no routes), but a bare `spec: {}` with
        // exit 0 read as if the proxies had seen traffic that matched nothing.
        super::diag!(
            "mesh: warning: no requests to {resource} seen in {}s, so the profile has no routes: \
             send traffic to it while tapping (or tap longer with --tap-duration), or write the \
             routes from its API with --open-api or --proto",
            opts.duration.as_secs_f64()
        );
    }
    let requests = seen.iter().map(|(m, p)| (m.as_str(), p.as_str()));
    Ok(crate::profile::observed::profile_from_requests(
        requests,
        target,
        opts.route_limit,
        opts.collapse,
    ))
}

fn finish(generated: Generated, format: Format) -> String {
    for notice in &generated.notices {
        super::diag!("mesh: warning: {notice}");
    }
    render(&generated.profile, format)
}

fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut all_valid = true;
    let mut summary = String::new();
    for file in files {
        let name = file.display();
        let text = match read_input(file) {
            Ok(text) => text,
            Err(e) => {
                super::diag!("mesh: {e:#}");
                all_valid = false;
                continue;
            }
        };
        let reports = check_profiles(&text);
        let several = reports.iter().any(|r| r.index != 1);
        for report in &reports {
            let place = match (several, report.item) {
                (true, Some(item)) => format!("{name} (document {}, items[{item}])", report.index),
                (true, None) => format!("{name} (document {})", report.index),
                (false, Some(item)) => format!("{name} (items[{item}])"),
                (false, None) => name.to_string(),
            };
            for w in &report.warnings {
                super::diag!("{place}: warning: {w}");
            }
            for e in &report.errors {
                if e.field.is_empty() {
                    super::diag!("{place}: {}", e.message);
                } else {
                    super::diag!("{place}: {e}");
                }
            }
            if report.errors.is_empty() {
                summary.push_str(&format!(
                    "{place}: valid ServiceProfile {} ({} routes)\n",
                    report.name.as_deref().unwrap_or_default(),
                    report.routes
                ));
            } else {
                all_valid = false;
            }
        }
        if reports.is_empty() {
            super::diag!("{name}: no YAML document found");
            all_valid = false;
        }
    }
    print_stdout(&summary)?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a file, or stdin for `-`.
fn read_input(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("reading standard input");
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// How messages name an input: its path, or `<stdin>` for `-`.
fn input_name(file: &std::path::Path) -> String {
    if file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    }
}
