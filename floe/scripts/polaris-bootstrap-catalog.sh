#!/bin/sh
# Makes the realm's catalog, the products' namespaces and the catalog's principals match the render,
# through Polaris' management and catalog APIs, on every sync: what exists is updated or kept, never
# skipped; a grant no longer rendered is revoked, a principal of floe's no longer rendered is deleted
# with its roles. It never writes a Secret: each principal's credentials are set to its Secret's values
# (files client-id and client-secret in the folder where the Secret is mounted).
# Environment: CATALOG_URI, REALM, CATALOG, ROOT_CLIENT_ID, ROOT_CLIENT_SECRET, AUTHORIZATION_HEADER_FILE (a
# file in memory), the request bodies as rendered: CATALOG_REQUEST (CreateCatalogRequest),
# CATALOG_UPDATE (UpdateCatalogRequest but its currentEntityVersion), GRANT_REQUEST (AddGrantRequest),
# and REQUESTS, the folder of the lists, one request a line after the names its path needs:
# namespaces (CreateNamespaceRequest), principals (a principal, its Secret's folder, its
# CreatePrincipalRequest), principal-roles (CreatePrincipalRoleRequest, GrantPrincipalRoleRequest),
# catalog-roles (CreateCatalogRoleRequest, GrantCatalogRoleRequest), grants (AddGrantRequest). With
# in-cluster TLS, CURL_CA_BUNDLE: the CA curl verifies Polaris against (curl reads it as --cacert).
set -eu
management="${CATALOG_URI%/catalog}/management/v1"
response=/tmp/response

# Quoted for a curl config or a JSON string: backslashes and double quotes escaped by a backslash.
quoted() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }

# The root credentials reach curl as its config on stdin (`--config -`), never as arguments, which any
# process of the node could read in /proc/*/cmdline; printf is the shell's builtin. No count of its
# own: only the Job's activeDeadlineSeconds ends the wait, so a server slow to become Ready costs
# time, never a failed pod. The access token goes to a file curl reads its header from.
log_in() {
  until token=$(printf 'user = "%s:%s"\n' "$(quoted "$ROOT_CLIENT_ID")" "$(quoted "$ROOT_CLIENT_SECRET")" \
      | curl --silent --show-error --fail --config - -X POST "$CATALOG_URI/v1/oauth/tokens" \
      -H "Polaris-Realm: $REALM" -d grant_type=client_credentials -d scope=PRINCIPAL_ROLE:ALL \
      | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') && [ -n "$token" ]; do
    echo "waiting for an access token from $CATALOG_URI" >&2
    sleep 5
  done
  (umask 077 && printf 'Authorization: Bearer %s\n' "$token" > "$AUTHORIZATION_HEADER_FILE")
}

# send <accepted statuses> <method> <url> [curl options]: one request, its status in $status and its
# body in $response; any status not accepted ends the script.
send() {
  accepted=$1 method=$2 url=$3
  shift 3
  status=$(curl --silent --show-error -X "$method" "$url" -H @"$AUTHORIZATION_HEADER_FILE" \
    -H "Polaris-Realm: $REALM" -H 'Content-Type: application/json' "$@" -o "$response" -w '%{http_code}')
  case " $accepted " in
    *" $status "*) ;;
    *) echo "$method $url: HTTP $status" >&2; cat "$response" >&2; echo >&2; exit 1 ;;
  esac
}

# A JSON string field of the response.
field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$response"; }

# Created, or else updated to the rendered settings (the update names the version it replaces).
reconcile_catalog() {
  send '201 409' POST "$management/catalogs" --data "$CATALOG_REQUEST"
  if [ "$status" = 409 ]; then
    send 200 GET "$management/catalogs/$CATALOG"
    version=$(sed -n 's/.*"entityVersion" *: *\([0-9]*\).*/\1/p' "$response")
    [ -n "$version" ] || { echo "catalog $CATALOG: no entityVersion" >&2; exit 1; }
    printf '{"currentEntityVersion": %s, %s' "$version" "${CATALOG_UPDATE#\{}" \
      | send 200 PUT "$management/catalogs/$CATALOG" --data @-
  fi
  send '201 409' PUT "$management/catalogs/$CATALOG/catalog-roles/catalog_admin/grants" --data "$GRANT_REQUEST"
}

