# Sourced by scripts: start_memcached [extra memcached args...] starts a throwaway memcached on a
# free loopback port, waits until it accepts connections, sets MC_PORT and MC_PID, and stops it
# when the calling script exits.
start_memcached() {
  MC_PORT=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  local user_args=()
  [ "$(id -u)" = 0 ] && user_args=(-u root)
  memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 "${user_args[@]}" "$@" &
  MC_PID=$!
  trap 'kill $MC_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$MC_PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "memcached did not start on 127.0.0.1:$MC_PORT" >&2
  return 1
}
