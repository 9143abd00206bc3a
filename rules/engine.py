"""durable-rules' C engine, driven directly (no `durable.lang` host, no Python actions).

Why not the Python layer: it costs ~25 µs per fired action, `post`ed events are consumed by
the first matching rule (we need every match, so facts are asserted), and exceptions in its
actions are swallowed into the state. Here a match is read straight from the action queue:
an unexpected action name or error code raises, it never passes silently.

State is per `sid` inside the C library (1,024 live sids exhaust it, and measured: even an
assertion no rule handles leaves its sid's state behind). So every evaluation uses the same
sid, and a handled fact is retracted before the next one; an unhandled fact is never stored.
The state itself is kept: creating it allocates and clears about 8 kB per rule of the
ruleset (state.c createStateNode: two 512-entry frame indexes per beta node), so deleting it
after every handled assertion, as this module first did, made an assertion that matched one
rule of a 32-rule ruleset cost 150 µs instead of 20 µs (measured). Retracting the fact by its
id takes it out of every frame and leaves the state as the first assertion found it. Also
measured: calling `delete_state` after an unhandled assertion corrupts the heap (free():
invalid pointer), so it is only called after a handled one (the drain, below, and after an
error). The library keeps global handle tables and is not thread-safe: one lock serialises
every call into it.

That lingering state is also why reloads leaked (~2.5 MB per reload of a 5,000-rule program,
more the more rulesets an order reaches): `delete_ruleset` frees the state pool but not what
each state node owns (its message pool, per-node frames: state.c deleteStateNode frees them),
so a ruleset whose last assertion went unhandled leaked its state on deletion. Every ruleset
therefore has a DRAIN rule, matched only by DRAIN_FACT: before a ruleset is deleted it is
given that fact, which is handled, so `delete_state` frees the state the normal way.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import threading
import weakref

import durable_rules_engine as _engine

LOCK = threading.RLock()
SID = "0"
_names = itertools.count(1)

_NOT_HANDLED = 1
_DEFERRED = 3

DRAIN = "drain"
_DRAIN_KIND = "$drain"  # no order or event fact has this kind
DRAIN_FACT = json.dumps({"kind": _DRAIN_KIND, "sid": SID, "id": "f"})
_FACT_ID = json.dumps({"sid": SID, "id": "f"})
"""What retracting the evaluated fact needs: the engine finds the stored fact by its id."""


class EngineError(RuntimeError):
    pass


# Rulesets of programs that are gone, waiting to be freed. A finalizer only queues its
# handle: the garbage collector runs finalizers at any allocation, including between the
# C calls of an evaluation on this very thread (LOCK is re-entrant), and freeing a ruleset
# there would pull memory from under the engine. `free_released()` frees them at a point
# where no evaluation is in progress.
_released: list[int] = []


def _release_ruleset(handle: int) -> None:
    _released.append(handle)  # list.append is atomic: safe from any thread, any moment


def free_released() -> None:
    """Free the rulesets of dropped programs. Call with LOCK held, outside an evaluation."""
    while _released:
        handle = _released.pop()
        try:
            _drain(handle)
            _engine.delete_ruleset(handle)
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to free
            pass


def _drain(handle: int) -> None:
    """Free the sid's state through a handled assertion (see the module docstring)."""
    code, state_handle = _engine.assert_fact(handle, DRAIN_FACT)
    if code == _NOT_HANDLED:
        return
    result = _engine.start_action_for_state(handle, state_handle)
    while result:
        following = _engine.complete_and_start_action(handle, state_handle)
        result = (None, following) if following else None
    _engine.delete_state(handle, SID)


def _create(text: str) -> int:
    """create_ruleset, tried up to five times, the heap reshaped between tries.

    Measured: about one process in sixty got "error code: 102" (ERR_UNEXPECTED_TYPE) from a
    definition that compiles everywhere else; after reloads with the drain (below) about one
    call in 260. rete.c createAlpha reads the `right.type` of an `$iany` node whose inner
    condition is an `$and`/`$or`, which nothing sets: it is whatever the freed memory that
    the node pool's realloc reuses held, and 0x09 or 0x0C there is error 102. Retrying at
    once reuses the same memory and fails the same way, so each retry first takes the free
    chunks out of the allocator's reach (BALLAST), then gives them back. A definition that is
    really wrong fails every time.
    """
    ballast: list[int] = []
    try:
        for attempt in range(5):
            try:
                return _engine.create_ruleset(f"loyalty{next(_names)}", text)
            except _engine.error:
                if attempt == 4:
                    raise
                ballast.extend(_malloc(size << attempt) for size in _BALLAST_SIZES)
    finally:
        for pointer in ballast:
            _libc.free(pointer)
    raise AssertionError("unreachable")


_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]
_BALLAST_SIZES = [64 << (i // 8) for i in range(96)]
"""Allocations held during a retry: eight each of 64 B to 256 kB, doubling."""


def _malloc(size: int) -> int:
    pointer = _libc.malloc(size)
    if not pointer:
        raise MemoryError(size)
    return pointer


class CompiledRuleset:
    """One durable-rules ruleset; `names[i]` is the rule id behind action name `r{i}`."""

    def __init__(self, definition: dict[str, dict], rule_ids: dict[str, str]) -> None:
        self.rule_ids = rule_ids
        text = json.dumps(definition)
        with LOCK:
            free_released()
            self.handle = _create(text)
        weakref.finalize(self, _release_ruleset, self.handle)

    def matches(self, fact_json: str) -> list[str]:
        """Rule ids whose conditions the fact meets, in the engine's firing order.

        Call with LOCK held; `fact_json` comes from `fact_json()` (sid SID).
        """
        handle = self.handle
        try:
            code, state_handle = _engine.assert_fact(handle, fact_json)
        except Exception as exc:
            raise EngineError(f"durable-rules refused the fact: {exc}") from exc
        if code == _NOT_HANDLED:
            return []
        try:
            if code not in (0, _DEFERRED):
                raise EngineError(f"durable-rules returned code {code}")
            fired: list[str] = []
            rule_ids = self.rule_ids
            result = _engine.start_action_for_state(handle, state_handle)
            while result:
                message = result[1]
                # message is {"r12": {...}}: the rule name is the first key
                name = message[2 : message.index('"', 2)]
                rule_id = rule_ids.get(name)
                if rule_id is None:
                    raise EngineError(f"durable-rules fired unknown action {name!r}")
                fired.append(rule_id)
                following = _engine.complete_and_start_action(handle, state_handle)
                result = (None, following) if following else None
        except BaseException:
            _engine.delete_state(handle, SID)  # whatever is left of an unfinished evaluation
            raise
        _engine.retract_fact(handle, _FACT_ID)
        return fired


def fact_json(fact: dict) -> str:
    return json.dumps({**fact, "sid": SID, "id": "f"}, separators=(",", ":"))


def build(rules: list[tuple[str, list[dict]]]) -> CompiledRuleset:
    """A ruleset from (rule id, conjunction of terms) pairs."""
    definition: dict[str, dict] = {}
    ids: dict[str, str] = {}
    for i, (rule_id, terms) in enumerate(rules):
        name = f"r{i}"
        condition = terms[0] if len(terms) == 1 else {"$and": terms}
        definition[name] = {"all": [{"m": condition}]}
        ids[name] = rule_id
    definition[DRAIN] = {"all": [{"m": {"kind": _DRAIN_KIND}}]}
    return CompiledRuleset(definition, ids)
