"""Unit tests are pure: any attempt to open a network connection fails the test."""

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
