"""Many simultaneous monitoring clients stay consistent while another client writes."""

from __future__ import annotations

import asyncio
import resource
import time

from ovsdb_client import AsyncClient, apply_update, apply_update2

N_MONITORS = 200
N_TXNS = 50


def _raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def _txn(i):
    """Transaction i: insert a row, modify an older one, delete an even older one."""
    ops = [{"op": "insert", "table": "Parent",
            "row": {"name": f"n{i}", "number": i, "tags": ["map", [["born", str(i)]]]}}]
    if i >= 1:
        ops.append({"op": "update", "table": "Parent", "where": [["name", "==", f"n{i - 1}"]],
                    "row": {"number": 1000 - i}})
        ops.append({"op": "mutate", "table": "Parent", "where": [["name", "==", f"n{i - 1}"]],
                    "mutations": [["tags", "insert", ["map", [["touched", str(i)]]]]]})
    if i >= 3 and i % 3 == 0:
        ops.append({"op": "delete", "table": "Parent", "where": [["name", "==", f"n{i - 3}"]]})
    return ops


DEFAULTS = {"name": "", "number": 0, "tags": ["map", []]}


def _normalise(rows: dict) -> dict:
    """{uuid: row} -> {uuid: {col: value}} with maps/sets sorted and defaults filled in.

    (update2 "initial"/"insert" omit columns that hold their default value.)
    """
    out = {}
    for u, row in rows.items():
        norm = dict(DEFAULTS)
        for col, val in row.items():
            if isinstance(val, list) and val and val[0] in ("map", "set"):
                val = [val[0], sorted(val[1], key=repr)]
            norm[col] = val
        out[u] = norm
    return out


async def _scenario(remote):
    columns = ["name", "number", "tags"]
    replicas = [{} for _ in range(N_MONITORS)]
    clients = []
    try:
        # Half use "monitor" (update), half "monitor_cond" (update2).
        for k in range(N_MONITORS):
            c = await AsyncClient.connect(remote)
            clients.append(c)
            replica = replicas[k]
            if k % 2 == 0:
                c.on_notification = (lambda r: lambda m: m["method"] == "update"
                                     and apply_update(r, m["params"][1]))(replica)
            else:
                c.on_notification = (lambda r: lambda m: m["method"] == "update2"
                                     and apply_update2(r, m["params"][1]))(replica)
        initials = await asyncio.gather(*[
            c.request("monitor", ["simple", f"m{k}", {"Parent": {"columns": columns}}])
            if k % 2 == 0 else
            c.request("monitor_cond", ["simple", f"m{k}", {"Parent": [{"columns": columns}]}])
            for k, c in enumerate(clients)])
        for k, initial in enumerate(initials):
            (apply_update if k % 2 == 0 else apply_update2)(replicas[k], initial)
            assert len(replicas[k]["Parent"]) == 1

        writer = await AsyncClient.connect(remote)
        clients.append(writer)
        for i in range(N_TXNS):
            result = await writer.request("transact", ["simple", *_txn(i)])
            assert all("error" not in r for r in result), result
        final = (await writer.request("transact", ["simple", {
            "op": "select", "table": "Parent", "where": [],
            "columns": ["_uuid", *columns]}]))[0]["rows"]
        expected = _normalise({r.pop("_uuid")[1]: r for r in final})

        deadline = time.monotonic() + 60
        while True:
            states = [_normalise(r.get("Parent", {})) for r in replicas]
            if all(s == expected for s in states) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        bad = [k for k, s in enumerate(states) if s != expected]
        if bad:
            got = states[bad[0]]
            diff = {u: (got.get(u), expected.get(u)) for u in set(got) | set(expected)
                    if got.get(u) != expected.get(u)}
            raise AssertionError(f"{len(bad)} of {N_MONITORS} monitors diverged; monitor "
                                 f"{bad[0]} differs (got, expected) on rows {diff}")
        return expected
    finally:
        await asyncio.gather(*[c.close() for c in clients], return_exceptions=True)


def test_200_monitors_converge(simple_server):
    """200 concurrent monitors (update and update2) all end equal to a final select."""
    _raise_nofile(N_MONITORS * 2 + 64)
    from ovsdb_client import Client

    with Client(simple_server.remote) as c:
        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "seed"}})
    expected = asyncio.run(asyncio.wait_for(_scenario(simple_server.remote), 120))
    names = sorted(row["name"] for row in expected.values())
    alive = sorted({"seed"} | {f"n{i}" for i in range(N_TXNS)}
                   - {f"n{i - 3}" for i in range(3, N_TXNS) if i % 3 == 0})
    assert names == alive
    by_name = {row["name"]: row for row in expected.values()}
    assert by_name[f"n{N_TXNS - 2}"]["number"] == 1000 - (N_TXNS - 1)
    assert by_name[f"n{N_TXNS - 1}"]["number"] == N_TXNS - 1
