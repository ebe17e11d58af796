import pytest

from .support import build_model


@pytest.fixture(scope="package")
def official_model():
    """Our model in the fixtures' tiny configuration with the fabricated release's weights (eval mode)."""
    return build_model()
