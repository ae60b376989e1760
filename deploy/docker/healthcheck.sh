#!/usr/bin/env bash
# The image's HEALTHCHECK: GET /healthz on the port of GATEHOUSE_LISTEN and succeed only on an
# HTTP 200. It uses bash's /dev/tcp, so the image needs no curl or wget.
set -euo pipefail

listen="${GATEHOUSE_LISTEN:-0.0.0.0:8080}"
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"
host="${host%]}"
# A wildcard bind answers on loopback.
case "$host" in
    "" | "0.0.0.0" | "::") host=127.0.0.1 ;;
esac

exec 3<>"/dev/tcp/${host}/${port}"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
status=""
IFS= read -r -t 4 status <&3 || true
exec 3<&-
case "$status" in
    "HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "gatehouse unhealthy: ${status:-no answer from ${host}:${port}}" >&2
exit 1
