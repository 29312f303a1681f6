#!/usr/bin/env bash
# Benchmarks on the built-in emulator (loopback): every figure is measured in this run, next to
# what it is compared with, so the ratios hold on a noisy machine. Prints one table; exits
# non-zero when a promise is broken (wrong bytes through the mount, calls over the budget,
# ls -lR or RSS over target) after printing it.
#
#   scripts/bench.sh           # full (about 5-10 minutes on 2 cores)
#   scripts/bench.sh --quick   # smaller streams, about 2 minutes
set -euo pipefail
cd "$(dirname "$0")/.."

N=3000 GROW=700 BIG=100000 RSS_N=20000 READ_N=300 READ_KB=1024
if [ "${1:-}" = "--quick" ]; then N=800 GROW=300 BIG=20000 RSS_N=5000 READ_N=100; fi
export FLICKR_API_KEY=0123456789abcdef0123456789abcdef FLICKR_API_SECRET=bench-secret
NO_PACING="--rate-limit 100000000" # figures of the engine, not of Flickr's 3,600 calls/hour

cargo build --release --quiet
BIN=$PWD/target/release/flickrfs
WORK=$(mktemp -d /tmp/flickrfs-bench.XXXXXX)
EMU_PID= MNT_PID=
cleanup() {
  [ -n "$MNT_PID" ] && kill "$MNT_PID" 2>/dev/null && wait "$MNT_PID" 2>/dev/null || true
  for m in "$WORK"/mnt*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m" || true; done
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
BROKEN=()
broken() { BROKEN+=("$*"); }
ROWS=()
row() { ROWS+=("$1|$2|$3|$4"); }

emu_start() { # photos image_kb latency_ms
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null || true
  "$BIN" emulator --port 0 --photos "$1" --seed 7 --image-kb "$2" --latency-ms "$3" >"$WORK/emu.out" 2>&1 &
  EMU_PID=$!
  for _ in $(seq 600); do grep -q listening "$WORK/emu.out" 2>/dev/null && break; sleep 0.1; done
  API=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/emu.out")
  [ -n "$API" ] || { echo "bench: emulator did not start" >&2; exit 1; }
  BASE=${API%/services/rest/}
}
stat_of() { curl -sf "$BASE/_stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, d))" "$1"; }
reset() { curl -sf "$BASE/_reset_stats" >/dev/null; }
now() { python3 -c 'import time; print(time.monotonic())'; }
mirror() { "$BIN" mirror --username manhhai --api-url "$API" $NO_PACING "$@"; }
# Peak RSS (MiB) of a command: GNU time's maximum resident set size.
rss_of() {
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1 || broken "$* failed: $(head -1 "$WORK/rss")"
  tail -1 "$WORK/rss" | awk '{printf "%.0f", $1/1024}'
}
mount_start() { # mountpoint cache extra...
  local mnt=$1 cache=$2; shift 2
  mkdir -p "$mnt"; rm -f "$WORK/ready"
  FLICKRFS_READY_FILE=$WORK/ready "$BIN" mount manhhai "$mnt" --cache-path "$cache" --api-url "$API" $NO_PACING "$@" \
    >"$WORK/mount.log" 2>&1 &
  MNT_PID=$!
  for _ in $(seq 3000); do [ -f "$WORK/ready" ] && return 0; kill -0 "$MNT_PID" 2>/dev/null || break; sleep 0.1; done
  echo "bench: mount did not come up: $(tail -2 "$WORK/mount.log")" >&2; exit 1
}
mount_stop() { kill -TERM "$MNT_PID"; wait "$MNT_PID" || broken "mount exited non-zero on SIGTERM"; MNT_PID=; }

echo "bench: $N photos for calls and throughput, $BIG for the big listing, $RSS_N for mirror RSS" >&2

# 1. API calls per photo at each info level, and a re-run after growth.
emu_start "$N" 24 0
for lvl in 0 1 2; do
  reset
  mirror --cache-path "$WORK/c$lvl" --info-level "$lvl" --debug 1
  calls=$(stat_of total_calls)
  comments=$(stat_of "calls.get('flickr.photos.comments.getList', 0)")
  budget=$(( (N + 499) / 500 + 1 + comments + $(stat_of "calls.get('flickr.photos.getSizes', 0)") ))
  row "API calls/photo, info-level $lvl" "$(awk -v c="$calls" -v n="$N" 'BEGIN{printf "%.4f (%d calls)", c/n, c}')" \
    "budget ceil(N/500)+1 + getSizes(videos) + comments = $budget" "$([ "$calls" -le "$budget" ] && echo ok || echo OVER)"
  [ "$calls" -le "$budget" ] || broken "info-level $lvl: $calls calls > budget $budget"
done
curl -sf "$BASE/_grow?n=$GROW" >/dev/null
reset
mirror --cache-path "$WORK/c2" --info-level 2 --debug 1
calls=$(stat_of total_calls)
listing=$(stat_of "calls.get('flickr.people.getPhotos', 0) + calls.get('flickr.people.findByUsername', 0)")
lbudget=$(( (GROW + 499) / 500 + 2 ))
row "re-run after +$GROW photos" "$listing listing calls, $calls in all ($(awk -v c="$calls" -v n="$GROW" 'BEGIN{printf "%.3f", c/n}')/new photo)" \
  "budget ceil(K/500)+2 = $lbudget listing calls" "$([ "$listing" -le "$lbudget" ] && echo ok || echo OVER)"
[ "$listing" -le "$lbudget" ] || broken "growth re-run: $listing listing calls > $lbudget"

# 2. Mirror throughput next to a parallel curl of the same image URLs (8 connections each,
#    10 ms of latency per request so concurrency matters as it does with Flickr).
emu_start "$N" 24 10
curl -sf "$BASE/_expected" | python3 -c '
import json, sys
for i, p in enumerate(json.load(sys.stdin)["photos"]):
    url, out = p["best_url"], sys.argv[1] + "/curl/" + str(i)
    print(f"url = \"{url}\"\noutput = \"{out}\"")' "$WORK" >"$WORK/urls.cfg"
mkdir -p "$WORK/curl"
t0=$(now); curl -s --no-progress-meter --parallel --parallel-max 8 -K "$WORK/urls.cfg" 2>/dev/null; t1=$(now)
curl_bytes=$(du -sb "$WORK/curl" | cut -f1)
t2=$(now); mirror --cache-path "$WORK/tp" --image-only --debug 1; t3=$(now)
mirror_bytes=$(find "$WORK/tp/manhhai" -type f -not -path '*/.flickrfs/*' -printf '%s\n' | awk '{s+=$1} END {print s}')
read -r mps mmb cps cmb ratio < <(python3 -c "
n=$N; tm=$t3-$t2; tc=$t1-$t0
print(f'{n/tm:.0f} {$mirror_bytes/tm/1e6:.1f} {n/tc:.0f} {$curl_bytes/tc/1e6:.1f} {tc/tm:.2f}')")
row "mirror throughput (--image-only)" "$mps photos/s, $mmb MB/s" "curl --parallel-max 8: $cps photos/s, $cmb MB/s" "$ratio x curl"

# 3. Mounted sequential read of cached files next to the backing files, both in page cache.
emu_start "$READ_N" "$READ_KB" 0
mirror --cache-path "$WORK/rd" --image-only --debug 1
mount_start "$WORK/mnt_rd" "$WORK/rd" --no-prefetch --image-only
read_all() { python3 - "$1" <<'EOF'
import os, sys, time
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) if "/.flickrfs" not in d for f in fs if not f.startswith("."))
t = time.monotonic(); n = 0
for p in files:
    with open(p, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b: break
            n += len(b)
print(f"{n / (time.monotonic() - t) / 1e6:.0f} {n}")
EOF
}
# Both sides read everything twice, alternating; the ratio compares the best pass of each
# (the mount's first pass, with every open a first one, is shown too).
read -r _ _ < <(read_all "$WORK/rd/manhhai")           # warm the backing files
read -r direct dbytes < <(read_all "$WORK/rd/manhhai")
read -r first mbytes < <(read_all "$WORK/mnt_rd")      # first pass through FUSE
read -r direct2 _ < <(read_all "$WORK/rd/manhhai")
read -r second _ < <(read_all "$WORK/mnt_rd")
[ "$mbytes" = "$dbytes" ] || broken "mount read $mbytes bytes, backing files hold $dbytes"
direct=$(( direct > direct2 ? direct : direct2 ))
mounted=$(( first > second ? first : second ))
ratio=$(awk -v m="$mounted" -v d="$direct" 'BEGIN{printf "%.2f", m/d}')
row "mounted sequential read (${READ_N} x ~${READ_KB} KiB)" "$mounted MB/s (first pass $first)" "backing files: $direct MB/s" "$ratio (target >= 0.70)"
awk -v r="$ratio" 'BEGIN{exit !(r < 0.70)}' && broken "mounted read ratio $ratio < 0.70"
mount_stop

# 4. Time to first byte of an uncached image through the mount next to curl of it.
emu_start 200 24 20
mount_start "$WORK/mnt_tt" "$WORK/tt" --no-prefetch --wait-index --image-only
read -r mount_ttfb curl_ttfb < <(python3 - "$BASE" "$WORK/mnt_tt" <<'EOF'
import hashlib, json, os, statistics, subprocess, sys, time, urllib.request
base, mnt = sys.argv[1:3]
photos = json.load(urllib.request.urlopen(base + "/_expected"))["photos"][:15]
m, c = [], []
for p in photos:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}", p["best_url"]], capture_output=True, text=True)
    c.append(float(out.stdout))
    h = hashlib.md5(p["id"].encode()).hexdigest()
    t = time.monotonic()
    with open(os.path.join(mnt, *h[:4], f"{h}.{p['ext']}"), "rb") as f:
        first = f.read(1)
    m.append(time.monotonic() - t)
    assert first, "empty read"
print(f"{statistics.median(m)*1000:.1f} {statistics.median(c)*1000:.1f}")
EOF
)
row "TTFB of an uncached image (20 ms latency)" "$mount_ttfb ms (stat + open + read)" "curl: $curl_ttfb ms" \
  "$(awk -v m="$mount_ttfb" -v c="$curl_ttfb" 'BEGIN{printf "%.1f x curl", m/c}')"
