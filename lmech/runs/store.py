"""The run store: atomic files, one directory per law run, and reading them back.

Layout of a run directory ``OUT`` (``lmech check --out OUT``)::

    OUT/
      <law>/                  one committed law run (written as a unit)
        manifest.json         law, preset, resolved spec + hash, seed, device,
                              environment (versions, git state), timings, timestamps, status
        theory.parquet        the prediction table
        experiment.parquet    the measurement table
        verdict.json          Verdict.to_dict() plus the law name
        figure.png, figure.svg
      report.html             built from the law directories only (lmech.report)
      .tmp-*                  leftovers of interrupted runs; removed by cleanup_temp

Every file is written to a temporary name in its final directory, fsynced and renamed
(``os.replace``), so a reader sees the old file or the new one, never half of one. A law
run is built in a hidden ``OUT/.tmp-<law>-<random>`` directory and renamed to
``OUT/<law>`` by :meth:`LawRunWriter.commit`, so a law directory is complete or absent.
Resume (:func:`find_finished`) keys a law run by :func:`lmech.laws.base.spec_hash` of
its resolved spec and seed and, as the runner calls it, by the device and by
:func:`code_hash`, a fingerprint of lmech's own source: a run stored by other code (an
upgrade, an edited checkout) or on another device is recomputed, never reused.

This module never imports torch at import time (``environment_info`` imports it lazily).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import importlib.metadata
import io
import json
import os
import platform
import secrets
import shutil
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
    "TEMP_PREFIX",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "write_parquet",
    "save_figure",
    "environment_info",
    "LawRunWriter",
    "find_finished",
    "cleanup_temp",
    "ensure_writable_dir",
    "read_law_run",
    "list_law_runs",
]

MANIFEST = "manifest.json"
VERDICT = "verdict.json"
THEORY = "theory.parquet"
EXPERIMENT = "experiment.parquet"
TEMP_PREFIX = ".tmp-"
_REQUIRED = (MANIFEST, VERDICT, THEORY, EXPERIMENT)
_PHASES = ("theory", "experiment", "compare", "figure")


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
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}-", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
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
        except (
            ValueError,
            TypeError,
            ImportError,
        ) as err:  # pyarrow's ArrowInvalid is a ValueError
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


# --------------------------------------------------------------------------- law runs


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_dirname(name: str) -> str:
    name = str(name)
    if not name or name.startswith(".") or "/" in name or os.sep in name or "\x00" in name:
        raise InputError(f"a law run directory name must be a plain non-hidden name; got {name!r}")
    return name


class LawRunWriter:
    """Write one law's run directory as a unit.

    The files go to a hidden ``out_dir/.tmp-<law>-<random>`` directory; :meth:`commit`
    writes ``manifest.json`` and renames the directory to ``out_dir/<dirname>``
    (``dirname`` defaults to the law name), replacing an existing one. Used as a
    context manager it commits on a clean exit and removes the temporary directory
    if an exception escapes::

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
    nothing) is stored as an empty table, so the directory is still complete.
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
        dirname: str | None = None,
        environment: dict[str, Any] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.law_name = str(law_name)
        self.dirname = _check_dirname(self.law_name if dirname is None else dirname)
        try:
            self.spec_dict = spec_to_dict(spec)
        except TypeError:
            raise InputError(
                f"LawRunWriter needs the law's spec dataclass; got {type(spec).__name__}"
            ) from None
        self.preset = preset
        self.seed = int(seed)
        self.spec_hash = spec_hash(spec, self.seed)
        self.device = str(device)
        self.claim = claim
        self.source = source
        self.environment = environment
        self.timings: dict[str, float] = {}
        self.started = _now()
        self.final_dir = self.out_dir / self.dirname
        self._verdict: Verdict | None = None
        self._tables: set[str] = set()
        self._figures: list[str] = []
        self.committed = False
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir = Path(
                tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{self.dirname}-", dir=self.out_dir)
            )
            os.chmod(self.tmp_dir, 0o777 & ~_UMASK)  # mkdtemp makes 0700
        except OSError as err:
            raise StoreError(
                f"cannot write run store to {self.out_dir}: {err.strerror or err}; "
                "pass a writable --out DIR"
            ) from None

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
            raise StoreError(f"law run {self.final_dir} is already committed")
        if not self.tmp_dir.is_dir():
            raise StoreError(f"law run {self.final_dir} was discarded; start a new writer")
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
        paths = save_figure(fig, self._writable(), _check_dirname(stem))
        self._figures.extend(p.name for p in paths)
        return paths

    def manifest(self) -> dict[str, Any]:
        """The manifest as it would be written now."""
        manifest: dict[str, Any] = {
            "law": self.law_name,
            "preset": self.preset,
            "spec": self.spec_dict,
            "spec_hash": self.spec_hash,
            "code_hash": code_hash(),
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
        }
        if self.claim is not None:
            manifest["claim"] = self.claim
        if self.source is not None:
            manifest["source"] = self.source
        return manifest

    # -- commit / discard
    def commit(self) -> Path:
        """Write the manifest and move the run to ``out_dir/<dirname>``; return that path."""
        tmp = self._writable()
        if self._verdict is None:
            raise StoreError(
                f"law run {self.law_name!r} has no verdict; call write_verdict before commit"
            )
        for name in (THEORY, EXPERIMENT):
            if name not in self._tables:
                write_parquet(tmp / name, pd.DataFrame())
        atomic_write_json(tmp / MANIFEST, self.manifest())
        _fsync_dir(tmp)
        old: Path | None = None
        if self.final_dir.exists() or self.final_dir.is_symlink():
            old = self.out_dir / f"{TEMP_PREFIX}{self.dirname}-old-{secrets.token_hex(4)}"
            os.rename(self.final_dir, old)
        try:
            os.rename(tmp, self.final_dir)
        except OSError:
            if old is not None:
                os.rename(old, self.final_dir)
            raise
        _fsync_dir(self.out_dir)
        self.committed = True
        if old is not None:
            _remove(old)
        return self.final_dir

    def discard(self) -> None:
        """Remove the temporary directory (nothing committed is touched)."""
        if not self.committed:
            _remove(self.tmp_dir)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"run store incomplete: {path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreError(f"run store corrupt: cannot read {path} ({err})") from None


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
    """Fingerprint of lmech's Python sources (every ``*.py`` file of the package). Stored
    in each manifest; a finished run is reused only by the same code (see
    :func:`find_finished`)."""
    return _tree_hash(Path(__file__).resolve().parent.parent)


