"""ML2 mechanism driver ``ssdc_bind_any``: binds every port on any host, with no L2 agent.

Ports bind as vif_type=ovs with status ACTIVE so that nova's servers go ACTIVE; the wiring itself
(if any) is the data plane's business. Neutron's in-tree test driver is no substitute: it binds only
magic host names and asserts unit-test invariants that real nova flows break.
Registered as an entry point by ``sparkstack devcloud install`` (a generated distribution).
"""

from __future__ import annotations

from typing import Any

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAnyMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Bind to the first segment offered."""

    def initialize(self) -> None:
        """Nothing to set up: there is no agent to talk to."""

    def bind_port(self, context: Any) -> None:
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
