"""Hostile input: bad cluster files and flag sets each end in one ``error:`` line, no socket.

Every case runs the real CLI in a process of its own, with an environment that would reach a
cloud (``OS_CLOUD`` and a clouds.yaml pointing at 127.0.0.1) and a guard that records and refuses
every connect and name lookup. Each case must exit 2 with exactly one line on stderr, starting
with ``error:``, without traceback or exception dump, and open no socket: every check that can be
done before a network call is done before it. File errors name the file (and the line:column
where the error sits), shell payloads never run, rich markup comes out as text.

The corpus: ``tests/hostile/*.yaml`` (their first lines say what the error must say and where),
files made at test time (encodings, sizes, special files) and the flag sets in the tables below.

Starting Python, importing sparkstack and building the command tree takes a second, too long
for some 350 cases. So the bootstrap, run without arguments, does that once (guard in place) and
forks one child per case: the child is that case's CLI process, running ``main()`` on its
arguments. Two such servers run every case once, up front; each test then judges its case's
outcome. ``test_cold_start_agrees`` runs some cases the plain way, ``[sys.executable, "-c",
BOOTSTRAP, *args]``, and compares; ``test_guard_sees_the_network`` shows the guard catches a
call.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parent.parent / "hostile"
#: In corpus files and flag sets: a path the shell payloads would create (one per case).
PWNED = "@PWNED@"
SERVERS = 2

BOOTSTRAP = r"""
import gc, json, os, signal, socket, sys, traceback

def refuse(what):
    def guard(*args, **kwargs):
        with open(os.environ["SPARKSTACK_SOCKET_MARKER"], "a") as marker:
            marker.write(f"{what} {args!r:.300}\n")
        raise OSError(f"{what} refused by the hostile-input guard")
    return guard

socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.create_connection = refuse("create_connection")
socket.getaddrinfo = refuse("getaddrinfo")

from sparkstack.cli import main as cli

def run(args):
    sys.argv = ["sparkstack", *args]
    cli.main()

if len(sys.argv) > 1:
    run(sys.argv[1:])
    sys.exit(0)
# Building the command tree (typer reads every signature) is most of a run: build it here once,
# as each child would (the same functions, the same tree), and hand it to every child.
import typer.main
cli._register_commands()
tree, build = typer.main.get_command(cli.app), typer.main.get_command
typer.main.get_command = lambda app: tree if app is cli.app else build(app)
cli._register_commands = lambda: None
gc.freeze()  # children share the imported heap instead of copying it on their first collection
while line := sys.stdin.readline():
    case = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.environ["SPARKSTACK_SOCKET_MARKER"] = case["marker"]
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        signal.alarm(30)
        code = 0
        try:
            run(case["args"])
        except SystemExit as exc:  # as the interpreter would end
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""

CLOUDS_YAML = """\
clouds:
  devcloud:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: demo
      password: not-a-secret
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
"""