def find_finished(
    out_dir: str | os.PathLike,
    law_name: str,
    spec_hash: str,
    *,
    dirname: str | None = None,
    device: str | None = None,
    code: str | None = None,
) -> Verdict | None:
    """The stored verdict of a finished run of ``law_name`` with this spec hash, or None.

    Finished means ``out_dir/<dirname or law_name>`` holds all of manifest.json,
    verdict.json, theory.parquet and experiment.parquet, the manifest names this law and
    its ``spec_hash`` equals ``spec_hash``; given ``device`` and ``code`` (a
    :func:`code_hash`), its device and code hash must equal them too. A skipped run counts
    as finished (its verdict has ``status == "skipped"``); callers that want to retry
    skipped laws check that. A corrupt directory is not finished (None), so the caller
    reruns and replaces it.
    """
    law_dir = Path(out_dir) / (law_name if dirname is None else dirname)
    if not all((law_dir / name).is_file() for name in _REQUIRED):
        return None
    try:
        manifest = _read_json(law_dir / MANIFEST)
        if not isinstance(manifest, dict):
            return None
        if manifest.get("spec_hash") != spec_hash or manifest.get("law") != law_name:
            return None
        if device is not None and manifest.get("device") != device:
            return None
        if code is not None and manifest.get("code_hash") != code:
            return None
        verdict = Verdict.from_dict(_read_json(law_dir / VERDICT))
        # a verdict whose status does not follow from its checks is not trusted
        return verdict if verdict.consistent() else None
    except (StoreError, TypeError, ValueError, KeyError, LmechError):
        return None


