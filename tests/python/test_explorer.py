"""Model Explorer on a pt2lite file, in a real headless browser (Chromium): the module hierarchy in
tensor names becomes nested layers, node data (per-node values) loads with it, and `pt2lite view`
says how to install Model Explorer when it is missing.

The browser test starts Model Explorer's own server (the ai-edge-model-explorer package) on a converted
small CNN and a node-data JSON, loads its page in Chromium and asserts, from the server's side, that the
page asked the built-in .tflite adapter for the graph and read the node data; the screenshot it takes is
docs/images/model_explorer.png (rewritten when PT2LITE_UPDATE_SCREENSHOT=1)."""

import contextlib
import html
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest
import torch
from torch import nn

import pt2lite
from pt2lite import explorer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Subprocesses import the pt2lite this process imported (the installed package, or python/ with
# PT2LITE_LIBRARY), not necessarily the source tree's.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pt2lite.__file__)))
PYTHON_ENV = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
# The browser runs none of pt2lite's code: without the sanitizer run's preloaded ASan runtime, which
# Chromium does not start under.
BROWSER_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.relu(self.bn1(self.conv1(x)))) + x


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.layer1(self.stem(x)).mean((2, 3)))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("explorer") / "small_cnn.tflite"
    pt2lite.convert(SmallCnn().eval(), (torch.randn(1, 3, 16, 16),)).export(str(path))
    return path


def tensor_names(path):
    from ai_edge_litert.interpreter import Interpreter

    return [d["name"] for d in Interpreter(model_path=str(path)).get_tensor_details()]


def test_tensor_names_nest_modules_with_slashes(model_file):
    names = tensor_names(model_file)
    assert any(n.startswith("layer1/0/conv2/") for n in names), names
    assert any(n.startswith("layer1/1/") for n in names), names
    assert not any(n.startswith("layer1.") for n in names), names


def node_data(names):
    """Minimal node data in Model Explorer's format: graph id -> values keyed by output tensor name,
    with thresholds for the colours (pt2lite.debug writes the real one from a comparison)."""
    outputs = [n for n in names if n.startswith(("stem/", "layer1/")) and not n.endswith(("/bias", "/perm", "/paddings"))]
    return {"serving_default": {
        "results": {name: {"value": 10.0 ** -(len(outputs) - i)} for i, name in enumerate(outputs)},
        "thresholds": [{"value": 1e-4, "bgColor": "#a5d6a7"}, {"value": 1e-2, "bgColor": "#fff59d"},
                       {"value": 1e30, "bgColor": "#ef9a9a"}]}}


