#!/usr/bin/env bash
# Gives the role POSTGRES_USER a new password, which arrives on standard input (podman exec -i:
# never as an argument), and makes it the one the health check logs in with. Sessions already
# logged in are not affected. Run by pg-quadlet password, which also replaces the Podman secret
# and tells the pool; a failure here changes nothing.
set -Eeuo pipefail

pgq_tool=password
# shellcheck source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

pgq_password_main() {
	(($# == 0)) || pgq_die "password.sh takes no arguments: the new password comes on standard input"
	pgq_setup_env
	pgq_password_from_stdin
	pgq_set_role_password
	pgq_store_current_password
	pgq_log "the password of role $POSTGRES_USER is changed"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_password_main "$@"
fi
