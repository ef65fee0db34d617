#!/usr/bin/env bash
# Check the built app (dist/textmask) the way a user without Python would run it (Linux).
#
#     packaging/pyinstaller/check_dist.sh PHOTO [PROMPT]
#
# Runs with an empty environment (env -i) and a fresh HOME in a temporary folder:
# 1. textmask --version;
# 2. textmask predict on PHOTO with the shipped default model (a fallback to the untrained
#    preset fails the check), under strace when it is installed,
#    and fails if the app opened any file of the source checkout outside dist/ or of any
#    Python environment (a site-packages folder);
# 3. textmask without a subcommand (the window) under QT_QPA_PLATFORM=offscreen: it must
#    still be running after STARTUP_SECONDS (default 60), with no traceback in its log.
set -euo pipefail

repository="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
app="$repository/dist/textmask/textmask"
photo="${1:?usage: check_dist.sh PHOTO [PROMPT]}"
prompt="${2:-person}"
startup_seconds="${STARTUP_SECONDS:-60}"
work="$(mktemp -d)"
mkdir -p "$work/home" "$work/images"
cp "$photo" "$work/images/"
cd "$work"

run_clean() {
    env -i HOME="$work/home" PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 "$@"
}

echo "== version"
run_clean "$app" --version

echo "== predict"
if command -v strace >/dev/null; then
    run_clean strace -f -qq -e trace=open,openat,execve -o "$work/trace" \
        "$app" predict --prompt "$prompt" "$work/images" --out "$work/out" 2>&1 |
        tee "$work/predict.log"
    # Successful opens only: a failed one ends in "= -1 ENOENT (...)" or similar. Any Python
    # environment (a site-packages folder) or checkout file outside dist/ counts as a leak.
    opened="$(grep -v ' = -1 ' "$work/trace" | grep -vF "$repository/dist/" |
        grep -E -e "$repository|/site-packages/" || true)"
    if [ -n "$opened" ]; then
        echo "FAIL: the app opened files outside dist/:" >&2
        echo "$opened" | head -20 >&2
        exit 1
    fi
    echo "no file of $repository outside dist/ and no site-packages file was opened" \
        "($(wc -l <"$work/trace") trace lines)"
else
    echo "strace is not installed; skipping the opened-files check"
    run_clean "$app" predict --prompt "$prompt" "$work/images" --out "$work/out" 2>&1 |
        tee "$work/predict.log"
fi
ls -l "$work/out"
if grep -q "default model is missing" "$work/predict.log"; then
    echo "FAIL: the app did not find the default model in dist/" >&2
    exit 1
fi

echo "== window"
set +e
run_clean timeout "$startup_seconds" "$app" "$work/images"
status=$?
set -e
log="$(find "$work/home" -name textmask.log | head -1)"
if [ "$status" -ne 124 ]; then
    echo "FAIL: the app exited with status $status within $startup_seconds s" >&2
    exit 1
fi
if [ -z "$log" ] || grep -q Traceback "$log"; then
    echo "FAIL: no log file, or a traceback in it: ${log:-none}" >&2
    exit 1
fi
echo "the window was still open after $startup_seconds s; log: $log"
grep -c . "$log" | xargs echo "log lines:"
echo "all checks passed; files in $work"
