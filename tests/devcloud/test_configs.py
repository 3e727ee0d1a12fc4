"""Rendering of the devcloud's configs and its passwords (pure; no service runs)."""

from __future__ import annotations

import configparser
import importlib
import stat
from pathlib import Path

import pytest
import yaml

from sparkstack.devcloud.config import DevcloudConfig
from sparkstack.devcloud.configs import (
    compute_config,
    compute_state_dir,
    config_files,
    write_compute_config,
)
from sparkstack.devcloud.install import install_fingerprint
from sparkstack.devcloud.services import all_services

install = importlib.import_module("sparkstack.devcloud.install")  # the package exports a function

pytestmark = pytest.mark.unit


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(text)
    return parser


def test_passwords_are_generated_once_and_private(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    first = cfg.passwords()
    assert first == DevcloudConfig.load(tmp_path).passwords()
    assert len(set(first.values())) == len(first)
    assert stat.S_IMODE(cfg.secrets_file.stat().st_mode) == 0o600


def test_every_config_is_valid_ini_with_the_settings_that_matter(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    files = config_files(cfg, computes=2, data_plane=False)
    nova = _ini(files[cfg.etc / "nova" / "nova.conf"])
    assert nova["DEFAULT"]["compute_driver"] == "fake.FakeDriverWithoutFakeNodes"
    assert nova["service_user"]["send_service_user_token"] == "true"
    assert nova["placement"]["connect_retries"] == "5"
    assert nova["DEFAULT"]["vif_plugging_is_fatal"] == "false"
    assert "mysql+pymysql://ssdc:" in nova["database"]["connection"]
    ml2 = _ini(files[cfg.etc / "neutron" / "plugins" / "ml2" / "ml2_conf.ini"])
    assert ml2["ml2"]["mechanism_drivers"] == "ssdc_bind_any"
    for name in ("keystone/keystone.conf", "placement/placement.conf", "glance/glance-api.conf"):
        _ini(files[cfg.etc / name])


def test_computes_get_their_own_config_without_database_access(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    files = config_files(cfg, computes=2, data_plane=True)
    hosts = set()
    for index in (1, 2):
        compute = _ini(files[compute_config(cfg, index)])
        assert not compute.has_section("database")
        assert not compute.has_section("api_database")
        assert compute["DEFAULT"]["compute_driver"] == "ssdc_driver.DataplaneDriver"
        hosts.add(compute["DEFAULT"]["host"])
    assert len(hosts) == 2


def test_clouds_yaml_has_member_and_admin_clouds(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    clouds = yaml.safe_load(config_files(cfg, 1, False)[cfg.clouds_yaml])["clouds"]
    assert clouds["devcloud"]["auth"]["username"] == "demo"
    assert clouds["devcloud"]["auth"]["project_name"] == "demo"
    assert clouds["devcloud-admin"]["auth"]["username"] == "admin"
    assert all(cloud["connect_retries"] == 3 for cloud in clouds.values())
    assert clouds["devcloud"]["auth"]["password"] == cfg.passwords()["demo"]


def test_services_and_install_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    names = [s.name for s in all_services(cfg, 2, data_plane=True)]
    assert names[:3] == ["mariadb", "epmd", "rabbitmq"]
    assert {"nova-compute-1", "nova-compute-2", "reconciler"} <= set(names)
    assert "reconciler" not in [s.name for s in all_services(cfg, 1, data_plane=False)]
    # the fingerprint follows what install puts into the venv: pins and packages
    before = install_fingerprint()
    assert len(before) == 16 and int(before, 16) >= 0
    pins = install.constraints_text()
    monkeypatch.setattr(install, "constraints_text", lambda: pins + "nova===0.0.1\n")
    assert install_fingerprint() != before
    monkeypatch.setattr(install, "constraints_text", lambda: pins)
    assert install_fingerprint() == before
    monkeypatch.setattr(install, "SERVER_PACKAGES", (*install.SERVER_PACKAGES, "extra"))
    assert install_fingerprint() != before


def test_compute_n_alone_is_what_the_full_render_gives(tmp_path: Path) -> None:
    """Adding compute 3 to a running devcloud writes the same file a 3-compute up writes."""
    cfg = DevcloudConfig.load(tmp_path)
    path = write_compute_config(cfg, 3, data_plane=True)
    assert path == compute_config(cfg, 3)
    assert path.read_text() == config_files(cfg, computes=3, data_plane=True)[path]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert compute_state_dir(cfg, 3).is_dir()
    compute = _ini(path.read_text())
    assert compute["DEFAULT"]["host"] == "ssdc-compute-3"
    assert compute["DEFAULT"]["state_path"] == str(compute_state_dir(cfg, 3))
    assert [p.name for p in (cfg.etc / "nova").iterdir()] == ["ssdc-compute-3.conf"]
