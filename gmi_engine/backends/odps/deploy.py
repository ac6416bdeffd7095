"""The deploy bundle: the kernel archive, the UDTF module, the numpy archive, all content-hashed."""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from gmi_engine.backends.odps.sql import FUNCTION_NAME, check_name
from gmi_engine.errors import BackendError, GmiInputError

KERNEL_RESOURCE_PREFIX = "gmi_kernel_"
UDTF_RESOURCE_PREFIX = "gmi_udtf_"
NUMPY_RESOURCE_PREFIX = "gmi_numpy_"



def _zip_bytes(files: Sequence[Tuple[str, bytes]]) -> bytes:
    """A deterministic zip (sorted names, fixed timestamps): same content -> same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buf.getvalue()


def kernel_bundle() -> bytes:
    """``gmi_engine/kernel/*.py``, its ``data/`` (the index library) + a minimal package ``__init__``, zipped."""
    import gmi_engine
    from gmi_engine import kernel

    kernel_dir = Path(kernel.__file__).parent
    files = [("gmi_engine/__init__.py",
              '"""GMI kernel bundle for MaxCompute (made by gmi odps deploy)."""\n'
              '__version__ = "{}"\n'.format(gmi_engine.__version__).encode())]
    for path in sorted(kernel_dir.glob("*.py")):
        files.append(("gmi_engine/kernel/" + path.name, path.read_bytes()))
    for path in sorted((kernel_dir / "data").glob("*.json")):
        files.append(("gmi_engine/kernel/data/" + path.name, path.read_bytes()))
    return _zip_bytes(files)


def short_hash(data: bytes) -> str:
    """The 12 hex digits of ``data``'s SHA-256 that name a content-hashed resource."""
    return hashlib.sha256(data).hexdigest()[:12]


def udtf_source(bundle_resources: Sequence[str]) -> bytes:
    """The UDTF module with :data:`BUNDLE_RESOURCES` filled in for MaxCompute."""
    from gmi_engine.backends import udtf

    text = Path(udtf.__file__).read_text(encoding="utf-8")
    marker = "BUNDLE_RESOURCES = ()  # gmi-deploy: resources"
    if text.count(marker) != 1:
        raise BackendError("{}: the deploy marker line is missing".format(udtf.__file__))
    filled = "BUNDLE_RESOURCES = {!r}  # gmi-deploy: resources".format(tuple(bundle_resources))
    return text.replace(marker, filled).encode("utf-8")


_NUMPY_CORE = re.compile(r"(?:^|/)numpy/core/_multiarray_umath\.cpython-(\d+)m?-([a-z0-9_]+)-linux-gnu\.so\Z")
_WHEEL_PLATFORM = re.compile(r"manylinux(?:1|2010|_2_(?:[5-9]|1[0-2]))_x86_64\Z")
"""Platform tags of wheels MaxCompute's Python 3 workers import (glibc <= 2.12): Alibaba documents
``cp37-cp37m-manylinux1_x86_64`` and recommends numpy 1.21.6's manylinux2010 wheel."""
DOCUMENTED_NUMPY_DOWNLOAD = ("pip download numpy==1.21.6 --only-binary=:all: --no-deps --python-version 37 "
                             "--implementation cp --abi cp37m --platform manylinux2010_x86_64 -d .")
"""How to get the numpy wheel Alibaba's documentation recommends for MaxCompute UDFs."""


def wheel_platforms(path: Path, members: Sequence[str], read) -> List[str]:
    """The platform tags of a wheel: its ``*.dist-info/WHEEL`` ``Tag:`` lines, else its file name."""
    tags = []  # type: List[str]
    for member in members:
        if re.search(r"(?:^|/)[^/]+\.dist-info/WHEEL\Z", member):
            for line in read(member).decode("utf-8", "replace").splitlines():
                if line.startswith("Tag:"):
                    tags.append(line.split(":", 1)[1].strip().rsplit("-", 1)[-1])
    if not tags and path.name.lower().endswith(".whl"):
        tags = path.name[:-4].rsplit("-", 1)[-1].split(".")
    return list(dict.fromkeys(tags))


def numpy_resource_name(path: Path, data: bytes) -> str:
    """Check a numpy archive for MaxCompute (CPython 3.7, Linux x86_64); its resource name.

    Accepted: a ``numpy-*-cp37-cp37m-manylinux*_x86_64.whl`` (uploaded as ``.zip``), a zip of
    one, or a ``pyodps-pack`` ``.tar.gz`` (``packages/numpy/...``).
    """
    name = path.name.lower()
    if name.endswith(".whl") or name.endswith(".zip"):
        ext = "zip"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.namelist()
                platforms = wheel_platforms(path, members, archive.read)
        except zipfile.BadZipFile:
            raise GmiInputError("{}: not a zip/wheel archive".format(path)) from None
    elif name.endswith(".tar.gz") or name.endswith(".tgz"):
        ext = "tar.gz"
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                members = archive.getnames()
            platforms = []  # pyodps-pack builds for the MaxCompute workers itself
        except (tarfile.TarError, OSError):
            raise GmiInputError("{}: not a .tar.gz archive".format(path)) from None
    else:
        raise GmiInputError("{}: give a numpy cp37 wheel (.whl), a zip of one, or a pyodps-pack "
                            ".tar.gz".format(path))
    cores = [m for m in (_NUMPY_CORE.search(n) for n in members) if m]
    if not cores:
        raise GmiInputError("{}: no numpy/core/_multiarray_umath extension inside; is this a numpy "
                            "binary archive?".format(path))
    if not any(m.group(1) == "37" and m.group(2) == "x86_64" for m in cores):
        found = ", ".join(sorted({"cp{} {}".format(m.group(1), m.group(2)) for m in cores}))
        raise GmiInputError("{}: numpy is built for {}; MaxCompute Python 3 UDFs run CPython 3.7 on "
                            "Linux x86_64 (use a cp37-cp37m-manylinux*_x86_64 wheel or "
                            "`pyodps-pack --python-version 3.7 numpy`)".format(path, found))
    if platforms and not any(_WHEEL_PLATFORM.match(tag) for tag in platforms):
        raise GmiInputError("{}: the wheel is tagged {}; MaxCompute documents manylinux1 or manylinux2010 "
                            "x86_64 wheels (newer glibc tags may fail to import on its workers). Get the "
                            "documented one with `{}`, or build an archive with `pyodps-pack -o gmi-numpy.tar.gz "
                            "numpy==1.21.6`".format(path, ", ".join(platforms), DOCUMENTED_NUMPY_DOWNLOAD))
    return "{}{}.{}".format(NUMPY_RESOURCE_PREFIX, short_hash(data), ext)


@dataclass
class DeployPlan:
    """What deploy uploads and registers (everything named by content hash)."""

    kernel_name: str
    kernel_bytes: bytes
    numpy_name: str
    numpy_bytes: Optional[bytes]  # None: the numpy resource already exists in the project
    udtf_name: str
    udtf_bytes: bytes
    function: str

    @property
    def class_type(self) -> str:
        """``module.Class`` of the function (the py resource's module)."""
        return "{}.GmiUdtf".format(self.udtf_name[:-3])

    @property
    def resources(self) -> List[str]:
        """The function's resource list: UDTF module, kernel archive, numpy archive."""
        return [self.udtf_name, self.kernel_name, self.numpy_name]


def deploy_plan(numpy_archive: Optional[Path] = None, numpy_resource: Optional[str] = None,
                function: str = FUNCTION_NAME) -> DeployPlan:
    """Build the bundle locally (no network)."""
    if (numpy_archive is None) == (numpy_resource is None):
        raise GmiInputError("deploy: give either a numpy archive file or the name of a numpy archive "
                            "resource already in the project")
    kernel = kernel_bundle()
    kernel_name = "{}{}.zip".format(KERNEL_RESOURCE_PREFIX, short_hash(kernel))
    numpy_bytes = None
    if numpy_archive is not None:
        try:
            numpy_bytes = Path(numpy_archive).read_bytes()
        except OSError as exc:
            raise GmiInputError("{}: cannot read the numpy archive ({})".format(numpy_archive, exc)) from None
        numpy_name = numpy_resource_name(Path(numpy_archive), numpy_bytes)
    else:
        numpy_name = numpy_resource
    udtf_bytes = udtf_source([kernel_name, numpy_name])
    udtf_name = "{}{}.py".format(UDTF_RESOURCE_PREFIX, short_hash(udtf_bytes))
    return DeployPlan(kernel_name, kernel, numpy_name, numpy_bytes, udtf_name, udtf_bytes,
                      check_name(function, "function"))
