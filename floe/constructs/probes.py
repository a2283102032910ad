"""Probe policy: the ADR-0019 timings as defaults, each component supplying its real endpoint.

The seed's generic endpoints (``/health`` and ``/ready`` on 8080) are not used: a component's
own health endpoint wins, the seed's timings stay the policy.
"""

from dataclasses import dataclass, replace

from floe.constructs.kube import int_or_string, k8s
from floe.rendered import Json


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int = 3
    """Above the Kubernetes default of 1 s: exec probes start a process, HTTP handlers may be busy."""
    failure_threshold: int = 3


LIVENESS = ProbeTiming(initial_delay_seconds=30, period_seconds=10)
"""ADR-0019: restart a service only after 30 s of grace, checking every 10 s."""
READINESS = ProbeTiming(initial_delay_seconds=5, period_seconds=5)
"""ADR-0019: take traffic 5 s after start at the earliest, re-checking every 5 s."""
STARTUP = ProbeTiming(initial_delay_seconds=5, period_seconds=10, failure_threshold=30)
"""For slow starters (database recovery, JVM warm-up): up to 5 minutes before liveness applies."""


@dataclass(frozen=True)
class Probe:
    """How to ask a container whether it is alive or ready; build with the ``from_*`` factories."""

    handler: Json
    timing: ProbeTiming
    port: int | str | None = None
    """The container port the probe targets (None for exec probes), so tests can check it is declared."""

    @staticmethod
    def from_http_get(path: str, port: int | str, timing: ProbeTiming = READINESS, tls: bool = False) -> "Probe":
        """``tls``: the port serves HTTPS (the kubelet then speaks TLS, without verifying the certificate)."""
        action = k8s.HttpGetAction(path=path, port=int_or_string(port), scheme="HTTPS" if tls else None)
        return Probe({"http_get": action}, timing, port)

    @staticmethod
    def from_tcp_socket(port: int | str, timing: ProbeTiming = READINESS) -> "Probe":
        return Probe({"tcp_socket": k8s.TcpSocketAction(port=int_or_string(port))}, timing, port)

    @staticmethod
    def from_exec(command: list[str], timing: ProbeTiming = READINESS) -> "Probe":
        return Probe({"exec": k8s.ExecAction(command=list(command))}, timing)

    def with_timing(self, timing: ProbeTiming) -> "Probe":
        return replace(self, timing=timing)

    def to_k8s(self) -> k8s.Probe:
        return k8s.Probe(
            **self.handler,
            initial_delay_seconds=self.timing.initial_delay_seconds,
            period_seconds=self.timing.period_seconds,
            timeout_seconds=self.timing.timeout_seconds,
            failure_threshold=self.timing.failure_threshold,
        )


@dataclass(frozen=True)
class Probes:
    """The probes of one long-lived container; jobs have none (their exit code is their health)."""

    liveness: Probe | None = None
    readiness: Probe | None = None
    startup: Probe | None = None

    @staticmethod
    def http(port: int | str, live_path: str, ready_path: str, startup: bool = False, tls: bool = False) -> "Probes":
        """Liveness and readiness over HTTP (HTTPS with ``tls``) on one port, with the policy timings."""
        live = Probe.from_http_get(live_path, port, LIVENESS, tls)
        return Probes(
            liveness=live,
            readiness=Probe.from_http_get(ready_path, port, READINESS, tls),
            startup=live.with_timing(STARTUP) if startup else None,
        )

    @staticmethod
    def exec(command: list[str], startup: bool = False) -> "Probes":
        """One command answers both liveness and readiness, with the policy timings."""
        probe = Probe.from_exec(command)
        return Probes(
            liveness=probe.with_timing(LIVENESS),
            readiness=probe.with_timing(READINESS),
            startup=probe.with_timing(STARTUP) if startup else None,
        )
