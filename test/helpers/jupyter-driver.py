"""Drives a real Jupyter kernel for PankNet's end-to-end tests (run with Debian's /usr/bin/python3).

Two modes, each writing one JSON object to the file named by --result (not stdout: the kernel
process inherits stdout and may print there):

  jupyter-driver.py session SPEC.json --result OUT.json
      SPEC: {"kernel": "panknet", "cwd": DIR, "startup_timeout": s,
             "steps": [{"code": str, "timeout": s, "interrupt_after": s (optional)}]}
      Starts the kernel with jupyter_client, runs the steps in order in one kernel and reports,
      per step, the execute_reply status, elapsed seconds and every IOPub output whose parent is
      that request (stream, display_data, update_display_data, execute_result, error).

  jupyter-driver.py notebook NOTEBOOK.ipynb --result OUT.json --kernel NAME --timeout S
                    --cell-timeout S [--cwd DIR] [--out EXECUTED.ipynb]
      Executes the notebook top to bottom with nbclient (the way `jupyter nbconvert --execute`
      does) and reports {"ok", "error", "cells": [{"index", "outputs"}]}; nbclient itself keeps
      outputs in place on update_display_data. The whole run is bounded by --timeout.

The kernelspec is looked up the usual way, so set JUPYTER_PATH to a test-only install.
"""

import argparse
import json
import queue
import signal
import sys
import time


def output_of(msg):
    kind = msg["msg_type"]
    content = msg["content"]
    if kind == "stream":
        return {"type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "update_display_data", "execute_result"):
        return {
            "type": kind,
            "data": content.get("data", {}),
            "display_id": (content.get("transient") or {}).get("display_id"),
        }
    if kind == "error":
        return {"type": "error", "ename": content["ename"], "evalue": content["evalue"]}
    return None


def run_step(km, kc, step):
    timeout = float(step.get("timeout", 30))
    started = time.monotonic()
    msg_id = kc.execute(step["code"], store_history=True)
    interrupt_at = step.get("interrupt_after")
    interrupted = False
    outputs = []
    idle = False
    deadline = started + timeout
    while not idle:
        now = time.monotonic()
        if interrupt_at is not None and not interrupted and now - started >= interrupt_at:
            km.interrupt_kernel()
            interrupted = True
        if now > deadline:
            return {"status": "timeout", "elapsed": now - started, "outputs": outputs}
        wait = 0.1 if interrupt_at is not None and not interrupted else 0.5
        try:
            msg = kc.get_iopub_msg(timeout=wait)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
            continue
        out = output_of(msg)
        if out is not None:
            outputs.append(out)
    remaining = max(1.0, deadline - time.monotonic())
    reply = kc.get_shell_msg(timeout=remaining)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=remaining)
    return {
        "status": reply["content"]["status"],
        "elapsed": time.monotonic() - started,
        "outputs": outputs,
    }


def session(spec_path):
    from jupyter_client.manager import KernelManager

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    km = KernelManager(kernel_name=spec.get("kernel", "panknet"))
    km.start_kernel(cwd=spec["cwd"])
    kc = km.client()
    kc.start_channels()
    results = []
    try:
        kc.wait_for_ready(timeout=float(spec.get("startup_timeout", 180)))
        for step in spec["steps"]:
            if results and results[-1]["status"] == "error":
                # After an error tslab aborts requests that arrive within 200 ms (like IPython's
                # stop_on_error); a person would not type that fast either.
                time.sleep(0.5)
            results.append(run_step(km, kc, step))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return {"steps": results}


def notebook(args):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(args.path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.cell_timeout,
        # tslab loads the TypeScript compiler at start: on a busy 2-core machine that can take
        # more than nbclient's default 60 s.
        startup_timeout=180,
        allow_errors=False,
        resources={"metadata": {"path": args.cwd}},
    )

    def on_alarm(signum, frame):
        raise TimeoutError(f"notebook did not finish within {args.timeout} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout))
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)
    except Exception as exc:  # a timeout or a dead kernel: report it as the notebook's failure
        error = f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cells.append({"index": index, "outputs": [dict(o) for o in cell.get("outputs", [])]})
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and error is None:
                error = f"cell {index}: {out.get('ename')}: {out.get('evalue')}"
    if args.out:
        nbformat.write(nb, args.out)
    return {"ok": error is None, "error": error, "cells": cells}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p_session = sub.add_parser("session")
    p_session.add_argument("spec")
    p_session.add_argument("--result", required=True)
    p_nb = sub.add_parser("notebook")
    p_nb.add_argument("path")
    p_nb.add_argument("--result", required=True)
    p_nb.add_argument("--kernel", default="panknet")
    p_nb.add_argument("--timeout", type=int, default=300)
    p_nb.add_argument("--cell-timeout", type=int, default=120)
    p_nb.add_argument("--cwd", default=".")
    p_nb.add_argument("--out")
    args = parser.parse_args()
    result = session(args.spec) if args.mode == "session" else notebook(args)
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
