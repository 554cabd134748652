"""What the catalog remembers between runs: the events cursor and portal configuration ids.

Theory of operation: a small JSON document ``catalog-state.json`` in the state
directory, ``{account: {kind: {name: value}}}``, read when opened and rewritten
atomically (temporary file, then rename) on every change, so a crash leaves either the
old or the new document. It holds only Stripe ids (event ids, ``bpc_`` ids), never a
secret. The SQLite state store's id map is kept for Salesforce <-> Stripe record pairs;
these values are not such pairs.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

FILE_NAME = "catalog-state.json"


class CatalogMemory:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, str]]] = {}
        if path is not None and path.exists():
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._data = loaded

    @classmethod
    def in_dir(cls, state_dir: Path) -> CatalogMemory:
        return cls(state_dir / FILE_NAME)

    def get(self, account: str, kind: str, name: str) -> str | None:
        with self._lock:
            return self._data.get(account, {}).get(kind, {}).get(name)

    def put(self, account: str, kind: str, name: str, value: str) -> None:
        with self._lock:
            self._data.setdefault(account, {}).setdefault(kind, {})[name] = value
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
