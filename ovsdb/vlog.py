"""Per-module log levels, in the spirit of OVS's vlog.

Every module of the appliance gets its logger from :func:`logger`; events below the
level set for the module's namespace (default: info) are dropped before they reach
twistd's log, so debug chatter (reconnect state changes, message traces) costs nothing
unless turned on with :func:`set_level` (later exposed as ``ovs-appctl vlog/set``).
"""

from __future__ import annotations

from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
)

_predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
_observer = FilteringLogObserver(globalLogPublisher, [_predicate])
_namespaces: set[str] = set()


def logger(namespace: str) -> Logger:
    """A Logger for ``namespace`` whose events pass through the level filter."""
    _namespaces.add(namespace)
    return Logger(namespace=namespace, observer=_observer)


def namespaces() -> list[str]:
    """Every namespace a logger was made for, sorted (what ``vlog/list`` shows)."""
    return sorted(_namespaces)


def set_level(namespace: str, level: str) -> None:
    """Sets the minimum level ("debug", "info", "warn", "error", "critical") for a
    namespace and the namespaces below it (dotted). Raises KeyError for a bad level."""
    _predicate.setLogLevelForNamespace(namespace, LogLevel.levelWithName(level))


def get_level(namespace: str) -> str:
    return _predicate.logLevelForNamespace(namespace).name
