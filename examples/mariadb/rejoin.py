#!/usr/bin/env python3
"""Rejoin the old primary as a replica (the `heal` of the `failover` fault in
examples/mariadb/mariadb.toml).

faultline runs it on the controller after it started the killed old primary
again, with FAULTLINE_LEADER (the old primary), FAULTLINE_LEADER_ADDR and
FAULTLINE_PEERS (n1=10.77.0.11,...). The old primary comes back read-only
(every node's my.cnf says so). This script:
  1. waits until it accepts connections (crash recovery);
  2. finds the current primary among the other nodes (read_only = 0);
  3. makes the old primary a replica of it, from where its own binary log
     ends (gtid_slave_pos := gtid_binlog_pos, MASTER_USE_GTID = slave_pos);
  4. checks that replication really runs and catches up.
An old primary that committed transactions the new primary never received
(the very writes a lagging failover loses) has diverged: its last GTID is
not in the new primary's binary log. Either its sequence number is beyond
the new primary's (checked here first: MariaDB would not refuse such a
replica at once, it would wait for it silently), or gtid_strict_mode makes
the new primary refuse it (error 1236). Repairing that means discarding its data
and cloning the new primary, which this example does not do: it says so,
detaches the node (RESET SLAVE ALL, so a later failover never promotes it)
and leaves it read-only.
If no other node is writable (the failover found nobody to promote), the
old primary is the only complete copy: it becomes the primary again.
Prints one line; exit status 1 only when the old primary cannot be reached.
"""

import os
import sys
import time

from operator_common import REPL_PASSWORD, REPL_USER, SEMI_SYNC, connect, one, peers

START_TIMEOUT_S = 30.0     # the restarted server's crash recovery
CATCH_UP_S = 10.0


def main():
    old = os.environ.get("FAULTLINE_LEADER", "")
    old_addr = os.environ.get("FAULTLINE_LEADER_ADDR", "")
    started = time.monotonic()

    # 1. wait for the restarted old primary
    conn, last = None, None
    while conn is None and time.monotonic() - started < START_TIMEOUT_S:
        try:
            conn = connect(old_addr)
        except Exception as e:
            last = e
            time.sleep(0.5)
    if conn is None:
        print(f"{old} did not come back within {START_TIMEOUT_S:.0f} s: {last}", file=sys.stderr)
        return 1
    one(conn, "SET GLOBAL read_only = ON")
    one(conn, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")   # a replica is no semi-sync primary

    # 2. the current primary among the others
    primary = None
    for name, addr in peers():
        if name == old:
            continue
        try:
            c = connect(addr)
            if int(one(c, "SELECT @@read_only AS ro")["ro"]) == 0:
                primary = (name, addr, c)
                break
            c.close()
        except Exception:
            continue
    if primary is None:
        # nobody was promoted: the old primary holds the only complete copy
        if SEMI_SYNC:
            one(conn, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
        one(conn, "SET GLOBAL read_only = OFF")
        print(f"no other primary: {old} is the primary again")
        return 0
    pname, paddr, pconn = primary

    # 3. has the old primary diverged? Its binary log ends at `own`. If that
    #    GTID has a higher sequence number than anything the new primary has,
    #    the new primary certainly lacks it. (Replicating anyway would not
    #    fail at once: MariaDB's primary waits for a replica that is "ahead"
    #    and reports error 1236 only once its own sequence numbers pass it.)
    own = one(conn, "SELECT @@gtid_binlog_pos AS p")["p"] or ""
    target = one(pconn, "SELECT @@gtid_binlog_pos AS p")["p"] or ""
    ahead = [f"{d}-{g[0]}-{g[1]}" for d, g in gtids(own).items()
             if d not in gtids(target) or g[1] > gtids(target)[d][1]
             or (g[1] == gtids(target)[d][1] and g != gtids(target)[d])]
    if ahead:
        return diverged(conn, old, pname, own,
                        f"its last transaction {ahead[0]} is beyond {pname}'s {target or 'empty log'}")

    # 4. follow the new primary from where the old primary's own log ends
    one(conn, "STOP SLAVE")
    one(conn, "SET GLOBAL gtid_slave_pos = %s", (own,))
    one(conn, "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=3306, MASTER_USER=%s, "
              "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
        (paddr, REPL_USER, REPL_PASSWORD))
    one(conn, "START SLAVE")

    # 5. does it replicate? The new primary refuses a start position missing
    #    from its binary log (error 1236, gtid_strict_mode); otherwise the old
    #    primary must reach `target`, having applied something of the new
    #    primary's (or having been exactly there already).
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        st = one(conn, "SHOW SLAVE STATUS") or {}
        err = st.get("Last_IO_Error") or st.get("Last_SQL_Error")
        if err or st.get("Slave_IO_Running") == "No" or st.get("Slave_SQL_Running") == "No":
            return diverged(conn, old, pname, own, (err or "replication stopped").strip()[:200])
        pos = one(conn, "SELECT @@gtid_slave_pos AS p")["p"] or ""
        reached = not target or int(one(conn, "SELECT MASTER_GTID_WAIT(%s, 0.5) AS w", (target,))["w"]) == 0
        if reached and (pos != own or own == target):
            print(f"{old} follows {pname} (caught up to {target or 'an empty log'}, "
                  f"{time.monotonic() - started:.1f} s)")
            return 0
        if time.monotonic() > deadline:
            print(f"{old} replicates from {pname} but has not reached {target} within "
                  f"{CATCH_UP_S:.0f} s (at {pos or 'nothing'})")
            return 0
        time.sleep(0.2)


def gtids(pos):
    """"0-1-812,1-2-5" -> {0: (1, 812), 1: (2, 5)}: per domain, (server_id, seq_no)."""
    out = {}
    for g in (pos or "").split(","):
        parts = g.strip().split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            out[int(parts[0])] = (int(parts[1]), int(parts[2]))
    return out


def diverged(conn, old, pname, own, why):
    """Leaves the old primary read-only and detached (no replication source,
    so a later failover never promotes it)."""
    one(conn, "STOP SLAVE")
    one(conn, "RESET SLAVE ALL")
    print(f"{old} diverged from {pname} (its binlog ends at {own or 'nothing'}, which {pname} never had): "
          f"left read-only and detached; {why}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print(f"rejoin failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
