#!/bin/bash
# The admin tool's bootstrap of the realm, reading the realm's root credentials from a file.
#
# `--credential realm,id,secret` would put the secret on the tool's command line, readable by any
# process of the node in /proc/*/cmdline. This writes the credentials file (`--credentials-file`;
# YAML `realm: {client-id, client-secret}`, the realms to bootstrap being its keys) owner-only with
# bash's builtin printf (no process gets the values as arguments), passes its path, and removes it
# when the tool exits. Values are YAML single-quoted scalars, a quote written twice.
# Environment: REALM, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, ROOT_CREDENTIALS_FILE (in-memory scratch).
set -eu
umask 077
trap 'rm -f -- "$ROOT_CREDENTIALS_FILE"' EXIT
q="'"
printf '%s:\n  client-id: %s\n  client-secret: %s\n' \
    "$q${REALM//$q/$q$q}$q" "$q${ROOT_CLIENT_ID//$q/$q$q}$q" "$q${ROOT_CLIENT_SECRET//$q/$q$q}$q" \
    > "$ROOT_CREDENTIALS_FILE"
# The image's entrypoint (runtime/admin/src/main/docker/Dockerfile.jvm), which passes its arguments
# on; re-running on a bootstrapped realm exits 0 (Polaris 1.7+).
/opt/jboss/container/java/run/run-java.sh bootstrap --credentials-file "$ROOT_CREDENTIALS_FILE"
