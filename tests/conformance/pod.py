"""A rendered workload's pod laid out on this machine, so the real program runs on the rendered config.

What the kubelet would do before starting a container, done under a scratch ``root`` that stands for
the container's filesystem: volumes at their mount paths (ConfigMaps from the rendered objects,
Secrets from invented values, emptyDirs writable), the environment resolved (Secret and ConfigMap
references, the downward API, ``$(VAR)`` expansion), the service-account token only where the pod
would mount one. Then container paths and cluster DNS names in the env, the command and the
ConfigMap files are rewritten to their places under ``root`` and to loopback. Nothing of the rendered
objects is changed: a test that needs something else must say so in its own arguments.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import ceil
from pathlib import Path

from floe.rendered import pod_template

TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where the kubelet mounts the service-account token, CA and namespace when the pod automounts them."""
KUBERNETES_SERVICE = "kubernetes"
"""The API server's Service: ``hosts["kubernetes"]`` ("127.0.0.1:port") sets KUBERNETES_SERVICE_HOST/PORT."""
POD_DIR = ".pod"
"""Under ``root``: what the kubelet keeps outside the container (volume storage, logs, the python hook)."""
DNS_NAME = re.compile(r"(?<![\w.-])(?P<service>[a-z0-9]([a-z0-9-]*[a-z0-9])?)\.(?P<namespace>[a-z0-9-]+)"
                      r"\.svc(?:\.cluster\.local)?(?::(?P<port>\d+))?(?![\w-])")
