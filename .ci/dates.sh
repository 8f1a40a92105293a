#!/usr/bin/env bash
# The suite again with the machine's clock moved (libfaketime), so nothing in it only works in
# the month it was written: a leap day late at night UTC, past the sample's Valentine's 2027
# season, and the morning US clocks go back (2027-11-07 06:30 UTC is 01:30 EST, the second time).
# The injectable clock drives the handlers; this moves what reads the machine's clock instead
# (`nudge validate` judges active windows against now, and a test may too by mistake).
# Chromium hangs under libfaketime, so the browser tests skip (NUDGE_NO_BROWSER).
# One process, no xdist: libfaketime reads the environment in every intercepted call, a thread's
# timed wait for the GIL included, and glibc's setenv in another thread at that moment crashes
# the process (it did: an xdist worker, whose execnet thread waits so, died twice in a test that
# sets os.environ). Tests that start threads set the environment before they start them.
set -euo pipefail
cd "$(dirname "$0")/.."

DATES=${DATES:-"2028-02-29 23:30:00|2027-11-07 06:30:00"}

if ! command -v faketime >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null &&
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime) \
      >/dev/null 2>&1; then
    echo "dates: installed faketime"
  else
    echo "dates: no faketime (Debian: apt-get install faketime); skipped"
    exit 0
  fi
fi

IFS='|' read -r -a moments <<<"$DATES"
for moment in "${moments[@]}"; do
  echo "dates: the suite at $moment UTC"
  TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 NUDGE_NO_BROWSER=1 \
    faketime "$moment" .venv/bin/python -m pytest -p no:xdist -p no:cacheprovider tests
done
