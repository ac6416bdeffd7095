"""6S look-up table: loading (checksum verified) and vectorised lookup of xa, xb, xc.

Pure numpy + stdlib. Only ingest reads the LUT (the MaxCompute UDTF receives finished xa, xb, xc
in the ``ac`` cell), so this lives in ``atmosphere``, not in the kernel. The tables are written by
:mod:`gmi_engine.atmosphere.lut`; this module only reads and interpolates them.

The LUT stores 6S's *components*, not xa/xb/xc (``science.md`` §2.1, §2.5)::

    rho_TOA = Tg * [P/Tg + T_down*T_up*rho / (1 - S*rho)]
    xa = K0 * (1/mu_s) / (dsol * Tg * T_down * T_up)      K0 = pi*S_f/E_f(1 AU), dsol from the date
    xb = P / (Tg * T_down * T_up)
    xc = S

- Tg(m, W, z): total gaseous transmittance on the two-way air mass ``m = 1/mu_s + 1/mu_v``
  (6S's gas transmittance depends on the geometry only through m), water vapour W, altitude z;
  ozone enters as a ratio table on (m, O3).
- T(1/mu, tau, z): total scattering transmittance, one function for both paths (reciprocity);
  S(tau, z): spherical albedo.
- P = P_R + rho_A * G2, with P_R the gas-attenuated Rayleigh path reflectance (6S runs without
  aerosol, so its spectral coupling with ozone/O2 is exact) and G2 = Tg(m, W/2, z), because 6S
  attenuates the aerosol path by the gases with half the water column. rho_A (an "effective"
  aerosol path reflectance) = nadir table + view-angle increment table.

Interpolation: 4-point Lagrange (cubic) along every axis with >= 4 nodes, lower order otherwise.
xa is formed analytically from 1/mu_s and the date, never interpolated raw; transmittances are
interpolated in log space on air-mass axes, path reflectances on tan(theta_s) (smooth through
an overhead sun, where the view-azimuth dependence goes like theta_s*cos(phi)); water vapour in
sqrt(W); the gas altitude axis layer by layer between 6S's 1-km profile levels (kinks there);
the relative azimuth axis is mirrored about 0 and 180 degrees.
"""
import hashlib
import json
import zipfile

import numpy as np

from gmi_engine.kernel.errors import GmiFileError, GmiInputError, LutChecksumError, OutsideEnvelopeError

#: Layout version of the LUT file.
LUT_FORMAT = "gmi-6s-lut/1"
N_BANDS = 9

#: Envelope fields, in the order of :meth:`LutTables.lookup`'s arguments, with their units.
ENVELOPE_FIELDS = (
    ("sun_zenith", "deg"), ("view_zenith", "deg"), ("aot550", ""), ("water_vapour", "g/cm2"),
    ("ozone", "cm-atm"), ("altitude_km", "km"),
)

#: Arrays every LUT file holds (besides ``meta`` and ``checksum``).
AXES = ("axis_airmass", "axis_aot", "axis_altitude", "axis_view_zenith", "axis_azimuth",
        "axis_view_airmass", "axis_view_aot", "axis_gas_airmass", "axis_gas_wv",
        "axis_gas_altitude", "axis_gas_altitude_breaks", "axis_ozone")
TABLES = {
    "gas_ln_tg": ("axis_gas_airmass", "axis_gas_wv", "axis_gas_altitude"),
    "ozone_ln_gas": ("axis_gas_airmass", "axis_ozone", "axis_altitude"),
    "ozone_ln_path": ("axis_gas_airmass", "axis_ozone", "axis_altitude"),
    "rayleigh_path": ("axis_airmass", "axis_view_zenith", "axis_azimuth", "axis_altitude"),
    "ln_transmittance": ("axis_airmass", "axis_aot", "axis_altitude"),
    "spherical_albedo": ("axis_aot", "axis_altitude"),
    "aerosol_path": ("axis_airmass", "axis_aot", "axis_altitude"),
    "aerosol_path_view": ("axis_view_airmass", "axis_view_zenith", "axis_azimuth",
                          "axis_view_aot"),
    "solar_factor": (),
}

# Lookups tolerate this much beyond an envelope bound (float noise in angles).
_EDGE_TOL = 1e-9


# ---------------------------------------------------------------- date


