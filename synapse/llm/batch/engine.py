"""Continuous batching: one thread, one llama.cpp context, every active sequence advanced by each decode.

Each step puts the next token of every decoding sequence into one batch, then fills what room is left with
prompt chunks of sequences still prefilling (at most `prefill_chunk` prompt tokens a step while others are
decoding, so a long prompt delays running streams by one chunk, not by its whole length). New requests are
admitted between steps; a finished or cancelled sequence frees its slot at once. Its KV cells are kept until
the slot's next request, which skips the part of its prompt they already hold (a conversation's history, a
shared system prompt); the rest is removed before that request's prefill. A prompt that starts as a
running sequence's (the agent's system prompt, the same TRIZ context) gets a copy of those cells instead
of prefilling them again.

Sequences may ask for different LoRAs of the loaded base. A decode applies one adapter to every row, and
llama.cpp re-plans a context's graph on each change (milliseconds at 1.5B shapes), so each adapter in use
gets a context of its own over the shared weights ("lane", up to `Shape.contexts`): requests for different
adapters then never switch. Past that many adapters at once a lane is shared, and a step decodes one batch
per adapter in it, the one applied now first (one switch per group). Cached cells are reused only by the
same adapter: a LoRA changes the keys and values the cells hold.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field

from synapse.errors import SynapseError
from synapse.llm.batch.native import NativeModel, Sampler
from synapse.llm.batch.sequence import Finish, SequenceRequest, SequenceStream, TextOut
from synapse.llm.fair import RoundRobin

log = logging.getLogger("synapse.llm.batch")

Row = tuple[int, int, int, bool]
#: Tokens a running sequence's prefix must save beyond the free slot's own cache before it is copied (the copy
#: moves a whole sequence's buffer: some milliseconds on a CPU, where decoding 32 prompt tokens takes ~100).
SHARE_MIN = 32


def _common(a: tuple[int, ...], b: list[int]) -> int:
    """How many first tokens `a` and `b` share."""
    n = 0
    for mine, theirs in zip(a, b, strict=False):
        if mine != theirs:
            break
        n += 1
    return n


@dataclass
class _Active:
    """A sequence holding a slot (its llama.cpp sequence id) and the state of its decoding."""

    stream: SequenceStream
    slot: int
    sampler: Sampler
    text: TextOut
    prefilled: int = 0
    pending: int | None = None  # the sampled token not yet decoded
    rows: list[int] = field(default_factory=list)  # batch rows of this sequence in the current step
    decoding_pending: bool = False  # whether this step decodes `pending`
    generated_in_cache: int = 0  # generated tokens decoded into the KV cache

    @property
    def in_cache(self) -> list[int]:
        """The tokens this sequence's KV cells hold, position by position."""
        return [*self.prompt[: self.prefilled], *self.stream.tokens[: self.generated_in_cache]]

    @property
    def prompt(self) -> tuple[int, ...]:
        return self.stream.request.prompt

    @property
    def pos(self) -> int:
        return self.prefilled + len(self.stream.tokens)


