#!/usr/bin/env bash
# Rewrites every "```frames TYPE" block of schemas/SCHEMAS.md with the encoding the code produces
# now (the first example of each type; a type listed twice, like groups_sync, fills its blocks
# in order). Run after changing a message, then read the diff: the prose must still be true.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target zc_schema_examples >/dev/null
build/tests/zc_schema_examples > /tmp/zc-schema-examples.txt
python3 - /tmp/zc-schema-examples.txt schemas/SCHEMAS.md <<'PY'
import re, sys
examples = {}
for m in re.finditer(r"```frames (\S+)\n(.*?)```\n", open(sys.argv[1]).read(), re.S):
    examples.setdefault(m.group(1), []).append(m.group(0))
doc = open(sys.argv[2]).read()
used = {}
def swap(m):
    t = m.group(1)
    if t not in examples:
        return m.group(0)
    i = used.get(t, 0)
    used[t] = i + 1
    return examples[t][min(i, len(examples[t]) - 1)]
doc = re.sub(r"```frames (\S+)\n(.*?)```\n", swap, doc, flags=re.S)
open(sys.argv[2], "w").write(doc)
missing = sorted(set(examples) - set(used))
if missing:
    print("no block yet for: " + ", ".join(missing))
PY
