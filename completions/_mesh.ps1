
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mesh' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mesh'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mesh' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Install the rules that send a pod''s TCP through its proxy (run as root, in the pod''s network namespace)')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD, a namespace, discovery''s read-only RBAC and the proxies'' Prometheus scrape config')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the proxy and its capture init container to the workloads of Kubernetes manifests')
            [CompletionResult]::new('uninject', 'uninject', [CompletionResultType]::ParameterValue, 'Take what `mesh inject` added out of Kubernetes manifests')
            [CompletionResult]::new('identity', 'identity', [CompletionResultType]::ParameterValue, 'Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS between proxies, and inspect certificates')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy')
            [CompletionResult]::new('await', 'await', [CompletionResultType]::ParameterValue, 'Wait until the proxy is ready, then run a command')
            [CompletionResult]::new('stat', 'stat', [CompletionResultType]::ParameterValue, 'Show success rate, request rate, latency and TCP connections per resource')
            [CompletionResult]::new('routes', 'routes', [CompletionResultType]::ParameterValue, 'Show success rate, request rate and latency per route')
            [CompletionResult]::new('edges', 'edges', [CompletionResultType]::ParameterValue, 'Show which resources of a type send requests or connections to which')
            [CompletionResult]::new('tap', 'tap', [CompletionResultType]::ParameterValue, 'Watch live requests and responses through the proxies of a resource')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;profile' {
            [CompletionResult]::new('--open-api', '--open-api', [CompletionResultType]::ParameterName, 'Read routes from a Swagger 2.0 or OpenAPI 3.x document (JSON or YAML; - for stdin)')
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'Read one route per rpc from a .proto file (repeatable)')
            [CompletionResult]::new('--tap', '--tap', [CompletionResultType]::ParameterName, 'Build routes from live requests to RESOURCE''s proxies (deploy/web, po/web-0)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Directory searched for imports of --proto files (after each file''s own directory)')
            [CompletionResult]::new('--proto-path', '--proto-path', [CompletionResultType]::ParameterName, 'Directory searched for imports of --proto files (after each file''s own directory)')
            [CompletionResult]::new('--cluster-domain', '--cluster-domain', [CompletionResultType]::ParameterName, 'Kubernetes cluster DNS domain')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--tap-duration', '--tap-duration', [CompletionResultType]::ParameterName, 'How long to watch live requests')
            [CompletionResult]::new('--tap-route-limit', '--tap-route-limit', [CompletionResultType]::ParameterName, 'Most routes to write')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the service or resources')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the service or resources')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--proxy-admin', '--proxy-admin', [CompletionResultType]::ParameterName, 'Ask this proxy admin address instead of the registry (repeatable)')
            [CompletionResult]::new('--admin-token-file', '--admin-token-file', [CompletionResultType]::ParameterName, 'File holding the bearer token of proxies whose admin port is public')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Print a commented scaffold that documents every field')
            [CompletionResult]::new('--qualified-names', '--qualified-names', [CompletionResultType]::ParameterName, 'Name proto routes Service/Rpc instead of Rpc')
            [CompletionResult]::new('--tap-collapse', '--tap-collapse', [CompletionResultType]::ParameterName, 'Fold paths that differ only in an id-like segment (number, UUID, hex) into one route')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;profile;check' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;profile;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;profile;help;check' {
            break
        }
        'mesh;profile;help;help' {
            break
        }
        'mesh;proxy' {
            [CompletionResult]::new('--inbound', '--inbound', [CompletionResultType]::ParameterName, 'Where callers reach this workload''s services (requests go on to --app) [default: 0.0.0.0:4143; with --capture `[::]:4143`, as redirected IPv6 connections arrive on IPv6]')
            [CompletionResult]::new('--outbound', '--outbound', [CompletionResultType]::ParameterName, 'Where the app sends its requests (as to an HTTP proxy, or with the target in Host) [default: 127.0.0.1:4140; with --capture `[::]:4140`]')
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'The admin port: /ready, /live, /metrics, /stats, /tap, POST /shutdown')
            [CompletionResult]::new('--app', '--app', [CompletionResultType]::ParameterName, 'The local app inbound requests go to; without it there is no inbound listener')
            [CompletionResult]::new('--identity-dir', '--identity-dir', [CompletionResultType]::ParameterName, 'Serve and call with mutual TLS, with the certificate in DIR: `tls.crt`, `tls.key`, `ca.crt` (cert-manager, `mesh identity issue`) or spiffe-helper''s `svid.pem`, `key.pem`, `bundle.pem`; read again when the files change (docs/identity.md)')
            [CompletionResult]::new('--identity-cert', '--identity-cert', [CompletionResultType]::ParameterName, 'The certificate (and intermediates) file, if not the layout''s (relative: in DIR)')
            [CompletionResult]::new('--identity-key', '--identity-key', [CompletionResultType]::ParameterName, 'The private key file, if not the layout''s (relative: in DIR)')
            [CompletionResult]::new('--identity-trust-anchors', '--identity-trust-anchors', [CompletionResultType]::ParameterName, 'The trust anchors file, if not the layout''s (relative: in DIR)')
            [CompletionResult]::new('--service-account', '--service-account', [CompletionResultType]::ParameterName, 'This workload''s service account: with --namespace, the identity its certificate must prove')
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'The trust domain of identities (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)')
            [CompletionResult]::new('--control-plane-namespace', '--control-plane-namespace', [CompletionResultType]::ParameterName, 'The control-plane namespace in identity names (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`; Linkerd''s is `linkerd`)')
            [CompletionResult]::new('--require-identity', '--require-identity', [CompletionResultType]::ParameterName, 'Refuse (403, explained) inbound requests that did not come over mutual TLS: `all`, or a comma-separated list of app ports')
            [CompletionResult]::new('--workload', '--workload', [CompletionResultType]::ParameterName, 'This workload, as KIND/NAME (deploy/web, sts/zk)')
            [CompletionResult]::new('--pod', '--pod', [CompletionResultType]::ParameterName, 'This pod''s name (default: the workload''s name)')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'A service this workload serves (repeatable; port 80 if omitted). Its requests go to APP_PORT on the app''s host; without it, to --app when the workload has one service port, else to the service port itself on the app''s host')
            [CompletionResult]::new('--profiles', '--profiles', [CompletionResultType]::ParameterName, 'Directory of ServiceProfile YAML files, reloaded when they change (one that does not exist yet is watched for; a path that is not a directory is refused)')
            [CompletionResult]::new('--profile-source', '--profile-source', [CompletionResultType]::ParameterName, 'Where ServiceProfiles come from besides --profiles DIR: `none`, or `kube` (the serviceprofiles.linkerd.io objects of the Kubernetes API, watched cluster-wide; a file in DIR with the same name wins)')
            [CompletionResult]::new('--endpoints', '--endpoints', [CompletionResultType]::ParameterName, 'Static endpoints file (YAML: service authority -> addresses with labels)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--discovery', '--discovery', [CompletionResultType]::ParameterName, 'Where services'' endpoints come from after --endpoints: `registry` (this machine''s local registry) or `kube` (the Kubernetes API: EndpointSlices and Services, through KUBECONFIG or the pod''s service account; the registry is then neither used nor joined)')
            [CompletionResult]::new('--opaque-ports', '--opaque-ports', [CompletionResultType]::ParameterName, 'Ports never parsed as HTTP, only forwarded as TCP (e.g. 2888,3888; `none` for none). The default is Linkerd''s: SMTP, MySQL, Galera, PostgreSQL, Redis, Elasticsearch, memcached')
            [CompletionResult]::new('--allow-destination', '--allow-destination', [CompletionResultType]::ParameterName, 'Also forward to these addresses, which discovery does not know: CIDR[:PORT[-PORT]] (repeatable). Loopback and link-local addresses open only to a rule inside those ranges (127.0.0.1/32:8080); see docs/security.md for the risk')
            [CompletionResult]::new('--cluster-domain', '--cluster-domain', [CompletionResultType]::ParameterName, 'Kubernetes cluster DNS domain')
            [CompletionResult]::new('--shutdown-grace', '--shutdown-grace', [CompletionResultType]::ParameterName, 'How long in-flight requests may take to finish after SIGTERM or SIGINT')
            [CompletionResult]::new('--max-in-flight', '--max-in-flight', [CompletionResultType]::ParameterName, 'Requests in flight to one endpoint at most')
            [CompletionResult]::new('--dispatch-timeout', '--dispatch-timeout', [CompletionResultType]::ParameterName, 'Longest wait for an endpoint with capacity; past it the request fails fast with 503')
            [CompletionResult]::new('--response-timeout', '--response-timeout', [CompletionResultType]::ParameterName, 'Longest wait for a response, counted from the request''s arrival (retries included), for routes without a shorter ServiceProfile timeout; past it the caller gets 504')
            [CompletionResult]::new('--upstream-idle-timeout', '--upstream-idle-timeout', [CompletionResultType]::ParameterName, 'How long an idle HTTP/1 connection to an app or endpoint is kept for reuse; keep it shorter than the upstreams'' keep-alive timeout')
            [CompletionResult]::new('--upstream-ping-interval', '--upstream-ping-interval', [CompletionResultType]::ParameterName, 'How long an upstream HTTP/2 connection with open streams may stay silent before it is PINGed. gRPC servers take one PING per 5 minutes on a connection they send nothing on and close it (killing quiet streams) after a few more; dead upstreams are found sooner by TCP keepalive')
            [CompletionResult]::new('--header-read-timeout', '--header-read-timeout', [CompletionResultType]::ParameterName, 'Longest wait for a client''s request head, and for its next request on an idle HTTP/1 keep-alive connection; slower clients are disconnected')
            [CompletionResult]::new('--detect-timeout', '--detect-timeout', [CompletionResultType]::ParameterName, 'Longest wait for a new connection''s first bytes; inbound, a silent client is then treated as opaque TCP (server-speaks-first protocols), outbound it is closed')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Client connections open at once per listener; more wait in the kernel''s backlog')
            [CompletionResult]::new('--inbound-forward', '--inbound-forward', [CompletionResultType]::ParameterName, 'With --capture, where inbound connections go: `original` (the pod IP and port the caller connected to; the default) or `localhost` (that port on loopback, for apps bound to 127.0.0.1 only)')
            [CompletionResult]::new('--app-uid', '--app-uid', [CompletionResultType]::ParameterName, 'With --capture and -- APP: run the app as this uid (and --app-gid), which the capture rules do not exempt; without it that combination is refused, as the app would run as the proxy''s own user and its traffic would skip the proxy')
            [CompletionResult]::new('--app-gid', '--app-gid', [CompletionResultType]::ParameterName, 'The gid to run the app as, with --app-uid (default: that user''s primary group, or the gid numbered as the uid; never the proxy''s own group)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log filter (error, warn, info, debug, trace, or tracing directives)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of this workload')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of this workload')
            [CompletionResult]::new('--admin-token-file', '--admin-token-file', [CompletionResultType]::ParameterName, 'File holding the bearer token /tap and /shutdown require on a public admin port (without it, both are off there)')
            [CompletionResult]::new('--admin-public', '--admin-public', [CompletionResultType]::ParameterName, 'Allow the admin port on a non-loopback address (as in Kubernetes, for Prometheus)')
            [CompletionResult]::new('--no-registry', '--no-registry', [CompletionResultType]::ParameterName, 'Neither register in nor discover from the local registry')
            [CompletionResult]::new('--capture', '--capture', [CompletionResultType]::ParameterName, 'Transparent capture: connections arrive redirected by `mesh init`''s rules and each goes on to its original destination (inbound: the app port the caller connected to, so --app is not needed and --service only names the services; outbound: where the app was connecting, unless Host names a known service). Connections made to the listeners directly are served as without it; redirected ones are detected without it too')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;init' {
            [CompletionResult]::new('--backend', '--backend', [CompletionResultType]::ParameterName, 'How to install the rules: `auto` picks the first of nft, iptables-nft, iptables-legacy that answers here, and says which')
            [CompletionResult]::new('--proxy-uid', '--proxy-uid', [CompletionResultType]::ParameterName, 'The proxy''s uid: its connections are never captured (2102, Linkerd''s, when neither this nor --proxy-gid is given)')
            [CompletionResult]::new('--proxy-gid', '--proxy-gid', [CompletionResultType]::ParameterName, 'The proxy''s gid: its connections are never captured')
            [CompletionResult]::new('--inbound-port', '--inbound-port', [CompletionResultType]::ParameterName, 'The proxy''s inbound port, where connections to the pod are redirected')
            [CompletionResult]::new('--outbound-port', '--outbound-port', [CompletionResultType]::ParameterName, 'The proxy''s outbound port, where connections from the pod are redirected')
            [CompletionResult]::new('--admin-port', '--admin-port', [CompletionResultType]::ParameterName, 'The proxy''s admin port, which callers reach directly (probes, Prometheus)')
            [CompletionResult]::new('--skip-inbound-ports', '--skip-inbound-ports', [CompletionResultType]::ParameterName, 'Inbound ports that reach the app directly, never the proxy (e.g. 2888,3888 or 4000-4100)')
            [CompletionResult]::new('--skip-outbound-ports', '--skip-outbound-ports', [CompletionResultType]::ParameterName, 'Outbound ports that leave the pod directly, never through the proxy')
            [CompletionResult]::new('--skip-inbound-subnets', '--skip-inbound-subnets', [CompletionResultType]::ParameterName, 'Inbound connections from these CIDRs reach the app directly (Linkerd''s skip-subnets)')
            [CompletionResult]::new('--skip-outbound-subnets', '--skip-outbound-subnets', [CompletionResultType]::ParameterName, 'Outbound connections to these CIDRs leave the pod directly')
            [CompletionResult]::new('--check-probe', '--check-probe', [CompletionResultType]::ParameterName, 'Where --check connects: an address only the capture rules can answer')
            [CompletionResult]::new('--check-timeout', '--check-timeout', [CompletionResultType]::ParameterName, 'How long --check waits for its token')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the exact input the backend would be given, and change nothing (no root needed)')
            [CompletionResult]::new('--uninstall', '--uninstall', [CompletionResultType]::ParameterName, 'Remove the rules mesh installed (with `auto`: from every backend that has them)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Prove capture works: listen on the outbound port, connect to --check-probe (as uid 65534 when run as root, never as the proxy''s user), and expect this check''s own token back (before the proxy starts, as an init container)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;install' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace to create for mesh''s service account and scrape config')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace to create for mesh''s service account and scrape config')
            [CompletionResult]::new('--proxy-namespaces', '--proxy-namespaces', [CompletionResultType]::ParameterName, 'Grant discovery''s read rights (and the identity''s) only to the service accounts of these namespaces, where meshed pods run (default: every service account in the cluster)')
            [CompletionResult]::new('--no-crd', '--no-crd', [CompletionResultType]::ParameterName, 'Leave out the ServiceProfile CRD: for a cluster that has Linkerd''s (`kubectl get crd serviceprofiles.linkerd.io`), which has the same schema')
            [CompletionResult]::new('--no-identity-rbac', '--no-identity-rbac', [CompletionResultType]::ParameterName, 'Leave out the ClusterRole mesh-identity and its binding (create CertificateRequests, which cert-manager''s csi-driver-spiffe does as each meshed pod''s service account): for clusters where the proxies'' identity comes from a secret or SPIRE, or is disabled')
            [CompletionResult]::new('--prometheus-config', '--prometheus-config', [CompletionResultType]::ParameterName, 'Print only the Prometheus scrape config (prometheus.yml with the `mesh-proxies` job), to merge into your own Prometheus')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;inject' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Image of the proxy and the init container (holds `mesh`, `nft` and `iptables`)')
            [CompletionResult]::new('--kubernetes-version', '--kubernetes-version', [CompletionResultType]::ParameterName, 'The cluster''s Kubernetes version: native sidecars need 1.29 or later (below it the classic layout is written)')
            [CompletionResult]::new('--proxy-uid', '--proxy-uid', [CompletionResultType]::ParameterName, 'The proxy''s uid (`runAsUser`), which `mesh init --proxy-uid` exempts from capture')
            [CompletionResult]::new('--shutdown-grace', '--shutdown-grace', [CompletionResultType]::ParameterName, 'The proxy''s --shutdown-grace; the pod''s terminationGracePeriodSeconds is raised above it')
            [CompletionResult]::new('--classic', '--classic', [CompletionResultType]::ParameterName, 'Put the proxy first in `containers`, the app waiting for it through a postStart `mesh await`, instead of a native sidecar (an init container with restartPolicy Always); an annotation config.linkerd.io/proxy-enable-native-sidecar decides over this')
            [CompletionResult]::new('--init-non-root', '--init-non-root', [CompletionResultType]::ParameterName, 'Run `mesh-init` as uid 65534 (runAsNonRoot) instead of root. Only for an image whose `nft` and `iptables` binaries carry file capabilities (setcap cap_net_admin,cap_net_raw+ep), as Linkerd''s proxy-init image does: a non-root process loses its added capabilities when it runs them otherwise')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;uninject' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;identity' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a certificate''s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;identity;init' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The authority directory to write (made 0700 if missing)')
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'The trust domain of the identities it issues (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)')
            [CompletionResult]::new('--anchor-lifetime', '--anchor-lifetime', [CompletionResultType]::ParameterName, 'How long the trust anchor is valid')
            [CompletionResult]::new('--issuer-lifetime', '--issuer-lifetime', [CompletionResultType]::ParameterName, 'How long the issuer is valid (no longer than the anchor)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an authority already in DIR (proxies trusting its ca.crt then refuse certificates from the new one until they are given the new ca.crt)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;identity;issue' {
            [CompletionResult]::new('--service-account', '--service-account', [CompletionResultType]::ParameterName, 'The workload''s service account')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The authority directory (`mesh identity init`)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The identity directory to write (default: `./<service-account>.<namespace>`)')
            [CompletionResult]::new('--lifetime', '--lifetime', [CompletionResultType]::ParameterName, 'How long the certificate is valid (from 20s ago, for clocks a little behind)')
            [CompletionResult]::new('--trust-domain', '--trust-domain', [CompletionResultType]::ParameterName, 'The trust domain (default: the authority''s, else cluster.local)')
            [CompletionResult]::new('--control-plane-namespace', '--control-plane-namespace', [CompletionResultType]::ParameterName, 'The control-plane namespace in the identity name (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`), as the proxies are given it')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the workload the certificate is for')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the workload the certificate is for')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;identity;inspect' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;identity;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a certificate''s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;identity;help;init' {
            break
        }
        'mesh;identity;help;issue' {
            break
        }
        'mesh;identity;help;inspect' {
            break
        }
        'mesh;identity;help;help' {
            break
        }
        'mesh;demo' {
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Stop after this long (default: run until Ctrl-C or SIGTERM)')
            [CompletionResult]::new('--vote-interval', '--vote-interval', [CompletionResultType]::ParameterName, 'Time between the vote bot''s requests')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Also start a local Prometheus (the `prometheus` binary) scraping every demo proxy')
            [CompletionResult]::new('--no-identity', '--no-identity', [CompletionResultType]::ParameterName, 'Run the proxies without identities: plaintext between them, no mutual TLS')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;await' {
            [CompletionResult]::new('--admin', '--admin', [CompletionResultType]::ParameterName, 'The proxy''s admin address, asked for /ready')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the proxy before giving up')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;stat' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Only traffic from this resource (e.g. deploy/vote-bot)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('--time-window', '--time-window', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--proxy-admin', '--proxy-admin', [CompletionResultType]::ParameterName, 'Ask this proxy admin address instead of the registry (repeatable)')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Read the numbers from this Prometheus server (which scrapes the proxies) instead')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;routes' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Only traffic from this resource (e.g. deploy/vote-bot)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('--time-window', '--time-window', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--proxy-admin', '--proxy-admin', [CompletionResultType]::ParameterName, 'Ask this proxy admin address instead of the registry (repeatable)')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Read the numbers from this Prometheus server (which scrapes the proxies) instead')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;edges' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Only traffic from this resource (e.g. deploy/vote-bot)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('--time-window', '--time-window', [CompletionResultType]::ParameterName, 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--proxy-admin', '--proxy-admin', [CompletionResultType]::ParameterName, 'Ask this proxy admin address instead of the registry (repeatable)')
            [CompletionResult]::new('--prometheus', '--prometheus', [CompletionResultType]::ParameterName, 'Read the numbers from this Prometheus server (which scrapes the proxies) instead')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;tap' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace of the resources')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Only requests to this resource (TYPE/NAME: deploy/voting, po/voting-0, ns/emojivoto, svc/voting-svc), in --namespace')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Only requests whose path starts with this')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Only requests with this HTTP method')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'Only requests for this authority')
            [CompletionResult]::new('--direction', '--direction', [CompletionResultType]::ParameterName, 'Only requests this side of the proxies saw')
            [CompletionResult]::new('--max-rps', '--max-rps', [CompletionResultType]::ParameterName, 'Requests per second shown at most, split evenly over the proxies tapped')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)')
            [CompletionResult]::new('--proxy-admin', '--proxy-admin', [CompletionResultType]::ParameterName, 'Ask this proxy admin address instead of the registry (repeatable)')
            [CompletionResult]::new('--admin-token-file', '--admin-token-file', [CompletionResultType]::ParameterName, 'File holding the bearer token of proxies whose admin port is public')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Look in every namespace')
            [CompletionResult]::new('--headers', '--headers', [CompletionResultType]::ParameterName, 'Include request and response headers and trailers (JSON output; `-o json` includes them anyway, as Linkerd''s does)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mesh;help' {
            [CompletionResult]::new('profile', 'profile', [CompletionResultType]::ParameterValue, 'Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Install the rules that send a pod''s TCP through its proxy (run as root, in the pod''s network namespace)')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD, a namespace, discovery''s read-only RBAC and the proxies'' Prometheus scrape config')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the proxy and its capture init container to the workloads of Kubernetes manifests')
            [CompletionResult]::new('uninject', 'uninject', [CompletionResultType]::ParameterValue, 'Take what `mesh inject` added out of Kubernetes manifests')
            [CompletionResult]::new('identity', 'identity', [CompletionResultType]::ParameterValue, 'Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS between proxies, and inspect certificates')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy')
            [CompletionResult]::new('await', 'await', [CompletionResultType]::ParameterValue, 'Wait until the proxy is ready, then run a command')
            [CompletionResult]::new('stat', 'stat', [CompletionResultType]::ParameterValue, 'Show success rate, request rate, latency and TCP connections per resource')
            [CompletionResult]::new('routes', 'routes', [CompletionResultType]::ParameterValue, 'Show success rate, request rate and latency per route')
            [CompletionResult]::new('edges', 'edges', [CompletionResultType]::ParameterValue, 'Show which resources of a type send requests or connections to which')
            [CompletionResult]::new('tap', 'tap', [CompletionResultType]::ParameterValue, 'Watch live requests and responses through the proxies of a resource')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mesh;help;profile' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid')
            break
        }
        'mesh;help;profile;check' {
            break
        }
        'mesh;help;proxy' {
            break
        }
        'mesh;help;init' {
            break
        }
        'mesh;help;install' {
            break
        }
        'mesh;help;inject' {
            break
        }
        'mesh;help;uninject' {
            break
        }
        'mesh;help;identity' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key')
            [CompletionResult]::new('issue', 'issue', [CompletionResultType]::ParameterValue, 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a certificate''s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own')
            break
        }
        'mesh;help;identity;init' {
            break
        }
        'mesh;help;identity;issue' {
            break
        }
        'mesh;help;identity;inspect' {
            break
        }
        'mesh;help;demo' {
            break
        }
        'mesh;help;await' {
            break
        }
        'mesh;help;stat' {
            break
        }
        'mesh;help;routes' {
            break
        }
        'mesh;help;edges' {
            break
        }
        'mesh;help;tap' {
            break
        }
        'mesh;help;completions' {
            break
        }
        'mesh;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
