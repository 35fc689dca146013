#!/usr/bin/env bash
# The documentation stands on its own: every relative link of README.md,
# docs/*.md, slurm/README.md and datasets/README.md names a file of the
# checkout (and its #anchor a heading of that file), and none points outside
# the checkout (a clone has nothing beside it).
source "$(dirname "$0")/common.sh"
"$PYTHON" - "$SRC" <<'PY'
import os, re, sys
src = sys.argv[1]
docs = ["README.md", "slurm/README.md", "datasets/README.md"] + [
    "docs/" + f for f in sorted(os.listdir(os.path.join(src, "docs"))) if f.endswith(".md")]

def anchors(path):
    out = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"#+\s+(.*)", line)
        if m:  # GitHub's rule: lower case, punctuation dropped, blanks to '-'
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out

bad, n = [], 0
for doc in docs:
    path = os.path.join(src, doc)
    text = open(path, encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        n += 1
        file, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not full.startswith(os.path.normpath(src) + os.sep):
            bad.append("%s: %s points outside the checkout" % (doc, target))
        elif not os.path.exists(full):
            bad.append("%s: %s does not exist" % (doc, target))
        elif anchor and full.endswith(".md") and anchor not in anchors(full):
            bad.append("%s: %s has no heading #%s" % (doc, target, anchor))
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("docs_links: %d links in %d files resolve" % (n, len(docs)))
PY
