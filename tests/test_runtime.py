"""Runtime profiles: the names the command line offers are the profiles `select_profile` knows."""

import subprocess
import sys

import pytest

from videoexpert.errors import ConfigError
from videoexpert.runtime import PROFILE_NAMES, PROFILES, select_profile


def test_profile_names_are_auto_and_every_profile():
    assert PROFILE_NAMES == ("auto", *PROFILES)
    assert select_profile("auto", cuda=False).name == "cpu"
    assert select_profile("cpu") is PROFILES["cpu"]
    with pytest.raises(ConfigError, match="expected one of auto, cuda, cuda-bf16, cpu"):
        select_profile("tpu")


def test_profile_names_import_without_torch():
    code = "import sys; from videoexpert.runtime import PROFILE_NAMES; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
