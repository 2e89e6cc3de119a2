#!/usr/bin/env bash
# Packaging checks of every published package: `publint --strict` (exports, files, types per condition)
# and `@arethetypeswrong/cli` (the types each resolution mode sees match the code it loads; node10 is not a
# target: the packages need Node >= 20). Needs a build: run `npm run build` first (the consumer test does).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for p in core audio text-rnn vision-cnn fusion speech distributed cli; do
  echo "== packages/$p"
  npx publint --strict "packages/$p" || status=1
  (cd "packages/$p" && npx attw --pack . --profile node16 --format table-flipped) || status=1
  # Members documented `@internal` are not API: the build's stripInternal leaves them out of the .d.ts.
  if grep -l '@internal' "packages/$p"/dist/*.d.ts "packages/$p"/dist/*.d.cts 2>/dev/null; then
    echo "packages/$p: @internal members are in the published .d.ts (tsup dts needs stripInternal)"; status=1
  fi
done
exit $status