def test_view_says_how_to_install_model_explorer(model_file, tmp_path):
    # Python with model_explorer hidden: `pt2lite view` names the pip command and exits 2.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "model_explorer.py").write_text("raise ImportError('hidden by the test')\n")
    env = dict(PYTHON_ENV, PYTHONPATH=f"{hide}{os.pathsep}{PYTHON_ENV['PYTHONPATH']}")
    result = subprocess.run([sys.executable, "-m", "pt2lite", "view", str(model_file)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result
    assert "pip install ai-edge-model-explorer" in result.stderr, result.stderr


def test_view_refuses_a_missing_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pt2lite", "view", str(tmp_path / "nope.tflite")], env=PYTHON_ENV,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no such file" in result.stderr, result


# The server, with the two calls the page makes logged: the adapter command that turns the .tflite
# into a graph, and the reads of node-data files. What Model Explorer answered is logged with them.
SERVER = """
import json, sys
import model_explorer
from model_explorer import extension_manager, server
model, data, port, log = sys.argv[1:5]
def logged(kind, **fields):
    with open(log, "a") as f:
        f.write(json.dumps(dict(kind=kind, **fields)) + "\\n")
run_cmd = extension_manager.ExtensionManager.run_cmd
def run_cmd_logged(self, cmd):
    result = run_cmd(self, cmd)
    graphs = [g for c in result.get("graphCollections", []) for g in c["graphs"]]
    logged("cmd", cmd=cmd.get("cmdId"), model=cmd.get("modelPath"),
           namespaces=[n["namespace"] for g in graphs for n in g["nodes"]])
    return result
extension_manager.ExtensionManager.run_cmd = run_cmd_logged
read = server._read_file_content
def read_logged(path):
    logged("read", path=path)
    return read(path)
server._read_file_content = read_logged
config = model_explorer.config().add_model_from_path(model).add_node_data_from_path(data)
print("URL http://localhost:%s/?data=%s" % (port, config.to_url_param_value()), flush=True)
model_explorer.visualize_from_config(config=config, port=int(port), no_open_in_browser=True)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    return port if port != 8080 else free_port()  # 8080 makes Model Explorer pick its own port


def wait_for(url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    return None


WIDTH, HEIGHT = 1100, 720


@contextlib.contextmanager
def delayed_frame(url):
    """A local page showing `url` in a full-size frame, whose load event comes `seconds` (its query
    parameter) after it starts loading: what it waits for is an image this server sends that late."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            seconds = float(query.get("seconds", ["0"])[0])
            if self.path.startswith("/late.gif"):
                time.sleep(seconds)
                body, kind = GIF, "image/gif"
            else:
                body = (f'<html><body style="margin:0"><iframe src="{html.escape(url)}" width="{WIDTH}" '
                        f'height="{HEIGHT}" style="border:0"></iframe>'
                        f'<img src="/late.gif?seconds={seconds}"></body></html>').encode()
                kind = "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("localhost", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")


def graph_drawn(screenshot):
    """Whether the page shows a drawn graph: its side panel (graph info: node and layer counts) has
    text, which Model Explorer shows only once the graph is laid out ("Processing graph..." before)."""
    if not screenshot.exists():
        return False
    try:
        from PIL import Image
    except ImportError:  # no pixel check without Pillow: the server-side checks below still hold
        return screenshot.stat().st_size > 5000
    image = Image.open(screenshot).convert("L")
    width, _ = image.size
    panel = image.crop((int(width * 0.72), 55, width - 10, 140))
    return sum(1 for y in range(panel.height) for x in range(panel.width) if panel.getpixel((x, y)) < 128) > 50


def log_entries(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; scripts/test.sh installs it)")
@pytest.mark.skipif(explorer.model_explorer_module() is None, reason=f"needs Model Explorer ({explorer.INSTALL_HINT})")
def test_model_explorer_loads_the_graph_in_a_headless_browser(model_file, tmp_path):
    data_path = tmp_path / "node_data.json"
    data_path.write_text(json.dumps(node_data(tensor_names(model_file))))
    port, log = free_port(), tmp_path / "server.log"
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    server = subprocess.Popen([sys.executable, str(script), str(model_file), str(data_path), str(port), str(log)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=PYTHON_ENV)
    try:
        url = server.stdout.readline().split(" ", 1)[1].strip()
        assert wait_for(f"http://localhost:{port}/check_health", 120) == "model_explorer_ok", "the server did not start"
        screenshot = tmp_path / "model_explorer.png"
        # Headless Chromium takes the screenshot at the page's load event, before Model Explorer has laid
        # the graph out (and --virtual-time-budget never ends: the page keeps a server-sent-events
        # stream open). So the page is shown in a frame of a page whose load waits `seconds` for an
        # image; on a busy machine the graph may still be "processing" then: wait longer, up to 3 times.
        with delayed_frame(url) as frame_url:
            for seconds in (15, 40, 90):
                subprocess.run([CHROMIUM, "--headless", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
                                "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
                                f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={screenshot}",
                                f"{frame_url}?seconds={seconds}"], capture_output=True, timeout=seconds + 120,
                               env=BROWSER_ENV)
                if graph_drawn(screenshot):
                    break
        assert graph_drawn(screenshot), "the page did not draw the graph (docs: screenshot left in the tmp folder)"
        entries = log_entries(log)
        converted = [e for e in entries if e["kind"] == "cmd" and e["cmd"] == "convert"]
        assert converted and converted[0]["model"] == str(model_file), f"the page never asked for the graph: {entries}"
        namespaces = converted[0]["namespaces"]
        # nested layers: layer1 > 0 > conv2, as Model Explorer groups them ('/' separators)
        assert any(ns.startswith("layer1/0/conv2/") for ns in namespaces), namespaces
        assert any(e["kind"] == "read" and e["path"] == str(data_path) for e in entries), \
            f"the page never read the node data: {entries}"
        if os.environ.get("PT2LITE_UPDATE_SCREENSHOT") == "1":
            os.makedirs(os.path.join(REPO, "docs", "images"), exist_ok=True)
            target = os.path.join(REPO, "docs", "images", "model_explorer.png")
            try:  # a 64-colour palette keeps the docs image small
                from PIL import Image
                Image.open(screenshot).convert("RGB").quantize(64).save(target, optimize=True)
            except ImportError:
                shutil.copyfile(screenshot, target)
    finally:
        server.terminate()
        server.wait(timeout=30)