# Through the Iceberg REST API, whose paths carry the prefix the catalog's config names.
reconcile_namespaces() {
  send 200 GET "$CATALOG_URI/v1/config?warehouse=$CATALOG"
  prefix=$(field prefix)
  [ -n "$prefix" ] || { echo "catalog $CATALOG: no prefix in its config" >&2; exit 1; }
  while read -r body; do
    send '200 409' POST "$CATALOG_URI/v1/$prefix/namespaces" --data "$body"
  done < "$REQUESTS/namespaces"
}

# Created or kept, then its credentials reset to its Secret's values on every run: the body holds the
# secret, so it reaches curl on stdin.
reconcile_principals() {
  while read -r principal credentials body; do
    send '201 409' POST "$management/principals" --data "$body"
    client_id=$(cat "$credentials/client-id")
    client_secret=$(cat "$credentials/client-secret")
    printf '{"clientId": "%s", "clientSecret": "%s"}' "$(quoted "$client_id")" "$(quoted "$client_secret")" \
      | send 200 POST "$management/principals/$principal/reset" --data @-
  done < "$REQUESTS/principals"
}

# floe's principals the render no longer names (a product removed, Cube's catalog attach turned off),
# deleted with their roles, so their credentials open nothing. Any other principal is left alone.
retire_principals() {
  send 200 GET "$management/principals"
  grep -o '"name" *: *"floe-[^"]*"' "$response" | sed 's/.*"\(floe-[^"]*\)"$/\1/' > /tmp/principals || true
  while read -r principal; do
    case "$principal" in floe-product-*|floe-semantic) ;; *) continue ;; esac
    if ! grep -q "^$principal " "$REQUESTS/principals"; then
      send 204 DELETE "$management/principals/$principal"
      send '204 404' DELETE "$management/principal-roles/$principal"
      send '204 404' DELETE "$management/catalogs/$CATALOG/catalog-roles/$principal"
    fi
  done < /tmp/principals
}

reconcile_roles() {
  while read -r principal body; do
    send '201 409' POST "$management/principal-roles" --data "$body"
    send '201 409' PUT "$management/principals/$principal/principal-roles" --data "$body"
  done < "$REQUESTS/principal-roles"
  while read -r role body; do
    send '201 409' POST "$management/catalogs/$CATALOG/catalog-roles" --data "$body"
    send '201 409' PUT "$management/principal-roles/$role/catalog-roles/$CATALOG" --data "$body"
  done < "$REQUESTS/catalog-roles"
}

# A grant's type, privilege and namespace: what tells grants apart here, whatever their fields' order.
grant_key() {
  printf '%s' "$1" | sed -n 's/.*"type" *: *"\([^"]*\)".*/\1/p'
  printf '%s' "$1" | sed -n 's/.*"privilege" *: *"\([^"]*\)".*/\1/p'
  printf '%s' "$1" | sed -n 's/.*"namespace" *: *\[\([^]]*\)\].*/\1/p' | tr -d ' '
}

# Every rendered grant held; then each catalog role's other grants (listed by the server, one object
# a line once the braces are line breaks) revoked.
reconcile_grants() {
  declared=""
  while read -r role body; do
    send '201 409' PUT "$management/catalogs/$CATALOG/catalog-roles/$role/grants" --data "$body"
    declared="$declared$role $(grant_key "$body" | tr '\n' ' ')
"
  done < "$REQUESTS/grants"
  while read -r role _; do
    send 200 GET "$management/catalogs/$CATALOG/catalog-roles/$role/grants"
    tr '{}' '[\n*]' < "$response" | grep '"privilege"' > /tmp/held || true
    while read -r grant; do
      key="$role $(grant_key "$grant" | tr '\n' ' ')"
      if ! printf '%s' "$declared" | grep -qxF "$key"; then
        printf '{"grant": {%s}}' "$grant" \
          | send 201 POST "$management/catalogs/$CATALOG/catalog-roles/$role/grants" --data @-
      fi
    done < /tmp/held
  done < "$REQUESTS/catalog-roles"
}

log_in
reconcile_catalog
reconcile_namespaces
reconcile_principals
retire_principals
reconcile_roles
reconcile_grants
echo "catalog $CATALOG and its principals reconciled in realm $REALM"
