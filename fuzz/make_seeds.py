#!/usr/bin/env python3
"""Builds fuzz/seeds/<target>/ from real data: the shipped scenarios, targets and
expectations, and the transcripts and results.json of a run of the shipped scenarios.

    cargo run --release -- run scenarios/ --out /tmp/seed --no-progress
    python3 fuzz/make_seeds.py /tmp/seed

Transcript lines marked `->` are what one side sent, as sent (the seeds use those, not the
`<-` lines, which describe stream headers rather than repeat them). SASL payloads appear
decoded and redacted in brackets (`[n,,n=alice,r=...]`); they are base64-encoded again, with
the redaction left in, so the seeds carry the wire form. Seeds are named by a hash of their
content, as libFuzzer names corpus files.
"""
import base64
import hashlib
import json
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
LINE = re.compile(r"^\s*[0-9.]+ ms (\S+)\s+(->|<-) (.*)$")
PAYLOAD = re.compile(r">\[(.*)\]</")
SEP = b"\xff"


def write(target, data):
    out = SEEDS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def unescape(text):
    return text.replace("\\0", "\0").encode("utf-8", "surrogateescape")


def wire(line):
    """A transcript line with its bracketed SASL payload base64-encoded again."""
    def encode(match):
        inner = match.group(1)
        if inner == "(empty)":
            return ">=</"
        return ">" + base64.b64encode(unescape(inner)).decode() + "</"
    return PAYLOAD.sub(encode, line)


def payloads(lines):
    out = []
    for line in lines:
        match = PAYLOAD.search(line)
        if match and match.group(1) != "(empty)":
            out.append(unescape(match.group(1)))
    return out


def transcripts(run_dir):
    for path in sorted((run_dir / "transcripts").glob("*/*.txt")):
        sent = {}
        for raw in path.read_text(errors="replace").splitlines():
            match = LINE.match(raw)
            if match and match.group(2) == "->":
                sent.setdefault(match.group(1), []).append(match.group(3))
        yield path, sent


def main():
    run_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/seed")
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    for path, sent in transcripts(run_dir):
        name = path.name
        direct = "direct-tls" in name
        s2s = name.startswith("s2s")
        for who, raw_lines in sent.items():
            lines = [wire(l) for l in raw_lines]
            stream = "".join(lines).encode()
            chunks = SEP.join(l.encode() for l in lines)
            write("xml_stream", bytes([len(lines) % 0x80]) + stream)
            harness_is_client = who == "harness" and path.parent.name == "builtin-server"
            if s2s:
                # harness -> is what an originating server sends (to the receiving session);
                # builtin-server -> is what the receiving server sends (to the originating).
                flags = 0 if who == "harness" else 1
                write("s2s_session", bytes([flags | (0x08 if direct else 0)]) + chunks)
            else:
                # What a client sent feeds the server session, and the other way round.
                client_sent = harness_is_client or who == "builtin-client"
                flags = (0 if client_sent else 0x80) | (0x40 if direct else 0)
                flags |= 0x10 if "sasl2" in name else 0
                write("c2s_session", bytes([flags]) + chunks)
                mechs = {"plain": 0, "scram-sha-1": 1, "scram-sha-256": 2, "scram-sha-512": 3,
                         "scram-sha-1-plus": 4, "scram-sha-256-plus": 5,
                         "scram-sha-512-plus": 6, "external": 7}
                mech = next((v for k, v in sorted(mechs.items(), key=lambda kv: -len(kv[0]))
                             if k in name), 2)
                messages = payloads(raw_lines)
                if messages:
                    side = 0 if client_sent else 0x80
                    write("sasl_mechanisms", bytes([side | mech]) + SEP.join(messages))
    # Test vectors of RFC 5802 §5 / RFC 7677 §3, with the harness's fuzzing nonces, and
    # the forms of the GS2 header and saslname escapes.
    vectors = [
        (0x02, [b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO3rfcNHYJY1ZVvWVs7j,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="]),
        (0x0d, [b"p=tls-exporter,,n=alice,r=abc",
                b"c=cD10bHMtZXhwb3J0ZXIsLAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH,r=abc3rfcNHYJY1ZVvWVs7j,p=AAAA"]),
        (0x01, [b"y,a=admin,n=al=2Cice=3D,r=abc", b"c=eSxhPWFkbWluLA==,r=x,p=AA=="]),
        (0x00, [b"\0alice\0pencil"]),
        (0x00, [b"admin@interop.test\0alice\0pencil"]),
        (0x07, [b"=", b""]),
        (0x82, [b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2",
                b"v=6rriTRBi23WpRR/wa4iFRVDq8rpl/4ZDsw1ISeDOERo="]),
        (0xa2, [b"r=rOprNGfwEbeRWgbNEkqOxyz,s=QSXCR+Q6sek8bf92,i=2,h=AAAA", b"e=invalid-proof"]),
        (0x81, [b"r=rOprNGfwEbeRWgbNEkqOxyz,s=QSXCR+Q6sek8bf92,i=4096,m=ext", b"v=AAAA"]),
    ]
    for flags, messages in vectors:
        write("sasl_mechanisms", bytes([flags]) + SEP.join(messages))
    for path in sorted((ROOT / "scenarios").rglob("*.y*ml")):
        write("scenario_loader", path.read_bytes())
    for path in sorted((ROOT / "targets").glob("*.y*ml")):
        write("targets_loader", path.read_bytes())
    for path in sorted((ROOT / "expectations").rglob("*.y*ml")):
        write("expectations_loader", path.read_bytes())
    results = json.loads((run_dir / "results.json").read_text())
    # The whole file is 300 KB; small cuts of it make better seeds (and faster executions).
    for first in range(0, 12, 3):
        cut = dict(results, results=results["results"][first:first + 3])
        write("results_json", json.dumps(cut, indent=2).encode())
    write("results_json", json.dumps(dict(results, results=[])).encode())
    for target in sorted(p.name for p in SEEDS.iterdir()):
        files = list((SEEDS / target).iterdir())
        print(f"{target}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
