"""The vendored Vega bundle: Vega + Vega-Lite + vega-embed in one offline script."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

# Made once by `python scripts/vendor_vega.py` and committed, so that building a
# site never waits for vl-convert (several seconds) unless the versions change.
VENDORED_BUNDLE = Path(__file__).parent / "vendor" / "vega-bundle.js"
_BUNDLE_HEADER = re.compile(rb"/\* (vl-convert [^,]+, Vega-Lite [0-9.]+), sha256 ([0-9a-f]{64}) \*/")


def vega_lite_version() -> str:
    """The Vega-Lite minor version Altair writes specs for (`v6.4.1` -> `6.4`)."""
    import altair as alt
    import vl_convert as vlc

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    version = f"{major}.{minor}"
    if version not in vlc.get_vegalite_versions():
        raise RuntimeError(
            f"vl-convert {vlc.__version__} has no Vega-Lite {version} (Altair {alt.__version__} writes it); "
            f"it has {vlc.get_vegalite_versions()}"
        )
    return version


def bundle_tag() -> str:
    import vl_convert as vlc

    return f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"


@functools.lru_cache(maxsize=2)
def vega_bundle(vl_version: str | None = None) -> bytes:
    """vega-embed + Vega-Lite + Vega as one script defining window.vegaEmbed (~0.9 MB),
    made by vl-convert (several seconds)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=vl_version or vega_lite_version()).encode("utf-8")


def _headed(body: bytes) -> bytes:
    return f"/* {bundle_tag()}, sha256 {hashlib.sha256(body).hexdigest()} */\n".encode() + body


def valid_bundle(path: Path, tag: str) -> bytes | None:
    """The file's bytes when its header names `tag` and its body matches its hash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    first, _, body = data.partition(b"\n")
    m = _BUNDLE_HEADER.fullmatch(first)
    if m and m[1].decode() == tag and hashlib.sha256(body).hexdigest() == m[2].decode():
        return data
    return None


def bundle_bytes() -> bytes:
    """The vendored bundle when it is the one the installed versions want, else a new one."""
    return valid_bundle(VENDORED_BUNDLE, bundle_tag()) or _headed(vega_bundle(vega_lite_version()))


def vendor_bundle() -> Path:
    """Write the vendored bundle for the installed vl-convert and Altair."""
    VENDORED_BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    VENDORED_BUNDLE.write_bytes(_headed(vega_bundle(vega_lite_version())))
    return VENDORED_BUNDLE
