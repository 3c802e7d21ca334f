#!/usr/bin/env bash
# rulecut's benchmark: builds the release binary, generates rule trees, measures rulecut and,
# side by side on the same trees in the same run, standard tools doing the bare minimum, then
# writes docs/performance.md.
#
#   scripts/bench/run.sh [options]
#
# Options (each also an environment variable):
#   --sizes "N ..."   generated rule counts (BENCH_SIZES; default "10000 100000 1000000")
#   --seed N          generator seed (BENCH_SEED; default 7)
#   --repeat N        runs per figure; the median is reported (BENCH_REPEAT; default 3, at
#                     every size: one run of a million rules is too noisy to judge growth by)
#   --fast-repeat N   runs of the millisecond figures (`scheduled`) (BENCH_FAST_REPEAT; 20)
#   --corpus          the corpus only, no generated trees
#   --corpus-dir DIR  the real rule sets (BENCH_CORPUS; default ../shared/corpus from the
#                     project root); measured after the generated trees when present
#   --no-corpus       generated trees only
#   --kinds "K ..."   only these of ips, li, fw, im, on both sides (BENCH_KINDS; default all)
#   --work DIR        keep trees and results there and reuse trees across runs (BENCH_WORK;
#                     default a temporary folder, removed at the end)
#   --out FILE        the report (BENCH_OUT; default docs/performance.md)
#   --no-build        use the rulecut binary already built
#   --perf            also profile `build` with `perf record` (at 100,000 rules, or the largest)
#
# Each figure is the wall time, CPU time (user + system) and peak resident memory of one
# command, from GNU time (`apt-get install time`) and bash's microsecond clock. Nothing here
# installs anything; a missing tool is named with the command that installs it.
set -euo pipefail
# EPOCHREALTIME's decimal separator, and sort orders, follow the locale.
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/scripts/bench"
INVOCATION="scripts/bench/run.sh${*:+ $*}"

SIZES=${BENCH_SIZES-10000 100000 1000000}
SEED=${BENCH_SEED:-7}
REPEAT=${BENCH_REPEAT:-3}
FAST_REPEAT=${BENCH_FAST_REPEAT:-20}
CORPUS=${BENCH_CORPUS:-$ROOT/../shared/corpus}
USE_CORPUS=auto
WORK=${BENCH_WORK:-}
OUT=${BENCH_OUT:-$ROOT/docs/performance.md}
KINDS=${BENCH_KINDS:-ips li fw im}
BUILD=1
PERF=0

# A fixed release time and schedule slots around it: Tuesday 1 December 2026, 09:00 UTC.
AT=2026-12-01T09:00:00Z
SLOT_DUE=2026-12-01T09:30:00Z
NOTHING_DUE=2026-12-04T12:00:00Z
NEXT_SLOT_DUE=2026-12-08T09:30:00Z

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
        --sizes) SIZES=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --fast-repeat) FAST_REPEAT=$2; shift 2 ;;
        --corpus) SIZES=""; USE_CORPUS=yes; shift ;;
        --corpus-dir) CORPUS=$2; shift 2 ;;
        --no-corpus) USE_CORPUS=no; shift ;;
        --kinds) KINDS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --perf) PERF=1; shift ;;
        -h | --help) usage ;;
        *) echo "run.sh: unknown option \`$1\`" >&2; usage ;;
    esac
done

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 2; }

need() {
    local tool=$1 install=$2
    [[ -x $tool ]] || command -v "$tool" >/dev/null 2>&1 ||
        die "\`$tool\` is missing; install it with \`$install\`"
}

need /usr/bin/time "apt-get install time"
need zip "apt-get install zip"
need unzip "apt-get install unzip"
need sha256sum "apt-get install coreutils"
need signify-openbsd "apt-get install signify-openbsd"
need python3 "apt-get install python3"
need cargo "rustup (see rust-lang.org/tools/install)"
SURICATA_UPDATE=$(command -v suricata-update || true)
[[ -n $SURICATA_UPDATE ]] ||
    say "suricata-update is missing: its rows are skipped (install with \`pip install suricata-update\`)"
