# Sourced by the kubeadm stand-in (./kubeadm): `kubeadm token create|list|delete`
# against the fake cluster's "tokens" file ($C/tokens, lines
# "<id>.<secret> <expiry, unix s; 0 never> [description]"), which discovery in
# `kubeadm join` reads. Texts and exit codes are kubeadm's: create prints the
# token (so a module must not echo its output), refuses an ID that exists
# ("a token with id ... already exists"), list prints TOKEN TTL EXPIRES ...
# with "<invalid>" as the TTL of an expired token that the token cleaner has
# not removed yet. Every subcommand needs the admin kubeconfig
# (--kubeconfig, default $E/admin.conf), as kubeadm does.
# Simplification: expired tokens are never cleaned up (delete them to test).

token_failed() {
  echo "failed: token $1" >>"$R/kubeadm.log"
  echo "error: $1" >&2
  echo "To see the stack trace of this error execute with --v=5 or higher" >&2
  exit 1
}

# Seconds of a Go duration of h/m/s ("24h", "1h30m", "90s", "0").
token_ttl_seconds() {
  echo "$1" | awk '{
    s = $0; total = 0
    if (s == "0") { print 0; exit }
    while (match(s, /^[0-9]+[hms]/)) {
      n = substr(s, 1, RLENGTH - 1); u = substr(s, RLENGTH, 1)
      total += n * (u == "h" ? 3600 : u == "m" ? 60 : 1); s = substr(s, RLENGTH + 1)
    }
    if (s != "") exit 1
    print total
  }'
}

cmd_token() {
  sub=$2
  shift 2
  kubeconfig="$E/admin.conf" ttl=24h description="" token=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --kubeconfig) kubeconfig=$2; shift ;;
      --ttl) ttl=$2; shift ;;
      --description) description=$2; shift ;;
      -*) echo "unknown flag: $1" >&2; exit 64 ;;
      *) token=$1 ;;
    esac
    shift
  done
  [ -r "$kubeconfig" ] ||
    token_failed "failed to load admin kubeconfig: open $kubeconfig: no such file or directory"
  [ -f "$C/tokens" ] || token_failed "the cluster has no bootstrap tokens file (not initialised)"
  now=$(date +%s)
  case "$sub" in
    list)
      printf '%-24s %-10s %-21s %-23s %s\n' TOKEN TTL EXPIRES USAGES DESCRIPTION
      while read -r t exp desc; do
        if [ "$exp" = 0 ]; then left='<forever>' at='<never>'
        elif [ "$exp" -le "$now" ]; then left='<invalid>' at=$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)
        else left="$(((exp - now) / 3600))h" at=$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)
        fi
        printf '%-24s %-10s %-21s %-23s %s\n' "$t" "$left" "$at" authentication,signing "${desc:-<none>}"
      done <"$C/tokens"
      ;;
    create)
      echo "$token" | grep -Eqx '[a-z0-9]{6}\.[a-z0-9]{16}' ||
        token_failed "the bootstrap token \"$token\" was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\""
      secs=$(token_ttl_seconds "$ttl") || token_failed "invalid argument \"$ttl\" for \"--ttl\" flag"
      if awk -v id="${token%%.*}." 'index($1, id) == 1 { found = 1 } END { exit !found }' "$C/tokens"; then
        token_failed "a token with id \"${token%%.*}\" already exists"
      fi
      if [ "$secs" = 0 ]; then exp=0; else exp=$((now + secs)); fi
      (umask 077 && echo "$token $exp $description" >>"$C/tokens")
      echo "$token"
      ;;
    delete)
      id=${token%%.*}
      awk -v id="$id." 'index($1, id) == 1 { found = 1 } END { exit !found }' "$C/tokens" ||
        token_failed "bootstrap token \"$id\" not found"
      (umask 077 && awk -v id="$id." 'index($1, id) != 1' "$C/tokens" >"$C/tokens.new")
      mv "$C/tokens.new" "$C/tokens"
      echo "bootstrap token \"$id\" deleted"
      ;;
    *) echo "unexpected command token $sub" >&2; exit 64 ;;
  esac
  exit 0
}
