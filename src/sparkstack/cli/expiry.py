"""``sparkstack extend NAME 2h``: a cluster that deletes itself on a schedule, later.

With ``--output json``::

    {"name": str, "cloud": str, "deadline": str | null, "hold_until": str,
     "credential_replaced": bool}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

import sparkstack
from sparkstack.api.lookup import cloud_name
from sparkstack.cli.options import CloudOpt, NameArg, OutputOpt, TrustFirstOpt
from sparkstack.cli.output import OutputFormat, console, emit_data
from sparkstack.cluster import Expiry


def _when(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def expiry_data(expiry: Expiry | None) -> dict[str, str | None] | None:
    """The ``expiry`` key of launch and describe's JSON."""
    if expiry is None:
        return None
    return {
        "deadline": _when(expiry.deadline),
        "credential_id": expiry.credential_id,
        "credential_expires": _when(expiry.credential_expires),
    }


def expiry_line(expiry: Expiry | None) -> str | None:
    """One line for describe's cloud view."""
    if expiry is None:
        return None
    if expiry.deadline is None:
        return "expires: after its idle timeout (the reaper's line says when)"
    return f"expires: at the latest {_when(expiry.deadline)} (max age)"


def extend(
    name: NameArg,
    by: Annotated[str, typer.Argument(help="How much later, e.g. 2h, 30m, 1d.")],
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Move a cluster's scheduled deletion later: its max-age deadline, and the moment from
    which idleness counts."""
    done = sparkstack.extend(name, by, cloud, trust_first_host_key=trust_first_host_key)
    data = {
        "name": name,
        "cloud": cloud_name(cloud),
        "deadline": done.deadline.isoformat() if done.deadline else None,
        "hold_until": done.hold_until.isoformat(),
        "credential_replaced": done.credential_replaced,
    }
    if emit_data(data, output):
        return
    when = f"deadline {data['deadline']}" if done.deadline else "no max age"
    renewed = "; its reaper has a new credential" if done.credential_replaced else ""
    console.print(f"cluster {name}: {when}; idleness counts from {data['hold_until']}{renewed}")


def register(app: typer.Typer) -> None:
    app.command()(extend)
