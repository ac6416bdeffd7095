"""The kernel blob codec: self-describing cells, the 8 MiB limit, clear errors, the raw format."""
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gmi_engine.errors import BlobError, CellTooLargeError, GmiError
from gmi_engine.kernel import blob

DTYPES = ["u1", "i1", "<u2", ">u2", "<i2", ">i2", "<u4", "<i4", "<u8", ">i8", "<f4", ">f4", "<f8", ">f8", "?"]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype.newbyteorder("=") == b.dtype and a.shape == b.shape and np.array_equal(
        a, b, equal_nan=a.dtype.kind == "f")


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(dtype: str, compress: bool) -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 100, size=(7, 11)).astype(dtype)
    if values.dtype.kind == "f":
        values[0, 0] = np.nan
    out = blob.decode(blob.encode(values, compress=compress))
    assert _same(values, out)
    assert out.dtype.isnative and out.flags.writeable


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (5,), (2, 3, 4), (1, 1, 1, 1, 1, 1, 1, 2)])
def test_round_trip_shapes(shape) -> None:
    values = np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape)
    assert _same(values, blob.decode(blob.encode(values)))


def test_non_contiguous_input_is_encoded_in_c_order() -> None:
    base = np.arange(200, dtype=np.uint16).reshape(10, 20)
    for view in (base.T, base[::2, 3:17:3], np.asfortranarray(base)):
        assert _same(view, blob.decode(blob.encode(view)))


def test_header_layout_and_peek() -> None:
    values = np.zeros((256, 300), dtype=np.int16)
    data = blob.encode(values, compress=False)
    assert data[:4] == b"GMIB"
    assert len(data) == 20 + values.nbytes
    assert struct.unpack_from("<2I", data, 8) == (256, 300)
    assert data[20:] == values.astype("<i2").tobytes()
    head = blob.peek(data)
    assert (head.dtype, head.shape, head.compressed, head.header_size) == (np.dtype("<i2"), (256, 300), False, 20)
    assert head.crc32 == zlib.crc32(values.tobytes())


def test_compression_used_only_when_it_helps() -> None:
    smooth = np.tile(np.arange(256, dtype=np.uint8), (512, 1))
    packed = blob.encode(smooth)
    assert blob.peek(packed).compressed and len(packed) < smooth.nbytes / 20
    noise = np.random.default_rng(2).integers(0, 256, (300, 300), dtype=np.uint8)
    kept = blob.encode(noise, compress=True)
    assert not blob.peek(kept).compressed and len(kept) == 20 + noise.nbytes
    assert _same(noise, blob.decode(kept))


