"""The real Helm library (Helm SDK v4 through helm-python-sdk's libhelm_c)
as an oracle for the simulated API server: one Helm action per run.

Reads one JSON request on stdin (stdin, not argv, so the bearer token never
shows in a process list):

    {"op": "install" | "upgrade" | "rollback" | "list" | "history" | "status" | "get_all" | "test" | "uninstall",
     "server": "https://127.0.0.1:PORT", "token": "...", "ca_file": "/path/ca.crt",
     "namespace": "default", "release": "web", "chart": "/path/to/chart",
     "values": {...}, "wait": "watcher" | "legacy" | null, "timeout": 60,
     "version": 1, "rollback_on_failure": false, "all_states": false, "debug": false,
     "dry_run": "server" | null, "create_namespace": false, "storage_driver": "secret" | "configmap"}

and prints one JSON line on stdout: {"ok": true, "result": ...} with what
the library returned, or {"ok": false, "error": {"type": "HelmReleaseError",
"code": -9, "message": "..."}} with Helm's own error. The exit status is 0
either way; anything else (a bad request, a missing library) exits 2.
Helm's log goes to stderr. It only talks to the server it is given and never
prints the token; the test that drives it decides what is right.
"""

import json
import logging
import sys

import helm_python as helm


def act(cfg: helm.Config, req: dict):
    op = req["op"]
    name = req.get("release")
    wait = req.get("wait")
    timeout = req.get("timeout")
    if op == "install":
        return cfg.install(req["chart"], name, req.get("values"), wait=wait, timeout=timeout,
                           rollback_on_failure=req.get("rollback_on_failure", False), dry_run=req.get("dry_run"),
                           create_namespace=req.get("create_namespace", False))
    if op == "upgrade":
        return cfg.upgrade(req["chart"], name, req.get("values"), wait=wait, timeout=timeout,
                           rollback_on_failure=req.get("rollback_on_failure", False), dry_run=req.get("dry_run"))
    if op == "rollback":
        return cfg.rollback(name, version=req.get("version"), wait=wait, timeout=timeout)
    if op == "list":
        return cfg.list(all_states=req.get("all_states", False))
    if op == "history":
        return cfg.history(name)
    if op == "status":
        return cfg.status(name, revision=req.get("version"))
    if op == "get_all":
        return cfg.get_all(name, revision=req.get("version"))
    if op == "test":
        return cfg.test(name, timeout=timeout)
    if op == "uninstall":
        return cfg.uninstall(name, wait=wait, timeout=timeout)
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    try:
        req = json.load(sys.stdin)
    except ValueError as e:
        print(f"oracle: the request on stdin is not JSON: {e}", file=sys.stderr)
        return 2
    level = logging.DEBUG if req.get("debug") else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="helm: %(message)s")
    helm.enable_logging(level)
    try:
        with helm.Config(kube_apiserver=req["server"], kube_token=req["token"], kube_ca_file=req["ca_file"],
                         namespace=req.get("namespace", "default"),
                         storage_driver=req.get("storage_driver", "secret")) as cfg:
            result = act(cfg, req)
    except helm.HelmError as e:
        error = {"type": type(e).__name__, "code": getattr(e, "code", None), "message": str(e)}
        print(json.dumps({"ok": False, "error": error}))
        return 0
    except (KeyError, ValueError) as e:
        print(f"oracle: bad request: {e!r}", file=sys.stderr)
        return 2
    print(json.dumps({"ok": True, "result": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
