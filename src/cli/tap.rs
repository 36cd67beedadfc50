//! `mesh tap RESOURCE`: stream the requests the selected proxies see, as they happen.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use super::args::{
    AdminTokenArg, NamespacesArgs, OutputArg, OutputFormats, ProxyAdminArg, RegistryArg,
};
use super::signal::StopSignals;
use crate::admin_api::tap::{ProxyDirection, TapLine, TapQuery, DEFAULT_MAX_RPS};
use crate::viz::resource::Resource;
use crate::viz::tap::{self as tap, TapItem, TapStream};

/// Watch live requests and responses through the proxies of a resource
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  mesh tap deploy/web -n emojivoto\n  \
                        mesh tap deploy/web -n emojivoto --to deploy/voting \\\n      \
                        --path /emojivoto.v1.VotingService/Vote\n  \
                        mesh tap deploy/web -n emojivoto -o wide\n  \
                        mesh tap ns/emojivoto -o json")]
pub struct TapArgs {
    /// What to tap: TYPE/NAME or TYPE (ns, deploy, sts, ds, job, cj, rs, rc, po, svc), e.g. deploy/web,
    /// deploy (every deployment), svc/web-svc (the proxies serving it)
    #[arg(value_name = "RESOURCE", value_parser = parse_resource)]
    pub resource: Resource,

    #[command(flatten)]
    pub namespaces: NamespacesArgs,

    /// Only requests to this resource (TYPE/NAME: deploy/voting, po/voting-0, ns/emojivoto,
    /// svc/voting-svc), in --namespace
    #[arg(long, value_name = "RESOURCE", value_parser = parse_resource)]
    pub to: Option<Resource>,

    /// Only requests whose path starts with this
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,

    /// Only requests with this HTTP method
    #[arg(long)]
    pub method: Option<String>,

    /// Only requests for this authority
    #[arg(long)]
    pub authority: Option<String>,

    /// Only requests this side of the proxies saw
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,

    /// Requests per second shown at most, split evenly over the proxies tapped
    #[arg(long, default_value_t = DEFAULT_MAX_RPS, value_name = "N", value_parser = parse_max_rps)]
    pub max_rps: f64,

    /// Include request and response headers and trailers (JSON output; `-o json` includes them
    /// anyway, as Linkerd's does)
    #[arg(long)]
    pub headers: bool,

    #[command(flatten)]
    pub output: OutputArg<TapOutput>,

    #[command(flatten)]
    pub registry: RegistryArg,

    #[command(flatten)]
    pub proxy_admin: ProxyAdminArg,

    #[command(flatten)]
    pub admin_token: AdminTokenArg,
}

/// `--max-rps`: a rate above 0, as the proxies' tap API accepts (checked here, so the answer is a
/// usage error naming the flag rather than each proxy's 400).
fn parse_max_rps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        Ok(_) => Err("must be a number above 0 (requests per second, e.g. 0.5 or 100)".into()),
        Err(_) => Err("not a number (requests per second, e.g. 0.5 or 100)".into()),
    }
}

/// `--direction`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    In,
    Out,
}

/// `-o` values of `mesh tap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TapOutput {
    /// One line per event, as `linkerd viz tap` prints them, ending with the route matched
    Text,
    /// The text line followed by every label of the source, the destination and the route
    Wide,
    /// One pretty-printed JSON object per event, in `linkerd viz tap -o json`'s shape
    Json,
}

impl OutputFormats for TapOutput {
    const DEFAULT: &'static str = "text";
}

fn parse_resource(s: &str) -> Result<Resource, crate::viz::resource::ResourceError> {
    s.parse()
}

/// Runs `mesh tap` until Ctrl-C or SIGTERM, or until every proxy ends its stream.
pub fn run(args: TapArgs) -> anyhow::Result<ExitCode> {
    // The token file first: a bad one is the caller's mistake whether or not a proxy runs.
    let token = args.admin_token.read()?;
    let tap::TapTargets { admins, described } = tap::targets(
        &args.resource,
        args.namespaces.scope(),
        &args.proxy_admin.proxy_admin,
        &args.registry.dir(),
    )?;
    if let (Some(to), true) = (&args.to, args.proxy_admin.proxy_admin.is_empty()) {
        // `--to` narrows to its namespace (-n), as the proxies' tap filter matches it.
        let dir = args.registry.dir();
        let records = crate::registry::read_records(&dir);
        crate::viz::lookup::check_peer(to, Some(args.namespaces.namespace()), &dir, &records)
            .context("--to")?;
    }
    let query = query(&args, admins.len());
    let runtime = super::runtime(super::Threads::PerCore)?;
    runtime.block_on(run_async(
        admins,
        described,
        query,
        args.output.output,
        token,
    ))
}

fn query(args: &TapArgs, proxies: usize) -> TapQuery {
    let mut query = TapQuery {
        direction: args.direction.map(|d| match d {
            DirectionArg::In => ProxyDirection::Inbound,
            DirectionArg::Out => ProxyDirection::Outbound,
        }),
        path: args.path.clone(),
        method: args.method.as_ref().map(|m| m.to_ascii_uppercase()),
        authority: args.authority.clone(),
        max_rps: args.max_rps / proxies.max(1) as f64,
        // Linkerd's tap extracts headers for its JSON output.
        headers: args.headers || args.output.output == TapOutput::Json,
        ..TapQuery::new()
    };
    if let Some(to) = &args.to {
        tap::narrow_destination(to, &mut query, args.namespaces.namespace());
    }
    query
}

async fn run_async(
    admins: Vec<SocketAddr>,
    described: String,
    query: TapQuery,
    output: TapOutput,
    token: Option<std::sync::Arc<str>>,
) -> anyhow::Result<ExitCode> {
    let mut signals = StopSignals::install()?;
    let mut opening = tokio::task::JoinSet::new();
    for addr in admins {
        let query = query.clone();
        let token = token.clone();
        opening
            .spawn(async move { TapStream::open_with_token(addr, &query, token.as_deref()).await });
    }
    let mut streams = Vec::new();
    let mut failed = false;
    while let Some(opened) = opening.join_next().await {
        match opened.context("opening a tap stream")? {
            Ok(s) => streams.push(s),
            Err(e) => {
                failed = true;
                super::diag!("mesh: {}", crate::cli::Chain(&e));
            }
        }
    }
    if streams.is_empty() {
        bail!("could not tap any proxy of {described}");
    }
    let noun = if streams.len() == 1 {
        "proxy"
    } else {
        "proxies"
    };
    super::diag!("tapping {} {noun}: {described}", streams.len());
    let mut lines = tap::merge(streams);
    let mut stdout = std::io::stdout().lock();
    loop {
        let item = tokio::select! {
            _ = signals.recv() => break,
            item = lines.recv() => item,
        };
        let text = match item {
            None => break,
            Some(TapItem::Failed(e)) => {
                failed = true;
                super::diag!("mesh: {}", crate::cli::Chain(&e));
                continue;
            }
            Some(TapItem::Line(TapLine::Lost { lost })) => {
                super::diag!("mesh: {lost} events lost: this reader fell behind (narrow the filters or lower --max-rps)");
                continue;
            }
            Some(TapItem::Line(TapLine::Event(event))) => match output {
                TapOutput::Text => tap::render_text(&event),
                TapOutput::Wide => tap::render_wide(&event),
                TapOutput::Json => serde_json::to_string_pretty(&event)?,
            },
        };
        match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            other => other.context("writing to stdout")?,
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
