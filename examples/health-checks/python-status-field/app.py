"""A health check in Python (world `gantry:deploy/health-check`), built with
componentize-py. It asks every ready pod of the checked release for `path`
(default `/health`), each through the API server's pod proxy, and requires
a 200 whose JSON body has `field` (default `status`) equal to `expect`
(default `ok`). No ready pod yet: progressing, and the host asks again.

Settings (JSON, optional): {"path": "/health", "port": "http", "field": "status", "expect": "ok"}

Build: componentize-py -d ../../../wit -w health-check componentize app -o python-status-field.wasm
Use: { name: health-check-canary, uses: python-status-field.wasm, grants: [cluster-read, http-probe] }
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import clock, cluster_read, health_types, http_probe, types


class WitWorld(wit_world.WitWorld):
    def check(self, request: health_types.CheckRequest) -> health_types.CheckReport:
        try:
            opts = json.loads(request.settings) if request.settings.strip() else {}
        except ValueError as e:
            return report(health_types.Health.UNHEALTHY, False, f"settings are not JSON: {e}")
        path = opts.get("path", "/health")
        port = str(opts.get("port", "http"))
        field = opts.get("field", "status")
        expect = opts.get("expect", "ok")
        target = request.target.name
        try:
            pods = cluster_read.pods(target, None, f"app.kubernetes.io/instance={request.release}")
        except Err as e:
            return report(health_types.Health.UNHEALTHY, False, f"cannot list the pods of {request.release}: {e.value.message}")
        ready = [p for p in pods if p.ready]
        if not ready:
            return report(health_types.Health.PROGRESSING, False, f"no ready pod of {request.release} yet")
        slowest = 0
        for pod in ready:
            try:
                number = pod_port(target, pod.name, port)
            except Err as e:
                return report(health_types.Health.UNHEALTHY, False, f"cannot read pod {pod.name}: {e.value.message}")
            if number is None:
                return report(health_types.Health.UNHEALTHY, False, f"pod {pod.name} has no container port named `{port}`")
            timeout = max(100, min(clock.remaining_ms() - 200, 10_000))
            probe = http_probe.ProbeRequest(
                target=target,
                destination=http_probe.Destination_Pod(http_probe.PodRef(namespace=None, name=pod.name, port=number)),
                path=path,
                headers=[types.Pair(key="accept", value="application/json")],
                timeout_ms=timeout,
            )
            try:
                answer = http_probe.get(probe)
            except Err as e:
                return report(health_types.Health.UNHEALTHY, False, f"GET {path} on pod {pod.name} failed: {e.value.message}")
            slowest = max(slowest, answer.latency_ms)
            if answer.status != 200:
                return report(health_types.Health.UNHEALTHY, False, f"GET {path} on pod {pod.name} answered {answer.status}", answer.latency_ms)
            try:
                value = json.loads(bytes(answer.body))
                for part in field.split("."):
                    value = value[part]
            except (ValueError, KeyError, TypeError):
                return report(health_types.Health.UNHEALTHY, False, f"GET {path} on pod {pod.name}: no `{field}` in the JSON body", answer.latency_ms)
            if value != expect:
                return report(health_types.Health.UNHEALTHY, False, f"GET {path} on pod {pod.name}: `{field}` is {value!r}, expected {expect!r}", answer.latency_ms)
        return report(health_types.Health.HEALTHY, True, f"`{field}` is {expect!r} on {len(ready)} pod(s)", slowest)


def pod_port(target, pod, port):
    """The pod proxy dials a port number: look a named port up in the pod's containers."""
    if port.isdigit():
        return port
    obj = json.loads(cluster_read.get(target, types.ObjectRef(api_version="v1", kind="Pod", namespace=None, name=pod)))
    for container in obj.get("spec", {}).get("containers", []):
        for p in container.get("ports", []):
            if p.get("name") == port:
                return str(p["containerPort"])
    return None


def report(health, passed, message, latency_ms=None):
    check = health_types.CheckResult(name="status-field", passed=passed, message=message, latency_ms=latency_ms)
    return health_types.CheckReport(health=health, message=message, checks=[check])
