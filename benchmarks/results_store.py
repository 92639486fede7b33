"""One long results table per benchmark: ``<name>.csv`` with a ``method`` column, and ``<name>.json`` mapping
each method to how its rows were made (command, date, commit, machine, parameters).

The benchmark scripts used to write one CSV and one JSON per method (and per tuning run), which left over a
hundred files in ``benchmarks/results/``. One table per benchmark keeps the raw rows behind the report's
headline figures in two files; a run replaces only its own method's rows, so methods run at different times, in
different environments, still end up in one table, and ``--report-only`` rebuilds the report from it.

Writes are atomic (temp file, then rename) and serialised by an advisory lock on the results folder: two runs
of one benchmark (``--jobs`` on other methods, another terminal) may write at once.

Example::

    store = ResultsStore(Path("benchmarks/results/nab.csv"), fields=["series", "auc_pr"])
    store.write("seqae", [{"series": "a.csv", "auc_pr": 0.5}], {"command": "..."})
    store.rows("seqae")        # [{'method': 'seqae', 'series': 'a.csv', 'auc_pr': '0.5'}]
    store.methods()            # ['seqae']
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
from pathlib import Path


class ResultsStore:
    """The long table ``path`` (a ``.csv``) and its metadata ``path.with_suffix('.json')``.

    Parameters
    ----------
    path : Path
        The CSV file; its folder is created on the first write.
    fields : list of str
        The columns after ``method``, in order; other keys of a written row are dropped.
    key : tuple of str, default ("series",)
        The columns that order a method's rows.
    """

    def __init__(self, path: Path, fields: list[str], key: tuple[str, ...] = ("series",)):
        self.path = Path(path)
        self.meta_path = self.path.with_suffix(".json")
        self.fields = ["method", *[f for f in fields if f != "method"]]
        self.key = key

    # ------------------------------------------------------------------------------------------------ reading
    def _all_rows(self) -> list[dict]:
        try:
            with self.path.open(newline="") as f:
                return list(csv.DictReader(f))
        except FileNotFoundError:
            return []

    def _all_meta(self) -> dict:
        try:
            return json.loads(self.meta_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def methods(self) -> list[str]:
        """The methods with rows, in the order of their first row."""
        return list(dict.fromkeys(r["method"] for r in self._all_rows()))

    def rows(self, method: str) -> list[dict]:
        """The rows of one method (strings, as read from the CSV); [] when it has none."""
        return [r for r in self._all_rows() if r["method"] == method]

    def by_method(self) -> dict[str, list[dict]]:
        """Every method's rows, read once."""
        out: dict[str, list[dict]] = {}
        for r in self._all_rows():
            out.setdefault(r["method"], []).append(r)
        return out

    def meta(self, method: str) -> dict:
        """How the method's rows were made ({} when unknown)."""
        return self._all_meta().get(method, {})

    # ------------------------------------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the folder itself is locked: no lock file is left beside the results
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)   # releases the lock

    def write(self, method: str, rows: list[dict], meta: dict | None = None) -> None:
        """Replace the method's rows (and its metadata when given), keeping every other method's."""
        with self._locked():
            kept = [r for r in self._all_rows() if r["method"] != method]
            new = [{**r, "method": method} for r in sorted(rows, key=lambda r: tuple(str(r.get(k, "")) for k in self.key))]
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
                w.writeheader()
                for r in kept + new:
                    w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
            tmp.replace(self.path)
            if meta is not None:
                all_meta = self._all_meta()
                all_meta[method] = meta
                tmp = self.meta_path.with_name(self.meta_path.name + ".tmp")
                tmp.write_text(json.dumps(dict(sorted(all_meta.items())), indent=1) + "\n")
                tmp.replace(self.meta_path)
