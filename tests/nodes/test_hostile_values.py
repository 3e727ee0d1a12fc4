"""Nothing a user or the cloud supplies is pasted into a shell: hostile values run on real hosts.

Every template and command builder gets values full of shell syntax (command substitution,
backticks, quotes, ``;``, backslashes, globs, ``#``, ``=``, non-ASCII) and what it produces runs
on an SSH test host, through the product's own code (Fleet, write_files, the Jinja2 environment).
Each value would ``touch`` its own marker file under ``MARKS`` (on the host: its /tmp is
private) if a shell ever parsed it; the tests check that no marker appears and that every value
arrives byte for byte. Java properties (spark-defaults.conf) are read back by a reference
parser that follows ``java.util.Properties.load``; ssh_config values by ``ssh -G``.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import secrets
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from spark_bed import bed_access, bed_cluster

from sparkstack.api import _sync
from sparkstack.api.shell import _ssh_config_value, copy_file_on
from sparkstack.devcloud.testhosts import TestBed
from sparkstack.errors import HostKeyError, NodeError, UsageError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.files import FileSpec, write_files
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet, Result, attached
from sparkstack.services.staging import INSTALL_MARKER
from sparkstack.templating import environment
from testhosts_fixture import testbed_fixture as _testbed_fixture

pytestmark = pytest.mark.testhosts

T = TypeVar("T")

testbed = _testbed_fixture(2, prefix="sshv", subnet="198.18.253.0/24")

TAG = secrets.token_hex(4)
#: Where the markers would appear on a host: must stay empty.
MARKS = f"/tmp/hv-{TAG}"
#: Where the tests put their files on a host.
WORK = f"/tmp/hvw-{TAG}"
#: Every special character of the shell, and two that are not ASCII.
SPECIALS = "' \" ; \\ # = * é €"


def _hostile(i: int) -> str:
    """Value ``i``: it would touch ``MARKS/m<i>`` in several ways if a shell parsed it."""
    mark = f"{MARKS}/m{i}"
    run = f"$(touch {mark}) `touch {mark}`"
    shapes = [
        f"{run} {SPECIALS}",
        f"'; {run}; echo ' {SPECIALS}",  # ends a single-quoted word
        f'"; {run}; echo " {SPECIALS}',  # ends a double-quoted one
        f"\\'\\\"; {run} #{SPECIALS}",  # escaped quotes
        f"-n {run} {SPECIALS}",  # an option
        f"x=1;{run};y=2 {SPECIALS}\\",  # an assignment, a trailing backslash
        f"  {run} {SPECIALS}  ",  # blanks around
        f"$'\\n' ${{IFS}} $((6*7)) {run} {SPECIALS} ~ !! %s %%",
    ]
    return shapes[i % len(shapes)]


HOSTILE = [_hostile(i) for i in range(8)]


# ---- running things on the hosts -------------------------------------------------------------

#: Runs on a host: everything under a directory that is not a directory (relative paths).
_LIST = """
import json, os, sys
root = os.path.expanduser(json.load(sys.stdin))
found = []
for folder, dirs, files in os.walk(root):
    links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
    found += [os.path.relpath(os.path.join(folder, name), root) for name in files + links]
print(json.dumps(sorted(found)))
"""
#: Runs on a host: makes the parent directory of each path (``~`` is the home).
_PARENTS = """
import json, os, sys
for path in json.load(sys.stdin):
    os.makedirs(os.path.dirname(os.path.expanduser(path)) or ".", exist_ok=True)
print("[]")
"""
#: Runs on a host: content, mode and owner of each path (None when absent).
_STAT = """
import json, os, pwd, sys
out = {}
for path in json.load(sys.stdin):
    path = os.path.expanduser(path)
    if not os.path.lexists(path):
        out[path] = None
        continue
    info = os.lstat(path)
    entry = {"mode": info.st_mode & 0o7777, "owner": pwd.getpwuid(info.st_uid).pw_name}
    if os.path.islink(path):
        entry["link"] = os.readlink(path)
    elif os.path.isfile(path):
        with open(path, "rb") as handle:
            entry["content"] = handle.read().decode()
    else:
        entry["dir"] = True
    out[path] = entry
