#!/usr/bin/env python3
"""Score kling-preflight's subject rules against the labelled people set (people/labels.toml).

Why: the person/face rules (I010 I011 I016 V015 V017 V018 V020 P001) are judgements, so their
thresholds need a labelled set and their quality needs numbers: precision and recall per rule, on a
calibration split (thresholds may be tuned on it) and a held-out split (never tuned on).

It runs the given binary once with `check --format json -p strict` over every present image and
video, and once per pair with `submit --dry-run` (pair rules only run there; nothing is sent), then
compares the codes that fired with the labels. Items whose source is absent (no ../shared/corpus, no
fetched mirror of a Git repository) are skipped and listed. Only the Python standard library and the
ffmpeg CLI (for the derived clips) are used.

    scripts/people-eval.py [--bin target/release/kling-preflight] [--split all|calibration|held-out]
                           [--json OUT.json] [--keep-work DIR] [--only ID-PREFIX,...] [--lint]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ["I010", "I011", "I016", "V015", "V017", "V018", "V020", "P001"]
# The binary's framing words and the labels' ones.
FRAMING = {"head-shot": "head", "half-body": "half", "full-body": "full"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=str(ROOT / "target/release/kling-preflight"))
    p.add_argument("--labels", default=str(ROOT / "people/labels.toml"))
    p.add_argument("--corpus", default=os.environ.get("PEOPLE_CORPUS", str(ROOT / "../shared/corpus")))
    p.add_argument("--mirror", default=os.environ.get("PEOPLE_MIRROR", "/work/.mirror"))
    p.add_argument("--split", choices=["all", "calibration", "held-out"], default="all")
    p.add_argument("--json", help="also write the per-item results and the scores here")
    p.add_argument("--keep-work", help="make derived clips and extracted files here (kept)")
    p.add_argument("--only", help="score only items whose id starts with one of these comma-separated prefixes")
    p.add_argument("--lint", action="store_true", help="only check labels.toml and the committed files, then exit")
    return p.parse_args()


SOURCE_KINDS = ("repo", "corpus", "git", "derive")
COUNTS, FRAMINGS, FACES = ("0", "1", "2+"), ("head", "half", "full", "none"), ("clear", "small", "mid", "profile", "none")


def lint(items_list):
    """Problems in the labels (empty when they are consistent): a typo must not silently drop an item."""
    errs, ids = [], {}
    for n, it in enumerate(items_list):
        where = f"item {n + 1} ({it.get('id', '?')})"
        if it.get("id") in ids:
            errs.append(f"{where}: duplicate id")
        ids[it.get("id")] = it
        if it.get("split") not in ("calibration", "held-out"):
            errs.append(f"{where}: split must be calibration or held-out")
        fire, quiet = set(it.get("fire", [])), set(it.get("quiet", []))
        for c in (fire | quiet) - set(RULES):
            errs.append(f"{where}: unknown rule {c}")
        for c in fire & quiet:
            errs.append(f"{where}: {c} both in fire and quiet")
        kind = it.get("kind")
        if kind == "pair":
            continue
        if kind not in ("image", "video"):
            errs.append(f"{where}: kind must be image, video or pair")
        if it.get("source", "").partition(":")[0] not in SOURCE_KINDS:
            errs.append(f"{where}: source must start with one of {', '.join(SOURCE_KINDS)}")
        if it.get("source", "").startswith("derive:") and "filter" not in it:
            errs.append(f"{where}: a derived item needs a filter")
        if it.get("source", "").startswith("repo:") and not (ROOT / it["source"][5:]).is_file():
            errs.append(f"{where}: committed file {it['source'][5:]} missing")
        if it.get("person_count") not in COUNTS or it.get("framing") not in FRAMINGS:
            errs.append(f"{where}: person_count must be one of {COUNTS}, framing one of {FRAMINGS}")
        if "face" in it and it["face"] not in FACES:
            errs.append(f"{where}: face must be one of {FACES}")
        for c in fire | quiet:
            if kind == "image" and c[0] != "I" or kind == "video" and c[0] != "V":
                errs.append(f"{where}: {c} does not apply to a {kind}")
    for it in items_list:
        if it.get("kind") == "pair":
            for role, want in (("image", "image"), ("video", "video")):
                ref = ids.get(it.get(role))
                if ref is None or ref.get("kind") != want:
                    errs.append(f"pair {it.get('id')}: {role} {it.get(role)!r} is not an {want} item")
            if (set(it.get("fire", [])) | set(it.get("quiet", []))) != {"P001"}:
                errs.append(f"pair {it.get('id')}: only P001 is scored on pairs")
        elif it.get("source", "").startswith("derive:"):
            for ref in it["source"][7:].split("+"):
                if ref not in ids:
                    errs.append(f"item {it['id']}: derived from unknown item {ref}")
    return errs


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


class Resolver:
    """Turns an item's `source` into a file path, or a reason why it is absent."""

    def __init__(self, args, items, work):
        self.args, self.items, self.work = args, items, work
        self.done = {}

    def path(self, item_id):
        if item_id not in self.done:
            self.done[item_id] = self._resolve(self.items[item_id])
        return self.done[item_id]

    def _resolve(self, it):
        kind, _, rest = it["source"].partition(":")
        if kind == "repo":
            p = ROOT / rest
            return (p, None) if p.is_file() else (None, f"{p} missing")
        if kind == "corpus":
            p = Path(self.args.corpus) / rest
            return (p, None) if p.is_file() else (None, f"corpus file {p} absent")
        if kind == "git":
            return self._git(it["id"], rest, it.get("blob"))
        if kind == "derive":
            return self._derive(it, rest.split("+"))
        return None, f"unknown source kind {kind!r}"

    def _git(self, item_id, rest, blob):
        """The file's git blob id names its exact bytes, so any clone that holds the object will do,
        whichever commit its snapshot is at; commit:path is the fallback for labels without one."""
        repo, _, tail = rest.partition("@")
        commit, _, path = tail.partition(":")
        gitdir = Path(self.args.mirror) / repo.replace("/", "+") / "repo"
        if not gitdir.is_dir():
            return None, f"no bare clone of {repo} at {gitdir}"
        out = self.work / f"{item_id}{Path(path).suffix}"
        for obj in ([blob] if blob else []) + [f"{commit}:{path}"]:
            with open(out, "wb") as f:
                r = subprocess.run(["git", "--git-dir", str(gitdir), "cat-file", "blob", obj],
                                   stdout=f, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                if obj != blob and blob:
                    return None, f"{repo}@{commit[:12]}:{path} differs from the labelled blob {blob[:12]}"
                return out, None
        out.unlink(missing_ok=True)
        return None, f"{repo}@{commit[:12]}:{path} (blob {(blob or '?')[:12]}) not in the clone at {gitdir}"

    def _derive(self, it, sources):
        paths = []
        for s in sources:
            p, why = self.path(s)
            if p is None:
                return None, f"source {s} absent: {why}"
            paths.append(p)
        if shutil.which("ffmpeg") is None:
            return None, "ffmpeg CLI not found"
        out = self.work / f"{it['id']}.mp4"
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for p in paths:
            # A still photo is one input frame: the filter makes the clip's frames (zoompan's d).
            still = p.suffix.lower() in (".png", ".jpg", ".jpeg")
            cmd += ["-i", str(p)] if still else ["-t", "5", "-i", str(p)]
        filt = it["filter"]
        cmd += ["-filter_complex" if len(paths) > 1 else "-vf", filt if len(paths) > 1 else filt + ",format=yuv420p"]
        cmd += ["-t", "5", "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out)]
        r = run(cmd)
        if r.returncode != 0:
            return None, f"ffmpeg failed: {r.stderr.strip()[:300]}"
        return out, None


def known_rules(binary):
    return {c for c in RULES if run([binary, "explain", c]).returncode == 0}


def check_files(binary, paths):
    """One `check` over all files; returns {path: (codes, messages, framing)}."""
    r = run([binary, "check", "--format", "json", "-p", "strict", "--isolated", "--no-cache", "-q",
             *[str(p) for p in paths]])
    if r.returncode not in (0, 1):
        sys.exit(f"people-eval: `check` exited {r.returncode}: {r.stderr.strip()[:500]}")
    res = {}
    for f in json.loads(r.stdout)["files"]:
        diags = f.get("diagnostics") or []
        subject = (f.get("facts") or {}).get("subject") or {}
        # Keyed by the real path: a binary may print paths as given or canonicalised.
        res[os.path.realpath(f["path"])] = (
            {d["code"] for d in diags},
            {d["code"]: d.get("message", "") for d in diags},
            FRAMING.get(subject.get("framing"), subject.get("framing")),
        )
    return res


def check_pair(binary, image, video, work):
    """Pair rules run at submit time: a dry run with placeholder URLs (nothing is sent)."""
    secrets = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k not in secrets}
    r = run([binary, "submit", "--provider", "kling", "--dry-run", "--image", str(image), "--video", str(video),
             "--image-url", "https://example.invalid/i.jpg", "--video-url", "https://example.invalid/v.mp4",
             "--ledger", str(work / "ledger.jsonl"), "--out-dir", str(work / "out")], env=env, cwd=work)
    codes, msgs = set(), {}
    for line in (r.stdout + r.stderr).splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("error", "warning", "info") and words[1] in RULES:
            codes.add(words[1])
            msgs[words[1]] = line.strip()
    if r.returncode not in (0, 1):
        return None, f"submit --dry-run exited {r.returncode}: {r.stderr.strip()[:300]}"
    return (codes, msgs), None


def score(rows, rules):
    """Precision/recall per rule from rows of (item, fired codes)."""
    table = {}
    for rule in rules:
        tp = fp = fn = tn = 0
        misses = []
        for it, fired, msgs in rows:
            got = rule in fired
            if rule in it["fire"]:
                tp, fn = tp + got, fn + (not got)
                if not got:
                    misses.append(f"miss  {it['id']}: {it.get('note', '')}")
            elif rule in it["quiet"]:
                fp, tn = fp + got, tn + (not got)
                if got:
                    misses.append(f"false {it['id']}: {msgs.get(rule, '')}")
        table[rule] = dict(tp=tp, fp=fp, fn=fn, tn=tn, misses=misses)
    return table


def fmt(x, n):
    return f"{x / n:.2f}" if n else "  - "


def print_table(title, table, rules_in_bin):
    print(f"\n{title}")
    print(f"{'rule':<6}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}")
    for rule, t in table.items():
        if rule not in rules_in_bin:
            print(f"{rule:<6}  not in this binary (positives {t['tp'] + t['fn']}, negatives {t['fp'] + t['tn']})")
            continue
        p, r = fmt(t["tp"], t["tp"] + t["fp"]), fmt(t["tp"], t["tp"] + t["fn"])
        print(f"{rule:<6}{p:>10}{r:>8}{t['tp']:>5}{t['fp']:>5}{t['fn']:>5}{t['tn']:>5}")
    for rule, t in table.items():
        if rule in rules_in_bin and t["misses"]:
            print(f"  {rule}:")
            for m in t["misses"]:
                print(f"    {m}")


def main():
    args = parse_args()
    try:
        items_list = tomllib.loads(Path(args.labels).read_text())["item"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as e:
        sys.exit(f"people-eval: cannot read the labels {args.labels}: {e}")
    errs = lint(items_list)
    if errs:
        sys.exit(f"people-eval: {args.labels} has {len(errs)} problem(s):\n  " + "\n  ".join(errs))
    if args.lint:
        n = sum(it["kind"] == "pair" for it in items_list)
        print(f"people-eval: {args.labels}: {len(items_list) - n} files and {n} pairs, labels consistent")
        return
    if not Path(args.bin).is_file():
        sys.exit(f"people-eval: no binary at {args.bin}; build it (cargo build --release) or pass --bin")
    items = {it["id"]: it for it in items_list}
    if args.only:
        prefixes = tuple(args.only.split(","))
        items_list = [it for it in items_list if it["id"].startswith(prefixes)]
    rules_in_bin = known_rules(args.bin)
    work_ctx = tempfile.TemporaryDirectory(prefix="people-eval-") if not args.keep_work else None
    work = Path(args.keep_work or work_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    res = Resolver(args, items, work)

    media = [it for it in items_list if it["kind"] != "pair"]
    absent, present = [], {}
    for it in media:
        p, why = res.path(it["id"])
        if p is None:
            absent.append((it["id"], why))
        else:
            present[it["id"]] = p
    results = check_files(args.bin, present.values()) if present else {}

    rows, framing = [], {"calibration": [0, 0, []], "held-out": [0, 0, []]}
    records = []
    for it in media:
        if it["id"] not in present:
            continue
        got = results.get(os.path.realpath(present[it["id"]]))
        if got is None:
            absent.append((it["id"], "not in the check report"))
            continue
        codes, msgs, fr = got
        rows.append((it, codes, msgs))
        if it["framing"] != "none" and fr is not None:
            framing[it["split"]][0] += fr == it["framing"]
            framing[it["split"]][1] += 1
            if fr != it["framing"]:
                framing[it["split"]][2].append(f"{it['id']}: {fr}, labelled {it['framing']}")
        records.append(dict(id=it["id"], split=it["split"], fired=sorted(codes & set(RULES)), framing=fr))
    for it in items_list:
        if it["kind"] != "pair":
            continue
        (ip, w1), (vp, w2) = res.path(it["image"]), res.path(it["video"])
        if ip is None or vp is None:
            absent.append((it["id"], w1 or w2))
            continue
        got, why = check_pair(args.bin, ip, vp, work)
        if got is None:
            absent.append((it["id"], why))
            continue
        rows.append((it, got[0], got[1]))
        records.append(dict(id=it["id"], split=it["split"], fired=sorted(got[0])))

    print(f"people-eval: {args.bin}; {len(rows)} of {len(items_list)} items scored "
          f"({len(absent)} absent); rules scored by this binary: {' '.join(sorted(rules_in_bin)) or 'none'}")
    splits = ["calibration", "held-out"] if args.split == "all" else [args.split]
    scores = {}
    for split in splits + (["all"] if args.split == "all" else []):
        sel = [r for r in rows if split == "all" or r[0]["split"] == split]
        scores[split] = score(sel, RULES)
        print_table(f"== {split}: {len(sel)} items", scores[split], rules_in_bin)
    for split in splits:
        ok, n, wrong = framing[split]
        if n:
            print(f"framing ({split}): {ok}/{n} items with a reported framing match the label")
            for w in wrong:
                print(f"    {w}")
    if absent:
        print("\nabsent (skipped):")
        for i, why in absent:
            print(f"  {i}: {why}")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(binary=args.bin, rules_in_binary=sorted(rules_in_bin),
                                                   scores=scores, items=records, absent=absent), indent=1))


if __name__ == "__main__":
    main()
