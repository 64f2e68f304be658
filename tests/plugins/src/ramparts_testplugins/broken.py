"""Describes itself under the wrong name: loading it must fail clearly."""

import ramparts
from ramparts import Capability


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(name="not-broken", commands=[])
