# Shared helpers for the interop lab's install/start/stop scripts. Source it, don't run it.
# Every server keeps its runtime state (pid file, port, generated secrets, logs, database)
# under $INTEROP_STATE/<server>/, never inside the repository.
INTEROP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP_STATE="${INTEROP_STATE:-/tmp/tokencert-interop}"

# Installs the Debian packages named (only those whose command is missing): the scripts need
# curl and python3 even on a minimal Debian. `ensure_cmd CMD PACKAGE` pairs.
ensure_cmd() {
  local missing=()
  while [ $# -ge 2 ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${missing[@]}"
}

state_dir() { mkdir -p "$INTEROP_STATE/$1" && chmod 700 "$INTEROP_STATE/$1" && echo "$INTEROP_STATE/$1"; }

# A TCP port on 127.0.0.1 that nothing listens on: $1 if it is free, else one the kernel picks.
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
want = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else 0
def try_bind(p):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
print(try_bind(want) or try_bind(0))
PY
}

# A random secret (URL-safe, no characters a shell or a form would mangle).
random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }

# Whether process $1 (or a child: gunicorn's workers) holds the listening socket of URL $2's
# port. Without ss, a moment's wait: a server that lost the port exits (node, Glewlwyd at once).
listens() {
  local pid="$1" port
  port="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port)' "$2")"
  if command -v ss >/dev/null; then
    local owners p
    owners=" $(ss -ltnpH "( sport = :$port )" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | tr '\n' ' ')"
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null); do
      [[ "$owners" == *" $p "* ]] && return 0
    done
    return 1
  fi
  sleep 1
  kill -0 "$pid" 2>/dev/null
}

# Waits until URL answers (any HTTP status) or $2 seconds pass. With a pid ($3), the answer
# must come from that server: free_port's port can be taken by another lab between the probe
# and the server's bind (labs of other checkouts run beside this one), and then the server
# exits on EADDRINUSE while the other lab's server answers. So the pid must still be alive a
# moment after the first answer.
wait_http() {
  local url="$1" secs="${2:-30}" pid="${3:-}" i
  for ((i = 0; i < secs * 4; i++)); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "the server (pid $pid) exited before $url answered: see its log (port taken?)" >&2
      return 1
    fi
    if curl -s -o /dev/null --max-time 2 "$url"; then
      [ -z "$pid" ] && return 0
      if listens "$pid" "$url"; then return 0; fi
      echo "$url answered, but not from the server (pid $pid): another process holds the port" >&2
      return 1
    fi
    sleep 0.25
  done
  echo "timed out waiting for $url" >&2
  return 1
}

# Stops the process whose id is in pid file $1 (and only it), then removes the file.
stop_pidfile() {
  local pidfile="$1" pid i
  [ -f "$pidfile" ] || { echo "not running (no $pidfile)"; return 0; }
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
  echo "stopped pid $pid"
}

# Writes profile $1 to $2 with its base_url port (and every other 127.0.0.1:<default> URL)
# switched from $3 to $4: profiles are committed with a default port, a run may use another.
render_profile() {
  sed "s#127\.0\.0\.1:$3#127.0.0.1:$4#g" "$1" > "$2"
}
