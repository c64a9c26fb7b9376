#!/usr/bin/env bash
# The documentation a newcomer reads: every relative link in every Markdown
# file of the repository resolves (the file exists, and an #anchor names a
# heading of it, by GitHub's rule for heading anchors), no file mentions a
# document that is not in the repository, and README.md stays a front door
# (at most 250 lines: details belong in docs/).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init docs
cd "$TOP"
D=$IT_DIR

# Markdown files we maintain: tracked ones, not vendored packages or results.
git ls-files '*.md' | grep -v -e '/node_modules/' -e '^bench/results/' >"$D/files" ||
    bail "git ls-files lists the Markdown files"
check "the repository has Markdown files to check ($(wc -l <"$D/files"))" test -s "$D/files"

# One line per link: FILE<TAB>TARGET. Inline links only ([text](target)), outside
# fenced code blocks; absolute URLs and mailto: are someone else's.
python3 - "$D/files" >"$D/links" <<'PY' || bail "extract the links"
import re, sys
for path in open(sys.argv[1]).read().split():
    fence = False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        for m in re.finditer(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line)):
            t = m.group(1)
            if not re.match(r"^[a-z]+:", t):
                print(f"{path}\t{t}")
PY
check "the documents link to each other ($(wc -l <"$D/links") relative links)" test -s "$D/links"

# anchors FILE: the anchors of FILE's headings, GitHub's way: lower case,
# punctuation dropped but for - and _, spaces to -, repeats numbered -1, -2.
anchors() {
    python3 - "$1" <<'PY'
import re, sys
seen = {}
fence = False
for line in open(sys.argv[1], encoding="utf-8"):
    if line.lstrip().startswith("```"):
        fence = not fence
    m = None if fence else re.match(r"^#{1,6} +(.*?)\s*#*\s*$", line)
    if not m:
        continue
    a = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
    n = seen.get(a, 0)
    seen[a] = n + 1
    print(a if n == 0 else f"{a}-{n}")
PY
}

bad=()
while IFS=$'\t' read -r file target; do
    path=${target%%#*}
    anchor=
    [[ $target == *#* ]] && anchor=${target#*#}
    if [ -z "$path" ]; then
        dest=$file
    else
        dest=$(realpath -m --relative-to="$TOP" "$(dirname "$file")/$path")
    fi
    if [ ! -e "$dest" ]; then
        bad+=("$file: $target (no $dest)")
    # The anchors are listed whole before grep looks: with pipefail, a grep -q that
    # stops at the first match would fail the pipeline (the writer's broken pipe).
    elif [ -n "$anchor" ] && ! grep -qxF -- "$anchor" <<<"$(anchors "$dest")"; then
        bad+=("$file: $target (no heading #$anchor in $dest)")
    fi
done <"$D/links"
if [ ${#bad[@]} -eq 0 ]; then
    ok "every relative link resolves, anchors included"
else
    not_ok "every relative link resolves: ${bad[*]}"
fi

# A reader of the repository alone must never meet a document that is not in it.
outside=$(git grep -n -I -e 'DESIGN\.md' -e '\.\./shared/' -- . ':!tests/integration/docs.sh' \
    ':!tests/browser/node_modules' | head -5)
check "no file refers to a document outside the repository${outside:+ ($outside)}" test -z "$outside"

lines=$(wc -l <README.md)
check "README.md is a front door: $lines lines (at most 250)" test "$lines" -le 250

it_done
