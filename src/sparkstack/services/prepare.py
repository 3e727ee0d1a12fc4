"""Node preparation shared by the JVM services: Java 17+ and python3, and facts about the node;
and the cleaning that makes a prepared node fit to be an image."""

from __future__ import annotations

from collections.abc import Mapping

from sparkstack import validation
from sparkstack.errors import ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.files import NODE_STATE_DIR
from sparkstack.nodes.runner import each
from sparkstack.services.base import Deployment, Host, NodeFacts, template
from sparkstack.services.staging import INSTALL_MARKER, STAGING_DIR

JAVA_MAJOR = 17
#: Facts that end up in config files and commands: checked like any value from outside.
_NAMES = ("user", "group")
_PATHS = ("java_home", "python")


async def prepare_nodes(dep: Deployment, links: Mapping[str, str]) -> None:
    """Make every node ready and record its facts in ``dep.facts``.

    ``links`` names symlinks (e.g. ``spark: /opt/spark``) whose target is reported as a fact,
    so an install can tell what is already there without another round trip (and, as
    ``<name>_sha512``, the SHA-512 its install marker holds).
    """
    script = template("prepare.sh.j2").render(
        java_major=JAVA_MAJOR, links=links, marker=INSTALL_MARKER
    )
    outputs = await _on_each(
        dep, script, "prepare", "Java and python3 on nodes", "node preparation"
    )
    dep.facts.update({name: parse_facts(name, out) for name, out in outputs.items()})


async def _on_each(
    dep: Deployment, script: str, phase: str, text: str, what: str
) -> dict[str, str]:
    """Run the bash ``script`` on every acting node at once, a step of ``phase`` each; each
    node's stdout. A node where it fails stops the deploy with ``what`` and the output's tail."""
    hosts = dep.acting(dep.hosts)
    with Phase(dep.report, phase, total=len(hosts), text=text) as progress:

        async def one(host: Host) -> str:
            result = await dep.fleet.run(host.target, "bash -s", input=script)
            if not result.ok:
                raise ServiceError(f"{host.name}: {what} failed: {result.tail(5)}")
            progress.advance(host.name)
            return result.stdout

        return await each(hosts, one)


def parse_facts(node: str, output: str) -> NodeFacts:
    """``FACT key=value`` lines of the preparation script, checked."""
    values = {}
    for line in output.splitlines():
        if line.startswith("FACT ") and "=" in line:
            key, _, value = line[5:].partition("=")
            values[key] = value.strip()
    try:
        for key in _NAMES:
            validation.posix_user(values.get(key, ""))
        for key in _PATHS:
            if not values.get(key, "").startswith("/"):
                raise ValueError(f"{key} is not an absolute path")
            validation.no_control(values[key])
    except ValueError as exc:
        raise ServiceError(f"{node}: node preparation reported odd facts ({exc})") from None
    return NodeFacts(values)


async def clean_for_image(dep: Deployment) -> None:
    """Remove from every node what must not reach servers booted from its image: SSH host
    keys, machine-id, cloud-init's instance state, staged tarballs, shell history and the
    login user's authorized keys."""
    script = template("clean-image.sh.j2").render(state_dir=NODE_STATE_DIR, staging_dir=STAGING_DIR)
    await _on_each(dep, script, "clean", "cleaning for the image", "cleaning for the image")
