"""The server-side SVG chart: well-formed, escaped, one line per segment."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from persona.console.charts import segment_chart_svg
from persona.console.views import SegmentPoint, segment_history

SVG = "{http://www.w3.org/2000/svg}"


def test_one_polyline_per_segment_with_a_point_per_snapshot() -> None:
    history = segment_history([SegmentPoint(i, 1_000 * i, {"vip": i, "new": 10 - i}) for i in range(1, 6)])
    root = ET.fromstring(segment_chart_svg(history))
    lines = root.findall(f"{SVG}polyline")
    assert [line.findtext(f"{SVG}title") for line in lines] == ["new", "vip"]
    assert all(len(line.attrib["points"].split()) == 5 for line in lines)


def test_segment_names_are_escaped() -> None:
    history = segment_history([SegmentPoint(1, 1_000, {"<script>": 1})])
    svg = segment_chart_svg(history)
    assert "<script>" not in svg
    ET.fromstring(svg)  # still well-formed


def test_no_snapshot_says_so() -> None:
    root = ET.fromstring(segment_chart_svg(segment_history([])))
    assert "no snapshot" in "".join(root.itertext())
