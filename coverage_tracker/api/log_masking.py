"""MBIs never reach a log: every record made in the process has them masked in its message, arguments and traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from coverage_tracker.domain.mbi import mask_mbis_in_text

_TRACEBACKS = logging.Formatter()
_PLAIN = (int, float, bool, type(None))


def install_mbi_masking() -> None:
    """Wrap the log record factory (once per process) so that every record is masked as it is made."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_mbis", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(factory(*args, **kwargs))

    masking_factory.masks_mbis = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with every MBI masked; arguments keep their places (uvicorn's access log unpacks them)."""
    record.msg = _masked(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _masked(value) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_masked(value) for value in record.args)
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = mask_mbis_in_text(_TRACEBACKS.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_mbis_in_text(record.stack_info)
    return record


def _masked(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        return value
    masked = mask_mbis_in_text(text)
    return masked if masked != text else value


class PathsOnly(logging.Filter):
    """For uvicorn's access log: the request's path without its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5 and isinstance(record.args[2], str):
            client, method, full_path, version, status = record.args
            record.args = (client, method, full_path.partition("?")[0], version, status)
        return True