#: What must never reach the user: a traceback, an exception class, pydantic's own wording.
DUMPS = re.compile(
    r"Traceback|internal error|errors\.pydantic\.dev|validation errors? for|Value error,"
    r"|\b[A-Z][A-Za-z]*(Error|Exception)\b|Usage:|PosixPath\(|datetime\."
)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    network: str


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(tmp, pwned)`` writes what it needs and gives the arguments and
    the text the error line must name (the file, with line:column when it points into it)."""

    make: Callable[[Path, Path], tuple[list[str], str]]
    expect: str


def environment(tmp: Path) -> dict[str, str]:
    """What would reach a cloud at 127.0.0.1 if anything called the network too early."""
    clouds = tmp / "clouds.yaml"
    clouds.write_text(CLOUDS_YAML)
    (tmp / "home").mkdir(exist_ok=True)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OS_", "SPARKSTACK_"))},
        "HOME": str(tmp / "home"),
        "OS_CLOUD": "devcloud",
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "SPARKSTACK_DATA_DIR": str(tmp / "data"),
        "SPARKSTACK_CACHE_DIR": str(tmp / "cache"),
        "COLUMNS": "80",
    }


class Server:
    """The warm bootstrap: each run is a child forked from it, under the socket guard."""

    def __init__(self, tmp: Path, env: dict[str, str], label: str):
        self.tmp, self.label, self.runs = tmp, label, 0
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, args: list[str]) -> Outcome:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.runs += 1
        files = {k: self.tmp / f"{self.label}-{self.runs}.{k}" for k in ("stdout", "stderr")}
        files["marker"] = self.tmp / f"{self.label}-{self.runs}.marker"
        files["marker"].touch()
        self.process.stdin.write(
            json.dumps({"args": args, **{k: str(p) for k, p in files.items()}})
        )
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        code = int(self.process.stdout.readline())
        return Outcome(code, *(files[k].read_text() for k in ("stdout", "stderr", "marker")))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def run_cold(tmp: Path, env: dict[str, str], args: list[str]) -> Outcome:
    """One case the plain way: a new interpreter that imports everything itself."""
    marker = tmp / "cold.marker"
    marker.write_text("")
    done = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *args],
        capture_output=True,
        text=True,
        env={**env, "SPARKSTACK_SOCKET_MARKER": str(marker)},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return Outcome(done.returncode, done.stdout, done.stderr, marker.read_text())


def expand(text: str, tmp: Path, pwned: Path) -> str:
    return text.replace(PWNED, str(pwned)).replace("{tmp}", str(tmp))


# ---- cluster files: the corpus, and those made at test time ----------------------------------


def header(path: Path, key: str) -> str:
    """``# key: value`` from the first lines of a corpus file."""
    for raw in path.read_bytes().splitlines()[:3]:
        line = raw.decode("utf-8", "replace")
        if line.startswith(f"# {key}: "):
            return line.split(": ", 1)[1].strip()
    return ""


def located(path: Path, at: str) -> str:
    return f"{path}:{at}: " if at else f"{path}: "


def corpus_case(source: Path, verb: str = "launch") -> Case:
    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        copy = tmp / "files" / f"{source.stem}-{verb}.yaml"
        copy.parent.mkdir(exist_ok=True)
        copy.write_text(expand(source.read_text(), tmp, pwned))
        return [verb, "demo", "--file", str(copy)], located(copy, header(source, "at"))

    return Case(make, header(source, "expect"))


def file_case(name: str, content: bytes, expect: str, at: str = "") -> Case:
    """A cluster file written at test time (bytes no text editor would keep)."""

    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        path = tmp / "files" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content.replace(PWNED.encode(), str(pwned).encode()))
        return ["launch", "demo", "--file", str(path)], located(path, at)

    return Case(make, expect)


def special_case(make_path: Callable[[Path], Path], expect: str) -> Case:
    """``--file`` naming something that is no cluster file at all."""

    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        path = make_path(tmp)
        return ["launch", "demo", "--file", str(path)], str(path)

    return Case(make, expect)


def with_file(name: str, content: bytes, body: str, expect: str, at: str = "") -> Case:
    """A cluster file that names a local file made beside it (``{file}`` in ``body``)."""

    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        local = tmp / "files" / name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)
        path = tmp / "files" / f"{local.name}.cluster.yaml"
        path.write_text(body.replace("{file}", str(local)))
        return ["launch", "demo", "--file", str(path)], located(path, at)

    return Case(make, expect)


def _fifo(tmp: Path) -> Path:
    path = tmp / "cluster.fifo"
    if not path.exists():
        os.mkfifo(path)
    return path


def _long_key_path(tmp: Path) -> Path:
    """An existing private key whose absolute path is longer than nova's 255 characters."""
    folder = tmp / "k" / ("d" * 200) / ("e" * 60)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "id").write_text("key\n")
    return folder / "id"


def _long_key_case() -> Case:
    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        path = tmp / "files" / "long-private-key.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(
            f"name: demo\nkey:\n  keypair: mine\n  private_key_file: {_long_key_path(tmp)}\n"
        )
        return ["launch", "demo", "--file", str(path)], located(path, "4:21")

    return Case(make, "at most 255 characters")