def sixs_day_of_year(month, day):
    """Day of year as 6S's ``varsol`` counts it (no leap years; 29 Feb = 1 Mar)."""
    month = np.asarray(month, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    early = 31 * (month - 1) + day
    mid = 31 * (month - 1) - (month - 1) // 2 - 2 + day
    late = 31 * (month - 1) - (month - 2) // 2 - 2 + day
    return np.where(month <= 2, early, np.where(month > 8, late, mid))


def sixs_sun_distance_factor(month, day):
    """6S's ``dsol`` = (1 AU / Earth-Sun distance)^2 for a month and day."""
    om = np.radians(0.9856 * (sixs_day_of_year(month, day) - 4).astype(np.float64))
    return 1.0 / (1.0 - 0.01673 * np.cos(om)) ** 2


# ---------------------------------------------------------------- checksum and loading


def table_checksum(meta_text, arrays):
    """sha256 (hex) of the metadata text and every array (name, dtype, shape, bytes), sorted."""
    digest = hashlib.sha256()
    digest.update(meta_text.encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update("\n{}|{}|{}\n".format(name, array.dtype.str, array.shape).encode("ascii"))
        digest.update(array.tobytes())
    return digest.hexdigest()


class _Nodes(object):
    """One interpolation axis: its nodes, Lagrange order and per-stencil denominators.

    ``breaks`` (a subset of the nodes) are points where the tabulated function may have a kink
    (6S interpolates its atmospheric profiles between 1-km levels): stencils never cross them,
    each segment between two breaks holds the same number of nodes and is interpolated alone.
    """

    def __init__(self, nodes, order=4, mirror=False, breaks=None):
        nodes = np.asarray(nodes, dtype=np.float64)
        index = np.arange(nodes.shape[0])
        if mirror and nodes.shape[0] > 1:  # even function of the azimuth, period 360
            index = np.concatenate([index[:0:-1], index, index[-2::-1]])
            nodes = np.concatenate([-nodes[:0:-1], nodes, 360.0 - nodes[-2::-1]])
        n = nodes.shape[0]
        self.breaks = None
        if breaks is not None and len(breaks) > 1:
            breaks = np.asarray(breaks, dtype=np.float64)
            self.breaks = breaks[1:-1]  # a searchsorted on these gives the segment
            self.segment_start = np.searchsorted(nodes, breaks[:-1])
            order = int(np.searchsorted(nodes, breaks[1]) + 1)  # nodes per segment
        self.k = k = min(order, n)
        # Stencil start = (interval index - (k-1)//2) clipped to [0, n-k], in one searchsorted.
        first = (k - 1) // 2 + 1
        self.start_edges = nodes[first:first + n - k]
        starts = np.arange(n - k + 1)
        offsets = np.arange(k)
        stencils = nodes[starts[:, None] + offsets[None, :]]  # (starts, k)
        self.off_diagonal = ~np.eye(k, dtype=bool)
        diff = stencils[:, :, None] - stencils[:, None, :]
        self.inverse_denominators = 1.0 / np.where(self.off_diagonal, diff, 1.0).prod(axis=2)
        self.stencils = stencils
        self.index = index[starts[:, None] + offsets[None, :]]  # table index per stencil

    def at(self, x):
        """(table indices (N, k), weights (N, k)) of k-point Lagrange interpolation at ``x``."""
        if self.breaks is not None:
            start = self.segment_start[np.searchsorted(self.breaks, x, side="right")]
        else:
            start = np.searchsorted(self.start_edges, x, side="right")
        diff = x[:, None] - self.stencils[start]  # (N, k)
        numer = np.where(self.off_diagonal, diff[:, None, :], 1.0).prod(axis=2)
        return self.index[start], numer * self.inverse_denominators[start]


class _Axis(object):
    """Interpolation weights of one axis for a batch of query coordinates."""

    def __init__(self, nodes, x=None, index=None, weights=None):
        if nodes is not None:
            index, weights = nodes.at(np.asarray(x, dtype=np.float64))
        self.index, self.weights = index, weights

    def twice(self):
        """The same weights for the batch repeated twice (two lookups in one call)."""
        return _Axis(None, index=np.concatenate([self.index, self.index]),
                     weights=np.concatenate([self.weights, self.weights]))


def _interpolate(table, axes):
    """Interpolate ``table`` (axes..., bands) at N points; one :class:`_Axis` per leading axis."""
    d = len(axes)
    n = axes[0].index.shape[0]
    indices = []
    weight = np.ones((n,) + (1,) * d)
    for a, axis in enumerate(axes):
        shape = [n] + [1] * d
        shape[a + 1] = axis.index.shape[1]
        indices.append(axis.index.reshape(shape))
        weight = weight * axis.weights.reshape(shape)
    gathered = table[tuple(indices)]  # (N, k1..kd, bands)
    return np.einsum("nkb,nk->nb", gathered.reshape(n, -1, table.shape[-1]), weight.reshape(n, -1))


class LutTables(object):
    """A loaded 6S LUT: its arrays, metadata and envelope; :meth:`lookup` gives xa, xb, xc."""

    def __init__(self, arrays, meta, source="LUT"):
        self.source = str(source)
        self.meta = dict(meta)
        if self.meta.get("format") != LUT_FORMAT:
            raise GmiFileError("{}: LUT format {!r} is not {!r}".format(
                self.source, self.meta.get("format"), LUT_FORMAT))
        missing = [name for name in AXES + tuple(TABLES) if name not in arrays]
        if missing:
            raise GmiFileError("{}: LUT lacks array(s) {}".format(self.source, ", ".join(missing)))
        self.arrays = {}
        for name in AXES + tuple(TABLES):
            self.arrays[name] = np.asarray(arrays[name], dtype=np.float64)
        for name, axes in TABLES.items():
            expected = tuple(self.arrays[a].shape[0] for a in axes) + (N_BANDS,)
            if self.arrays[name].shape != expected:
                raise GmiFileError("{}: LUT array {} has shape {}, expected {}".format(
                    self.source, name, self.arrays[name].shape, expected))
        self.envelope = {}
        for name, _ in ENVELOPE_FIELDS:
            bounds = self.meta.get("envelope", {}).get(name)
            if bounds is None or len(bounds) != 2:
                raise GmiFileError("{}: LUT meta.envelope.{} is missing".format(self.source, name))
            self.envelope[name] = (float(bounds[0]), float(bounds[1]))
        self.aerosol_model = str(self.meta.get("aerosol_model", ""))
        a = self.arrays
        self._nodes = {name: _Nodes(a[name]) for name in AXES}
        self._nodes["axis_azimuth"] = _Nodes(a["axis_azimuth"], mirror=True)
        self._nodes["axis_gas_altitude"] = _Nodes(a["axis_gas_altitude"],
                                                  breaks=a["axis_gas_altitude_breaks"])
        self._nodes["sqrt_gas_wv"] = _Nodes(np.sqrt(a["axis_gas_wv"]))
        # View-dependent tables vary like theta_s * cos(phi) near an overhead sun: smooth in
        # tan(theta_s) = sqrt(airmass^2 - 1), not in the air mass itself.
        for name in ("axis_airmass", "axis_view_airmass"):
            self._nodes["tan_" + name] = _Nodes(np.sqrt(np.maximum(a[name] ** 2 - 1.0, 0.0)))
        # Tables sharing axes are interpolated together (fewer numpy calls per lookup).
        self._ozone = np.concatenate([a["ozone_ln_gas"], a["ozone_ln_path"]], axis=-1)
        self._low = np.array([self.envelope[f][0] for f, _ in ENVELOPE_FIELDS]) - _EDGE_TOL
        self._high = np.array([self.envelope[f][1] for f, _ in ENVELOPE_FIELDS]) + _EDGE_TOL
        self.sixs_version = str(self.meta.get("sixs_version", ""))

    @classmethod
    def from_npz(cls, path):
        """Load a LUT file, verifying its format and sha256 checksum."""
        try:
            with np.load(str(path), allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GmiFileError("{}: not a readable LUT file ({})".format(path, exc))
        for key in ("meta", "checksum"):
            if key not in arrays:
                raise GmiFileError("{}: not a GMI LUT (no {!r} entry)".format(path, key))
        meta_text = str(arrays.pop("meta"))
        stored = str(arrays.pop("checksum"))
        actual = table_checksum(meta_text, arrays)
        if actual != stored:
            raise LutChecksumError(
                "{}: checksum mismatch (stored {}…, computed {}…): the file is corrupt or was "
                "modified".format(path, stored[:12], actual[:12]))
        try:
            meta = json.loads(meta_text)
        except ValueError as exc:
            raise GmiFileError("{}: LUT meta is not JSON ({})".format(path, exc))
        return cls(arrays, meta, source=str(path))

    # ------------------------------------------------------------ envelope

    def check_envelope(self, **values):
        """Raise OutsideEnvelopeError naming the first field outside the LUT's envelope."""
        for name, unit in ENVELOPE_FIELDS:
            if name not in values:
                continue
            v = np.atleast_1d(np.asarray(values[name], dtype=np.float64))
            low, high = self.envelope[name]
            bad = ~((v >= low - _EDGE_TOL) & (v <= high + _EDGE_TOL))
            if np.any(bad):
                first = float(v[np.argmax(bad)])
                raise OutsideEnvelopeError(
                    "{}: {} = {:g}{} is outside the LUT envelope [{:g}, {:g}]; use direct 6S "
                    "or a LUT built for it".format(self.source, name, first,
                                                  " " + unit if unit else "", low, high))

    # ------------------------------------------------------------ lookup

    def lookup(self, sun_zenith, view_zenith, relative_azimuth, month, day, aot550,
               water_vapour, ozone, altitude_km):
        """xa, xb, xc, each float64 (N, 9), for N states given as scalars or 1-D arrays.

        Angles in degrees (relative azimuth folded to [0, 180]); month/day of acquisition.
        A value outside the envelope raises :class:`OutsideEnvelopeError`.
        """
        sz, vz, phi, mon, dd, tau, wv, o3, z = np.broadcast_arrays(
            *[np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (
                sun_zenith, view_zenith, relative_azimuth, month, day, aot550, water_vapour,
                ozone, altitude_km)])
        values = np.stack([sz, vz, tau, wv, o3, z])  # ENVELOPE_FIELDS order
        if not np.all((values >= self._low[:, None]) & (values <= self._high[:, None])):
            self.check_envelope(sun_zenith=sz, view_zenith=vz, aot550=tau, water_vapour=wv,
                                ozone=o3, altitude_km=z)
        if np.any((mon < 1) | (mon > 12) | (dd < 1) | (dd > 31) | (mon != np.floor(mon))
                  | (dd != np.floor(dd))):
            raise GmiInputError("{}: month/day must be whole numbers 1..12 / 1..31, got {} / {}"
                                .format(self.source, mon.tolist()[:5], dd.tolist()[:5]))
        phi = np.abs(phi) % 360.0
        phi = np.where(phi > 180.0, 360.0 - phi, phi)
        t = self.arrays
        a_s = 1.0 / np.cos(np.radians(sz))
        a_v = 1.0 / np.cos(np.radians(vz))
        m = a_s + a_v

        n = sz.shape[0]
        nd = self._nodes
        ax_tau = _Axis(nd["axis_aot"], tau)
        ax_z = _Axis(nd["axis_altitude"], z)
        ax_vz = _Axis(nd["axis_view_zenith"], vz)
        ax_phi = _Axis(nd["axis_azimuth"], phi)
        ax_m = _Axis(nd["axis_gas_airmass"], m)
        ax_as_av = _Axis(nd["axis_airmass"], np.concatenate([a_s, a_v]))
        tan_s = np.tan(np.radians(sz))

        ozone = np.exp(_interpolate(self._ozone, [ax_m, _Axis(nd["axis_ozone"], o3), ax_z]))
        ozone_gas, ozone_path = ozone[:, :N_BANDS], ozone[:, N_BANDS:]
        gas = np.exp(_interpolate(t["gas_ln_tg"], [
            ax_m.twice(), _Axis(nd["sqrt_gas_wv"], np.sqrt(np.concatenate([wv, 0.5 * wv]))),
            _Axis(nd["axis_gas_altitude"], np.concatenate([z, z]))]))
        tg = gas[:n] * ozone_gas  # total gaseous transmittance
        g2 = gas[n:] * ozone_gas  # the same with half the water: attenuates the aerosol path
        trans = np.exp(_interpolate(t["ln_transmittance"],
                                    [ax_as_av, ax_tau.twice(), ax_z.twice()]))
        t_down, t_up = trans[:n], trans[n:]
        sph = _interpolate(t["spherical_albedo"], [ax_tau, ax_z])
        ax_tan = _Axis(nd["tan_axis_airmass"], tan_s)
        path_r = _interpolate(t["rayleigh_path"], [ax_tan, ax_vz, ax_phi, ax_z]) * ozone_path
        rho_a = _interpolate(t["aerosol_path"], [ax_tan, ax_tau, ax_z])
        rho_a += _interpolate(t["aerosol_path_view"], [
            _Axis(nd["tan_axis_view_airmass"], tan_s), ax_vz, ax_phi,
            _Axis(nd["axis_view_aot"], tau)])

        denom = tg * t_down * t_up
        dsol = sixs_sun_distance_factor(mon.astype(np.int64), dd.astype(np.int64))
        xa = t["solar_factor"][None, :] * (a_s / dsol)[:, None] / denom
        xb = (path_r + rho_a * g2) / denom
        return xa, xb, sph
