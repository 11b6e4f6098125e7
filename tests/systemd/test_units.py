"""systemd/: the service unit, sysusers, tmpfiles and udev rules.

- `systemd-analyze verify` lints the unit (a copy with its Exec lines pointed at /bin/true:
  verify fails on a missing binary), and `systemd-analyze security --offline` rates it;
- the unit's ExecStart is a real `appliance` command line (parsed by the CLI's own click
  commands) and ExecReload sends the SIGHUP the daemon reloads on;
- the writable paths are the config's storage defaults, and systemd-sysusers and
  systemd-tmpfiles, run into a scratch root, make the user and those folders owned by it;
- the udev rules give that user's group the boards' VID:PID (the driver's KNOWN_BOARDS), for
  both the CDC-ACM tty and the raw USB device the service's DeviceAllow= lets through.

systemd-analyze, systemd-sysusers and systemd-tmpfiles come with Debian's `systemd` package:
missing, these tests skip (fail in CI, APPLIANCE_REQUIRE_SYSTEM=1).
"""

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import click
import pytest

from appliance.cli import main
from appliance.config import DEFAULT_PATH, parse_config, sample_path
from appliance.cti.control import socket_path
from appliance.cti.metrics import parse_address
from appliance.drivers.transport.discovery import KNOWN_BOARDS

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
SERVICE = UNITS / "appliance.service"
RULES = UNITS / "60-appliance.rules"
SYSUSERS = UNITS / "appliance.sysusers"
TMPFILES = UNITS / "appliance.tmpfiles"


def require_tool(name):
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install systemd)"
    if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def unit_entries(text):
    """[(section, key, value)] of a unit file, in order (keys may repeat)."""
    entries, section, pending = [], None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key, section="Service"):
    return [v for s, k, v in unit_entries(SERVICE.read_text()) if s == section and k == key]


def one(key, section="Service"):
    found = values(key, section)
    assert len(found) == 1, f"{key}= appears {len(found)} times in [{section}]"
    return found[0]


def lintable_copy(tmp_path, text=None):
    """The unit with every Exec*= binary replaced by /bin/true (verify checks they exist)."""
    text = SERVICE.read_text() if text is None else text
    text = re.sub(r"^(Exec\w+=)[-@:+!]*\S+", r"\1/bin/true", text, flags=re.M)
    copy = tmp_path / SERVICE.name
    copy.write_text(text)
    return copy


def verify(path):
    tool = require_tool("systemd-analyze")
    done = subprocess.run([tool, "verify", "--man=no", str(path)], capture_output=True,
                          text=True, env={**os.environ, "SYSTEMD_LOG_COLOR": "0"})
    return done.returncode, (done.stdout + done.stderr).strip()


# ---- the service unit --------------------------------------------------------------------
def test_systemd_analyze_verify_is_clean(tmp_path):
    code, output = verify(lintable_copy(tmp_path))
    assert (code, output) == (0, "")


