#!/usr/bin/env bash
# Soak: a mirror under 10% faults while the stream changes (growth at the head, deletions,
# photos made public in the middle, edits), SIGKILLed at random moments, then a
# mount of the same cache, also under faults and growth, SIGKILLed twice and mounted again at
# the same place (the stale mountpoint is cleaned up by the next mount), with a `mirror --watch`
# of the same cache running beside it, SIGKILLed once and started again. Then, as root, a
# disk-full episode: a mirror into a 1 MiB tmpfs must stop with one line and leave no temp
# file, and finish byte-exact once the tmpfs is enlarged. At the end every image md5 and every
# sidecar must equal the emulator's /_expected, no temp or partial file may remain, keys must
# be absent from every log and from `ps`, and the keys file / cache dir modes must be right.
#
#   scripts/soak.sh           # full: 5,000 photos, 5 SIGKILLs (minutes)
#   scripts/soak.sh --short   # CI: 1,000 photos, 3 SIGKILLs (well under 5 minutes)
# Exits non-zero when a promise is broken; prints the figures otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

PHOTOS=5000 KILLS=5 GROW=300
if [ "${1:-}" = "--short" ]; then PHOTOS=1000 KILLS=3 GROW=120; fi
KEY=0123456789abcdef0123456789abcdef
SECRET=soaksecret0123
USER_NAME=manhhai
# The soak is about faults, kills and growth, not pacing: at Flickr's 3,600 calls/hour a
# level-2 mirror of 5,000 photos would take most of an hour.
NO_PACING="--rate-limit 100000000"

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/flickrfs
WORK=$(mktemp -d /tmp/flickrfs-soak.XXXXXX)
CACHE=$WORK/cache
MNT=$WORK/mnt
LOGS=$WORK/logs
mkdir -p "$LOGS" "$MNT"
EMU_PID= MOUNT_PID= WATCH_PID= SMALL=
cleanup() {
  local rc=$?
  [ -n "$MOUNT_PID" ] && kill "$MOUNT_PID" 2>/dev/null || true
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
  grep -q " $MNT " /proc/self/mountinfo && fusermount3 -u -z "$MNT" 2>/dev/null || true
  [ -n "$SMALL" ] && umount -l "$SMALL" 2>/dev/null || true
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null || true
  # A failed run keeps its logs (the cache goes: it can be large).
  if [ "$rc" != 0 ]; then
    KEPT=$(mktemp -d /tmp/flickrfs-soak-logs.XXXXXX)
    cp -r "$LOGS"/. "$KEPT"/ 2>/dev/null || true
    echo "soak: logs kept in $KEPT" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "soak: FAIL: $*" >&2; exit 1; }

"$BIN" emulator --port 0 --photos "$PHOTOS" --seed 99 >"$LOGS/emulator.out" 2>"$LOGS/emulator.err" &
EMU_PID=$!
for _ in $(seq 100); do grep -q listening "$LOGS/emulator.out" 2>/dev/null && break; sleep 0.1; done
API=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$LOGS/emulator.out")
[ -n "$API" ] || fail "emulator did not start"
BASE=${API%/services/rest/}
faults() { curl -sf "$BASE/_faults?rate_5xx=$1&rate_105=$1&rate_429=$2&retry_after=1&drop_rate=$1" >/dev/null; }
faults 0.033 0.01   # about 10% of requests fail one way or another

# Keys: saved once to the keys file; every later command finds them there (not in argv).
FLICKR_API_KEY=$KEY FLICKR_API_SECRET=$SECRET "$BIN" mirror --username "$USER_NAME" --cache-path "$CACHE" \
  --api-url "$API" $NO_PACING --save-api-keys --limit 1 --image-only --debug 4 >"$LOGS/save.log" 2>&1 || fail "first run: $(tail -1 "$LOGS/save.log")"

