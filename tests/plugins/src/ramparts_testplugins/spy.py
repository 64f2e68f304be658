"""Installed but never listed by the test apps: importing it at all is a bug."""

import ramparts
from ramparts import Capability, command


@command
def ping() -> str:
    return "pong"


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(name="spy", commands=[ping])
