#!/usr/bin/env python3
"""faultline's JSON-lines client for MariaDB (examples/mariadb/mariadb.toml).

One process per worker. faultline writes one JSON object per line on stdin:
  {"type":"open","id":0,"node":"n1","addr":"10.77.0.11","workload":"set","nodes":{"n1":"10.77.0.11",...}}
  {"type":"invoke","id":7,"f":"add","value":3}
  {"type":"close"}
and reads exactly one answer per id on stdout:
  {"id":7,"type":"ok","acked_by":"n2"}   {"id":7,"type":"fail","error":"..."}   {"id":7,"type":"info","error":"..."}
(MariaDB executes a statement on the server it was sent to and never relays
it, so a statement a server answered was acknowledged by that server:
`acked_by`. An operation whose outcome is unknown names only where it went,
`node`.)

Like a real application behind a "find the primary" loop, the client sends
its writes (and, by default, its reads) to the current primary: the node
with @@read_only = 0. It looks for it when opened, and again after a write
was refused as read-only or the primary could not be reached.

Classification (the one rule: never answer `fail` for something that may
have happened):
  - could not connect, before anything was sent   -> fail
  - the server refused the statement (an SQL error such as 1290 read-only) -> fail
  - timeout / lost connection after a write was sent -> info
  - any error on a read                           -> fail (a read changes nothing)
  - anything unexpected during a write            -> info

Options (faultline's --db-opt, as environment variables):
  FAULTLINE_OPT_READ_FROM=node   read from the node faultline opened, not the primary

Needs PyMySQL (Debian: python3-pymysql); the rest is the standard library.
"""

import json
import os
import socket
import sys
import threading

import pymysql
from pymysql.constants import CLIENT

USER = "faultline"          # created on every node by the manifest's `prepare`
PASSWORD = "faultline"
DATABASE = "faultline"
PORT = 3306

# Errors that mean the server refused the statement: it did not happen.
ER_OPTION_PREVENTS_STATEMENT = 1290   # --read-only
ER_READ_ONLY_MODE = 1836
ER_NO_SUCH_TABLE = 1146
ER_DUP_ENTRY = 1062


def is_server_error(n):
    """Server errors are 1000-1999 and 3000 up (MariaDB's own: 4000 up);
    2000-2999 are the client library's (connection lost, timed out...), and
    PyMySQL uses 0 for "not connected"."""
    return n >= 1000 and not 2000 <= n < 3000

TABLES = {
    "register": "CREATE TABLE IF NOT EXISTS register (k BIGINT NOT NULL PRIMARY KEY, v BIGINT)",
    "cas-register": "CREATE TABLE IF NOT EXISTS register (k BIGINT NOT NULL PRIMARY KEY, v BIGINT)",
    "set": "CREATE TABLE IF NOT EXISTS elements (e BIGINT NOT NULL PRIMARY KEY)",
    "unique-ids": "CREATE TABLE IF NOT EXISTS ids (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                  " at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
}


