#!/bin/bash
# Hunts for every theorem with modest budgets, one after the other, 2 local Dask workers each.
# Resumable: rerun it (or one line of it) and every stored case is replayed, not recomputed.
# Usage (from the repository root): OUT=runs bash benchmarks/hunt_all.sh
# (QUORUMSGD="python -m quorumsgd.cli" to run a source checkout)
OUT=${OUT:-runs}
run() {  # NAME BUDGET
  echo "=== $1 budget $2 start $(date -u +%T)"
  timeout -s INT "${TMO:-1500}" ${QUORUMSGD:-quorumsgd} hunt "$1" --budget "$2" --seed 0 --workers 2 --out "$OUT/hunt-$1"
  echo "=== $1 exit $? end $(date -u +%T)"
}
run thm5.1 200
run thm3.2 96
run thm5.2 64
run thm5.3 48
run sgd 48
run lemma3.1 48
run lemma5.5 32
