from pathlib import Path

import pytest

from sparkstack.errors import SpecError
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit


def test_flags_override_file(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nworkers: {count: 3, flavor: m1.large}\nimage: debian-12\n")
    spec = load_spec(file, {"workers": {"count": 5}})
    assert spec.workers.count == 5
    assert spec.workers.flavor == "m1.large"
    assert spec.login_user == "debian"


def test_bad_value_names_file_and_field(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text("name: demo\nmasters: {count: 0}\n")
    with pytest.raises(SpecError, match=r"cluster.yaml: masters"):
        load_spec(file)


def test_bad_name_rejected() -> None:
    with pytest.raises(SpecError, match="name"):
        load_spec(None, {"name": "Bad_Name"})
