"""The Debian package as an admin gets it: scripts/build-deb.sh builds it, `dpkg -i` installs it
into a fresh Debian bookworm chroot (debootstrap minbase; no systemd runs there, as in a
container), an upgrade from the previous build keeps the edited config and the data and
leaves a backup, `dpkg -r` keeps the data and `dpkg -P` cleans. Nothing touches the host's
own /etc or /opt.

The previous build is this tree as the release before it: an older version number and one
migration fewer, so the upgrade really migrates (and the backup holds the old schema). Both
builds run at once, beside the chroot's preparation. The pristine chroot is cached as a tar
under /var/cache/ctrack-test, keyed by what it holds (suite, variant, packages, mirror,
debootstrap's version); every run unpacks its own copy.

The tests run in file order on one chroot: install, upgrade, remove, purge.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import ctrack
from ctrack.core.variables import ROUTE_VARIABLES
from ctrack.store import db

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CTRACK_TEST_CACHE", "/var/cache/ctrack-test"))
SUITE = "bookworm"
# The package's Depends beyond minbase (dpkg -i does not fetch dependencies).
CHROOT_PACKAGES = ("python3", "adduser")
OLD_VERSION = "0.0.1"
NEW_VERSION = ctrack.__version__
LATEST = db.latest_version()
PREVIOUS = sorted(version for version, _, _ in db.migrations())[-2]  # the previous build's newest
EDITED = "default_forward = PJSIP/frontdesk\n"


def run(*cmd: str | Path, timeout: float = 900, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


# --- the two builds ------------------------------------------------------------------


def previous_release_tree(dest: Path) -> None:
    """This checkout's files as the release before it: OLD_VERSION, without the newest migration."""
    listed = run("git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    for path, pattern in (
        (dest / "pyproject.toml", r'(?m)^version = ".*"$'),
        (dest / "ctrack/__init__.py", r'(?m)^__version__ = ".*"$'),
    ):
        text, n = re.subn(pattern, lambda m: m.group(0).split("=")[0] + f'= "{OLD_VERSION}"', path.read_text())
        assert n == 1, f"no version line in {path}"
        path.write_text(text)
    newest = db.migrations()[-1][1]
    (dest / "ctrack/store/migrations" / newest).unlink()


@dataclass
class Debs:
    old: Path
    new: Path


def start_build(tree: Path, out: Path) -> subprocess.Popen:
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        ["bash", str(tree / "scripts/build-deb.sh"), str(out)], stdout=log, stderr=subprocess.STDOUT, text=True
    )


def finish_build(proc: subprocess.Popen, out: Path) -> Path:
    proc.wait(timeout=900)
    log = out.with_suffix(".log").read_text()
    assert proc.returncode == 0, f"build-deb.sh failed:\n{log[-4000:]}"
    return Path(log.strip().splitlines()[-1])


# --- the pristine chroot ----------------------------------------------------------


def host_mirror() -> str:
    """The Debian archive the host's apt uses (as tests/pbx/testpbx.sh finds it)."""
    out = run("apt-get", "indextargets", "--format", "$(REPO_URI)", "Identifier: Packages", "Origin: Debian").stdout
    mirrors = [m for m in out.split() if "-security" not in m]
    assert mirrors, "cannot find the host's Debian mirror (apt-get update first)"
    return mirrors[0].rstrip("/")


