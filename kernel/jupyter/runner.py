"""Executes one notebook with nbclient for `go run ./kernel exec` (stdlib + Debian's nbclient/nbconvert).

usage: runner.py SRC OUT_IPYNB OUT_HTML KERNEL CELL_TIMEOUT_SECONDS

Stops at the first failing cell, always saves what ran (executed .ipynb and .html, atomically), and
writes one JSON object per line on stdout: {"event": "cell", ...} after every code cell and a final
{"event": "end", "status": ok|error|timeout|dead|crash, "cell": index, "message": ...}.
"""
import json
import os
import re
import signal
import sys
import time
import traceback
import warnings

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


TAGS = re.compile(r"<[^>]+>")


class EchoingClient(NotebookClient):
    """Reports cell output as it arrives: stream text, and the text of in-place progress bars (HTML
    with a <progress> element, drawn by kernel/nb), at most every PROGRESS_EVERY seconds per bar."""

    PROGRESS_EVERY = 10.0

    def process_message(self, msg, cell, cell_index):
        try:
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "stream":
                emit(event="stream", cell=cell_index, name=content.get("name", ""), text=content.get("text", ""))
            elif kind in ("display_data", "update_display_data"):
                html = content.get("data", {}).get("text/html", "")
                if isinstance(html, list):
                    html = "".join(html)
                if "<progress" in html:
                    key = content.get("transient", {}).get("display_id", "")
                    text = " ".join(TAGS.sub(" ", html).split())
                    now, last = time.time(), self._last.get(key, 0.0)
                    if text.endswith(" done") or now - last >= self.PROGRESS_EVERY:
                        self._last[key] = now
                        emit(event="progress", cell=cell_index, text=text)
        except Exception:
            pass  # echoing is best effort; execution must not depend on it
        return super().process_message(msg, cell, cell_index)

    @property
    def _last(self):
        if not hasattr(self, "_last_progress"):
            self._last_progress = {}
        return self._last_progress


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, _terminate)
    warnings.simplefilter("ignore")  # nbformat's id-field warnings are noise here
    src, out_nb, out_html, kernel, timeout = sys.argv[1:6]
    nb = nbformat.read(src, as_version=4)
    state = {"cell": -1, "start": 0.0}

    def on_cell_start(cell, cell_index, **_):
        state["cell"], state["start"] = cell_index, time.time()

    def on_cell_executed(cell, cell_index, execute_reply, **_):
        status = (execute_reply or {}).get("content", {}).get("status", "ok")
        emit(event="cell", cell=cell_index, seconds=round(time.time() - state["start"], 3), status=status)

    client = EchoingClient(
        nb,
        timeout=int(timeout),
        kernel_name=kernel,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
    )
    status, message = "ok", ""
    try:
        client.execute()
    except CellTimeoutError as e:
        status, message = "timeout", str(e)
    except CellExecutionError as e:
        status, message = "error", str(e)
    except DeadKernelError as e:
        status, message = "dead", str(e)
    except KeyboardInterrupt:  # SIGTERM from `kernel exec` when cancelled; nbclient shut the kernel down
        status, message = "interrupted", "interrupted"
    except Exception as e:  # kernel failed to start, bad notebook, ...
        status, message = "crash", "".join(traceback.format_exception_only(type(e), e)).strip()
    finally:
        write_atomic(out_nb, nbformat.writes(nb))
        try:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            write_atomic(out_html, body)
        except Exception as e:
            emit(event="warning", message="HTML export failed: %s" % e)
    emit(event="end", status=status, cell=state["cell"], message=message)


if __name__ == "__main__":
    main()