print(json.dumps(out))
"""


class Remote:
    """The bed's hosts as the product reaches them; each call opens a Fleet of its own."""

    def __init__(self, bed: TestBed, access: SSHAccess):
        self.bed = bed
        self.access = access
        self.targets = [Target(h.name, h.ip, bed.user) for h in bed.hosts]

    def fleet(self, work: Callable[[Fleet], Awaitable[T]]) -> T:
        async def go() -> T:
            async with Fleet(self.access) as fleet:
                return await work(fleet)

        return _sync.run(go())

    def run(self, command: str, *, input: str | None = None, host: int = 0) -> Result:
        return self.fleet(lambda f: f.run(self.targets[host], command, input=input))

    def python(self, code: str, data: Any, *, host: int = 0, sudo: bool = False) -> Any:
        """Run ``code`` on a host with ``data`` as JSON on stdin; its JSON output."""
        prefix = "sudo -n " if sudo else ""
        result = self.run(
            f"{prefix}python3 -c {shlex.quote(code)}", input=json.dumps(data), host=host
        )
        assert result.ok, result.stdout + result.stderr
        return json.loads(result.stdout)

    def stat(self, paths: list[str], *, host: int = 0) -> dict[str, Any]:
        return dict(self.python(_STAT, paths, host=host, sudo=True))

    def listing(self, root: str, *, host: int = 0) -> list[str]:
        return list(self.python(_LIST, root, host=host, sudo=True))

    def parents(self, paths: list[str], *, host: int = 0) -> None:
        self.python(_PARENTS, paths, host=host)

    def assert_no_marker(self) -> None:
        """No marker on any host; those found are removed, so the next test starts clean."""
        found = {}
        for host in range(len(self.targets)):
            marks = self.listing(MARKS, host=host)
            if marks:
                found[host] = marks
                self.run(f"sudo -n rm -f {MARKS}/*", host=host)
        assert not found, f"a shell ran values: their markers, per host: {found}"

    def home(self, host: int = 0) -> str:
        return str(
            self.python(
                "import json, os; print(json.dumps(os.path.expanduser('~')))", None, host=host
            )
        )


@pytest.fixture(scope="module")
def remote(testbed: TestBed, tmp_path_factory: pytest.TempPathFactory) -> Remote:
    known_hosts = tmp_path_factory.mktemp("hv-kh") / "known_hosts"
    remote = Remote(testbed, bed_access(testbed, known_hosts))
    for host in range(len(remote.targets)):
        made = remote.run(f"mkdir -m 0777 {MARKS} {WORK}", host=host)
        assert made.ok, made.stdout
    return remote


