# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mesh_global_optspecs
    string join \n h/help V/version
end

function __fish_mesh_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mesh_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mesh_using_subcommand
    set -l cmd (__fish_mesh_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mesh -n "__fish_mesh_needs_command" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_needs_command" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "profile" -d 'Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "proxy" -d 'Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "init" -d 'Install the rules that send a pod\'s TCP through its proxy (run as root, in the pod\'s network namespace)'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "install" -d 'Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD, a namespace, discovery\'s read-only RBAC and the proxies\' Prometheus scrape config'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "inject" -d 'Add the proxy and its capture init container to the workloads of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "uninject" -d 'Take what `mesh inject` added out of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "identity" -d 'Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS between proxies, and inspect certificates'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "demo" -d 'Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "await" -d 'Wait until the proxy is ready, then run a command'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "stat" -d 'Show success rate, request rate, latency and TCP connections per resource'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "routes" -d 'Show success rate, request rate and latency per route'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "edges" -d 'Show which resources of a type send requests or connections to which'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "tap" -d 'Watch live requests and responses through the proxies of a resource'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c mesh -n "__fish_mesh_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l open-api -d 'Read routes from a Swagger 2.0 or OpenAPI 3.x document (JSON or YAML; - for stdin)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l proto -d 'Read one route per rpc from a .proto file (repeatable)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l tap -d 'Build routes from live requests to RESOURCE\'s proxies (deploy/web, po/web-0)' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -s I -l proto-path -d 'Directory searched for imports of --proto files (after each file\'s own directory)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l cluster-domain -d 'Kubernetes cluster DNS domain' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -s o -l output -d 'Output format' -r -f -a "yaml\t''
json\t''"
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l tap-duration -d 'How long to watch live requests' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l tap-route-limit -d 'Most routes to write' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -s n -l namespace -d 'Namespace of the service or resources' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l proxy-admin -d 'Ask this proxy admin address instead of the registry (repeatable)' -r
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l admin-token-file -d 'File holding the bearer token of proxies whose admin port is public' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l template -d 'Print a commented scaffold that documents every field'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l qualified-names -d 'Name proto routes Service/Rpc instead of Rpc'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -l tap-collapse -d 'Fold paths that differ only in an id-like segment (number, UUID, hex) into one route'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -a "check" -d 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid'
complete -c mesh -n "__fish_mesh_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l inbound -d 'Where callers reach this workload\'s services (requests go on to --app) [default: 0.0.0.0:4143; with --capture `[::]:4143`, as redirected IPv6 connections arrive on IPv6]' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l outbound -d 'Where the app sends its requests (as to an HTTP proxy, or with the target in Host) [default: 127.0.0.1:4140; with --capture `[::]:4140`]' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l admin -d 'The admin port: /ready, /live, /metrics, /stats, /tap, POST /shutdown' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l app -d 'The local app inbound requests go to; without it there is no inbound listener' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l identity-dir -d 'Serve and call with mutual TLS, with the certificate in DIR: `tls.crt`, `tls.key`, `ca.crt` (cert-manager, `mesh identity issue`) or spiffe-helper\'s `svid.pem`, `key.pem`, `bundle.pem`; read again when the files change (docs/identity.md)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l identity-cert -d 'The certificate (and intermediates) file, if not the layout\'s (relative: in DIR)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l identity-key -d 'The private key file, if not the layout\'s (relative: in DIR)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l identity-trust-anchors -d 'The trust anchors file, if not the layout\'s (relative: in DIR)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l service-account -d 'This workload\'s service account: with --namespace, the identity its certificate must prove' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l trust-domain -d 'The trust domain of identities (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l control-plane-namespace -d 'The control-plane namespace in identity names (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`; Linkerd\'s is `linkerd`)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l require-identity -d 'Refuse (403, explained) inbound requests that did not come over mutual TLS: `all`, or a comma-separated list of app ports' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l workload -d 'This workload, as KIND/NAME (deploy/web, sts/zk)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l pod -d 'This pod\'s name (default: the workload\'s name)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l service -d 'A service this workload serves (repeatable; port 80 if omitted). Its requests go to APP_PORT on the app\'s host; without it, to --app when the workload has one service port, else to the service port itself on the app\'s host' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l profiles -d 'Directory of ServiceProfile YAML files, reloaded when they change (one that does not exist yet is watched for; a path that is not a directory is refused)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l profile-source -d 'Where ServiceProfiles come from besides --profiles DIR: `none`, or `kube` (the serviceprofiles.linkerd.io objects of the Kubernetes API, watched cluster-wide; a file in DIR with the same name wins)' -r -f -a "none\t''
kube\t''"
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l endpoints -d 'Static endpoints file (YAML: service authority -> addresses with labels)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l discovery -d 'Where services\' endpoints come from after --endpoints: `registry` (this machine\'s local registry) or `kube` (the Kubernetes API: EndpointSlices and Services, through KUBECONFIG or the pod\'s service account; the registry is then neither used nor joined)' -r -f -a "registry\t''
kube\t''"
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l opaque-ports -d 'Ports never parsed as HTTP, only forwarded as TCP (e.g. 2888,3888; `none` for none). The default is Linkerd\'s: SMTP, MySQL, Galera, PostgreSQL, Redis, Elasticsearch, memcached' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l allow-destination -d 'Also forward to these addresses, which discovery does not know: CIDR[:PORT[-PORT]] (repeatable). Loopback and link-local addresses open only to a rule inside those ranges (127.0.0.1/32:8080); see docs/security.md for the risk' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l cluster-domain -d 'Kubernetes cluster DNS domain' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l shutdown-grace -d 'How long in-flight requests may take to finish after SIGTERM or SIGINT' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l max-in-flight -d 'Requests in flight to one endpoint at most' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l dispatch-timeout -d 'Longest wait for an endpoint with capacity; past it the request fails fast with 503' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l response-timeout -d 'Longest wait for a response, counted from the request\'s arrival (retries included), for routes without a shorter ServiceProfile timeout; past it the caller gets 504' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l upstream-idle-timeout -d 'How long an idle HTTP/1 connection to an app or endpoint is kept for reuse; keep it shorter than the upstreams\' keep-alive timeout' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l upstream-ping-interval -d 'How long an upstream HTTP/2 connection with open streams may stay silent before it is PINGed. gRPC servers take one PING per 5 minutes on a connection they send nothing on and close it (killing quiet streams) after a few more; dead upstreams are found sooner by TCP keepalive' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l header-read-timeout -d 'Longest wait for a client\'s request head, and for its next request on an idle HTTP/1 keep-alive connection; slower clients are disconnected' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l detect-timeout -d 'Longest wait for a new connection\'s first bytes; inbound, a silent client is then treated as opaque TCP (server-speaks-first protocols), outbound it is closed' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l max-connections -d 'Client connections open at once per listener; more wait in the kernel\'s backlog' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l inbound-forward -d 'With --capture, where inbound connections go: `original` (the pod IP and port the caller connected to; the default) or `localhost` (that port on loopback, for apps bound to 127.0.0.1 only)' -r -f -a "original\t''
localhost\t''"
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l app-uid -d 'With --capture and -- APP: run the app as this uid (and --app-gid), which the capture rules do not exempt; without it that combination is refused, as the app would run as the proxy\'s own user and its traffic would skip the proxy' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l app-gid -d 'The gid to run the app as, with --app-uid (default: that user\'s primary group, or the gid numbered as the uid; never the proxy\'s own group)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l log-level -d 'Log filter (error, warn, info, debug, trace, or tracing directives)' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -s n -l namespace -d 'Namespace of this workload' -r
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l admin-token-file -d 'File holding the bearer token /tap and /shutdown require on a public admin port (without it, both are off there)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l admin-public -d 'Allow the admin port on a non-loopback address (as in Kubernetes, for Prometheus)'
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l no-registry -d 'Neither register in nor discover from the local registry'
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -l capture -d 'Transparent capture: connections arrive redirected by `mesh init`\'s rules and each goes on to its original destination (inbound: the app port the caller connected to, so --app is not needed and --service only names the services; outbound: where the app was connecting, unless Host names a known service). Connections made to the listeners directly are served as without it; redirected ones are detected without it too'
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand proxy" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand init" -l backend -d 'How to install the rules: `auto` picks the first of nft, iptables-nft, iptables-legacy that answers here, and says which' -r -f -a "auto\t'The first of nft, iptables-nft, iptables-legacy that works here'
nft\t'nftables: one `inet mesh` table for IPv4 and IPv6 (`nft -f -`)'
iptables-nft\t'iptables on nf_tables (`iptables-nft-restore`, `ip6tables-nft-restore`)'
iptables-legacy\t'iptables on the legacy x_tables (`iptables-legacy-restore`, `ip6tables-legacy-restore`)'"
complete -c mesh -n "__fish_mesh_using_subcommand init" -l proxy-uid -d 'The proxy\'s uid: its connections are never captured (2102, Linkerd\'s, when neither this nor --proxy-gid is given)' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l proxy-gid -d 'The proxy\'s gid: its connections are never captured' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l inbound-port -d 'The proxy\'s inbound port, where connections to the pod are redirected' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l outbound-port -d 'The proxy\'s outbound port, where connections from the pod are redirected' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l admin-port -d 'The proxy\'s admin port, which callers reach directly (probes, Prometheus)' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l skip-inbound-ports -d 'Inbound ports that reach the app directly, never the proxy (e.g. 2888,3888 or 4000-4100)' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l skip-outbound-ports -d 'Outbound ports that leave the pod directly, never through the proxy' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l skip-inbound-subnets -d 'Inbound connections from these CIDRs reach the app directly (Linkerd\'s skip-subnets)' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l skip-outbound-subnets -d 'Outbound connections to these CIDRs leave the pod directly' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l check-probe -d 'Where --check connects: an address only the capture rules can answer' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l check-timeout -d 'How long --check waits for its token' -r
complete -c mesh -n "__fish_mesh_using_subcommand init" -l dry-run -d 'Print the exact input the backend would be given, and change nothing (no root needed)'
complete -c mesh -n "__fish_mesh_using_subcommand init" -l uninstall -d 'Remove the rules mesh installed (with `auto`: from every backend that has them)'
complete -c mesh -n "__fish_mesh_using_subcommand init" -l check -d 'Prove capture works: listen on the outbound port, connect to --check-probe (as uid 65534 when run as root, never as the proxy\'s user), and expect this check\'s own token back (before the proxy starts, as an init container)'
complete -c mesh -n "__fish_mesh_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand init" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand install" -s n -l namespace -d 'The namespace to create for mesh\'s service account and scrape config' -r
complete -c mesh -n "__fish_mesh_using_subcommand install" -l proxy-namespaces -d 'Grant discovery\'s read rights (and the identity\'s) only to the service accounts of these namespaces, where meshed pods run (default: every service account in the cluster)' -r
complete -c mesh -n "__fish_mesh_using_subcommand install" -l no-crd -d 'Leave out the ServiceProfile CRD: for a cluster that has Linkerd\'s (`kubectl get crd serviceprofiles.linkerd.io`), which has the same schema'
complete -c mesh -n "__fish_mesh_using_subcommand install" -l no-identity-rbac -d 'Leave out the ClusterRole mesh-identity and its binding (create CertificateRequests, which cert-manager\'s csi-driver-spiffe does as each meshed pod\'s service account): for clusters where the proxies\' identity comes from a secret or SPIRE, or is disabled'
complete -c mesh -n "__fish_mesh_using_subcommand install" -l prometheus-config -d 'Print only the Prometheus scrape config (prometheus.yml with the `mesh-proxies` job), to merge into your own Prometheus'
complete -c mesh -n "__fish_mesh_using_subcommand install" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand install" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l image -d 'Image of the proxy and the init container (holds `mesh`, `nft` and `iptables`)' -r
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l kubernetes-version -d 'The cluster\'s Kubernetes version: native sidecars need 1.29 or later (below it the classic layout is written)' -r
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l proxy-uid -d 'The proxy\'s uid (`runAsUser`), which `mesh init --proxy-uid` exempts from capture' -r
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l shutdown-grace -d 'The proxy\'s --shutdown-grace; the pod\'s terminationGracePeriodSeconds is raised above it' -r
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l classic -d 'Put the proxy first in `containers`, the app waiting for it through a postStart `mesh await`, instead of a native sidecar (an init container with restartPolicy Always); an annotation config.linkerd.io/proxy-enable-native-sidecar decides over this'
complete -c mesh -n "__fish_mesh_using_subcommand inject" -l init-non-root -d 'Run `mesh-init` as uid 65534 (runAsNonRoot) instead of root. Only for an image whose `nft` and `iptables` binaries carry file capabilities (setcap cap_net_admin,cap_net_raw+ep), as Linkerd\'s proxy-init image does: a non-root process loses its added capabilities when it runs them otherwise'
complete -c mesh -n "__fish_mesh_using_subcommand inject" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand inject" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand uninject" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand uninject" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -f -a "init" -d 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -f -a "issue" -d 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -f -a "inspect" -d 'Show a certificate\'s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -l dir -d 'The authority directory to write (made 0700 if missing)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -l trust-domain -d 'The trust domain of the identities it issues (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -l anchor-lifetime -d 'How long the trust anchor is valid' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -l issuer-lifetime -d 'How long the issuer is valid (no longer than the anchor)' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -l force -d 'Replace an authority already in DIR (proxies trusting its ca.crt then refuse certificates from the new one until they are given the new ca.crt)'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l service-account -d 'The workload\'s service account' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l authority -d 'The authority directory (`mesh identity init`)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l out -d 'The identity directory to write (default: `./<service-account>.<namespace>`)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l lifetime -d 'How long the certificate is valid (from 20s ago, for clocks a little behind)' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l trust-domain -d 'The trust domain (default: the authority\'s, else cluster.local)' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -l control-plane-namespace -d 'The control-plane namespace in the identity name (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`), as the proxies are given it' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -s n -l namespace -d 'Namespace of the workload the certificate is for' -r
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from inspect" -s o -l output -d 'Output format' -r -f -a "text\t'One `field: value` line each'
json\t'One JSON object (its fields are documented in src/mtls/inspect.rs)'"
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from inspect" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from help" -f -a "init" -d 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Show a certificate\'s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own'
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand demo" -l duration -d 'Stop after this long (default: run until Ctrl-C or SIGTERM)' -r
complete -c mesh -n "__fish_mesh_using_subcommand demo" -l vote-interval -d 'Time between the vote bot\'s requests' -r
complete -c mesh -n "__fish_mesh_using_subcommand demo" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand demo" -l prometheus -d 'Also start a local Prometheus (the `prometheus` binary) scraping every demo proxy'
complete -c mesh -n "__fish_mesh_using_subcommand demo" -l no-identity -d 'Run the proxies without identities: plaintext between them, no mutual TLS'
complete -c mesh -n "__fish_mesh_using_subcommand demo" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand demo" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand await" -l admin -d 'The proxy\'s admin address, asked for /ready' -r
complete -c mesh -n "__fish_mesh_using_subcommand await" -l timeout -d 'How long to wait for the proxy before giving up' -r
complete -c mesh -n "__fish_mesh_using_subcommand await" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand await" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s n -l namespace -d 'Namespace of the resources' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -l from -d 'Only traffic from this resource (e.g. deploy/vote-bot)' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -l to -d 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s t -l time-window -d 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s o -l output -d 'Output format' -r -f -a "table\t'A table, as Linkerd prints it'
wide\t'A table with more columns'
json\t'JSON, for jq'"
complete -c mesh -n "__fish_mesh_using_subcommand stat" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand stat" -l proxy-admin -d 'Ask this proxy admin address instead of the registry (repeatable)' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -l prometheus -d 'Read the numbers from this Prometheus server (which scrapes the proxies) instead' -r
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s A -l all-namespaces -d 'Look in every namespace'
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand stat" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s n -l namespace -d 'Namespace of the resources' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -l from -d 'Only traffic from this resource (e.g. deploy/vote-bot)' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -l to -d 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s t -l time-window -d 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s o -l output -d 'Output format' -r -f -a "table\t'A table, as Linkerd prints it'
wide\t'A table with more columns'
json\t'JSON, for jq'"
complete -c mesh -n "__fish_mesh_using_subcommand routes" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand routes" -l proxy-admin -d 'Ask this proxy admin address instead of the registry (repeatable)' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -l prometheus -d 'Read the numbers from this Prometheus server (which scrapes the proxies) instead' -r
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s A -l all-namespaces -d 'Look in every namespace'
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand routes" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s n -l namespace -d 'Namespace of the resources' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -l from -d 'Only traffic from this resource (e.g. deploy/vote-bot)' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -l to -d 'Only traffic to this resource, as its callers saw it (e.g. deploy/voting)' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s t -l time-window -d 'How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s o -l output -d 'Output format' -r -f -a "table\t'A table, as Linkerd prints it'
wide\t'A table with more columns'
json\t'JSON, for jq'"
complete -c mesh -n "__fish_mesh_using_subcommand edges" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand edges" -l proxy-admin -d 'Ask this proxy admin address instead of the registry (repeatable)' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -l prometheus -d 'Read the numbers from this Prometheus server (which scrapes the proxies) instead' -r
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s A -l all-namespaces -d 'Look in every namespace'
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand edges" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand tap" -s n -l namespace -d 'Namespace of the resources' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l to -d 'Only requests to this resource (TYPE/NAME: deploy/voting, po/voting-0, ns/emojivoto, svc/voting-svc), in --namespace' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l path -d 'Only requests whose path starts with this' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l method -d 'Only requests with this HTTP method' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l authority -d 'Only requests for this authority' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l direction -d 'Only requests this side of the proxies saw' -r -f -a "in\t''
out\t''"
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l max-rps -d 'Requests per second shown at most, split evenly over the proxies tapped' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -s o -l output -d 'Output format' -r -f -a "text\t'One line per event, as `linkerd viz tap` prints them, ending with the route matched'
wide\t'The text line followed by every label of the source, the destination and the route'
json\t'One pretty-printed JSON object per event, in `linkerd viz tap -o json`\'s shape'"
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l registry -d 'Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l proxy-admin -d 'Ask this proxy admin address instead of the registry (repeatable)' -r
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l admin-token-file -d 'File holding the bearer token of proxies whose admin port is public' -r -F
complete -c mesh -n "__fish_mesh_using_subcommand tap" -s A -l all-namespaces -d 'Look in every namespace'
complete -c mesh -n "__fish_mesh_using_subcommand tap" -l headers -d 'Include request and response headers and trailers (JSON output; `-o json` includes them anyway, as Linkerd\'s does)'
complete -c mesh -n "__fish_mesh_using_subcommand tap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mesh -n "__fish_mesh_using_subcommand tap" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mesh -n "__fish_mesh_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "profile" -d 'Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "proxy" -d 'Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "init" -d 'Install the rules that send a pod\'s TCP through its proxy (run as root, in the pod\'s network namespace)'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "install" -d 'Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD, a namespace, discovery\'s read-only RBAC and the proxies\' Prometheus scrape config'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "inject" -d 'Add the proxy and its capture init container to the workloads of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "uninject" -d 'Take what `mesh inject` added out of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "identity" -d 'Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS between proxies, and inspect certificates'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "demo" -d 'Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "await" -d 'Wait until the proxy is ready, then run a command'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "stat" -d 'Show success rate, request rate, latency and TCP connections per resource'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "routes" -d 'Show success rate, request rate and latency per route'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "edges" -d 'Show which resources of a type send requests or connections to which'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "tap" -d 'Watch live requests and responses through the proxies of a resource'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "check" -d 'Validate ServiceProfile files as a cluster would, and beyond; exit 1 if any is invalid'
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from identity" -f -a "init" -d 'Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt, issuer.crt and issuer.key'
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from identity" -f -a "issue" -d 'Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and write it as an identity directory: tls.crt, tls.key, ca.crt'
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from identity" -f -a "inspect" -d 'Show a certificate\'s identities, issuer, validity and time left, and whether it chains to the ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own'

# Added by mesh (src/cli/completions.rs): what clap_complete's fish script does not complete.
complete -c mesh -n "__fish_mesh_using_subcommand profile; and not __fish_seen_subcommand_from check help" -f
complete -c mesh -n "__fish_mesh_using_subcommand profile; and __fish_seen_subcommand_from help" -f
complete -c mesh -n "__fish_mesh_using_subcommand init" -f
complete -c mesh -n "__fish_mesh_using_subcommand install" -f
complete -c mesh -n "__fish_mesh_using_subcommand inject" -f
complete -c mesh -n "__fish_mesh_using_subcommand uninject" -f
complete -c mesh -n "__fish_mesh_using_subcommand identity; and not __fish_seen_subcommand_from init issue inspect help" -f
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from init" -f
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from issue" -f
complete -c mesh -n "__fish_mesh_using_subcommand identity; and __fish_seen_subcommand_from help" -f
complete -c mesh -n "__fish_mesh_using_subcommand demo" -f
complete -c mesh -n "__fish_mesh_using_subcommand stat" -f
complete -c mesh -n "__fish_mesh_using_subcommand routes" -f
complete -c mesh -n "__fish_mesh_using_subcommand edges" -f
complete -c mesh -n "__fish_mesh_using_subcommand tap" -f
complete -c mesh -n "__fish_mesh_using_subcommand completions" -f -a "bash elvish fish powershell zsh"
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions help" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "profile" -d 'Write a ServiceProfile for SERVICE from an OpenAPI document, .proto files or a template'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "proxy" -d 'Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "init" -d 'Install the rules that send a pod\'s TCP through its proxy (run as root, in the pod\'s network namespace)'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "install" -d 'Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD, a namespace, discovery\'s read-only RBAC and the proxies\' Prometheus scrape config'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "inject" -d 'Add the proxy and its capture init container to the workloads of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "uninject" -d 'Take what `mesh inject` added out of Kubernetes manifests'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "identity" -d 'Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS between proxies, and inspect certificates'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "demo" -d 'Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "await" -d 'Wait until the proxy is ready, then run a command'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "stat" -d 'Show success rate, request rate, latency and TCP connections per resource'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "routes" -d 'Show success rate, request rate and latency per route'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "edges" -d 'Show which resources of a type send requests or connections to which'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "tap" -d 'Watch live requests and responses through the proxies of a resource'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "completions" -d 'Print a shell completion script'
complete -c mesh -n "__fish_mesh_using_subcommand help; and not __fish_seen_subcommand_from profile proxy init install inject uninject identity demo await stat routes edges tap completions" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from profile" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from proxy" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from init" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from install" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from inject" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from uninject" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from identity" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from demo" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from await" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from stat" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from routes" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from edges" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from tap" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from completions" -f
complete -c mesh -n "__fish_mesh_using_subcommand help; and __fish_seen_subcommand_from help" -f
