"""The real Helm library (Helm SDK v4 through helm-python-sdk's libhelm_c) as
the judge of gantry's releases: one Helm action per run, against the
simulated cluster the test started.

Reads one JSON request on stdin (so the bearer token never shows in a
process list):

    {"op": "install" | "upgrade" | "rollback" | "list" | "history" | "status" | "get_values" | "uninstall",
     "server": "https://127.0.0.1:PORT", "token": "...", "ca_file": "/path/ca.crt",
     "namespace": "default", "release": "web", "chart": "/path/to/chart", "values": {...},
     "version": 1, "all": false, "keep_history": false, "reuse_values": false,
     "reset_values": false, "max_history": 3, "storage_driver": "secret" | "configmap",
     "wait": "legacy" | "watcher", "timeout": 5, "rollback_on_failure": true}

and prints one JSON line: {"ok": true, "result": ...} or {"ok": false,
"error": {"type": "...", "message": "..."}} with Helm's own error; exit 0
either way, 2 on a bad request. The test runs it with argv[0] named `helm`
so the library's server-side apply field manager is `helm`, as the Helm
CLI's is (Helm takes the manager from the program's name). It only talks
to the server it is given and never prints the token.
"""

import json
import sys

import helm_python as helm


def waiting(req):
    """`--wait`, `--timeout` (seconds) and `--rollback-on-failure`, when the request gives them."""
    return {k: req[k] for k in ("wait", "timeout", "rollback_on_failure") if k in req}


def act(cfg, req):
    op = req["op"]
    name = req.get("release")
    if op == "install":
        return cfg.install(req["chart"], name, req.get("values"), **waiting(req))
    if op == "upgrade":
        return cfg.upgrade(req["chart"], name, req.get("values"), reuse_values=req.get("reuse_values", False),
                           reset_values=req.get("reset_values", False), max_history=req.get("max_history"),
                           **waiting(req))
    if op == "rollback":
        return cfg.rollback(name, version=req.get("version"))
    if op == "list":
        return cfg.list(all_states=req.get("all", False))
    if op == "history":
        return cfg.history(name)
    if op == "status":
        return cfg.status(name, revision=req.get("version"))
    if op == "get_values":
        return cfg.get_values(name, all_values=req.get("all", False), revision=req.get("version"))
    if op == "uninstall":
        return cfg.uninstall(name, keep_history=req.get("keep_history", False))
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    try:
        req = json.load(sys.stdin)
    except ValueError as e:
        print(f"oracle: the request on stdin is not JSON: {e}", file=sys.stderr)
        return 2
    try:
        with helm.Config(kube_apiserver=req["server"], kube_token=req["token"], kube_ca_file=req["ca_file"],
                         namespace=req.get("namespace", "default"),
                         storage_driver=req.get("storage_driver", "secret")) as cfg:
            result = act(cfg, req)
    except helm.HelmError as e:
        print(json.dumps({"ok": False, "error": {"type": type(e).__name__, "message": str(e)}}))
        return 0
    except (KeyError, ValueError) as e:
        print(f"oracle: bad request: {e!r}", file=sys.stderr)
        return 2
    print(json.dumps({"ok": True, "result": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
