#!/usr/bin/env python3
"""An operator's failover for MariaDB GTID replication (the `failover` fault
of examples/mariadb/mariadb.toml).

faultline runs it on the controller after it killed the primary, with
  FAULTLINE_LEADER        the old primary's name (n1)
  FAULTLINE_LEADER_ADDR   its address
  FAULTLINE_PEERS         every node, n1=10.77.0.11,n2=10.77.0.12,...
It does what a careful human (or MHA, orchestrator, MaxScale) would do:
  1. among the live nodes, take those replicating from the old primary
     (without a replication error: a diverged node is never promoted);
  2. let each apply what it already received (relay log), stop it;
  3. promote the most advanced one (highest GTID sequence number):
     STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF
     (with --db-opt semi-sync=1 it becomes a semi-sync primary first);
  4. point the other replicas at it (MASTER_USE_GTID = slave_pos).
Its last line of output is recorded with the fault, e.g.
  promoted n2 at 0-1-812; repointed n3 (was at 0-1-809)
If the old primary is still reachable (a run without kill_leader) it is
fenced first: set read-only, so there are never two writable nodes.
Exit status 1 (with the reason on stderr) when nothing could be promoted.
"""

import os
import sys
import time

from operator_common import REPL_PASSWORD, REPL_USER, SEMI_SYNC, connect, one, peers

CATCH_UP_S = 3.0                               # how long a replica may take to apply its relay log


def gtid_seq(pos):
    """The highest sequence number in a GTID position ("0-1-812,1-2-5" -> 812
    in domain 0; summed over domains, of which this setup uses one)."""
    total = 0
    for g in (pos or "").split(","):
        parts = g.strip().split("-")
        if len(parts) == 3 and parts[2].isdigit():
            total += int(parts[2])
    return total


def main():
    old = os.environ.get("FAULTLINE_LEADER", "")
    old_addr = os.environ.get("FAULTLINE_LEADER_ADDR", "")
    nodes = peers()
    if not nodes:
        print("FAULTLINE_PEERS is empty", file=sys.stderr)
        return 1
    started = time.monotonic()
    notes = []

    # A reachable old primary is fenced first (never two writable nodes).
    try:
        c = connect(old_addr)
        one(c, "SET GLOBAL read_only = ON")
        one(c, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        c.close()
        notes.append(f"fenced {old} (read-only)")
    except Exception:
        pass   # dead, as expected after kill_leader

    # 1. the live replicas of the old primary
    replicas = []   # (name, addr, conn)
    for name, addr in nodes:
        if name == old:
            continue
        try:
            c = connect(addr)
            st = one(c, "SHOW SLAVE STATUS")
        except Exception as e:
            notes.append(f"{name} unreachable ({e.args[-1] if e.args else e})")
            continue
        if not st or st.get("Master_Host") != old_addr:
            master = st.get("Master_Host") if st else None
            notes.append(f"{name} skipped (replicates from {master or 'nobody'})")
            c.close()
            continue
        if st.get("Last_IO_Errno") == 1236 or st.get("Last_SQL_Errno"):
            # refused by the old primary (diverged) or broken: never promote it
            notes.append(f"{name} skipped (replication error {st.get('Last_IO_Errno') or st.get('Last_SQL_Errno')})")
            c.close()
            continue
        replicas.append((name, addr, c))

    if not replicas:
        print(f"no live replica of {old} to promote" + (f": {'; '.join(notes)}" if notes else ""),
              file=sys.stderr)
        return 1

    # 2. stop receiving, apply what was received, stop applying
    positions = {}
    for name, addr, c in replicas:
        try:
            one(c, "STOP SLAVE IO_THREAD")
            io_pos = (one(c, "SHOW SLAVE STATUS") or {}).get("Gtid_IO_Pos") or ""
            if io_pos:
                one(c, "SELECT MASTER_GTID_WAIT(%s, %s)", (io_pos, CATCH_UP_S))
            one(c, "STOP SLAVE")
            positions[name] = one(c, "SELECT @@gtid_slave_pos AS p")["p"] or ""
        except Exception as e:
            notes.append(f"{name} failed while stopping ({e})")
    live = [(n, a, c) for n, a, c in replicas if n in positions]
    if not live:
        print(f"no replica of {old} could be stopped: {'; '.join(notes)}", file=sys.stderr)
        return 1

    # 3. promote the most advanced (ties: the first in node order)
    order = {n: i for i, (n, _) in enumerate(nodes)}
    best = max(live, key=lambda r: (gtid_seq(positions[r[0]]), -order[r[0]]))
    name, addr, c = best
    try:
        one(c, "RESET SLAVE ALL")
        if SEMI_SYNC:
            one(c, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
        one(c, "SET GLOBAL read_only = OFF")
    except Exception as e:
        print(f"promoting {name} failed: {e}", file=sys.stderr)
        return 1

    # 4. repoint the others
    repointed = []
    for n, _, rc in live:
        if n == name:
            continue
        try:
            one(rc, "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=3306, MASTER_USER=%s, "
                    "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
                (addr, REPL_USER, REPL_PASSWORD))
            one(rc, "START SLAVE")
            repointed.append(f"{n} (was at {positions[n] or 'nothing'})")
        except Exception as e:
            notes.append(f"repointing {n} failed ({e})")
    for _, _, rc in replicas:
        try:
            rc.close()
        except Exception:
            pass

    took = time.monotonic() - started
    line = f"promoted {name} at {positions[name] or 'nothing'}"
    line += "; repointed " + (", ".join(repointed) if repointed else "nobody")
    if notes:
        line += "; " + "; ".join(notes)
    print(f"{line} ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print(f"failover failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