MIB = 1 << 20

GENERATED: dict[str, Case] = {
    "encoding-utf16-bom": file_case(
        "utf16.yaml", "name: demo\nimage: debian-12\n".encode("utf-16"), "not UTF-8 text", "1:1"
    ),
    "encoding-latin1": file_case(
        "latin1.yaml", "name: demo\nimage: d\xe9bian\n".encode("latin-1"), "not UTF-8 text", "2:9"
    ),
    "encoding-overlong-utf8": file_case(
        "overlong.yaml", b"name: demo\nimage: \xc0\xafetc\n", "not UTF-8 text", "2:8"
    ),
    "encoding-surrogate": file_case(
        "surrogate.yaml", b"name: demo\nimage: \xed\xa0\x80\n", "not UTF-8 text", "2:8"
    ),
    "encoding-nul": file_case("nul.yaml", b"name: demo\nimage: a\x00b\n", "NUL", "2:9"),
    "size-over-1mib": file_case(
        "big.yaml", b"name: demo\n" + b"#" * MIB + b"\n", "at most 1048576 bytes"
    ),
    "size-token-bomb": file_case(
        "tokens.yaml",
        b"name: demo\nsecurity_groups: [" + b"a," * 499_990 + b"a]\n",
        "more than 10000 keys and values",
        "2:20009",
    ),
    "size-1mib-of-keys": file_case(
        "wide.yaml",
        b"name: demo\nmetadata:\n" + b"".join(b"  k%d: v\n" % i for i in range(120_000)),
        "at most 1048576 bytes",
    ),
    "special-directory": special_case(lambda tmp: tmp, "not a regular file"),
    "special-dev-zero": special_case(lambda tmp: Path("/dev/zero"), "not a regular file"),
    "special-fifo": special_case(_fifo, "not a regular file"),
    "special-missing": special_case(lambda tmp: tmp / "nonexistent.yaml", "no such file"),
    "special-newline-in-path": special_case(lambda tmp: tmp / "a\nb.yaml", "no such file"),
    "special-proc-kallsyms": special_case(lambda tmp: Path("/proc/kallsyms"), "at most 1048576"),
    "public-key-not-a-key": with_file(
        "garbage.pub",
        b"this is not a public key\n",
        "name: demo\nkey:\n  public_key_file: {file}\n",
        "not an OpenSSH public key",
        "3:20",
    ),
    "public-key-binary": with_file(
        "binary.pub",
        b"\xff\xfe\x00garbage",
        "name: demo\nkey:\n  public_key_file: {file}\n",
        "not an OpenSSH public key",
        "3:20",
    ),
    "tarball-name-subst": with_file(
        "spark-$(id).tgz",
        b"not really a tarball",
        "name: demo\nspark:\n  tarball: '{file}'\n",
        "file name",
        "3:12",
    ),
    "tarball-and-url": with_file(
        "spark-4.3.0-bin-hadoop3.tgz",
        b"not really a tarball",
        "name: demo\nspark:\n  tarball: {file}\n  url: https://example.com/spark.tgz\n",
        "not both",
        "3:3",
    ),
    "keypair-and-public-key": with_file(
        "id_ed25519.pub",
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnU3S2h3EJ7Kh6XWm9q7Te3rGJdZ9tyAk3HbLC8y6gR x\n",
        "name: demo\nkey:\n  keypair: mine\n  public_key_file: {file}\n",
        "not both",
        "3:3",
    ),
    "private-key-path-too-long": _long_key_case(),
}

# ---- flag sets ---------------------------------------------------------------------------------

