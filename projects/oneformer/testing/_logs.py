"""Capturing what a block of code logs, for tests that check a warning is said (once, at a level)."""
import contextlib
import logging
from typing import Iterator, List, Optional


@contextlib.contextmanager
def captured_log(logger: Optional[logging.Logger] = None,
                 level: int = logging.NOTSET) -> Iterator[List[logging.LogRecord]]:
    """Yield the list of records that ``logger`` passes to its handlers within the block.

    Args:
        logger: The logger to listen to. Defaults to mmengine's current ``MMLogger`` (the one the code under test
            logs to).
        level: The capturing handler's level. Records below the logger's own level never reach it.
    """
    if logger is None:
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
    records: List[logging.LogRecord] = []
    handler = logging.Handler(level=level)
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
