"""Test daemon for tests/test_jsonrpc.py and tests/test_unixctl.py.

Runs a real reactor with JsonRpcProtocol listeners (RemoteService) and a
UnixctlServer, so the tests can drive it with real peers (ovsdb-client,
ovs-appctl, raw sockets).  Prints one line ``READY <json>`` on stdout with
the bound addresses once everything listens.  Not a mock of anything: every
byte goes through the production modules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from twisted.internet import defer, reactor, task
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from ovsdb.jsonrpc import JsonRpcProtocol, Message, MessageKind, SessionHandler
from ovsdb.remotes import RemoteService, SslOptions
from ovsdb.unixctl import (
    UnixctlCommandError,
    UnixctlServer,
    UnixctlService,
    default_path,
    pidfile_path,
    remove_pidfile,
    write_pidfile,
)


class TestHandler(SessionHandler):
    """Answers a few OVSDB-ish methods; everything else "unknown method"."""

    def message_received(self, session, msg):
        if msg.kind is not MessageKind.REQUEST:
            if msg.kind is MessageKind.NOTIFICATION and msg.method == "please_close":
                session.close()
            return
        if msg.method == "list_dbs":
            session.send(Message.reply(["Open_vSwitch", "_Server"], msg.id))
        elif msg.method == "reflect":
            session.send(Message.reply(msg.params, msg.id))
        elif msg.method == "size":
            # Length of the first param, to check large messages arrive whole.
            session.send(Message.reply(len(msg.params[0]), msg.id))
        elif msg.method == "ask_back":
            # Ask the peer a question ourselves; answer with what it says.
            d = session.request("question", msg.params)
            d.addCallbacks(lambda r: session.send(Message.reply({"answer": r}, msg.id)),
                           lambda f: session.send(Message.error_reply(
                               {"error": "peer failed", "details": f.getErrorMessage()},
                               msg.id)))
        elif msg.method == "notify_me":
            session.notify("update", msg.params)
            session.send(Message.reply({}, msg.id))
        else:
            super().message_received(session, msg)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--remote", action="append", default=[])
    p.add_argument("--probe-interval", type=int, default=None)
    p.add_argument("--private-key")
    p.add_argument("--certificate")
    p.add_argument("--ca-cert")
    p.add_argument("--unixctl")
    p.add_argument("--rundir")
    p.add_argument("--program", default="testd")
    args = p.parse_args()

    level = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [level])],
        redirectStandardIO=False)
    ssl = None
    if args.private_key:
        ssl = SslOptions(args.private_key, args.certificate, args.ca_cert)

    services = []
    ready: dict = {"pid": os.getpid(), "remotes": {}}
    for remote in args.remote:
        svc = RemoteService(remote, lambda: JsonRpcProtocol(TestHandler()),
                            ssl=ssl, probe_interval=args.probe_interval)
        svc.startService()
        services.append(svc)
        ready["remotes"][remote] = svc.bound_address

    server = UnixctlServer("testd (Open vSwitch) 3.1.0")

    def echo_args(conn, argv):
        return " ".join(argv) + "\n"

    def fail(conn, argv):
        raise UnixctlCommandError("it failed: " + ",".join(argv))

    def slow(conn, argv):
        return task.deferLater(reactor, 0.2, lambda: "slow done\n")

    def exit_cmd(conn, argv):
        reactor.callLater(0.05, reactor.stop)
        return ""

    server.register("test/echo-args", "[ARG...]", 0, 3, echo_args)
    server.register("test/fail", "ARG", 1, 1, fail)
    server.register("test/slow", "", 0, 0, slow)
    server.register("test/hidden", None, 0, 0, lambda c, a: "hidden\n")
    server.register("exit", "", 0, 0, exit_cmd)

    pidfile = None
    if args.rundir:
        ctl = default_path(args.program, args.rundir, os.getpid())
        pidfile = pidfile_path(args.program, args.rundir)
    else:
        ctl = args.unixctl
    if ctl:
        usvc = UnixctlService(ctl, server)
        usvc.startService()
        services.append(usvc)
        ready["unixctl"] = ctl
    if pidfile:
        write_pidfile(pidfile)
        ready["pidfile"] = pidfile

    @defer.inlineCallbacks
    def shutdown():
        for svc in services:
            yield svc.stopService()
        if pidfile:
            remove_pidfile(pidfile)

    reactor.addSystemEventTrigger("before", "shutdown", shutdown)
    # Announce readiness from inside the running reactor: only then are its SIGTERM
    # handlers installed, so a test stopping us at once still gets a clean shutdown.
    reactor.callWhenRunning(lambda: print("READY " + json.dumps(ready), flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
