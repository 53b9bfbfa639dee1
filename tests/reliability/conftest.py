"""Fixtures of the reliability and security suites; helpers live in support.py."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import pytest

from tests.reliability.support import REGISTRY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # "After the suites": the secrets scan reads what the other suites left behind.
    last = [item for item in items if item.path.name == "test_secrets.py"]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.fixture(autouse=True)
def product_log_file(data_dir: Path):
    """Log to the data dir's log file through the product's redacting formatter, as the app does."""
    from codatdesk.logging_setup import RedactingFormatter

    REGISTRY.directory(data_dir)
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(log_dir / "codatdesk.log", maxBytes=20_000_000,
                                                   backupCount=2, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "uvicorn.access", "alembic")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    yield log_dir / "codatdesk.log"
    root.removeHandler(handler)
    handler.close()
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


