#!/usr/bin/env python3
"""Writes synthetic results.json shards for the report benchmark (ci/bench-reports.sh).

Usage: synthetic-results.py CASES TARGETS SHARDS OUT_DIR [--transcripts]

Writes OUT_DIR/shard-K/results.json (K = 1..SHARDS), together CASES cases x TARGETS targets,
in the format `xmpp-interop run --partition K/SHARDS` writes. Outcomes follow a plausible mix
(mostly pass, some fail, SHOULD deviations, unsupported features, inconclusive cases, MAY facts,
expected deviations, unexpected passes, skips and errors); failures carry distinct observations,
like real runs, and every case its clause's level, place and words. Deterministic (fixed seed). With --transcripts, every cell also
gets a transcript file of about 6 KB (the size of a real c2s transcript) next to its shard.
"""
import json
import os
import random
import sys

cases, targets, shards, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with_transcripts = "--transcripts" in sys.argv[5:]
trace_line = "     0.807 ms harness        <- <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-256</mechanism></mechanisms></stream:features>\n"
rng = random.Random(8)
target_names = [f"target-{t}" for t in range(targets)]
specs = [f"RFC 6120 §{a}.{b}" for a in range(4, 14) for b in range(1, 6)] + [f"XEP-0{n}" for n in (178, 368, 388, 440)]
tags = ["c2s", "s2s", "client", "sasl", "tls", "pki", "negative", "scram", "plus", "external"]
mechanisms = ["plain", "scram-sha-1", "scram-sha-256", "scram-sha-512", "scram-sha-256-plus"]
transports = ["starttls", "direct-tls"]
certificates = ["self-signed", "cacert-intermediate", "startcom-chain", "wildcard", "srv-id"]
expectations = ["authenticated", "rejected at sasl (not-authorized) by target", "rejected at tls (bad-certificate) by harness"]

records = []
for n in range(cases):
    scenario = f"c2s-synthetic-{n // 10:03d}"
    case = f"{scenario}/{transports[n % 2]}/{certificates[(n // 2) % 5]}/{mechanisms[n % 5]}"
    expected = expectations[(n // 10) % 3]
    spec = rng.sample(specs, rng.randint(1, 3))
    tag = rng.sample(tags, rng.randint(1, 3))
    level = ["MUST", "MUST", "MUST NOT", "SHOULD", "MAY"][(n // 10) % 5]
    clause = spec[0]
    text = f"the synthetic entity {level} do what scenario {n // 10} checks"
    for target in target_names:
        roll = rng.random()
        deviation = None
        missing = None
        control = None
        if roll < 0.80:
            outcome, observed = ("info" if level == "MAY" else "pass"), expected
        elif roll < 0.82:
            outcome, observed = "warn", f"{expected}; the iteration count {rng.randrange(1000, 4096)} is below 4096"
        elif roll < 0.84:
            outcome, observed = "unsupported", "rejected at features by target (mechanism-not-offered)"
            missing = mechanisms[n % 5].upper()
        elif roll < 0.85:
            outcome, observed = "inconclusive", "rejected at features by target (closed); inconclusive"
            control = {"id": f"{scenario}/control", "outcome": "fail"}
        elif roll < 0.90:
            outcome = "fail"
            observed = f"rejected at tls by harness (bad-certificate): name-mismatch: presented [DNS:h{rng.randrange(10**6)}.test]"
        elif roll < 0.94:
            outcome = "fail"
            observed = "rejected at sasl by target (not-authorized)"
            deviation = {"outcome": "fail", "clause": clause, "reason": f"{target} does not implement {mechanisms[n % 5]}", "link": "https://example.org/issue/1"}
        elif roll < 0.95:
            outcome, observed = "pass", expected
            deviation = {"outcome": "fail", "clause": clause, "reason": "fixed upstream?"}
        elif roll < 0.98:
            outcome, observed = "skip", "not run: the target has no direct-TLS port"
        else:
            outcome, observed = "error", f"environment: port {rng.randrange(1024, 65535)} busy"
        as_expected = (outcome == "fail") if deviation else outcome not in ("fail", "error")
        file = "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "_" for c in case)
        records.append({
            "scenario": case, "scenario_id": scenario, "target": target, "outcome": outcome,
            "step": None if outcome in ("error", "skip") else ["tls", "sasl"][n % 2],
            "expected": expected, "observed": observed, "duration_ms": rng.randrange(1, 40),
            "title": f"Synthetic scenario {n // 10}", "spec": spec, "tags": tag,
            "source": f"scenarios/c2s/synthetic-{n // 10:03d}.yaml",
            "transcript": f"transcripts/{target}/{file}.txt",
            "expected_deviation": deviation, "level": level, "clause": clause,
            "requirement_text": text, "missing_feature": missing, "control": control,
            "as_expected": as_expected,
        })

for k in range(shards):
    mine = records[k::shards]
    summary = {k: 0 for k in ("pass", "fail", "warn", "unsupported", "inconclusive", "info", "skip", "error", "xfail", "xpass", "unmatched")}
    for r in mine:
        if r["expected_deviation"] and r["outcome"] in ("pass", "fail"):
            summary["xpass" if r["outcome"] == "pass" else "xfail"] += 1
        else:
            summary[r["outcome"]] += 1
    document = {
        "harness": {"name": "xmpp-interop", "version": "0.1.0"},
        "started_at": f"2026-11-26T10:0{k % 10}:00Z", "duration_ms": 60000 + k,
        "targets": target_names,
        "implementations": {t: f"synthetic {t} 1.0" for t in target_names},
        "partition": f"{k + 1}/{shards}", "summary": summary, "results": mine,
    }
    os.makedirs(f"{out}/shard-{k + 1}", exist_ok=True)
    if with_transcripts:
        for r in mine:
            path = f"{out}/shard-{k + 1}/{r['transcript']}"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(f"case:      {r['scenario']}\ntarget:    {r['target']}\n\n" + trace_line * 38)
    with open(f"{out}/shard-{k + 1}/results.json", "w") as f:
        json.dump(document, f, indent=2)
