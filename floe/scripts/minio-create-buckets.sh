#!/bin/sh
# Creates the platform's buckets in MinIO, private, then makes MinIO's users and policies match the
# render. Safe on every sync: `mb --ignore-existing` keeps an existing bucket, `anonymous set none` keeps
# it private, `policy create` replaces a policy's document, `user add` sets an existing user's secret
# key (and enables it), `policy attach` takes an attached policy as done.
# mc reads the root's keys from MC_HOST_floe and each user's secret key from stdin: none is in an argv.
# Access keys are user names, on the command lines that name a user.
# Environment: MC_HOST_floe, MINIO_ENDPOINT, BUCKETS (names, space-separated), POLICIES (folder of
# <policy>.json), USERS (<policy>/access-key and <policy>/secret-key per user), POLICY_PREFIX (floe's
# policies start with it).
set -eu
# No count of its own: only the Job's activeDeadlineSeconds ends the wait, so a server slow to become
# Ready costs time, never a failed pod.
until mc admin info floe >/dev/null; do
  echo "waiting for MinIO at $MINIO_ENDPOINT" >&2
  sleep 5
done
for bucket in $BUCKETS; do
  mc mb --ignore-existing "floe/$bucket"
  mc anonymous set none "floe/$bucket"
done

# The first line of a file, read by the shell (the image has sh and mc, and little else).
first_line() {
  line=
  IFS= read -r line < "$1" || [ -n "$line" ]
  printf '%s' "$line"
}

# " <policy>:<access key> " for each declared user, and " <policy> " for each declared policy.
declared=" "
rendered=" "
for document in "$POLICIES"/*.json; do
  [ -e "$document" ] || continue  # none: every user and policy of floe's goes
  policy=${document##*/}
  policy=${policy%.json}
  access=$(first_line "$USERS/$policy/access-key")
  case "$declared" in
    *":$access "*)
      echo "error: the Secret of $policy names the access key of another user: give each user its own" >&2
      exit 1 ;;
  esac
  declared="$declared$policy:$access "
  rendered="$rendered$policy "
  mc admin policy create floe "$policy" "$document"
  # With only the access key as argument, mc reads the secret key from stdin's first line.
  mc admin user add floe "$access" < "$USERS/$policy/secret-key"
  mc admin policy attach floe "$policy" --user "$access"
done

# Users floe made (holding a policy of its prefix) that no Secret declares any more are removed; a
# declared user loses any policy besides its own. Each user is one line of JSON (mc prints --json so
# when its output is no terminal): {"status":"success","accessKey":"...","policyName":"a,b",...}.
accounts=$(mc admin user list floe --json)
printf '%s\n' "$accounts" | while IFS= read -r user; do
  case "$user" in *'"accessKey":"'*) ;; *) continue ;; esac
  access=${user#*\"accessKey\":\"}
  access=${access%%\"*}
  held=
  case "$user" in *'"policyName":"'*) held=${user#*\"policyName\":\"}; held=${held%%\"*} ;; esac
  case "$declared" in
    *":$access "*)
      IFS=,
      for policy in $held; do
        case "$declared" in
          *" $policy:$access "*) ;;
          *) mc admin policy detach floe "$policy" --user "$access" ;;
        esac
      done
      unset IFS ;;
    *)
      case ",$held" in
        *",$POLICY_PREFIX"*) mc admin user remove floe "$access" ;;
      esac ;;
  esac
done

# Then floe's policies the render no longer has, now that no user of floe's holds them.
listed=$(mc admin policy list floe --json)
printf '%s\n' "$listed" | while IFS= read -r entry; do
  case "$entry" in *'"policy":"'*) ;; *) continue ;; esac
  policy=${entry#*\"policy\":\"}
  policy=${policy%%\"*}
  case "$policy" in "$POLICY_PREFIX"*) ;; *) continue ;; esac
  case "$rendered" in
    *" $policy "*) ;;
    *) mc admin policy remove floe "$policy" ;;
  esac
done
echo "buckets, users and policies of MinIO at $MINIO_ENDPOINT reconciled"
