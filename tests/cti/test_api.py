"""The operation registry: names and arguments are checked before an operation runs."""

import asyncio

import pytest

from appliance.cti import api


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(api, "OPERATIONS", {})

    @api.operation("echo")
    def echo(box, *, text, times=1):
        return {"box": box, "text": text * times}

    @api.operation("later")
    async def later(box, *, value):
        await asyncio.sleep(0)
        return value + 1

    return api.OPERATIONS


def run(name, args):
    return asyncio.run(api.call("BOX", name, args))


def test_an_operation_gets_the_box_and_its_arguments(registry):
    assert run("echo", {"text": "ab", "times": 2}) == {"box": "BOX", "text": "abab"}


def test_a_coroutine_operation_is_awaited(registry):
    assert run("later", {"value": 41}) == 42


def test_an_unknown_operation_is_refused_with_the_names_that_exist(registry):
    with pytest.raises(api.ApiError) as caught:
        run("ecoh", {})
    assert caught.value.message == "no operation 'ecoh'"
    assert caught.value.hint == "use one of echo, later"


def test_an_unknown_argument_is_refused_before_the_operation_runs(registry):
    with pytest.raises(api.ApiError) as caught:
        run("echo", {"text": "a", "tiems": 2})
    assert "no argument tiems" in caught.value.message
    assert caught.value.hint == "it takes text, times"


def test_a_missing_argument_is_named(registry):
    with pytest.raises(api.ApiError) as caught:
        run("echo", {"times": 2})
    assert caught.value.message == "echo: argument text is missing"


def test_a_name_registered_twice_is_a_bug(registry):
    with pytest.raises(RuntimeError):
        api.operation("echo")(lambda box: None)
