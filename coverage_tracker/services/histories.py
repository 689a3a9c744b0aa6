"""Folded histories of recently read beneficiaries, kept per process and checked against the log on every read.

The log is append-only and versioned, so a history folded at version v stays exactly right until an
event after v appears. Each read asks the database for events after the kept version: when there
are none (the usual case: a scheduler checks many slots of one patient), the kept history is the
answer and nothing is decoded or folded again; when there are some, the stream is read and folded
afresh. A read never answers from memory alone, so another process's write is seen at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

from coverage_tracker.config import get_settings
from coverage_tracker.domain.history import History, fold
from coverage_tracker.store import event_store
from coverage_tracker.store.db import PerEngine, raw_reads


class Histories:
    """At most `capacity` folded histories by (clinic, beneficiary), the least recently read dropped first."""

    def __init__(self, engine: Engine, capacity: int) -> None:
        self.engine = engine
        self.capacity = capacity
        self._kept: OrderedDict[tuple[int, str], tuple[int, History]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, clinic_id: int, beneficiary_id: str) -> History | None:
        """The beneficiary's history as the log stands now; None when the clinic has no such beneficiary."""
        reads = raw_reads(self.engine)
        key = (clinic_id, beneficiary_id)
        kept = self._kept.get(key)
        if kept is not None:
            newer, _ = event_store.read_stream(reads, clinic_id, beneficiary_id, after=kept[0])
            if not newer:
                with self._lock:
                    if key in self._kept:
                        self._kept.move_to_end(key)
                return kept[1]
        events, version = event_store.read_stream(reads, clinic_id, beneficiary_id)
        if not events:
            return None
        history = fold(events)
        if self.capacity > 0:
            with self._lock:
                self._kept[key] = (version, history)
                self._kept.move_to_end(key)
                while len(self._kept) > self.capacity:
                    self._kept.popitem(last=False)
        return history

    def __len__(self) -> int:
        return len(self._kept)


histories = PerEngine(lambda engine: Histories(engine, get_settings().history_cache_size))
"""The engine's kept histories (sized by COVERAGE_TRACKER_HISTORY_CACHE_SIZE; 0 keeps none)."""
