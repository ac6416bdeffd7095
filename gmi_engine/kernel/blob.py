"""The blob codec: numpy arrays <-> self-describing bytes for one table cell.

Layout of an encoded blob (all integers little-endian)::

    offset  size  field
    0       4     magic b"GMIB"
    4       1     format version (1)
    5       1     flags: bit 0 = payload is zlib-compressed; bit 1 = row-delta filtered (below);
                  bit 2 = byte-shuffled (below); other bits must be 0
    6       1     dtype code (see DTYPE_CODES)
    7       1     ndim (0..8)
    8       4*n   shape, one uint32 per axis
    8+4n    4     CRC-32 of the array's bytes (after undoing zlib and the filter)
    12+4n   ...   payload: the array's C-order little-endian bytes, zlib-compressed if flagged

Row-delta filter (integer dtypes, only together with zlib): each element is replaced by its
difference to the previous element along the last axis, in wrapping unsigned arithmetic of the
same width (the PNG "Sub" idea); decoding is a wrapping cumulative sum. On image-like uint8 DN it
makes the zlib stream about 15-20 % smaller.

Byte shuffle (float dtypes, only together with zlib): the bytes are regrouped by their position
within each element (all first bytes, then all second bytes, ...), the HDF5/Blosc "shuffle"
idea. Sign/exponent bytes of reflectance and index rasters are very repetitive, so the zlib
stream is smaller and zlib runs about twice as fast as on the interleaved bytes.

Byte planes (bit 3, only together with shuffle, format version 2): the shuffled planes are stored one after the
other, each as ``uint32 stored length, uint8 method (0 raw, 1 zlib)`` followed by its bytes.
The low mantissa bytes of real data are close to random: zlib cannot shrink them and costs more
time there than anywhere else, so a plane whose first 64 KiB do not compress below 90 % is
stored raw. Decoding handles blobs with and without planes.

The header is 12 + 4*ndim bytes (20 for an image), so ``decode`` needs nothing but the bytes and a
truncated or corrupted cell is caught (length, zlib stream, CRC) with a :class:`BlobError` that says
what is wrong. Blobs are raw bytes, never hex text. An encoded cell larger than
:data:`MAX_CELL_BYTES` (8 MiB, the MaxCompute cell limit) raises :class:`CellTooLargeError`.

``encode_raw`` / ``decode_raw`` handle the reference engine's format: the bare array bytes of a
dtype and shape that the caller knows from elsewhere.

Pure numpy + stdlib, Python 3.7 syntax: this module also runs inside the MaxCompute UDTF.
"""
import struct
import zlib
from typing import NamedTuple, Sequence, Tuple, Union

import numpy as np

from gmi_engine.kernel.errors import BlobError, CellTooLargeError

MAGIC = b"GMIB"
FORMAT_VERSION = 1
MAX_CELL_BYTES = 8 * 1024 * 1024
"""Largest encoded cell accepted (8 MiB, MaxCompute's limit for one STRING/BINARY value)."""
MAX_NDIM = 8
FLAG_ZLIB = 0x01
FLAG_DELTA = 0x02
FLAG_SHUFFLE = 0x04
FLAG_PLANES = 0x08
DEFAULT_ZLIB_LEVEL = 4
"""zlib level for integer payloads: level 6 takes 2.2 times as long for 9 % fewer bytes on DN tiles."""
FLOAT_ZLIB_LEVEL = 1
"""zlib level for shuffled float payloads: level 6 costs twice the time for ~10 % fewer bytes."""

DTYPE_CODES = {
    1: np.dtype("<u1"),
    2: np.dtype("<i1"),
    3: np.dtype("<u2"),
    4: np.dtype("<i2"),
    5: np.dtype("<u4"),
    6: np.dtype("<i4"),
    7: np.dtype("<u8"),
    8: np.dtype("<i8"),
    9: np.dtype("<f4"),
    10: np.dtype("<f8"),
    11: np.dtype("?"),
}
"""Stable dtype codes of the header; never renumber (stored data depend on them)."""
_CODE_OF = {dt.str.lstrip("<|="): code for code, dt in DTYPE_CODES.items()}