@pytest.fixture(autouse=True)
def _no_marker_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used the hosts: no marker anywhere."""
    yield
    if "remote" in request.fixturenames:
        request.getfixturevalue("remote").assert_no_marker()


def _render(name: str, **values: Any) -> str:
    return environment("sparkstack.services").get_template(name).render(values)


# ---- shell scripts from templates ------------------------------------------------------------


def test_spark_env_values_arrive_intact_when_sourced(remote: Remote) -> None:
    java_home, ip, state_dir, log_dir, python, jvm_opts, *_ = HOSTILE
    env = {f"HV_{i}": value for i, value in enumerate(HOSTILE)}
    env["HV_EMPTY"] = ""
    env["HV_LINES"] = f"one\ntwo $(touch {MARKS}/lines)\n"  # the spec refuses it; quoted anyway
    res = SimpleNamespace(
        worker_cores=2, worker_memory_mb=1024, daemon_memory_mb=128, jvm_opts=jvm_opts
    )
    script = _render(
        "spark-env.sh.j2",
        java_home=java_home,
        ip=ip,
        is_master=True,
        is_worker=True,
        res=res,
        python=python,
        master_port=7077,
        worker_port=7078,
        master_ui_port=8080,
        worker_ui_port=8081,
        state_dir=state_dir,
        log_dir=log_dir,
        daemon_classpath=f"{state_dir}/s3a:{log_dir}/*",
        env=env,
    )
    expected = {
        "JAVA_HOME": java_home,
        "SPARK_LOCAL_IP": ip,
        "SPARK_LOCAL_HOSTNAME": ip,
        "SPARK_MASTER_HOST": ip,
        "SPARK_WORKER_DIR": f"{state_dir}/work",
        "SPARK_LOG_DIR": log_dir,
        "SPARK_PID_DIR": f"{state_dir}/run",
        "SPARK_DAEMON_JAVA_OPTS": jvm_opts,
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "SPARK_WORKER_MEMORY": "1024m",
        "SPARK_DAEMON_CLASSPATH": f"{state_dir}/s3a:{log_dir}/*",
        **env,
    }
    path = f"{WORK}/spark-env.sh"
    remote.fleet(
        lambda f: write_files(f, remote.targets[0], {path: FileSpec(script, 0o644, "ubuntu")})
    )
    show = '. "$1"; printf "%s\\0"' + "".join(f' "${name}"' for name in expected)
    result = remote.run(f"bash -c {shlex.quote(show)} bash {shlex.quote(path)}")
    assert result.ok, result.stdout + result.stderr
    assert result.stdout.split("\0")[:-1] == list(expected.values())


def test_profile_quotes_the_spark_home(remote: Remote) -> None:
    home = HOSTILE[1]
    script = _render("profile.sh.j2", home=home) + 'printf "%s\\0" "$SPARK_HOME" "$PATH"'
    result = remote.run(f"bash -c {shlex.quote(script)}")
    assert result.ok, result.stdout
    spark_home, path = result.stdout.split("\0")[:2]
    assert spark_home == home
    assert path.endswith(f":{home}/bin")


def _tarball(tmp_path: Path) -> tuple[Path, str]:
    """A tiny release: pkg-1.0/bin/hello and pkg-1.0/conf/x; its path and SHA-512."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in (("pkg-1.0/bin/hello", b"hi\n"), ("pkg-1.0/conf/x", b"x\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "pkg.tgz"
    path.write_bytes(out.getvalue())
    return path, hashlib.sha512(out.getvalue()).hexdigest()


def test_install_script_with_hostile_paths(remote: Remote, tmp_path: Path) -> None:
    local, sha512 = _tarball(tmp_path)
    tgz = f"{WORK}/dl {HOSTILE[0]}.tgz"
    install_dir = f"{WORK}/opt {HOSTILE[1]}"
    link = f"{WORK}/link {HOSTILE[2]}"
    sub = f"sub {HOSTILE[3]}"
    remote.parents([tgz, install_dir, link])
    remote.fleet(lambda f: f.put(remote.targets[0], local, tgz))
    values = {
        "tgz": tgz,
        "fetch_url": "",
        "sha512": sha512,
        "install_dir": install_dir,
        "link": link,
        "owned": ["conf", sub],
        "owner": "ubuntu:ubuntu",
        "checked": False,
        "marker": INSTALL_MARKER,
    }
    done = remote.run("bash -s", input=_render("install.sh.j2", **values))
    assert done.ok, done.stdout
    assert done.stdout.splitlines()[-1] == f"installed {install_dir}"
    found = remote.stat(
        [
            link,
            f"{install_dir}/bin/hello",
            f"{install_dir}/conf",
            f"{install_dir}/{sub}",
            f"{install_dir}.part",
        ]
    )
    assert found[link]["link"] == install_dir
    assert found[f"{install_dir}/bin/hello"]["content"] == "hi\n"
    assert found[f"{install_dir}/conf"]["owner"] == "ubuntu"
    assert found[f"{install_dir}/{sub}"] == {"mode": 0o755, "owner": "ubuntu", "dir": True}
    assert found[f"{install_dir}.part"] is None

    # a hostile owner: chown refuses it, nothing runs
    owner = f"ubuntu:{HOSTILE[4]}"
    refused = remote.run("bash -s", input=_render("install.sh.j2", **{**values, "owner": owner}))
    assert not refused.ok and "chown" in refused.stdout, refused.stdout

    # a hostile checksum: refused before anything is unpacked, the message shows the literal path
    bad = remote.run("bash -s", input=_render("install.sh.j2", **{**values, "sha512": HOSTILE[5]}))
    assert bad.exit_status == 3, bad.stdout
    assert f"ERROR checksum mismatch: {tgz} is not the verified tarball" in bad.stdout

    # hostile URLs to fetch from: the fetch fails (python's error names the URL as given)
    outputs = []
    for url in (HOSTILE[3], f"http://198.18.253.1:9/{HOSTILE[7]}"):
        fetch = {**values, "fetch_url": url, "tgz": f"{WORK}/fetched {HOSTILE[7]}/pkg.tgz"}
        failed = remote.run("bash -s", input=_render("install.sh.j2", **fetch))
        assert not failed.ok and "Traceback" in failed.stdout, failed.stdout
        outputs.append(failed.stdout)
    assert f"unknown url type: {HOSTILE[3]!r}" in outputs[0]


