# Renders each Sprig expression with real Helm (helm-python-sdk) and prints,
# as JSON, [Go type, %v text] per expression, or ["ERR", message] where the
# message is what follows `at <...>: ` (Go's "error calling NAME: ..." or
# the executor's argument error). Used by sprig/oracle.rs:
#   python record.py EXPRS.json WORKDIR         -> JSON answers
# and to regenerate the recorded table from exprs.txt (one expression a line):
#   python record.py --tsv exprs.txt > cases.tsv
import json, os, sys, tempfile
import helm_python as helm

tsv = sys.argv[1] == "--tsv"
if tsv:
    exprs = [l.rstrip("\n") for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
    work = tempfile.mkdtemp()
else:
    exprs = json.load(open(sys.argv[1]))
    work = sys.argv[2]
root = os.path.join(work, "chart")
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
if tsv:
    print("# expression\tGo type (or ERR)\t%v text or error as a JSON string, as real Helm rendered it (regenerate: python record.py --tsv exprs.txt > cases.tsv)")
    for e, (t, x) in zip(exprs, out):
        print("%s\t%s\t%s" % (e, t, json.dumps(x, ensure_ascii=False)))
else:
    print(json.dumps(out))
