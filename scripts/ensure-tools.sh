#!/usr/bin/env bash
# ensure-tools.sh [demo|tests|captures|all]: makes sure the programs that one need uses are here,
# and installs only those (the demo must not pull in a browser and Wireshark to replay a capture).
#   demo      memcached                            the demo replays the sample into a local memcached
#   tests     memcached                            every test that talks to a server
#             tcpdump                              live capture and round-trip tests (test/capture/live,
#                                                  test/replay/roundtrip)
#             tshark                               tests that compare with Wireshark's memcache dissector
#             chromium                             tests of the HTML report in a headless browser
#             sasl2-bin (saslpasswd2),             tests against memcached -S (a sasldb for binary SASL,
#             libsasl2-modules (PLAIN)             and the PLAIN mechanism, only recommended by libsasl2)
#   captures  memcached, tcpdump, dumpcap, tshark, to re-record captures (scripts/make-captures.sh)
#             libmemcached-tools (memccapable), python3-pymemcache; ruby-dalli,
#             libcache-memcached-fast-perl, php-cli + php-memcached (the clients of other languages:
#             dalli-binary, cmfast-two-servers, php-memcached; only here, not in all)
#   all       all of the above (the default: what .ci/run wants)
# Idempotent and silent when everything is installed (checks only; no package manager run).
# As root with apt-get, missing ones are installed (one apt-get update, then install), each named
# with the reason first. Otherwise it prints the command to run. It fails (exit 1) only when
# memcached is missing; the tests that need a missing optional tool are skipped and say so.
#   tests also: python3-pymemcache (warm, diff and live mirror tests), libmemcached-tools (placement
#             checks against libmemcached), tmux (top), python3-prometheus-client (/metrics check)
set -u

declare -A PKG=(
  [memcached]=memcached
  [tshark]=tshark
  [dumpcap]=wireshark-common
  [chromium]=chromium
  [saslpasswd2]=sasl2-bin
  [saslplain]=libsasl2-modules
  [tcpdump]=tcpdump
  [memccapable]=libmemcached-tools
  [pymemcache]=python3-pymemcache
  [tmux]=tmux
  [promclient]=python3-prometheus-client
  [dalli]=ruby-dalli
  [cmfast]=libcache-memcached-fast-perl
  [php]=php-cli
  [phpmc]=php-memcached
)
declare -A WHY=(
  [memcached]="the demo and every test replay into a local memcached"
  [tshark]="tshark comparisons in test/fixtures (skipped)"
  [dumpcap]="re-recording the pcapng fixture (scripts/make-captures.sh)"
  [chromium]="HTML report tests in a headless browser (skipped)"
  [saslpasswd2]="SASL target tests in test/replay/sasl.test.ts (skipped)"
  [saslplain]="SASL target tests in test/replay/sasl.test.ts (memcached -S offers no PLAIN)"
  [tcpdump]="live capture and round-trip tests (skipped), re-recording captures (scripts/make-captures.sh)"
  [memccapable]="re-recording the memccapable fixtures (scripts/make-captures.sh)"
  [pymemcache]="re-recording the pymemcache fixtures (scripts/make-captures.sh), the warm, diff and live mirror tests"
  [tmux]="the terminal view test of mcreplay top (test/migrate/top.test.ts, skipped)"
  [promclient]="the /metrics histogram check in test/mirror/metrics.test.ts"
  [dalli]="re-recording captures/fixtures/dalli-binary (Ruby Dalli)"
  [cmfast]="re-recording captures/fixtures/cmfast-two-servers (Perl Cache::Memcached::Fast)"
  [php]="re-recording captures/fixtures/php-memcached"
  [phpmc]="re-recording captures/fixtures/php-memcached (php-memcached on libmemcached)"
)
ORDER=(memcached tshark dumpcap chromium saslpasswd2 saslplain tcpdump memccapable pymemcache tmux promclient)
need=${1:-all}
case $need in
  demo) WANT=(memcached) ;;
  tests) WANT=(memcached tcpdump tshark chromium saslpasswd2 saslplain pymemcache memccapable tmux promclient) ;;
  captures) WANT=(memcached tcpdump dumpcap tshark memccapable pymemcache dalli cmfast php phpmc) ;;
  all) WANT=("${ORDER[@]}") ;;
  *) echo "ensure-tools: unknown need '$need': use demo, tests, captures or all" >&2; exit 2 ;;
esac

have() {
  case $1 in
    memcached) [[ -x /usr/bin/memcached || -x /usr/local/bin/memcached ]] || command -v memcached >/dev/null ;;
    pymemcache) [[ -x /usr/bin/python3 && -f /usr/lib/python3/dist-packages/pymemcache/__init__.py ]] ;;
    promclient) [[ -x /usr/bin/python3 && -f /usr/lib/python3/dist-packages/prometheus_client/parser.py ]] ;;
    chromium) command -v chromium >/dev/null || command -v chromium-browser >/dev/null ;;
    dalli) command -v ruby >/dev/null && ruby -e 'require "dalli"' 2>/dev/null ;;
    cmfast) perl -MCache::Memcached::Fast -e 1 2>/dev/null ;;
    phpmc) command -v php >/dev/null && php -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null ;;
    saslplain) compgen -G '/usr/lib/*/sasl2/libplain.so*' >/dev/null || compgen -G '/usr/lib/sasl2/libplain.so*' >/dev/null ;;
    *) command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 || -x /usr/bin/$1 ]] ;;
  esac
}

missing=()
for t in "${WANT[@]}"; do have "$t" || missing+=("$t"); done
[[ ${#missing[@]} -eq 0 ]] && exit 0

pkgs() { local p=() t; for t in "$@"; do p+=("${PKG[$t]}"); done; printf '%s\n' "${p[@]}" | sort -u | tr '\n' ' '; }

if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "ensure-tools: installing with apt-get (for: $need):" >&2
  for t in "${missing[@]}"; do printf '  %-20s for %s\n' "${PKG[$t]}" "${WHY[$t]}" >&2; done
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  # shellcheck disable=SC2046
  if ! apt-get install -y -qq --no-install-recommends $(pkgs "${missing[@]}") >&2; then
    # one unavailable optional package must not keep memcached out
    for t in "${missing[@]}"; do
      apt-get install -y -qq --no-install-recommends "${PKG[$t]}" >&2 || echo "ensure-tools: could not install ${PKG[$t]}" >&2
    done
  fi
  still=()
  for t in "${missing[@]}"; do have "$t" || still+=("$t"); done
  missing=("${still[@]+"${still[@]}"}")
  [[ ${#missing[@]} -eq 0 ]] && exit 0
fi

rc=0
for t in "${missing[@]}"; do
  if [[ $t == memcached ]]; then
    echo "ensure-tools: memcached is missing: needed by ${WHY[$t]}" >&2
    rc=1
  else
    echo "ensure-tools: $t is missing: ${WHY[$t]}" >&2
  fi
done
echo "ensure-tools: to install, run: sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(pkgs "${missing[@]}")" >&2
exit $rc
