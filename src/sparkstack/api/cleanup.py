"""``cleanup``: find what killed clients left behind, and remove it the way destroy does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sparkstack import keys
from sparkstack.cloud.connection import Cloud, connect
from sparkstack.cloud.leftovers import Leftover
from sparkstack.cloud.leftovers import find_leftovers as leftovers_of
from sparkstack.cloud.teardown import teardown
from sparkstack.errors import Interrupted
from sparkstack.events import Phase, Reporter, silent
from sparkstack.validation import check_cluster_name


def find_leftovers(
    cloud: str | None = None,
    *,
    older_than: timedelta = timedelta(hours=1),
    only: Sequence[str] = (),
) -> tuple[Cloud, list[Leftover]]:
    """The project's leftover clusters (or those of ``only``), untouched for ``older_than``."""
    names = {check_cluster_name(n) for n in only}
    session = connect(cloud)
    return session, leftovers_of(session, older_than, names or None)


def remove_leftovers(
    session: Cloud, found: list[Leftover], report: Reporter = silent
) -> dict[str, dict[str, int]]:
    """Remove each leftover cluster as destroy would; the counts removed, per cluster."""
    removed: dict[str, dict[str, int]] = {}
    with Phase(report, "cleanup", total=len(found), text="removing leftovers") as phase:
        for leftover in found:
            try:
                removed[leftover.cluster] = teardown(session, leftover.cluster)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"interrupted while removing {leftover.cluster}; run cleanup again"
                ) from None
            keys.forget_cluster(session.identity, leftover.cluster)
            phase.advance(leftover.cluster)
    return removed
