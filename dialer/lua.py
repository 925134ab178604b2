"""Lua scripts called by SHA, on a Redis client or queued on a pipeline with other commands.

redis-py's own ``Script`` does the first but, on a pipeline, asks Redis
``SCRIPT EXISTS`` before every ``execute`` (one more round trip each time).
Here a pipeline is sent as it is: ``EVALSHA`` of a script Redis does not hold
(first use, a restarted Redis, ``SCRIPT FLUSH``) answers ``NOSCRIPT`` for that
command alone; :func:`execute` then loads the script and runs just those
commands again. A command that answered ``NOSCRIPT`` did not run, so nothing
runs twice.
"""

from __future__ import annotations

import hashlib

from redis.exceptions import NoScriptError

_BY_SHA: dict[str, "Lua"] = {}


class Lua:
    """One Lua script: ``script(client, keys, args)`` runs it, ``script.queue(pipe, keys, args)`` queues it."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()
        _BY_SHA[self.sha] = self

    def __call__(self, client, keys=(), args=()):
        """Run on ``client`` now and return the script's result."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe, keys=(), args=()) -> None:
        """Add a call to a pipeline (run it with :func:`execute`)."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def execute(pipe) -> list:
    """Send a non-transactional pipeline; re-run the calls of scripts Redis did not hold. Returns the results.

    Raises the first other error a command answered (the other commands ran).
    """
    stack = list(pipe.command_stack)
    results = pipe.execute(raise_on_error=False)
    missing = [i for i, res in enumerate(results) if isinstance(res, NoScriptError)]
    if missing:
        for sha in {stack[i][0][1] for i in missing}:
            pipe.script_load(_BY_SHA[sha].source)
        for i in missing:
            args, options = stack[i]
            pipe.execute_command(*args, **options)
        again = pipe.execute(raise_on_error=False)
        for i, res in zip(missing, again[-len(missing):]):
            results[i] = res
    for res in results:
        if isinstance(res, Exception):
            raise res
    return results