@pytest.mark.parametrize("dtype", ["u1", "<i2", ">i2", "<u2", "<i4", ">u8", "<i8"])
def test_row_delta_filter_wraps_exactly(dtype: str) -> None:
    info = np.iinfo(np.dtype(dtype))
    ramp = [int(info.min) + (int(info.max) - int(info.min)) * k // 39 for k in range(40)]
    values = np.tile(np.array(ramp + ramp[::-1] + [info.min, info.max, info.min], dtype=dtype), (30, 1))
    data = blob.encode(values)
    head = blob.peek(data)
    assert head.compressed and head.delta
    assert _same(values, blob.decode(data))


def test_row_delta_filter_shrinks_image_like_bands() -> None:
    rng = np.random.default_rng(4)
    x = np.linspace(0, 12, 900)
    image = np.clip(120 + 40 * np.sin(x)[None, :] * np.cos(x[:700] / 2)[:, None]
                    + rng.normal(0, 3, (700, 900)), 1, 254).astype(np.uint8)
    filtered = blob.encode(image)
    assert blob.peek(filtered).delta
    assert len(filtered) < 0.9 * len(zlib.compress(image.tobytes(), blob.DEFAULT_ZLIB_LEVEL))
    assert not blob.peek(blob.encode(image.astype(np.float32))).delta


def test_cell_limit_is_exactly_8_mib() -> None:
    assert blob.MAX_CELL_BYTES == 8 * 1024 * 1024
    fits = np.ones((1, blob.MAX_CELL_BYTES - 20), dtype=np.uint8)
    assert len(blob.encode(fits, compress=False)) == blob.MAX_CELL_BYTES
    over = np.ones((1, blob.MAX_CELL_BYTES - 19), dtype=np.uint8)
    with pytest.raises(CellTooLargeError, match="8 MiB"):
        blob.encode(over, compress=False)
    # The limit applies to the stored cell: compressible data over 8 MiB raw fits once zlib'd.
    assert blob.peek(blob.encode(over, compress=True)).compressed
    # 1024 x 1024 x 8 bytes of noise does not compress and is refused.
    noise = np.random.default_rng(3).integers(0, 2 ** 62, (1024, 1024), dtype=np.int64)
    with pytest.raises(CellTooLargeError) as info:
        blob.encode(noise)
    assert isinstance(info.value, BlobError) and isinstance(info.value, GmiError)
    assert isinstance(info.value, ValueError)


def _sample(compress: bool) -> bytes:
    values = (np.arange(64 * 80) % 37).astype(np.uint8).reshape(64, 80)
    return blob.encode(values, compress=compress)


@pytest.mark.parametrize("compress", [True, False])
def test_every_truncation_is_a_blob_error(compress: bool) -> None:
    data = _sample(compress)
    for cut in list(range(0, 21)) + [len(data) // 2, len(data) - 1]:
        with pytest.raises(BlobError, match="truncated|shorter"):
            blob.decode(data[:cut])


@pytest.mark.parametrize("compress", [True, False])
def test_corrupt_payload_and_stray_bytes(compress: bool) -> None:
    data = bytearray(_sample(compress))
    data[-5] ^= 0xFF
    with pytest.raises(BlobError, match="corrupt|CRC"):
        blob.decode(bytes(data))
    with pytest.raises(BlobError, match="stray"):
        blob.decode(_sample(compress) + b"\x00\x01")


def test_bad_headers_say_what_is_wrong() -> None:
    good = _sample(False)
    with pytest.raises(BlobError, match="hex text"):
        blob.decode(good.hex().encode("ascii"))
    with pytest.raises(BlobError, match="not a GMI blob"):
        blob.decode(b"\x89PNG" + good[4:])
    with pytest.raises(BlobError, match="version 9"):
        blob.decode(good[:4] + b"\x09" + good[5:])
    with pytest.raises(BlobError, match="flag"):
        blob.decode(good[:5] + b"\x80" + good[6:])
    with pytest.raises(BlobError, match="flag"):  # delta filter without zlib
        blob.decode(good[:5] + b"\x02" + good[6:])
    floats = blob.encode(np.zeros((50, 50), np.float32))
    with pytest.raises(BlobError, match="flag"):  # delta filter on a float array
        blob.decode(floats[:5] + b"\x03" + floats[6:])
    with pytest.raises(BlobError, match="dtype code 99"):
        blob.decode(good[:6] + b"\x63" + good[7:])
    with pytest.raises(BlobError, match="ndim 200"):
        blob.decode(good[:7] + b"\xc8" + good[8:])
    with pytest.raises(BlobError, match="expected bytes"):
        blob.decode(good.hex())  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.zeros(3, np.float16), np.zeros(3, np.complex64),
                                 np.array(["a"]), np.array([None], dtype=object), [1, 2, 3]])
def test_unsupported_input_is_refused(bad) -> None:
    with pytest.raises(BlobError):
        blob.encode(bad)


def test_decode_accepts_memoryview_and_bytearray() -> None:
    data = _sample(True)
    expected = blob.decode(data)
    assert _same(expected, blob.decode(bytearray(data)))
    assert _same(expected, blob.decode(memoryview(data)))