def test_spark_ctl_with_hostile_names(remote: Remote) -> None:
    values = {
        "role": "worker",
        "home": f"{WORK}/home {HOSTILE[0]}",
        "unit": HOSTILE[1],
        "log_dir": f"{WORK}/log {HOSTILE[2]}",
        "state_dir": f"{WORK}/state {HOSTILE[3]}",
        "user": HOSTILE[4],
        "main_class": HOSTILE[5],
        "master_url": HOSTILE[6],
        "args": ["--port", HOSTILE[7], HOSTILE[6]],
        "ports": [8081],
    }
    hostname = remote.bed.hosts[0].name
    log = f"{values['log_dir']}/spark-{values['user']}-{values['main_class']}-1-{hostname}.out"
    argv_file = f"{WORK}/ctl-argv.json"
    recorder = (
        "#!/bin/bash\nexec python3 -c 'import json, sys; "
        f'json.dump(sys.argv[1:], open("{argv_file}", "w"))\' "$@"\n'
    )
    files = {
        f"{values['home']}/bin/spark-class": FileSpec(recorder, 0o755, "ubuntu"),
        f"{WORK}/ctl.sh": FileSpec(
            _render("spark-ctl.sh.j2", **values, systemd=False), 0o755, "ubuntu"
        ),
        f"{WORK}/ctl-systemd.sh": FileSpec(
            _render("spark-ctl.sh.j2", **values, systemd=True), 0o755, "ubuntu"
        ),
    }
    pidfile = f"{values['state_dir']}/run/spark-{values['user']}-{values['main_class']}-1.pid"
    # configure makes these; the hostile names put a "/" in the file names: their dirs too
    dirs = {
        d: ("ubuntu", 0o755) for d in (values["log_dir"], *map(posixpath.dirname, (log, pidfile)))
    }
    remote.fleet(lambda f: write_files(f, remote.targets[0], files, dirs))

    status = remote.run(f"bash {WORK}/ctl.sh status")
    assert status.stdout.strip() == "stopped"
    logs = remote.run(f"bash {WORK}/ctl.sh logs 5")
    assert logs.stdout.strip() == f"(no log at {log})"
    # start: the fake spark-class records its arguments (it starts nothing: FAILED)
    ensure = remote.run(f"bash {WORK}/ctl.sh ensure 0")
    assert not ensure.ok and "FAILED" in ensure.stdout, ensure.stdout
    # the ctl script does not wait for a daemon that is gone: the recorder may still be writing
    remote.run(f"for _ in $(seq 50); do [ -s {argv_file} ] && break; sleep 0.1; done")
    recorded = remote.stat([argv_file])[argv_file]
    assert json.loads(recorded["content"]) == [values["main_class"], *values["args"]]

    assert remote.run(f"bash {WORK}/ctl-systemd.sh status").stdout.splitlines()[-1] == "stopped"
    remote.run(f"bash {WORK}/ctl-systemd.sh logs 5")  # no journal here: only no marker counts


# ---- files and copies ------------------------------------------------------------------------


