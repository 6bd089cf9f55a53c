#!/usr/bin/env bash
# Makes sure the services eventfold needs are installed, running and set up:
# PostgreSQL (role and database "eventfold") and Redis. On a fresh Debian
# machine it installs them from Debian's packages (as root, or through sudo).
# It is safe to run any number of times; both README commands call it.
#
#   scripts/services.sh            PostgreSQL and Redis
#   scripts/services.sh --brokers  also NATS (with JetStream) and RabbitMQ,
#                                  and Chromium: all that make test needs
set -euo pipefail

want_brokers=0
[ "${1:-}" = "--brokers" ] && want_brokers=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

say() { printf 'services: %s\n' "$*" >&2; }

apt_updated=0
install_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]} from Debian's packages"
	if [ $apt_updated -eq 0 ]; then
		$SUDO apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() { # wait_for NAME COMMAND... (for up to WAIT_SECONDS, default 30)
	local name=$1; shift
	for _ in $(seq 1 $(( ${WAIT_SECONDS:-30} * 2 ))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	say "$name did not come up"; return 1
}

# --- tools the build needs -------------------------------------------------
command -v make >/dev/null 2>&1 || install_pkgs make
command -v git >/dev/null 2>&1 || install_pkgs git ca-certificates
command -v gcc >/dev/null 2>&1 || install_pkgs gcc libc6-dev # go test -race needs cgo
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	# Debian's Go is older than go.mod asks for; with GOTOOLCHAIN=auto (the
	# default) it fetches the required toolchain through the module proxy.
	install_pkgs golang-go ca-certificates
fi
# The web console's browser test (examples module) drives headless Chromium;
# only the tests need it, so the example's run does not download it.
if [ $want_brokers -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
	install_pkgs chromium fonts-liberation
fi

# --- PostgreSQL ------------------------------------------------------------
command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ] || install_pkgs postgresql
pgver=$(ls /etc/postgresql | sort -V | tail -1)
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
	say "starting PostgreSQL $pgver"
	$SUDO pg_ctlcluster --skip-systemctl-redirect "$pgver" main start || true
	wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
fi
psql_admin() { (cd / && $SUDO runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"); }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'eventfold'")" != "1" ]; then
	say "creating role eventfold"
	psql_admin -c "CREATE ROLE eventfold LOGIN PASSWORD 'eventfold'"
fi
# A role that owns nothing, for the test of row-level security as an
# application runs it (docs/tenancy.md): eventfold may SET ROLE to it.
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'eventfold_app'")" != "1" ]; then
	say "creating role eventfold_app"
	psql_admin -c "CREATE ROLE eventfold_app NOLOGIN" -c "GRANT eventfold_app TO eventfold"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'eventfold'")" != "1" ]; then
	say "creating database eventfold"
	psql_admin -c "CREATE DATABASE eventfold OWNER eventfold"
fi

# --- Redis -----------------------------------------------------------------
command -v redis-server >/dev/null 2>&1 || install_pkgs redis-server
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	say "starting Redis"
	$SUDO mkdir -p /var/lib/redis /var/log/redis
	$SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# --- Brokers (only for the distributed set-up and its tests) ----------------
if [ $want_brokers -eq 1 ]; then
	command -v nats-server >/dev/null 2>&1 || install_pkgs nats-server
	if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
		say "starting NATS with JetStream"
		$SUDO mkdir -p /var/lib/nats-server
		$SUDO start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
			-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
		wait_for NATS bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222'
	fi
	command -v rabbitmq-server >/dev/null 2>&1 || install_pkgs rabbitmq-server
	if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
		say "starting RabbitMQ"
		$SUDO rabbitmq-server -detached
		WAIT_SECONDS=120 wait_for RabbitMQ bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
	fi
fi
say "ready: PostgreSQL 127.0.0.1:5432 (db eventfold), Redis 127.0.0.1:6379"
