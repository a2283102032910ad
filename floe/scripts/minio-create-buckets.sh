#!/bin/sh
# Creates the platform's buckets in MinIO, private. Safe on every sync: `mb --ignore-existing` keeps
# an existing bucket, `anonymous set none` keeps it private.
# Environment: MINIO_ENDPOINT, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, BUCKETS (names, space-separated).
set -eu
# No count of its own: only the Job's activeDeadlineSeconds ends the wait, so a server slow to become
# Ready costs time, never a failed pod.
until mc alias set floe "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"; do
  echo "waiting for MinIO at $MINIO_ENDPOINT" >&2
  sleep 5
done
for bucket in $BUCKETS; do
  mc mb --ignore-existing "floe/$bucket"
  mc anonymous set none "floe/$bucket"
done