#: Cluster names no verb may take (each is tried with every verb).
BAD_NAMES = {
    "empty": "",
    "dot-dot": "..",
    "dot-dot-slash": "../x",
    "upper": "A",
    "41-chars": "a" * 41,
    "subst": f"$(touch {PWNED})",
    "backticks": "`id`",
    "markup": "[bold red]x[/]",
    "newline": "demo\nother",
}
VERBS = {
    "launch": ["launch", "{name}"],
    "describe": ["describe", "{name}"],
    "destroy": ["destroy", "{name}", "--yes"],
    "configure": ["configure", "{name}"],
    "submit": ["submit", "{name}", "{tmp}/app.py"],
    "run-command": ["run-command", "{name}", "--", "true"],
    "copy-file": ["copy-file", "{name}", "{tmp}/local.txt", "x.txt"],
    "login": ["login", "{name}"],
    "ui": ["ui", "{name}"],
    "cleanup": ["cleanup", "{name}", "--yes"],
}

#: Flag sets: the arguments ({tmp} and @PWNED@ are filled in) and what the error line says.
FLAGS: dict[str, tuple[list[str], str]] = {
    "run-command-masters-and-workers": (
        ["run-command", "demo", "--masters", "--workers", "--", "true"],
        "not both",
    ),
    "copy-file-masters-and-workers": (
        ["copy-file", "demo", "--masters", "--workers", "{tmp}/local.txt", "x"],
        "not both",
    ),
    "run-command-bad-group": (
        ["run-command", "demo", "--group", f"$(touch {PWNED})", "--", "true"],
        "group name",
    ),
    "copy-file-bad-group": (
        ["copy-file", "demo", "--group", "Workers", "{tmp}/local.txt", "x"],
        "group name",
    ),
    "ui-port-70000": (["ui", "demo", "--port", "70000"], "--port"),
    "ui-port-negative": (["ui", "demo", "--port", "-1"], "--port"),
    "ui-port-word": (["ui", "demo", "--port", "http"], "--port"),
    "ui-unknown-service": (["ui", "demo", "--service", "yarn"], "no web UI"),
    "image-upload-bad-format": (
        ["image", "upload", "{tmp}/local.txt", "--name", "x", "--disk-format", "exe"],
        "--disk-format",
    ),
    "image-upload-no-format": (
        ["image", "upload", "{tmp}/local.txt", "--name", "x"],
        "give --disk",
    ),
    "image-upload-missing-file": (["image", "upload", "{tmp}/nope.raw", "--name", "x"], "no file"),
    "image-upload-name-newline": (
        ["image", "upload", "{tmp}/local.txt", "--name", "a\nb", "--disk-format", "raw"],
        "image upload",
    ),
    "data-put-container-slash-only": (["data", "put", "{tmp}/local.txt", "/x"], "1 to 256 bytes"),
    "data-put-name-newline": (["data", "put", "{tmp}/local.txt", "c/a\nb"], "newlines"),
    "data-put-name-nul": (["data", "put", "{tmp}/local.txt", "c/a\x01b"], "newlines"),
    "data-put-container-long": (["data", "put", "{tmp}/local.txt", "c" * 257], "1 to 256"),
    "data-put-name-long": (["data", "put", "{tmp}/local.txt", "c/" + "n" * 1025], "1 to 1024"),
    "data-put-missing-file": (["data", "put", "{tmp}/nope.bin", "c"], "no file"),
    "data-put-segment-word": (
        ["data", "put", "{tmp}/local.txt", "c", "--segment-size", "big"],
        "a size is",
    ),
    "data-get-no-object": (["data", "get", "c", "{tmp}/out"], "CONTAINER/PATH"),
    "data-get-stdout": (["data", "get", "c/o", "-"], "standard output"),
    "data-get-existing-file": (["data", "get", "c/o", "{tmp}/local.txt"], "pass --force"),
    "data-ls-markup-newline": (["data", "ls", "[red]\n"], "newlines"),
    "quota-negative": (["quota", "--workers", "-1"], "greater than or equal to 0"),
    "add-workers-zero": (["add-workers", "demo", "0"], "greater than or equal to 1"),
    "add-workers-word": (["add-workers", "demo", "many"], "valid integer"),
    "add-workers-bad-flavor": (["add-workers", "demo", "1", "--flavor", "m1\nsmall"], "--flavor"),
    "remove-workers-nothing": (["remove-workers", "demo"], "give a count or --nodes"),
    "remove-workers-both": (
        ["remove-workers", "demo", "1", "--nodes", "demo-worker-1"],
        "give a count or --nodes",
    ),
    "remove-workers-bad-node": (
        ["remove-workers", "demo", "--nodes", f"x;touch {PWNED}"],
        "not a node name",
    ),
    "launch-hdfs-replication-zero": (
        ["launch", "demo", "--hdfs-replication", "0"],
        "greater than or equal to 1",
    ),
    "launch-wrokers": (["launch", "demo", "--wrokers", "3"], "--workers"),
    "launch-option-with-newline": (["launch", "demo", "--wro\nkers", "3"], "No such option"),
    "launch-missing-name": (["launch"], "Missing argument"),
    "describe-extra-argument": (["describe", "demo", "other"], "unexpected extra argument"),
    "unknown-verb": (["lanuch", "demo"], "No such command"),
    "launch-metadata-no-equals": (["launch", "demo", "--metadata", "owner"], "KEY=VALUE"),
    "launch-metadata-no-key": (["launch", "demo", "--metadata", "=alice"], "KEY=VALUE"),
    "launch-metadata-reserved": (
        ["launch", "demo", "--metadata", "sparkstack_cluster=other"],
        "sparkstack's own",
    ),
    "launch-metadata-bad-key": (
        ["launch", "demo", "--metadata", f"a;$(touch {PWNED})=x"],
        "metadata key",
    ),
    "launch-metadata-newline": (["launch", "demo", "--metadata", "owner=a\nb"], "newlines"),
    "launch-metadata-too-long": (
        ["launch", "demo", "--metadata", "owner=" + "x" * 256],
        "at most 255",
    ),
    "launch-spark-conf-no-equals": (["launch", "demo", "--spark-conf", "spark.a"], "KEY=VALUE"),
    "launch-spark-conf-not-spark": (["launch", "demo", "--spark-conf", "java.a=1"], "spark."),
    "launch-spark-conf-reserved": (
        ["launch", "demo", "--spark-conf", "spark.authenticate.secret=x"],
        "set by sparkstack",
    ),
    "launch-spark-conf-newline": (
        ["launch", "demo", "--spark-conf", "spark.a=b\nspark.authenticate=false"],
        "newlines",
    ),
    "configure-spark-conf-no-equals": (
        ["configure", "demo", "--spark-conf", "spark.a"],
        "KEY=VALUE",
    ),
    "configure-spark-conf-cr": (["configure", "demo", "--spark-conf", "spark.a=x\r"], "newlines"),
    "configure-ssh-cidr": (
        ["configure", "demo", "--ssh-cidr", f"0.0.0.0/0; $(touch {PWNED})"],
        "--ssh-cidr",
    ),
    "configure-ssh-cidr-empty": (["configure", "demo", "--ssh-cidr", ""], "--ssh-cidr"),
    "configure-missing-tarball": (
        ["configure", "demo", "--spark-tarball", "/nonexistent/spark.tgz"],
        "no file",
    ),
    "configure-spark-version": (
        ["configure", "demo", "--spark-version", f"4.3.0;$(touch {PWNED})"],
        "release number",
    ),
    "cleanup-older-than-word": (["cleanup", "--older-than", "xyz"], "--older-than"),
    "cleanup-older-than-negative": (["cleanup", "--older-than", "-5m"], "--older-than"),
    "cleanup-older-than-empty": (["cleanup", "--older-than", ""], "--older-than"),
    "cleanup-older-than-huge": (["cleanup", "--older-than", "99999999999d"], "--older-than"),
    "launch-max-age-shell": (
        ["launch", "demo", "--max-age", f"8h;touch {PWNED}"],
        "expiry.max_age",
    ),
    "launch-idle-timeout-zero": (["launch", "demo", "--idle-timeout", "0m"], "between 1m and 30d"),
    "launch-idle-timeout-newline": (["launch", "demo", "--idle-timeout", "1h\n2h"], "duration"),
    "launch-on-expiry-unknown": (["launch", "demo", "--on-expiry", "nuke"], "--on-expiry"),
    "launch-expiry-provision-only": (
        ["launch", "demo", "--max-age", "1h", "--provision-only"],
        "no reaper would delete",
    ),
    "extend-word": (["extend", "demo", "later"], "give a duration"),
    "extend-huge": (["extend", "demo", "99999999999d"], "give a duration"),
    "extend-shell": (["extend", "demo", f"1h;touch {PWNED}"], "give a duration"),
    "extend-bad-name": (["extend", "Demo;x", "1h"], "cluster name"),
    "launch-workers-negative": (["launch", "demo", "--workers", "-1"], "--workers"),
    "launch-workers-501": (["launch", "demo", "--workers", "501"], "--workers"),
    "launch-workers-word": (["launch", "demo", "--workers", "many"], "--workers"),
    "launch-no-master": (["launch", "demo", "--masters", "0"], "spark-master"),
    "launch-timeout-5": (["launch", "demo", "--timeout", "5"], "--timeout"),
    "launch-timeout-100000": (["launch", "demo", "--timeout", "100000"], "timeout_seconds"),
    "launch-boot-volume-0": (["launch", "demo", "--boot-volume-gb", "0"], "--boot-volume-gb"),
    "launch-boot-volume-70000": (
        ["launch", "demo", "--boot-volume-gb", "70000"],
        "boot_volume_gb",
    ),
    "launch-image-newline": (["launch", "demo", "--image", "debian\n$(id)"], "newlines"),
    "launch-image-empty": (["launch", "demo", "--image", ""], "1 to 255"),
    "launch-master-flavor-newline": (["launch", "demo", "--master-flavor", "m1\n"], "newlines"),
    "launch-worker-flavor-empty": (["launch", "demo", "--worker-flavor", ""], "1 to 255"),
    "launch-ssh-user-subst": (
        ["launch", "demo", "--ssh-user", f"$(touch {PWNED})"],
        "user name",
    ),
    "launch-ssh-user-markup": (["launch", "demo", "--ssh-user", "[/x]"], "[/x]"),
    "launch-network-cr": (["launch", "demo", "--network", "private\r"], "newlines"),
    "launch-network-and-create": (
        ["launch", "demo", "--network", "private", "--create-network"],
        "not both",
    ),
    "launch-floating-ip-pool-escape": (
        ["launch", "demo", "--floating-ip-pool", "\x1b[31mpublic"],
        "control characters",
    ),
    "launch-security-group-newline": (
        ["launch", "demo", "--security-group", "default\n"],
        "newlines",
    ),
    "launch-ssh-cidr": (["launch", "demo", "--ssh-cidr", "0.0.0.0/0;id"], "network such as"),
    "launch-keypair-tab": (["launch", "demo", "--keypair", "mine\t"], "control characters"),
    "launch-keypair-reserved": (["launch", "demo", "--keypair", "sparkstack-demo"], "keypair"),
    "launch-public-key-missing": (
        ["launch", "demo", "--public-key", "/nonexistent/id.pub"],
        "no file",
    ),
    "launch-public-key-not-a-key": (
        ["launch", "demo", "--public-key", "{tmp}/garbage.pub"],
        "not an OpenSSH public key",
    ),
    "launch-availability-zone-del": (
        ["launch", "demo", "--availability-zone", "nova\x7f"],
        "control characters",
    ),
    "launch-spark-version": (
        ["launch", "demo", "--spark-version", "4.3.0 && id"],
        "release number",
    ),
    "launch-spark-tarball-missing": (
        ["launch", "demo", "--spark-tarball", "/nonexistent/spark.tgz"],
        "no file",
    ),
    "launch-spark-tarball-directory": (
        ["launch", "demo", "--spark-tarball", "{tmp}"],
        "no file",
    ),
    "launch-server-group": (["launch", "demo", "--server-group", "affinity"], "--server-group"),
    "launch-output": (["launch", "demo", "--output", "xml"], "--output"),
    "launch-file-missing": (["launch", "demo", "--file", "/nonexistent/c.yaml"], "no such file"),
    "launch-file-not-utf8-path": (["launch", "demo", "--file", "{tmp}/\udcff.yaml"], "\\udcff"),
    "describe-name-not-utf8": (["describe", "demo\udcff"], "'demo\\udcff'"),
    "launch-log-file-impossible": (
        ["--log-file", "/dev/null/sparkstack.log", "launch", "demo"],
        "--log-file",
    ),
    "submit-app-missing": (["submit", "demo", "/nonexistent/app.py"], "no file"),
    "submit-app-directory": (["submit", "demo", "{tmp}"], "no file"),
    "submit-py-files-missing": (
        ["submit", "demo", "{tmp}/app.py", "--py-files", "/nonexistent/lib.zip"],
        "no file",
    ),
    "submit-app-name-newline": (["submit", "demo", "{tmp}/bad\nname.py"], "a file name"),
    "submit-py-files-name-escape": (
        ["submit", "demo", "{tmp}/app.py", "--py-files", "{tmp}/bad\x1b[2Jname.py"],
        "a file name",
    ),
    "submit-jar-without-class": (["submit", "demo", "{tmp}/app.jar"], "--class"),
    "submit-class-newline": (
        ["submit", "demo", "{tmp}/app.jar", "--class", "Main\n$(id)"],
        "--class",
    ),
    "copy-file-local-missing": (["copy-file", "demo", "/nonexistent/file", "x"], "no file"),
    "copy-file-local-directory": (["copy-file", "demo", "{tmp}", "x"], "no file"),
    "copy-file-remote-empty": (["copy-file", "demo", "{tmp}/local.txt", ""], "remote path"),
    "copy-file-remote-newline": (
        ["copy-file", "demo", "{tmp}/local.txt", "a\nb"],
        "remote path",
    ),
    "describe-output": (["describe", "demo", "--output", "html"], "--output"),
    "describe-cloud-newline": (["describe", "demo", "--cloud", "devcloud\nother"], "--cloud"),
    "destroy-cloud-empty": (["destroy", "demo", "--yes", "--cloud", ""], "--cloud"),
    "list-cloud-escape": (["list", "--cloud", "\x1b]0;x\x07"], "--cloud"),
}