def base_tarball() -> Path:
    """A debootstrap of bookworm with CHROOT_PACKAGES, made once and kept under CACHE."""
    mirror = host_mirror()
    debootstrap = run("dpkg-query", "-W", "-f", "${Version}", "debootstrap").stdout
    key = {
        "suite": SUITE,
        "variant": "minbase",
        "include": sorted(CHROOT_PACKAGES),
        "mirror": mirror,
        "debootstrap": debootstrap,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    tarball = CACHE / f"debootstrap-{SUITE}-{digest}.tar"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{tarball.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions wait for one debootstrap
        if not tarball.exists():
            with tempfile.TemporaryDirectory(dir=CACHE) as work:
                target = Path(work) / "root"
                try:
                    run(
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={','.join(CHROOT_PACKAGES)}",
                        SUITE,
                        target,
                        mirror,
                    )
                finally:
                    unmount_below(target)  # a failed debootstrap can leave /proc mounted in it
                run("tar", "-C", target, "-cf", Path(work) / "root.tar", ".")
                os.replace(Path(work) / "root.tar", tarball)
                tarball.with_suffix(".json").write_text(json.dumps(key, indent=1) + "\n")  # what it holds
    return tarball


def unmount_below(path: Path) -> None:
    """Unmount whatever is mounted under path (deepest first), so that it can be deleted."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{path}/")), reverse=True):
        run("umount", "-l", mount, check=False)


class Chroot:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, *cmd: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"]
        return run("chroot", self.path, *env, *cmd, check=check, input=stdin if stdin is not None else "", timeout=300)

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def dpkg_install(self, deb: Path) -> subprocess.CompletedProcess:
        shutil.copy(deb, self.file("/tmp"))
        return self("dpkg", "-i", f"/tmp/{deb.name}")


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Debs, Path]]:
    """Both builds, and the unpacked pristine chroot, prepared side by side."""
    assert os.geteuid() == 0, "the package test needs root (dpkg-buildpackage, debootstrap, chroot)"
    top = tmp_path_factory.mktemp("deb")
    old_tree = top / "previous-release"
    previous_release_tree(old_tree)
    builds = [start_build(old_tree, top / "old"), start_build(ROOT, top / "new")]
    try:
        tarball = base_tarball()
        root = top / "root"
        root.mkdir()
        run("tar", "-C", root, "-xf", tarball)
        built = Debs(finish_build(builds[0], top / "old"), finish_build(builds[1], top / "new"))
    finally:
        for proc in builds:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    yield built, root


@pytest.fixture(scope="module")
def chroot(debs: tuple[Debs, Path]) -> Iterator[Chroot]:
    """The chroot, with /proc mounted and a PBX's `asterisk` group, deleted afterwards."""
    box = Chroot(debs[1])
    box("groupadd", "--system", "asterisk")
    run("mount", "-t", "proc", "proc", box.file("/proc"))
    try:
        yield box
    finally:
        unmount_below(box.path)
        if not os.path.ismount(box.file("/proc")):
            shutil.rmtree(box.path)


def schema_and_sources(path: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sources ORDER BY name")]
        return conn.execute("PRAGMA user_version").fetchone()[0], names
    finally:
        conn.close()


# --- install, upgrade, remove, purge ---------------------------------------------------


def test_builds_are_named_by_version(debs: tuple[Debs, Path]) -> None:
    built, _ = debs
    assert re.fullmatch(rf"ctrack_{re.escape(NEW_VERSION)}_(amd64|all)\.deb", built.new.name), built.new
    assert re.fullmatch(rf"ctrack_{OLD_VERSION}_(amd64|all)\.deb", built.old.name), built.old
    run("dpkg", "--compare-versions", OLD_VERSION, "lt", NEW_VERSION)
    # the venv's interpreter, exactly (its lib/python3.X would not outlive a new Python)
    depends = run("dpkg-deb", "-f", built.new, "Depends").stdout
    assert re.search(r"(^|, )python3\.\d+(,|$)", depends.strip()), depends


def test_install_into_a_fresh_chroot(debs: tuple[Debs, Path], chroot: Chroot) -> None:
    out = chroot.dpkg_install(debs[0].old).stdout
    assert f"database /var/lib/ctrack/ctrack.db created (schema v{PREVIOUS})" in out
    assert chroot("ctrack", "--version").stdout == f"ctrack, version {OLD_VERSION}\n"
    assert chroot("ctrack", "init").stdout == f"database /var/lib/ctrack/ctrack.db up to date (schema v{PREVIOUS})\n"
    # the ctrack system user, in the PBX's group, owning the state folder
    user = chroot("getent", "passwd", "ctrack").stdout.split(":")
    assert int(user[2]) < 1000 and user[5] == "/var/lib/ctrack" and user[6].strip() == "/usr/sbin/nologin"
    assert set(chroot("id", "-nG", "ctrack").stdout.split()) == {"ctrack", "asterisk"}
    assert chroot("stat", "-c", "%U:%G %a", "/var/lib/ctrack", "/var/lib/ctrack/ctrack.db").stdout.split("\n")[:2] == [
        "ctrack:ctrack 750",
        "ctrack:ctrack 644",
    ]
    # the config: a conffile, the example's text, readable by ctrack only
    assert chroot("dpkg-query", "-W", "-f", "${Conffiles}", "ctrack").stdout.split()[0] == "/etc/ctrack/ctrack.ini"
    assert chroot.file("/etc/ctrack/ctrack.ini").read_text() == (ROOT / "config.example.ini").read_text()
    assert chroot("stat", "-c", "%U:%G %a", "/etc/ctrack/ctrack.ini").stdout == "root:ctrack 640\n"
    # the venv, the command, the units (enabled, not started: no systemd here), the AGI script
    assert re.fullmatch(r"/usr/bin/python3\.\d+\n", chroot("readlink", "-f", "/opt/ctrack/bin/python").stdout)
    assert os.readlink(chroot.file("/usr/bin/ctrack")) == "/opt/ctrack/bin/ctrack"
    for unit in ("ctrack.service", "ctrack-reconcile.service", "ctrack-reconcile.timer"):
        assert chroot.file(f"/lib/systemd/system/{unit}").read_text() == (ROOT / "systemd" / unit).read_text()
    assert "ExecStart=/usr/bin/ctrack " in chroot.file("/lib/systemd/system/ctrack.service").read_text()
    assert chroot.file("/etc/systemd/system/multi-user.target.wants/ctrack.service").is_symlink()
    assert not chroot.file("/etc/systemd/system/timers.target.wants/ctrack-reconcile.timer").exists()
    agi = chroot.file("/usr/share/asterisk/agi-bin/ctrack-route.agi")
    assert agi.read_text().splitlines()[0] == "#!/opt/ctrack/bin/python" and os.access(agi, os.X_OK)


def test_upgrade_keeps_the_edited_config_and_the_data_and_leaves_a_backup(
    debs: tuple[Debs, Path], chroot: Chroot
) -> None:
    chroot("ctrack", "source", "add", "Google Ads", "--channel", "paid_search")
    chroot("ctrack", "number", "add", "+15035550101", "--source", "Google Ads", "--record")
    ini = chroot.file("/etc/ctrack/ctrack.ini")
    edited = re.sub(r"(?m)^default_forward = .*\n", EDITED, ini.read_text(), count=1)
    assert EDITED in edited
    ini.write_text(edited)

    out = chroot.dpkg_install(debs[0].new).stdout
    assert re.search(rf"applied migrations {LATEST}|up to date \(schema v{LATEST}\)", out), out
    assert chroot("ctrack", "--version").stdout == f"ctrack, version {NEW_VERSION}\n"
    assert ini.read_text() == edited
    assert not list(chroot.file("/etc/ctrack").glob("ctrack.ini.dpkg-*"))
    assert schema_and_sources(chroot.file("/var/lib/ctrack/ctrack.db")) == (LATEST, ["Google Ads"])
    numbers = json.loads(chroot("ctrack", "number", "list", "--json").stdout)
    assert [(n["number"], n["source"]) for n in numbers] == [("+15035550101", "Google Ads")]
    # the backup taken before migrating: the old schema, the data, owned by ctrack
    (backup,) = chroot.file("/var/lib/ctrack/backups").glob(f"before-upgrade-from-{OLD_VERSION}-*.db")
    assert schema_and_sources(backup) == (PREVIOUS, ["Google Ads"])
    assert chroot("stat", "-c", "%U", f"/var/lib/ctrack/backups/{backup.name}").stdout == "ctrack\n"
    # the classic AGI script in agi-bin routes from the upgraded database
    env_block = (
        "agi_request: ctrack-route.agi\nagi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795798665.12\n"
        "agi_callerid: 15035550123\nagi_calleridname: Ann Caller\nagi_dnid: 15035550101\n"
        "agi_context: ctrack-call\nagi_extension: 15035550101\nagi_arg_1: 15035550101\n\n"
    )
    answered = chroot(
        "/usr/share/asterisk/agi-bin/ctrack-route.agi", stdin=env_block + "200 result=1\n" * len(ROUTE_VARIABLES)
    )
    got = dict(re.findall(r'SET VARIABLE (\w+) "(.*)"', answered.stdout))
    assert got["CTRACK_ROUTE_STATUS"] == "ok" and got["CTRACK_SOURCE"] == "Google Ads", (
        answered.stdout + answered.stderr
    )


def test_remove_keeps_the_database_and_config(chroot: Chroot) -> None:
    chroot("dpkg", "-r", "ctrack")
    assert chroot("dpkg-query", "-W", "-f", "${Status}", "ctrack").stdout == "deinstall ok config-files"
    for gone in (
        "/opt/ctrack",
        "/usr/bin/ctrack",
        "/lib/systemd/system/ctrack.service",
        "/usr/share/asterisk/agi-bin/ctrack-route.agi",
    ):
        assert not chroot.file(gone).exists(), gone
    assert EDITED in chroot.file("/etc/ctrack/ctrack.ini").read_text()
    assert schema_and_sources(chroot.file("/var/lib/ctrack/ctrack.db")) == (LATEST, ["Google Ads"])
    assert list(chroot.file("/var/lib/ctrack/backups").glob("before-upgrade-from-*.db"))


def test_purge_removes_the_database_and_config(chroot: Chroot) -> None:
    chroot("dpkg", "-P", "ctrack")
    assert chroot("dpkg-query", "-W", "-f", "${Status}", "ctrack", check=False).returncode != 0
    for gone in (
        "/etc/ctrack",
        "/var/lib/ctrack",
        "/opt/ctrack",
        "/etc/systemd/system/multi-user.target.wants/ctrack.service",
    ):
        assert not chroot.file(gone).exists(), gone
    assert "ctrack" not in chroot("dpkg-statoverride", "--list", check=False).stdout
    left = chroot("find", "/etc", "/usr", "/var", "-name", "*ctrack*", "-not", "-name", "ctrack_*.deb").stdout
    assert left == ""
