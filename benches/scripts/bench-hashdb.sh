#!/usr/bin/env bash
# bench-hashdb: Vigil's exact Hamming index against FAISS, side by side.
#
# Same data and queries for both engines: N random 256-bit hashes, 1000
# queries of which 10% are near-duplicates (a planted neighbour at every
# distance 0..33) and 90% random (far from everything: the common case for
# uploads). Radius 31, one thread, one query at a time.
# Peer: faiss-cpu IndexBinaryMultiHash (16 tables x 16 bits, nflip=1), the
# MIH setup the design targets; IndexBinaryFlat range search is the exact
# ground truth for recall (and its speed is reported too).
#
# Environment: SIZES (default "1000000"; "10000000 1000000" adds 1e7, needs
# ~4 GiB free memory), QUERIES (1000), VENV (.venv-bench in the repo root).
# Prints one detail line per size and ends with one summary line:
#   bench-hashdb n=1000000 vigil_qps=... peer=faiss-mih peer_qps=... ratio=... recall=1.0 bytes_per_entry=...
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZES=${SIZES:-1000000}
QUERIES=${QUERIES:-1000}
VENV=${VENV:-$ROOT/.venv-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if ! "$VENV/bin/python" -c "import faiss, numpy" 2>/dev/null; then
    echo "bench-hashdb: setting up $VENV (faiss-cpu 1.15.1, numpy)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet faiss-cpu==1.15.1 numpy
fi

echo "bench-hashdb: building the Rust side (release)" >&2
(cd "$ROOT" && cargo bench -p vigil-benches --bench hashdb --no-run 2>&1 | tail -n 1 >&2)
BIN=$(cd "$ROOT" && cargo bench -p vigil-benches --bench hashdb --no-run --message-format=json 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "hashdb":
        print(m["executable"])' | tail -n 1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-hashdb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

for N in $SIZES; do
    mkdir -p "$WORK/$N"
    echo "bench-hashdb: n=$N vigil" >&2
    VIGIL_HASHDB_SIDE_BY_SIDE="$WORK/$N" VIGIL_HASHDB_N="$N" VIGIL_HASHDB_QUERIES="$QUERIES" "$BIN"
    echo "bench-hashdb: n=$N faiss" >&2
    OMP_NUM_THREADS=1 "$VENV/bin/python" - "$WORK/$N" <<'PY'
import json, sys, time
import numpy as np
import faiss

faiss.omp_set_num_threads(1)
d = sys.argv[1]
vig = json.load(open(f"{d}/vigil.json"))
n, near = vig["n"], vig["near"]
base = np.fromfile(f"{d}/base.bin", dtype=np.uint8).reshape(-1, 32)
qs = np.fromfile(f"{d}/queries.bin", dtype=np.uint8).reshape(-1, 32)
R = 32  # FAISS binary range search keeps distances < radius: 32 means <= 31

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0

def timed(index, ids):
    lat, res = [], {}
    for i in ids:  # warm-up
        index.range_search(qs[i:i + 1], R)
    for i in ids:
        t = time.perf_counter()
        lims, D, I = index.range_search(qs[i:i + 1], R)
        lat.append(time.perf_counter() - t)
        res[i] = set(zip(I.tolist(), D.astype(int).tolist()))
    return lat, res

r0 = rss()
t = time.perf_counter()
mih = faiss.IndexBinaryMultiHash(256, 16, 16)
mih.nflip = 1
mih.add(base)
mih_build = time.perf_counter() - t
mih_bytes = (rss() - r0) / n
all_ids = list(range(len(qs)))
lat, mih_res = timed(mih, all_ids)
mih_total = sum(lat)
lat_near, lat_rand = sum(lat[:near]), sum(lat[near:])

flat = faiss.IndexBinaryFlat(256)
flat.add(base)
check = list(range(near)) + list(range(near, len(qs)))[:200]
flat_lat, truth = timed(flat, check)

vh = {}
for line in open(f"{d}/vigil_hits.txt"):
    q, s, dist = map(int, line.split())
    vh.setdefault(q, set()).add((s, dist))

def recall(res):
    want = sum(len(truth[i]) for i in check)
    got = sum(len(truth[i] & res.get(i, set())) for i in check)
    return 1.0 if want == 0 else got / want

vig_exact = all(vh.get(i, set()) == truth[i] for i in check)
mih_recall = recall(mih_res)
vig_recall = recall(vh)
mih_qps = len(qs) / mih_total
ratio = vig["qps"] / mih_qps
p99 = sorted(lat)[int(round((len(lat) - 1) * 0.99))] * 1e3
out = dict(
    n=n, queries=len(qs), near=near,
    vigil_qps=round(vig["qps"]), vigil_qps_random=round(vig["qps_random"]), vigil_qps_near=round(vig["qps_near"]),
    vigil_p99_ms=round(vig["p99_ms"], 3), vigil_build_s=round(vig["build_s"], 2),
    vigil_bytes_per_entry=round(vig["bytes_per_entry"], 1), vigil_recall=vig_recall, vigil_equals_flat=vig_exact,
    peer="faiss-mih", peer_qps=round(mih_qps, 1),
    peer_qps_random=round((len(qs) - near) / lat_rand, 1), peer_qps_near=round(near / lat_near, 1),
    peer_p99_ms=round(p99, 3), peer_build_s=round(mih_build, 2), peer_bytes_per_entry=round(mih_bytes, 1),
    peer_recall=mih_recall, flat_qps=round(len(check) / sum(flat_lat), 1),
    ratio=round(ratio, 1),
    ratio_random=round(vig["qps_random"] / ((len(qs) - near) / lat_rand), 1),
    ratio_near=round(vig["qps_near"] / (near / lat_near), 1),
    recall_checked_queries=len(check), truth_hits=sum(len(truth[i]) for i in check),
)
snap = vig.get("snapshot") or {}
if snap:
    out.update(
        vigil_snapshot_entries=snap["entries"],
        vigil_snapshot_read_s=round(snap["snapshot_read_s"], 2),
        vigil_snapshot_read_cpu_s=round(snap["snapshot_read_cpu_s"], 2),
        vigil_hashdb_metadata_bytes_per_entry=round(snap["hashdb_metadata_bytes_per_entry"], 1),
    )
json.dump(out, open(f"{d}/result.json", "w"))
print("bench-hashdb-detail " + " ".join(f"{k}={v}" for k, v in out.items()), flush=True)
PY
done

# The summary line: n=1e6 (or the first size), plus the others' key figures.
"$VENV/bin/python" - "$WORK" $SIZES <<'PY'
import json, sys
work, sizes = sys.argv[1], sys.argv[2:]
res = [json.load(open(f"{work}/{n}/result.json")) for n in sizes]
# Lead with n=1e6 (the design's headline size) when it was run.
res.sort(key=lambda x: (x["n"] != 1000000, sizes.index(str(x["n"]))))
r = res[0]
recall = min(min(x["vigil_recall"], 1.0 if x["vigil_equals_flat"] else 0.0) for x in res)
fields = [
    f"n={r['n']}", f"vigil_qps={r['vigil_qps']}", "peer=faiss-mih", f"peer_qps={r['peer_qps']}",
    f"ratio={r['ratio']}", f"recall={recall:.1f}" if recall == 1.0 else f"recall={recall:.4f}",
    f"bytes_per_entry={r['vigil_bytes_per_entry']}",
    f"ratio_random={r['ratio_random']}", f"ratio_near={r['ratio_near']}",
    f"vigil_p99_ms={r['vigil_p99_ms']}", f"peer_p99_ms={r['peer_p99_ms']}",
    f"peer_bytes_per_entry={r['peer_bytes_per_entry']}", f"peer_recall={r['peer_recall']}",
]
for x in res[1:]:
    tag = f"n{x['n']}"
    fields += [f"{tag}_vigil_qps={x['vigil_qps']}", f"{tag}_peer_qps={x['peer_qps']}", f"{tag}_ratio={x['ratio']}",
               f"{tag}_bytes_per_entry={x['vigil_bytes_per_entry']}", f"{tag}_vigil_build_s={x['vigil_build_s']}"]
print("bench-hashdb " + " ".join(fields))
PY
