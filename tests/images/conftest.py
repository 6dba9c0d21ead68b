"""The built images, opened once per session: building is cached, opening copies a root
filesystem (vfs), so each image is opened once and every test reads or runs that copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.images.containers import Image, build_images, opened


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    return build_images()


@pytest.fixture(scope="session")
def service_image(images: dict[str, str]) -> Iterator[Image]:
    with opened(images["service"]) as image:
        yield image


@pytest.fixture(scope="session")
def operator_image(images: dict[str, str]) -> Iterator[Image]:
    with opened(images["operator"]) as image:
        yield image


@pytest.fixture(scope="session", params=["service", "operator"])
def image(request: pytest.FixtureRequest) -> Image:
    """Each image in turn, for what holds for both."""
    found: Image = request.getfixturevalue(f"{request.param}_image")
    return found
