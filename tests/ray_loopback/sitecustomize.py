"""Keeps a test Ray cluster on 127.0.0.1 (tests/ray_cluster.py puts this folder on the nodes' PYTHONPATH).

* Ray replaces a loopback node address by the machine's outward one (services.resolve_ip_for_localhost), so that
  other machines can reach the node, in ``ray start`` and again in each process that joins the node (the
  dashboard agent...): here it keeps the address it is given.
* The dashboard asks the cloud metadata address (169.254.169.254) which cloud it runs on, even with usage stats
  off: here the answer is "unknown" without asking.

Each patch applies when Ray imports its module; nothing is imported here, so a job's own start stays as quick."""
import importlib.abc
import importlib.util
import sys

PATCHES = {
    "ray._private.services": {"resolve_ip_for_localhost": lambda host: host},
    "ray._common.usage.usage_lib": {"get_cloud_from_metadata_requests": lambda: "unknown"},
}


class _Patch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            for attr, value in PATCHES[name].items():
                setattr(module, attr, value)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Patch())