mount_stop

# 5. ls -lR and find over a mount of a big stream, index built (listed and mirrored).
emu_start "$BIG" 1 0
t0=$(now); mirror --cache-path "$WORK/big" --image-only --concurrency 16 --debug 1; t1=$(now)
mount_start "$WORK/mnt_big" "$WORK/big" --no-prefetch --image-only
t2=$(now); entries=$(ls -lR "$WORK/mnt_big" | wc -l); t3=$(now)
t4=$(now); found=$(find "$WORK/mnt_big" -path "$WORK/mnt_big/.flickrfs" -prune -o -type f -print | wc -l); t5=$(now)
rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$MNT_PID/status")
mount_stop
[ "$found" -eq "$BIG" ] || broken "find saw $found files, the stream holds $BIG"
lsr=$(python3 -c "print(f'{$t3-$t2:.1f}')"); fnd=$(python3 -c "print(f'{$t5-$t4:.1f}')")
row "ls -lR over $BIG photos (mounted)" "${lsr} s, $entries lines" "find: ${fnd} s, $found files" \
  "$(awk -v s="$lsr" 'BEGIN{print (s < 10 ? "ok" : "SLOW")}') (target < 10 s)"
row "peak RSS of that mount" "$rss MiB" "(listing + walk)" "$([ "$rss" -lt 150 ] && echo ok || echo OVER) (target < 150 MiB)"
awk -v s="$lsr" 'BEGIN{exit !(s >= 10)}' && broken "ls -lR took $lsr s"
[ "$rss" -lt 150 ] || broken "mount RSS $rss MiB"
row "mirror of $BIG photos (1 KiB images)" "$(python3 -c "print(f'{$t1-$t0:.0f} s, {$BIG/($t1-$t0):.0f} photos/s')")" "" ""

# 6. Peak RSS of a mirror of RSS_N photos (all of it: listing, images, level-2 sidecars).
emu_start "$RSS_N" 4 0
rss=$(rss_of "$BIN" mirror --username manhhai --api-url "$API" $NO_PACING --cache-path "$WORK/rsscache" --debug 1)
row "peak RSS, mirror of $RSS_N photos" "$rss MiB" "info-level 2, 4 KiB images" ""

echo
python3 - "${ROWS[@]}" <<'EOF'
import sys
rows = [r.split("|") for r in sys.argv[1:]]
head = ["figure", "value", "compared with", "ratio / target"]
w = [max(len(x[i]) for x in rows + [head]) for i in range(4)]
line = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
print(line(head)); print(line(["-" * x for x in w]))
for r in rows: print(line(r))
EOF
if [ ${#BROKEN[@]} -gt 0 ]; then
  printf 'bench: BROKEN: %s\n' "${BROKEN[@]}" >&2
  exit 1
fi