def cleanup_temp(out_dir: str | os.PathLike, *, min_age_s: float = 0.0) -> list[Path]:
    """Remove leftover ``.tmp-*`` entries of interrupted runs in ``out_dir``.

    Call it once before a run starts, not while other writers work in the same
    directory; ``min_age_s`` spares entries modified more recently than that.
    Returns the removed paths.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    now = time.time()
    removed = []
    for entry in sorted(out_dir.glob(f"{TEMP_PREFIX}*")):
        try:
            age = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age >= min_age_s:
            _remove(entry)
            removed.append(entry)
    return removed


def ensure_writable_dir(path: str | os.PathLike) -> tuple[Path, bool]:
    """Create ``path`` (with parents) and prove it writable; return ``(path, created)``.

    Raises:
        StoreError: ``path`` is a file, cannot be created or cannot be written; the
            one-line message names the path and the reason. Directories this call
            created are removed again.
    """
    path = Path(path).expanduser()
    hint = "pass a writable --out DIR"
    if path.exists() and not path.is_dir():
        raise StoreError(f"cannot write run store to {path}: it is a file, not a directory; {hint}")
    # the directories this call creates, outermost first, so a failure can undo them
    missing = []
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    missing.reverse()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}write-test-", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        for created in reversed(missing):
            with contextlib.suppress(OSError):
                created.rmdir()
        reason = err.strerror or os.strerror(err.errno or errno.EIO) or type(err).__name__
        where = " ".join(str(path).splitlines())
        raise StoreError(f"cannot write run store to {where}: {reason}; {hint}") from None
    return path, bool(missing)


def read_law_run(law_dir: str | os.PathLike) -> dict[str, Any]:
    """Read a committed law directory.

    Returns:
        A dict with ``manifest`` (dict), ``verdict`` (:class:`Verdict`), ``theory`` and
        ``experiment`` (DataFrames) and ``figures`` (sorted list of PNG paths).

    Raises:
        StoreError: a file is missing or cannot be parsed.
    """
    law_dir = Path(law_dir)
    if not law_dir.is_dir():
        raise StoreError(f"no law run at {law_dir}: not a directory")
    manifest = _read_json(law_dir / MANIFEST)
    if not isinstance(manifest, dict) or "law" not in manifest:
        raise StoreError(f"run store corrupt: {law_dir / MANIFEST} has no 'law' entry")
    raw = _read_json(law_dir / VERDICT)
    try:
        verdict = Verdict.from_dict(raw)
    except (TypeError, ValueError, AttributeError, KeyError, LmechError) as err:
        raise StoreError(f"run store corrupt: {law_dir / VERDICT} ({err})") from None
    tables = {}
    for key, name in (("theory", THEORY), ("experiment", EXPERIMENT)):
        path = law_dir / name
        if not path.is_file():
            raise StoreError(f"run store incomplete: {path} is missing")
        try:
            tables[key] = pd.read_parquet(path, engine="pyarrow")
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise StoreError(f"run store corrupt: cannot read {path} ({err})") from None
    return {
        "manifest": manifest,
        "verdict": verdict,
        "theory": tables["theory"],
        "experiment": tables["experiment"],
        "figures": sorted(law_dir.glob("*.png")),
    }


def _is_law_dir(path: Path) -> bool:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and "law" in manifest


def list_law_runs(run_dir: str | os.PathLike) -> list[Path]:
    """The law directories of a run store: ``[run_dir]`` if it is one, else its children.

    Hidden entries (temporary directories) are skipped.

    Raises:
        StoreError: ``run_dir`` is not a directory or holds no law run.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"no run store at {run_dir}: not a directory; pass the --out DIR of a run")
    if _is_law_dir(run_dir):
        return [run_dir]
    found = sorted(
        p for p in run_dir.iterdir() if not p.name.startswith(".") and p.is_dir() and _is_law_dir(p)
    )
    if not found:
        raise StoreError(
            f"no law runs in {run_dir}: expected subdirectories with {MANIFEST}; "
            "run `lmech check --out DIR` first"
        )
    return found