#: Corpus files that configure --file reads too (it checks them before it connects).
CONFIGURE_FILES = [
    "yaml-billion-laughs",
    "yaml-tag-python-apply",
    "inject-name",
    "inject-spark-conf-newline",
    "unknown-wrokers",
]


def flag_case(args: list[str], expect: str) -> Case:
    def make(tmp: Path, pwned: Path) -> tuple[list[str], str]:
        return [expand(a, tmp, pwned) for a in args], ""

    return Case(make, expect)


def name_case(verb: list[str], name: str) -> Case:
    args = [name if a == "{name}" else a for a in verb]
    return flag_case(args, "a cluster name starts with a lowercase letter")


CASES: dict[str, Case] = {
    **{f"file-{p.stem}": corpus_case(p) for p in sorted(CORPUS.glob("*.yaml"))},
    **{
        f"configure-file-{s}": corpus_case(CORPUS / f"{s}.yaml", "configure")
        for s in CONFIGURE_FILES
    },
    **{f"generated-{k}": c for k, c in GENERATED.items()},
    **{f"flags-{k}": flag_case(*v) for k, v in FLAGS.items()},
    **{
        f"name-{label}-{verb}": name_case(args, name)
        for verb, args in VERBS.items()
        for label, name in BAD_NAMES.items()
    },
}


