"""Create neutron resources with their tags in the same request where the cloud allows it.

Neutron with the ``tag-creation`` extension takes ``tags`` in the POST body; older ones refuse
the attribute, and then the tags are set right after with one more request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openstack import exceptions as os_exc

_tags_in_body = True


def create_tagged(create: Callable[..., Any], proxy: Any, tags: list[str], **attrs: Any) -> Any:
    """``create(**attrs, tags=tags)``, or create then ``set_tags`` on clouds that refuse it."""
    global _tags_in_body
    if _tags_in_body:
        try:
            return create(**attrs, tags=tags)
        except os_exc.BadRequestException as exc:
            if "tags" not in str(exc):
                raise
            _tags_in_body = False
    resource = create(**attrs)
    proxy.set_tags(resource, tags)
    return resource
