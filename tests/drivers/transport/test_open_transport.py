"""open_transport: URLs that name no transport get an error naming the URL and the forms."""

import pytest

from appliance.drivers.transport import SCHEMES, TransportError, open_transport


@pytest.mark.parametrize("url, problem", [
    ("", "no URL given"),
    (None, "no URL given"),
    ("ttyACM0", "not a device path or URL"),
    ("COM3", "not a device path or URL"),
    ("ftp://board:21", "unknown scheme 'ftp'"),
    ("rfc2217://host:2217", "unknown scheme 'rfc2217'"),
    ("tcp://127.0.0.1:7000", "unknown scheme 'tcp'"),
])
def test_bad_url_names_the_url_and_the_forms(url, problem):
    with pytest.raises(TransportError) as info:
        open_transport(url)
    message = str(info.value)
    assert problem in message
    assert info.value.url == (url if url else repr(url))
    if url:
        assert message.startswith(f"{url}: ")
    for form in ("/dev/ttyACM0", "socket://HOST:PORT", "loop://", "usb://VID:PID", "inprocess://"):
        assert form in message


def test_transport_error_is_an_oserror_with_the_url():
    error = TransportError("loop://", "problem")
    assert isinstance(error, OSError)
    assert (error.url, error.problem, str(error)) == ("loop://", "problem", "loop://: problem")


def test_schemes():
    assert set(SCHEMES) == {"socket", "loop", "usb", "inprocess"}
