#!/bin/sh
# Reconciles the roles of one PostgreSQL instance, connected as its superuser. The client role logs in,
# owns the database, its schemas and every object in them, and holds nothing else: no superuser, no
# other attribute, no role membership. The monitoring role logs in and is a member of pg_monitor alone.
# Each run applies every attribute, membership, owner and grant; what already holds is left as it is,
# and a password is set only when the Secret's no longer logs in (so an unchanged one is never sent).
# Environment: PGHOST, PGPORT, PGDATABASE, PGSSLMODE, PGUSER and PGPASSWORD (the superuser),
# CLIENT_USER, CLIENT_PASSWORD, MONITORING_USER, MONITORING_PASSWORD.
set -eu
# No count of its own: only the Job's activeDeadlineSeconds ends the wait.
until pg_isready --quiet; do
  echo "waiting for PostgreSQL at $PGHOST:$PGPORT" >&2
  sleep 5
done

if ! psql --no-psqlrc --quiet --command 'SELECT' >/dev/null; then
  echo "the superuser of the admin Secret cannot log in: on an instance first started with the client" \
       "Secret as its superuser, see README, PostgreSQL roles" >&2
  exit 1
fi

# false when the role already logs in with the password (SCRAM: the password itself is not sent).
stale() {
  if PGUSER="$1" PGPASSWORD="$2" psql --no-psqlrc --quiet --command 'SELECT' >/dev/null 2>&1; then
    echo false
  else
    echo true
  fi
}
CLIENT_PASSWORD_STALE=$(stale "$CLIENT_USER" "$CLIENT_PASSWORD")
MONITORING_PASSWORD_STALE=$(stale "$MONITORING_USER" "$MONITORING_PASSWORD")
export CLIENT_PASSWORD_STALE MONITORING_PASSWORD_STALE

# Values reach psql through its variables (\getenv), never a command line; :'v' quotes a literal, :"v"
# an identifier.
psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<'SQL'
\getenv database PGDATABASE
\getenv client_user CLIENT_USER
\getenv client_password CLIENT_PASSWORD
\getenv client_password_stale CLIENT_PASSWORD_STALE
\getenv monitoring_user MONITORING_USER
\getenv monitoring_password MONITORING_PASSWORD
\getenv monitoring_password_stale MONITORING_PASSWORD_STALE
-- A statement carrying a password stays out of the server's log, whatever the instance logs.
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_transaction_sample_rate = 0;
SET log_min_error_statement = 'panic';
BEGIN;

-- PostgreSQL keeps the role that ran initdb (OID 10) a superuser; the superuser this runs as must stay one;
-- and each role has a Secret of its own.
SELECT set_config('floe.client_user', :'client_user', true) AS client_setting,
       set_config('floe.monitoring_user', :'monitoring_user', true) AS monitoring_setting \gset
DO $check$
DECLARE
  role text;
BEGIN
  IF current_setting('floe.client_user') = current_setting('floe.monitoring_user') THEN
    RAISE EXCEPTION 'the client and the monitoring Secrets both name the role %', current_setting('floe.client_user');
  END IF;
  FOREACH role IN ARRAY ARRAY[current_setting('floe.client_user'), current_setting('floe.monitoring_user')] LOOP
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = role AND (oid = 10 OR rolname = current_user)) THEN
      RAISE EXCEPTION 'the role % is the superuser of this instance and cannot be made an ordinary role', role
        USING HINT = 'give its Secret a role of its own (README, PostgreSQL roles)';
    END IF;
  END LOOP;
END
$check$;

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'client_user') AS client_missing,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitoring_user') AS monitoring_missing \gset
\if :client_missing
CREATE ROLE :"client_user";
\endif
\if :monitoring_missing
CREATE ROLE :"monitoring_user";
\endif
ALTER ROLE :"client_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  CONNECTION LIMIT -1 VALID UNTIL 'infinity';
ALTER ROLE :"monitoring_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  CONNECTION LIMIT -1 VALID UNTIL 'infinity';
\if :client_password_stale
ALTER ROLE :"client_user" WITH PASSWORD :'client_password';
\endif
\if :monitoring_password_stale
ALTER ROLE :"monitoring_user" WITH PASSWORD :'monitoring_password';
\endif

-- Memberships: none for the client, pg_monitor alone for the monitoring role.
SELECT format('REVOKE %I FROM %I GRANTED BY %I CASCADE', granted.rolname, member.rolname, grantor.rolname)
  FROM pg_auth_members AS membership
  JOIN pg_roles AS granted ON granted.oid = membership.roleid
  JOIN pg_roles AS member ON member.oid = membership.member
  JOIN pg_roles AS grantor ON grantor.oid = membership.grantor
 WHERE member.rolname = :'client_user'
    OR (member.rolname = :'monitoring_user' AND granted.rolname <> 'pg_monitor') \gexec
SELECT NOT pg_has_role(:'monitoring_user', 'pg_monitor', 'MEMBER') AS monitor_missing \gset
\if :monitor_missing
GRANT pg_monitor TO :"monitoring_user";
\endif

-- The database: owned by the client, reached by the client and the monitoring role alone.
ALTER DATABASE :"database" OWNER TO :"client_user";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"client_user", :"monitoring_user";

-- Its schemas (public included: since PostgreSQL 15 only its owner may create in it) and every object
-- in them, whoever made them (the instance's first role, before the client had one of its own).
-- A sequence of a serial or identity column follows its table; an extension keeps its own objects.
SELECT format('ALTER %s OWNER TO %I', object, :'client_user')
  FROM (SELECT format('SCHEMA %I', nspname) AS object, oid, 'pg_namespace'::regclass AS catalog,
               nspowner AS owner, nspname AS schema
          FROM pg_namespace
        UNION ALL
        SELECT format('%s %s', CASE relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                            WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                            ELSE 'TABLE' END, relation.oid::regclass),
               relation.oid, 'pg_class'::regclass, relowner, nspname
          FROM pg_class AS relation JOIN pg_namespace ON pg_namespace.oid = relnamespace
         WHERE relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND NOT (relkind = 'S' AND EXISTS (SELECT FROM pg_depend
                                               WHERE classid = 'pg_class'::regclass AND objid = relation.oid
                                                 AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i')))
        UNION ALL
        SELECT format('ROUTINE %s', routine.oid::regprocedure), routine.oid, 'pg_proc'::regclass, proowner, nspname
          FROM pg_proc AS routine JOIN pg_namespace ON pg_namespace.oid = pronamespace
         WHERE prokind IN ('f', 'p')
        UNION ALL
        SELECT format('TYPE %s', type.oid::regtype), type.oid, 'pg_type'::regclass, typowner, nspname
          FROM pg_type AS type JOIN pg_namespace ON pg_namespace.oid = typnamespace
         WHERE typtype IN ('e', 'd', 'r')) AS objects
 WHERE owner <> (SELECT oid FROM pg_roles WHERE rolname = :'client_user')
   AND schema <> 'information_schema' AND schema NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT FROM pg_depend
                    WHERE classid = catalog AND objid = objects.oid AND deptype = 'e') \gexec

COMMIT;
SQL
echo "roles of database $PGDATABASE reconciled: $CLIENT_USER owns it, $MONITORING_USER monitors it"
