#!/usr/bin/env bash
# Stage a lease of the lent GPU from a new checkout, from the project's root:
#   bash docs/measurements/stage-lease.sh docs/measurements/session-20-gpu-half.sh [MLX_VERSION]
# It runs ../shared/device/stage.sh (.dev/a, .dev/b), moves the virtualenv wheel and a third of
# MLX's wheel to .dev/c (the tree passed 20 MB on 2026-12-07: with the two 45 MB parts stage.sh makes,
# a call no longer fit in the 64 MiB it may carry), has .dev/b/install.sh install both from there too,
# writes .dev/b/collect.sh (the logs so far to $OUT/run.tgz, the last stages printed) and copies the
# pipeline to .dev/b/pipeline.sh. Then, back to back (a machine is given back after 30 s idle):
#   run carry [".dev/a"]  bash .dev/a/unpack.sh
#   run carry [".dev/c"]  mkdir -p /tmp/mlxparts/w && cp .dev/c/*.whl /tmp/mlxparts/w/ && cp .dev/c/part_* /tmp/mlxparts/
#   run carry [".dev/b"]  source .dev/b/install.sh && (setsid nohup bash .dev/b/pipeline.sh > /tmp/pipeline.log 2>&1 &); sleep 540; bash .dev/b/collect.sh
#   run                   for i in $(seq 1 55); do grep -q "all done" /tmp/logs/stages && break; sleep 10; [ $((i % 6)) = 0 ] && bash .dev/b/collect.sh > /dev/null; done; bash .dev/b/collect.sh
# (collect.sh replaces $OUT/run.tgz whole each minute: a poll cut off by the lease still brings back its last one)
set -euo pipefail
pipeline=${1:?name the pipeline to run, e.g. docs/measurements/session-20-gpu-half.sh}
[ -f "$pipeline" ] || { echo "error: no pipeline $pipeline; name one of docs/measurements/session-*.sh" >&2; exit 1; }
bash ../shared/device/stage.sh "${2:-0.32.4}"
mkdir -p .dev/c && mv .dev/b/virtualenv-*.whl .dev/c/
# MLX's wheel again in three parts of 30 MB, one a call: install.sh joins /tmp/mlxparts/part_* in
# name order and checks the whole against whole.md5
split_dir=$(mktemp -d) && cat .dev/a/part_* .dev/b/part_* | split -b 30000000 -a 2 - "$split_dir/part_"
rm .dev/a/part_* .dev/b/part_* && mv "$split_dir/part_aa" .dev/a/ && mv "$split_dir/part_ab" .dev/b/
mv "$split_dir/part_ac" .dev/c/ && rmdir "$split_dir"
sed -i '1i [ -f /tmp/mlxparts/part_ac ] || { echo "third part missing: run the .dev/c call, then this one" >&2; return 1 2>/dev/null || exit 1; }' \
  .dev/b/install.sh
sed -i 's#--no-compile .dev/b/\*.whl "#--no-compile .dev/b/*.whl /tmp/mlxparts/w/*.whl "#' .dev/b/install.sh
grep -q '/tmp/mlxparts/w/' .dev/b/install.sh || { echo "error: stage.sh's install line changed; add /tmp/mlxparts/w/*.whl to .dev/b/install.sh by hand" >&2; exit 1; }
cat > .dev/b/collect.sh <<'C'
tar czf $OUT/run.tgz.new -C /tmp logs pipeline.log 2>/dev/null && mv $OUT/run.tgz.new $OUT/run.tgz
tail -n 12 /tmp/logs/stages; tail -n 3 /tmp/pipeline.log
C
cp "$pipeline" .dev/b/pipeline.sh
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
for part in a b c; do
  echo "a call with .dev/$part carries $(( (tree + $(du -sb .dev/$part | cut -f1)) / 1000000 )) MB of the 67 allowed" \
    "(tree $(( tree / 1000000 )) MB)"
done
