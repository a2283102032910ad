"""The object store's consumers: one identity and one policy each, declared once.

MinIO's root credentials stay with MinIO and its bucket bootstrap. Every other client reaches the
object store as a user of its own, whose access and secret key are its Secret's (``access-key``,
``secret-key``) and whose policy, ``floe-<consumer>``, allows only the buckets and prefixes it needs.
The bucket bootstrap (``floe/scripts/minio-create-buckets.sh``) makes MinIO match this list on every
sync; the policy documents are rendered into the ConfigMap ``minio-policies``, one file each. An
external store's operator makes the same identities with the same documents (``floe object-store
policies`` prints them): the platform has no admin API there.

A policy's ``s3:ListBucket`` on a prefix holds the prefix itself and what is below it (clients list
with either); ``s3:GetBucketLocation`` goes apart, since a request for it names no prefix.
"""

import json
from dataclasses import dataclass

from floe.config.environment import Environment
from floe.rendered import Json

USER_ACCESS_KEY = "access-key"
USER_SECRET_KEY = "secret-key"
"""Keys of each consumer's Secret: its access and secret key (neither may contain ``:``, which ends the
access key in ``MC_HOST_<alias>`` and starts a session token after the secret)."""
POLICY_PREFIX = "floe-"
"""Every policy floe makes starts so: a user holding one is floe's, and the bootstrap removes it when
no consumer of the render has its access key."""
READ = ("s3:GetObject",)
WRITE = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
"""What writing files needs: put (multipart parts included), delete, and abandoning a failed upload."""


@dataclass(frozen=True)
class ObjectStoreUser:
    """A consumer's identity (a MinIO user, or the external store's): its policy's name and statements, and
    the Secret holding its keys."""

    policy: str
    secret: str
    statements: tuple[Json, ...]

    @property
    def document(self) -> str:
        """The policy as MinIO takes it (``mc admin policy create``) and IAM reads it, stable text."""
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)}, indent=2,
                          sort_keys=True) + "\n"


def _bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _allow(actions: tuple[str, ...], resources: list[str]) -> Json:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resources}


def _listing(bucket: str, prefixes: tuple[str, ...] = ()) -> tuple[Json, ...]:
    """Locating and listing ``bucket``: the whole bucket, or only under ``prefixes``."""
    listing = _allow(("s3:ListBucket",), [_bucket(bucket)])
    if prefixes:
        listing["Condition"] = {"StringLike": {"s3:prefix": [v for p in prefixes for v in (p, f"{p}/*")]}}
    return _allow(("s3:GetBucketLocation",), [_bucket(bucket)]), listing


def _objects(actions: tuple[str, ...], bucket: str, prefixes: tuple[str, ...] = ()) -> Json:
    """``actions`` on the objects of ``bucket``: all of them, or those under ``prefixes``."""
    return _allow(actions, [f"{_bucket(bucket)}/{p}/*" for p in prefixes] or [f"{_bucket(bucket)}/*"])


def object_store_users(environment: Environment) -> tuple[ObjectStoreUser, ...]:
    """Every consumer the render has, with the least its code needs.

    A data product's tables are under ``<warehouse>/<product>/``: Polaris places a table below its
    namespace's location, ``<base location>/<namespace>``, and refuses one elsewhere (its default,
    ``ALLOW_UNSTRUCTURED_TABLE_LOCATION`` false), and each product writes the namespace of its name.
    """
    warehouse = environment.catalog.polaris.warehouse_bucket
    logs = environment.orchestrator.compute_logs
    users = [
        # Polaris writes table metadata and, on a purge, deletes a table's files, anywhere in the warehouse.
        ObjectStoreUser("floe-catalog", environment.catalog.polaris.object_store_credentials_secret,
                        (*_listing(warehouse), _objects(READ + WRITE, warehouse))),
    ]
    semantic = environment.semantic
    if semantic.enabled:
        store = semantic.cube_store
        users.append(ObjectStoreUser(
            "floe-cube-store", store.object_store_credentials_secret,
            (*_listing(store.bucket, (store.sub_path,)), _objects(READ + WRITE, store.bucket, (store.sub_path,)))))
        if semantic.duckdb_extensions is not None:
            users.append(ObjectStoreUser("floe-semantic", semantic.object_store_credentials_secret,
                                         (*_listing(warehouse), _objects(READ, warehouse))))
    for product in environment.data_products:
        users.append(ObjectStoreUser(
            f"floe-product-{product.name}", product.object_store_credentials_secret,
            (*_listing(warehouse, (product.name, *product.reads)),
             _objects(READ, warehouse, (product.name, *product.reads)),
             _objects(WRITE, warehouse, (product.name,)),
             # Its runs upload their steps' logs; the webserver reads them back as floe-compute-logs.
             _objects(("s3:PutObject",), logs.bucket, (logs.prefix,)))))
    users.append(ObjectStoreUser(
        "floe-compute-logs", logs.credentials_secret,
        (*_listing(logs.bucket, (logs.prefix,)), _objects(READ, logs.bucket, (logs.prefix,)))))
    backup = environment.storage.postgres.backup
    if environment.storage.postgres.backed_up():
        # mc's upload first reads the target's metadata (HEAD, which GetObject allows), then prunes by listing.
        users.append(ObjectStoreUser(
            "floe-backups", backup.credentials_secret,
            (*_listing(backup.bucket, ("postgres",)), _objects(READ + WRITE, backup.bucket, ("postgres",)))))
    return tuple(users)