def log(msg):
    print(f"client[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def errno_of(e):
    """The MySQL error number of a PyMySQL exception, or None."""
    if isinstance(e, pymysql.err.MySQLError) and e.args and isinstance(e.args[0], int):
        return e.args[0]
    return None


def describe(e):
    n = errno_of(e)
    text = str(e.args[1]) if n is not None and len(e.args) > 1 else str(e)
    return f"{n}: {text}" if n is not None else f"{type(e).__name__}: {text}"


def connect(addr):
    return pymysql.connect(
        host=addr, port=PORT, user=USER, password=PASSWORD, database=DATABASE,
        connect_timeout=2, read_timeout=3, write_timeout=3, autocommit=True,
        # UPDATE's row count = rows matched, not rows changed (cas with old == new)
        client_flag=CLIENT.FOUND_ROWS,
    )


class NoPrimary(Exception):
    pass


class Client:
    def __init__(self):
        self.nodes = {}           # name -> address
        self.opened = None        # the node faultline opened
        self.workload = None
        self.primary = None       # (name, connection) of the current primary
        self.reader = None        # (name, connection) for read-from=node
        self.tables_ready = False
        self.read_from = os.environ.get("FAULTLINE_OPT_READ_FROM", "primary")

    # -- finding the primary ------------------------------------------------

    def probe(self, name, results):
        """Connects to one node and asks whether it is writable."""
        try:
            c = connect(self.nodes[name])
            with c.cursor() as cur:
                cur.execute("SELECT @@read_only")
                ro = cur.fetchone()[0]
            results[name] = (c, int(ro))
        except Exception as e:  # unreachable, refused, timed out...
            results[name] = (None, describe(e))

    def find_primary(self):
        """Asks every node at once (bounded by connect_timeout); keeps a
        connection to the writable one. Raises NoPrimary."""
        self.drop_primary()
        results = {}
        threads = [threading.Thread(target=self.probe, args=(n, results)) for n in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writable = sorted(n for n, (c, ro) in results.items() if c is not None and ro == 0)
        # several writable nodes = split brain; prefer the node we were given
        choice = None
        if writable:
            choice = self.opened if self.opened in writable else writable[0]
            if len(writable) > 1:
                log(f"several writable nodes: {writable}; using {choice}")
        for n, (c, _) in results.items():
            if c is not None and n != choice:
                close_quietly(c)
        if choice is None:
            states = ", ".join(
                f"{n} {'read-only' if c is not None else ro}"
                for n, (c, ro) in sorted(results.items()))
            raise NoPrimary(f"no writable primary ({states})")
        self.primary = (choice, results[choice][0])
        self.tables_ready = False
        return self.primary

    def drop_primary(self):
        if self.primary is not None:
            close_quietly(self.primary[1])
        self.primary = None

    def ensure_tables(self):
        if not self.tables_ready:
            with self.primary[1].cursor() as cur:
                cur.execute(TABLES[self.workload])
            self.tables_ready = True

    def writer(self):
        """The primary's (name, connection), finding it if needed; raises
        before anything of the operation was sent."""
        if self.primary is None:
            self.find_primary()
        self.ensure_tables()
        return self.primary

    def read_conn(self):
        if self.read_from != "node":
            return self.writer()
        if self.reader is None:
            self.reader = (self.opened, connect(self.nodes[self.opened]))
        return self.reader

    # -- messages -----------------------------------------------------------

    def open(self, msg):
        self.nodes = dict(msg.get("nodes") or {})
        self.opened = msg.get("node")
        if self.opened and self.opened not in self.nodes and msg.get("addr"):
            self.nodes[self.opened] = msg["addr"]
        self.workload = msg.get("workload")
        if self.workload not in TABLES:
            return {"type": "fail", "error": f"workload {self.workload!r} is not implemented"}
        try:
            name, _ = self.writer()
            return {"type": "ok", "node": name}
        except NoPrimary as e:
            return {"type": "fail", "error": str(e)}
        except Exception as e:
            self.drop_primary()
            return {"type": "fail", "error": describe(e)}

    def invoke(self, msg):
        f, value = msg.get("f"), msg.get("value")
        ops = {
            ("register", "read"), ("register", "write"), ("register", "cas"),
            ("cas-register", "read"), ("cas-register", "write"), ("cas-register", "cas"),
            ("set", "add"), ("set", "read"), ("unique-ids", "generate"),
        }
        if (self.workload, f) not in ops:
            return {"type": "fail", "error": f"{self.workload} has no operation {f!r}"}
        is_read = f == "read"
        # 1. get a connection: nothing is sent yet, so failing here is `fail`
        try:
            name, conn = self.read_conn() if is_read else self.writer()
        except NoPrimary as e:
            return {"type": "fail", "error": str(e)}
        except Exception as e:
            self.drop_primary()
            return {"type": "fail", "error": describe(e)}
        # 2. run it
        try:
            with conn.cursor() as cur:
                out = getattr(self, "op_" + f.replace("-", "_"))(cur, value)
            out.setdefault("acked_by", name)
            return out
        except Exception as e:
            n = errno_of(e)
            why = describe(e)
            if is_read:
                self.forget(name)
                return {"type": "fail", "error": why, "node": name}
            if n in (ER_OPTION_PREVENTS_STATEMENT, ER_READ_ONLY_MODE):
                # this node is no longer the primary: look again next time
                self.drop_primary()
                return {"type": "fail", "error": "read-only: " + why, "node": name}
            if n == ER_NO_SUCH_TABLE:
                self.tables_ready = False
                return {"type": "fail", "error": why, "node": name}
            if n is not None and is_server_error(n):
                # the server answered with an error: the statement did not happen
                return {"type": "fail", "error": why, "node": name}
            # timeout, lost connection, anything else after sending: unknown
            self.drop_primary()
            return {"type": "info", "error": why, "node": name}

    def forget(self, name):
        if self.reader is not None and self.reader[0] == name:
            close_quietly(self.reader[1])
            self.reader = None
        if self.primary is not None and self.primary[0] == name:
            self.drop_primary()

    # -- operations (cursor, invoked value) -> answer -------------------------

    def op_read(self, cur, value):
        if self.workload == "set":
            try:
                cur.execute("SELECT e FROM elements ORDER BY e")
            except pymysql.err.ProgrammingError as e:
                if errno_of(e) == ER_NO_SUCH_TABLE:     # nothing ever added here
                    return {"type": "ok", "value": []}
                raise
            return {"type": "ok", "value": [int(r[0]) for r in cur.fetchall()]}
        k = value[0]
        try:
            cur.execute("SELECT v FROM register WHERE k = %s", (k,))
        except pymysql.err.ProgrammingError as e:
            if errno_of(e) == ER_NO_SUCH_TABLE:
                return {"type": "ok", "value": [k, None]}
            raise
        row = cur.fetchone()
        return {"type": "ok", "value": [k, None if row is None or row[0] is None else int(row[0])]}

    def op_write(self, cur, value):
        k, v = value
        cur.execute("INSERT INTO register (k, v) VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = VALUES(v)", (k, v))
        return {"type": "ok", "value": [k, v]}

    def op_cas(self, cur, value):
        k, (old, new) = value
        n = cur.execute("UPDATE register SET v = %s WHERE k = %s AND v = %s", (new, k, old))
        if n == 0:
            return {"type": "fail", "error": f"value of {k} is not {old}"}
        return {"type": "ok", "value": value}

    def op_add(self, cur, value):
        try:
            cur.execute("INSERT INTO elements (e) VALUES (%s)", (value,))
        except pymysql.err.IntegrityError as e:
            if errno_of(e) != ER_DUP_ENTRY:
                raise
            # already there: the set contains it, which is what add promises
        return {"type": "ok", "value": value}

    def op_generate(self, cur, value):
        cur.execute("INSERT INTO ids () VALUES ()")
        return {"type": "ok", "value": int(cur.lastrowid)}


def close_quietly(conn):
    try:
        conn.close()
    except Exception:
        pass


def main():
    client = Client()
    while True:
        try:
            line = sys.stdin.readline()
        except (KeyboardInterrupt, OSError):
            break
        if not line:
            break                                   # stdin closed
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            log(f"skipping a malformed line ({e}): {line.rstrip()[:200]}")
            continue
        kind = msg.get("type")
        if kind == "close":
            break
        if "id" not in msg:
            log(f"skipping a message without an id: {line.rstrip()[:200]}")
            continue
        try:
            if kind == "open":
                answer = client.open(msg)
            elif kind == "invoke":
                answer = client.invoke(msg)
            else:
                log(f"unknown message type {kind!r}")
                answer = {"type": "fail", "error": f"unknown message type {kind!r}"}
        except Exception as e:   # a bug in this client: never crash, never claim `fail` for a write
            log(f"unexpected error on {line.rstrip()[:200]}: {describe(e)}")
            write = kind == "invoke" and msg.get("f") != "read"
            answer = {"type": "info" if write else "fail", "error": describe(e)}
        answer["id"] = msg["id"]
        try:
            send(answer)
        except BrokenPipeError:
            break
    client.drop_primary()
    if client.reader is not None:
        close_quietly(client.reader[1])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
