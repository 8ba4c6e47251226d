#!/usr/bin/env bash
# Runs one libFuzzer target for a while on a COPY of its seed corpus, so nothing the
# fuzzer finds is written into the repository:
#   tests/fuzz/run.sh <fuzzer binary> <seconds> [libFuzzer options...]
# The seeds are tests/fuzz/corpus/<name>/ and the dictionary tests/fuzz/dict/<name>.dict
# (when there is one), <name> being the binary's name without "fuzz_". Crash, leak and
# timeout inputs go to ./fuzz-artifacts/<binary>/ (ctest runs this in the build folder).
# FUZZ_KEEP_CORPUS=<dir> keeps the grown corpus there (for the longer runs).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZER="$1"
SECONDS_TO_RUN="$2"
shift 2
TARGET="$(basename "$FUZZER")"
NAME="${TARGET#fuzz_}"
SEEDS="$HERE/corpus/$NAME"
[ -d "$SEEDS" ] || { echo "no seed corpus at $SEEDS" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chat-$TARGET.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/corpus"
cp "$SEEDS"/* "$WORK/corpus/"
ARTIFACTS="$PWD/fuzz-artifacts/$TARGET"
mkdir -p "$ARTIFACTS"

OPTIONS=(-max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
         -artifact_prefix="$ARTIFACTS/")
[ -f "$HERE/dict/$NAME.dict" ] && OPTIONS+=(-dict="$HERE/dict/$NAME.dict")

status=0
"$FUZZER" "${OPTIONS[@]}" "$@" "$WORK/corpus" || status=$?
echo "corpus: $(find "$WORK/corpus" -type f | wc -l) files, $(du -sk "$WORK/corpus" | cut -f1) KiB"
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
  mkdir -p "$FUZZ_KEEP_CORPUS"
  cp "$WORK/corpus"/* "$FUZZ_KEEP_CORPUS/"
fi
[ "$status" -eq 0 ] || echo "$TARGET failed; the input is in $ARTIFACTS/" >&2
exit "$status"