start=$(date +%s)
for k in $(seq "$KILLS"); do
  "$BIN" mirror --username "$USER_NAME" --cache-path "$CACHE" --api-url "$API" $NO_PACING --info-level 2 --debug 4 \
    >"$LOGS/mirror.$k.log" 2>&1 &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * 2.5 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # A live stream: growth at the head, and deletions, late-public photos and edits anywhere.
  curl -sf "$BASE/_grow?n=$((GROW / KILLS))" >/dev/null
  curl -sf "$BASE/_delete?n=5&where=random" >/dev/null
  curl -sf "$BASE/_insert?n=5" >/dev/null
  curl -sf "$BASE/_edit?n=10" >/dev/null
  echo "soak: SIGKILL $k/$KILLS after $(($(date +%s) - start))s"
done
"$BIN" mirror --username "$USER_NAME" --cache-path "$CACHE" --api-url "$API" $NO_PACING --info-level 2 --debug 4 \
  >"$LOGS/mirror.final.log" 2>&1 || fail "final mirror: $(tail -1 "$LOGS/mirror.final.log")"
mirror_secs=$(($(date +%s) - start))

# The mount, still under faults, while the stream grows again.
# Up means the mount said so (FLICKRFS_READY_FILE): `mountpoint -q` also says yes for the stale
# mount a killed one leaves.
start_mount() {
  rm -f "$WORK/ready"
  FLICKRFS_READY_FILE=$WORK/ready "$BIN" mount "$USER_NAME" "$MNT" --cache-path "$CACHE" --api-url "$API" \
    $NO_PACING --refresh 2s --debug 4 >>"$LOGS/mount.log" 2>&1 &
  MOUNT_PID=$!
  for _ in $(seq 300); do [ -e "$WORK/ready" ] && break; kill -0 "$MOUNT_PID" 2>/dev/null || break; sleep 0.1; done
  [ -e "$WORK/ready" ] || fail "mount did not come up: $(tail -3 "$LOGS/mount.log")"
}
start_watch() {
  "$BIN" mirror --username "$USER_NAME" --cache-path "$CACHE" --api-url "$API" $NO_PACING --info-level 2 \
    --watch 2s --debug 4 >>"$LOGS/watch.log" 2>&1 &
  WATCH_PID=$!
}
start_mount
# One cache, two processes: a mirror keeps it up to date while the mount serves and prefetches.
start_watch
# Crash and remount: kill -9 leaves a stale mountpoint (ENOTCONN); `mount` at the same place
# must clean it up by itself and serve again.
for c in 1 2; do
  sleep 1
  kill -9 "$MOUNT_PID"; wait "$MOUNT_PID" 2>/dev/null || true
  MOUNT_PID=
  stat -f "$MNT" >/dev/null 2>&1 && fail "kill -9 of the mount left no stale mountpoint?"
  start_mount
  ls "$MNT" >/dev/null || fail "remount $c does not serve"
  echo "soak: mount SIGKILLed and mounted again ($c/2)"
  if [ "$c" = 1 ]; then
    kill -9 "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true
    start_watch
    echo "soak: mirror --watch beside the mount SIGKILLed and started again"
  fi
done
ps -ww -o args= -p "$MOUNT_PID" >"$LOGS/ps.txt"
curl -sf "$BASE/_grow?n=20" >/dev/null
# Wait until the new photos are visible and prefetched.
python3 - "$BASE" "$MNT" "$CACHE/$USER_NAME" <<'EOF' || fail "mount did not catch up"
import json, sys, time, urllib.request, hashlib, os
base, mnt, cache = sys.argv[1:4]
exp = json.load(urllib.request.urlopen(base + "/_expected"))
deadline = time.time() + 240
def path(root, pid, ext):
    h = hashlib.md5(pid.encode()).hexdigest()
    return os.path.join(root, *h[:4], f"{h}.{ext}")
missing = None
while time.time() < deadline:
    missing = [p for p in exp["photos"] if not os.path.exists(path(mnt, p["id"], p["ext"]))]
    if not missing:
        break
    time.sleep(1)
if missing:
    sys.exit(f"{len(missing)} photos not visible in the mount")
