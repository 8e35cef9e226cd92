"""The run store: one folder per point, verified on every read, safe for concurrent writers.

Layout of a store ``OUT`` (``lmech check --out OUT``)::

    OUT/
      <law>/
        <point-key>/            one committed point (16 hex digits; see point_key)
          manifest.json         store format, key, law, preset, resolved spec + hash, seed,
                                device, code hash, environment, timings, timestamps,
                                status, and the size and SHA-256 of every other file
          theory.parquet        the prediction table
          experiment.parquet    the measurement table
          verdict.json          Verdict.to_dict() plus the law name
          figure.png, figure.svg
        .lock-lmech-<key>       held while one process computes that point
        .tmp-lmech-<owner>-...  a point being written (owner: host, pid, process start)
        .invalid-lmech-<key>-*  a point that failed verification and was recomputed,
                                kept aside, never deleted
      report.html               built from the points alone (lmech.report)

**Points.** A point is keyed by (law, resolved spec hash, seed, lmech code hash, device)
(:func:`point_key`), so one store holds any number of points per law: another ``--set``,
``--seed``, device or lmech version is another folder beside the first, never a
replacement. :func:`index` lists them as a DataFrame; ``lmech runs DIR`` prints it.

**Atomicity.** Every file is written to a temporary name in its final directory,
fsynced and renamed (``os.replace``). A point is built in a temporary folder inside its
law folder and renamed to ``<law>/<key>`` by :meth:`LawRunWriter.commit`; the rename
only succeeds while no point of that key is there, so a reader sees a complete point or
none, and two writers of one key never mix files.

**Concurrent writers.** Before computing a point a process takes its lock
(``.lock-lmech-<key>``, created with ``O_CREAT | O_EXCL``; it holds the pid, host,
process start time and a token). Another process wanting the same point waits, then
reuses what the holder committed. A lock is stale only when its host is this host and
its process is provably gone (pid not alive, or alive with another start time, or a
zombie); a stale lock is taken over, a lock from another host never is. Temporaries
carry their writer's identity in their name and :func:`cleanup_temp` removes only those
whose writer is provably gone. lmech deletes nothing else under ``OUT``: not another
process's work, not a file it did not name (a user's ``.tmp-notes/`` survives), never
``OUT`` itself, and a point that fails verification is moved aside, not deleted.

**Older stores.** A law folder holding ``manifest.json`` itself was written by an
older lmech (one result per law). It reads as an invalid point; when a check computes
that law again, :func:`retire_legacy` moves those files aside (kept, not deleted).

**Integrity.** :func:`read_point` opens the point folder and each file without following
symbolic links (``O_NOFOLLOW`` relative to the folder), accepts only regular files,
checks each file's size and SHA-256 against the manifest, the manifest's own checksum,
that the folder name is the key its manifest describes, and that the verdict is
consistent: its status follows from its checks and each check's ``passed`` follows from
its value, comparison and bound. A point that fails any of these is *invalid*: it is
recomputed on reuse and shown as a row saying why in reports, never trusted.

This module never imports torch at import time (``environment_info`` imports it lazily).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import importlib.metadata
import io
import json
import math
import os
import platform
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lmech.errors import InputError, LmechError, StoreError
from lmech.laws.base import Verdict, spec_hash, spec_to_dict

__all__ = [
    "MANIFEST",
    "VERDICT",
    "THEORY",
    "EXPERIMENT",
    "STORE_FORMAT",
    "TEMP_PREFIX",
    "LOCK_PREFIX",
    "ASIDE_PREFIX",
    "MAX_FILE_BYTES",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "write_parquet",
    "save_figure",
    "environment_info",
    "code_hash",
    "point_key",
    "LawRunWriter",
    "Point",
    "read_point",
    "verdict_problem",
    "PointLock",
    "LockHolder",
    "try_lock",
    "cleanup_temp",
    "retire_legacy",
    "ensure_writable_dir",
    "ensure_store_dir",
    "store_path",
    "list_points",
    "read_store",
    "index_records",
    "index",
    "read_law_run",
]

MANIFEST = "manifest.json"
VERDICT = "verdict.json"
THEORY = "theory.parquet"
EXPERIMENT = "experiment.parquet"
STORE_FORMAT = 2
TEMP_PREFIX = ".tmp-lmech-"
LOCK_PREFIX = ".lock-lmech-"
ASIDE_PREFIX = ".invalid-lmech-"
# a point's file is read whole to check its hash; nothing lmech writes comes near this
MAX_FILE_BYTES = 1 << 30
_REQUIRED = (VERDICT, THEORY, EXPERIMENT)
_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
_TEMP_RE = re.compile(r"^\.tmp-lmech-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<start>\d+|x)-.+$")
# an unreadable lock younger than this may be one being written right now
_LOCK_GRACE_S = 30.0


# --------------------------------------------------------------------------- processes


def _host_id() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of ``pid`` from /proc, or None where unknown."""
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _owner() -> str:
    """``<host id>-<pid>-<start>``: who writes a temporary, recoverable from its name."""
    pid = os.getpid()
    st = _proc_stat(pid)
    return f"{_host_id()}-{pid}-{st[1] if st else 'x'}"


