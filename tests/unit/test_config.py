"""Configuration: defaults, lookup order, FILE:LINE errors, and that every setting is documented."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctrack import config
from ctrack.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_work_on_one_machine(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    cfg = config.load()
    assert cfg.path is None or cfg.path == Path("/etc/ctrack/ctrack.ini")
    assert cfg.calls.qualified_seconds == 60
    assert cfg.calls.repeat_window_days == 90
    assert cfg.fastagi.listen == ("127.0.0.1", 4573)
    assert cfg.database_path.name == "ctrack.db"


def test_lookup_order(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ctrack.ini").write_text("[calls]\nqualified_seconds = 30\n")
    env_file = tmp_path / "env.ini"
    env_file.write_text("[calls]\nqualified_seconds = 45\n")
    explicit = tmp_path / "explicit.ini"
    explicit.write_text("[calls]\nqualified_seconds = 90\n")
    monkeypatch.delenv("CTRACK_CONFIG", raising=False)
    assert config.load().calls.qualified_seconds == 30
    monkeypatch.setenv("CTRACK_CONFIG", str(env_file))
    assert config.load().calls.qualified_seconds == 45
    assert config.load(explicit).calls.qualified_seconds == 90


@pytest.mark.parametrize(
    "text, message",
    [
        ("[calls]\nqualified_seconds = soon\n", "f.ini:2: qualified_seconds: expected a whole number"),
        ("[calls]\n\nflavour = vanilla\n", "f.ini:3: flavour: unknown setting in [calls]"),
        ("[nope]\n", "f.ini:1: [nope]: unknown section"),
        ("qualified_seconds = 3\n", "f.ini:1: qualified_seconds: setting outside a [section]"),
        ("[ami]\nport = 70000\n", "f.ini:2: port: expected a port between 1 and 65535"),
        ("[ami]\nenabled = perhaps\n", "f.ini:2: enabled: expected yes or no"),
        ("[ctrack]\ntimezone = Mars/Olympus\n", "f.ini:2: timezone: unknown time zone"),
        ("[ctrack]\ndefault_region = XX\n", "f.ini:2: default_region: expected a two-letter country code"),
        ("[fastagi]\nlisten = 4573\n", "f.ini:2: listen: expected HOST:PORT"),
        ("[calls]\njust words\n", "f.ini:2: just words: expected 'key = value'"),
    ],
)
def test_bad_lines_name_file_line_and_key(tmp_path, text, message):
    path = tmp_path / "f.ini"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)


@pytest.mark.sqlite_only("checks that no SQLite file was created")
def test_cli_exits_2_on_a_bad_config(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[calls]\nqualified_seconds = -5\n")
    result = CliRunner().invoke(cli, ["--config", str(bad), "--db", str(tmp_path / "x.db"), "init"])
    assert result.exit_code == 2
    assert f"{bad}:2: qualified_seconds: expected 0 or more" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_unreadable_config_file(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "missing.ini"), "source", "list"])
    assert result.exit_code == 2
    assert "missing.ini:0: file: cannot read" in result.stderr


def _example_settings() -> dict[str, str]:
    found, section = {}, None
    for line in (ROOT / "config.example.ini").read_text().splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1)
        elif m := re.match(r"^(\w+) = ?(.*)$", line):
            found[f"{section}.{m.group(1)}"] = m.group(2)
    return found


def test_every_setting_is_documented_with_its_default():
    documented = _example_settings()
    for section, keys in config.SCHEMA.items():
        for key, setting in keys.items():
            assert f"{section}.{key}" in documented, f"{section}.{key} is missing from config.example.ini"
            assert documented[f"{section}.{key}"] == setting.default, f"{section}.{key}: default differs"
    assert set(documented) == {f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys}


def test_example_config_loads_as_the_defaults():
    loaded = config.load(ROOT / "config.example.ini").as_dict()
    assert loaded == config.defaults().as_dict()


def test_every_setting_the_code_reads_is_declared():
    """Code reads typed attributes (config.SECTION.KEY); each one read must be a declared setting."""
    used = set()
    sections = "|".join(config.SECTIONS)
    for path in (ROOT / "ctrack").rglob("*.py"):
        used.update(re.findall(rf"\bconfig\.({sections})\.([a-z_0-9]+)\b", path.read_text()))
    declared = {(s, k) for s, keys in config.SCHEMA.items() for k in keys}
    assert len(used) > 30, "the scan found too few settings"
    assert used <= declared, f"read but not declared: {sorted(used - declared)}"


def test_no_setting_is_read_by_a_dotted_name():
    for path in (ROOT / "ctrack").rglob("*.py"):
        found = re.findall(r"""\.get\(\s*["'](?:%s)\.[a-z_0-9]+["']""" % "|".join(config.SECTIONS), path.read_text())
        assert not found, f"{path.name}: {found}"