# Read the newest 50 through the mount (cold ones are fetched on access).
for p in exp["photos"][:50]:
    with open(path(mnt, p["id"], p["ext"]), "rb") as f:
        if hashlib.md5(f.read()).hexdigest() != p["best_md5"]:
            sys.exit(f"wrong bytes through the mount for {p['id']}")
while time.time() < deadline:
    if all(os.path.exists(path(cache, p["id"], p["ext"])) and os.path.exists(path(cache, p["id"], "json")) for p in exp["photos"]):
        break
    time.sleep(1)
EOF
kill -TERM "$WATCH_PID"
rc=0; wait "$WATCH_PID" || rc=$?
# 130: interrupted, and the next run resumes (`mirror` says so); anything else is a failure.
[ "$rc" = 130 ] || fail "mirror --watch exited $rc on SIGTERM: $(tail -2 "$LOGS/watch.log")"
WATCH_PID=
kill -TERM "$MOUNT_PID"
wait "$MOUNT_PID" || fail "mount exited non-zero on SIGTERM"
MOUNT_PID=
mountpoint -q "$MNT" && fail "SIGTERM left the mount in place"
faults 0 0

# Verdict: bytes, sidecars, leftovers, double downloads.
# Kills that can cost a download: the mirror's, the mount's two and the watcher's one.
python3 - "$BASE" "$CACHE/$USER_NAME" "$((KILLS + 3))" <<'EOF' || fail "the verdict above"
import json, sys, urllib.request, hashlib, os
base, root = sys.argv[1:3]
exp = json.load(urllib.request.urlopen(base + "/_expected"))
stats = json.load(urllib.request.urlopen(base + "/_stats"))
bad = []
for p in exp["photos"]:
    h = hashlib.md5(p["id"].encode()).hexdigest()
    d = os.path.join(root, *h[:4])
    try:
        with open(os.path.join(d, f"{h}.{p['ext']}"), "rb") as f:
            if hashlib.md5(f.read()).hexdigest() != p["best_md5"]:
                bad.append(f"{p['id']}: wrong md5")
        with open(os.path.join(d, f"{h}.json"), encoding="utf-8") as f:
            j = json.load(f)
        if j["title"]["content"] != p["title"] or j["description"]["content"] != p["description"] \
                or [c["content"] for c in j["comments"]] != p["comments"]:
            bad.append(f"{p['id']}: sidecar differs")
    except (OSError, KeyError, ValueError) as e:
        bad.append(f"{p['id']}: {e}")
leftovers = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs if f.endswith((".flickrfs-tmp", ".flickrfs-part"))]
for i in exp.get("deleted", []):
    h = hashlib.md5(i.encode()).hexdigest()
    try:
        with open(os.path.join(root, *h[:4], f"{h}.json"), encoding="utf-8") as f:
            if "deleted_at" not in json.load(f):
                bad.append(f"{i}: deleted on Flickr but its sidecar does not say so")
    except OSError:
        pass  # deleted before it was ever cached
twice = sum(1 for n in stats["image_gets_by_photo"].values() if n > 1)
print(f"soak: photos={len(exp['photos'])} wrong={len(bad)} leftovers={len(leftovers)} "
      f"downloaded_twice={twice} api_calls={stats['total_calls']} faults={stats['faults_injected']}")
if bad:
    sys.exit("soak: FAIL: " + "; ".join(bad[:5]))
if leftovers:
    # Whose file it is says where to look: a photo still in the stream, or one deleted since.
    state = {hashlib.md5(p["id"].encode()).hexdigest(): "in the stream" for p in exp["photos"]}
    state.update({hashlib.md5(i.encode()).hexdigest(): "deleted on Flickr" for i in exp.get("deleted", [])})
    def who(path):
        name = os.path.basename(path).lstrip(".")
        return f"{path} ({state.get(name[:32], 'unknown photo')}, {os.path.getsize(path)} bytes)"
    sys.exit("soak: FAIL: temp files left: " + ", ".join(who(p) for p in leftovers[:5]))