def test_write_files_with_hostile_paths_and_contents(remote: Remote) -> None:
    base = f"{WORK}/wf"
    names = [
        "a b",
        "q'uote\"d",
        "$(touch m)",
        "`touch m`",
        "x;touch m",
        "é€ *#=\\",
        "-lead",
        *HOSTILE,
    ]
    contents = [*HOSTILE, "", "no newline at the end", "nul \0 byte", "crlf\r\nlines\n", "é€\n"]
    modes = [0o600, 0o644, 0o755, 0o640, 0o400]
    files = {
        f"{base}/{name}": FileSpec(
            contents[i % len(contents)] + f"\n{i}", modes[i % len(modes)], ("ubuntu", "root")[i % 2]
        )
        for i, name in enumerate(names)
    }
    folder = f"{base}/dir {HOSTILE[2]}"
    files[f"{folder}/inside"] = FileSpec("\n".join(HOSTILE), 0o600, "ubuntu")
    dirs = {folder: ("ubuntu", 0o750)}
    target = remote.targets[1]
    written = remote.fleet(lambda f: write_files(f, target, files, dirs))
    assert written == set(files)
    found = remote.stat([*files, folder], host=1)
    for path, spec in files.items():
        assert found[path] == {"mode": spec.mode, "owner": spec.owner, "content": spec.content}
    assert found[folder] == {"mode": 0o750, "owner": "ubuntu", "dir": True}
    expected = sorted(p[len(base) + 1 :] for p in files)
    assert remote.listing(base, host=1) == expected
    # again: nothing differs, so nothing is written
    assert remote.fleet(lambda f: write_files(f, target, files, dirs)) == set()
    assert remote.run("test ! -e m", host=1).ok  # the names' own `touch m`, in the home


def _remote_paths() -> dict[str, str]:
    """Remote path as given -> where the file must be (``~`` is the home, '-x' relative to it)."""
    paths = {f"{WORK}/put/{name}": f"{WORK}/put/{name}" for name in HOSTILE}
    paths[f"{WORK}/put/plain name"] = f"{WORK}/put/plain name"
    paths[f"-hv-{TAG} {HOSTILE[0]}"] = f"~/-hv-{TAG} {HOSTILE[0]}"
    paths[f"~/hv-{TAG} {HOSTILE[1]}"] = f"~/hv-{TAG} {HOSTILE[1]}"
    paths[f"~/hv-{TAG}-x"] = f"~/hv-{TAG}-x"
    return paths


def _check_copies(remote: Remote, copies: dict[str, str], content: str, host: int) -> None:
    home = remote.home(host)
    where = {
        given: at.replace("~", home, 1) if at.startswith("~") else at
        for given, at in copies.items()
    }
    found = remote.stat(list(where.values()), host=host)
    for given, at in where.items():
        assert found[at] is not None, f"{given!r} did not arrive at {at!r}"
        assert found[at]["content"] == content
    in_work = sorted(at[len(WORK) + 5 :] for at in where.values() if at.startswith(f"{WORK}/put/"))
    assert remote.listing(f"{WORK}/put", host=host) == in_work
    in_home = sorted(at[len(home) + 1 :] for at in where.values() if at.startswith(home))
    assert [p for p in remote.listing(home, host=host) if TAG in p] == in_home


def test_fleet_put_to_hostile_remote_paths(remote: Remote, tmp_path: Path) -> None:
    local = tmp_path / "note.txt"
    local.write_text("by Fleet.put\n" + SPECIALS)
    copies = _remote_paths()
    remote.parents(list(copies.values()))

    async def put_all(fleet: Fleet) -> None:
        for given in copies:
            await fleet.put(remote.targets[0], local, given)

    remote.fleet(put_all)
    _check_copies(remote, copies, local.read_text(), host=0)
    with pytest.raises(UsageError, match="newlines"):
        remote.fleet(lambda f: f.put(remote.targets[0], local, f"{WORK}/a\nb"))


def test_copy_file_on_hostile_remote_paths(remote: Remote, tmp_path: Path) -> None:
    local = tmp_path / "note.txt"
    local.write_text("by copy_file_on\n" + SPECIALS)
    cluster = bed_cluster(remote.bed, "hv")
    copies = _remote_paths()
    for host in range(len(remote.targets)):
        remote.parents(list(copies.values()), host=host)
    for given in copies:
        copied = copy_file_on(cluster, remote.access, local, given)
        assert copied == {h.name: None for h in remote.bed.hosts}, given
    for host in range(len(remote.targets)):
        _check_copies(remote, copies, local.read_text(), host=host)