HYPERFINE=$(command -v hyperfine || true)
HAVE_PERF=$(command -v perf || true)
if ((PERF)) && [[ -z $HAVE_PERF ]]; then
    say "perf is missing: no profile (install with \`apt-get install linux-perf\`)"
    PERF=0
fi

if [[ -z $WORK ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rulecut-bench.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RESULTS="$WORK/results.tsv"
: >"$RESULTS"

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET/release/rulecut"
HASH_RELEASE="$TARGET/release/examples/hash_release"
if ((BUILD)); then
    say "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin rulecut --example hash_release) ||
        die "cargo build --release failed"
fi
[[ -x $BIN && -x $HASH_RELEASE ]] ||
    die "no rulecut binary or hash_release example under \`$TARGET/release\`; run without --no-build"

# [EXPECT=SNIPPET] measure GROUP FIGURE TREE REPEAT PREPARE -- COMMAND...
#
# Runs COMMAND REPEAT times, each after the shell snippet PREPARE (not timed), and appends one
# line per run to results.tsv (wall time in microseconds). Exit status 0 is not enough: after
# each run the snippet EXPECT, when given, checks that the command did its job, and prints why
# not (a command that does nothing fast must not pass for a fast one). Stops at the first
# failure, recording the exit status (97 for a failed expectation) and the first line of
# stderr. Leaves the last run's output in $WORK/last.{stdout,stderr}.
measure() {
    local group=$1 figure=$2 tree=$3 repeat=$4 prepare=$5
    shift 6
    local run start end rc wall rest note
    for ((run = 1; run <= repeat; run++)); do
        [[ -z $prepare ]] || eval "$prepare"
        start=$EPOCHREALTIME
        set +e
        /usr/bin/time -o "$WORK/last.time" -f '%e %U %S %M' "$@" \
            >"$WORK/last.stdout" 2>"$WORK/last.stderr"
        rc=$?
        set -e
        end=$EPOCHREALTIME
        wall=$((${end/./} - ${start/./}))
        rest=$(tail -n 1 "$WORK/last.time")
        note=""
        if ((rc == 0)) && [[ -n ${EXPECT:-} ]] && ! note=$(eval "$EXPECT"); then
            rc=97
            note="exit 0 but ${note:-it did not do its job}"
        elif ((rc != 0)); then
            note=$(grep -m 1 . "$WORK/last.stderr" | tr '\t' ' ' | cut -c 1-200 || true)
            [[ -n $note ]] || note="(no message)"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$figure" "$tree" "$run" "$wall" \
            "${rest// /$'\t'}" "$rc" "$note" >>"$RESULTS"
        if ((rc != 0)); then
            say "$figure ($tree): exit $rc: $note"
            return 1
        fi
    done
    say "$figure ($tree): median of $repeat done"
}

# fact TREE KEY VALUE: a number the report needs besides timings (sizes, counts).
fact() { printf 'fact\t%s\t%s\t%s\n' "$2" "$1" "$3" >>"$RESULTS"; }

# json FILE KEY: a value from generated.json; for zip_args, the paths of the kinds measured,
# one a line.
json() {
    python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))[sys.argv[2]]
if isinstance(value, dict):
    value = [path for kind in sys.argv[3].split() for path in value.get(kind, [])]
print("\n".join(value) if isinstance(value, list) else value)' "$1" "$2" "$KINDS"
}

# configure ROOT: the release files for the kinds measured; sets CONFIG and CONFIG_IPS.
configure() {
    CONFIG="$1/release.yaml"
    CONFIG_IPS=""
    [[ " $KINDS " != *" ips "* ]] || CONFIG_IPS="$1/release-ips.yaml"
    [[ $KINDS != "ips li fw im" ]] || return 0
    local kind pattern=""
    for kind in $KINDS; do pattern+="${pattern:+|}name: $kind,"; done
    CONFIG="$1/release-${KINDS// /-}.yaml"
    grep -v -E '^  - \{ name: ' "$1/release.yaml" >"$CONFIG"
    grep -E "$pattern" "$1/release.yaml" >>"$CONFIG" || {
        say "none of the kinds \`$KINDS\` is in $1/release.yaml: skipped"
        return 1
    }
}

bytes_of() { find "$@" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

# Expectations, for EXPECT: each prints why the last run did not do its job, and fails.
printed_release() {
    local dir
    dir=$(head -n 1 "$WORK/last.stdout")
    [[ -n $dir && -f $dir/SHA256SUMS && -f $dir/manifest.json ]] && return 0
    echo "printed no release folder holding SHA256SUMS and manifest.json on stdout"
    return 1
}
releases_in() { find "$1" -mindepth 1 -maxdepth 1 -type d -name 'RU*' 2>/dev/null | wc -l; }
holds_releases() {
    local found
    found=$(releases_in "$1")
    ((found == $2)) && return 0
    echo "left $found release folders in the output, not $2"
    return 1
}

# Keys for both sides. rulecut's comes from `rulecut keygen`; until that exists every rulecut
# row fails with its message, and the baseline rows still run.
signify-openbsd -G -n -p "$WORK/base.pub" -s "$WORK/base.sec" 2>/dev/null ||
    [[ -s $WORK/base.sec ]] || die "signify-openbsd -G failed"
rm -f "$WORK/rulecut.key" "$WORK/rulecut.pub" "$WORK/rulecut.pem"
set +e
"$BIN" keygen --out "$WORK/rulecut" >/dev/null 2>"$WORK/keygen.stderr"
rc=$?
set -e
if [[ -s $WORK/rulecut.key && -s $WORK/rulecut.pub ]]; then
    RULECUT_SIGNING_KEY=$(cat "$WORK/rulecut.key")
    export RULECUT_SIGNING_KEY
else
    say "rulecut keygen made no key (exit $rc): $(grep -m 1 . "$WORK/keygen.stderr" || echo 'nothing on stderr')"
fi

# Negative controls, not timed: `check` must reject a broken rule and `verify` an altered
# bundle, or their timings mean nothing.
CHECK_REJECTS=0
mkdir -p "$WORK/broken/fw"
printf -- '- id: fw-1\n  name: broken\n  firewall: { action: allow, priority: 3, direction: sideways }\n' \
    >"$WORK/broken/fw/broken.yaml"
printf 'product: Broken\nsources:\n  - { name: fw, kind: firewall, format: yaml, path: fw }\n' \
    >"$WORK/broken/release.yaml"
set +e
"$BIN" check -c "$WORK/broken/release.yaml" >/dev/null 2>&1
rc=$?
set -e
if ((rc == 1)); then
    CHECK_REJECTS=1
else
    say "rulecut check exits $rc on a broken rule, not 1: its rows are marked failed"
fi
VERIFY_CONTROL=pending

# The suricata-update side: an empty configuration whose distribution rule folder is empty, so
# it merges exactly the rules we give it, and an empty file:// source, so it does not fall back
# to fetching ET Open from the network. The rules themselves come in with --local.
mkdir -p "$WORK/su/nodist"
: >"$WORK/su/empty.rules"
printf 'dist-rule-directory: %s\n' "$WORK/su/nodist" >"$WORK/su/update.yaml"

bench_baseline() {
    local tree=$1 root=$2 zip="$WORK/base.zip"
    local -a args
    mapfile -t args < <(json "$root/generated.json" zip_args)
    local from
    from=$(json "$root/generated.json" zip_root)
    measure baseline zip "$tree" "$REPEAT" "rm -f '$zip'" -- \
        sh -c 'cd "$1" && shift && exec zip -q -X -r "$@"' sh "$from" "$zip" "${args[@]}"
    fact "$tree" zip_bytes "$(bytes_of "$zip")"
    measure baseline sha256sum "$tree" "$REPEAT" "" -- \
        sh -c 'sha256sum "$1" >"$1.sha256"' sh "$zip"
    measure baseline signify "$tree" "$REPEAT" "rm -f '$zip.sig'" -- \
        signify-openbsd -S -s "$WORK/base.sec" -m "$zip"
}

bench_rulecut() {
    local tree=$1 root=$2 out="$WORK/out-$1" release=""
    EXPECT=printed_release measure rulecut build "$tree" "$REPEAT" "rm -rf '$out'" -- \
        "$BIN" build -c "$CONFIG" --at "$AT" --out "$out" &&
        release=$(head -n 1 "$WORK/last.stdout")
    cp "$WORK/last.stderr" "$WORK/build-$tree.stderr"
    if [[ -n $release && -d $release ]]; then
        fact "$tree" bundle_bytes "$(bytes_of "$release" -name '*.zip')"
        fact "$tree" release_bytes "$(bytes_of "$release")"
        fact "$tree" notes_bytes "$(bytes_of "$release" -name '*elease-notes*' -o -name 'RELEASE-NOTES*')"
        # What the bundles hold besides the rule files: the compressed size of index.json.
        fact "$tree" index_bytes "$(python3 -c 'import sys, zipfile
print(sum(i.compress_size for b in sys.argv[1:] for i in zipfile.ZipFile(b).infolist()
          if i.filename == "index.json"))' "$release"/*.zip)"
        # Equal compression: the baseline's zip of exactly the entries the bundles hold.
        fact "$tree" rezip_bytes "$(rezip "$release")"
    fi
    local rejects="echo 'accepted a broken rule in the negative control'; false"
    ((CHECK_REJECTS)) && rejects=""
    EXPECT=$rejects measure rulecut check "$tree" "$REPEAT" "" -- \
        "$BIN" check -c "$CONFIG" || true
    if [[ -n $release && -d $release ]]; then
        control_verify "$release"
        local refuses="echo 'accepted an altered bundle in the negative control'; false"
        [[ $VERIFY_CONTROL != refused ]] || refuses=""
        EXPECT=$refuses measure rulecut verify "$tree" "$REPEAT" "" -- \
            "$BIN" verify "$release" --key "$WORK/rulecut.pub" || true
        # verify's hashing alone: the same SHA-256 over every file of the release, one thread.
        fact "$tree" verify_hash_rate "$("$HASH_RELEASE" "$release" 3 | awk '{print $1 / $2}')"
        measure baseline "verify (sha256sum -c)" "$tree" "$REPEAT" "" -- \
            sh -c 'cd "$1" && sha256sum --quiet -c SHA256SUMS' sh "$release" || true
        measure baseline "verify (signify -C)" "$tree" "$REPEAT" "" -- \
            sh -c 'cd "$1" && signify-openbsd -q -C -p "$2" -x SHA256SUMS.sig' sh "$release" \
            "$WORK/rulecut.pub" || true
    else
        measure rulecut verify "$tree" 1 "" -- sh -c 'echo "no release: build failed" >&2; exit 2'
    fi
    rm -rf "$out"
    bench_scheduled "$tree" "$root" || true
}

# rezip RELEASE: the bytes of `zip -q -X -r` of each bundle's own entries, added up.
rezip() {
    local bundle total=0 dir="$WORK/rezip"
    for bundle in "$1"/*.zip; do
        rm -rf "$dir" && mkdir -p "$dir/files"
        (cd "$dir/files" && unzip -q "$bundle" && zip -q -X -r ../again.zip .)
        total=$((total + $(bytes_of "$dir/again.zip")))
    done
    rm -rf "$dir"
    echo "$total"
}

# Once, on the first release built: a copy with one byte of a bundle changed must be refused.
control_verify() {
    [[ $VERIFY_CONTROL == pending ]] || return 0
    local copy="$WORK/altered" bundle
    rm -rf "$copy"
    cp -a "$1" "$copy"
    bundle=$(find "$copy" -name '*.zip' | sort | head -n 1)
    [[ -n $bundle ]] || { VERIFY_CONTROL=untested; return 0; }
    printf 'X' | dd of="$bundle" bs=1 seek=100 conv=notrunc status=none
    set +e
    "$BIN" verify "$copy" --key "$WORK/rulecut.pub" >/dev/null 2>&1
    local rc=$?
    set -e
    if ((rc == 1)); then VERIFY_CONTROL=refused; else
        VERIFY_CONTROL=accepted
        say "rulecut verify exits $rc on an altered bundle, not 1: its rows are marked failed"
    fi
    rm -rf "$copy"
}

# `scheduled`: cut the slot of 1 December, keep that state, then from it run far from any slot
# (nothing due: the ledger already holds the latest slot) and at the next slot with unchanged
# rules (due, nothing changed). Nothing due writes nothing, so its runs follow one another;
# before each due-but-unchanged run the top-level files it rewrites (latest.json, its
# signature, the ledger) are restored, and flushed to disk so that no write-back of the
# restore lands in the timed run.
bench_scheduled() {
    local tree=$1 root=$2 dist="$root/dist" saved="$WORK/dist-saved-$1"
    rm -rf "$saved"
    EXPECT="holds_releases '$dist' 1" measure rulecut "scheduled, first cut" "$tree" 1 \
        "rm -rf '$dist'" -- \
        "$BIN" scheduled -c "$CONFIG" --now "$SLOT_DUE" || {
        local figure
        for figure in "scheduled, nothing due" "scheduled, due, unchanged"; do
            measure rulecut "$figure" "$tree" 1 "" -- \
                sh -c 'echo "no ledger: the first cut failed" >&2; exit 2' || true
        done
        return 1
    }
    mkdir -p "$saved"
    find "$dist" -maxdepth 1 -type f -exec cp -a {} "$saved/" \;
    sync
    EXPECT="holds_releases '$dist' 1" measure rulecut "scheduled, nothing due" "$tree" \
        "$FAST_REPEAT" "" -- "$BIN" scheduled -c "$CONFIG" --now "$NOTHING_DUE" || true
    fact "$tree" nothing_due_said "$(outcome)"
    if [[ -n $HYPERFINE ]]; then
        # A second opinion on the one figure measured in milliseconds, with warm-up runs.
        "$HYPERFINE" -N -w 3 -r "$FAST_REPEAT" --export-json "$WORK/hyperfine.json" \
            "$BIN scheduled -c $CONFIG --now $NOTHING_DUE" >/dev/null 2>&1 &&
            fact "$tree" nothing_due_hyperfine_s "$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$WORK/hyperfine.json")" || true
    fi
    # skip_unchanged: the slot is due but no rule changed, so no release is cut.
    local restore="cp -a '$saved'/. '$dist'/ && sync"
    EXPECT="holds_releases '$dist' 1" measure rulecut "scheduled, due, unchanged" "$tree" \
        "$REPEAT" "$restore" -- "$BIN" scheduled -c "$CONFIG" --now "$NEXT_SLOT_DUE" || true
    fact "$tree" due_unchanged_said "$(outcome)"
    rm -rf "$saved" "$dist"
}

# What the last `scheduled` run said it did: its last line on stderr, less log lines.
outcome() { grep -v -e '^ *INFO' -e '^ *WARN' "$WORK/last.stderr" | tail -n 1 | tr '\t' ' ' | cut -c 1-200; }

# Intrusion prevention alone, against suricata-update merging the same files.
bench_ips() {
    local tree=$1 root=$2 ips
    [[ -n $CONFIG_IPS ]] || return 0
    ips=$(json "$root/generated.json" ips_dir)
    EXPECT=printed_release measure rulecut "build, IPS only" "$tree" "$REPEAT" \
        "rm -rf '$WORK/out-ips'" -- \
        "$BIN" build -c "$CONFIG_IPS" --at "$AT" --out "$WORK/out-ips" || true
    rm -rf "$WORK/out-ips"
    # Reading, parsing and checking the same rules: the part of the job suricata-update does too.
    measure rulecut "check, IPS only" "$tree" "$REPEAT" "" -- "$BIN" check -c "$CONFIG_IPS" || true
    if [[ -n $SURICATA_UPDATE ]]; then
        EXPECT="[[ -s '$WORK/su/out/suricata.rules' ]] || { echo 'wrote no suricata.rules'; false; }" \
            measure suricata-update merge "$tree" "$REPEAT" \
            "rm -rf '$WORK/su/out' '$WORK/su/data'" -- \
            "$SURICATA_UPDATE" -q -c "$WORK/su/update.yaml" -D "$WORK/su/data" --no-test \
            --no-reload --url "file://$WORK/su/empty.rules" --local "$ips" -o "$WORK/su/out" ||
            true
        rm -rf "$WORK/su/out" "$WORK/su/data"
    fi
}

# Where `build` spends its time: self time by symbol, and the inclusive time of rulecut's own
# functions (the pipeline stages that are not inlined). DWARF unwinding, because release
# builds keep no frame pointers; at a low rate, so that perf report stays quick.
bench_perf() {
    # `head` closes its pipe once it has its lines, on purpose: that is no failure here.
    local -
    set +o pipefail
    local tree=$1 data="$WORK/perf.data"
    say "perf record: build of $tree rules (${CONFIG##*/})"
    rm -rf "$WORK/out-perf"
    perf record -q -F 199 --call-graph dwarf,16384 -o "$data" -- \
        "$BIN" build -c "$CONFIG" --at "$AT" --out "$WORK/out-perf" \
        >/dev/null 2>"$WORK/perf.stderr" || say "perf record: build failed"
    {
        echo "self time, by symbol:"
        perf report -i "$data" --stdio --no-children -g none --sort dso,symbol \
            --percent-limit 1 2>/dev/null | grep -v -e '^#' -e '^$' | head -n 20
        echo
        echo "time including callees, rulecut's own functions:"
        perf report -i "$data" --stdio --children -g none --sort symbol \
            --percent-limit 1 2>/dev/null | grep -e 'rulecut::' | grep -v -e 'rulecut::main' \
            -e 'cli::run' | head -n 25
    } | sed -e 's/ *- *- *$//' -e 's/ *$//' | cut -c 1-150 >"$WORK/perf-$tree.txt"
    rm -rf "$WORK/out-perf" "$data"
}