# A SIGKILL can land after the image host sent a whole image and before it reached the disk:
# that image is fetched again, at most one per download in flight (8) per kill. More than
# that is a bug (a resume that restarts from zero, a photo processed twice).
if twice > 8 * int(sys.argv[3]):
    sys.exit(f"soak: FAIL: {twice} images downloaded in full more than once")
EOF

# Disk full (needs root for a tmpfs): the mirror stops with one line naming the cache, leaves no
# temp or partial file, damages nothing, and finishes byte-exact once there is room.
if [ "$(id -u)" = 0 ]; then
  SMALL=$WORK/small
  mkdir -p "$SMALL"
  mount -t tmpfs -o size=1m,mode=0700 tmpfs "$SMALL"
  set +e
  FLICKR_API_KEY=$KEY FLICKR_API_SECRET=$SECRET "$BIN" mirror --username "$USER_NAME" --cache-path "$SMALL/cache" --api-url "$API" $NO_PACING \
    --info-level 0 >"$LOGS/full.log" 2>&1
  rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "a mirror into a full disk exited 0"
  last=$(tail -1 "$LOGS/full.log")
  case "$last" in
    *"no space left on device in $SMALL/cache/$USER_NAME"*"free some space and run again"*) ;;
    *) fail "disk full: unexpected last line: $last" ;;
  esac
  left=$(find "$SMALL/cache" -name '*.flickrfs-tmp' -o -name '*.flickrfs-part' | wc -l)
  [ "$left" = 0 ] || fail "disk full left $left temp files"
  mount -o remount,size=512m "$SMALL"
  FLICKR_API_KEY=$KEY FLICKR_API_SECRET=$SECRET "$BIN" mirror --username "$USER_NAME" --cache-path "$SMALL/cache" --api-url "$API" $NO_PACING \
    --info-level 0 >"$LOGS/full.rerun.log" 2>&1 || fail "rerun after freeing space: $(tail -1 "$LOGS/full.rerun.log")"
  python3 - "$BASE" "$SMALL/cache/$USER_NAME" <<'EOF' || fail "the disk-full verdict above"
import json, sys, urllib.request, hashlib, os
base, root = sys.argv[1:3]
exp = json.load(urllib.request.urlopen(base + "/_expected"))
bad = 0
for p in exp["photos"]:
    h = hashlib.md5(p["id"].encode()).hexdigest()
    try:
        with open(os.path.join(root, *h[:4], f"{h}.{p['ext']}"), "rb") as f:
            bad += hashlib.md5(f.read()).hexdigest() != p["best_md5"]
    except OSError:
        bad += 1
leftovers = [f for _, _, fs in os.walk(root) for f in fs if f.endswith((".flickrfs-tmp", ".flickrfs-part"))]
print(f"soak: disk full: stopped with one line, then {len(exp['photos'])} photos, wrong={bad}, leftovers={len(leftovers)}")
if bad or leftovers:
    sys.exit("soak: FAIL: disk-full episode")
EOF
  umount -l "$SMALL"; SMALL=
else
  echo "soak: disk-full episode skipped (it mounts a tmpfs, which needs root)"
fi

# Secrets and modes.
if grep -l -e "$KEY" -e "$SECRET" "$LOGS"/*.log "$LOGS/ps.txt" >/dev/null 2>&1; then
  fail "an API key appears in: $(grep -l -e "$KEY" -e "$SECRET" "$LOGS"/*.log "$LOGS/ps.txt" | tr '\n' ' ')"
fi
[ "$(stat -c %a "$CACHE/flickr_keys")" = 600 ] || fail "keys file mode $(stat -c %a "$CACHE/flickr_keys")"
[ "$(stat -c %a "$CACHE")" = 700 ] || fail "cache dir mode $(stat -c %a "$CACHE")"
echo "soak: ok: $KILLS SIGKILLs, mirror ${mirror_secs}s, keys absent from logs and ps, keys 0600, cache 0700"