_NATIVE_LITTLE = np.dtype("=u2").str.startswith("<")
_FIXED = struct.Struct("<4sBBBB")
_CRC = struct.Struct("<I")
_PLANE = struct.Struct("<IB")
PLANE_PROBE_BYTES = 64 * 1024
"""A byte plane is zlib-compressed only when its first 64 KiB compress below 90 %."""
PLANE_RAW, PLANE_ZLIB = 0, 1
PLANES_FORMAT_VERSION = 2
"""Blobs with byte planes carry format version 2, so a GMI that predates them says so clearly."""
_MAX_DEFLATE_RATIO = 1100  # deflate expands at most ~1032:1

BytesLike = Union[bytes, bytearray, memoryview]


class BlobHeader(NamedTuple):
    """What the header of an encoded blob says (read by :func:`peek`)."""

    dtype: np.dtype
    shape: Tuple[int, ...]
    compressed: bool
    delta: bool
    header_size: int
    crc32: int
    shuffle: bool = False
    planes: bool = False

    @property
    def nbytes(self) -> int:
        """Size of the decoded array in bytes (Python ints: no overflow on absurd shapes)."""
        size = self.dtype.itemsize
        for n in self.shape:
            size *= int(n)
        return size


def dtype_code(dtype: "np.dtype") -> int:
    """The header code of ``dtype`` (byte order ignored); BlobError for unsupported dtypes."""
    dt = np.dtype(dtype)
    code = _CODE_OF.get(dt.newbyteorder("<").str.lstrip("<|="))
    if code is None:
        raise BlobError("blob: dtype {} is not supported (use one of {})".format(
            dt, ", ".join(str(d) for d in DTYPE_CODES.values())))
    return code


def _check_size(size: int, what: str) -> None:
    if size > MAX_CELL_BYTES:
        raise CellTooLargeError("{} is {} bytes, over the {} byte (8 MiB) cell limit".format(
            what, size, MAX_CELL_BYTES))


def _little_endian(array: np.ndarray) -> np.ndarray:
    """``array`` as C-contiguous little-endian data of the same dtype kind and size."""
    dt = array.dtype
    if dt.byteorder == ">" or (dt.byteorder == "=" and not _NATIVE_LITTLE):
        array = array.astype(dt.newbyteorder("<"))
    return np.ascontiguousarray(array)


def _unsigned(dtype: np.dtype) -> np.dtype:
    """The little-endian unsigned integer dtype of the same width."""
    return np.dtype("<u{}".format(dtype.itemsize))


def _delta(data: np.ndarray) -> bytes:
    """Row-delta filter of a C-contiguous little-endian integer array (wrapping arithmetic)."""
    unsigned = data.view(_unsigned(data.dtype))
    out = np.empty_like(unsigned)
    out[..., :1] = unsigned[..., :1]
    np.subtract(unsigned[..., 1:], unsigned[..., :-1], out=out[..., 1:])
    return out.tobytes()


def _shuffle(data: np.ndarray) -> np.ndarray:
    """``(itemsize, n)`` uint8 byte planes of a little-endian array: plane i holds byte i of each
    element (shifts of the same-width unsigned integer view, much faster than a byte transpose)."""
    size = data.dtype.itemsize
    unsigned = data.reshape(-1).view(_unsigned(data.dtype))
    planes = np.empty((size, unsigned.size), dtype=np.uint8)
    shifted = np.empty_like(unsigned)
    for i in range(size):
        np.right_shift(unsigned, 8 * i, out=shifted)
        np.copyto(planes[i], shifted, casting="unsafe")  # keeps the low byte
    return planes


