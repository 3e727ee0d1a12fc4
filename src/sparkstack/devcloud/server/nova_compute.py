"""nova-compute with the data plane's driver: ``python -m ssdc.nova_compute --config-file ...``.

nova 34 loads only ``'nova.virt.' + compute_driver`` (no full dotted path), so the driver is made
visible as ``nova.virt.ssdc_driver`` (``compute_driver = ssdc_driver.DataplaneDriver``) without
writing into nova's package directory. ``nova.cmd.compute`` must be imported first: it chooses
native threads or eventlet before anything else imports nova.
"""

from __future__ import annotations

import sys

from nova.cmd import compute

from . import driver  # type: ignore[attr-defined]  # written by the data plane

sys.modules["nova.virt.ssdc_driver"] = driver

if __name__ == "__main__":
    sys.exit(compute.main())