def test_raw_format_is_bare_little_endian_bytes() -> None:
    modis = np.arange(-32768, 32768, dtype=">i2").reshape(256, 256)
    raw = blob.encode_raw(modis, np.int16)
    assert raw == modis.astype("<i2").tobytes() and len(raw) == 2 * 256 * 256
    back = blob.decode_raw(raw, np.int16, (256, 256))
    assert _same(modis, back) and back.flags.writeable
    # the reference engine's hex convention is bytes.hex() of these bytes
    assert bytes.fromhex(raw.hex().upper()) == raw


def test_raw_format_errors() -> None:
    band = np.zeros((3, 4), np.uint8)
    with pytest.raises(BlobError, match="expected int16"):
        blob.encode_raw(band, np.int16)
    with pytest.raises(BlobError, match=r"11 bytes, but uint8 \(3, 4\) needs 12"):
        blob.decode_raw(blob.encode_raw(band)[:-1], np.uint8, (3, 4))
    with pytest.raises(CellTooLargeError):
        blob.encode_raw(np.zeros(blob.MAX_CELL_BYTES + 1, np.uint8))


@settings(max_examples=60, deadline=None)
@given(values=hnp.arrays(dtype=st.sampled_from([np.dtype(d) for d in DTYPES]),
                         shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12)),
       compress=st.booleans())
def test_property_round_trip(values: np.ndarray, compress: bool) -> None:
    assert _same(values, blob.decode(blob.encode(values, compress=compress)))


