#!/usr/bin/env bash
# Fails when any C++ file differs from what the repo's .clang-format makes of it (Debian's
# clang-format); prints the places. Run `scripts/check-format.sh --fix` to format them.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/zcluster-format.$$; then
  grep -E "^[^ ].*: (error|warning):" /tmp/zcluster-format.$$ | head -20
  echo "unformatted: run scripts/check-format.sh --fix" >&2
  rm -f /tmp/zcluster-format.$$
  exit 1
fi
rm -f /tmp/zcluster-format.$$
echo "format: $(wc -w <<<"${files[*]}") files formatted"
