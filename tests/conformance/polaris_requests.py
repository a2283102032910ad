"""Checks request bodies against Polaris' management API and its Iceberg REST catalog API with its own
generated clients (run by the Python of ``.cache/conformance/polaris-1.8.0``; see test_polaris_models.py,
which starts it).

Reads a JSON list of requests ``{"method", "path", "body"}`` (the path as sent: the management API's
from its root, ``/api/management/v1/...``, the catalog API's below the catalog URI, ``/v1/...``; the body
as rendered text) on stdin and writes, for each, ``{"model", "problems"}``: which model the generated
client sends to that method and path, and what that model refuses or would not send back unchanged.
"""

import inspect
import json
import re
import sys
import typing
from urllib.parse import unquote, urlsplit

from apache_polaris.sdk.catalog.api.iceberg_catalog_api import IcebergCatalogAPI
from apache_polaris.sdk.catalog.api_client import ApiClient as CatalogClient
from apache_polaris.sdk.management.api.polaris_default_api import PolarisDefaultApi
from apache_polaris.sdk.management.api_client import ApiClient as ManagementClient
from pydantic import BaseModel, SecretStr, ValidationError

PLACEHOLDER = "{}"


def body_model(annotation: object) -> type[BaseModel] | None:
    """The model in a parameter's annotation (``AddGrantRequest`` or ``Optional[AddGrantRequest]``)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


def routes() -> list[tuple[str, list[str], type[BaseModel]]]:
    """``(method, path segments, body model)`` of each operation that takes a body: the client's own
    request builder is asked for its method and URL, a path parameter standing as ``{}``."""
    return [route for api in (PolarisDefaultApi(ManagementClient()), IcebergCatalogAPI(CatalogClient()))
            for route in _routes(api)]


def _routes(api: object) -> list[tuple[str, list[str], type[BaseModel]]]:
    found = []
    for name, build in inspect.getmembers(api, inspect.ismethod):
        if not (name.startswith("_") and not name.startswith("__") and name.endswith("_serialize")):
            continue
        hints = typing.get_type_hints(getattr(api, name[1:-len("_serialize")]))
        parameters = [p for p in inspect.signature(build).parameters if not p.startswith("_")]
        models = [m for m in (body_model(hints[p]) for p in parameters) if m is not None]
        if not models:
            continue
        method, url, *_ = build(**dict.fromkeys(parameters, PLACEHOLDER), _request_auth=None,
                                _content_type=None, _headers=None, _host_index=0)
        # The catalog client's default URL is "{scheme}://{host}/{basePath}" with an empty base path.
        found.append((method, re.sub("/+", "/", unquote(urlsplit(url).path)).split("/"), models[0]))
    return found


def matches(segments: list[str], path: str) -> bool:
    sent = path.split("/")
    return len(sent) == len(segments) and all(s in (PLACEHOLDER, p) for s, p in zip(segments, sent, strict=True))


def leaves(value: object, at: str = "") -> dict[str, str]:
    """Every scalar (and empty container) of a JSON document by its path, with its JSON text."""
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{at}.{key}").items()}
    if isinstance(value, list) and value:
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{at}[{i}]").items()}
    # A SecretStr (ResetPrincipalRequest's clientSecret) is compared by the value it holds.
    return {at: json.dumps(value, default=SecretStr.get_secret_value)}


def problems(model: type[BaseModel], body: str) -> list[str]:
    """What the model refuses (strictly, where pydantic can), and each field of the body it does
    not give back unchanged: a field it does not know is dropped without an error."""
    try:
        # The generated deserialiser follows the discriminators (type, storageType) to the subclass.
        parsed = model.from_json(body)
        model.model_validate_json(body, strict=True)
    except (ValidationError, ValueError, KeyError) as error:
        return [f"{type(error).__name__}: {error}"]
    sent, kept = leaves(json.loads(body)), leaves(parsed.to_dict())
    return [f"{path} = {text} is not kept (as {kept.get(path, 'nothing')})"
            for path, text in sent.items() if kept.get(path) != text]


def main() -> None:
    known = routes()
    results = []
    for request in json.load(sys.stdin):
        models = [model for method, segments, model in known
                  if method == request["method"] and matches(segments, request["path"])]
        if len(models) != 1:
            results.append({"model": None, "problems": [f"{len(models)} operations take {request['method']} "
                                                        f"{request['path']} with a body"]})
            continue
        results.append({"model": models[0].__name__, "problems": problems(models[0], request["body"])})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