def test_blob_module_is_python_37_compatible() -> None:
    vermin = Path(sys.executable).with_name("vermin")
    path = Path(blob.__file__)
    done = subprocess.run([str(vermin), "-t=3.7-", "--no-tips", "--violations", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_float_blobs_are_byte_shuffled_and_round_trip_nan_exactly():
    rng = np.random.default_rng(3)
    a = rng.normal(0.3, 0.05, (256, 300)).astype(np.float32)
    a[rng.random(a.shape) < 0.2] = np.nan
    data = blob.encode(a)
    head = blob.peek(data)
    assert head.compressed and head.shuffle and not head.delta
    back = blob.decode(data)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.view(np.uint32), a.view(np.uint32))  # NaN bits too
    f64 = blob.decode(blob.encode(a.astype(np.float64)))
    np.testing.assert_array_equal(f64, a.astype(np.float64))


def test_shuffle_flag_on_an_integer_blob_is_rejected():
    data = bytearray(blob.encode(np.arange(100, dtype=np.uint8).reshape(10, 10)))
    data[5] |= blob.FLAG_SHUFFLE
    with pytest.raises(BlobError, match="invalid flag bits"):
        blob.decode(bytes(data))


def _plane_methods(data: bytes) -> list:
    """The (stored length, method) of each byte plane of a float blob."""
    head = blob.peek(data)
    body, offset, found = memoryview(data)[head.header_size:], 0, []
    for _ in range(head.dtype.itemsize):
        stored, method = struct.unpack_from("<IB", body, offset)
        found.append((stored, method))
        offset += 5 + stored
    assert offset == len(body)
    return found


def test_float_byte_planes_store_noise_raw_and_compress_the_rest():
    rng = np.random.default_rng(5)
    noise = rng.uniform(0.1, 0.9, (512, 512)).astype(np.float32)  # random low mantissa bytes
    data = blob.encode(noise)
    head = blob.peek(data)
    assert head.planes and head.shuffle and head.compressed
    methods = _plane_methods(data)
    assert methods[0] == (noise.size, blob.PLANE_RAW)  # lowest byte: noise, stored as is
    assert methods[3][1] == blob.PLANE_ZLIB and methods[3][0] < noise.size // 3  # sign/exponent
    np.testing.assert_array_equal(blob.decode(data).view(np.uint32), noise.view(np.uint32))
    nan = np.full((64, 64), np.nan, dtype=np.float32)
    assert all(m == blob.PLANE_ZLIB for _, m in _plane_methods(blob.encode(nan)))


def test_float_blobs_of_the_earlier_layout_still_decode():
    """Shuffled float blobs written before byte planes (one zlib stream) stay readable."""
    a = np.linspace(-2, 2, 3000, dtype=np.float32).reshape(50, 60)
    a[3, :7] = np.nan
    shuffled = a.reshape(-1).view(np.uint8).reshape(-1, 4).T.tobytes()
    header = (struct.pack("<4sBBBB", b"GMIB", 1, blob.FLAG_ZLIB | blob.FLAG_SHUFFLE, 9, 2)
              + struct.pack("<2I", 50, 60) + struct.pack("<I", zlib.crc32(a.tobytes())))
    back = blob.decode(header + zlib.compress(shuffled, 1))
    np.testing.assert_array_equal(back.view(np.uint32), a.view(np.uint32))


def test_corrupt_byte_planes_are_blob_errors():
    a = np.random.default_rng(6).normal(0.3, 0.05, (128, 128)).astype(np.float32)
    data = blob.encode(a)
    head = blob.peek(data)
    body = bytearray(data[head.header_size:])
    bad_method = bytearray(data)
    bad_method[head.header_size + 4] = 7
    with pytest.raises(BlobError, match="unknown method 7"):
        blob.decode(bytes(bad_method))
    with pytest.raises(BlobError, match="truncated"):
        blob.decode(data[:head.header_size] + bytes(body[:len(body) // 2]))
    with pytest.raises(BlobError, match="stray bytes"):
        blob.decode(data + b"\0")
    planes_on_unshuffled = bytearray(blob.encode(a, compress=False))
    planes_on_unshuffled[5] |= blob.FLAG_PLANES
    with pytest.raises(BlobError, match="invalid flag bits"):
        blob.decode(bytes(planes_on_unshuffled))


def test_plane_blobs_carry_version_2_and_absurd_headers_are_refused_before_allocating():
    a = np.full((64, 64), np.nan, dtype=np.float32)
    data = bytearray(blob.encode(a))
    assert data[4] == blob.PLANES_FORMAT_VERSION and blob.peek(bytes(data)).planes
    assert blob.encode(np.arange(9, dtype=np.uint8))[4] == blob.FORMAT_VERSION  # others unchanged
    v1 = bytearray(data)
    v1[4] = blob.FORMAT_VERSION
    with pytest.raises(BlobError, match="invalid flag bits"):
        blob.decode(bytes(v1))
    v9 = bytearray(data)
    v9[4] = 9
    with pytest.raises(BlobError, match="newer GMI"):
        blob.decode(bytes(v9))
    huge = bytearray(data)
    struct.pack_into("<2I", huge, 8, 60000, 60000)  # 14.4 GB claimed by a few hundred bytes
    with pytest.raises(BlobError, match="cannot come from"):
        blob.decode(bytes(huge))
    absurd = bytearray(data)
    struct.pack_into("<2I", absurd, 8, 2**32 - 1, 2**32 - 1)  # nbytes beyond int64
    with pytest.raises(BlobError):
        blob.decode(bytes(absurd))


def test_a_plane_that_inflates_past_its_length_is_refused():
    a = np.zeros((32, 32), dtype=np.float32) + np.float32(0.25)
    head_size = blob.peek(blob.encode(a)).header_size
    planes = blob._shuffle(a)
    bomb = zlib.compress(bytes(planes[0].size * 50), 9)  # inflates to 50x the plane
    body = b"".join(struct.pack("<IB", len(c), blob.PLANE_ZLIB) + c
                    for c in [bomb] + [zlib.compress(p.tobytes()) for p in planes[1:]])
    data = blob.encode(a)[:head_size] + body
    with pytest.raises(BlobError, match="byte plane 1"):
        blob.decode(data)