def _unshuffle(planes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The inverse of :func:`_shuffle`: a new 1-D array of ``dtype`` (little-endian)."""
    unsigned = np.empty(planes.shape[1], dtype=_unsigned(dtype))
    np.copyto(unsigned, planes[0])
    widened = np.empty_like(unsigned)
    for i in range(1, planes.shape[0]):
        np.copyto(widened, planes[i])
        np.left_shift(widened, 8 * i, out=widened)
        np.bitwise_or(unsigned, widened, out=unsigned)
    return unsigned.view(dtype.newbyteorder("<"))


def _pack_planes(planes: np.ndarray, level: int) -> bytes:
    """Each byte plane as ``(length, method)`` + bytes, zlib only where it pays (module doc)."""
    parts = []
    for plane in planes:
        probe = plane[:PLANE_PROBE_BYTES]
        body = plane.tobytes()
        method = PLANE_RAW
        if len(zlib.compress(probe, level)) < 0.9 * probe.size:
            squeezed = zlib.compress(body, level)
            if len(squeezed) < len(body):
                body, method = squeezed, PLANE_ZLIB
        parts.append(_PLANE.pack(len(body), method))
        parts.append(body)
    return b"".join(parts)


def _unpack_planes(body: memoryview, count: int, length: int) -> np.ndarray:
    """``(count, length)`` uint8 planes from a :func:`_pack_planes` payload; BlobError if corrupt."""
    if count * length > _MAX_DEFLATE_RATIO * len(body):  # checked before allocating
        raise BlobError("blob: the header's {} bytes cannot come from a {} byte payload (corrupt "
                        "cell?)".format(count * length, len(body)))
    planes = np.empty((count, length), dtype=np.uint8)
    offset = 0
    for i in range(count):
        if len(body) < offset + _PLANE.size:
            raise BlobError("blob: byte plane {} of {} is truncated (truncated cell?)".format(
                i + 1, count))
        stored, method = _PLANE.unpack_from(body, offset)
        offset += _PLANE.size
        chunk = body[offset:offset + stored]
        offset += stored
        if len(chunk) != stored:
            raise BlobError("blob: byte plane {} of {} is truncated (truncated cell?)".format(
                i + 1, count))
        if method == PLANE_ZLIB:
            try:
                inflater = zlib.decompressobj()
                raw = inflater.decompress(chunk, length + 1)  # never more than one plane + 1
                if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
                    raise BlobError("blob: byte plane {} is not one complete zlib stream (corrupt "
                                    "cell?)".format(i + 1))
            except zlib.error as exc:
                raise BlobError("blob: byte plane {} is corrupt ({})".format(i + 1, exc)) from None
        elif method == PLANE_RAW:
            raw = chunk
        else:
            raise BlobError("blob: byte plane {} has unknown method {} (corrupt cell?)".format(
                i + 1, method))
        if len(raw) != length:
            raise BlobError("blob: byte plane {} has {} bytes, expected {} (corrupt cell?)".format(
                i + 1, len(raw), length))
        planes[i] = np.frombuffer(raw, dtype=np.uint8)
    if offset != len(body):
        raise BlobError("blob: {} stray bytes after the byte planes".format(len(body) - offset))
    return planes


def encode(array: np.ndarray, compress: bool = True, level: int = DEFAULT_ZLIB_LEVEL) -> bytes:
    """Encode ``array`` as one self-describing cell.

    With ``compress`` the payload is zlib-compressed at ``level`` (integer arrays after the
    row-delta filter) unless that would not make it smaller; the header says what was done.
    Raises :class:`CellTooLargeError` when the result exceeds :data:`MAX_CELL_BYTES`,
    :class:`BlobError` for unsupported input.
    """
    if not isinstance(array, np.ndarray):
        raise BlobError("blob: expected a numpy array, got {}".format(type(array).__name__))
    if array.ndim > MAX_NDIM:
        raise BlobError("blob: {} dimensions, at most {} are supported".format(array.ndim, MAX_NDIM))
    if any(n > 0xFFFFFFFF for n in array.shape):
        raise BlobError("blob: shape {} has an axis longer than 2**32-1".format(array.shape))
    code = dtype_code(array.dtype)
    data = _little_endian(array)
    payload = data.tobytes()
    flags = 0
    body = payload
    if compress and payload:
        if data.dtype.kind in "iu" and array.ndim >= 1:
            squeezed, squeezed_flags = zlib.compress(_delta(data), level), FLAG_ZLIB | FLAG_DELTA
        elif data.dtype.kind == "f":
            squeezed = _pack_planes(_shuffle(data), min(level, FLOAT_ZLIB_LEVEL))
            squeezed_flags = FLAG_ZLIB | FLAG_SHUFFLE | FLAG_PLANES
        else:
            squeezed, squeezed_flags = zlib.compress(payload, level), FLAG_ZLIB
        if len(squeezed) < len(payload):
            body, flags = squeezed, squeezed_flags
    version = PLANES_FORMAT_VERSION if flags & FLAG_PLANES else FORMAT_VERSION
    header = (_FIXED.pack(MAGIC, version, flags, code, array.ndim)
              + struct.pack("<{}I".format(array.ndim), *array.shape)
              + _CRC.pack(zlib.crc32(payload) & 0xFFFFFFFF))
    _check_size(len(header) + len(body), "encoded blob of {} {}".format(array.dtype, array.shape))
    return header + body


def peek(data: BytesLike) -> BlobHeader:
    """Read and check the header of an encoded blob without decoding its payload."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BlobError("blob: expected bytes, got {}".format(type(data).__name__))
    view = memoryview(data)
    if len(view) < _FIXED.size:
        raise BlobError("blob: {} bytes is shorter than the {} byte header (truncated cell?)".format(
            len(view), _FIXED.size))
    magic, version, flags, code, ndim = _FIXED.unpack_from(view, 0)
    if magic != MAGIC:
        hint = " (looks like hex text)" if bytes(view[:4]).isalnum() else ""
        raise BlobError("blob: bad magic {!r}, expected {!r}{}: not a GMI blob".format(
            bytes(magic), MAGIC, hint))
    if version not in (FORMAT_VERSION, PLANES_FORMAT_VERSION):
        raise BlobError("blob: format version {} is not supported (this GMI reads versions {} and "
                        "{}; the cell was written by a newer GMI?)".format(
                            version, FORMAT_VERSION, PLANES_FORMAT_VERSION))
    if code not in DTYPE_CODES:
        raise BlobError("blob: unknown dtype code {} (corrupt header?)".format(code))
    delta_ok = flags & FLAG_ZLIB and DTYPE_CODES[code].kind in "iu" and ndim > 0
    shuffle_ok = flags & FLAG_ZLIB and DTYPE_CODES[code].kind == "f"
    if (flags & ~(FLAG_ZLIB | FLAG_DELTA | FLAG_SHUFFLE | FLAG_PLANES)
            or (flags & FLAG_DELTA and not delta_ok) or (flags & FLAG_SHUFFLE and not shuffle_ok)
            or (flags & FLAG_PLANES and not (flags & FLAG_SHUFFLE and version == PLANES_FORMAT_VERSION))):
        raise BlobError("blob: invalid flag bits 0x{:02x} (corrupt header?)".format(flags))
    if ndim > MAX_NDIM:
        raise BlobError("blob: ndim {} exceeds {} (corrupt header?)".format(ndim, MAX_NDIM))
    header_size = _FIXED.size + 4 * ndim + _CRC.size
    if len(view) < header_size:
        raise BlobError("blob: {} bytes is shorter than its {} byte header (truncated cell?)".format(
            len(view), header_size))
    shape = struct.unpack_from("<{}I".format(ndim), view, _FIXED.size)
    (crc,) = _CRC.unpack_from(view, _FIXED.size + 4 * ndim)
    return BlobHeader(DTYPE_CODES[code], tuple(int(n) for n in shape), bool(flags & FLAG_ZLIB),
                      bool(flags & FLAG_DELTA), header_size, crc, bool(flags & FLAG_SHUFFLE),
                      bool(flags & FLAG_PLANES))


def decode(data: BytesLike) -> np.ndarray:
    """Decode a cell made by :func:`encode` into a new, writable array (native byte order)."""
    head = peek(data)
    body = memoryview(data)[head.header_size:]
    if head.planes:
        size = head.dtype.itemsize
        planes = _unpack_planes(body, size, head.nbytes // size)
        array = _unshuffle(planes, head.dtype).reshape(head.shape)
        return _checked(array, head)
    if head.compressed:
        try:
            decomp = zlib.decompressobj()
            payload = decomp.decompress(body, head.nbytes + 1)
            if len(payload) == head.nbytes and not decomp.eof:
                raise BlobError("blob: zlib payload is truncated (expected {} bytes of {} {})".format(
                    head.nbytes, head.dtype, head.shape))
            if decomp.unused_data:
                raise BlobError("blob: {} stray bytes after the zlib payload".format(
                    len(decomp.unused_data)))
        except zlib.error as exc:
            raise BlobError("blob: zlib payload is corrupt ({})".format(exc)) from None
    else:
        payload = body
    if len(payload) != head.nbytes:
        raise BlobError("blob: payload has {}{} bytes, header says {} {} = {} bytes ({})".format(
            "more than " if head.compressed and len(payload) > head.nbytes else "", len(payload),
            head.dtype, head.shape, head.nbytes,
            "truncated cell?" if len(payload) < head.nbytes else "corrupt cell or stray bytes"))
    if head.shuffle:
        size = head.dtype.itemsize
        planes = np.frombuffer(payload, dtype=np.uint8).reshape(size, -1)
        array = _unshuffle(planes, head.dtype).reshape(head.shape)
    else:
        array = np.frombuffer(bytearray(payload), dtype=head.dtype).reshape(head.shape)
    if head.delta:
        unsigned = array.view(_unsigned(head.dtype))
        np.cumsum(unsigned, axis=-1, dtype=unsigned.dtype, out=unsigned)
    return _checked(array, head)


def _checked(array: np.ndarray, head: BlobHeader) -> np.ndarray:
    """``array`` in native byte order after its CRC-32 matched the header's."""
    if zlib.crc32(array) & 0xFFFFFFFF != head.crc32:
        raise BlobError("blob: CRC-32 mismatch, the cell is corrupt")
    return array.astype(head.dtype.newbyteorder("="), copy=False)


def encode_raw(array: np.ndarray, dtype: "Union[np.dtype, str, None]" = None) -> bytes:
    """The bare C-order little-endian bytes of ``array`` (the reference engine's cell format).

    ``dtype``, when given, is the dtype the bytes must have; the array must already have it (no
    silent casting). Raises :class:`CellTooLargeError` over :data:`MAX_CELL_BYTES`.
    """
    if not isinstance(array, np.ndarray):
        raise BlobError("raw blob: expected a numpy array, got {}".format(type(array).__name__))
    if dtype is not None and np.dtype(dtype).newbyteorder("=") != array.dtype.newbyteorder("="):
        raise BlobError("raw blob: array has dtype {}, expected {}".format(array.dtype, np.dtype(dtype)))
    _check_size(array.nbytes, "raw blob of {} {}".format(array.dtype, array.shape))
    return _little_endian(array).tobytes()


def decode_raw(data: BytesLike, dtype: "Union[np.dtype, str]", shape: Sequence[int]) -> np.ndarray:
    """A new, writable array of ``dtype`` and ``shape`` from bare little-endian bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BlobError("raw blob: expected bytes, got {}".format(type(data).__name__))
    dt = np.dtype(dtype).newbyteorder("<")
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise BlobError("raw blob: negative axis in shape {}".format(shape))
    expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if len(data) != expected:
        raise BlobError("raw blob: {} bytes, but {} {} needs {} bytes".format(
            len(data), np.dtype(dtype), shape, expected))
    array = np.frombuffer(bytearray(data), dtype=dt).reshape(shape)
    return array.astype(dt.newbyteorder("="), copy=False)