# ---- commands --------------------------------------------------------------------------------


def test_attached_argv_arrives_intact(remote: Remote) -> None:
    words = [*HOSTILE, "", "-c", "--", "a\nb", "\t", "*", "~", "$HOME"]
    argv = ["python3", "-c", "import json,sys; print(json.dumps(sys.argv[1:]))", *words]

    def printed(target: Target) -> list[str]:
        lines: list[str] = []
        result = remote.fleet(
            lambda f: f.run(target, attached(argv), on_line=lambda _n, line: lines.append(line))
        )
        assert result.ok, lines
        return list(json.loads(lines[-1]))

    for target in remote.targets:
        assert printed(target) == words, target.name


# ---- Java properties: spark-defaults.conf ----------------------------------------------------

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_BLANKS = " \t\f"


def _logical_lines(text: str) -> list[str]:
    """Properties.load's lines: comment and blank lines dropped, leading blanks skipped, a line
    ending in an odd number of backslashes joined with the next (whose leading blanks go)."""
    lines: list[str] = []
    current: str | None = None
    for natural in re.split(r"\r\n|\r|\n", text):
        line = natural.lstrip(_BLANKS)
        if current is None:
            if not line or line[0] in "#!":
                continue
            current = ""
        backslashes = len(line) - len(line.rstrip("\\"))
        if backslashes % 2:
            current += line[:-1]
            continue
        lines.append(current + line)
        current = None
    if current is not None:
        lines.append(current)
    return lines


