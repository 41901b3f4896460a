#!/usr/bin/env python3
"""Writes attack_techniques.tsv from a clone of github.com/mitre/cti at a commit:
   extract_attack.py CTI_CLONE COMMIT VERSION > attack_techniques.tsv   (VERSION: 18.1)
Every active (not revoked, not deprecated) attack-pattern of enterprise-attack, one a
line: ATT&CK id, name, kill-chain phases (comma-separated), STIX id, created, modified.
It stops if an object is not shaped as the export assumes (one `mitre-attack` reference,
first, with the usual URL; MITRE's creator and marking; phases of the `mitre-attack`
kill chain)."""
import json
import subprocess
import sys

repo, commit, version = sys.argv[1:4]
IDENTITY = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5"
MARKING = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168"


def git(*args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout


rows = []
for name in git("ls-tree", "-r", "--name-only", commit, "enterprise-attack/attack-pattern").split():
    for o in json.loads(git("show", f"{commit}:{name}"))["objects"]:
        if o["type"] != "attack-pattern" or o.get("revoked") or o.get("x_mitre_deprecated"):
            continue
        ref = o["external_references"][0]
        tid = ref["external_id"]
        assert ref["source_name"] == "mitre-attack", name
        assert sum(r["source_name"] == "mitre-attack" for r in o["external_references"]) == 1, name
        assert ref["url"] == "https://attack.mitre.org/techniques/" + tid.replace(".", "/"), name
        assert o["created_by_ref"] == IDENTITY and o["object_marking_refs"] == [MARKING], name
        assert all(p["kill_chain_name"] == "mitre-attack" for p in o["kill_chain_phases"]), name
        assert not any(c in o["name"] for c in "\t\n"), name
        phases = ",".join(p["phase_name"] for p in o["kill_chain_phases"])
        rows.append((tid, o["name"], phases, o["id"], o["created"], o["modified"]))
date = git("log", "-1", "--format=%cs", commit).strip()
print(f"# MITRE ATT&CK Enterprise techniques, ATT&CK v{version}: id, name, kill-chain phases (tactics, comma-separated), "
      "STIX id, created, modified; tab-separated. Active techniques and sub-techniques only (not revoked, not deprecated).")
print(f"# Source: mitre/cti enterprise-attack/attack-pattern at commit {commit[:7]} ({date}, \"ATT&CK v{version} Enterprise\"). "
      "(c) 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE "
      "Corporation (ATT&CK terms of use: https://attack.mitre.org/resources/legal-and-branding/terms-of-use/).")
for r in sorted(rows):
    print("\t".join(r))
