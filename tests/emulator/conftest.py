"""Fixtures for the emulated-account tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cmk_guard_local.emulator  # noqa: F401 - installs the botocore handlers before any session exists
import boto3
import pytest

from cmk_guard_local.emulator import EmulatedAccount

from .helpers import ACCOUNT, REGION


@pytest.fixture
def acct() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(region=REGION, account_id=ACCOUNT) as account:
        yield account


@pytest.fixture
def session(acct: EmulatedAccount) -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def bedrock(session: boto3.session.Session) -> Any:
    return session.client("bedrock-agent")


@pytest.fixture
def kms(session: boto3.session.Session) -> Any:
    return session.client("kms")


@pytest.fixture
def iam(session: boto3.session.Session) -> Any:
    return session.client("iam")


@pytest.fixture
def cloudtrail(session: boto3.session.Session) -> Any:
    return session.client("cloudtrail")