class BatchEngine:
    """Runs `native`'s sequences in a thread of its own; `submit` is called from an event loop."""

    def __init__(self, native: NativeModel, *, prefill_chunk: int = 128) -> None:
        self.native = native
        self.prefill_chunk = max(1, min(prefill_chunk, native.n_batch))
        self._inbox: queue.Queue[SequenceStream | None] = queue.Queue()
        self._waiting: list[SequenceStream] = []
        self._active: list[_Active] = []
        self._free = list(range(native.n_seq * native.n_lanes))
        #: What each free slot's KV cells still hold, and under which adapter: a new prompt for the same
        #: adapter that starts the same way skips that part.
        self._cached: dict[int, tuple[str | None, list[int]]] = {slot: (None, []) for slot in self._free}
        #: The adapter each claimed lane is for (a new sequence of that adapter goes there).
        self._homes: dict[int, str | None] = {}
        self._turns = RoundRobin()
        self.steps = 0
        #: Set when the loop died (a failed decode): later requests end with it at once instead of waiting.
        self.failure: BaseException | None = None
        self.completed = 0
        self.cancelled = 0
        #: Requests whose prompt start was copied from another slot's cells.
        self.shared_prefixes = 0
        self._thread = threading.Thread(target=self._run, name="llamacpp-batch", daemon=True)
        self._thread.start()

    @property
    def slots_in_use(self) -> int:
        return len(self._active)

    def submit(self, request: SequenceRequest) -> SequenceStream:
        """Queue a request; read the returned stream for its text (cancel it, or stop reading, to drop it)."""
        stream = SequenceStream(request, asyncio.get_running_loop())
        limit = self.native.n_ctx_seq - 1
        if not request.prompt or len(request.prompt) > limit:
            stream.end("error", SynapseError(f"the prompt has {len(request.prompt)} tokens, a sequence holds {limit}"))
            return stream
        if self.failure is not None:
            stream.end("error", self.failure)
            return stream
        if request.adapter is not None and request.adapter not in self.native.adapters:
            loaded = ", ".join(self.native.adapters) or "none"
            stream.end("error", SynapseError(f"no LoRA {request.adapter!r} is loaded", f"loaded: {loaded}"))
            return stream
        self._inbox.put(stream)
        return stream

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread (running sequences end as cancelled) and free the model."""
        self._inbox.put(None)
        self._thread.join(timeout)
        self.native.close()

    # ---- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        finish: Finish = "cancelled"
        try:
            while self._collect():
                self._admit()
                if self._active:
                    self._step()
        except Exception as exc:  # a failed decode ends every stream with the error, not a silent hang
            log.exception("batch engine stopped")
            self.failure, finish = exc, "error"
        self._end_all(finish, self.failure)

    def _end_all(self, finish: Finish, error: BaseException | None) -> None:
        """On close or failure: every sequence, running, waiting or still in the inbox, ends now."""
        for seq in list(self._active):
            self._retire(seq, finish, error)
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._waiting.append(item)
        for stream in self._waiting:
            stream.end(finish, error)
        self._waiting = []

    def _collect(self) -> bool:
        """Move new requests to the waiting list (blocking when idle); False once closed."""
        block = not self._active and not self._waiting
        while True:
            try:
                item = self._inbox.get(block=block)
            except queue.Empty:
                return True
            if item is None:
                return False
            self._waiting.append(item)
            block = False

    def _admit(self) -> None:
        for stream in [s for s in self._waiting if s.cancelled]:
            self.cancelled += 1
            stream.end("cancelled")
        self._waiting = [s for s in self._waiting if not s.cancelled]
        while len(self._active) < self.native.n_seq and self._waiting:
            stream = self._waiting.pop(self._turns.pick(self._waiting, lambda s: s.request.client))
            self._turns.started(stream.request.client)
            self._start(stream)

    def _start(self, stream: SequenceStream) -> None:
        try:
            sampler = Sampler(self.native, stream.request.sampler)
        except SynapseError as exc:  # this request's grammar, not the engine's fault: the others go on
            stream.end("error", exc)
            return
        stream.admitted_step = self.steps
        slot, keep, source = self._slot_for(stream.request.prompt, stream.request.adapter)
        self._free.remove(slot)
        if source is None:
            self.native.trim_sequence(slot, keep)
        else:  # the prefix lives in another slot's cells: copy them instead of decoding it again
            self.native.copy_prefix(source, slot, keep)
            self.shared_prefixes += 1
        stream.reused = keep
        self._active.append(_Active(stream, slot, sampler, TextOut(stream.request.stop), prefilled=keep))

    def _known(self, adapter: str | None) -> dict[int, list[int]]:
        """What each slot's cells hold, by slot, for the same adapter: a free slot's cache, a running
        sequence's prompt and decoded tokens."""
        known = {s: cached for s, (a, cached) in self._cached.items() if s in self._free and a == adapter}
        for seq in self._active:
            if seq.stream.request.adapter == adapter:
                known[seq.slot] = seq.in_cache
        return known

    def _lane_for(self, adapter: str | None) -> int:
        """The lane of a new sequence of `adapter`: the one claimed for it; else an unclaimed idle one, a new
        one while the shape allows, or an idle one, claimed for it now; else the least busy, shared."""
        native = self.native
        for lane, home in self._homes.items():
            if home == adapter:
                return lane
        busy = Counter(native.lane_of(seq.slot) for seq in self._active)
        idle = [lane for lane in range(native.n_lanes) if busy[lane] == 0]
        unclaimed = [lane for lane in idle if lane not in self._homes]
        if unclaimed:
            lane = unclaimed[0]
        elif native.n_lanes < native.max_lanes and self._add_lane():
            lane = native.n_lanes - 1
        elif idle:
            lane = idle[0]
        else:
            return min(range(native.n_lanes), key=lambda lane: busy[lane])
        self._homes[lane] = adapter
        return lane

    def _add_lane(self) -> bool:
        """One more context and its slots; False (and no more tries) when llama.cpp cannot make it."""
        native = self.native
        try:
            lane = native.add_lane()
        except SynapseError as exc:
            log.warning("%s; adapters share the %d context(s) made", exc, native.n_lanes)
            native.max_lanes = native.n_lanes
            return False
        for slot in range(lane * native.n_seq, (lane + 1) * native.n_seq):
            self._free.append(slot)
            self._cached[slot] = (None, [])
        log.info("context %d of %d made over the base (another adapter in use)", lane + 1, native.max_lanes)
        return True

    def _slot_for(self, prompt: tuple[int, ...], adapter: str | None) -> tuple[int, int, int | None]:
        """The free slot for `prompt`, how many of its first tokens need no prefill (never the whole prompt:
        its last token is decoded again for the logits of the first answer token), and the slot of the same
        lane whose cells hold them when that is not the chosen one (a running sequence with the same system
        prompt)."""
        lane = self._lane_for(adapter)
        lane_of = self.native.lane_of
        free = [slot for slot in self._free if lane_of(slot) == lane]
        head = prompt[: len(prompt) - 1]
        known = self._known(adapter).items()
        matches = {slot: _common(head, tokens) for slot, tokens in known if lane_of(slot) == lane}
        own = max(free, key=lambda s: matches.get(s, 0))
        best = max(matches, key=lambda s: matches[s], default=own)
        if matches.get(best, 0) < matches.get(own, 0) + SHARE_MIN:
            return own, matches.get(own, 0), None
        # The free slot whose cache is worth least takes the shared prefix.
        target = min(free, key=lambda s: matches.get(s, 0))
        return target, matches[best], best

    def _step(self) -> None:
        for seq in [s for s in self._active if s.stream.cancelled]:
            self._retire(seq, "cancelled")
        native = self.native
        groups: dict[tuple[int, str | None], list[_Active]] = {}
        for seq in self._active:
            groups.setdefault((native.lane_of(seq.slot), seq.stream.request.adapter), []).append(seq)
        # In each lane the applied adapter's group first: no switch where one adapter (or none) is in use.
        order = sorted(groups, key=lambda key: (key[0], key[1] != native.adapter_of(key[0])))
        decoding = any(seq.pending is not None for seq in self._active)
        prefill = min(self.native.n_batch, self.prefill_chunk) if decoding else self.native.n_batch
        planned = []
        for key in order:
            rows, prefill = self._plan(groups[key], prefill)
            if rows:
                planned.append((key, rows))
        if not planned:
            return
        self.steps += 1
        for (lane, adapter), rows in planned:
            native.use_adapter(adapter, lane)
            native.decode(rows)
            for seq in groups[lane, adapter]:
                seq.generated_in_cache += seq.decoding_pending
            for seq in groups[lane, adapter]:
                if seq.rows and rows[seq.rows[-1]][3]:
                    self._take(seq, seq.sampler.sample(native, seq.rows[-1]))

    def _plan(self, group: list[_Active], prefill: int) -> tuple[list[Row], int]:
        """The rows of one adapter's decode: one token per decoding sequence, then prompt chunks from the
        step's prefill budget; returns the rows and the budget left."""
        rows: list[Row] = []
        for seq in group:
            seq.rows = []
            seq.decoding_pending = seq.pending is not None
            if seq.pending is not None:
                seq.rows.append(len(rows))
                rows.append((seq.pending, seq.pos - 1, seq.slot, True))
        budget = min(prefill, self.native.n_batch - len(rows))
        used = 0
        for seq in group:
            left = len(seq.prompt) - seq.prefilled
            if left == 0 or used == budget:
                continue
            n = min(left, budget - used)
            start = seq.prefilled
            for k in range(start, start + n):
                seq.rows.append(len(rows))
                rows.append((seq.prompt[k], k, seq.slot, k == len(seq.prompt) - 1))
            seq.prefilled += n
            used += n
        return rows, prefill - used

    def _take(self, seq: _Active, token: int) -> None:
        """Account for a sampled token: the end of the answer, a stop string, or text to stream."""
        stream = seq.stream
        seq.pending = None
        if self.native.is_eog(token):
            self._retire(seq, "stop")
            return
        stream.tokens.append(token)
        stream.token_steps.append(self.steps)
        out, stopped = seq.text.feed(self.native.piece(token))
        if out:
            stream.put(out)
        if stopped:
            self._retire(seq, "stop")
        elif len(stream.tokens) >= stream.request.max_tokens or seq.pos >= self.native.n_ctx_seq:
            self._retire(seq, "length")
        else:
            seq.pending = token

    def _retire(self, seq: _Active, finish: Finish, error: BaseException | None = None) -> None:
        self._active.remove(seq)
        if finish == "error":
            self.native.free_sequence(seq.slot)
            self._cached[seq.slot] = (None, [])
        else:  # the slot is free; its cells stay for a next prompt that starts the same way
            self._cached[seq.slot] = (seq.stream.request.adapter, seq.in_cache)
        seq.sampler.free()
        self._free.append(seq.slot)
        if finish in ("stop", "length"):
            rest = seq.text.flush()
            if rest:
                seq.stream.put(rest)
            self.completed += 1
        elif finish == "cancelled":
            self.cancelled += 1
        seq.stream.end(finish, error)
