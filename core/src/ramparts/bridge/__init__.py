"""Internal: the randomized bridge between the page and Python.

Not API: app and plugin authors use what :mod:`ramparts` exports. The parts:

* :mod:`.protocol`: the wire format, MACs, the replay window, strict JSON;
* :mod:`.session`: one document's bridge state (key, handles, grants, resources);
* :mod:`.dispatch`: verify, route, validate and run calls on workers and the loop;
* :mod:`.host`: one window's policy (serving ``app://``, navigations, origins) and the
  scripts injected into the page (``js/``).
"""