def _alive(pid: int, start: str | None) -> bool:
    """False only when process ``pid`` of this host is provably gone (or is another
    process that reused the pid: its start time differs); True when unsure."""
    if pid <= 0:
        return True  # never signal a process group; an odd pid proves nothing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # EPERM: it exists but belongs to someone else
    st = _proc_stat(pid)
    if st is not None:
        state, now_start = st
        if state in ("Z", "X"):
            return False  # ended, not yet reaped by its parent
        if start not in (None, "x") and now_start != start:
            return False
    return True


def _temp_owner_dead(name: str) -> bool:
    """True when ``name`` is an lmech temporary whose writer is provably gone."""
    m = _TEMP_RE.match(name)
    if m is None or m["host"] != _host_id():
        return False
    return not _alive(int(m["pid"]), m["start"])


# --------------------------------------------------------------------------- atomic files


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort; not all systems allow it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def _temp_sibling(path: Path) -> Iterator[Path]:
    """A fresh temporary path next to ``path``, renamed onto ``path`` on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{_owner()}-", suffix=f"-{path.name}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)  # replaces a symlink at ``path``, never its target
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + rename)."""
    path = Path(path)
    with _temp_sibling(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    # numpy scalars and 0-d arrays expose .item(); paths and the rest become strings
    item = getattr(obj, "item", None)
    if callable(item):
        with contextlib.suppress(TypeError, ValueError):
            return item()
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Warning: non-finite floats are written as ``NaN``/``Infinity`` (Python's ``json``
    convention), which Python reads back but strict JSON parsers reject.
    """
    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    return atomic_write_text(path, text)


def write_parquet(path: str | os.PathLike, df: pd.DataFrame) -> Path:
    """Write ``df`` to a parquet file atomically (pyarrow engine)."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"write_parquet expects a pandas DataFrame; got {type(df).__name__}")
    path = Path(path)
    with _temp_sibling(path) as tmp:
        try:
            df.to_parquet(tmp, engine="pyarrow")
        except (ValueError, TypeError, ImportError) as err:  # ArrowInvalid is a ValueError
            raise StoreError(f"cannot write table to {path}: {err}") from None
    return path


def save_figure(fig: Any, directory: str | os.PathLike, stem: str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` (150 dpi) and ``stem.svg`` in ``directory``; close it.

    Both files are written atomically. A figure made with ``matplotlib.figure.Figure``
    needs no backend; one made with ``pyplot`` is closed so pyplot releases it.
    """
    directory = Path(directory)
    paths = []
    try:
        for fmt, kwargs in (("png", {"dpi": 150}), ("svg", {"metadata": {"Date": None}})):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, **kwargs)
            paths.append(atomic_write_bytes(directory / f"{stem}.{fmt}", buf.getvalue()))
    finally:
        # a figure can belong to pyplot only if pyplot was imported
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    return paths


# --------------------------------------------------------------------------- environment


def _version(dist: str) -> str:
    module = sys.modules.get(dist)
    version = getattr(module, "__version__", None)
    if version is not None:
        return str(version)
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_state(directory: Path, timeout: float = 5.0) -> dict[str, Any] | None:
    """Commit and dirty flag of the git checkout holding ``directory``, or None."""

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    # lmech must be tracked by the repository, not merely installed inside one
    if git("ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def environment_info(device: str) -> dict[str, Any]:
    """Versions, platform, device and git state, for a manifest (no hostname)."""
    import lmech

    info: dict[str, Any] = {
        "lmech": lmech.__version__,
        "torch": "not installed",
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "pandas": _version("pandas"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
    }
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        info["torch"] = str(torch.__version__)
        if str(device).startswith("cuda"):
            with contextlib.suppress(Exception):  # driver problems must not break a run
                info["cuda"] = torch.version.cuda
                info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    info["git"] = _git_state(Path(lmech.__file__).resolve().parent)
    return info


def _tree_hash(root: Path) -> str:
    """SHA-256 (first 16 hex digits) of the ``*.py`` files under ``root``, by relative path
    and content."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def code_hash() -> str:
    """Fingerprint of lmech's Python sources (every ``*.py`` file of the package); part of
    every point's key, so a point is reused only by the same code."""
    return _tree_hash(Path(__file__).resolve().parent.parent)


def point_key(law: str, spec_hash: str, seed: int, code: str, device: str) -> str:
    """The key (16 hex digits, the point's folder name) of (law, spec hash, seed, code
    hash, device)."""
    payload = json.dumps(
        {
            "law": str(law),
            "spec_hash": str(spec_hash),
            "seed": int(seed),
            "code_hash": str(code),
            "device": str(device),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _manifest_checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, default=_json_default, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- writing points


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_name(name: Any, what: str = "a law name") -> str:
    name = str(name)
    if (
        not name
        or name.startswith(".")
        or "/" in name
        or os.sep in name
        or "\x00" in name
        or name != name.strip()
        or any(ch in name for ch in "\n\r\t")
    ):
        raise InputError(f"{what} must be a plain non-hidden file name; got {name!r}")
    return name


def _store_error(action: str, path: Path, err: OSError) -> StoreError:
    reason = err.strerror or os.strerror(err.errno or errno.EIO) or type(err).__name__
    where = " ".join(str(path).splitlines())
    return StoreError(f"cannot {action} {where}: {reason}; pass a writable --out DIR")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LawRunWriter:
    """Write one point of a law as a unit.

    The files go to a temporary folder ``out_dir/<law>/.tmp-lmech-<owner>-...``;
    :meth:`commit` records each file's size and SHA-256 in ``manifest.json`` and renames
    the folder to ``out_dir/<law>/<key>`` (:func:`point_key`). Used as a context manager
    it commits on a clean exit and removes the temporary folder if an exception escapes
    (Ctrl-C included)::

        with LawRunWriter(out, law.name, preset="quick", spec=spec, seed=0,
                          device="cpu", claim=law.claim, source=law.source) as run:
            with run.timed("theory"):
                pred = law.theory(spec)
            ...
            run.write_theory(pred)
            run.write_experiment(meas)
            run.write_verdict(verdict)
            run.write_figure(fig)

    A verdict is required; a table not written (e.g. a skipped law that measured
    nothing) is stored as an empty table, so the point is still complete. Callers that
    run concurrently take the point's lock first (:func:`try_lock`); the writer itself
    never replaces a valid point of another writer (see :meth:`commit`).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        law_name: str,
        *,
        preset: str,
        spec: Any,
        seed: int,
        device: str,
        claim: str | None = None,
        source: str | None = None,
        environment: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        from lmech.seeding import check_seed

        self.out_dir = Path(out_dir)
        self.law_name = _check_name(law_name)
        try:
            self.spec_dict = spec_to_dict(spec)
        except TypeError:
            raise InputError(
                f"LawRunWriter needs the law's spec dataclass; got {type(spec).__name__}"
            ) from None
        self.spec_type = type(spec).__qualname__
        self.preset = str(preset)
        self.seed = check_seed(seed, "seed")
        self.spec_hash = spec_hash(spec, self.seed)
        self.device = str(device)
        self.code = code_hash() if code is None else str(code)
        self.key = point_key(self.law_name, self.spec_hash, self.seed, self.code, self.device)
        self.claim = claim
        self.source = source
        self.environment = environment
        self.timings: dict[str, float] = {}
        self.started = _now()
        self.law_dir = self.out_dir / self.law_name
        self.final_dir = self.law_dir / self.key
        self._verdict: Verdict | None = None
        self._tables: set[str] = set()
        self._figures: list[str] = []
        self.committed = False
        #: set by commit: "new", "kept" (an equal valid point was there first; ours was
        #: dropped), or "replaced" (an invalid or skipped point was there)
        self.outcome: str | None = None
        #: where an invalid point that this commit replaced was moved (never deleted)
        self.set_aside: Path | None = None
        if self.law_dir.is_symlink():
            raise StoreError(
                f"cannot write run store to {self.law_dir}: it is a symbolic link, and lmech "
                "writes no point through a link; move it out of the store"
            )
        try:
            self.law_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir = Path(
                tempfile.mkdtemp(
                    prefix=f"{TEMP_PREFIX}{_owner()}-", suffix=f"-{self.key}", dir=self.law_dir
                )
            )
            os.chmod(self.tmp_dir, 0o777 & ~_UMASK)  # mkdtemp makes 0700
        except OSError as err:
            raise _store_error("write run store to", self.law_dir, err) from None

    # -- context manager
    def __enter__(self) -> LawRunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self.committed:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        elif exc_type is not None:
            self.discard()

    # -- parts
    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Record the wall time of the enclosed block in ``timings[phase]`` (seconds)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - t0

    def _writable(self) -> Path:
        if self.committed:
            raise StoreError(f"point {self.final_dir} is already committed")
        if not self.tmp_dir.is_dir():
            raise StoreError(f"point {self.final_dir} was discarded; start a new writer")
        return self.tmp_dir

    def write_theory(self, df: pd.DataFrame) -> Path:
        path = write_parquet(self._writable() / THEORY, df)
        self._tables.add(THEORY)
        return path

    def write_experiment(self, df: pd.DataFrame) -> Path:
        path = write_parquet(self._writable() / EXPERIMENT, df)
        self._tables.add(EXPERIMENT)
        return path

    def write_verdict(self, verdict: Verdict) -> Path:
        if not isinstance(verdict, Verdict):
            raise InputError(f"write_verdict expects a Verdict; got {type(verdict).__name__}")
        problem = verdict_problem(verdict)
        if problem is not None:
            raise InputError(f"refusing to store an inconsistent verdict: {problem}")
        path = atomic_write_json(
            self._writable() / VERDICT, {"law": self.law_name, **verdict.to_dict()}
        )
        self._verdict = verdict
        return path

    @property
    def verdict(self) -> Verdict | None:
        """The verdict written so far (None before :meth:`write_verdict`)."""
        return self._verdict

    def write_figure(self, fig: Any, stem: str = "figure") -> list[Path]:
        paths = save_figure(fig, self._writable(), _check_name(stem, "a figure name"))
        self._figures.extend(p.name for p in paths if p.name not in self._figures)
        return paths

    def manifest(self, files: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The manifest as it would be written now (``files``: name -> size and SHA-256)."""
        manifest: dict[str, Any] = {
            "format": STORE_FORMAT,
            "key": self.key,
            "law": self.law_name,
            "preset": self.preset,
            "spec_type": self.spec_type,
            "spec": self.spec_dict,
            "spec_hash": self.spec_hash,
            "code_hash": self.code,
            "seed": self.seed,
            "device": self.device,
            "environment": self.environment
            if self.environment is not None
            else environment_info(self.device),
            "timings": {k: float(v) for k, v in self.timings.items()},
            "started": self.started,
            "finished": _now(),
            "status": self._verdict.status if self._verdict is not None else None,
            "figures": list(self._figures),
            "files": dict(files or {}),
        }
        if self.claim is not None:
            manifest["claim"] = self.claim
        if self.source is not None:
            manifest["source"] = self.source
        manifest["manifest_sha256"] = _manifest_checksum(manifest)
        return manifest

    # -- commit / discard
    def _file_records(self, tmp: Path) -> dict[str, dict[str, Any]]:
        records = {}
        for path in sorted(tmp.iterdir()):
            if path.name == MANIFEST or path.name.startswith("."):
                continue
            data = path.read_bytes()
            records[path.name] = {"bytes": len(data), "sha256": _sha256(data)}
        return records

    def commit(self) -> Path:
        """Write the manifest and move the point to ``out_dir/<law>/<key>``; return it.

        When a point of this key is already there: a valid one (another writer was
        first) is kept and ours dropped; an invalid one is moved aside to
        ``.invalid-lmech-<key>-<time>`` (kept, :attr:`set_aside`); a valid *skipped*
        one (its data were missing then) is replaced.
        """
        tmp = self._writable()
        if self._verdict is None:
            raise StoreError(
                f"point of {self.law_name!r} has no verdict; call write_verdict before commit"
            )
        try:
            for name in (THEORY, EXPERIMENT):
                if name not in self._tables:
                    write_parquet(tmp / name, pd.DataFrame())
            atomic_write_json(tmp / MANIFEST, self.manifest(self._file_records(tmp)))
            _fsync_dir(tmp)
            self.outcome = self._install(tmp)
        except OSError as err:
            if isinstance(err, StoreError):
                raise
            raise _store_error("commit point", self.final_dir, err) from None
        self.committed = True
        _fsync_dir(self.law_dir)
        return self.final_dir

    def _install(self, tmp: Path) -> str:
        outcome = "new"
        for _ in range(8):
            try:
                os.rename(tmp, self.final_dir)
                return outcome
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                    raise
            existing = read_point(self.final_dir, keep_data=False)
            if not existing.exists:
                continue  # moved away meanwhile; try again
            if existing.valid and existing.verdict.status != "skipped":
                _remove(tmp)  # an equal point is there first: keep it, drop ours
                self.committed = True
                return "kept"
            if existing.valid:  # a skipped point: superseded by this one
                aside = self.law_dir / f"{TEMP_PREFIX}{_owner()}-{secrets.token_hex(4)}-superseded"
            else:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                aside = self.law_dir / f"{ASIDE_PREFIX}{self.key}-{stamp}-{secrets.token_hex(3)}"
            try:
                os.rename(self.final_dir, aside)
            except FileNotFoundError:
                continue
            if existing.valid:
                _remove(aside)
            else:
                self.set_aside = aside
            outcome = "replaced"
        raise StoreError(
            f"cannot commit point {self.final_dir}: other writers kept replacing it "
            "(8 tries); run the command again"
        )

    def discard(self) -> None:
        """Remove the temporary folder (nothing committed is touched)."""
        if not self.committed:
            _remove(self.tmp_dir)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# --------------------------------------------------------------------------- reading points


@dataclasses.dataclass
class Point:
    """One point folder as read and verified by :func:`read_point`.

    ``problem`` is None for a valid point, else one line saying why it is not trusted.
    ``manifest`` and ``verdict`` are set when they could be read (even for an invalid
    point, for display); ``data`` holds the verified bytes of each file when read with
    ``keep_data=True``.
    """

    path: Path
    problem: str | None = None
    manifest: dict[str, Any] | None = None
    verdict: Verdict | None = None
    data: dict[str, bytes] = dataclasses.field(default_factory=dict, repr=False)
    exists: bool = True

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def law(self) -> str:
        m = self.manifest or {}
        return str(m["law"]) if isinstance(m.get("law"), str) else self.path.parent.name

    @property
    def key(self) -> str:
        m = self.manifest or {}
        return str(m["key"]) if isinstance(m.get("key"), str) else self.path.name

    @property
    def status(self) -> str:
        """The verdict's status for a valid point, else ``"invalid"``."""
        return self.verdict.status if self.valid and self.verdict is not None else "invalid"

    def table(self, name: str) -> pd.DataFrame:
        """``theory`` or ``experiment`` parsed from the verified bytes."""
        fname = {"theory": THEORY, "experiment": EXPERIMENT}[name]
        if fname not in self.data:
            raise StoreError(f"point {self.path}: {fname} was not read (invalid point?)")
        try:
            return pd.read_parquet(io.BytesIO(self.data[fname]), engine="pyarrow")
        except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
            raise StoreError(f"point {self.path}: cannot parse {fname} ({err})") from None

    def figures(self) -> list[tuple[str, bytes]]:
        """The verified PNG figures the manifest lists, as (name, bytes)."""
        names = (self.manifest or {}).get("figures") or []
        return [(n, self.data[n]) for n in names if n.endswith(".png") and n in self.data]


class _Bad(Exception):
    """A reason a point is not trusted (internal)."""


def _lstat_at(name: str, dfd: int | None, base: Path) -> os.stat_result:
    if dfd is not None:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    return os.lstat(base / name)


def _read_member(
    dfd: int | None, base: Path, name: str, limit: int = MAX_FILE_BYTES, expect: int | None = None
) -> bytes:
    """The bytes of regular file ``name`` of a point (never through a symlink, never
    blocking on a FIFO), or _Bad saying what is wrong."""
    try:
        st = _lstat_at(name, dfd, base)
    except FileNotFoundError:
        raise _Bad(f"{name} is missing (an incomplete or altered point)") from None
    except OSError as err:
        raise _Bad(f"cannot read {name}: {err.strerror or err}") from None
    if stat.S_ISLNK(st.st_mode):
        raise _Bad(f"{name} is a symbolic link; refused (a point holds only regular files)")
    if not stat.S_ISREG(st.st_mode):
        raise _Bad(f"{name} is not a regular file; refused")
    if expect is not None and st.st_size != expect:
        raise _Bad(
            f"{name} has {st.st_size} bytes, the manifest recorded {expect} (truncated or altered)"
        )
    if st.st_size > limit:
        raise _Bad(f"{name} has {st.st_size} bytes, more than the {limit} allowed")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=dfd) if dfd is not None else os.open(base / name, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _Bad(f"{name} is a symbolic link; refused") from None
        raise _Bad(f"cannot read {name}: {err.strerror or err}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Bad(f"{name} is not a regular file; refused")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise _Bad(f"{name} has more than the {limit} bytes allowed")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as err:
        raise _Bad(f"cannot read {name}: {err.strerror or err}") from None
    finally:
        os.close(fd)


def verdict_problem(verdict: Verdict) -> str | None:
    """None when ``verdict`` is consistent, else why not (:meth:`Verdict.problem`)."""
    return verdict.problem()


def _check_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    if not isinstance(manifest, dict):
        raise _Bad(f"{MANIFEST} is not a JSON object")
    fmt = manifest.get("format")
    if fmt != STORE_FORMAT:
        if fmt is None and "law" in manifest:
            raise _Bad(
                "written by an older lmech (one folder per law, no file hashes); not "
                "trusted: rerun lmech check with the same --out to recompute it (the old "
                "files are then kept aside)"
            )
        raise _Bad(f"{MANIFEST} has store format {fmt!r}; this lmech reads format {STORE_FORMAT}")
    if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
        raise _Bad(f"{MANIFEST} was altered after it was written (its checksum does not match)")
    for field, typ in (
        ("key", str),
        ("law", str),
        ("spec_hash", str),
        ("code_hash", str),
        ("device", str),
        ("seed", int),
        ("files", dict),
    ):
        if not isinstance(manifest.get(field), typ) or isinstance(manifest.get(field), bool):
            raise _Bad(f"{MANIFEST} lacks a valid {field!r} entry")
    key = point_key(
        manifest["law"],
        manifest["spec_hash"],
        manifest["seed"],
        manifest["code_hash"],
        manifest["device"],
    )
    if manifest["key"] != key:
        raise _Bad(f"{MANIFEST} key {manifest['key']!r} is not the key of its contents ({key})")
    if path.name != key:
        raise _Bad(f"folder name {path.name!r} is not the point's key {key!r}")
    if path.parent.name != manifest["law"]:
        raise _Bad(f"a point of law {manifest['law']!r} filed under {path.parent.name!r}")
    for name in _REQUIRED:
        if name not in manifest["files"]:
            raise _Bad(f"{MANIFEST} lists no {name}")
    for name in manifest.get("figures") or []:
        if name not in manifest["files"]:
            raise _Bad(f"{MANIFEST} lists figure {name!r} without its hash")
    return manifest


def read_point(path: str | os.PathLike, *, keep_data: bool = True) -> Point:
    """Read and verify the point folder ``path``; never raises for a bad point.

    Returns a :class:`Point` whose ``problem`` is None when every check passes (see the
    module docstring) and otherwise says, in one line, which failed. ``exists`` is False
    when there is nothing at ``path``.
    """
    path = Path(path)
    point = Point(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        point.problem, point.exists = "no point here", False
        return point
    except OSError as err:
        point.problem = f"cannot read the point folder: {err.strerror or err}"
        return point
    if stat.S_ISLNK(st.st_mode):
        point.problem = "the point folder is a symbolic link; refused (links are not followed)"
        return point
    if not stat.S_ISDIR(st.st_mode):
        point.problem = "not a folder"
        return point
    dfd = None
    if os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            dfd = os.open(path, flags)
        except OSError as err:
            point.problem = f"cannot open the point folder: {err.strerror or err}"
            return point
    try:
        raw = _read_member(dfd, path, MANIFEST)
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _Bad(f"{MANIFEST} is corrupt ({err})") from None
        if isinstance(manifest, dict):
            point.manifest = manifest  # shown for context even when invalid
        manifest = _check_manifest(manifest, path)
        data: dict[str, bytes] = {}
        for name, rec in sorted(manifest["files"].items()):
            try:
                _check_name(name, "a file name")
                size, digest = int(rec["bytes"]), str(rec["sha256"])
            except (InputError, KeyError, TypeError, ValueError):
                raise _Bad(f"{MANIFEST} has a malformed entry for {name!r}") from None
            blob = _read_member(dfd, path, name, expect=size)
            if len(blob) != size:
                raise _Bad(
                    f"{name} has {len(blob)} bytes, the manifest recorded {size} (truncated or altered)"
                )
            if _sha256(blob) != digest:
                raise _Bad(f"{name} does not match its SHA-256 in the manifest (altered)")
            data[name] = blob
        try:
            raw_verdict = json.loads(data[VERDICT].decode("utf-8"))
            verdict = Verdict.from_dict(raw_verdict)
        except (
            UnicodeDecodeError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            LmechError,
        ) as err:
            raise _Bad(f"{VERDICT} is corrupt ({err})") from None
        point.verdict = verdict
        if raw_verdict.get("law") != manifest["law"]:
            raise _Bad(f"{VERDICT} names law {raw_verdict.get('law')!r}, not {manifest['law']!r}")
        if manifest.get("status") != verdict.status:
            raise _Bad(
                f"{MANIFEST} says {manifest.get('status')!r} but {VERDICT} says {verdict.status!r}"
            )
        problem = verdict_problem(verdict)
        if problem is not None:
            raise _Bad(f"inconsistent verdict: {problem}")
        if keep_data:
            point.data = data
    except _Bad as bad:
        point.problem = str(bad)
    finally:
        if dfd is not None:
            os.close(dfd)
    return point


def read_law_run(path: str | os.PathLike) -> dict[str, Any]:
    """A valid point as a dict (manifest, verdict, theory, experiment, figure names).

    Raises:
        StoreError: the point is missing or invalid (the message says why).
    """
    point = read_point(path)
    if not point.valid:
        raise StoreError(f"invalid point {point.path}: {point.problem}")
    return {
        "manifest": point.manifest,
        "verdict": point.verdict,
        "theory": point.table("theory"),
        "experiment": point.table("experiment"),
        "figures": [name for name, _ in point.figures()],
    }


# --------------------------------------------------------------------------- locks


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds a point's lock (from its lock file; fields None when unreadable)."""

    path: Path
    pid: int | None
    host: str | None
    started: str | None

    def describe(self) -> str:
        if self.pid is None:
            return f"a lock being written ({self.path.name})"
        where = "this host" if self.host == socket.gethostname() else f"host {self.host}"
        return f"pid {self.pid} on {where} since {self.started}"


class PointLock:
    """A held point lock; :meth:`release` removes its file (only if still ours)."""

    def __init__(self, path: Path, token: str) -> None:
        self.path = path
        self.token = token
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(OSError, ValueError):  # gone, or not ours and garbled
            info = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(info, dict) and info.get("token") == self.token:
                self.path.unlink()

    def __enter__(self) -> PointLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_path(law_dir: Path, key: str) -> Path:
    return Path(law_dir) / f"{LOCK_PREFIX}{key}"


def _read_lock(path: Path) -> tuple[bytes | None, dict[str, Any] | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError:
        return b"", None
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw, None
    return raw, info if isinstance(info, dict) else None


def _lock_stale(path: Path, info: dict[str, Any] | None) -> bool:
    if info is None:  # unreadable: stale once old enough that no writer is still at it
        try:
            return time.time() - os.lstat(path).st_mtime > _LOCK_GRACE_S
        except OSError:
            return False
    pid = info.get("pid")
    if info.get("host_id") != _host_id() or not isinstance(pid, int) or isinstance(pid, bool):
        return False  # another host's process cannot be checked from here
    start = info.get("start")
    return not _alive(pid, start if isinstance(start, str) else None)


def _break_lock(path: Path, raw: bytes) -> None:
    """Remove the stale lock file ``path`` if it still holds ``raw`` (compare-and-remove:
    rename it away, then put back a lock that changed meanwhile)."""
    tomb = path.parent / f"{TEMP_PREFIX}{_owner()}-{secrets.token_hex(4)}-stale-lock"
    try:
        os.rename(path, tomb)
    except OSError:
        return
    try:
        moved = tomb.read_bytes()
    except OSError:
        moved = raw
    if moved != raw:
        with contextlib.suppress(OSError):
            os.link(tomb, path)  # a fresh lock: restore it (fails if a newer one exists)
    with contextlib.suppress(OSError):
        tomb.unlink()


def try_lock(law_dir: str | os.PathLike, key: str) -> PointLock | LockHolder:
    """Take the lock of point ``key`` in ``law_dir``, or say who holds it.

    A lock whose holder is provably gone (see the module docstring) is taken over.

    Raises:
        StoreError: the lock file cannot be created for another reason than that it
            exists (an unwritable store).
    """
    path = _lock_path(Path(law_dir), _check_name(key, "a point key"))
    for _ in range(4):
        token = secrets.token_hex(8)
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644
            )
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    raise StoreError(
                        f"cannot lock point {key}: {path} exists and is not a lock file "
                        "(lmech writes a plain file there); move it out of the store"
                    ) from None
            raw, info = _read_lock(path)
            if raw is None:
                continue  # released meanwhile
            if _lock_stale(path, info):
                _break_lock(path, raw)
                continue
            info = info or {}
            pid = info.get("pid")
            return LockHolder(
                path,
                pid if isinstance(pid, int) else None,
                str(info.get("host")) if info.get("host") is not None else None,
                str(info.get("started")) if info.get("started") is not None else None,
            )
        except OSError as err:
            raise _store_error("lock a point in", Path(law_dir), err) from None
        st = _proc_stat(os.getpid())
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "host_id": _host_id(),
            "start": st[1] if st else None,
            "started": _now(),
            "token": token,
            "point": key,
        }
        try:
            os.write(fd, (json.dumps(info) + "\n").encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        os.close(fd)
        return PointLock(path, token)
    _, info = _read_lock(path)
    return LockHolder(path, (info or {}).get("pid"), (info or {}).get("host"), None)


# --------------------------------------------------------------------------- housekeeping


_LEGACY_FILES = (MANIFEST, VERDICT, THEORY, EXPERIMENT, "figure.png", "figure.svg")


def retire_legacy(law_dir: str | os.PathLike) -> Path | None:
    """Move the files an older lmech wrote directly in ``law_dir`` (one result per law,
    no hashes) into ``law_dir/.invalid-lmech-legacy-<time>/``; return that folder, or None
    when there was nothing to move. Only those file names are moved; nothing is deleted."""
    law_dir = Path(law_dir)
    if not os.path.lexists(law_dir / MANIFEST):
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = law_dir / f"{ASIDE_PREFIX}legacy-{stamp}-{secrets.token_hex(3)}"
    try:
        aside.mkdir()
    except OSError as err:
        raise _store_error("set aside the old results in", law_dir, err) from None
    for name in _LEGACY_FILES:
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            os.rename(law_dir / name, aside / name)
    with contextlib.suppress(OSError):
        aside.rmdir()  # only if another process moved everything first
    return aside if aside.exists() else None


def cleanup_temp(directory: str | os.PathLike) -> list[Path]:
    """Remove, directly in ``directory``, lmech temporaries and point locks whose writer
    is provably gone (this host, process not alive); return what was removed.

    Safe while other processes write to the store: their temporaries and locks are
    alive and kept, as is every name lmech did not make (a user's ``.tmp-notes/``).
    """
    directory = Path(directory)
    removed: list[Path] = []
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if name.startswith(TEMP_PREFIX):
            if _temp_owner_dead(name):
                _remove(entry)
                removed.append(entry)
        elif name.startswith(LOCK_PREFIX) and _KEY_RE.match(name[len(LOCK_PREFIX) :]):
            raw, info = _read_lock(entry)
            if raw is not None and info is not None and _lock_stale(entry, info):
                _break_lock(entry, raw)
                if not entry.exists():
                    removed.append(entry)
    return removed


def ensure_writable_dir(path: str | os.PathLike) -> tuple[Path, bool]:
    """Create ``path`` (with parents) and prove it writable; return ``(path, created)``.

    Raises:
        StoreError: ``path`` is empty, a file, cannot be created or cannot be written;
            the one-line message names the path and the reason. Directories this call
            created are removed again (only those, and only while empty).
    """
    hint = "pass a writable --out DIR"
    if not str(path).strip():
        raise StoreError(f"--out must name a directory; got an empty path; {hint}")
    if "\x00" in str(path):
        raise StoreError(f"--out must not contain a NUL byte; got {str(path)!r}; {hint}")
    path = Path(path).expanduser()
    where = " ".join(str(path).splitlines())
    if path.is_symlink() and not path.exists():
        raise StoreError(
            f"cannot write run store to {where}: it is a dangling symbolic link; {hint}"
        )
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"cannot write run store to {where}: it is a file, not a directory; {hint}"
        )
    # the directories this call creates, outermost first, so a failure can undo them
    missing = []
    probe = path.absolute()
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    missing.reverse()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{_owner()}-", suffix="-write-test", dir=path
        )
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        for created in reversed(missing):
            with contextlib.suppress(OSError):
                created.rmdir()
        reason = err.strerror or os.strerror(err.errno or errno.EIO) or type(err).__name__
        raise StoreError(f"cannot write run store to {where}: {reason}; {hint}") from None
    return path, bool(missing)


def ensure_store_dir(path: str | os.PathLike) -> tuple[Path, bool]:
    """:func:`ensure_writable_dir`, refusing a point or law folder given as the store."""
    p = Path(path).expanduser() if str(path).strip() else Path(path)
    if str(path).strip() and p.is_dir():
        where = " ".join(str(p).splitlines())
        if (p / MANIFEST).exists():
            raise StoreError(
                f"--out {where} is a point folder of a run store, not a store; "
                "pass the store directory (two levels up)"
            )
        try:
            children = list(p.iterdir())
        except OSError:
            children = []  # ensure_writable_dir says what is wrong with it
        for child in children:
            if _KEY_RE.match(child.name) and (child / MANIFEST).exists():
                raise StoreError(
                    f"--out {where} is a law folder of a run store (it holds points "
                    f"such as {child.name}), not a store; pass its parent directory"
                )
    return ensure_writable_dir(path)


# --------------------------------------------------------------------------- listing


def _is_candidate(entry: Path) -> bool:
    """A point folder, or something in a point's place (found without following links)."""
    try:
        st = os.lstat(entry)
    except OSError:
        return False
    if _KEY_RE.match(entry.name):
        return True
    return stat.S_ISDIR(st.st_mode) and os.path.lexists(entry / MANIFEST)


def store_path(run_dir: str | os.PathLike) -> Path:
    """``run_dir`` as a Path; StoreError for an empty name (which would mean the current
    directory) or one with a NUL byte."""
    if not str(run_dir).strip() or "\x00" in str(run_dir):
        raise StoreError(
            f"expected the directory of a run store; got {str(run_dir)!r}; "
            "pass the --out DIR of lmech check"
        )
    return Path(run_dir)


def list_points(run_dir: str | os.PathLike) -> list[Path]:
    """The point folders of a store, sorted: ``[run_dir]`` if it is a point itself, else
    ``run_dir/<law>/<key>`` (and law folders given directly, and folders left by an
    older lmech that hold ``manifest.json`` one level up). Hidden names and symbolic
    links at the law level are skipped; at the point level they are listed (and read
    as invalid). Nothing is followed through a link.

    Raises:
        StoreError: ``run_dir`` is not a directory.
    """
    run_dir = store_path(run_dir)
    where = " ".join(str(run_dir).splitlines())
    try:
        st = os.stat(run_dir)  # the store the user names may be reached through a link
    except OSError:
        raise StoreError(
            f"no run store at {where}: it does not exist; pass the --out DIR of lmech check"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"no run store at {where}: not a directory; pass the --out DIR of a run")
    if os.path.lexists(run_dir / MANIFEST):
        return [run_dir]
    found: list[Path] = []
    try:
        children = sorted(run_dir.iterdir())
    except OSError as err:
        raise StoreError(f"cannot list run store {where}: {err.strerror or err}") from None
    for child in children:
        if child.name.startswith("."):
            continue
        if _KEY_RE.match(child.name):
            found.append(child)  # ``run_dir`` is a law folder
            continue
        if child.is_symlink() or not child.is_dir():
            continue
        if os.path.lexists(child / MANIFEST):
            found.append(child)  # a law folder of an older lmech, one result per law
        try:
            grandchildren = sorted(child.iterdir())
        except OSError:
            continue
        found.extend(g for g in grandchildren if not g.name.startswith(".") and _is_candidate(g))
    return found


def read_store(run_dir: str | os.PathLike, *, keep_data: bool = True) -> list[Point]:
    """Every point of a store, read and verified (invalid ones included, with why)."""
    return [read_point(p, keep_data=keep_data) for p in list_points(run_dir)]


def _checks_text(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    parts = []
    for c in verdict.checks:
        value = f"{c.value:.4g}" if math.isfinite(c.value) else "nan"
        parts.append(f"{c.statistic}={value} {c.op} {c.bound:.4g}")
    return "; ".join(parts)


INDEX_COLUMNS = (
    "law",
    "preset",
    "seed",
    "device",
    "spec_hash",
    "code_hash",
    "status",
    "valid",
    "problem",
    "checks",
    "finished",
    "key",
    "path",
)


def _record(point: Point) -> dict[str, Any]:
    m = point.manifest or {}

    def get(name: str, typ: type) -> Any:
        v = m.get(name)
        return v if isinstance(v, typ) and not isinstance(v, bool) else None

    return {
        "law": point.law,
        "preset": get("preset", str),
        "seed": get("seed", int),
        "device": get("device", str),
        "spec_hash": get("spec_hash", str),
        "code_hash": get("code_hash", str),
        "status": point.status,
        "valid": point.valid,
        "problem": point.problem or "",
        "checks": _checks_text(point.verdict) if point.valid else "",
        "finished": get("finished", str),
        "key": point.key,
        "path": str(point.path),
    }


def index_records(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of :func:`index` as JSON-ready dicts."""
    return [_record(p) for p in read_store(run_dir, keep_data=False)]


def index(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Every point of a store as one row: law, preset, seed, device, spec_hash,
    code_hash, status (``invalid`` when it fails verification), valid, problem, checks,
    finished, key, path. A query over the folders (each point verified), so it is never
    stale while other processes write.

    Raises:
        StoreError: ``run_dir`` is not a directory.
    """
    df = pd.DataFrame(index_records(run_dir), columns=list(INDEX_COLUMNS))
    df["seed"] = df["seed"].astype("Int64")
    df["valid"] = df["valid"].astype(bool)
    return df
