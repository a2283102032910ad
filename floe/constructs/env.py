"""Environment variables: literal values, Secret references and pod fields.

Credentials only ever arrive through :func:`from_secret`; nothing here can inline one.
"""

from floe.constructs.kube import k8s


def literal(name: str, value: str | int) -> k8s.EnvVar:
    return k8s.EnvVar(name=name, value=str(value))


def from_secret(name: str, secret: str, key: str) -> k8s.EnvVar:
    return k8s.EnvVar(
        name=name,
        value_from=k8s.EnvVarSource(secret_key_ref=k8s.SecretKeySelector(name=secret, key=key)),
    )


def from_field(name: str, field_path: str) -> k8s.EnvVar:
    return k8s.EnvVar(
        name=name,
        value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path=field_path)),
    )

