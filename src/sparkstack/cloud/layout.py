"""What the cloud layer is asked to build: servers per node group, as plain data.

The API derives this from the spec and the services (which roles want a floating IP); the cloud
layer only counts, names and boots what it lists, and knows nothing of what a role means.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupRequest:
    """``count`` servers of one group, numbered from ``first_index`` on."""

    group: str
    count: int
    flavor: str
    image: str
    roles: tuple[str, ...]
    floating_ip: bool
    first_index: int = 1

    @property
    def indexes(self) -> range:
        return range(self.first_index, self.first_index + self.count)


def total(requests: list[GroupRequest]) -> int:
    return sum(r.count for r in requests)