def _unescape(text: str) -> str:
    """``\\t \\n \\r \\f \\uXXXX``; any other ``\\x`` is ``x``."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\" or i == len(text):
            out.append(char)
            continue
        char = text[i]
        i += 1
        if char == "u":
            digits = text[i : i + 4]
            if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                raise ValueError(f"Malformed \\uxxxx encoding in {text!r}")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(char, char))
    return "".join(out)


def load_properties(text: str) -> dict[str, str]:
    """What ``java.util.Properties.load`` reads from ``text``."""
    props = {}
    for line in _logical_lines(text):
        end, backslash, has_sep = len(line), False, False
        for i, char in enumerate(line):
            if not backslash and char in "=:":
                end, has_sep = i, True
                break
            if not backslash and char in _BLANKS:
                end = i
                break
            backslash = char == "\\" and not backslash
        start = end + 1 if end < len(line) else end
        while start < len(line):
            char = line[start]
            if char not in _BLANKS:
                if has_sep or char not in "=:":
                    break
                has_sep = True
            start += 1
        props[_unescape(line[:end])] = _unescape(line[start:])
    return props


def test_reference_parser_follows_properties_load() -> None:
    text = (
        "# a comment\n  ! another\n\n"
        "a=1\n b : 2\nc 3\nd\te = f\n"
        "g\\ h\\=i = j\\\n    k\\\\\n"
        "l = m\\\\\\\r\n  n\r\n"
        "o = \\u00e9\\t\\x\\ \n"
        "p=\\\n"
        "#not = comment\n"
        "q\n"
        "r = = s\n"
    )
    assert load_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "e = f",
        "g h=i": "jk\\",
        "l": "m\\n",
        "o": "é\tx ",
        "p": "#not = comment",
        "q": "",
        "r": "= s",
    }


#: Values for spark-defaults.conf: what could end a line, start an escape or a separator.
PROP_VALUES = [
    *HOSTILE,
    "",
    "\\",
    "ends\\",
    "two\\\\",
    "three\\\\\\",
    " lead",
    "  \t\flead blanks",
    "\\n as two characters",
    "\\u0041 not an A",
    "=first",
    ":first",
    " =after a blank",
    "#first",
    "!first",
    "a=b:c d#e!f",
    "trailing blanks  ",
    "é€ \U0001f600",
    "line\nbreak\rand\r\nmore",  # refused by the spec; escaped anyway
    "in\tside",
]


def test_spark_defaults_read_back_as_java_reads_them() -> None:
    conf = {f"spark.hv.k{i}": value for i, value in enumerate(PROP_VALUES)}
    conf["spark.hv." + "long" * 12] = HOSTILE[0]  # a key longer than the padding
    text = _render("spark-defaults.conf.j2", conf=conf)
    assert load_properties(text) == conf


_JAVA_LOAD = """
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
public class Load {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.load(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String key : new TreeSet<>(props.stringPropertyNames())) {
            out.print(key + "\\0" + props.getProperty(key) + "\\0");
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no java here")
def test_reference_parser_agrees_with_java(tmp_path: Path) -> None:
    """The reference parser against the real Properties.load, on everything above."""
    conf = {f"spark.hv.k{i}": value for i, value in enumerate(PROP_VALUES)}
    text = _render("spark-defaults.conf.j2", conf=conf)
    text += "\n" + "\n".join(f"x{i} = {v}" for i, v in enumerate(HOSTILE))  # unescaped, too
    source = tmp_path / "Load.java"
    source.write_text(_JAVA_LOAD)
    done = subprocess.run(
        ["java", str(source)], input=text.encode(), capture_output=True, timeout=120, check=True
    )
    words = done.stdout.decode().split("\0")[:-1]
    assert dict(zip(words[::2], words[1::2], strict=True)) == load_properties(text)


# ---- ssh_config ------------------------------------------------------------------------------


def test_ssh_config_values_are_refused_or_quoted(tmp_path: Path) -> None:
    for bad in ('a"b', "a\nb", "a\rb", "a\tb", "a\0b", "a\x7fb", "a\x85b", "a\u2028b", "${HOME}/k"):
        with pytest.raises(NodeError, match="cannot write an ssh_config"):
            _ssh_config_value(bad, "a path")
    values = [
        f"/tmp/hv keys/$(touch {MARKS}/ssh) `touch x` 'q' ; # = * é €",
        "/tmp/back\\slash \\\\ two \\' quote \\x end\\",
        "/tmp/percent %d %h %% %",
        "/tmp/dollar $HOME $ {x} end$",
    ]
    for value in values:
        quoted = _ssh_config_value(value, "a path")
        assert quoted.startswith('"') and quoted.endswith('"')
    if shutil.which("ssh") is None:
        return
    for value in values:
        config = tmp_path / "ssh_config"
        config.write_text(
            "Host hv\n  HostName 198.18.253.11\n"
            f"  IdentityFile {_ssh_config_value(value, 'the key path')}\n"
            f"  UserKnownHostsFile {_ssh_config_value(value, 'a path')}\n"
        )
        done = subprocess.run(
            ["ssh", "-F", str(config), "-G", "hv"], capture_output=True, text=True, check=True
        )
        read = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
        assert read["userknownhostsfile"] == value  # %tokens expanded here: none survive
        if "%" not in value:  # ssh -G shows the identity file before its %tokens are expanded
            assert read["identityfile"] == value


def test_a_host_whose_console_shows_no_key_is_refused_unless_trusted(
    testbed: TestBed, tmp_path: Path
) -> None:
    """No key to check against (a console that never printed one): refused with a line that
    names the way out; with --trust-first-host-key the first key is pinned."""
    host = testbed.hosts[0]
    target = Target(host.name, host.ip, testbed.user)
    unverified = SSHAccess(testbed.key_path, HostKeyStore(tmp_path / "kh", {host.ip: []}))

    async def reach(access: SSHAccess) -> None:
        async with Fleet(access) as fleet:
            await fleet.connection(target)

    with pytest.raises(HostKeyError, match=r"shows no SSH host key.*--trust-first-host-key"):
        _sync.run(reach(unverified))
    assert not (tmp_path / "kh").exists()
    trusting = HostKeyStore(tmp_path / "kh", {host.ip: []}, trust_first=True)
    _sync.run(reach(SSHAccess(testbed.key_path, trusting)))
    assert trusting.pinned(host.ip)