bench_tree() {
    local tree=$1 root=$2
    configure "$root" || return 0
    say "tree $tree: $(json "$root/generated.json" rules) rules, $(json "$root/generated.json" bytes) bytes; measuring ${CONFIG##*/}"
    bench_baseline "$tree" "$root"
    bench_rulecut "$tree" "$root" || true
    bench_ips "$tree" "$root"
}

GENERATOR=$(python3 "$HERE/generate.py" --digest)
LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
largest=""
for size in $SIZES; do
    root="$WORK/tree-$size-$SEED"
    if [[ ! -f $root/generated.json ]] ||
        [[ $(json "$root/generated.json" generator) != "$GENERATOR" ]]; then
        rm -rf "$root"
        say "generating $size rules (seed $SEED)"
        python3 "$HERE/generate.py" "$size" "$SEED" "$root"
    fi
    bench_tree "$size" "$root"
    largest=$size
done

if [[ $USE_CORPUS != no ]]; then
    if [[ -d $CORPUS/ips && -d $CORPUS/log-inspection ]]; then
        rm -rf "$WORK/corpus"
        python3 "$HERE/generate.py" --corpus "$CORPUS" "$WORK/corpus"
        bench_tree corpus "$WORK/corpus"
    elif [[ $USE_CORPUS == yes ]]; then
        die "no corpus at \`$CORPUS\`"
    else
        say "no corpus at \`$CORPUS\`: skipped"
    fi
fi

# The profile is taken at 100,000 rules when that size ran, else at the largest.
profiled=$largest
[[ " $SIZES " != *" 100000 "* ]] || profiled=100000
if ((PERF)) && [[ -n $profiled ]] && configure "$WORK/tree-$profiled-$SEED"; then
    bench_perf "$profiled"
fi
LOAD_AFTER=$(cut -d ' ' -f 1-3 /proc/loadavg)

python3 "$HERE/report.py" --results "$RESULTS" --work "$WORK" --out "$OUT" \
    --command "$INVOCATION" --started "$STARTED" --load "$LOAD_BEFORE / $LOAD_AFTER" --seed "$SEED" \
    --root "$ROOT" --bin "$BIN" --kinds "$KINDS"
say "wrote ${OUT#"$ROOT/"}"
