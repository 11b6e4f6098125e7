"""appliance.records.record: the same frozen dataclass as @dataclass(frozen=True), made
quicker (the events, commands and actions of the switchboard, ACD and IVR)."""

import dataclasses
import pickle

import pytest

from appliance.records import record


@record
class Row:
    tick: int
    kind: str
    call_id: str | None = None
    data: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Plain:
    tick: int
    kind: str
    call_id: str | None = None
    data: dict = dataclasses.field(default_factory=dict)


def test_record_behaves_as_a_frozen_dataclass():
    a, b = Row(1, "queued"), Row(1, "queued", None, {})
    assert a == b and repr(a) == repr(Plain(1, "queued")).replace("Plain", "Row")
    assert a.data == {} and a.data is not b.data  # a fresh default per instance
    assert Row(tick=2, kind="x", data={"k": 1}).data == {"k": 1}
    assert hash(Row(1, "x", "c", None)) == hash(Row(1, "x", "c", None))
    assert dataclasses.replace(a, kind="left") == Row(1, "left")
    assert pickle.loads(pickle.dumps(a)) == a
    assert [f.name for f in dataclasses.fields(Row)] == ["tick", "kind", "call_id", "data"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "other"
    with pytest.raises(TypeError):
        Row(1)  # a field without a default is still required
    with pytest.raises(TypeError):
        Row(1, "x", nope=2)


def test_record_keeps_the_dataclass_init_where_it_cannot_help():
    @record
    class Checked:
        n: int

        def __post_init__(self):
            if self.n < 0:
                raise ValueError("n must be >= 0")

    with pytest.raises(ValueError):
        Checked(-1)
    assert Checked(3).n == 3
