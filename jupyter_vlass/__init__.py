"""jupyter-vlass: a notebook-native science platform for radio astronomy."""

from .version import __version__

__all__ = ["__version__"]


def _jupyter_server_extension_points():
    from .app import VlassApp  # only when a server looks for extensions: importing the package loads no server

    return [{"module": "jupyter_vlass.app", "app": VlassApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-vlass"}]
