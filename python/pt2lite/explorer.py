"""Opening .tflite files in Model Explorer (the optional ai-edge-model-explorer package).

pt2lite names every tensor "<module path>/<ATen node>/..." with '/' between modules, so Model
Explorer's built-in .tflite adapter shows each module (layer1, layer1/0, layer1/0/conv1) as a
collapsible group. Node data (per-node values shown as colours) is a JSON file in Model Explorer's
node-data format; pt2lite.debug writes one from a comparison report."""

import os

INSTALL_HINT = "pip install ai-edge-model-explorer"


def model_explorer_module():
    """The model_explorer module, or None when the package is not installed."""
    try:
        import model_explorer
    except ImportError:
        return None
    return model_explorer


def missing_message(what="pt2lite view"):
    return f"{what} needs Model Explorer, which is not installed: {INSTALL_HINT}"


def open_in_model_explorer(model_path, node_data_paths=(), *, host="localhost", port=8080, open_browser=True):
    """Serves model_path (a .tflite file) in Model Explorer with each node-data JSON overlaid, and opens
    it in a browser unless open_browser is False. Blocks until the server stops (Ctrl-C). Raises
    FileNotFoundError for a missing file and ImportError (with the pip command) without the package."""
    explorer = model_explorer_module()
    if explorer is None:
        raise ImportError(missing_message())
    for path in [model_path, *node_data_paths]:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
    config = explorer.config().add_model_from_path(os.path.abspath(model_path))
    for path in node_data_paths:
        config.add_node_data_from_path(os.path.abspath(path))
    explorer.visualize_from_config(config=config, host=host, port=port, no_open_in_browser=not open_browser)
