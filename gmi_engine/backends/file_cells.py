"""Result cells kept in the exported GeoTIFF instead of the store: each result compressed once.

With ``gmi run --export`` every exported output is written as a (Cloud Optimized) GeoTIFF by the
worker that computed it. Storing the same pixels again as a zlib blob in ``gmi_result`` cost
about as much time as writing the COG (docs/benchmarks.md), so for outputs whose GeoTIFF holds
the array exactly (same dtype, no scale/offset: every index, float reflectance, the provenance
outputs) the store's ``data`` cell holds a *file reference* instead:

    b"GMIFILE1" + UTF-8 JSON {"path": ..., "sha256": ...}

``path`` is the GeoTIFF's path relative to the workspace folder (absolute when no relative path
exists, e.g. another drive), ``sha256`` the digest of the array's C-order little-endian bytes.
The ``dtype``/``height``/``width`` columns stay the truth about the array. Reading a reference
opens the GeoTIFF with GDAL, checks dtype, shape and digest, and fails with a clear
:class:`~gmi_engine.errors.GmiFileError` when the file is gone or was changed; a run then
recomputes such tiles (they are not up to date). The valid mask, lossy exports (uint16
reflectance) and outputs not exported keep their blobs. MaxCompute tables never hold references.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple, Union

import numpy as np
from osgeo import gdal

from gmi_engine.errors import GmiFileError, SchemaError

gdal.UseExceptions()

MAGIC = b"GMIFILE1"
"""First bytes of a file-reference cell (a GMI blob starts with b"GMIB")."""


def array_sha256(array: np.ndarray) -> str:
    """sha256 of ``array``'s C-order little-endian bytes."""
    data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return hashlib.sha256(memoryview(data).cast("B")).hexdigest()


def is_reference(value: Any) -> bool:
    """True when a ``data`` cell is a file reference rather than a blob."""
    return isinstance(value, (bytes, bytearray, memoryview)) and bytes(value[:len(MAGIC)]) == MAGIC


def encode_reference(path: Union[str, os.PathLike], sha256: str) -> bytes:
    """A file-reference cell for the GeoTIFF at ``path`` holding an array with digest ``sha256``."""
    return MAGIC + json.dumps({"path": Path(path).as_posix(), "sha256": sha256},
                              sort_keys=True).encode("utf-8")


def decode_reference(value: Any) -> Tuple[str, str]:
    """(path, sha256) of a file-reference cell; SchemaError if it is not a valid one."""
    if not is_reference(value):
        raise SchemaError("data: not a GMI file reference")
    try:
        body = json.loads(bytes(value[len(MAGIC):]).decode("utf-8"))
        return str(body["path"]), str(body["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SchemaError("data: damaged file reference ({})".format(exc)) from None


def relative_reference(value: bytes, base: Union[str, os.PathLike]) -> bytes:
    """The reference with its (absolute) path made relative to ``base`` where possible."""
    path, sha256 = decode_reference(value)
    try:
        path = os.path.relpath(path, str(base))
    except ValueError:  # another drive (Windows): keep the absolute path
        pass
    return encode_reference(path, sha256)


def reference_path(value: Any, base: Union[str, os.PathLike]) -> Path:
    """The absolute path a reference cell points to (relative paths resolved against ``base``)."""
    path = Path(decode_reference(value)[0])
    return path if path.is_absolute() else Path(base) / path


def read_reference(value: Any, base: Union[str, os.PathLike], dtype: str, shape: Tuple[int, int],
                   where: str) -> np.ndarray:
    """The array a reference cell points to, checked against dtype, shape and digest.

    ``where`` names the row in errors ("tile 260_526 mineral_indices kaolinite").
    """
    path = reference_path(value, base)
    expected = decode_reference(value)[1]
    try:
        dataset = gdal.Open(str(path))
        data = dataset.GetRasterBand(1).ReadAsArray()
        dataset = None
    except RuntimeError as exc:
        raise GmiFileError("{}: the stored result lives in {}, which cannot be read ({}); "
                           "recompute it with `gmi run --force`".format(where, path, exc)) from None
    if data is None or data.dtype.name != dtype or data.shape != tuple(shape):
        raise GmiFileError("{}: {} holds {} {} instead of the stored result's {} {}; recompute it "
                           "with `gmi run --force`".format(where, path, getattr(data, "dtype", None),
                                                           getattr(data, "shape", None), dtype, tuple(shape)))
    if array_sha256(data) != expected:
        raise GmiFileError("{}: {} was changed after the run (its pixels no longer match the stored "
                           "digest); recompute it with `gmi run --force`".format(where, path))
    return data


def reference_for(written_path: Path, written_dtype: str, scale: Optional[float], offset: Optional[float],
                  array: np.ndarray) -> Optional[bytes]:
    """A reference cell when the written GeoTIFF holds ``array`` exactly, else None (keep a blob)."""
    if written_dtype != array.dtype.newbyteorder("=").name or scale is not None or offset is not None:
        return None
    return encode_reference(Path(written_path).absolute(), array_sha256(array))


def missing_file(record: Mapping[str, Any], base: Union[str, os.PathLike]) -> Optional[Path]:
    """The referenced file of a record when it does not exist, else None (also for blobs)."""
    value = record.get("data")
    if not is_reference(value):
        return None
    path = reference_path(value, base)
    return None if path.is_file() else path
