#!/usr/bin/env python3
"""faultline client for NAME: JSON lines on stdin/stdout, one process per worker.

faultline sends, one JSON object per line:
  {"type":"open","id":0,"node":"n1","addr":"10.77.0.11","workload":"register","nodes":{"n1":"10.77.0.11",...}}
  {"type":"invoke","id":7,"f":"write","value":[3,5]}
  {"type":"close"}
Answer every id exactly once:
  {"id":7,"type":"ok","value":[3,5],"node":"n1"}    it happened (value: the result; reads return what they read)
  {"id":7,"type":"fail","error":"..."}              it certainly did not happen
  {"id":7,"type":"info","error":"..."}              unknown: it may have happened (timeout after sending...)
When in doubt, answer info: a wrong fail makes faultline accuse a correct database.
"node" is the node you sent it to. Add "acked_by": "n1" only when you know n1
acknowledged it having applied it itself (n1 does not relay writes to a
leader; a read came from n1's own data): split-brain and the per-node lag
tables count an operation for a node only then.
Write diagnostics to stderr (it goes to the run's clients.log), never to stdout.
"""
import json
import sys

node = None


def answer(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def invoke(f, value):
    """Performs one operation; returns (type, value or error)."""
    # TODO: talk to your database (at addr) here. register's operations:
    #   read  [k, null]        -> ok [k, v]   (v null if never written)
    #   write [k, v]           -> ok [k, v]
    # cas-register adds:
    #   cas   [k, [old, new]]  -> ok, or fail when the value is not old
    # Every workload's operations: docs/targets.md, "Operations per workload".
    return "fail", f"{f} is not implemented yet"


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        print(f"not JSON: {line!r}", file=sys.stderr)
        continue
    if msg.get("type") == "close":
        break
    if msg.get("type") == "open":
        node = msg["node"]
        # TODO: connect to msg["addr"]; answer fail if it cannot be reached.
        answer({"id": 0, "type": "ok"})
        continue
    try:
        kind, result = invoke(msg["f"], msg["value"])
    except Exception as e:  # an unexpected error: the operation may have happened
        kind, result = "info", str(e)
    if kind == "ok":
        answer({"id": msg["id"], "type": "ok", "value": result, "node": node})
    else:
        answer({"id": msg["id"], "type": kind, "error": result, "node": node})
