"""The embedded broker: kombu's filesystem transport, made safe for several processes.

kombu's own `filesystem://` (5.x) breaks when more than one process uses the folder: `_put`
creates a message file empty and only then locks and writes it, while `_get` moves and reads
files without the lock, so a worker can read a message half written (`JSONDecodeError`, and
Celery stops the worker for good); the exchange tables are truncated before their lock is
taken, so a reader can find one empty. This transport keeps the folder layout and the message
names (`<ns>_<uuid>.<queue>.msg`), and changes how files move:

- a message is written whole under `tmp/`, then `os.replace`d into `queue/`: a reader sees a
  complete file or none;
- a reader claims a message by renaming it into `processed/` (on the same filesystem, so the
  rename is atomic): exactly one process wins, the others get `FileNotFoundError` and try
  the next file; a file that still does not decode is set aside in `bad/`, never fatal;
- an exchange table is read without a lock and changed under an exclusive lock on its own
  `.lock` file, written whole and replaced, so it is never seen empty.

Registered as `nurture-files://`; the embedded default (`NURTURE_BROKER_URL=embedded`) uses
it. The upstream proposal is docs/upstream/kombu-filesystem-atomic.md.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from typing import Any

import structlog
from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps, loads

log = structlog.get_logger(__name__)

#: The URL scheme of this transport.
SCHEME = "nurture-files"
#: Where messages are written before they appear, and where undecodable ones are set aside.
TMP_FOLDER = "tmp"
BAD_FOLDER = "bad"


def message_name(queue: str) -> str:
    """A message's file name: sorts by the time it was written, across processes."""
    return f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"


def write_whole(path: Path, data: bytes, tmp_folder: Path) -> None:
    """Write `data` to `path` so that no reader ever sees it partly written."""
    tmp = tmp_folder / f"{uuid.uuid4().hex}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing), across processes."""
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class Channel(filesystem.Channel):  # type: ignore[misc]  # kombu is untyped
    """A channel whose puts, gets and exchange tables are atomic across processes."""

    _made: frozenset[Path] = frozenset()

    def _folder(self, name: str) -> Path:
        """A folder beside the queue folder (`tmp`, `bad`, `processed`), made once."""
        folder = Path(self.processed_folder).parent / name
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made = self._made | {folder}
        return folder

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        path = Path(self.data_folder_out) / message_name(queue)
        try:
            write_whole(path, dumps(payload).encode(), self._folder(TMP_FOLDER))
        except OSError as exc:
            raise ChannelError(f"cannot add a message to {path.parent}") from exc

    def _get(self, queue: str) -> Any:
        inbox = Path(self.data_folder_in)
        claimed = self._folder(Path(self.processed_folder).name)
        suffix = f".{queue}.msg"
        for name in sorted(n for n in os.listdir(inbox) if n.endswith(suffix)):
            mine = claimed / f"{name}.{os.getpid()}"
            try:
                os.rename(inbox / name, mine)  # the claim: one process wins
            except FileNotFoundError:
                continue  # another process claimed it first
            data = mine.read_bytes()
            try:
                payload = loads(data)
            except ValueError:
                # Only a writer outside this transport can leave one: keep it, go on.
                os.replace(mine, self._folder(BAD_FOLDER) / name)
                log.error("broker.bad_message", queue=queue, file=name, size=len(data))
                continue
            mine.unlink()
            return payload
        raise Empty()

    def get_table(self, exchange: str) -> list[Any]:
        path = self._exchange_file(exchange)
        try:
            rows = loads(path.read_bytes())
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*row) for row in rows]

    def _change_table(self, exchange: str, change: Any) -> None:
        path = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with locked(path.with_name(path.name + ".lock")):
            before = self.get_table(exchange)
            after = change(list(before))
            if after != before:
                write_whole(path, dumps(after).encode(), self._folder(TMP_FOLDER))

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda rows: rows if row in rows else [row, *rows])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kw: Any
    ) -> None:
        # The in-memory state first, as kombu's virtual channel does; then the shared table.
        super(filesystem.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kw)
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda rows: [r for r in rows if r != row])


class Transport(filesystem.Transport):  # type: ignore[misc]  # kombu is untyped
    """kombu's filesystem transport with `Channel` above."""

    Channel = Channel
    driver_name = SCHEME

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # A folder has no host: without one here kombu warns "No hostname was supplied"
        # on every connection (each `/readyz`).
        return {"port": 0}


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
