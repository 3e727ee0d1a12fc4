"""Rendering of the devcloud's configs and its passwords (pure; no service runs)."""

from __future__ import annotations

import configparser
import importlib
import stat
from pathlib import Path

import pytest
import yaml

from sparkstack.devcloud import object_storage
from sparkstack.devcloud.config import (
    PUBLIC_HOST,
    SWIFT_PORTS,
    DevcloudConfig,
    tenant_reachable_ports,
)
from sparkstack.devcloud.configs import (
    compute_config,
    compute_state_dir,
    config_files,
    write_compute_config,
)
from sparkstack.devcloud.control import services_of
from sparkstack.devcloud.install import install_fingerprint
from sparkstack.devcloud.server import net
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


def test_swift_configs_bind_loopback_with_the_s3_pipeline_that_works(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    files = object_storage.config_files(cfg)
    assert set(files) == {
        cfg.swift_etc / name
        for name in (
            "swift.conf",
            "account-server.conf",
            "container-server.conf",
            "object-server.conf",
            "proxy-server.conf",
        )
    }
    confs = {path.name: _ini(text) for path, text in files.items()}
    for server in ("account", "container", "object", "proxy"):
        default = confs[f"{server}-server.conf"]["DEFAULT"]
        assert default["bind_ip"] == "127.0.0.1"
        assert int(default["bind_port"]) == SWIFT_PORTS[f"swift-{server}"]
        assert default["workers"] == "0"  # one process per pid file
        assert default["swift_dir"] == str(cfg.swift_etc)
    assert confs["object-server.conf"]["DEFAULT"]["devices"] == str(cfg.swift_devices)
    proxy = confs["proxy-server.conf"]
    pipeline = proxy["pipeline:main"]["pipeline"].split()
    # authtoken before s3api, s3token before keystoneauth (else: SignatureDoesNotMatch)
    order = [pipeline.index(f) for f in ("cache", "authtoken", "s3api", "s3token", "keystoneauth")]
    assert order == sorted(order) and pipeline[-1] == "proxy-server"
    assert proxy["filter:s3api"]["location"] == object_storage.REGION
    assert proxy["filter:s3token"]["auth_uri"] == "http://127.0.0.1:5000/v3"
    assert proxy["filter:s3token"]["password"] == cfg.passwords()["service"]
    assert proxy["filter:s3token"]["secret_cache_duration"] == "600"
    assert proxy["filter:authtoken"]["username"] == "ssdc-service"
    assert "member" in proxy["filter:keystoneauth"]["operator_roles"].replace(" ", "").split(",")
    assert proxy["filter:cache"]["memcache_servers"] == f"127.0.0.1:{SWIFT_PORTS['memcached']}"
    # the path hash comes from the secrets: the same on every render, never a default
    suffix = confs["swift.conf"]["swift-hash"]["swift_hash_path_suffix"]
    assert suffix == cfg.passwords()["swift_hash"]
    assert object_storage.config_files(cfg) == files


def test_swift_services_only_when_asked_and_the_server_venv_untouched(tmp_path: Path) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    before = install_fingerprint()
    assert not object_storage.enabled(cfg)
    assert not [s for s in services_of(cfg) if "swift" in s.name]
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    object_storage.mark_enabled(cfg)
    names = [s.name for s in services_of(cfg)]
    swift_names = ["memcached", "swift-account", "swift-container", "swift-object", "swift-proxy"]
    assert names[-5:] == swift_names
    proxy = {s.name: s for s in object_storage.services(cfg)}["swift-proxy"]
    assert proxy.argv[0] == str(cfg.swift_bin / "swift-proxy-server")
    assert proxy.url == "http://127.0.0.1:8090/healthcheck"
    assert proxy.env["PATH"].startswith(f"{cfg.swift_bin}:")
    urls = object_storage.catalog_urls(cfg)
    assert urls["object-store"] == "http://127.0.0.1:8090/v1/AUTH_%(project_id)s"
    assert urls["s3"] == "http://127.0.0.1:8090"
    object_storage.mark_disabled(cfg)
    assert "swift-proxy" not in [s.name for s in services_of(cfg)]
    # Swift has a venv and a fingerprint of its own: the server venv's does not move
    assert install_fingerprint() == before
    assert install.swift_fingerprint() != before
    assert "swift==" in install.swift_constraints_text()
    create, add, rebalance = object_storage.ring_commands(cfg, "object")
    assert create[-4:] == ["create", "8", "1", "1"]  # 256 partitions, 1 replica
    assert add[add.index("--ip") + 1] == "127.0.0.1" and add[add.index("--port") + 1] == "6200"
    assert rebalance[-1] == "rebalance"
    assert object_storage.missing_rings(cfg) == ["account", "container", "object"]


def test_public_endpoints_are_the_external_gateway_only_on_the_data_plane(tmp_path: Path) -> None:
    cfg = DevcloudConfig(data_dir=tmp_path)
    assert net.EX_ADDRESS.split("/")[0] == PUBLIC_HOST
    assert cfg.public_url("keystone", data_plane=True) == f"http://{PUBLIC_HOST}:5000"
    assert cfg.public_url("keystone", data_plane=False) == cfg.url("keystone")
    assert cfg.public_url("glance", data_plane=True) == cfg.url("glance")  # servers need not
    assert 3306 not in tenant_reachable_ports()
    assert tenant_reachable_ports() == [5000, 8090, 8774, 9696]
