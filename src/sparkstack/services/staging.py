"""Getting a verified tarball onto the nodes that lack it, from inside the cluster.

The first node (the one the client reaches) keeps every verified tarball in
``/var/lib/sparkstack/artifacts``; it gets there once from the client (or is already there
from an earlier deploy), then that node serves it over the private network for a few seconds
while every other node that needs it fetches it in parallel. Each node checks the SHA-512
before unpacking. Any service installs its software this way.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sparkstack.errors import ServiceError
from sparkstack.nodes.files import NODE_STATE_DIR, sudo
from sparkstack.nodes.runner import each
from sparkstack.services.artifacts import Artifact
from sparkstack.services.base import Deployment, Host, Port, template

ARTIFACT_DIR = f"{NODE_STATE_DIR}/artifacts"
#: Where the first node serves tarballs to the others while they install.
SERVE_PORT = 7199
STAGING_DIR = "/var/tmp/sparkstack"
#: A file in each install holding its tarball's SHA-512 (node preparation reports it: the
#: install a baked image holds is checked against it, not unpacked again).
INSTALL_MARKER = ".sparkstack-sha512"


def staging_port() -> Port:
    return Port(SERVE_PORT, SERVE_PORT, "tarballs served by the first node during installs")


def _verify(sha512: str, path: str) -> str:
    line = shlex.quote(f"{sha512}  {path}")
    return f"printf '%s\\n' {line} | sha512sum -c --status -"


async def _keep_on_entry(dep: Deployment, artifact: Artifact) -> str:
    """The tarball in the first node's store, sent from the client only if not there yet."""
    entry = dep.entry
    kept = f"{ARTIFACT_DIR}/{artifact.filename}"
    if (await dep.fleet.run(entry.target, _verify(artifact.sha512, kept))).ok:
        return kept
    local = await asyncio.to_thread(artifact.fetch, dep.report)
    user = shlex.quote(entry.target.user)
    make = (
        f"{sudo(entry.target)} install -d -m 0700 -o {user} {NODE_STATE_DIR} && "
        f"{sudo(entry.target)} install -d -m 0700 -o {user} {ARTIFACT_DIR}"
    )
    if not (await dep.fleet.run(entry.target, make)).ok:
        raise ServiceError(f"{entry.name}: cannot create {ARTIFACT_DIR}")
    part = f"{kept}.part"
    await dep.fleet.put(entry.target, local, part)
    check = f"{_verify(artifact.sha512, part)} && mv {shlex.quote(part)} {shlex.quote(kept)}"
    if not (await dep.fleet.run(entry.target, check)).ok:
        raise ServiceError(f"{entry.name}: the tarball {artifact.filename} arrived damaged")
    return kept


@asynccontextmanager
async def _served(dep: Deployment) -> AsyncIterator[str]:
    """The first node's store over HTTP on its private address while the block runs."""
    entry = dep.entry
    ip = shlex.quote(entry.ip)
    pidfile = f"{STAGING_DIR}/http.pid"
    probe = f"import socket; socket.create_connection(({entry.ip!r}, {SERVE_PORT}), 1)"
    serve = (
        f"mkdir -p {STAGING_DIR} && cd {ARTIFACT_DIR} && setsid -f sh -c "
        + shlex.quote(f"echo $$ > {pidfile}; exec python3 -m http.server --bind {ip} {SERVE_PORT}")
        + " </dev/null >/dev/null 2>&1; "
        f"for i in $(seq 50); do python3 -c {shlex.quote(probe)} 2>/dev/null && exit 0; "
        "sleep 0.1; done; exit 1"
    )
    if not (await dep.fleet.run(entry.target, serve)).ok:
        raise ServiceError(f"{entry.name}: cannot serve tarballs to the other nodes")
    try:
        yield f"http://{entry.ip}:{SERVE_PORT}"
    finally:
        await dep.fleet.run(entry.target, f"kill $(cat {pidfile}) 2>/dev/null; rm -f {pidfile}")


async def install_tarball(
    dep: Deployment,
    artifact: Artifact,
    hosts: list[Host],
    install_dir: str,
    link: str,
    owned: list[str],
    on_done: Callable[[Host], None] = lambda _h: None,
) -> None:
    """Unpack ``artifact`` into ``install_dir`` on ``hosts`` and point ``link`` at it;
    ``owned`` subdirectories are given to the login user (e.g. ``conf``)."""
    if not hosts:
        return
    kept = await _keep_on_entry(dep, artifact)

    async def one(host: Host, base_url: str) -> None:
        on_entry = host is dep.entry
        script = template("install.sh.j2").render(
            tgz=kept if on_entry else f"{STAGING_DIR}/{artifact.filename}",
            fetch_url="" if on_entry else f"{base_url}/{artifact.filename}",
            checked=on_entry,  # _keep_on_entry has just verified the kept copy
            sha512=artifact.sha512,
            install_dir=install_dir,
            marker=INSTALL_MARKER,
            link=link,
            owned=owned,
            owner=f"{dep.facts[host.name]['user']}:{dep.facts[host.name]['group']}",
        )
        result = await dep.fleet.run(host.target, "bash -s", input=script)
        if not result.ok:
            raise ServiceError(f"{host.name}: {artifact.name} install failed: {result.tail(5)}")
        on_done(host)

    others = [h for h in hosts if h is not dep.entry]
    if not others:
        await one(dep.entry, "")
        return
    async with _served(dep) as base_url:
        await each(hosts, lambda h: one(h, base_url))
