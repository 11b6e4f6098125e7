"""Board models from flags and files: the port table CAPABILITIES will carry."""

import pytest

from appliance.drivers.emulator import BoardModel, EmulatorConfigError, Law, PortKind


def test_analog_board_from_flags():
    model = BoardModel.from_ports("8fxo+8fxs", law="ulaw", serial="SN-9", firmware=(2, 1, 0))
    assert model.model == "VB-8FXO8FXS" and model.serial == "SN-9"
    assert model.firmware == (2, 1, 0)
    assert [p.kind for p in model.ports] == [PortKind.FXO] * 8 + [PortKind.FXS] * 8
    assert all(p.law is Law.ULAW and p.span is None and p.timeslot == 0 for p in model.ports)
    assert model.ports_of(PortKind.FXS) == tuple(range(8, 16)) and model.spans == ()


def test_e1_span_is_30_channels_around_timeslot_16():
    model = BoardModel.from_ports("e1+2fxo")
    assert len(model.ports) == 32 and model.spans == (0,)
    e1 = model.ports[:30]
    assert all(p.kind is PortKind.E1 and p.span == 0 for p in e1)
    assert [p.timeslot for p in e1] == [*range(1, 16), *range(17, 32)]
    assert 16 not in {p.timeslot for p in e1}


def test_wire_codes_of_kinds_and_laws():
    assert (PortKind.FXO, PortKind.FXS, PortKind.E1) == (1, 2, 3)
    assert (Law.ALAW, Law.ULAW) == (1, 2)
    assert (Law.ALAW.idle_code, Law.ULAW.idle_code) == (0xD5, 0xFF)


@pytest.mark.parametrize("spec, hint", [
    ("", "not a port group"), ("0fxo", "not a port group"), ("8fxo+", "not a port group"),
    ("65fxs", "at most 64"), ("2e1+5fxo", "at most 64"),
])
def test_bad_port_specs(spec, hint):
    with pytest.raises(EmulatorConfigError, match=hint) as info:
        BoardModel.from_ports(spec)
    assert info.value.key == "ports"
