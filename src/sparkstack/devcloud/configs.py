"""Renders the devcloud's config files from the Jinja2 templates shipped in the package."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkstack.devcloud.config import (
    ADMIN_CLOUD,
    CLOUD,
    HOST,
    PORTS,
    SERVICE_USER,
    DevcloudConfig,
    write_private,
)
from sparkstack.templating import environment

MECHANISM_DRIVER = "ssdc_bind_any"
FAKE_DRIVER = "fake.FakeDriverWithoutFakeNodes"
DATAPLANE_DRIVER = "ssdc_driver.DataplaneDriver"


def render(template: str, **context: Any) -> str:
    """Render one template of the package."""
    return environment("sparkstack.devcloud").get_template(template).render(**context)


@dataclass(frozen=True)
class TemplateContext:
    """What the templates see as ``c``."""

    etc: Path
    lib: Path
    lock: Path
    pw: dict[str, str]
    compute_driver: str
    host_ip: str = HOST
    rabbit_port: int = PORTS["rabbitmq"]
    auth_url: str = f"http://{HOST}:{PORTS['keystone']}"
    service_user: str = SERVICE_USER
    mechanism_driver: str = MECHANISM_DRIVER
    cloud: str = CLOUD
    admin_cloud: str = ADMIN_CLOUD

    @property
    def db(self) -> str:
        return f"mysql+pymysql://ssdc:{self.pw['db']}@{self.host_ip}:{PORTS['mariadb']}"

    @property
    def transport_url(self) -> str:
        return f"rabbit://ssdc:{self.pw['rabbit']}@{self.host_ip}:{self.rabbit_port}/"


def context(cfg: DevcloudConfig, data_plane: bool) -> TemplateContext:
    return TemplateContext(
        etc=cfg.etc,
        lib=cfg.lib,
        lock=cfg.lock,
        pw=cfg.passwords(),
        compute_driver=DATAPLANE_DRIVER if data_plane else FAKE_DRIVER,
    )


def compute_host(index: int) -> str:
    """nova's host name of compute ``index`` (1-based)."""
    return f"ssdc-compute-{index}"


def config_files(cfg: DevcloudConfig, computes: int, data_plane: bool) -> dict[Path, str]:
    """Every config file of the devcloud, by path, rendered (pure: writes nothing)."""
    c = context(cfg, data_plane)
    etc = cfg.etc
    files = {
        etc / "keystone" / "keystone.conf": render("keystone.conf.j2", c=c),
        etc / "placement" / "placement.conf": render("placement.conf.j2", c=c),
        etc / "glance" / "glance-api.conf": render("glance-api.conf.j2", c=c),
        etc / "neutron" / "neutron.conf": render("neutron.conf.j2", c=c),
        etc / "neutron" / "plugins" / "ml2" / "ml2_conf.ini": render("ml2_conf.ini.j2", c=c),
        etc / "nova" / "nova.conf": render(
            "nova.conf.j2", c=c, compute=False, host="ssdc", state_path=cfg.lib / "nova"
        ),
        etc / "rabbitmq" / "rabbitmq.conf": render("rabbitmq.conf.j2", c=c),
        cfg.clouds_yaml: render("clouds.yaml.j2", c=c),
    }
    for index in range(1, computes + 1):
        files[compute_config(cfg, index)] = _compute_text(cfg, c, index)
    return files


def _compute_text(cfg: DevcloudConfig, c: TemplateContext, index: int) -> str:
    return render(
        "nova.conf.j2",
        c=c,
        compute=True,
        host=compute_host(index),
        state_path=compute_state_dir(cfg, index),
    )


def compute_config(cfg: DevcloudConfig, index: int) -> Path:
    return cfg.etc / "nova" / f"{compute_host(index)}.conf"


def compute_state_dir(cfg: DevcloudConfig, index: int) -> Path:
    """nova's state_path of compute ``index``: its node UUID, its instances dir."""
    return cfg.lib / "nova" / compute_host(index)


def write_compute_config(cfg: DevcloudConfig, index: int, data_plane: bool) -> Path:
    """Write the config of compute ``index`` alone (what ``config_files`` renders for it) and
    make its state dir: adding a compute to a running devcloud rewrites no other file."""
    path = compute_config(cfg, index)
    write_private(path, _compute_text(cfg, context(cfg, data_plane), index))
    compute_state_dir(cfg, index).mkdir(parents=True, exist_ok=True)
    return path


# Paste pipelines are the projects' own files, copied from the venv beside their configs (the
# WSGI apps read them from their config dir).
PASTE_FILES = {
    "glance/glance-api-paste.ini": "glance/glance-api-paste.ini",
    "neutron/api-paste.ini": "neutron/api-paste.ini",
    "nova/api-paste.ini": "nova/api-paste.ini",
}


def write_configs(cfg: DevcloudConfig, computes: int, data_plane: bool) -> None:
    """Write every config (0600: they hold passwords) and copy the paste pipelines."""
    for path, text in config_files(cfg, computes, data_plane).items():
        write_private(path, text)
    for source, target in PASTE_FILES.items():
        shutil.copyfile(cfg.venv / "etc" / source, cfg.etc / target)