@dataclass(frozen=True)
class Ran:
    args: list[str]
    names: str
    pwned: Path
    outcome: Outcome


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A directory with the files the flag sets name, and the environment of every case."""
    tmp = tmp_path_factory.mktemp("hostile")
    for name in ("app.py", "bad\nname.py", "bad\x1b[2Jname.py"):
        (tmp / name).write_text("print('hello')\n")
    (tmp / "app.jar").write_bytes(b"PK\x03\x04")
    (tmp / "local.txt").write_text("data\n")
    (tmp / "garbage.pub").write_text("this is not a public key\n")
    return tmp, environment(tmp)


@pytest.fixture(scope="module")
def ran(workspace: tuple[Path, dict[str, str]]) -> Iterator[dict[str, Ran]]:
    """Every case, run once, two at a time (each in a process of its own)."""
    tmp, env = workspace
    servers: queue.Queue[Server] = queue.Queue()
    for i in range(SERVERS):
        servers.put(Server(tmp, env, f"s{i}"))

    def one(cid: str) -> tuple[str, Ran]:
        pwned = tmp / f"pwned-{cid}"
        args, names = CASES[cid].make(tmp, pwned)
        server = servers.get()
        try:
            return cid, Ran(args, names, pwned, server.run(args))
        finally:
            servers.put(server)

    with ThreadPoolExecutor(SERVERS) as pool:
        results = dict(pool.map(one, CASES))
    yield results
    for _ in range(SERVERS):
        servers.get().close()


def check(outcome: Outcome, pwned: Path, expect: str = "", names: str = "") -> str:
    """The one error line, after checking what every case must hold."""
    assert outcome.network == "", f"a socket was opened before the input was refused:\n{outcome}"
    assert not pwned.exists(), "a shell payload ran"
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{outcome.stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert not DUMPS.search(line), line
    assert "\x1b" not in outcome.stderr, "an escape sequence reached the terminal"
    assert outcome.code == 2, f"exit code {outcome.code}: {line}"
    assert outcome.stdout == "", outcome.stdout
    assert expect in line, f"{expect!r} not in {line!r}"
    assert names.replace("\n", "\\n") in line, f"{names!r} not named in {line!r}"
    assert PWNED not in line
    return line


@pytest.mark.parametrize("cid", list(CASES))
def test_hostile_input(ran: dict[str, Ran], cid: str) -> None:
    if cid == "generated-special-proc-kallsyms" and not _over_a_mib(Path("/proc/kallsyms")):
        pytest.skip("no /proc/kallsyms of more than 1 MiB here")
    result = ran[cid]
    line = check(result.outcome, result.pwned, CASES[cid].expect, result.names)
    for markup in ("[bold red]x[/]", "[/x]"):
        if any(markup in arg for arg in result.args):
            assert markup in line, "rich markup was not printed as text"


def _over_a_mib(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return len(handle.read(MIB + 1)) > MIB
    except OSError:
        return False


#: Cases run the plain way too: files, flags and names, refused at different layers.
COLD = [
    "file-yaml-billion-laughs",
    "flags-ui-port-70000",
    "flags-run-command-masters-and-workers",
    "name-dot-dot-slash-destroy",
]


@pytest.mark.parametrize("cid", COLD)
def test_cold_start_agrees(
    workspace: tuple[Path, dict[str, str]], ran: dict[str, Ran], cid: str
) -> None:
    tmp, env = workspace
    warm = ran[cid]
    cold = run_cold(tmp, env, warm.args)
    assert cold == warm.outcome
    check(cold, warm.pwned, CASES[cid].expect, warm.names)


def test_guard_sees_the_network(workspace: tuple[Path, dict[str, str]]) -> None:
    """The control: a valid command does reach for the cloud, and the guard records it."""
    tmp, env = workspace
    args = ["list"]
    server = Server(tmp, env, "control")
    try:
        warm = server.run(args)
    finally:
        server.close()
    cold = run_cold(tmp, env, args)
    for outcome in (warm, cold):
        assert "127.0.0.1" in outcome.network
        assert outcome.code == 3
        assert outcome.stderr.splitlines()[-1].startswith("error: ")


def test_corpus_is_complete() -> None:
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 60
    for path in files:
        assert header(path, "expect"), f"{path.name} has no '# expect: ' line"
    assert len(CASES) >= 60