QUANTITY = re.compile(r"^(?P<number>[0-9.]+)(?P<suffix>[a-zA-Z]*)$")
SUFFIXES = {"": 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
LOOPBACK_UP = (
    "import fcntl, socket, struct; fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8914,"
    " struct.pack('16sH14x', b'lo', 0x1 | 0x8))")
"""SIOCSIFFLAGS: IFF_UP | IFF_LOOPBACK on ``lo``, which a new network namespace starts with down."""
SITECUSTOMIZE = '''"""Points the kubernetes client's in-cluster config at the token and CA this pod was given."""
import importlib.abc
import importlib.util
import sys

MODULE = "kubernetes.config.incluster_config"


class _InCluster(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != MODULE:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.SERVICE_TOKEN_FILENAME = {token!r}
            module.SERVICE_CERT_FILENAME = {cert!r}
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _InCluster())
'''


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (k8s.io/kubernetes third_party/forked/golang/expansion): ``$$`` is
    ``$``, an unknown or unclosed reference stays as written, any other ``$`` is kept."""
    out, cursor = [], 0
    while cursor < len(text):
        char = text[cursor]
        if char != "$" or cursor + 1 == len(text):
            out.append(char)
            cursor += 1
            continue
        following = text[cursor + 1]
        if following == "$":
            out.append("$")
            cursor += 2
        elif following == "(" and (end := text.find(")", cursor + 2)) != -1:
            name = text[cursor + 2:end]
            out.append(variables.get(name, f"$({name})"))
            cursor = end + 1
        elif following == "(":
            out.append("$(")
            cursor += 2
        else:
            out.append("$" + following)
            cursor += 2
    return "".join(out)


def passable(directory: Path) -> bool:
    """Whether any user may pass through ``directory`` and every folder above it."""
    return all(d.stat().st_mode & stat.S_IXOTH for d in [directory.resolve(), *directory.resolve().parents])


def quantity(text: str | int | float) -> Fraction:
    """A Kubernetes resource quantity ("250m", "1Gi", "2") as a number."""
    match = QUANTITY.match(str(text))
    if not match or match["suffix"] not in SUFFIXES:
        raise ValueError(f"not a quantity: {text!r}")
    return Fraction(match["number"]) * SUFFIXES[match["suffix"]]


def _end(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


class Pod:
    """A rendered workload's pod laid out on this machine."""

    def __init__(self, obj: Mapping, container: str, root: Path, secrets: Mapping[str, Mapping[str, str]],
                 hosts: Mapping[str, str], rendered: Iterable[Mapping]) -> None:
        self.obj, self.root, self.secrets, self.hosts = obj, Path(root), secrets, hosts
        self.template = pod_template(obj)
        self.spec = self.template["spec"]
        found = [c for c in [*(self.spec.get("initContainers") or []), *self.spec["containers"]]
                 if c["name"] == container]
        if not found:
            raise LookupError(f"{obj['kind']}/{obj['metadata']['name']} has no container {container!r}")
        self.container = found[0]
        self.namespace = obj["metadata"].get("namespace", "default")
        self.name = obj["metadata"]["name"] + ("-0" if obj["kind"] == "StatefulSet" else "-5f7d8c9b6-x2kqz")
        self.config_maps = {o["metadata"]["name"]: o for o in rendered
                            if o.get("kind") == "ConfigMap" and o["metadata"].get("namespace", "default") ==
                            self.namespace}
        self.service_accounts = {o["metadata"]["name"]: o for o in rendered
                                 if o.get("kind") == "ServiceAccount"}
        self.token: Path | None = None
        self.network: int | None = None
        """The pid holding the pod's network namespace, when it has one (its own, or another pod's)."""
        self._release: weakref.finalize | None = None
        """Ends the namespace, when it is the pod's own."""
        self.mount_paths = [m["mountPath"] for m in self.container.get("volumeMounts") or []]
        if self._automounts_token() and TOKEN_DIR not in self.mount_paths:
            self.mount_paths.append(TOKEN_DIR)
        self.env = self._environment()
        self.command = [expand(self.rewrite(arg), self.env)
                        for arg in (*(self.container.get("command") or []), *(self.container.get("args") or []))]

    @classmethod
    def of(cls, obj: Mapping, container: str, root: Path, *, secrets: Mapping[str, Mapping[str, str]] | None = None,
           hosts: Mapping[str, str] | None = None, rendered: Iterable[Mapping] = (),
           own_network: bool = False, network_of: "Pod | None" = None) -> "Pod":
        """Lays out ``container`` of the workload ``obj`` under ``root``: ``secrets`` gives Secret values
        (others are invented as ``<secret>-<key>-value``), ``hosts`` a Service's loopback address
        ("127.0.0.1" or "127.0.0.1:port"), ``rendered`` the environment's objects (its ConfigMaps).
        ``own_network``: the pod's own loopback, as every pod has, so its servers listen on their rendered
        ports whatever else this machine runs; it then reaches nothing outside (as root only: elsewhere
        the pod shares this machine's loopback). ``network_of``: another pod's network instead, standing for
        the cluster's network between the two, so a Service's loopback address reaches that pod's servers."""
        pod = cls(obj, container, root, secrets or {}, hosts or {}, list(rendered))
        pod._lay_out()
        if network_of is not None:
            pod.network = network_of.network
        elif own_network and os.geteuid() == 0:
            pod._own_network()
        return pod

    def _own_network(self) -> None:
        """A process holding a new network namespace; none where the machine refuses one (a container
        without CAP_SYS_ADMIN): the pod then shares this machine's loopback."""
        holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"], stderr=subprocess.DEVNULL)
        self._release = weakref.finalize(self, _end, holder)
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while not self._entered(holder, ours):
            if holder.poll() is not None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("unshare --net started no namespace within 10 s")
            time.sleep(0.01)
        self.network = holder.pid
        subprocess.run(["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--", sys.executable, "-c", LOOPBACK_UP],
                       check=True)

    @staticmethod
    def _entered(holder: subprocess.Popen, ours: str) -> bool:
        try:
            return os.readlink(f"/proc/{holder.pid}/ns/net") != ours
        except OSError:  # it has just exited
            return False

    def close(self) -> None:
        """Ends the pod's own network namespace (the processes started in it are the caller's to stop)."""
        if self._release:
            self._release()

    # Paths and names ----------------------------------------------------------------------------

    def path(self, mount_path: str) -> Path:
        """Where a container path lives under root."""
        return self.root / mount_path.lstrip("/")

    def rewrite(self, text: str) -> str:
        """Container paths under the pod's mounts → their places under root; cluster DNS names and the
        names in ``hosts`` → loopback (with the port ``hosts`` gives, where the text names one). One pass,
        so what one replacement writes is never rewritten again."""
        mounts = "|".join(re.escape(m.rstrip("/")) for m in sorted(self.mount_paths, key=len, reverse=True))
        hosts = "|".join(re.escape(h) for h in sorted(self.hosts, key=len, reverse=True))
        pattern = "|".join([rf"(?<![\w./-])(?P<mount>{mounts})(?=/|$|[^\w.-])"] * bool(mounts) + [DNS_NAME.pattern]
                           + [rf"(?<![\w.-])(?P<host>{hosts})(?::(?P<host_port>\d+))?(?![\w.-])"] * bool(hosts))

        def replace(match: re.Match) -> str:
            if match["mount"]:
                return str(self.path(match["mount"]))
            if match["service"]:
                return self._loopback(match["service"], match["port"])
            return self._loopback(match["host"], match["host_port"])
        return re.sub(pattern, replace, text)

    def _loopback(self, service: str, port: str | None) -> str:
        host, _, new_port = self.hosts.get(service, "127.0.0.1").partition(":")
        return f"{host}:{new_port or port}" if port else host

    # The environment ----------------------------------------------------------------------------

    def secret(self, name: str, key: str) -> str:
        """A Secret's value: from ``secrets``, or invented (deterministic per Secret and key)."""
        return (self.secrets.get(name) or {}).get(key, f"{name}-{key}-value")

    def _secret_keys(self, name: str) -> list[str]:
        if name not in self.secrets:
            raise LookupError(f"Secret {name} is read whole: give its keys and values in `secrets`")
        return list(self.secrets[name])

    def _config_map(self, name: str, optional: bool) -> Mapping[str, str]:
        if name in self.config_maps:
            return self.config_maps[name].get("data") or {}
        if optional:
            return {}
        raise LookupError(f"ConfigMap {name} is not rendered in namespace {self.namespace}: the pod would not start")

    def _field(self, path: str) -> str:
        """The downward API's fieldRef, with this machine's stand-ins (pod and host IP are loopback)."""
        metadata = self.template.get("metadata") or {}
        fields = {"metadata.name": self.name, "metadata.namespace": self.namespace,
                  "metadata.uid": "00000000-0000-4000-8000-000000000000", "spec.nodeName": "node-0",
                  "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
                  "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1",
                  "status.podIP": "127.0.0.1", "status.podIPs": "127.0.0.1"}
        labelled = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if labelled:
            return (metadata.get(labelled[1]) or {}).get(labelled[2], "")
        if path not in fields:
            raise ValueError(f"fieldRef {path} is not one the downward API offers")
        return fields[path]

    def _resource(self, ref: Mapping) -> str:
        """resourceFieldRef: the container's limit or request, divided by the divisor and rounded up."""
        name = ref.get("containerName") or self.container["name"]
        container = next(c for c in [*(self.spec.get("initContainers") or []), *self.spec["containers"]]
                         if c["name"] == name)
        kind, _, resource = ref["resource"].partition(".")
        value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
        if value is None:
            raise ValueError(f"{ref['resource']} is unset: the kubelet would give the node's allocatable")
        return str(ceil(quantity(value) / quantity(ref.get("divisor", "1"))))

    def _value(self, source: Mapping) -> str:
        if "secretKeyRef" in source:
            return self.secret(source["secretKeyRef"]["name"], source["secretKeyRef"]["key"])
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            return self.rewrite(self._config_map(ref["name"], ref.get("optional", False)).get(ref["key"], ""))
        if "fieldRef" in source:
            return self._field(source["fieldRef"]["fieldPath"])
        return self._resource(source["resourceFieldRef"])

    def _environment(self) -> dict[str, str]:
        """As the kubelet builds it: the API server's Service, envFrom, then env in order, each value
        expanded against what is defined before it."""
        host, _, port = self.hosts.get(KUBERNETES_SERVICE, "127.0.0.1:443").partition(":")
        env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port or "443"}
        for source in self.container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self._config_map(ref["name"], ref.get("optional", False))
                env.update({prefix + k: self.rewrite(v) for k, v in data.items()})
            else:
                name = source["secretRef"]["name"]
                env.update({prefix + k: self.secret(name, k) for k in self._secret_keys(name)})
        for variable in self.container.get("env") or []:
            if "valueFrom" in variable:
                env[variable["name"]] = self._value(variable["valueFrom"])
            else:
                env[variable["name"]] = expand(self.rewrite(variable.get("value", "")), env)
        return env

    # Volumes ------------------------------------------------------------------------------------

    def _automounts_token(self) -> bool:
        """The pod's automountServiceAccountToken, else its ServiceAccount's, else true."""
        if "automountServiceAccountToken" in self.spec:
            return self.spec["automountServiceAccountToken"]
        account = self.service_accounts.get(self.spec.get("serviceAccountName", "default")) or {}
        return account.get("automountServiceAccountToken", True)

    def _files(self, volume: Mapping) -> dict[str, bytes] | None:
        """path inside the volume → content, or None for a volume that starts as an empty directory."""
        if "configMap" in volume:
            ref = volume["configMap"]
            return self._config_map_files(ref, self._config_map(ref["name"], ref.get("optional", False)))
        if "secret" in volume:
            ref = volume["secret"]
            return self._secret_files(ref["secretName"], ref.get("items"))
        if "downwardAPI" in volume:
            return self._downward_files(volume["downwardAPI"]["items"])
        if "projected" in volume:
            files: dict[str, bytes] = {}
            for source in volume["projected"]["sources"]:
                if "configMap" in source:
                    ref = source["configMap"]
                    files.update(self._config_map_files(ref, self._config_map(ref["name"], ref.get("optional", False))))
                elif "secret" in source:
                    files.update(self._secret_files(source["secret"]["name"], source["secret"].get("items")))
                elif "downwardAPI" in source:
                    files.update(self._downward_files(source["downwardAPI"]["items"]))
                elif "serviceAccountToken" in source:
                    files[source["serviceAccountToken"]["path"]] = self._token_value().encode()
                else:
                    raise ValueError(f"projected source {sorted(source)} is not laid out by this runner")
            return files
        return None

    def _config_map_files(self, ref: Mapping, data: Mapping[str, str]) -> dict[str, bytes]:
        items = ref.get("items") or [{"key": key, "path": key} for key in data]
        return {item["path"]: self.rewrite(data[item["key"]]).encode() for item in items}

    def _secret_files(self, name: str, items: list | None) -> dict[str, bytes]:
        items = items or [{"key": key, "path": key} for key in self._secret_keys(name)]
        return {item["path"]: self.secret(name, item["key"]).encode() for item in items}

    def _downward_files(self, items: list) -> dict[str, bytes]:
        return {item["path"]: (self._field(item["fieldRef"]["fieldPath"]) if "fieldRef" in item
                               else self._resource(item["resourceFieldRef"])).encode() for item in items}

    def _token_value(self) -> str:
        return f"token-of-{self.namespace}-{self.spec.get('serviceAccountName', 'default')}"

    def _lay_out(self) -> None:
        """Each mount is a link to its volume's storage under root/.pod/volumes, so two containers laid out
        under the same root share an emptyDir as they would in the pod."""
        volumes = {v["name"]: v for v in self.spec.get("volumes") or []}
        storage = self.root / POD_DIR / "volumes"
        storage.mkdir(parents=True, exist_ok=True)
        # Parents before what is mounted inside them, as the container runtime orders mounts.
        for mount in sorted(self.container.get("volumeMounts") or [], key=lambda m: m["mountPath"].count("/")):
            volume = volumes.get(mount["name"], {"name": mount["name"]})  # else a volumeClaimTemplate
            place = storage / mount["name"]
            files = self._files(volume)
            if files is None:
                (place / mount.get("subPath", "")).mkdir(parents=True, exist_ok=True)
                self._own(place, writable="emptyDir" in volume)
            else:
                for relative, content in files.items():
                    (place / relative).parent.mkdir(parents=True, exist_ok=True)
                    (place / relative).write_bytes(content)
            self._link(self.path(mount["mountPath"]), place / mount.get("subPath", ""))
        if self._automounts_token():
            account = storage / "kube-api-access"
            account.mkdir(exist_ok=True)
            (account / "token").write_text(self._token_value())
            (account / "namespace").write_text(self.namespace)
            shutil.copyfile(self._certificate(), account / "ca.crt")
            self._link(self.path(TOKEN_DIR), account)
        projected = [m for m in self.container.get("volumeMounts") or []
                     if any("serviceAccountToken" in s for s in (volumes.get(m["name"], {}).get("projected") or {})
                            .get("sources", []))]
        if self._automounts_token():
            self.token = self.path(TOKEN_DIR) / "token"
        elif projected:
            sources = volumes[projected[0]["name"]]["projected"]["sources"]
            relative = next(s["serviceAccountToken"]["path"] for s in sources if "serviceAccountToken" in s)
            self.token = self.path(projected[0]["mountPath"]) / relative
        if self.token:
            cert = self.token.parent / "ca.crt"
            if not cert.exists():
                cert = self._certificate()
            hook = self.root / POD_DIR / "python"
            hook.mkdir(exist_ok=True)
            (hook / "sitecustomize.py").write_text(SITECUSTOMIZE.format(token=str(self.token), cert=str(cert)))

    def _certificate(self) -> Path:
        """root/.pod/ca.crt: a self-signed certificate for 127.0.0.1 standing for the cluster CA; its key,
        root/.pod/ca.key, lets a test serve a stand-in API server that the certificate verifies."""
        path = self.root / POD_DIR / "ca.crt"
        if path.exists():
            return path
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(path.with_suffix(".key")), "-out", str(path)],
                       check=True, capture_output=True)
        return path

    @staticmethod
    def _link(mount: Path, target: Path) -> None:
        mount.parent.mkdir(parents=True, exist_ok=True)
        if mount.is_symlink():
            mount.unlink()
        mount.symlink_to(target)

    def _own(self, directory: Path, writable: bool) -> None:
        """As the kubelet leaves a directory volume: an emptyDir world-writable, and with an fsGroup the
        volume group-owned by it (setgid, group-writable)."""
        if writable:
            directory.chmod(0o777)
        group = (self.spec.get("securityContext") or {}).get("fsGroup")
        if group is not None and os.geteuid() == 0:
            os.chown(directory, 0, group)
            directory.chmod(directory.stat().st_mode | stat.S_ISGID | 0o070)

    # Running ------------------------------------------------------------------------------------

    def uid_gid(self) -> tuple[int, int]:
        """The container's runAsUser and runAsGroup (the container's securityContext over the pod's)."""
        merged = {**(self.spec.get("securityContext") or {}), **(self.container.get("securityContext") or {})}
        if "runAsUser" not in merged:
            raise ValueError(f"container {self.container['name']} sets no runAsUser: it runs as the image's user")
        return merged["runAsUser"], merged.get("runAsGroup", merged["runAsUser"])

    def handler(self, name: str) -> list[str]:
        """An exec probe ("readinessProbe", ...) or lifecycle hook ("preStop", "postStart") as the kubelet runs
        it: a probe's command expands only the env's literal values; a hook's is taken as written."""
        if name in ("preStop", "postStart"):
            return [self.rewrite(arg) for arg in self.container["lifecycle"][name]["exec"]["command"]]
        static = {v["name"]: v["value"] for v in self.container.get("env") or [] if "value" in v}
        return [self.rewrite(expand(arg, static)) for arg in self.container[name]["exec"]["command"]]

    def http_probe(self, name: str) -> tuple[int, str]:
        """An httpGet probe's port (a named port resolved to the container's number) and path."""
        probe = self.container[name]["httpGet"]
        named = {p["name"]: p["containerPort"] for p in self.container.get("ports") or [] if "name" in p}
        return named.get(probe["port"], probe["port"]), probe.get("path", "/")

    def http(self, method: str, port: int, path: str) -> int:
        """The status of a request to the pod's loopback, sent from inside the pod (0: no answer)."""
        code = ("import urllib.request, urllib.error\n"
                f"request = urllib.request.Request('http://127.0.0.1:{port}{path}', method={method!r})\n"
                "try:\n    print(urllib.request.urlopen(request, timeout=3).status)\n"
                "except urllib.error.HTTPError as error:\n    print(error.code)\n"
                "except OSError:\n    print(0)\n")
        return int(self.run([sys.executable, "-c", code]).stdout)

    def _options(self, argv, user, extra_env, python_path) -> dict:
        """subprocess options: the pod's env (plus this machine's PATH, the python hook and ``extra_env``),
        the working directory, and the pod's user when ``user`` names an account for it (as root only)."""
        env = {"PATH": os.environ["PATH"], **self.env}
        paths = [str(p) for p in python_path]
        if self.token:
            paths.insert(0, str(self.root / POD_DIR / "python"))
        if paths:
            env["PYTHONPATH"] = os.pathsep.join(paths)
        env.update(extra_env or {})
        options = {"env": env, "cwd": self.root}
        if "workingDir" in self.container:
            options["cwd"] = self.path(self.container["workingDir"])
            options["cwd"].mkdir(parents=True, exist_ok=True)
        argv = list(argv if argv is not None else self.command)
        switch = []
        if user and os.geteuid() == 0:
            uid, gid = self.uid_gid()
            self._account(user, uid, gid)
            if self.network:
                switch = [f"--setuid={uid}", f"--setgid={gid}"]
            else:
                options.update(user=uid, group=gid, extra_groups=[])
        if self.network:
            argv = ["nsenter", f"--net=/proc/{self.network}/ns/net", *switch, "--", *argv]
        return {"args": argv, **options}

    def _account(self, name: str, uid: int, gid: int) -> None:
        """A passwd entry for the uid (initdb looks itself up), and root owned by it."""
        if subprocess.run(["getent", "passwd", str(uid)], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--uid", str(uid), "--no-create-home", "--no-user-group",
                            "--shell", "/usr/sbin/nologin", name], check=True)
        if not passable(self.root.parent):
            raise PermissionError(f"{self.root.parent} is closed to the pod's user {uid}: lay the pod out in the "
                                  "pod_root fixture (pytest keeps tmp_path private to its own user)")
        if self.root.stat().st_uid != uid:
            os.chown(self.root, uid, gid)
            self.root.chmod(0o755)

    def run(self, argv: list[str] | None = None, *, timeout: float = 60, user: str | None = None,
            extra_env: Mapping[str, str] | None = None, python_path: Iterable[Path] = (),
            input: str | None = None) -> subprocess.CompletedProcess:
        """Runs ``argv`` (default: the container's command and args) in the pod's conditions, its output captured."""
        return subprocess.run(**self._options(argv, user, extra_env, python_path), timeout=timeout,
                              input=input, capture_output=True, text=True)

    def start(self, argv: list[str] | None = None, *, user: str | None = None,
              extra_env: Mapping[str, str] | None = None, python_path: Iterable[Path] = (),
              log: Path | None = None) -> subprocess.Popen:
        """Starts a server in the pod's conditions; its output goes to ``log`` (default root/.pod/<program>.log)."""
        options = self._options(argv, user, extra_env, python_path)
        log = log or self.root / POD_DIR / f"{Path((argv or self.command)[0]).name}.log"
        with log.open("ab") as output:
            return subprocess.Popen(**options, stdout=output, stderr=subprocess.STDOUT)