def test_systemd_analyze_verify_catches_a_bad_unit(tmp_path):
    # verify exits 0 on unknown keys and bad values, so the lint above also requires silence:
    # make sure such mistakes do print something
    bad = SERVICE.read_text().replace("ProtectSystem=strict", "ProtectSystem=strickt")
    bad = bad.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    code, output = verify(lintable_copy(tmp_path, bad))
    assert "strickt" in output and "'NoNewPrivilege'" in output


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path):
    tool = require_tool("systemd-analyze")
    copy = lintable_copy(tmp_path)
    done = subprocess.run([tool, "security", "--offline=true", "--no-pager", str(copy)],
                          capture_output=True, text=True,
                          env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_COLORS": "0"})
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
    assert match, done.stdout + done.stderr
    # systemd's scale: 0-10, "OK" below 2.0 (a default service is 9.6 UNSAFE)
    assert float(match.group(1)) < 2.0 and match.group(2) == "OK", match.group(0)


def test_service_is_notify_with_a_watchdog_and_restart():
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    watchdog = one("WatchdogSec")
    assert re.fullmatch(r"\d+s", watchdog) and int(watchdog[:-1]) >= 2
    assert one("Restart") == "on-failure"
    assert one("User") == one("Group") == "appliance"


def test_exec_start_is_a_real_appliance_command_line():
    argv = shlex.split(one("ExecStart"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert Path(argv[0]).is_absolute() and Path(argv[0]).name in scripts
    assert scripts[Path(argv[0]).name] == "appliance.cli:main"
    command = main.get_command(click.Context(main), argv[1])
    assert command is not None, f"no `appliance {argv[1]}`"
    # click parses (and type-checks) the options exactly as the daemon would get them
    ctx = command.make_context(argv[1], argv[2:])
    assert argv[1] == "run"
    assert Path(ctx.params["config_path"]) == Path(DEFAULT_PATH)
    assert ctx.params["scenario_path"] is None and not ctx.params["virtual_clock"]
    assert ctx.params["seconds"] is None  # the daemon runs until stopped
    host, _ = parse_address(ctx.params["metrics_at"])
    assert ipaddress.ip_address(host).is_loopback  # metrics for the box itself only


def test_exec_start_with_a_bad_option_would_be_refused():
    # the check above means something: click refuses what the daemon would refuse
    command = main.get_command(click.Context(main), "run")
    with pytest.raises(click.UsageError):
        command.make_context("run", ["--config", str(DEFAULT_PATH), "--no-such-option"])


def test_exec_reload_sends_sighup():
    argv = shlex.split(one("ExecReload"))
    assert Path(argv[0]).name == "kill" and argv[1:] == ["-HUP", "$MAINPID"]


def test_writable_paths_are_the_configs_storage_defaults():
    # a config that leaves [storage] out gets the defaults the service must be able to write
    text = re.sub(r"(?ms)^\[storage\].*?(?=^\[)", "", sample_path().read_text())
    storage = parse_config(text).storage
    writable = [Path(p) for v in values("ReadWritePaths") for p in v.split()]
    assert one("ProtectSystem") == "strict"
    control = socket_path(parse_config(text)).parent  # the control socket's folder
    for folder in (storage.data_dir, storage.recordings_dir, control):
        assert any(folder == w or w in folder.parents for w in writable), folder
    for key in ("PrivateTmp", "NoNewPrivileges", "ProtectHome"):
        assert one(key) == "yes", key


def test_only_the_boards_devices_and_the_needed_socket_families():
    assert set(one("RestrictAddressFamilies").split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert one("DevicePolicy") == "closed"
    allowed = {v.split()[0] for v in values("DeviceAllow")}
    # the udev rules below name a tty and a raw USB device: both must get through
    assert {"char-ttyACM", "char-usb_device"} <= allowed


# ---- sysusers and tmpfiles ---------------------------------------------------------------
def test_sysusers_and_tmpfiles_make_the_user_and_its_folders(tmp_path):
    sysusers = require_tool("systemd-sysusers")
    tmpfiles = require_tool("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles needs root to give the folders their owner")
    root = tmp_path / "root"
    for folder, src in (("usr/lib/sysusers.d", SYSUSERS), ("usr/lib/tmpfiles.d", TMPFILES)):
        (root / folder).mkdir(parents=True)
        shutil.copy(src, root / folder / "appliance.conf")
    (root / "etc").mkdir()
    subprocess.run([sysusers, f"--root={root}"], check=True, capture_output=True)
    passwd = {line.split(":")[0]: line.split(":") for line in
              (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":") for line in
              (root / "etc/group").read_text().splitlines()}
    user = passwd["appliance"]
    assert user[3] == groups["appliance"][2]  # its primary group is `appliance`
    assert user[6] == "/usr/sbin/nologin"
    subprocess.run([tmpfiles, f"--root={root}", "--create"], check=True, capture_output=True)
    for folder in ("var/lib/appliance", "var/lib/appliance/recordings"):
        info = (root / folder).stat()
        assert (info.st_uid, info.st_gid) == (int(user[2]), int(user[3])), folder
        assert info.st_mode & 0o007 == 0, folder  # nothing for others: recordings are private
    config = (root / "etc/appliance").stat()
    assert (config.st_uid, config.st_gid) == (0, int(user[3]))


# ---- udev rules --------------------------------------------------------------------------
_RULE_KEY = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')


def udev_rules():
    """Each rule line as [(key, attribute, operator, value)]; raises on a syntax error."""
    rules = []
    for number, line in enumerate(RULES.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields, pos = [], 0
        while pos < len(line):
            match = _RULE_KEY.match(line, pos)
            assert match, f"{RULES.name}:{number}: cannot parse at {line[pos:]!r}"
            fields.append(match.groups()[:4])
            pos = match.end()
        rules.append(fields)
    return rules


def test_udev_rules_parse_and_use_known_keys():
    known = {"ACTION", "SUBSYSTEM", "ENV", "ATTR", "ATTRS", "GROUP", "MODE", "SYMLINK",
             "GOTO", "LABEL"}
    for rule in udev_rules():
        for key, _, op, _ in rule:
            assert key in known, key
            if key in ("GROUP", "MODE"):
                assert op == "=", (key, op)


def _matching(kind):
    found = []
    for rule in udev_rules():
        match = {(k, a): v for k, a, op, v in rule if op == "=="}
        assign = {k: v for k, a, op, v in rule if op == "="}
        if match.get(("SUBSYSTEM", None)) == kind and "GROUP" in assign:
            attr = "ATTRS" if kind == "tty" else "ATTR"
            ids = (int(match[(attr, "idVendor")], 16), int(match[(attr, "idProduct")], 16))
            found.append((ids, assign["GROUP"], assign["MODE"]))
    return found


@pytest.mark.parametrize("kind", ["tty", "usb"])
def test_udev_rules_give_the_service_group_the_drivers_vid_pid(kind):
    rules = _matching(kind)
    group = one("Group")
    assert {ids for ids, _, _ in rules} == set(KNOWN_BOARDS)
    for ids, owner, mode in rules:
        assert owner == group and mode == "0660", ids


def test_udev_rules_keep_modemmanager_off_the_boards():
    for rule in udev_rules():
        if any(k == "GROUP" for k, *_ in rule):
            assert ("ENV", "ID_MM_DEVICE_IGNORE", "=", "1") in rule, rule
