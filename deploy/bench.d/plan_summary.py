"""Reads the JSON plans list-plans.sql prints and prints one Markdown row
per plan: the filter, random_page_cost, the pictures index walked, the rows it passed
over, and the execution time. argv: random_page_cost, then the filters' labels in order."""
import json
import sys


def walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


rpc, labels = sys.argv[1], sys.argv[2:]
text, plans, at = sys.stdin.read(), [], 0
decoder = json.JSONDecoder()
while (at := text.find("[", at)) >= 0:
    doc, at = decoder.raw_decode(text, at)
    plans.append(doc[0])
if len(plans) != len(labels):
    sys.exit(f"{len(plans)} plans for {len(labels)} filters")
for label, plan in zip(labels, plans):
    scans = [n for n in walk(plan["Plan"]) if n.get("Relation Name") == "pictures"]
    how = ", ".join(f"{n['Node Type']} {n.get('Index Name', '')}".strip() for n in scans)
    passed = sum(n.get("Rows Removed by Filter", 0) for n in scans)
    print(f"| `{label}` | {rpc} | {how} | {passed:,} | {plan['Execution Time']:.2f} ms |")
