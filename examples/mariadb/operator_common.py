"""What failover.py and rejoin.py share: the operator's account, the
connection, one-row queries, and the nodes faultline names in
FAULTLINE_PEERS (n1=10.77.0.11,n2=10.77.0.12,...)."""

import os

import pymysql
import pymysql.cursors

USER, PASSWORD = "operator", "operator"        # created by the manifest's `prepare`
REPL_USER, REPL_PASSWORD = "repl", "repl"
SEMI_SYNC = os.environ.get("FAULTLINE_OPT_SEMI_SYNC") == "1"   # --db-opt semi-sync=1


def connect(addr, timeout=2):
    return pymysql.connect(host=addr, port=3306, user=USER, password=PASSWORD,
                           connect_timeout=timeout, read_timeout=10, write_timeout=10,
                           autocommit=True, cursorclass=pymysql.cursors.DictCursor)


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def peers():
    out = []
    for item in os.environ.get("FAULTLINE_PEERS", "").split(","):
        if "=" in item:
            name, addr = item.split("=", 1)
            out.append((name.strip(), addr.strip()))
    return out
