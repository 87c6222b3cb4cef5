"""Line-protocol encoding: byte-identical to influxdb-client's serializer where that
one is right, correct escaping, and readable by a real server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
from influxdb_client.client.write_api import PointSettings

from vigileos_analytics.errors import ValidationError
from vigileos_analytics.schema import normalize_points_frame, validate_tag_value
from vigileos_analytics.stores.lineprotocol import encode_frame, encode_lines, format_floats


def client_lines(frame: pd.DataFrame) -> bytes:
    tags = [c for c in frame.columns if c not in ("time", "value")]
    lines = data_frame_to_list_of_points(frame, PointSettings(), data_frame_measurement_name="equipment_metrics",
                                         data_frame_tag_columns=tags, data_frame_timestamp_column="time")
    return ("\n".join(lines) + "\n").encode()


def frame_of(n: int, seed: int = 1, ids=None, locations=("Paris", "Lyon 2")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(50, 10, n), 3)
    values[::7] = np.round(values[::7])
    values[::11] *= 1e-6
    values[::13] *= 1e12
    values[::17] *= 1e20
    return pd.DataFrame({
        "time": pd.date_range("2024-01-01", periods=n, freq="1s", tz="UTC") + pd.Timedelta(123, "ns"),
        "equipment_id": rng.choice(ids or [f"EQ-{i}" for i in range(20)], n),
        "metric_type": rng.choice(["cpu_usage", "memory_usage"], n),
        "value": values,
        "location": rng.choice(list(locations), n),
    })


def test_byte_identical_to_influxdb_client():
    frame = frame_of(20_000, ids=["EQ 1", "a,b", "x=y", "plain", "back\\slash", 'quote"d'])
    assert encode_frame(normalize_points_frame(frame)) == client_lines(frame)


@pytest.mark.parametrize("exponent", range(-12, 24))
def test_floats_are_written_as_repr_writes_them(exponent):
    rng = np.random.default_rng(exponent + 50)
    values = np.concatenate([rng.uniform(1, 10, 2000) * 10.0 ** exponent, [0.0, -0.0, 1.0, -3.0]])
    values = np.concatenate([values, -values, np.round(values)])
    digits, suffix = format_floats(values)
    got = [d + s for d, s in zip(digits.to_pylist(), suffix.to_pylist(), strict=True)]
    assert got == [repr(v) for v in values.tolist()]


def test_escaping_and_absent_tags():
    frame = pd.DataFrame({
        "time": pd.to_datetime([0, 1], unit="ns", utc=True),
        "equipment_id": ["a b,c=d", "EQ-2"],
        "metric_type": ["cpu_usage", "cpu_usage"],
        "value": [1.5, 2.0],
        "zone": ["z 1", None],
        "Alpha": [None, "A"],
    })
    assert encode_frame(normalize_points_frame(frame)) == (
        b"equipment_metrics,equipment_id=a\\ b\\,c\\=d,metric_type=cpu_usage,zone=z\\ 1 value=1.5 0\n"
        b"equipment_metrics,Alpha=A,equipment_id=EQ-2,metric_type=cpu_usage value=2.0 1\n"
    )


@pytest.mark.parametrize("value", ["ends\\", "a\\ b", "a\\,b", "a\\=b"])
def test_backslash_before_a_separator_cannot_be_stored_and_is_refused(value):
    """Refused by the schema, for every backend, not only by the InfluxDB encoder."""
    frame = pd.DataFrame({"time": pd.to_datetime([0], unit="ns", utc=True), "equipment_id": [value],
                          "metric_type": ["cpu_usage"], "value": [1.0]})
    with pytest.raises(ValidationError, match="backslash at the end or right before a comma"):
        normalize_points_frame(frame)
    with pytest.raises(ValidationError, match="backslash"):
        validate_tag_value("site", value)


def test_batches_are_contiguous_bodies():
    frame = normalize_points_frame(frame_of(1001))
    lines = encode_lines(frame)
    assert len(lines) == 1001
    bodies = [lines.body(a, b) for a, b in lines.batches(100)]
    assert len(bodies) == 11 and b"".join(bodies) == lines.body()
    assert all(body.count(b"\n") == 100 for body in bodies[:-1])


def test_empty_frame_encodes_to_nothing():
    frame = normalize_points_frame(frame_of(3).iloc[:0])
    assert encode_frame(frame) == b"" and len(encode_lines(frame)) == 0
