# Renders each Sprig expression with real Helm (helm-python-sdk) and prints,
# as JSON, [Go type, %v text] per expression, or ["ERR", message] where the
# message is what follows `at <...>: ` (Go's "error calling NAME: ..." or
# the executor's argument error). Used by sprig/oracle.rs.
import json, os, sys
import helm_python as helm

exprs = json.load(open(sys.argv[1]))
root = os.path.join(sys.argv[2], "chart")
os.makedirs(os.path.join(root, "templates"), exist_ok=True)
with open(os.path.join(root, "Chart.yaml"), "w") as f:
    f.write("apiVersion: v2\nname: t\nversion: 0.1.0\n")
values = {"f": 1.5, "i": 3, "s": "str", "l": [1, "a"], "m": {"a": 1}, "e": "", "z": 0, "nested": {"a": {"b": "deep"}}}
tpl = os.path.join(root, "templates", "x.yaml")
out = []
for e in exprs:
    with open(tpl, "w") as f:
        f.write("{{ typeOf (%s) }}\x1f{{ %s }}" % (e, e))
    try:
        with helm.Chart.load(root) as c:
            r = c.render(values=values, name="r", namespace="default", is_install=True)
        ty, _, text = r["t/templates/x.yaml"].partition("\x1f")
        out.append([ty, text])
    except Exception as ex:
        msg = str(ex)
        i = msg.find("error calling ")
        if i >= 0:
            msg = msg[i:]
        else:
            msg = msg.strip().splitlines()[-1].strip()
        out.append(["ERR", msg])
print(json.dumps(out))
