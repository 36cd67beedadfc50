# Sourced by the bench scripts: a scratch directory `$work`, and `pids`, the processes a script
# starts (append with `pids+=($!)`); both are cleaned up on exit, Ctrl-C or SIGTERM.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
