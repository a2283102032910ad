#!/bin/sh
# Uploads this run's dump of one PostgreSQL instance, then removes the instance's dumps older than
# the retention. mc reads the object store's address and credentials from MC_HOST_<alias>.
# Environment: DUMP_FILE, TARGET (<alias>/<bucket>/postgres/<instance>), RETENTION_DAYS.
set -eu
# UTC, ISO 8601 basic format: object names sort by time and hold no `:`. Kubernetes expands in a
# command only a reference to a declared variable, so the shell gets the date's substitution intact.
mc cp --quiet "$DUMP_FILE" "$TARGET/$(date -u +%Y%m%dT%H%M%SZ).dump"
# Only after this run's dump is stored: a failing backup never deletes the last good ones.
mc rm --recursive --force --older-than "${RETENTION_DAYS}d" "$TARGET/"
